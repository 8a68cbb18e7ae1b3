/*
 * Maps whose keys and values exercise the binding's BTF <-> Lua conversion (spec/value_spec.lua):
 * every integer width and signedness, bool, enums, char[N], arrays, nested structs, unions,
 * bitfields, floats, per-CPU values, struct keys, string keys and 64-bit extremes.
 *
 * write_values (socket filter, run with test_run) fills entries with known constants so the spec
 * checks what the kernel side wrote; check_values reads the entry Lua wrote at key 2 and stores a
 * digest of it in `digest`, so the spec checks what the program sees of a Lua-written value.
 */
#include <linux/bpf.h>
#include <stdbool.h>
#include "bpf_helpers.h"

enum color { RED = 1, GREEN = 2, BLUE = 300 };
enum small_signed : signed char { NEG = -3, POS = 3 };

struct inner {
	__u16 x;
	__u8 y;
};

struct value {
	__u8 u8v;
	__s16 s16v;
	__u32 u32v;
	__s64 s64v;
	__u64 u64v;
	char name[16];
	__u32 arr[4];
	struct inner pos;
	struct inner ins[2];
	unsigned int flag : 1;
	unsigned int mode : 3;
	int sfield : 5;
	bool ok;
	enum color col;
	union {
		__u32 word;
		__u8 bytes[4];
	} un;
	struct {
		__u16 anon_a;
		__u16 anon_b;
	};
	float f;
	double d;
};

struct flow_key {
	__u32 addr;
	__u16 port;
	__u8 proto;
};

struct small {
	__u32 a;
	__u16 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct value);
} values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} digest SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct flow_key);
	__type(value, __u64);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, char[16]);
	__type(value, __u32);
} by_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __s64);
} signed64 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u64);
	__type(value, __u64);
} unsigned64 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, enum small_signed);
} small_enum SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct small);
} pcpu_small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} many SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue SEC(".maps");

/* Legacy-style sizes without BTF types: 3-byte value, raw byte strings. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 3);
} untyped SEC(".maps");

SEC("socket")
int write_values(struct __sk_buff *skb)
{
	__u32 key = 1;
	struct value v = {};
	struct flow_key fk = { .addr = 0x0100007f, .port = 8080, .proto = 6 };
	__u64 count = 77;
	__u32 idx = 0;
	__u64 one = 1;

	v.u8v = 200;
	v.s16v = -1234;
	v.u32v = 4000000000u;
	v.s64v = -5000000000000LL;
	v.u64v = 0xfedcba9876543210ULL;
	__builtin_memcpy(v.name, "kernel", 7);
	v.arr[0] = 10;
	v.arr[3] = 40;
	v.pos.x = 65535;
	v.pos.y = 7;
	v.ins[1].x = 3;
	v.flag = 1;
	v.mode = 5;
	v.sfield = -9;
	v.ok = true;
	v.col = BLUE;
	v.un.word = 0x04030201;
	v.anon_a = 11;
	v.anon_b = 12;
	bpf_map_update_elem(&values, &key, &v, BPF_ANY);
	bpf_map_update_elem(&flows, &fk, &count, BPF_ANY);
	/* Every CPU the program runs on adds one to slot 0. */
	__u64 *c = bpf_map_lookup_elem(&pcpu_counts, &idx);
	if (c)
		*c += one;
	return 0;
}

SEC("socket")
int check_values(struct __sk_buff *skb)
{
	__u32 key = 2, slot = 0;
	struct value *v = bpf_map_lookup_elem(&values, &key);
	__u64 sum;

	if (!v)
		return 1;
	/* A digest mixing every kind of field the spec writes. */
	sum = v->u8v + (__u64)(__s64)v->s16v + v->u32v + (__u64)v->s64v + v->u64v;
	sum += v->name[0] + v->name[1] + v->arr[0] + v->arr[3] + v->pos.x + v->pos.y + v->ins[1].x;
	sum += v->flag + v->mode + (__u64)(__s64)v->sfield + v->ok + v->col + v->un.word;
	sum += v->anon_a + v->anon_b;
	bpf_map_update_elem(&digest, &slot, &sum, BPF_ANY);
	return 0;
}

BPF_LICENSE("GPL");
