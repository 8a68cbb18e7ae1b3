/*
 * Writing BPF programs for luabpf (and any loader following the same ELF conventions) without
 * libbpf's headers: section placement, BTF map definitions, the license, and every helper.
 *
 * The conventions are the ELF/BTF ABI loaders agree on:
 *  - a program is a function in a section whose name says its type ("xdp", "tracepoint/a/b");
 *  - a BTF-defined map is a global struct in ".maps" whose members encode the definition:
 *    an integer attribute N is a pointer to an array of N ints (its BTF keeps N, the value takes
 *    no meaningful storage), a type attribute is a pointer to that type;
 *  - "license" holds the license string the kernel checks GPL-only helpers against.
 */
#ifndef LUABPF_BPF_HELPERS_H
#define LUABPF_BPF_HELPERS_H

/* Put a function or variable in an ELF section. "used" keeps unreferenced ones in the object. */
#define SEC(name) __attribute__((section(name), used))

/* BTF map-definition members (inside a struct placed in SEC(".maps")). */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
/* 64-bit attribute (e.g. map_extra): an enum constant keeps the full value in BTF. */
#define __ulong(name, val) enum { ___lbpf_cat(__unique_value, __COUNTER__) = val } name

/*
 * BPF_RINGBUF_RECORD(map, type): declares the type of the records a program writes into the
 * ring buffer (or perf event array) map, so that a reader made without `type` decodes them as
 * that type (luabpf's map:reader(); doc/API.md). It records the type in BTF: a pointer to it
 * named __luabpf_record_<map>, alone in the section .luabpf.records, which loaders leave out
 * of every map (no memory, no global). Use it once per map, at file scope:
 *   BPF_RINGBUF_RECORD(events, struct event);
 */
#define BPF_RINGBUF_RECORD(map, type) type *__luabpf_record_##map SEC(".luabpf.records")

#define ___lbpf_cat2(a, b) a##b
#define ___lbpf_cat(a, b) ___lbpf_cat2(a, b)

/* Function attributes. */
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
/* A global (non-static) function the loader must not expose as a separately verified one. */
#ifndef __hidden
#define __hidden __attribute__((visibility("hidden")))
#endif

/* Externs resolved by the loader: kernel symbols (".ksyms") and kernel config (".kconfig"). */
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))
/* Kernel pointers stored in map values carry a BTF type tag the verifier recognises. */
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __kptr_ref __kptr

/* char _license[] SEC("license") = "GPL"; */
#define BPF_LICENSE(text) char _license[] SEC("license") = text

/* Values of the "pinning" attribute of a BTF-defined map. */
enum lbpf_map_pinning {
	LIBBPF_PIN_NONE = 0,
	LIBBPF_PIN_BY_NAME = 1,
};

/* Legacy map definitions, in SEC("maps"): the loader reads them by symbol offset and size. */
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

#include "bpf_helper_defs.h"

/* printf-style tracing into /sys/kernel/tracing/trace_pipe (at most 3 arguments). The format
 * lives on the stack so the program needs no .rodata for it. */
#define bpf_printk(fmt, ...)                                                      \
	({                                                                        \
		char ____fmt[] = fmt;                                             \
		bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);        \
	})

/* Branch hints and a compiler barrier, handy in tight verifier-friendly code. */
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif

/* offsetof / container_of without <stddef.h>. */
#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((void *)(ptr) - offsetof(type, member)))
#endif

#endif
