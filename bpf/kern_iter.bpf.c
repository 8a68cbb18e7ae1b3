/*
 * BTF iterators for the kernel suite (spec/kernel/iter_k.lua): iter/bpf_map writes "map ID NAME"
 * for every map in the kernel (struct bpf_map read by CO-RE), iter/task_file "fd FD TGID" for the
 * files of the process target_tgid.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct seq_file;
struct file;
struct bpf_map {
	__u32 id;
	char name[16];
} __attribute__((preserve_access_index));
struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));
struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));
struct bpf_iter__bpf_map {
	struct bpf_iter_meta *meta;
	struct bpf_map *map;
} __attribute__((preserve_access_index));
struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
} __attribute__((preserve_access_index));

const volatile __u32 target_tgid = 0;

SEC("iter/bpf_map")
int dump_maps(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;
	__u64 args[2];

	if (!map)
		return 0;
	args[0] = map->id;
	args[1] = (__u64)(unsigned long)map->name;
	static const char fmt[] = "map %u %s\n";

	bpf_seq_printf(ctx->meta->seq, fmt, sizeof(fmt), args, sizeof(args));
	return 0;
}

SEC("iter/task_file")
int dump_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	__u64 args[2];

	if (!task || !ctx->file || task->tgid != target_tgid)
		return 0;
	args[0] = ctx->fd;
	args[1] = task->tgid;
	static const char fmt[] = "fd %u %d\n";

	bpf_seq_printf(ctx->meta->seq, fmt, sizeof(fmt), args, sizeof(args));
	return 0;
}

BPF_LICENSE("GPL");
