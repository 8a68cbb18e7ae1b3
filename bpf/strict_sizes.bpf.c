/*
 * A map whose value_size disagrees with its BTF value type (spec/strict_spec.lua): opening it is
 * an error naming the map, never a map created without BTF whose writes go astray.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(value_size, 4);
} mismatched SEC(".maps");

SEC("socket")
int touch(struct __sk_buff *skb)
{
	__u32 key = 0;
	return bpf_map_lookup_elem(&mismatched, &key) != 0;
}

BPF_LICENSE("GPL");
