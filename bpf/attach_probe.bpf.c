/*
 * Tracing programs for the attach specs (spec/attach_probe_spec.lua):
 *  - on_add / on_add_ret: uprobe and uretprobe on lbpf_fixture_add() of spec/fixtures/probe_target
 *    (calls counted, the second argument and the return value recorded);
 *  - on_usdt: the USDT probe lbpf_fixture:tick of the same binary;
 *  - on_sample: a perf_event program counting samples per CPU;
 *  - on_kprobe: a kprobe (this kernel has none: the spec checks the error).
 */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"

enum { UP_CALLS, UP_LAST_ARG, UP_RETURNS, UP_LAST_RET, USDT_HITS, USDT_LAST_ARG0,
       USDT_COOKIE, SAMPLES, KPROBE_HITS, STATS_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STATS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} probe_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} samples_per_cpu SEC(".maps");

static __always_inline void add(__u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&probe_stats, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline void set(__u32 key, __u64 value)
{
	bpf_map_update_elem(&probe_stats, &key, &value, BPF_ANY);
}

SEC("uprobe")
int on_add(struct pt_regs *ctx)
{
	add(UP_CALLS, 1);
	set(UP_LAST_ARG, PT_REGS_PARM2(ctx));
	return 0;
}

SEC("uretprobe")
int on_add_ret(struct pt_regs *ctx)
{
	add(UP_RETURNS, 1);
	set(UP_LAST_RET, PT_REGS_RC(ctx));
	return 0;
}

/* The fixture's probe passes its first argument in a register ("-4@%edi" style spec): the spec
 * reads the argument spec from Lua and checks the value recorded here matches. */
SEC("usdt")
int on_usdt(struct pt_regs *ctx)
{
	add(USDT_HITS, 1);
	set(USDT_LAST_ARG0, PT_REGS_PARM1(ctx));
	set(USDT_COOKIE, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("perf_event")
int on_sample(struct bpf_perf_event_data *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&samples_per_cpu, &zero);

	if (n)
		*n += 1;
	add(SAMPLES, 1);
	return 0;
}

SEC("kprobe/do_nanosleep")
int on_kprobe(struct pt_regs *ctx)
{
	add(KPROBE_HITS, 1);
	return 0;
}

BPF_LICENSE("GPL");
