/*
 * Reading USDT probe arguments in BPF programs attached with luabpf (prog:attach_usdt or a
 * "usdt/BINARY:PROVIDER:NAME" section).
 *
 *   #include "usdt.bpf.h"
 *
 *   SEC("usdt")
 *   int BPF_USDT(on_query, int id, const char *text, long len) { ... }
 *
 *   SEC("usdt")
 *   int on_any(struct pt_regs *ctx)
 *   {
 *           long v;
 *           for (int i = 0; i < bpf_usdt_arg_cnt(ctx) && i < LBPF_USDT_MAX_ARGS; i++)
 *                   if (bpf_usdt_arg(ctx, i, &v) == 0) ...
 *   }
 *
 * How it works: a probe site's SystemTap note describes each argument as an assembler operand
 * ("-4@%edi", "8@$42", "-4@-20(%rbp)"). The loader translates every site's operands into a
 * struct __lbpf_usdt_spec, stores it in this header's array map (__lbpf_usdt_specs, found by
 * name in the program's object) and attaches the site's uprobe with the slot index as its
 * cookie. At run time the program looks the spec up by bpf_get_attach_cookie() and fetches each
 * argument from the saved registers (struct pt_regs) or from user memory.
 *
 * Include this header from one source file per object: it defines the map. Reading registers
 * and user memory uses bpf_probe_read_kernel/bpf_probe_read_user, so the program must be GPL.
 * Only x86-64 operands are translated by the loader today.
 */
#ifndef LUABPF_USDT_BPF_H
#define LUABPF_USDT_BPF_H

#include "bpf_helpers.h"
#include "bpf_tracing.h"

/* SystemTap's sys/sdt.h allows at most 12 arguments per probe. */
#define LBPF_USDT_MAX_ARGS 12
/* Distinct argument layouts one object can have attached at once. */
#ifndef LBPF_USDT_MAX_SPECS
#define LBPF_USDT_MAX_SPECS 256
#endif

/* Kinds of argument location (struct __lbpf_usdt_arg.kind). */
#define LBPF_USDT_ARG_CONST 1     /* "$imm": val is the value */
#define LBPF_USDT_ARG_REG 2       /* "%reg": the register at reg_off in struct pt_regs */
#define LBPF_USDT_ARG_REG_DEREF 3 /* "off(%reg)": user memory at register + val */

/* Errors the readers return (negative errno values, as helpers do). */
#define LBPF_USDT_ENOENT 2 /* no such argument */
#define LBPF_USDT_ESRCH 3  /* the program was not attached by a loader that filled the specs */
#define LBPF_USDT_EINVAL 22

/* The layout the loader writes (core/usdt.c mirrors it; keep both in step). */
struct __lbpf_usdt_arg {
	long long val;           /* CONST: the value; REG_DEREF: offset added to the register */
	unsigned short reg_off;  /* REG, REG_DEREF: byte offset of the register in pt_regs */
	unsigned char kind;      /* LBPF_USDT_ARG_* */
	unsigned char size;      /* bytes the argument has: 1, 2, 4 or 8 */
	unsigned char is_signed; /* sign-extend to 64 bits (the "-" in "-4@...") */
	unsigned char __pad[3];
};

struct __lbpf_usdt_spec {
	unsigned int arg_cnt;
	unsigned int in_use; /* non-zero while a link uses this slot; 0: free */
	struct __lbpf_usdt_arg args[LBPF_USDT_MAX_ARGS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LBPF_USDT_MAX_SPECS);
	__type(key, int);
	__type(value, struct __lbpf_usdt_spec);
} __lbpf_usdt_specs SEC(".maps");

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

static __always_inline struct __lbpf_usdt_spec *___lbpf_usdt_spec(void *ctx)
{
	int id = (int)bpf_get_attach_cookie(ctx);
	struct __lbpf_usdt_spec *spec = bpf_map_lookup_elem(&__lbpf_usdt_specs, &id);

	return spec && spec->in_use ? spec : (struct __lbpf_usdt_spec *)0;
}

/* Number of arguments of the probe that fired, or -ESRCH. */
static __always_inline int bpf_usdt_arg_cnt(void *ctx)
{
	struct __lbpf_usdt_spec *spec = ___lbpf_usdt_spec(ctx);

	return spec ? (int)spec->arg_cnt : -LBPF_USDT_ESRCH;
}

/* Argument n (from 0) of the probe that fired, sign- or zero-extended to 64 bits into *res.
 * Returns 0, -ENOENT (n out of range), -ESRCH (no spec) or the error of the memory read;
 * *res is 0 on failure. */
static __always_inline int bpf_usdt_arg(void *ctx, unsigned long long n, long *res)
{
	struct __lbpf_usdt_spec *spec = ___lbpf_usdt_spec(ctx);
	struct __lbpf_usdt_arg *arg;
	unsigned long long val = 0, base = 0;
	unsigned int size, shift;
	long err = 0;

	*res = 0;
	if (!spec)
		return -LBPF_USDT_ESRCH;
	/* The constant bound first: the verifier needs it to index args[]. */
	if (n >= LBPF_USDT_MAX_ARGS || n >= spec->arg_cnt)
		return -LBPF_USDT_ENOENT;
	arg = &spec->args[n];
	size = arg->size;
	if (size < 1 || size > 8)
		return -LBPF_USDT_EINVAL;
	switch (arg->kind) {
	case LBPF_USDT_ARG_CONST:
		val = (unsigned long long)arg->val;
		break;
	case LBPF_USDT_ARG_REG:
		/* ctx is the kernel's saved pt_regs; the offset is only known at run time, and
		 * direct context access needs a constant one, hence the helper. */
		err = bpf_probe_read_kernel(&val, sizeof(val), (char *)ctx + arg->reg_off);
		break;
	case LBPF_USDT_ARG_REG_DEREF:
		err = bpf_probe_read_kernel(&base, sizeof(base), (char *)ctx + arg->reg_off);
		/* Read exactly size bytes: the argument may end at the edge of a mapping. Little
		 * endian: they land in the low bytes of val. */
		if (!err)
			err = bpf_probe_read_user(&val, size, (void *)(base + arg->val));
		break;
	default:
		return -LBPF_USDT_EINVAL;
	}
	if (err)
		return (int)err;
	/* Keep the low `size` bytes, extending the sign when the operand is signed. */
	shift = 64 - 8 * size;
	val <<= shift;
	*res = arg->is_signed ? (long)((long long)val >> shift) : (long)(val >> shift);
	return 0;
}

/* Argument n, 0 when it cannot be read (BPF_USDT's arguments). */
static __always_inline long ___lbpf_usdt_arg(void *ctx, unsigned long long n)
{
	long v;

	bpf_usdt_arg(ctx, n, &v);
	return v;
}

/*
 *   SEC("usdt")
 *   int BPF_USDT(on_tick, int count, long total)
 *
 * (the "int" before BPF_USDT completes the first declaration the macro produces) declares a
 * program taking struct pt_regs *ctx whose body sees the probe's arguments, in order, as typed
 * parameters; "ctx" stays usable in the body.
 */
#define ___lbpf_usdt_args0() ctx
#define ___lbpf_usdt_args1(a) ___lbpf_usdt_args0(), (void *)___lbpf_usdt_arg(ctx, 0)
#define ___lbpf_usdt_args2(a, b) ___lbpf_usdt_args1(a), (void *)___lbpf_usdt_arg(ctx, 1)
#define ___lbpf_usdt_args3(a, b, c) ___lbpf_usdt_args2(a, b), (void *)___lbpf_usdt_arg(ctx, 2)
#define ___lbpf_usdt_args4(a, b, c, d) \
	___lbpf_usdt_args3(a, b, c), (void *)___lbpf_usdt_arg(ctx, 3)
#define ___lbpf_usdt_args5(a, b, c, d, e) \
	___lbpf_usdt_args4(a, b, c, d), (void *)___lbpf_usdt_arg(ctx, 4)
#define ___lbpf_usdt_args6(a, b, c, d, e, f) \
	___lbpf_usdt_args5(a, b, c, d, e), (void *)___lbpf_usdt_arg(ctx, 5)
#define ___lbpf_usdt_args7(a, b, c, d, e, f, g) \
	___lbpf_usdt_args6(a, b, c, d, e, f), (void *)___lbpf_usdt_arg(ctx, 6)
#define ___lbpf_usdt_args8(a, b, c, d, e, f, g, h) \
	___lbpf_usdt_args7(a, b, c, d, e, f, g), (void *)___lbpf_usdt_arg(ctx, 7)
#define ___lbpf_usdt_args9(a, b, c, d, e, f, g, h, i) \
	___lbpf_usdt_args8(a, b, c, d, e, f, g, h), (void *)___lbpf_usdt_arg(ctx, 8)
#define ___lbpf_usdt_args10(a, b, c, d, e, f, g, h, i, j) \
	___lbpf_usdt_args9(a, b, c, d, e, f, g, h, i), (void *)___lbpf_usdt_arg(ctx, 9)
#define ___lbpf_usdt_args11(a, b, c, d, e, f, g, h, i, j, k) \
	___lbpf_usdt_args10(a, b, c, d, e, f, g, h, i, j), (void *)___lbpf_usdt_arg(ctx, 10)
#define ___lbpf_usdt_args12(a, b, c, d, e, f, g, h, i, j, k, l) \
	___lbpf_usdt_args11(a, b, c, d, e, f, g, h, i, j, k), (void *)___lbpf_usdt_arg(ctx, 11)
#define ___lbpf_usdt_args(...) \
	___lbpf_join(___lbpf_usdt_args, ___lbpf_count(__VA_ARGS__))(__VA_ARGS__)

struct pt_regs;

/* Integer arguments arrive through (void *), like BPF_PROG's: silence the conversions. */
#define BPF_USDT(name, args...)                                                        \
	name(struct pt_regs *ctx);                                                     \
	static __always_inline int ____##name(struct pt_regs *ctx, ##args);            \
	int name(struct pt_regs *ctx)                                                  \
	{                                                                              \
		_Pragma("GCC diagnostic push")                                         \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                 \
		return ____##name(___lbpf_usdt_args(args));                            \
		_Pragma("GCC diagnostic pop")                                          \
	}                                                                              \
	static __always_inline int ____##name(struct pt_regs *ctx, ##args)

#endif
