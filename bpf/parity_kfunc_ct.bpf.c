/*
 * Parity with libbpf (spec/parity_spec.lua, spec/kernel/kfunc_module_k.lua): kfunc calls and a
 * kfunc's address where conntrack lives, in vmlinux here (CONFIG_NF_CONNTRACK=y) and in the
 * nf_conntrack module on Debian's kernels, where the call names the module's BTF through the
 * fd_array and the address load carries the module BTF's fd. The lookup finds no connection.
 * ct_call makes the call alone, for kernels that refuse a kfunc's address (before 6.3).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple *tuple,
					 __u32 tuple_size, struct bpf_ct_opts *opts,
					 __u32 opts_size) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

long ct_error = 99;
__u64 ran = 0, found = 0, has_lookup = 0;

/* A lookup of a connection nobody made: opts.error (-ENOENT) */
static __always_inline long lookup(struct xdp_md *ctx)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_ct_opts opts = { .netns_id = -1, .l4proto = 6 /* TCP */ };
	struct nf_conn *ct;

	tuple.ipv4.saddr = 0x0100007f; /* 127.0.0.1 */
	tuple.ipv4.daddr = 0x0100007f;
	tuple.ipv4.sport = 0x3930;     /* 12345, big endian */
	tuple.ipv4.dport = 0x3930;
	/* 12 bytes: the options' size every kernel since 6.1 accepts */
	ct = bpf_xdp_ct_lookup(ctx, &tuple, sizeof(tuple.ipv4), &opts, 12);
	if (ct) {
		found = 1;
		bpf_ct_release(ct);
	}
	ran = 1;
	return opts.error;
}

/* The kfunc's address, then the call (kernels before 6.3 refuse the address). */
SEC("xdp")
int ct_probe(struct xdp_md *ctx)
{
	has_lookup = !!bpf_xdp_ct_lookup; /* bpf_ksym_exists: the ld_imm64 form */
	if (has_lookup)
		ct_error = lookup(ctx);
	return XDP_PASS;
}

/* The call alone. */
SEC("xdp")
int ct_call(struct xdp_md *ctx)
{
	ct_error = lookup(ctx);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
