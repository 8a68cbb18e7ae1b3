/*
 * Reading probe arguments in BPF programs: register access on struct pt_regs (kprobes, uprobes,
 * perf events) and BPF_PROG for programs whose context is an array of u64 arguments
 * (raw_tp, tp_btf, fentry/fexit).
 *
 * The architecture comes from -D__TARGET_ARCH_<arch> (the BPF target has no notion of the host).
 * struct pt_regs comes from the program's vmlinux.h when it has one (it defines __VMLINUX_H__;
 * define LBPF_KERNEL_PT_REGS for another header with the kernel's layout); otherwise from the
 * UAPI <asm/ptrace.h>, whose x86_64 layout the BPF target selects because __i386__ is not
 * defined.
 */
#ifndef LUABPF_BPF_TRACING_H
#define LUABPF_BPF_TRACING_H

#if defined(__TARGET_ARCH_x86)

/* The kernel's struct pt_regs (vmlinux.h) names the registers di, si, ...; the UAPI copy in
 * <asm/ptrace.h> names the same slots rdi, rsi, ... */
#if defined(__VMLINUX_H__) || defined(LBPF_KERNEL_PT_REGS)
#define ___LBPF_REG(name) name
#else
#if !defined(LBPF_NO_ASM_PTRACE)
#include <asm/ptrace.h>
#endif
#define ___LBPF_REG(name) r##name
#endif
#define ___LBPF_X86(x, name) (((const struct pt_regs *)(x))->___LBPF_REG(name))

/* System V AMD64 calling convention: rdi, rsi, rdx, rcx, r8, r9; result in rax. */
#define PT_REGS_PARM1(x) ___LBPF_X86(x, di)
#define PT_REGS_PARM2(x) ___LBPF_X86(x, si)
#define PT_REGS_PARM3(x) ___LBPF_X86(x, dx)
#define PT_REGS_PARM4(x) ___LBPF_X86(x, cx)
#define PT_REGS_PARM5(x) (((const struct pt_regs *)(x))->r8)
#define PT_REGS_PARM6(x) (((const struct pt_regs *)(x))->r9)
#define PT_REGS_RET(x) ___LBPF_X86(x, sp)
#define PT_REGS_FP(x) ___LBPF_X86(x, bp)
#define PT_REGS_RC(x) ___LBPF_X86(x, ax)
#define PT_REGS_SP(x) ___LBPF_X86(x, sp)
#define PT_REGS_IP(x) ___LBPF_X86(x, ip)
/* The syscall instruction passes the fourth argument in r10 (rcx holds the return address). */
#define PT_REGS_PARM1_SYSCALL(x) PT_REGS_PARM1(x)
#define PT_REGS_PARM2_SYSCALL(x) PT_REGS_PARM2(x)
#define PT_REGS_PARM3_SYSCALL(x) PT_REGS_PARM3(x)
#define PT_REGS_PARM4_SYSCALL(x) (((const struct pt_regs *)(x))->r10)
#define PT_REGS_PARM5_SYSCALL(x) PT_REGS_PARM5(x)
#define PT_REGS_PARM6_SYSCALL(x) PT_REGS_PARM6(x)
/* The syscall number survives in orig_ax after ax is overwritten with the result. */
#define PT_REGS_SYSCALL_NR(x) ___LBPF_X86(x, orig_ax)

#elif defined(__TARGET_ARCH_arm64)

/* The kernel's arm64 pt_regs starts with the UAPI user_pt_regs: x0..x30, sp, pc, pstate. */
#if !defined(__VMLINUX_H__) && !defined(LBPF_NO_ASM_PTRACE)
#include <asm/ptrace.h>
#endif
#define ___LBPF_ARM64_REGS(x) ((const struct user_pt_regs *)(x))
#define PT_REGS_PARM1(x) (___LBPF_ARM64_REGS(x)->regs[0])
#define PT_REGS_PARM2(x) (___LBPF_ARM64_REGS(x)->regs[1])
#define PT_REGS_PARM3(x) (___LBPF_ARM64_REGS(x)->regs[2])
#define PT_REGS_PARM4(x) (___LBPF_ARM64_REGS(x)->regs[3])
#define PT_REGS_PARM5(x) (___LBPF_ARM64_REGS(x)->regs[4])
#define PT_REGS_PARM6(x) (___LBPF_ARM64_REGS(x)->regs[5])
#define PT_REGS_RET(x) (___LBPF_ARM64_REGS(x)->regs[30])
#define PT_REGS_FP(x) (___LBPF_ARM64_REGS(x)->regs[29])
#define PT_REGS_RC(x) (___LBPF_ARM64_REGS(x)->regs[0])
#define PT_REGS_SP(x) (___LBPF_ARM64_REGS(x)->sp)
#define PT_REGS_IP(x) (___LBPF_ARM64_REGS(x)->pc)

#else
/* Only complain when a register macro is actually used. */
#define PT_REGS_PARM1(x) ___lbpf_unsupported_target_arch_define___TARGET_ARCH_x86_or_arm64()
#define PT_REGS_PARM2(x) PT_REGS_PARM1(x)
#define PT_REGS_PARM3(x) PT_REGS_PARM1(x)
#define PT_REGS_PARM4(x) PT_REGS_PARM1(x)
#define PT_REGS_PARM5(x) PT_REGS_PARM1(x)
#define PT_REGS_RC(x) PT_REGS_PARM1(x)
#endif

/* ---- BPF_PROG: named, typed arguments for u64-array contexts ------------------------------ */
/*
 *   SEC("tp_btf/sched_switch")
 *   int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
 *
 * (the "int" before BPF_PROG completes the first declaration the macro produces) expands to a
 * function taking the raw context (unsigned long long *ctx) that calls an inlined
 * function with the arguments cast from ctx[0], ctx[1], ...; "ctx" stays usable in the body.
 */
#define ___lbpf_pick(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N
#define ___lbpf_count(...) ___lbpf_pick(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define ___lbpf_join2(a, b) a##b
#define ___lbpf_join(a, b) ___lbpf_join2(a, b)

#define ___lbpf_args0() ctx
#define ___lbpf_args1(a) ___lbpf_args0(), (void *)ctx[0]
#define ___lbpf_args2(a, b) ___lbpf_args1(a), (void *)ctx[1]
#define ___lbpf_args3(a, b, c) ___lbpf_args2(a, b), (void *)ctx[2]
#define ___lbpf_args4(a, b, c, d) ___lbpf_args3(a, b, c), (void *)ctx[3]
#define ___lbpf_args5(a, b, c, d, e) ___lbpf_args4(a, b, c, d), (void *)ctx[4]
#define ___lbpf_args6(a, b, c, d, e, f) ___lbpf_args5(a, b, c, d, e), (void *)ctx[5]
#define ___lbpf_args7(a, b, c, d, e, f, g) ___lbpf_args6(a, b, c, d, e, f), (void *)ctx[6]
#define ___lbpf_args8(a, b, c, d, e, f, g, h) ___lbpf_args7(a, b, c, d, e, f, g), (void *)ctx[7]
#define ___lbpf_args9(a, b, c, d, e, f, g, h, i) \
	___lbpf_args8(a, b, c, d, e, f, g, h), (void *)ctx[8]
#define ___lbpf_args10(a, b, c, d, e, f, g, h, i, j) \
	___lbpf_args9(a, b, c, d, e, f, g, h, i), (void *)ctx[9]
#define ___lbpf_args11(a, b, c, d, e, f, g, h, i, j, k) \
	___lbpf_args10(a, b, c, d, e, f, g, h, i, j), (void *)ctx[10]
#define ___lbpf_args12(a, b, c, d, e, f, g, h, i, j, k, l) \
	___lbpf_args11(a, b, c, d, e, f, g, h, i, j, k), (void *)ctx[11]
#define ___lbpf_args(...) ___lbpf_join(___lbpf_args, ___lbpf_count(__VA_ARGS__))(__VA_ARGS__)

/* Integer arguments arrive through (void *): silence the int-from-pointer conversions. */
#define BPF_PROG(name, args...)                                                        \
	name(unsigned long long *ctx);                                                 \
	static __always_inline int ____##name(unsigned long long *ctx, ##args);        \
	int name(unsigned long long *ctx)                                              \
	{                                                                              \
		_Pragma("GCC diagnostic push")                                         \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                 \
		return ____##name(___lbpf_args(args));                                 \
		_Pragma("GCC diagnostic pop")                                          \
	}                                                                              \
	static __always_inline int ____##name(unsigned long long *ctx, ##args)

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#endif
