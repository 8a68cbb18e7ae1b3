/*
 * Parity with libbpf (spec/parity_spec.lua): attach targets set before load. target_xdp calls
 * global_func; replace_func is an freplace program for it, loaded against target_xdp's fd
 * (prog:set{attach_target = {prog = ..., func = "global_func"}}). Without a target it cannot
 * load, with libbpf as with luabpf.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__attribute__((noinline)) int global_func(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int target_xdp(struct xdp_md *ctx)
{
	return global_func(ctx);
}

SEC("freplace/global_func")
int replace_func(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
