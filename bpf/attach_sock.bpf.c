/*
 * Socket-level programs for the attach specs (spec/attach_sock_spec.lua), each fed real
 * traffic inside a network namespace the spec creates:
 *  - steer_udp: sk_lookup, hands UDP datagrams for the port in lookup_cfg[0] (where nothing
 *    listens) to the socket stored in `lookup_socks`, counting in lookup_cfg[1] (assigned) and
 *    lookup_cfg[2] (bpf_sk_assign failures);
 *  - msg_verdict: sk_msg on the sockets of `pair_socks`, counts messages and bytes sent and
 *    refuses (SK_DROP) messages starting with 'x';
 *  - skb_verdict: sk_skb stream verdict on the same map, counts what the sockets receive.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include "bpf_helpers.h"

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lookup_socks SEC(".maps");

enum { LK_PORT, LK_ASSIGNED, LK_FAILED, LK_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LK_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lookup_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pair_socks SEC(".maps");

enum { PS_MSGS, PS_MSG_BYTES, PS_MSG_DROPPED, PS_SKBS, PS_SKB_BYTES, PS_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} pair_stats SEC(".maps");

static __always_inline void add(void *map, __u32 key, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("sk_lookup")
int steer_udp(struct bpf_sk_lookup *ctx)
{
	__u32 zero = 0;
	__u64 *port = bpf_map_lookup_elem(&lookup_cfg, &zero);
	struct bpf_sock *sk;
	long err;

	if (!port || ctx->protocol != IPPROTO_UDP || ctx->local_port != *port)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&lookup_socks, &zero);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	add(&lookup_cfg, err ? LK_FAILED : LK_ASSIGNED, 1);
	return SK_PASS;
}

SEC("sk_msg")
int msg_verdict(struct sk_msg_md *msg)
{
	unsigned char *data = msg->data, *end = msg->data_end;

	add(&pair_stats, PS_MSGS, 1);
	add(&pair_stats, PS_MSG_BYTES, msg->size);
	if (data + 1 <= end && data[0] == 'x') {
		add(&pair_stats, PS_MSG_DROPPED, 1);
		return SK_DROP;
	}
	return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int skb_verdict(struct __sk_buff *skb)
{
	add(&pair_stats, PS_SKBS, 1);
	add(&pair_stats, PS_SKB_BYTES, skb->len);
	return SK_PASS;
}

BPF_LICENSE("GPL");
