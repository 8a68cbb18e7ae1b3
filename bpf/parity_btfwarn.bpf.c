/*
 * Parity with libbpf (spec/parity_spec.lua): an object that needs nothing from its BTF. When
 * the kernel refuses the BTF (the spec corrupts struct parity_marker_b's name in the ELF bytes)
 * it loads without it, as libbpf does, and says so in obj:warnings().
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern int CONFIG_HZ __kconfig;

struct parity_marker_b {
	int x;
};

struct parity_marker_b marker = {};
__u64 hz = 0;

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	hz = CONFIG_HZ;
	marker.x++;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
