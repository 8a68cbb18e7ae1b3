/*
 * kprobes for the kernel suite (spec/kernel/kprobe_k.lua, run in the qemu VMs): each program
 * counts its hits from one process (target_tgid) and records the arguments it saw, so the spec
 * checks both. The spec opens a file that does not exist: openat(AT_FDCWD, path) fails with
 * -ENOENT.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"

const volatile __u32 target_tgid = 0;

struct seen {
	__u64 hits;
	__s64 dfd;
	__s64 ret;
	char name[48];
};

struct seen kp = {}, kp_off5 = {}, kp_off9 = {}, kretp = {}, ksys = {}, kretsys = {};
struct seen kmulti = {}, kretmulti = {};
__u64 kmulti_ip = 0;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

static __always_inline void record(struct seen *s, long dfd, const char *user_name)
{
	s->dfd = dfd;
	bpf_probe_read_user_str(s->name, sizeof(s->name), user_name);
	__sync_fetch_and_add(&s->hits, 1);
}

/* do_sys_openat2(int dfd, const char __user *filename, struct open_how *how) */
SEC("kprobe/do_sys_openat2")
int on_open(struct pt_regs *ctx)
{
	if (mine())
		record(&kp, (int)PT_REGS_PARM1(ctx), (const char *)PT_REGS_PARM2(ctx));
	return 0;
}

/* name+offset: the first instruction after the ftrace call site, which sits at +0 without IBT
 * (5 bytes) and at +4 after ENDBR64 with it: one of the two is an instruction boundary. */
SEC("kprobe/do_sys_openat2+5")
int on_open_off5(struct pt_regs *ctx)
{
	if (mine())
		record(&kp_off5, (int)PT_REGS_PARM1(ctx), (const char *)PT_REGS_PARM2(ctx));
	return 0;
}

SEC("kprobe/do_sys_openat2+9")
int on_open_off9(struct pt_regs *ctx)
{
	if (mine())
		record(&kp_off9, (int)PT_REGS_PARM1(ctx), (const char *)PT_REGS_PARM2(ctx));
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int on_open_ret(struct pt_regs *ctx)
{
	if (mine()) {
		kretp.ret = (long)PT_REGS_RC(ctx);
		__sync_fetch_and_add(&kretp.hits, 1);
	}
	return 0;
}

/* ksyscall: the arch wrapper (__x64_sys_openat) gets the user's registers as its argument. */
SEC("ksyscall/openat")
int on_sys_openat(struct pt_regs *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);
	unsigned long dfd = 0, name = 0;

	if (!mine())
		return 0;
	bpf_probe_read_kernel(&dfd, sizeof(dfd), &PT_REGS_PARM1_SYSCALL(regs));
	bpf_probe_read_kernel(&name, sizeof(name), &PT_REGS_PARM2_SYSCALL(regs));
	record(&ksys, (int)dfd, (const char *)name);
	return 0;
}

SEC("kretsyscall/openat")
int on_sys_openat_ret(struct pt_regs *ctx)
{
	if (mine()) {
		kretsys.ret = (long)PT_REGS_RC(ctx);
		__sync_fetch_and_add(&kretsys.hits, 1);
	}
	return 0;
}

/* kprobe.multi: do_sys_open and do_sys_openat2 take (dfd, filename) first, like the rest. */
SEC("kprobe.multi/do_sys_open*")
int on_open_multi(struct pt_regs *ctx)
{
	if (mine()) {
		kmulti_ip = bpf_get_func_ip(ctx);
		record(&kmulti, (int)PT_REGS_PARM1(ctx), (const char *)PT_REGS_PARM2(ctx));
	}
	return 0;
}

SEC("kretprobe.multi/do_sys_openat2")
int on_open_multi_ret(struct pt_regs *ctx)
{
	if (mine()) {
		kretmulti.ret = (long)PT_REGS_RC(ctx);
		__sync_fetch_and_add(&kretmulti.hits, 1);
	}
	return 0;
}

BPF_LICENSE("GPL");
