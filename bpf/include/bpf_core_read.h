/*
 * CO-RE ("compile once, run everywhere") reads for BPF programs, without libbpf's headers.
 *
 * clang records every access made under __builtin_preserve_access_index (or through a struct
 * declared with __attribute__((preserve_access_index))) as a relocation in .BTF.ext; the loader
 * rewrites the offset, size or value for the kernel the program runs on. The macros below are
 * the usual vocabulary:
 *
 *   BPF_CORE_READ(task, real_parent, tgid)          task->real_parent->tgid, each step probed
 *   BPF_CORE_READ_INTO(&dst, task, real_parent, tgid)
 *   BPF_CORE_READ_STR_INTO(&buf, task, comm)
 *   bpf_core_field_exists(task->pid) / bpf_core_field_exists(struct task_struct, pid)
 *   bpf_core_field_size(...), bpf_core_field_offset(...), bpf_core_field_signed(...)
 *   bpf_core_type_exists(struct x), bpf_core_type_size(struct x), bpf_core_type_matches(...)
 *   bpf_core_type_id_local(struct x), bpf_core_type_id_kernel(struct x)
 *   bpf_core_enum_value_exists(enum e, E_VAL), bpf_core_enum_value(enum e, E_VAL)
 *   BPF_CORE_READ_BITFIELD_PROBED(s, field), BPF_CORE_READ_BITFIELD(s, field)
 *
 * Names with a "___suffix" (struct task_struct___old) are "flavours": the loader matches them
 * with the target type of the name before the suffix, so one program can describe several
 * layouts of the same kernel type.
 */
#ifndef LUABPF_BPF_CORE_READ_H
#define LUABPF_BPF_CORE_READ_H

#include "bpf_helpers.h"

/* Second argument of __builtin_preserve_field_info (enum bpf_core_relo_kind 0..5). */
enum lbpf_field_info_kind {
	BPF_FIELD_BYTE_OFFSET = 0,
	BPF_FIELD_BYTE_SIZE = 1,
	BPF_FIELD_EXISTS = 2,
	BPF_FIELD_SIGNED = 3,
	BPF_FIELD_LSHIFT_U64 = 4,
	BPF_FIELD_RSHIFT_U64 = 5,
};

/* Second argument of __builtin_btf_type_id. */
enum lbpf_type_id_kind {
	BPF_TYPE_ID_LOCAL = 0,
	BPF_TYPE_ID_TARGET = 1,
};

/* Second argument of __builtin_preserve_type_info. */
enum lbpf_type_info_kind {
	BPF_TYPE_EXISTS = 0,
	BPF_TYPE_SIZE = 1,
	BPF_TYPE_MATCHES = 2,
};

/* Second argument of __builtin_preserve_enum_value. */
enum lbpf_enum_value_kind {
	BPF_ENUMVAL_EXISTS = 0,
	BPF_ENUMVAL_VALUE = 1,
};

/* ---- argument counting ---------------------------------------------------------------------- */

#define ___lbpf_core_cat2(a, b) a##b
#define ___lbpf_core_cat(a, b) ___lbpf_core_cat2(a, b)
#define ___lbpf_core_nth(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, N, ...) N
/* Number of arguments, 1..9. */
#define ___lbpf_core_narg(...) ___lbpf_core_nth(_, ##__VA_ARGS__, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define ___lbpf_core_apply(macro, ...) \
	___lbpf_core_cat(macro, ___lbpf_core_narg(__VA_ARGS__))(__VA_ARGS__)

/* ---- field, type and enum information --------------------------------------------------------- */

/* A field given as an expression (p->a.b) or as (type, a.b). */
#define ___lbpf_field_ref1(field) (field)
#define ___lbpf_field_ref2(type, field) (((typeof(type) *)0)->field)
#define ___lbpf_field_ref(...) ___lbpf_core_apply(___lbpf_field_ref, __VA_ARGS__)

#define bpf_core_field_exists(...) \
	__builtin_preserve_field_info(___lbpf_field_ref(__VA_ARGS__), BPF_FIELD_EXISTS)
#define bpf_core_field_size(...) \
	__builtin_preserve_field_info(___lbpf_field_ref(__VA_ARGS__), BPF_FIELD_BYTE_SIZE)
#define bpf_core_field_offset(...) \
	__builtin_preserve_field_info(___lbpf_field_ref(__VA_ARGS__), BPF_FIELD_BYTE_OFFSET)
#define bpf_core_field_signed(...) \
	__builtin_preserve_field_info(___lbpf_field_ref(__VA_ARGS__), BPF_FIELD_SIGNED)

#define bpf_core_type_exists(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_EXISTS)
#define bpf_core_type_size(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_SIZE)
/* TYPE_MATCHES needs clang 15 or newer: older compilers reject the kind, so the macro is only
 * defined where it works (test with #ifdef bpf_core_type_matches). */
#if defined(__clang_major__) && __clang_major__ >= 15
#define bpf_core_type_matches(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_MATCHES)
#endif

#define bpf_core_type_id_local(type) __builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_LOCAL)
#define bpf_core_type_id_kernel(type) \
	__builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_TARGET)

#define bpf_core_enum_value_exists(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, BPF_ENUMVAL_EXISTS)
#define bpf_core_enum_value(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, BPF_ENUMVAL_VALUE)

/* ---- probed reads ------------------------------------------------------------------------------ */

/* Reads sz bytes at the relocated address src (an expression like &p->a.b). */
#define bpf_core_read(dst, sz, src) \
	bpf_probe_read_kernel(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_str(dst, sz, src) \
	bpf_probe_read_kernel_str(dst, sz, (const void *)__builtin_preserve_access_index(src))

/* Step i of a chain reads the pointer s->a into a temporary and continues from it. The final
 * step reads into dst with `read` (bpf_core_read or bpf_core_read_str). */
#define ___lbpf_into1(read, dst, s, a) read((dst), sizeof(*(dst)), &((s)->a))
/* Written out per depth: a macro cannot expand itself again while it is being rescanned. */
#define ___lbpf_ptr_step(n, s, a)                                               \
	typeof((s)->a) ___lbpf_p##n;                                             \
	bpf_core_read(&___lbpf_p##n, sizeof(___lbpf_p##n), &((s)->a))
#define ___lbpf_into2(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(2, s, a); ___lbpf_into1(r, d, ___lbpf_p2, __VA_ARGS__); })
#define ___lbpf_into3(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(3, s, a); ___lbpf_into2(r, d, ___lbpf_p3, __VA_ARGS__); })
#define ___lbpf_into4(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(4, s, a); ___lbpf_into3(r, d, ___lbpf_p4, __VA_ARGS__); })
#define ___lbpf_into5(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(5, s, a); ___lbpf_into4(r, d, ___lbpf_p5, __VA_ARGS__); })
#define ___lbpf_into6(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(6, s, a); ___lbpf_into5(r, d, ___lbpf_p6, __VA_ARGS__); })
#define ___lbpf_into7(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(7, s, a); ___lbpf_into6(r, d, ___lbpf_p7, __VA_ARGS__); })
#define ___lbpf_into8(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(8, s, a); ___lbpf_into7(r, d, ___lbpf_p8, __VA_ARGS__); })
#define ___lbpf_into9(r, d, s, a, ...) \
	({ ___lbpf_ptr_step(9, s, a); ___lbpf_into8(r, d, ___lbpf_p9, __VA_ARGS__); })

/* The expression s->a->b->... (for typeof only: never evaluated). */
#define ___lbpf_path1(s, a) ((s)->a)
#define ___lbpf_path2(s, a, ...) ___lbpf_path1(((s)->a), __VA_ARGS__)
#define ___lbpf_path3(s, a, ...) ___lbpf_path2(((s)->a), __VA_ARGS__)
#define ___lbpf_path4(s, a, ...) ___lbpf_path3(((s)->a), __VA_ARGS__)
#define ___lbpf_path5(s, a, ...) ___lbpf_path4(((s)->a), __VA_ARGS__)
#define ___lbpf_path6(s, a, ...) ___lbpf_path5(((s)->a), __VA_ARGS__)
#define ___lbpf_path7(s, a, ...) ___lbpf_path6(((s)->a), __VA_ARGS__)
#define ___lbpf_path8(s, a, ...) ___lbpf_path7(((s)->a), __VA_ARGS__)
#define ___lbpf_path9(s, a, ...) ___lbpf_path8(((s)->a), __VA_ARGS__)

/* BPF_CORE_READ_INTO(&dst, src, a, b, c): dst = src->a->b->c; returns the last read's result
 * (0 or negative errno). Each argument may itself be a member path like "a.b". */
#define BPF_CORE_READ_INTO(dst, src, ...) \
	___lbpf_core_cat(___lbpf_into, ___lbpf_core_narg(__VA_ARGS__))(bpf_core_read, dst, src, \
								       __VA_ARGS__)
/* Same, the last step with bpf_probe_read_kernel_str (dst an array; returns length or error). */
#define BPF_CORE_READ_STR_INTO(dst, src, ...) \
	___lbpf_core_cat(___lbpf_into, ___lbpf_core_narg(__VA_ARGS__))(bpf_core_read_str, dst, \
								       src, __VA_ARGS__)

/* BPF_CORE_READ(src, a, b, c): the value of src->a->b->c read step by step (0 where a step
 * fails, since the kernel zeroes the destination of a failed probe read). */
#define BPF_CORE_READ(src, ...)                                                          \
	({                                                                               \
		typeof(___lbpf_core_cat(___lbpf_path, ___lbpf_core_narg(__VA_ARGS__))(   \
			(src), __VA_ARGS__)) ___lbpf_val;                               \
		BPF_CORE_READ_INTO(&___lbpf_val, (src), __VA_ARGS__);                    \
		___lbpf_val;                                                             \
	})

/* ---- bitfields -------------------------------------------------------------------------------- */

#define ___lbpf_field_info(s, field, kind) __builtin_preserve_field_info((s)->field, kind)

/* Shifts the loaded window so only the field remains, sign-extending signed fields. */
#define ___lbpf_bitfield_extract(val, s, field)                                          \
	({                                                                               \
		val <<= ___lbpf_field_info(s, field, BPF_FIELD_LSHIFT_U64);              \
		if (___lbpf_field_info(s, field, BPF_FIELD_SIGNED))                      \
			val = (unsigned long long)((long long)val >>                     \
				___lbpf_field_info(s, field, BPF_FIELD_RSHIFT_U64));     \
		else                                                                     \
			val >>= ___lbpf_field_info(s, field, BPF_FIELD_RSHIFT_U64);      \
		val;                                                                     \
	})

/* A bitfield of kernel memory (read with bpf_probe_read_kernel); little-endian layout. */
#define BPF_CORE_READ_BITFIELD_PROBED(s, field)                                          \
	({                                                                               \
		unsigned long long ___lbpf_bf = 0;                                       \
		bpf_probe_read_kernel(&___lbpf_bf,                                       \
				      ___lbpf_field_info(s, field, BPF_FIELD_BYTE_SIZE),  \
				      (const void *)(s) +                                 \
					      ___lbpf_field_info(s, field,                \
								 BPF_FIELD_BYTE_OFFSET)); \
		___lbpf_bitfield_extract(___lbpf_bf, s, field);                           \
	})

/* A bitfield of memory the program may load directly (context, BTF pointers, map values). */
#define BPF_CORE_READ_BITFIELD(s, field)                                                  \
	({                                                                               \
		const void *___lbpf_p = (const void *)(s) +                              \
			___lbpf_field_info(s, field, BPF_FIELD_BYTE_OFFSET);             \
		unsigned long long ___lbpf_bf;                                           \
		/* Opaque to the optimiser: the offset relocation is applied once. */    \
		asm volatile("" : "=r"(___lbpf_p) : "0"(___lbpf_p));                     \
		switch (___lbpf_field_info(s, field, BPF_FIELD_BYTE_SIZE)) {             \
		case 1: ___lbpf_bf = *(const unsigned char *)___lbpf_p; break;           \
		case 2: ___lbpf_bf = *(const unsigned short *)___lbpf_p; break;          \
		case 4: ___lbpf_bf = *(const unsigned int *)___lbpf_p; break;            \
		case 8: ___lbpf_bf = *(const unsigned long long *)___lbpf_p; break;      \
		default: ___lbpf_bf = 0; break;                                          \
		}                                                                        \
		___lbpf_bitfield_extract(___lbpf_bf, s, field);                           \
	})

#endif
