/*
 * tp_btf for the attach specs: a BTF-typed raw tracepoint reading its typed arguments.
 * on_sys_enter (tp_btf/sys_enter, arguments struct pt_regs *regs, long id) records the close(2)
 * calls whose fd is `wanted_fd` (set from Lua): the verifier checks each regs-> load against
 * the kernel's BTF, no probe_read needed.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_tracing.h"

enum { TB_HITS, TB_ID, TB_FD, TB_PID, TB_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TB_MAX);
	__type(key, __u32);
	__type(value, __s64);
} tpbtf_stats SEC(".maps");

volatile const long wanted_fd = -1;

static __always_inline void put(__u32 key, __s64 value)
{
	bpf_map_update_elem(&tpbtf_stats, &key, &value, BPF_ANY);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	__s64 *hits;
	__u32 key = TB_HITS;

	/* x86-64: close is syscall 3, its fd in di. */
	if (id != 3 || (long)PT_REGS_PARM1(regs) != wanted_fd)
		return 0;
	hits = bpf_map_lookup_elem(&tpbtf_stats, &key);
	if (hits)
		__sync_fetch_and_add(hits, 1);
	put(TB_ID, id);
	put(TB_FD, (__s64)PT_REGS_PARM1(regs));
	put(TB_PID, (__s64)(bpf_get_current_pid_tgid() >> 32));
	return 0;
}

BPF_LICENSE("GPL");
