/*
 * One map of every general-purpose type, for spec/maps_types_spec.lua. Each map is written by a
 * program (values the spec reads back decoded in Lua) and read by a program (values the spec
 * wrote from Lua, reported back through the syscall program's context or its return value).
 *
 * Syscall programs take `struct args` as their context: test_run copies it back to Lua.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include "bpf_helpers.h"
#include "bpf_endian.h"

struct args {
	__u64 a, b, c, d;
};

/* Inputs io[0..3] and outputs io[4..7] of the XDP programs (sleepable syscall programs may not
 * touch tries, queues, stacks, bloom filters or maps of maps). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} io SEC(".maps");

static __always_inline __u64 io_get(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&io, &slot);

	return v ? *v : 0;
}

static __always_inline void io_set(__u32 slot, __u64 val)
{
	bpf_map_update_elem(&io, &slot, &val, BPF_ANY);
}

struct pair {
	__u64 count;
	__u32 last;
	char tag[8];
};

/* ---- hash / array / per-CPU / LRU ----------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct pair);
} t_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct pair);
} t_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} t_percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} t_percpu_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct pair);
} t_lru_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} t_lru_percpu_hash SEC(".maps");

/* Writes key 1 of every map above: pairs {count = 41 + i, last = 7, tag = "bpf"}, per-CPU
 * values 1000 + i on the CPU the program runs on. */
SEC("syscall")
int write_basic(struct args *args)
{
	__u32 one = 1;
	struct pair p = { .count = 41, .last = 7, .tag = "bpf" };
	__u64 v = 1000;

	bpf_map_update_elem(&t_hash, &one, &p, BPF_ANY);
	p.count++;
	bpf_map_update_elem(&t_array, &one, &p, BPF_ANY);
	p.count++;
	bpf_map_update_elem(&t_lru_hash, &one, &p, BPF_ANY);
	bpf_map_update_elem(&t_percpu_hash, &one, &v, BPF_ANY);
	v++;
	bpf_map_update_elem(&t_percpu_array, &one, &v, BPF_ANY);
	v++;
	bpf_map_update_elem(&t_lru_percpu_hash, &one, &v, BPF_ANY);
	args->a = bpf_get_smp_processor_id();
	return 0;
}

static __u64 pair_digest(void *map, __u32 key)
{
	struct pair *p = bpf_map_lookup_elem(map, &key);

	if (!p)
		return 0;
	/* count + last * 1000 + first tag byte * 1000000 */
	return p->count + (__u64)p->last * 1000 + (__u64)(unsigned char)p->tag[0] * 1000000;
}

static __u64 u64_at(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	return v ? *v : 0;
}

/* Per-map reads, one value per call: args->a = key, args->b = which map (0..5) -> args->c. */
SEC("syscall")
int read_one(struct args *args)
{
	__u32 key = (__u32)args->a;

	switch (args->b) {
	case 0: args->c = pair_digest(&t_hash, key); break;
	case 1: args->c = pair_digest(&t_array, key); break;
	case 2: args->c = pair_digest(&t_lru_hash, key); break;
	case 3: args->c = u64_at(&t_percpu_hash, key); break;
	case 4: args->c = u64_at(&t_percpu_array, key); break;
	case 5: args->c = u64_at(&t_lru_percpu_hash, key); break;
	default: return -1;
	}
	return 0;
}

/* ---- LPM tries: an XDP firewall on source addresses ---------------------------------------- */

struct lpm_v4 {
	__u32 prefixlen;
	__u8 data[4];
};

struct lpm_v6 {
	__u32 prefixlen;
	__u8 data[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4);
	__type(value, __u32);
} fw_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6);
	__type(value, __u32);
} fw_v6 SEC(".maps");

/* Rule value 1 = drop, anything else = pass; no matching rule = pass. */
SEC("xdp")
int lpm_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 *rule = 0;

	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct lpm_v4 key = { .prefixlen = 32 };

		if ((void *)(ip + 1) > end)
			return XDP_ABORTED;
		__builtin_memcpy(key.data, &ip->saddr, 4);
		rule = bpf_map_lookup_elem(&fw_v4, &key);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct lpm_v6 key = { .prefixlen = 128 };

		if ((void *)(ip6 + 1) > end)
			return XDP_ABORTED;
		__builtin_memcpy(key.data, &ip6->saddr, 16);
		rule = bpf_map_lookup_elem(&fw_v6, &key);
	}
	return rule && *rule == 1 ? XDP_DROP : XDP_PASS;
}

/* Writes 192.168.0.0/16 -> 7 so the spec reads a program-written trie key back. */
SEC("xdp")
int lpm_write(struct xdp_md *ctx)
{
	struct lpm_v4 key = { .prefixlen = 16, .data = { 192, 168, 0, 0 } };
	__u32 v = 7;

	return bpf_map_update_elem(&fw_v4, &key, &v, BPF_ANY);
}

/* ---- queue, stack, bloom filter ------------------------------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} t_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} t_stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u32);
	__uint(map_extra, 3); /* hash functions */
} t_bloom SEC(".maps");

/* Pushes 11, 22, 33 onto the queue and the stack, and 7 into the bloom filter. */
SEC("xdp")
int qs_push(struct xdp_md *ctx)
{
	__u32 v = 7, a = 11, b = 22, c = 33;

	bpf_map_push_elem(&t_bloom, &v, 0);
	bpf_map_push_elem(&t_queue, &a, 0);
	bpf_map_push_elem(&t_stack, &a, 0);
	bpf_map_push_elem(&t_queue, &b, 0);
	bpf_map_push_elem(&t_stack, &b, 0);
	bpf_map_push_elem(&t_queue, &c, 0);
	bpf_map_push_elem(&t_stack, &c, 0);
	return XDP_PASS;
}

/* Pops one element of the queue (io[4]) and of the stack (io[5]); 0 when empty. */
SEC("xdp")
int qs_pop(struct xdp_md *ctx)
{
	__u32 v = 0;

	io_set(4, bpf_map_pop_elem(&t_queue, &v) == 0 ? v : 0);
	v = 0;
	io_set(5, bpf_map_pop_elem(&t_stack, &v) == 0 ? v : 0);
	return XDP_PASS;
}

/* Whether the bloom filter may contain io[0]: io[4] = 1 or 0. */
SEC("xdp")
int bloom_check(struct xdp_md *ctx)
{
	__u32 v = (__u32)io_get(0);

	io_set(4, bpf_map_peek_elem(&t_bloom, &v) == 0);
	return XDP_PASS;
}

/* ---- map-in-map: arrays and hashes of inner arrays, initialised statically ---------------- */

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_hash SEC(".maps") = {
	.values = { [1] = &inner_b },
};

/* io[0]: outer key, io[1]: 0 = outer_array, 1 = outer_hash. io[4] = inner[0]; returns
 * XDP_DROP when the slot is empty. */
SEC("xdp")
int mim_read(struct xdp_md *ctx)
{
	__u32 key = (__u32)io_get(0), zero = 0;
	void *inner = io_get(1) ? bpf_map_lookup_elem(&outer_hash, &key)
				: bpf_map_lookup_elem(&outer_array, &key);
	__u64 *v;

	if (!inner)
		return XDP_DROP;
	v = bpf_map_lookup_elem(inner, &zero);
	io_set(4, v ? *v : 0);
	return XDP_PASS;
}

/* ---- prog_array: tail calls, slot 0 initialised statically --------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} jmp_index SEC(".maps");

int tail_a(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} jmp_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_a },
};

SEC("socket")
int tail_a(struct __sk_buff *skb)
{
	return 10;
}

SEC("socket")
int tail_b(struct __sk_buff *skb)
{
	return 20;
}

/* Tail-calls jmp_table[jmp_index[0]]; returns 1 when the slot is empty. */
SEC("socket")
int tail_entry(struct __sk_buff *skb)
{
	__u32 zero = 0, *idx = bpf_map_lookup_elem(&jmp_index, &zero);

	if (idx)
		bpf_tail_call(skb, &jmp_table, *idx);
	return 1;
}

BPF_LICENSE("GPL");
