/*
 * The CO-RE object of the load benchmark (bench/load_bench.c, `make bench-load`): the same work
 * for luabpf and libbpf. A realistic small tracer: a dozen CO-RE field relocations into
 * task_struct and what hangs off it (through the generated vmlinux.h), four maps of different
 * types, .data/.rodata/.bss globals, a static and a global subprogram, and two programs.
 * It is only loaded, never attached: the benchmark measures open + load + close.
 */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"

struct event {
	int pid;
	int tgid;
	int ppid;
	unsigned int flags;
	int prio;
	unsigned int uid;
	unsigned long long start_time;
	unsigned long total_vm;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, int);
	__type(value, struct event);
} bench_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} bench_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct event);
} bench_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} bench_ring SEC(".maps");

const volatile int bench_target_tgid = 0; /* .rodata */
int bench_sample_every = 1;               /* .data */
__u64 bench_seen = 0;                     /* .bss */
__u64 bench_dropped = 0;                  /* .bss */

/* Static subprogram: called with a BPF-to-BPF call, verified with its caller. */
static __noinline int fill_event(struct task_struct *task, struct event *e)
{
	e->pid = BPF_CORE_READ(task, pid);
	e->tgid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->flags = BPF_CORE_READ(task, flags);
	e->prio = BPF_CORE_READ(task, prio);
	BPF_CORE_READ_INTO(&e->uid, task, cred, uid.val);
	e->start_time = BPF_CORE_READ(task, start_time);
	e->total_vm = BPF_CORE_READ(task, mm, total_vm);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	return e->tgid;
}

/* Global subprogram: verified on its own, once, whatever calls it. */
__noinline int bench_count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&bench_counts, &slot);

	if (!n)
		return 0;
	__sync_fetch_and_add(n, 1);
	return 1;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int bench_enter(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 zero = 0;
	struct event *e = bpf_map_lookup_elem(&bench_scratch, &zero);
	int tgid;

	if (!e)
		return 0;
	tgid = fill_event(task, e);
	if (bench_target_tgid && tgid != bench_target_tgid)
		return 0;
	__sync_fetch_and_add(&bench_seen, 1);
	bench_count(0);
	if (bpf_map_update_elem(&bench_events, &tgid, e, BPF_ANY))
		__sync_fetch_and_add(&bench_dropped, 1);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int bench_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e;
	int tgid = BPF_CORE_READ(task, tgid);

	if (BPF_CORE_READ(task, pid) != tgid)
		return 0;
	bench_count(1);
	if (bench_sample_every <= 0)
		return 0;
	e = bpf_ringbuf_reserve(&bench_ring, sizeof(*e), 0);
	if (!e)
		return 0;
	fill_event(task, e);
	e->prio = BPF_CORE_READ(task, exit_code);
	bpf_ringbuf_submit(e, 0);
	bpf_map_delete_elem(&bench_events, &tgid);
	return 0;
}

BPF_LICENSE("GPL");
