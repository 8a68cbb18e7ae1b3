/*
 * Global variables in an object built without BTF (-g0, mk/fuzz.mk): the loader must create its
 * data maps and load it as libbpf does, and Lua reads and writes the globals by their symbols
 * (plain integers of the symbol's size, byte strings otherwise).
 *
 * compute (socket filter, run with test_run) returns base * factor and keeps it in last_result;
 * count_enter counts syscall entries of target_tgid in hits.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

int base = 6;                        /* .data */
const volatile int factor = 7;       /* .rodata: set before load */
const volatile __u32 target_tgid;    /* .rodata */
__u64 hits;                          /* .bss */
int last_result;                     /* .bss */

SEC("socket")
int compute(struct __sk_buff *skb)
{
	last_result = base * factor;
	return last_result;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int count_enter(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_tgid)
		__sync_fetch_and_add(&hits, 1);
	return 0;
}

BPF_LICENSE("GPL");
