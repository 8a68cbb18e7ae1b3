/*
 * A map pinned by name (shared by every loader of this object with the same pin path) next to
 * an unpinned one, for spec/maps_pin_spec.lua. bump adds 1 to shared_counts[key].hits.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct counter {
	__u64 hits;
	char who[8];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} private_arr SEC(".maps");

struct args {
	__u64 key;
};

SEC("syscall")
int bump(struct args *args)
{
	__u32 key = (__u32)args->key;
	struct counter *c = bpf_map_lookup_elem(&shared_counts, &key), init = { .hits = 1, .who = "bpf" };

	if (c)
		__sync_fetch_and_add(&c->hits, 1);
	else
		bpf_map_update_elem(&shared_counts, &key, &init, BPF_NOEXIST);
	return 0;
}

BPF_LICENSE("GPL");
