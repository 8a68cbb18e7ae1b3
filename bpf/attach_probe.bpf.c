/*
 * Tracing programs for the attach specs (spec/attach_probe_spec.lua):
 *  - on_add / on_add_ret: uprobe and uretprobe on lbpf_fixture_add() of spec/fixtures/probe_target
 *    (calls counted, the second argument and the return value recorded);
 *  - on_usdt: the USDT probe lbpf_fixture:tick of the same binary;
 *  - on_usdt_args / on_usdt_args_auto: lbpf_fixture:args, whose four arguments (a constant, a
 *    16-bit register, a 64-bit register, a stack slot) they read through usdt.bpf.h into
 *    `usdt_vals` / `usdt_auto_vals` (the second auto-attaches from its section name, a path
 *    relative to the repository root);
 *  - on_sample: a perf_event program counting samples per CPU;
 *  - on_kprobe: a kprobe (this kernel has none: the spec checks the error).
 */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"
#include "usdt.bpf.h"

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

/* What the USDT argument programs record (signed: the fixture passes negative values). */
enum { UA_HITS, UA_CNT, UA_CONST, UA_S16, UA_U64, UA_MEM, UA_SUM_MEM, UA_ERR, UA_COOKIE, UA_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UA_MAX);
	__type(key, __u32);
	__type(value, __s64);
} usdt_vals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, UA_MAX);
	__type(key, __u32);
	__type(value, __s64);
} usdt_auto_vals SEC(".maps");

static __always_inline void put(void *map, __u32 key, __s64 value)
{
	bpf_map_update_elem(map, &key, &value, BPF_ANY);
}

static __always_inline void accumulate(void *map, __u32 key, __s64 n)
{
	__s64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* The typed-parameter form. */
SEC("usdt")
int BPF_USDT(on_usdt_args, int c, short s16, unsigned long u64, int mem)
{
	accumulate(&usdt_vals, UA_HITS, 1);
	put(&usdt_vals, UA_CNT, bpf_usdt_arg_cnt(ctx));
	put(&usdt_vals, UA_CONST, c);
	put(&usdt_vals, UA_S16, s16);
	put(&usdt_vals, UA_U64, (__s64)u64);
	put(&usdt_vals, UA_MEM, mem);
	accumulate(&usdt_vals, UA_SUM_MEM, mem);
	put(&usdt_vals, UA_COOKIE, (__s64)bpf_get_attach_cookie(ctx));
	return 0;
}

/* The loop form, auto-attached; also checks that asking past the last argument fails. */
SEC("usdt/build/fixtures/probe_target:lbpf_fixture:args")
int on_usdt_args_auto(struct pt_regs *ctx)
{
	int n = bpf_usdt_arg_cnt(ctx);
	long v;

	accumulate(&usdt_auto_vals, UA_HITS, 1);
	put(&usdt_auto_vals, UA_CNT, n);
	for (int i = 0; i < 4; i++) {
		if (i >= n || bpf_usdt_arg(ctx, i, &v) < 0)
			continue;
		put(&usdt_auto_vals, UA_CONST + i, v);
		if (i == 3)
			accumulate(&usdt_auto_vals, UA_SUM_MEM, v);
	}
	put(&usdt_auto_vals, UA_ERR, bpf_usdt_arg(ctx, n, &v)); /* -ENOENT */
	put(&usdt_auto_vals, UA_COOKIE, (__s64)bpf_get_attach_cookie(ctx));
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
