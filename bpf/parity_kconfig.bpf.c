/*
 * Parity with libbpf (spec/parity_spec.lua): a program written for libbpf's own headers that
 * needs the kconfig values libbpf provides itself. usdt.bpf.h reads LINUX_HAS_BPF_COOKIE,
 * BPF_KSYSCALL reads LINUX_HAS_SYSCALL_WRAPPER; the tracepoint copies both to globals. The usdt
 * and ksyscall programs load (this kernel has no kprobes to attach the latter to).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool LINUX_HAS_SYSCALL_WRAPPER __kconfig; /* BPF_KSYSCALL declares it inside itself */
extern int LINUX_HAS_NO_SUCH_VALUE __kconfig __weak;

__u64 has_cookie = 99, has_wrapper = 99, kernel_version = 0, unknown = 99, hits = 0;
long usdt_argc = 99, usdt_arg0 = 99;

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	has_cookie = LINUX_HAS_BPF_COOKIE;
	has_wrapper = LINUX_HAS_SYSCALL_WRAPPER;
	kernel_version = LINUX_KERNEL_VERSION;
	unknown = LINUX_HAS_NO_SUCH_VALUE;
	hits++;
	return 0;
}

SEC("usdt")
int on_usdt(struct pt_regs *ctx)
{
	long value = 0;

	usdt_argc = bpf_usdt_arg_cnt(ctx);
	if (bpf_usdt_arg(ctx, 0, &value) == 0)
		usdt_arg0 = value;
	return 0;
}

/* The macro's own pt_regs pointer goes unused with no arguments. */
#pragma clang diagnostic ignored "-Wunused-variable"
SEC("ksyscall/getppid")
int BPF_KSYSCALL(ksys_getppid)
{
	hits++;
	return 0;
}

char _license[] SEC("license") = "GPL";
