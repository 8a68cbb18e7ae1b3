/*
 * execsnoop (examples/execsnoop.lua): one record per successful exec on the system, from the
 * sched/sched_process_exec tracepoint, through the ring buffer `exec_events`.
 * The parent pid comes from task->real_parent->tgid with a CO-RE read, so the program follows
 * the running kernel's task_struct layout.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_core_read.h"

/* Just the fields we read; CO-RE relocates their offsets against the kernel's BTF. */
struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

/* /sys/kernel/tracing/events/sched/sched_process_exec/format */
struct sched_process_exec_record {
	unsigned short common_type;
	unsigned char common_flags;
	unsigned char common_preempt_count;
	int common_pid;
	unsigned int filename_loc; /* __data_loc: offset in the low 16 bits, length in the high */
	int pid;
	int old_pid;
};

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[16];
	char filename[160];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exec_events SEC(".maps");

BPF_RINGBUF_RECORD(exec_events, struct exec_event); /* readers decode records as this type */

__u64 dropped = 0;

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct sched_process_exec_record *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_event *e = bpf_ringbuf_reserve(&exec_events, sizeof(*e), 0);
	unsigned int off = ctx->filename_loc & 0xffff;

	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->pid = ctx->pid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (char *)ctx + off);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

BPF_LICENSE("GPL");
