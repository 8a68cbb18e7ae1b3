/*
 * bpf_log round trip for spec/events_log_spec.lua: say (a `syscall` program run with test_run)
 * logs integers, strings and a pointer through bpf_log.h; shout writes with bpf_printk for the
 * trace_pipe reader.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_log.h"

char who[16] = "world";
__s32 number = -42;
__u64 calls = 0;

SEC("syscall")
int say(void *ctx)
{
	char local[8] = "stack";

	calls++;
	bpf_log_info("hello %s from %s: n=%d u=%u x=%#x big=%llu c=%c p=%p", who, local, number,
		     (__u32)number, 255, 1ULL << 40, 'A', ctx);
	bpf_log_warn("no arguments");
	bpf_log(LBPF_LOG_DEBUG, "width [%5d] [%-6s] [%05x] %%", 42, who, 0xab);
	return 0;
}

SEC("syscall")
int shout(void *ctx)
{
	(void)ctx;
	bpf_printk("luabpf trace_pipe marker %d", 1234);
	return 0;
}

BPF_LICENSE("GPL");
