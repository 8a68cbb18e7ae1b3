/*
 * XDP redirects through a devmap, a cpumap and an xskmap with real packets, for
 * spec/maps_redirect_spec.lua.
 * UDP datagrams to the port in config[0] that reach the interface an ingress program is attached
 * to are sent on through the map; the program each map entry runs and a program on the receiving
 * interface count them (and the cpumap program notes the CPU it ran on). Everything else passes,
 * so ARP keeps working on the test links.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include "bpf_helpers.h"
#include "bpf_endian.h"

enum { REDIRECTED, DEV_EGRESS, CPU_RAN, RECEIVED, CPU_SEEN, NSLOTS };

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} tx_port SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

/* AF_XDP sockets by receive queue (the spec's fixture, netfix xsk, makes one). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* [0]: the UDP destination port to act on (host order); [1]: the cpumap slot to redirect to. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NSLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline __u32 config_at(__u32 slot)
{
	__u32 *v = bpf_map_lookup_elem(&config, &slot);

	return v ? *v : 0;
}

static __always_inline void add(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* Whether the frame is an IPv4 UDP datagram to the configured port. */
static __always_inline int is_test_datagram(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp = (void *)(ip + 1); /* test datagrams carry no IP options */
	__u32 port = config_at(0);

	if ((void *)(udp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	if (ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	return port && udp->dest == bpf_htons((__u16)port);
}

SEC("xdp")
int to_device(struct xdp_md *ctx)
{
	if (!is_test_datagram(ctx))
		return XDP_PASS;
	add(REDIRECTED, 1);
	return bpf_redirect_map(&tx_port, 0, XDP_PASS);
}

/*
 * veth leaves the UDP checksum of a locally sent datagram to "offload" (CHECKSUM_PARTIAL); the
 * skb a cpumap builds from the frame no longer carries that, and the stack would drop the
 * datagram as corrupt (InCsumErrors). 0 means "no checksum" for UDP over IPv4.
 */
static __always_inline void clear_udp_checksum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct udphdr *udp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);

	if ((void *)(udp + 1) <= end)
		udp->check = 0;
}

SEC("xdp")
int to_cpu(struct xdp_md *ctx)
{
	if (!is_test_datagram(ctx))
		return XDP_PASS;
	add(REDIRECTED, 1);
	clear_udp_checksum(ctx);
	return bpf_redirect_map(&cpus, config_at(1), XDP_PASS);
}

/* To the AF_XDP socket of the receive queue, if there is one (else on to the stack). */
SEC("xdp")
int to_socket(struct xdp_md *ctx)
{
	if (!is_test_datagram(ctx))
		return XDP_PASS;
	add(REDIRECTED, 1);
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

/* Run by the devmap entry on the egress device, before the frame is transmitted. */
SEC("xdp/devmap")
int dev_egress(struct xdp_md *ctx)
{
	if (is_test_datagram(ctx))
		add(DEV_EGRESS, 1);
	return XDP_PASS;
}

/* Run by the cpumap entry on its CPU's kthread; XDP_PASS builds the skb there. */
SEC("xdp/cpumap")
int cpu_run(struct xdp_md *ctx)
{
	if (is_test_datagram(ctx)) {
		add(CPU_RAN, 1);
		__u32 slot = CPU_SEEN;
		__u64 *seen = bpf_map_lookup_elem(&counts, &slot);
		if (seen)
			*seen = bpf_get_smp_processor_id() + 1;
	}
	return XDP_PASS;
}

/* On the interface the devmap sends to (in another namespace): what arrived. */
SEC("xdp")
int arrived(struct xdp_md *ctx)
{
	if (is_test_datagram(ctx))
		add(RECEIVED, 1);
	return XDP_PASS;
}

BPF_LICENSE("GPL");
