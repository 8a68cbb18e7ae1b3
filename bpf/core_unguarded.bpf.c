/*
 * An unguarded CO-RE read of a member the target may lack (spec/core_spec.lua): against a
 * target without lbpf_core_item.extra the relocation cannot be resolved, the instruction is
 * poisoned and, being reachable, the load fails with a message naming program, insn and access.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_core_read.h"

struct lbpf_core_item {
	int id;
	unsigned int extra;
} __attribute__((preserve_access_index));

__s64 extra = -1;

SEC("syscall")
int read_extra(struct lbpf_core_item *ctx)
{
	extra = BPF_CORE_READ(ctx, extra);
	return 0;
}

char _license[] SEC("license") = "GPL";
