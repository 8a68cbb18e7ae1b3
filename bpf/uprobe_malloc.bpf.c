/*
 * libc allocations by size (examples/uprobe_malloc.lua): a uprobe on malloc() adds each call to
 * the log2 slot of its size argument in `sizes`, and counts calls and bytes in `totals`. The
 * Lua side attaches it to the libc of one process (a pid filter in the kernel's uprobe).
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"

#define MAX_SLOTS 64

enum { TOTAL_CALLS, TOTAL_BYTES, TOTAL_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SLOTS);
	__type(key, __u32);   /* log2 slot of the requested size */
	__type(value, __u64); /* calls */
} sizes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TOTAL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

	for (int i = 0; i < MAX_SLOTS && v; i++) {
		slot++;
		v >>= 1;
	}
	return slot;
}

static __always_inline void add(void *map, __u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("uprobe")
int on_malloc(struct pt_regs *ctx)
{
	__u64 size = PT_REGS_PARM1(ctx);
	__u32 slot = log2_slot(size);

	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	add(&sizes, slot, 1);
	add(&totals, TOTAL_CALLS, 1);
	add(&totals, TOTAL_BYTES, size);
	return 0;
}

BPF_LICENSE("GPL");
