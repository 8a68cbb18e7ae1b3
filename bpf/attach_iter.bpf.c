/* An iter/task program for prog:iterate(): one line "pid comm" per task. */
#include <linux/bpf.h>
#include "bpf_helpers.h"

/* The iterator context, declared here so the object needs no vmlinux.h (CO-RE matches names). */
struct seq_file;
struct task_struct {
	int pid;
	int tgid;
	char comm[16];
} __attribute__((preserve_access_index));
struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
} __attribute__((preserve_access_index));
struct bpf_iter__task {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
} __attribute__((preserve_access_index));

SEC("iter/task")
int dump_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	__u64 args[1];

	if (!task || task->pid != task->tgid)
		return 0;
	args[0] = task->tgid;
	bpf_seq_printf(ctx->meta->seq, "pid %d\n", 8, args, sizeof(args));
	return 0;
}

BPF_LICENSE("GPL");
