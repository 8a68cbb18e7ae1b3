/*
 * Networking programs for the attach specs (spec/attach_net_spec.lua), each fed real packets:
 *  - xdp_firewall: the classic XDP blocklist, drops IPv4 packets whose source is in `blocklist`
 *    and passes the rest, counting both in `xdp_stats`;
 *  - tc_filter: tc/tcx ingress, counts UDP datagrams and drops those whose payload starts with
 *    'x' (`tc_stats`);
 *  - cgroup_count: cgroup_skb/ingress, counts packets delivered to sockets of a cgroup;
 *  - sock_filter: a socket filter on a UDP socket, drops datagrams whose payload starts 'x'.
 *  - xdp_count: passes everything, counting IPv4 packets in `xdp_count_stats` (the program
 *    link:update() swaps in for xdp_firewall);
 *  - tc_rewrite: tc ingress, rewrites a UDP payload starting "rw" to "RW" (bpf_skb_store_bytes,
 *    UDP checksum fixed with bpf_l4_csum_replace), counting rewrites in `tc_stats`.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include "bpf_helpers.h"
#include "bpf_endian.h"

enum { STAT_PASSED, STAT_DROPPED, STAT_SEEN, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* IPv4 source address, network byte order */
	__type(value, __u64); /* packets dropped from it */
} blocklist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xdp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sock_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} cgroup_packets SEC(".maps");

static __always_inline void bump(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u64 *hits;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	hits = bpf_map_lookup_elem(&blocklist, &ip->saddr);
	if (hits) {
		__sync_fetch_and_add(hits, 1);
		bump(&xdp_stats, STAT_DROPPED);
		return XDP_DROP;
	}
	bump(&xdp_stats, STAT_PASSED);
	return XDP_PASS;
}

/* First payload byte of an IPv4/UDP packet starting at l3 (options-free headers), or -1. */
static __always_inline int udp_first_byte(void *l3, void *end)
{
	struct iphdr *ip = l3;
	struct udphdr *udp = l3 + sizeof(*ip);
	unsigned char *payload = (unsigned char *)(udp + 1);

	if ((void *)(payload + 1) > end || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return -1;
	return payload[0];
}

SEC("tc")
int tc_filter(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	int first;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	first = udp_first_byte(data + sizeof(*eth), end);
	if (first < 0)
		return TC_ACT_OK;
	bump(&tc_stats, STAT_SEEN);
	if (first == 'x') {
		bump(&tc_stats, STAT_DROPPED);
		return TC_ACT_SHOT;
	}
	bump(&tc_stats, STAT_PASSED);
	return TC_ACT_OK;
}

SEC("cgroup_skb/ingress")
int cgroup_count(struct __sk_buff *skb)
{
	bump(&cgroup_packets, 0);
	return 1; /* allow */
}

/* On a UDP socket the filter sees the datagram from its UDP header on. */
SEC("socket")
int sock_filter(struct __sk_buff *skb)
{
	unsigned char first;

	if (bpf_skb_load_bytes(skb, sizeof(struct udphdr), &first, 1) < 0)
		return skb->len;
	bump(&sock_stats, STAT_SEEN);
	if (first == 'x') {
		bump(&sock_stats, STAT_DROPPED);
		return 0; /* drop */
	}
	bump(&sock_stats, STAT_PASSED);
	return skb->len;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdp_count_stats SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP))
		bump(&xdp_count_stats, 0);
	return XDP_PASS;
}

SEC("tc")
int tc_rewrite(struct __sk_buff *skb)
{
	/* Ethernet, options-free IPv4, UDP, then the payload: all at fixed offsets. */
	const __u32 udp_off = sizeof(struct ethhdr) + sizeof(struct iphdr);
	const __u32 payload_off = udp_off + sizeof(struct udphdr);
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u16 old, new = bpf_htons(('R' << 8) | 'W');

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_UDP)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, payload_off, &old, sizeof(old)) < 0 ||
	    old != bpf_htons(('r' << 8) | 'w'))
		return TC_ACT_OK;
	/* The payload word starts at an even offset from the UDP header, so the one's-complement
	 * sum changes by exactly old -> new. */
	if (bpf_l4_csum_replace(skb, udp_off + offsetof(struct udphdr, check), old, new,
				BPF_F_MARK_MANGLED_0 | sizeof(new)) < 0 ||
	    bpf_skb_store_bytes(skb, payload_off, &new, sizeof(new), 0) < 0)
		return TC_ACT_SHOT;
	bump(&tc_stats, STAT_SEEN);
	return TC_ACT_OK;
}

BPF_LICENSE("GPL");
