/*
 * @NAME@: counts system calls per process, from the raw_syscalls/sys_enter tracepoint.
 * Built by `make` (see Makefile); loaded and attached by @NAME@.lua.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

/* What the map keeps per process (tgid): how many syscalls, and the name it had when first seen
 * (a process may have exited by the time Lua prints it). */
struct counter {
	__u64 calls;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* tgid */
	__type(value, struct counter);
} counts SEC(".maps");

/* Every syscall counted, a global variable Lua reads live (obj.globals.total_calls). */
__u64 total_calls = 0;

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct counter *c = bpf_map_lookup_elem(&counts, &tgid);

	if (!c) {
		struct counter fresh = {};

		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		bpf_map_update_elem(&counts, &tgid, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counts, &tgid);
		if (!c)
			return 0;
	}
	__sync_fetch_and_add(&c->calls, 1);
	__sync_fetch_and_add(&total_calls, 1);
	return 0;
}

BPF_LICENSE("GPL");
