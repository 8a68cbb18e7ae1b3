/*
 * Several programs in one section, bpf-to-bpf calls and callbacks, all run with test_run:
 *
 *   socket/sum_calls   returns add_then_double(3, 4) = ((3 + 4) + 1) * 2 = 16 through a global
 *                      subprogram calling a static one calling another static one
 *   socket/sum_loop    returns the sum 0 + 1 + ... + (loop_count - 1) computed by a bpf_loop
 *                      callback (loop_count = 10 by default: 45) and adds one global call
 *   xdp/sum_map        fills an array map and sums it with bpf_for_each_map_elem
 *   xdp/pass_twice     a second xdp program in the same section; returns XDP_PASS
 * Each also records its result in a .bss variable the specs read.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

const volatile __u32 loop_count = 10;

__u64 calls_result;
__u64 loop_result;
__u64 map_sum;
__u64 map_visits;
__u64 pass_runs;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} numbers SEC(".maps");

static __noinline int plus_one(int x)
{
	return x + 1;
}

static __noinline int double_it(int x)
{
	return plus_one(x) * 2;
}

/* A global function: the verifier checks it once on its own, with only its BTF signature. */
__noinline int add_then_double(int a, int b)
{
	return double_it(a + b);
}

SEC("socket")
int sum_calls(struct __sk_buff *skb)
{
	int r = add_then_double(3, 4);

	calls_result = r;
	return r;
}

static long add_index(__u32 index, void *ctx)
{
	__u64 *sum = ctx;

	*sum += index;
	return 0; /* 0: continue; 1: stop */
}

SEC("socket")
int sum_loop(struct __sk_buff *skb)
{
	__u64 sum = 0;

	bpf_loop(loop_count, add_index, &sum, 0);
	loop_result = sum;
	return (int)sum + add_then_double(0, 0) - 2;
}

struct sum_ctx {
	__u64 sum;
	__u64 visits;
};

static long add_element(void *map, __u32 *key, __u64 *value, struct sum_ctx *ctx)
{
	ctx->sum += *value;
	ctx->visits++;
	return 0;
}

static __always_inline void put_number(__u32 key)
{
	__u64 value = key * 10;

	bpf_map_update_elem(&numbers, &key, &value, BPF_ANY);
}

SEC("xdp")
int sum_map(struct xdp_md *xdp)
{
	struct sum_ctx ctx = {0, 0};

	/* numbers[i] = i * 10, so the sum over the 8 entries is 280. Written out: a loop whose
	 * counter's address goes to a helper hides the bound from the verifier. */
	put_number(0);
	put_number(1);
	put_number(2);
	put_number(3);
	put_number(4);
	put_number(5);
	put_number(6);
	put_number(7);
	bpf_for_each_map_elem(&numbers, add_element, &ctx, 0);
	map_sum = ctx.sum;
	map_visits = ctx.visits;
	return XDP_PASS;
}

SEC("xdp")
int pass_twice(struct xdp_md *xdp)
{
	pass_runs++;
	return XDP_PASS;
}

BPF_LICENSE("GPL");
