/*
 * A netfilter program for the attach specs: on the hook it is attached to (a BPF_LINK_CREATE
 * netfilter link in the spec's namespace) it counts IPv4 UDP packets to `target_addr` and
 * accepts everything. The packet is reached through the kernel's struct sk_buff: the two fields
 * used are declared here and relocated against the kernel's BTF (CO-RE).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include "bpf_helpers.h"

#define NF_ACCEPT 1

struct sk_buff {
	unsigned char *head;
	__u16 network_header;
} __attribute__((preserve_access_index));

/* The context of netfilter programs (include/linux/netfilter.h). */
struct bpf_nf_ctx {
	const void *state;
	struct sk_buff *skb;
};

volatile const __u32 target_addr = 0; /* network byte order */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} nf_stats SEC(".maps"); /* [0] packets to target_addr, [1] every packet seen */

static __always_inline void bump(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&nf_stats, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("netfilter")
int nf_count(struct bpf_nf_ctx *ctx)
{
	struct sk_buff *skb = ctx->skb;
	struct iphdr ip;

	bump(1);
	if (bpf_probe_read_kernel(&ip, sizeof(ip), skb->head + skb->network_header) == 0 &&
	    ip.daddr == target_addr && ip.protocol == IPPROTO_UDP)
		bump(0);
	return NF_ACCEPT;
}

BPF_LICENSE("GPL");
