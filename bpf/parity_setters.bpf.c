/*
 * Parity with libbpf (spec/parity_spec.lua): what tools change before load. The stack map is
 * sized from Lua (value_size), one program is not loaded (autoload), one changes type (socket
 * to xdp), one map is left uncreated (autocreate), .data gets new bytes (initial value), and
 * outer gets another inner map template (inner_map).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 64);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64)); /* one frame: the spec sets the real size */
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} only_for_skipped SEC(".maps");

/* A map of maps whose inner template the spec replaces (map:set{inner_map = ...}). */
struct small_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} small_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct small_inner);
} outer SEC(".maps");

long stack_id = -1;
__u64 hits = 0;
__u64 initial = 7;

SEC("tracepoint/syscalls/sys_enter_getppid")
int take_stack(void *ctx)
{
	stack_id = bpf_get_stackid(ctx, &stacks, 0);
	hits++;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int skipped(void *ctx)
{
	__u32 key = 0;
	__u64 one = 1;

	bpf_map_update_elem(&only_for_skipped, &key, &one, BPF_ANY);
	return 0;
}

/* XDP_PASS (2) with the initial .data; the spec makes initial 8 (3: XDP_TX). */
SEC("socket")
int retyped(void *ctx)
{
	return 2 + (int)initial - 7;
}

char _license[] SEC("license") = "GPL";
