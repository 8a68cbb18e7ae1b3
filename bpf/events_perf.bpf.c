/*
 * Perf buffer producer for spec/events_perf_spec.lua: on_syscall (raw_syscalls/sys_enter) sends
 * `count` samples of struct sample with bpf_perf_event_output, once, for the process
 * target_tgid after `armed` is set. Samples the kernel refuses (ring full) are counted in
 * `failed`; the reader learns about them from PERF_RECORD_LOST.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct sample {
	__u64 seq;
	__u32 cpu;
	__u32 pid;
	char pad[48]; /* 64 bytes a sample: a one-page ring holds about 50 */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(max_entries, 64); /* slots for CPUs 0..63 (libbpf would default to the CPU count) */
} samples SEC(".maps");

__u32 count = 0;
__u32 armed = 0;
__u32 target_tgid = 0;
__u64 next_seq = 0;
__u64 sent = 0;
__u64 failed = 0;
struct sample last_sample; /* puts struct sample into the BTF */

struct loop_ctx {
	void *ctx;
};

static int send_one(__u32 index, struct loop_ctx *lc)
{
	struct sample s = {};

	(void)index;
	s.seq = next_seq++;
	s.cpu = bpf_get_smp_processor_id();
	s.pid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_perf_event_output(lc->ctx, &samples, BPF_F_CURRENT_CPU, &s, sizeof(s)) < 0)
		failed++;
	else
		sent++;
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int on_syscall(void *ctx)
{
	struct loop_ctx lc = { .ctx = ctx };

	if (!armed || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	armed = 0;
	bpf_loop(count, send_one, &lc, 0);
	return 0;
}

BPF_LICENSE("GPL");
