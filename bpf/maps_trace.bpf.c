/*
 * Maps filled by a tracepoint program, for spec/maps_types_spec.lua: kernel stack traces of the
 * watched process's system calls (stack_trace + bpf_get_stackid) and per-task counters in task
 * local storage (read from Lua with the task's pid, opened as a pidfd).
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

#define MAX_DEPTH 127

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64[MAX_DEPTH]);
} stacks SEC(".maps");

/* Last kernel stack id seen for the watched process. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s64);
} last_stack SEC(".maps");

/* [0]: the pid (tgid) to watch, set from Lua. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} watch SEC(".maps");

struct task_stat {
	__u64 calls;
	__s64 last_syscall;
	__u32 seen_lua; /* last value Lua wrote to `mark`, copied by the program */
	__u32 mark;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_stat);
} task_calls SEC(".maps");

struct sys_enter_args {
	__u64 common;
	long id;
	unsigned long args[6];
};

SEC("tracepoint/raw_syscalls/sys_enter")
int on_sys_enter(struct sys_enter_args *ctx)
{
	__u32 zero = 0, *pid = bpf_map_lookup_elem(&watch, &zero);
	struct task_stat *st;
	__s64 id;

	if (!pid || (bpf_get_current_pid_tgid() >> 32) != *pid)
		return 0;
	id = bpf_get_stackid(ctx, &stacks, 0);
	bpf_map_update_elem(&last_stack, &zero, &id, BPF_ANY);
	st = bpf_task_storage_get(&task_calls, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (st) {
		st->calls++;
		st->last_syscall = ctx->id;
		st->seen_lua = st->mark;
	}
	return 0;
}

BPF_LICENSE("GPL");
