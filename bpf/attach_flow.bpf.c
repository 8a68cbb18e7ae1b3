/*
 * A flow dissector for the attach specs: attached to a network namespace the spec creates, it
 * dissects IPv4/UDP packets itself (the kernel's dissector handles everything else) and counts
 * them per destination port in `flow_ports`. The kernel runs it whenever it needs a packet's
 * flow hash, e.g. for receive packet steering.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include "bpf_helpers.h"
#include "bpf_endian.h"

#ifndef BPF_FLOW_DISSECTOR_CONTINUE
#define BPF_FLOW_DISSECTOR_CONTINUE 129
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);   /* destination port, host byte order */
	__type(value, __u64); /* packets dissected */
} flow_ports SEC(".maps");

SEC("flow_dissector")
int dissect_udp(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 nhoff = keys->nhoff, port;
	struct iphdr *ip;
	struct udphdr *udp;
	__u64 one = 1, *n;

	if (keys->n_proto != bpf_htons(ETH_P_IP) || nhoff > 64)
		return BPF_FLOW_DISSECTOR_CONTINUE;
	ip = data + nhoff;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
	    (ip->frag_off & bpf_htons(0x3fff)))
		return BPF_FLOW_DISSECTOR_CONTINUE;
	keys->addr_proto = ETH_P_IP;
	keys->ip_proto = IPPROTO_UDP;
	keys->ipv4_src = ip->saddr;
	keys->ipv4_dst = ip->daddr;
	keys->thoff = (__u16)(nhoff + sizeof(*ip));
	keys->sport = udp->source;
	keys->dport = udp->dest;
	port = bpf_ntohs(udp->dest);
	n = bpf_map_lookup_elem(&flow_ports, &port);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&flow_ports, &port, &one, BPF_NOEXIST);
	return BPF_OK;
}

BPF_LICENSE("GPL");
