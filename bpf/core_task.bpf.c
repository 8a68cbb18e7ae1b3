/*
 * CO-RE reads of the current task (spec/core_spec.lua): the local task_struct below declares
 * only the members used, in an arbitrary order and layout; the loader relocates every access to
 * the running kernel's layout. Fires on any syscall of the process whose tgid is target_tgid.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_core_read.h"

struct task_struct {
	char comm[16];
	struct task_struct *real_parent;
	unsigned int sched_reset_on_fork : 1;
	int tgid;
	int pid;
	/* No kernel has this member: reads of it must be guarded by bpf_core_field_exists. */
	int lbpf_no_such_member;
} __attribute__((preserve_access_index));

const volatile __u32 target_tgid = 0;

__u32 hits = 0;
__s32 seen_pid = 0;
__s32 seen_tgid = 0;
__s32 seen_ppid = 0;
char seen_comm[16] = {};
__u64 seen_reset_on_fork = 0;
__u32 pid_exists = 0;
__u32 missing_exists = 99;
__s32 missing_value = -1;
__u32 comm_size = 0;

SEC("tracepoint/raw_syscalls/sys_enter")
int core_task(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	seen_pid = BPF_CORE_READ(task, pid);
	seen_tgid = BPF_CORE_READ(task, tgid);
	seen_ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&seen_comm, task, comm);
	seen_reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork);
	pid_exists = bpf_core_field_exists(task->pid);
	comm_size = bpf_core_field_size(task->comm);
	missing_exists = bpf_core_field_exists(struct task_struct, lbpf_no_such_member);
	if (bpf_core_field_exists(task->lbpf_no_such_member))
		missing_value = BPF_CORE_READ(task, lbpf_no_such_member);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char _license[] SEC("license") = "GPL";
