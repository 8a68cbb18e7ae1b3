/*
 * tc and cgroup programs for the kernel suite (spec/kernel/tc_k.lua, cgroup_k.lua, run in the
 * qemu VMs and on the host): each counts the UDP datagrams sent to port `port` over loopback and
 * records what it saw, and lets every packet through (other traffic on the host is untouched).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include "bpf_helpers.h"
#include "bpf_endian.h"

const volatile __u16 port = 0;

struct seen {
	__u64 hits;
	__u32 ifindex;
	__u32 len;
};

struct seen tc_seen = {}, cgroup_seen = {};

/* The UDP destination port of an IPv4 datagram whose IP header starts at ip_off, else 0. */
static __always_inline __u16 udp_dport(struct __sk_buff *skb, __u32 ip_off)
{
	struct iphdr ip;
	struct udphdr udp;

	if (bpf_skb_load_bytes(skb, ip_off, &ip, sizeof(ip)) < 0 || ip.version != 4 ||
	    ip.protocol != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, ip_off + ip.ihl * 4, &udp, sizeof(udp)) < 0)
		return 0;
	return bpf_ntohs(udp.dest);
}

static __always_inline void count(struct seen *s, struct __sk_buff *skb)
{
	s->ifindex = skb->ifindex;
	s->len = skb->len;
	__sync_fetch_and_add(&s->hits, 1);
}

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP) && udp_dport(skb, ETH_HLEN) == port)
		count(&tc_seen, skb);
	return -1; /* TC_ACT_UNSPEC / TCX_NEXT: carry on */
}

SEC("cgroup_skb/egress")
int count_cgroup(struct __sk_buff *skb)
{
	if (skb->protocol == bpf_htons(ETH_P_IP) && udp_dport(skb, 0) == port)
		count(&cgroup_seen, skb);
	return 1; /* allow */
}

BPF_LICENSE("GPL");
