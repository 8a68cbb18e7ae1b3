/*
 * Byte order conversion in BPF programs. The BPF target has the host's endianness (bpfel or
 * bpfeb); the compiler folds constants and emits a single BPF_END instruction otherwise.
 */
#ifndef LUABPF_BPF_ENDIAN_H
#define LUABPF_BPF_ENDIAN_H

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define bpf_htons(x) ((unsigned short)__builtin_bswap16((unsigned short)(x)))
#define bpf_ntohs(x) bpf_htons(x)
#define bpf_htonl(x) ((unsigned int)__builtin_bswap32((unsigned int)(x)))
#define bpf_ntohl(x) bpf_htonl(x)
#define bpf_cpu_to_be64(x) ((unsigned long long)__builtin_bswap64((unsigned long long)(x)))
#define bpf_be64_to_cpu(x) bpf_cpu_to_be64(x)
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define bpf_htons(x) ((unsigned short)(x))
#define bpf_ntohs(x) ((unsigned short)(x))
#define bpf_htonl(x) ((unsigned int)(x))
#define bpf_ntohl(x) ((unsigned int)(x))
#define bpf_cpu_to_be64(x) ((unsigned long long)(x))
#define bpf_be64_to_cpu(x) ((unsigned long long)(x))
#else
#error "unknown byte order"
#endif

/* Names some programs use for compile-time constants; the builtins fold either way. */
#define bpf_htons_const(x) bpf_htons(x)
#define bpf_ntohs_const(x) bpf_ntohs(x)
#define bpf_htonl_const(x) bpf_htonl(x)
#define bpf_ntohl_const(x) bpf_ntohl(x)

#endif
