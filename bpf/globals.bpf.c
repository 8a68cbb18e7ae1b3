/*
 * Global data in every section kind the loader turns into an internal array map:
 * .data, .rodata, .bss, and custom .data.* / .rodata.* sections.
 *
 * compute (socket filter, run with test_run) returns data_var * multiplier + custom values, so
 * a spec sees .rodata set before load (multiplier) and .data written from Lua after load
 * change what the program does. count_enter bumps a .bss counter on every syscall entry of
 * target_tgid while attached.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

/* .data: initialised, writable from both sides. */
int data_var = 42;
char greeting[8] = "hello";

/* .rodata: fixed once loaded; opts.globals may change it before load. "volatile" keeps clang
 * from folding the initial value into the code. */
const volatile int multiplier = 1;
const volatile __u32 target_tgid = 0;
const volatile long long big_constant = 0x1122334455667788LL;

/* .bss: zero-initialised. */
__u64 enter_count;
int last_result;

/* Custom sections: each becomes its own map. */
SEC(".data.custom") int custom_data = 5;
SEC(".rodata.custom") const volatile int custom_ro = 9;

SEC("socket")
int compute(struct __sk_buff *skb)
{
	int result = data_var * multiplier + custom_data * custom_ro;

	last_result = result;
	return result;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int count_enter(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (tgid == target_tgid)
		__sync_fetch_and_add(&enter_count, 1);
	return 0;
}

BPF_LICENSE("GPL");
