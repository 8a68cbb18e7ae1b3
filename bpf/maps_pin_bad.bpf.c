/* The same pinned map name as maps_pin.bpf.c with another value size: a loader must refuse to
 * reuse the pinned map (spec/maps_pin_spec.lua). */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

SEC("syscall")
int touch(void *ctx)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&shared_counts, &key) != 0;
}

BPF_LICENSE("GPL");
