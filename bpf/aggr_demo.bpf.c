/*
 * bpf_aggr.h from a real program (spec/trace_aggr_spec.lua): the sizes of read(2) calls of one
 * process as a count, a sum, a log2 and a linear histogram, like the bpftrace one-liner
 * `tracepoint:syscalls:sys_enter_read /pid == T/ { @n = count(); @b = sum(args->count);
 *  @h = hist(args->count); @l = lhist(args->count, 0, 1000, 100); }`.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_aggr.h"

/* /sys/kernel/tracing/events/syscalls/sys_enter_read/format */
struct sys_enter_read_args {
	__u64 common;
	int syscall_nr;
	__u64 fd;
	__u64 buf;
	__u64 count;
};

__u32 target_tgid = 0; /* set through obj.globals once the workload's pid is known */

#define HASH_OF_U64(name, key_type, n)                  \
	struct {                                        \
		__uint(type, BPF_MAP_TYPE_HASH);        \
		__uint(max_entries, n);                 \
		__type(key, key_type);                  \
		__type(value, __u64);                   \
	} name SEC(".maps")

HASH_OF_U64(calls, __u32, 16);   /* tgid -> reads */
HASH_OF_U64(bytes, __u32, 16);   /* tgid -> bytes asked for */
HASH_OF_U64(log2_sizes, __u32, 65); /* log2 slot -> reads */
HASH_OF_U64(linear, __u32, 10);  /* linear slot (0..1000 by 100) -> reads */

SEC("tracepoint/syscalls/sys_enter_read")
int on_read(struct sys_enter_read_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid != target_tgid)
		return 0;
	BPF_COUNT(calls, tgid);
	BPF_SUM(bytes, tgid, ctx->count);
	BPF_HIST_LOG2(log2_sizes, ctx->count);
	BPF_HIST_LINEAR(linear, ctx->count, 0, 1000, 100);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
