/*
 * Maps defined both ways in one object: struct bpf_map_def entries in the legacy "maps"
 * section (read by symbol offset and size, no BTF types) and BTF-defined maps in ".maps".
 * touch_all (socket filter) writes one entry into each so the specs can see all of them work
 * from both sides.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 64,
};

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 4,
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u64);
} btf_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} btf_array SEC(".maps");

SEC("socket")
int touch_all(struct __sk_buff *skb)
{
	__u32 key = 7, idx = 1;
	__u64 v64 = 700;
	__u32 v32 = 11;

	bpf_map_update_elem(&legacy_hash, &key, &v64, BPF_ANY);
	bpf_map_update_elem(&legacy_array, &idx, &v32, BPF_ANY);
	v64 = 1234;
	bpf_map_update_elem(&btf_hash, &key, &v64, BPF_ANY);
	bpf_map_update_elem(&btf_array, &idx, &v64, BPF_ANY);
	return 1;
}

BPF_LICENSE("GPL");
