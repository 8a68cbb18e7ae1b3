/*
 * Compiles, but the verifier must reject it: the map value pointer may be NULL and is
 * dereferenced without a check. The specs expect the load error to name the program and quote
 * the verifier's complaint.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("socket")
int unchecked_lookup(struct __sk_buff *skb)
{
	__u32 key = 1;
	__u64 *value = bpf_map_lookup_elem(&values, &key);

	return *value; /* no NULL check: "invalid mem access 'map_value_or_null'" */
}

BPF_LICENSE("GPL");
