/* Maps of the map benchmark (bench/maps_bench.lua, `make bench-maps`): a million-entry
 * u32 -> u64 hash and a million-entry 16-byte struct key -> 32-byte struct value hash. */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct flow {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u32 proto;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
	__u64 first_ns;
	__u32 last_cpu;
	__u32 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);
	__type(key, __u32);
	__type(value, __u64);
} small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1000000);
	__type(key, struct flow);
	__type(value, struct flow_stats);
} flows SEC(".maps");

/* Keeps the object loadable on its own; never run. */
SEC("socket")
int bench_touch(struct __sk_buff *skb)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&small, &k) != 0;
}

BPF_LICENSE("GPL");
