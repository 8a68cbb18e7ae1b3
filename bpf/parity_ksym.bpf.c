/*
 * Parity with libbpf (spec/parity_spec.lua): bpf_ksym_exists() on kfuncs, the ld_imm64 form of
 * a kfunc extern. One kfunc the kernel has, one it lacks (__weak: its address is zero); the
 * syscall program records which branch each took in a map.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef bpf_ksym_exists /* libbpf >= 1.2 has it */
#define bpf_ksym_exists(sym) (!!(sym))
#endif

extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;
extern int parity_no_such_kfunc(int x) __ksym __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} branches SEC(".maps");

static void record(__u32 slot, __u64 value)
{
	bpf_map_update_elem(&branches, &slot, &value, BPF_ANY);
}

SEC("syscall")
int probe_kfuncs(void *ctx)
{
	/* 1 = "exists" branch, 2 = "missing" branch */
	if (bpf_ksym_exists(bpf_rcu_read_lock))
		record(0, 1);
	else
		record(0, 2);
	if (bpf_ksym_exists(parity_no_such_kfunc))
		record(1, 1);
	else
		record(1, 2);
	return 0;
}

char _license[] SEC("license") = "GPL";
