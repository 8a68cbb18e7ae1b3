/*
 * Ingress packets of a cgroup (examples/cgroup_ingress.lua): a cgroup_skb/ingress program
 * counts the packets and bytes delivered to sockets of the cgroup's processes, and refuses them
 * when `deny` is set (from Lua, before load).
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

enum { STAT_PACKETS, STAT_BYTES, STAT_DENIED, STAT_MAX };

const volatile __u32 deny = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ingress_stats SEC(".maps");

static __always_inline void add(__u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&ingress_stats, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("cgroup_skb/ingress")
int cgroup_ingress(struct __sk_buff *skb)
{
	add(STAT_PACKETS, 1);
	add(STAT_BYTES, skb->len);
	if (deny) {
		add(STAT_DENIED, 1);
		return 0; /* drop */
	}
	return 1; /* deliver */
}

BPF_LICENSE("GPL");
