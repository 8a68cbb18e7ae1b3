/*
 * Maps filled by a program, for spec/maps_dump_spec.lua: map:dump() (per-entry tables and
 * columns) and map:pairs() must read the same entries, field by field, whatever the key and
 * value shapes (flat structs of every field kind, 64-bit values beyond 2^53, nested structs with
 * arrays, plain integers, per-CPU values).
 *
 * fill(args): args->a = how many entries (at most MAX_FILL) to write into every map.
 */
#include <linux/bpf.h>
#include <stdbool.h>
#include "bpf_helpers.h"

#define MAX_FILL 256

struct args {
	__u64 a, b, c, d;
};

struct flow {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	bool v6;
	__s16 zone;
};

struct flow_stats {
	__u64 packets;
	__u64 first_ns; /* above 2^53: cdata under LuaJIT */
	__s32 delta;    /* negative for odd entries */
	bool seen;
	char tag[7];
};

struct pos {
	__u16 x;
	__u16 y;
};

struct deep {
	struct pos pos;
	__u32 arr[3];
	__u64 total;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FILL);
	__type(key, struct flow);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FILL);
	__type(key, __u32);
	__type(value, struct deep);
} nested SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FILL);
	__type(key, __u32);
	__type(value, __s64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_FILL);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu SEC(".maps");

/* No iteration: map:dump() refuses it. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u32);
} queue SEC(".maps");

/* Entry i of every map. */
static void put(__u32 i)
{
	struct flow k = { .saddr = 0x0a000000 + i, .daddr = 0xc0a80001, .sport = 1024 + i,
			  .dport = 443, .proto = 6, .v6 = i & 1, .zone = -(__s16)i };
	struct flow_stats v = { .packets = i * 3 + 1, .first_ns = 0xfff0000000000000ull + i,
				.delta = (i & 1) ? -(__s32)i : (__s32)i, .seen = i & 1 };
	struct deep d = { .pos = { .x = i, .y = 65535 - i }, .arr = { i, i * 2, i * 3 },
			  .total = (__u64)i << 40 };
	__s64 c = -(__s64)i * 1000;
	__u64 p = i + 7;

	v.tag[0] = 't';
	v.tag[1] = '0' + i % 10;
	bpf_map_update_elem(&flows, &k, &v, BPF_ANY);
	bpf_map_update_elem(&nested, &i, &d, BPF_ANY);
	bpf_map_update_elem(&counts, &i, &c, BPF_ANY);
	bpf_map_update_elem(&per_cpu, &i, &p, BPF_ANY);
}

SEC("syscall")
int fill(struct args *args)
{
	__u32 n = args->a > MAX_FILL ? MAX_FILL : (__u32)args->a;

	for (__u32 i = 0; i < MAX_FILL; i++) {
		if (i >= n)
			break;
		put(i);
	}
	return 0;
}

BPF_LICENSE("GPL");
