/*
 * Parity with libbpf (spec/parity_spec.lua): an object with __kconfig and __ksym externs (a
 * variable and a kfunc) whose BTF must still load, because its maps need it: a spin lock and a
 * bpf_timer in map values. struct parity_marker_a is there for the spec to corrupt its name in
 * the ELF bytes, making the kernel refuse the BTF.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) (!!(sym))
#endif

extern int CONFIG_HZ __kconfig;
extern const void bpf_prog_put __ksym;
extern void bpf_rcu_read_lock(void) __ksym __weak;

struct locked_elem {
	struct bpf_spin_lock lock;
	__u64 count;
};

struct timer_elem {
	struct bpf_timer timer;
};

struct parity_marker_a {
	int x;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_elem);
} locked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct timer_elem);
} timers SEC(".maps");

struct parity_marker_a marker = {};
__u64 hz = 0, prog_put_addr = 0, has_rcu = 0;
long timer_init_ret = 99;

static int on_timer(void *map, __u32 *key, struct timer_elem *value)
{
	return 0;
}

SEC("xdp")
int locked_count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct locked_elem *e = bpf_map_lookup_elem(&locked, &zero);
	struct timer_elem *t = bpf_map_lookup_elem(&timers, &zero);

	if (!e || !t)
		return XDP_ABORTED;
	bpf_spin_lock(&e->lock);
	e->count++;
	bpf_spin_unlock(&e->lock);
	timer_init_ret = bpf_timer_init(&t->timer, &timers, 1 /* CLOCK_MONOTONIC */);
	bpf_timer_set_callback(&t->timer, on_timer);
	hz = CONFIG_HZ;
	prog_put_addr = (__u64)&bpf_prog_put;
	has_rcu = bpf_ksym_exists(bpf_rcu_read_lock);
	marker.x++;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
