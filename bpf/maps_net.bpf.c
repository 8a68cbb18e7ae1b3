/*
 * Maps whose values are kernel objects (devices, CPUs, sockets) and local storage of sockets,
 * inodes and cgroups, for spec/maps_types_spec.lua: created by the loader and filled from Lua.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

#ifndef BPF_MAP_TYPE_CGRP_STORAGE
#define BPF_MAP_TYPE_CGRP_STORAGE 32
#endif

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} dev_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} dev_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} xsk_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} sock_hash SEC(".maps");

struct owner_info {
	__u32 uid;
	char note[12];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct owner_info);
} sk_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_INODE_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct owner_info);
} inode_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct owner_info);
} cgrp_store SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, __u64);
} cg_legacy SEC(".maps");

/* Redirects through dev_map; the program run by devmap entries is pass_on. */
SEC("xdp")
int redirect_dev(struct xdp_md *ctx)
{
	return bpf_redirect_map(&dev_map, 0, XDP_PASS);
}

SEC("xdp/devmap")
int pass_on(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp/cpumap")
int cpu_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int to_cpu(struct xdp_md *ctx)
{
	return bpf_redirect_map(&cpu_map, 0, XDP_PASS);
}

/* Counts packets per cgroup in the legacy cgroup storage (created; attached by nobody here). */
SEC("cgroup_skb/ingress")
int count_cg(struct __sk_buff *skb)
{
	__u64 *n = bpf_get_local_storage(&cg_legacy, 0);

	__sync_fetch_and_add(n, 1);
	return 1;
}

BPF_LICENSE("GPL");
