/*
 * Run queue latency (examples/runqlat.lua): how long tasks wait between being woken up and
 * getting a CPU, as a log2 histogram of microseconds.
 *
 * tp_btf programs on sched_wakeup / sched_wakeup_new note when a task became runnable;
 * sched_switch notes a preempted task (still runnable) the same way, and for the task switched
 * in adds now - then to its slot of `hist_us`. task_struct is declared with only the member
 * used; CO-RE relocates the access to the running kernel's layout.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"

#define MAX_SLOTS 64

struct task_struct {
	int pid;
} __attribute__((preserve_access_index));

/* 0: every task; otherwise only the thread with this id (set from Lua before load). */
const volatile __u32 target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);   /* pid (thread id) */
	__type(value, __u64); /* when it became runnable, ns */
} runnable_since SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SLOTS);
	__type(key, __u32);   /* log2 slot of the latency in microseconds */
	__type(value, __u64); /* count */
} hist_us SEC(".maps");

/* bpftrace's slots: 0 for 0, k for [2^(k-1), 2^k). */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

	for (int i = 0; i < MAX_SLOTS && v; i++) {
		slot++;
		v >>= 1;
	}
	return slot;
}

static __always_inline void mark_runnable(__u32 pid)
{
	__u64 now = bpf_ktime_get_ns();

	if (!pid || (target_pid && pid != target_pid))
		return;
	bpf_map_update_elem(&runnable_since, &pid, &now, BPF_ANY);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	mark_runnable(p->pid);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
	mark_runnable(p->pid);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, int preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid = next->pid, slot;
	__u64 *since, *count;

	if (preempt)
		mark_runnable(prev->pid);
	since = bpf_map_lookup_elem(&runnable_since, &pid);
	if (!since)
		return 0;
	slot = log2_slot((bpf_ktime_get_ns() - *since) / 1000);
	bpf_map_delete_elem(&runnable_since, &pid);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	count = bpf_map_lookup_elem(&hist_us, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

BPF_LICENSE("GPL");
