/*
 * Event producers for spec/events_*_spec.lua.
 *
 * emit (a `syscall` program run with test_run) writes `count` records with bpf_loop into the
 * ring buffer chosen by `target`: struct event records in order (seq = first_seq, +1, ...), or,
 * when raw_size is non-zero, raw records of raw_size bytes. A full ring buffer makes reserve
 * fail: the program counts the drop in `dropped`. on_syscall does the same from the
 * raw_syscalls/sys_enter tracepoint, once, for the process target_tgid after `armed` is set.
 * drain_user reads __u64 values that Lua wrote into the user ring buffer `to_kernel`.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct event {
	__u64 seq;
	__u32 pid;
	__s32 neg;          /* -seq: signed decoding */
	__u16 half;
	__u8 byte;
	_Bool odd;          /* a BTF bool */
	char comm[16];      /* a string */
	__u64 big;          /* 2^60 + seq: beyond 2^53, 64-bit decoding */
	__u32 pair[2];      /* an array member */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* One page: fills after a few dozen records. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} small_events SEC(".maps");

/* A second ring buffer for readers over several maps. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} other_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 1 << 14);
} to_kernel SEC(".maps");

/* Not a ring buffer: readers must refuse it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} not_a_ring SEC(".maps");

__u32 count = 0;       /* records per run */
__u32 target = 0;      /* 0: events, 1: small_events, 2: other_events */
__u32 raw_size = 0;    /* 0: struct event records; else raw records of this many bytes (<= 256) */
__u64 first_seq = 0;   /* seq of the next record */
__u64 produced = 0;    /* records submitted */
__u64 dropped = 0;     /* reservations refused: ring buffer full */
__u32 armed = 0;       /* on_syscall fires once when set */
__u32 target_tgid = 0;
__u64 user_sum = 0;    /* drain_user: sum of the values read */
__u64 user_records = 0;
__s64 user_drain_ret = 0;
unsigned char raw_buf[256];
/* The last event emitted. Also what puts struct event into the object's BTF: clang describes
 * the types of globals and function signatures, not those of local variables. */
struct event last_event;

static __always_inline void *reserve(void)
{
	if (target == 1)
		return bpf_ringbuf_reserve(&small_events, sizeof(struct event), 0);
	if (target == 2)
		return bpf_ringbuf_reserve(&other_events, sizeof(struct event), 0);
	return bpf_ringbuf_reserve(&events, sizeof(struct event), 0);
}

static long output_raw(__u32 size)
{
	if (target == 1)
		return bpf_ringbuf_output(&small_events, raw_buf, size, 0);
	if (target == 2)
		return bpf_ringbuf_output(&other_events, raw_buf, size, 0);
	return bpf_ringbuf_output(&events, raw_buf, size, 0);
}

static int emit_one(__u32 index, void *ctx)
{
	__u64 seq = first_seq;
	__u32 size = raw_size;
	struct event *e;

	(void)index;
	(void)ctx;
	if (size) {
		if (size > sizeof(raw_buf))
			size = sizeof(raw_buf);
		__builtin_memcpy(raw_buf, &seq, sizeof(seq));
		if (output_raw(size) < 0) {
			dropped++;
			return 0;
		}
	} else {
		e = reserve();
		if (!e) {
			dropped++;
			return 0;
		}
		e->seq = seq;
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->neg = -(__s32)seq;
		e->half = (__u16)(seq * 3);
		e->byte = (__u8)seq;
		e->odd = seq & 1;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		e->big = (1ULL << 60) + seq;
		e->pair[0] = (__u32)seq;
		e->pair[1] = (__u32)seq + 1;
		last_event = *e;
		bpf_ringbuf_submit(e, 0);
	}
	first_seq = seq + 1;
	produced++;
	return 0;
}

SEC("syscall")
int emit(void *ctx)
{
	(void)ctx;
	return bpf_loop(count, emit_one, (void *)0, 0);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int on_syscall(void *ctx)
{
	(void)ctx;
	if (!armed || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	armed = 0;
	bpf_loop(count, emit_one, (void *)0, 0);
	return 0;
}

static long read_user_record(struct bpf_dynptr *dynptr, void *ctx)
{
	__u64 value = 0;

	(void)ctx;
	if (bpf_dynptr_read(&value, sizeof(value), dynptr, 0, 0) == 0) {
		user_sum += value;
		user_records++;
	}
	return 0;
}

SEC("syscall")
int drain_user(void *ctx)
{
	(void)ctx;
	user_drain_ret = bpf_user_ringbuf_drain(&to_kernel, read_user_record, (void *)0, 0);
	return 0;
}

BPF_LICENSE("GPL");
