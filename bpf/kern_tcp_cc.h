/*
 * A minimal TCP congestion control in BPF (struct_ops), shared by kern_tcp_cc.bpf.c (section
 * .struct_ops: registered by a map update, every kernel since 5.6) and kern_tcp_cc_link.bpf.c
 * (.struct_ops.link: registered through a bpf_link, 6.4+). Reno-like without the arithmetic: the
 * spec only needs it registered, chosen by TCP_CONGESTION and called; it counts its calls.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct sock;

/* The members used, by name: the loader places them in the kernel's own layout. */
struct tcp_congestion_ops {
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	void (*init)(struct sock *sk);
	__u32 (*undo_cwnd)(struct sock *sk);
	char name[16];
};

__u64 init_calls = 0, ssthresh_calls = 0, cong_avoid_calls = 0, undo_calls = 0;

SEC("struct_ops/lbpf_cc_init")
int lbpf_cc_init(unsigned long long *ctx)
{
	__sync_fetch_and_add(&init_calls, 1);
	return 0;
}

SEC("struct_ops/lbpf_cc_ssthresh")
__u32 lbpf_cc_ssthresh(unsigned long long *ctx)
{
	__sync_fetch_and_add(&ssthresh_calls, 1);
	return 10;
}

SEC("struct_ops/lbpf_cc_cong_avoid")
int lbpf_cc_cong_avoid(unsigned long long *ctx)
{
	__sync_fetch_and_add(&cong_avoid_calls, 1);
	return 0;
}

SEC("struct_ops/lbpf_cc_undo_cwnd")
__u32 lbpf_cc_undo_cwnd(unsigned long long *ctx)
{
	__sync_fetch_and_add(&undo_calls, 1);
	return 10;
}

#define LBPF_CC_OPS(var, cc_name)                                                           \
	struct tcp_congestion_ops var = {                                                   \
		.init = (void *)lbpf_cc_init,                                                \
		.ssthresh = (void *)lbpf_cc_ssthresh,                                        \
		.cong_avoid = (void *)lbpf_cc_cong_avoid,                                    \
		.undo_cwnd = (void *)lbpf_cc_undo_cwnd,                                      \
		.name = cc_name,                                                             \
	}

BPF_LICENSE("GPL");
