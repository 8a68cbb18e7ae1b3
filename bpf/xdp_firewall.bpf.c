/*
 * The classic XDP blocklist firewall (examples/xdp_firewall.lua): IPv4 packets whose source
 * address is a key of `blocklist` are dropped (and counted there); everything else passes.
 * `stats` counts passed and dropped packets per CPU.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include "bpf_helpers.h"
#include "bpf_endian.h"

enum { STAT_PASSED, STAT_DROPPED, STAT_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* IPv4 source address, network byte order */
	__type(value, __u64); /* packets dropped from it */
} blocklist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline int count(__u32 stat, int verdict)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &stat);

	if (v)
		*v += 1; /* per-CPU: no atomic needed */
	return verdict;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u64 *dropped;
	__u32 saddr;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return count(STAT_PASSED, XDP_PASS);
	saddr = ip->saddr;
	dropped = bpf_map_lookup_elem(&blocklist, &saddr);
	if (!dropped)
		return count(STAT_PASSED, XDP_PASS);
	__sync_fetch_and_add(dropped, 1);
	return count(STAT_DROPPED, XDP_DROP);
}

BPF_LICENSE("GPL");
