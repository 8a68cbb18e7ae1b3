/*
 * freplace for the kernel suite (spec/kernel/freplace_k.lua): xdp_main asks the global function
 * verdict() what to do with a packet (XDP_PASS); the extension new_verdict, loaded from the same
 * file into a second object, replaces verdict() in the loaded xdp_main and says XDP_DROP.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

__u64 main_runs = 0, replaced_runs = 0;

__attribute__((noinline)) int verdict(struct xdp_md *ctx)
{
	return ctx ? XDP_PASS : XDP_ABORTED;
}

SEC("xdp")
int xdp_main(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&main_runs, 1);
	return verdict(ctx);
}

SEC("freplace/verdict")
int new_verdict(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&replaced_runs, 1);
	return XDP_DROP;
}

BPF_LICENSE("GPL");
