/*
 * Counts system calls per process and per syscall number (examples/syscount.lua).
 *
 * count_syscalls attaches to the raw_syscalls/sys_enter tracepoint; count_raw is the same count
 * through a raw tracepoint, so the specs can exercise both attach paths on one object.
 * target_tgid (0: everyone) may be set from Lua before load to watch a single process.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

#define MAX_ENTRIES 10240

/* Layout of the tracepoint record (/sys/kernel/tracing/events/raw_syscalls/sys_enter/format). */
struct sys_enter_record {
	unsigned short common_type;
	unsigned char common_flags;
	unsigned char common_preempt_count;
	int common_pid;
	long id;
	unsigned long args[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* syscalls entered */
} pid_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* syscall number */
	__type(value, __u64); /* times entered */
} syscall_counts SEC(".maps");

/* Command name of each counted process, taken when it is first seen: short-lived processes
 * are gone from /proc by the time user space prints them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, __u32);      /* tgid */
	__type(value, char[16]); /* comm (TASK_COMM_LEN) */
} pid_comm SEC(".maps");

const volatile __u32 target_tgid = 0;

/* Hits seen by the raw tracepoint program (a .bss counter the specs read live). */
__u64 raw_hits = 0;

static __always_inline void bump(void *map, __u32 key)
{
	__u64 one = 1;
	__u64 *count = bpf_map_lookup_elem(map, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

static __always_inline int count(__u32 syscall_nr)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (target_tgid && tgid != target_tgid)
		return 0;
	if (!bpf_map_lookup_elem(&pid_comm, &tgid)) {
		char comm[16];

		bpf_get_current_comm(comm, sizeof(comm));
		bpf_map_update_elem(&pid_comm, &tgid, comm, BPF_NOEXIST);
	}
	bump(&pid_counts, tgid);
	bump(&syscall_counts, syscall_nr);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(struct sys_enter_record *rec)
{
	return count((__u32)rec->id);
}

/* Raw tracepoint arguments of sys_enter: (struct pt_regs *regs, long id). */
SEC("raw_tp/sys_enter")
int count_raw(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (target_tgid && tgid != target_tgid)
		return 0;
	__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

BPF_LICENSE("GPL");
