/*
 * uprobe.multi for the kernel suite (spec/kernel/uprobe_multi_k.lua): every lbpf_fixture_*
 * function of the static fixture build/kernels/fixtures/probe_target, entry and return; the
 * spec runs `probe_target add N B` (lbpf_fixture_add(i, B) for i = 1..N).
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"

__u64 calls = 0, last_b = 0, returns = 0, last_ret = 0;

SEC("uprobe.multi/build/kernels/fixtures/probe_target:lbpf_fixture_*")
int on_fixture(struct pt_regs *ctx)
{
	last_b = PT_REGS_PARM2(ctx);
	__sync_fetch_and_add(&calls, 1);
	return 0;
}

SEC("uretprobe.multi/build/kernels/fixtures/probe_target:lbpf_fixture_add")
int on_fixture_ret(struct pt_regs *ctx)
{
	last_ret = PT_REGS_RC(ctx);
	__sync_fetch_and_add(&returns, 1);
	return 0;
}

BPF_LICENSE("GPL");
