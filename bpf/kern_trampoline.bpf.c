/*
 * BPF trampolines for the kernel suite (spec/kernel/fentry_k.lua, fmod_ret_k.lua, lsm_k.lua, run
 * in the qemu VMs): fentry/fexit on do_unlinkat (the spec removes a missing file: dfd AT_FDCWD,
 * the name it passed, -ENOENT), fmod_ret on security_file_open and lsm/file_open, which deny an
 * open with -EPERM while `deny` is set, and record the name of the file opened.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"
#include "bpf_core_read.h"

#define EPERM 1

/* Just the members read, relocated to each kernel's layout (CO-RE). */
struct filename {
	const char *name;
} __attribute__((preserve_access_index));
struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));
struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));
struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));
struct file {
	struct path f_path;
} __attribute__((preserve_access_index));

const volatile __u32 target_tgid = 0;
__u32 deny = 0;

struct seen {
	__u64 hits;
	__s64 dfd;
	__s64 ret;
	char name[48];
};

struct seen fentry_seen = {}, fexit_seen = {}, fmod_ret_seen = {}, lsm_seen = {};

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(on_unlink, int dfd, struct filename *name)
{
	if (!mine())
		return 0;
	fentry_seen.dfd = dfd;
	bpf_probe_read_kernel_str(fentry_seen.name, sizeof(fentry_seen.name), BPF_CORE_READ(name, name));
	__sync_fetch_and_add(&fentry_seen.hits, 1);
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(on_unlink_exit, int dfd, struct filename *name, int ret)
{
	if (!mine())
		return 0;
	fexit_seen.dfd = dfd;
	fexit_seen.ret = ret;
	bpf_probe_read_kernel_str(fexit_seen.name, sizeof(fexit_seen.name), BPF_CORE_READ(name, name));
	__sync_fetch_and_add(&fexit_seen.hits, 1);
	return 0;
}

static __always_inline int file_open_verdict(struct seen *s, struct file *file)
{
	if (!mine())
		return 0;
	bpf_probe_read_kernel_str(s->name, sizeof(s->name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	__sync_fetch_and_add(&s->hits, 1);
	return deny ? -EPERM : 0;
}

/* fmod_ret: a non-zero return skips security_file_open and becomes its result. */
SEC("fmod_ret/security_file_open")
int BPF_PROG(deny_open_fmod_ret, struct file *file, int ret)
{
	return file_open_verdict(&fmod_ret_seen, file);
}

SEC("lsm/file_open")
int BPF_PROG(deny_open_lsm, struct file *file, int ret)
{
	if (ret)
		return ret;
	return file_open_verdict(&lsm_seen, file);
}

BPF_LICENSE("GPL");
