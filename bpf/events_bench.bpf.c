/*
 * Producer for bench/ringbuf_*: fill16 / fill256 (`syscall` programs run with test_run) write
 * `count` records of 16 / 256 bytes into the 64 MiB ring buffer `bench_rb` with bpf_loop.
 * Each record starts with its sequence number so consumers can check order; a 256-byte record
 * also carries a comm and 28 words seq + k.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

struct rec16 {
	__u64 seq;
	__u32 pid;
	__u32 value;
};

struct rec256 {
	__u64 seq;
	__u32 pid;
	__u32 value;
	char comm[16];
	__u64 words[28];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 26);
} bench_rb SEC(".maps");

__u32 count = 0;
__u64 seq = 0;
__u64 dropped = 0;
/* Globals of the record types put them into the object's BTF for decoded readers. */
struct rec16 last16;
struct rec256 last256;

static int put16(__u32 i, void *ctx)
{
	struct rec16 *r = bpf_ringbuf_reserve(&bench_rb, sizeof(*r), 0);

	(void)ctx;
	if (!r) {
		dropped++;
		return 1;
	}
	r->seq = seq++;
	r->pid = 1;
	r->value = i;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

static int put256(__u32 i, void *ctx)
{
	struct rec256 *r = bpf_ringbuf_reserve(&bench_rb, sizeof(*r), 0);

	(void)ctx;
	if (!r) {
		dropped++;
		return 1;
	}
	r->seq = seq++;
	r->pid = 1;
	r->value = i;
	r->comm[0] = 'x';
	r->comm[1] = 0;
	/* Every word set (and different per record): decoders see real, changing values, not
	 * whatever an earlier record left in the ring. */
	for (int k = 0; k < 28; k++)
		r->words[k] = r->seq + k;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("syscall")
int fill16(void *ctx)
{
	(void)ctx;
	return bpf_loop(count, put16, (void *)0, 0);
}

SEC("syscall")
int fill256(void *ctx)
{
	(void)ctx;
	return bpf_loop(count, put256, (void *)0, 0);
}

BPF_LICENSE("GPL");
