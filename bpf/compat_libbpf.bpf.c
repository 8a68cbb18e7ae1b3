/*
 * Written against libbpf's BPF-side headers (Debian libbpf-dev), not ours: objects built for
 * other loaders must load unchanged. <bpf/...> resolves to /usr/include/bpf/ because our
 * bpf/include has no bpf/ subdirectory, and libbpf's own "bpf_helper_defs.h" is found next to
 * its bpf_helpers.h before any -I directory.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} enters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} port SEC(".maps");

const volatile __u32 watched_tgid = 0;
__u64 seen = 0;

SEC("tracepoint/raw_syscalls/sys_enter")
int count_enters(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *n;

	if (watched_tgid && tgid != watched_tgid)
		return 0;
	__sync_fetch_and_add(&seen, 1);
	n = bpf_map_lookup_elem(&enters, &tgid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&enters, &tgid, &one, BPF_NOEXIST);
	return 0;
}

SEC("socket")
int store_port(struct __sk_buff *skb)
{
	__u32 zero = 0, p = bpf_htons(8080);

	bpf_map_update_elem(&port, &zero, &p, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
