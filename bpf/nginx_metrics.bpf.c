/*
 * Live kernel data for the nginx example (examples/nginx/): loaded and attached once by the
 * nginx master in init_by_lua, read by every worker through the inherited map descriptors.
 *
 *   count_syscalls  raw_syscalls/sys_enter  per-process syscall counter (tgid -> calls, comm)
 *   count_rx        net/netif_receive_skb   packets and bytes received per device
 *   count_tx        net/net_dev_xmit        packets and bytes sent per device
 *   on_exec         sched/sched_process_exec one record per exec into the `events` ring buffer
 *
 * Tracepoint records are described by /sys/kernel/tracing/events/CAT/NAME/format; the structs
 * below copy the fields used (the first 8 bytes are the common header).
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

#define TASK_COMM_LEN 16
#define DEV_NAME_LEN 16
#define FILENAME_LEN 128

struct proc_stat {
	__u64 calls;
	char comm[TASK_COMM_LEN]; /* when first seen: the process may be gone when Lua reads it */
};

struct dev_key {
	char name[DEV_NAME_LEN];
	__u32 tx; /* 0: received, 1: sent */
};

struct dev_stat {
	__u64 packets;
	__u64 bytes;
};

struct exec_event {
	__u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;
	__u32 old_pid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid */
	__type(value, struct proc_stat);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct dev_key);
	__type(value, struct dev_stat);
} packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} events SEC(".maps");

/* Records are only built through a pointer from bpf_ringbuf_reserve: this global puts the record
 * type into the object's BTF, so Lua can decode them with reader{ type = "struct exec_event" }. */
struct exec_event *exec_event_type __attribute__((unused));

/* Ring buffer full: the consumer is behind (exported as a counter). */
__u64 events_dropped = 0;

struct sys_enter_record {
	__u64 common;
	long id;
	unsigned long args[6];
};

/* __data_loc fields: low 16 bits offset from the record start, high 16 bits length. */
struct netif_receive_skb_record {
	__u64 common;
	void *skbaddr;
	unsigned int len;
	__u32 name_loc;
};

struct net_dev_xmit_record {
	__u64 common;
	void *skbaddr;
	unsigned int len;
	int rc;
	__u32 name_loc;
};

struct sched_process_exec_record {
	__u64 common;
	__u32 filename_loc;
	int pid;
	int old_pid;
};

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(struct sys_enter_record *rec)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct proc_stat *s = bpf_map_lookup_elem(&syscalls, &tgid);

	(void)rec;
	if (!s) {
		struct proc_stat fresh = {};

		bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
		bpf_map_update_elem(&syscalls, &tgid, &fresh, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&syscalls, &tgid);
		if (!s)
			return 0;
	}
	__sync_fetch_and_add(&s->calls, 1);
	return 0;
}

static __always_inline void count_packet(void *rec, __u32 name_loc, unsigned int len, __u32 tx)
{
	struct dev_key key = {};
	struct dev_stat *s;

	bpf_probe_read_kernel_str(key.name, sizeof(key.name), (char *)rec + (name_loc & 0xffff));
	key.tx = tx;
	s = bpf_map_lookup_elem(&packets, &key);
	if (!s) {
		struct dev_stat zero = {};

		bpf_map_update_elem(&packets, &key, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&packets, &key);
		if (!s)
			return;
	}
	__sync_fetch_and_add(&s->packets, 1);
	__sync_fetch_and_add(&s->bytes, len);
}

SEC("tracepoint/net/netif_receive_skb")
int count_rx(struct netif_receive_skb_record *rec)
{
	count_packet(rec, rec->name_loc, rec->len, 0);
	return 0;
}

SEC("tracepoint/net/net_dev_xmit")
int count_tx(struct net_dev_xmit_record *rec)
{
	if (rec->rc == 0)
		count_packet(rec, rec->name_loc, rec->len, 1);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct sched_process_exec_record *rec)
{
	struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&events_dropped, 1);
		return 0;
	}
	e->time_ns = bpf_ktime_get_ns();
	e->pid = rec->pid;
	e->old_pid = rec->old_pid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
				  (char *)rec + (rec->filename_loc & 0xffff));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

BPF_LICENSE("GPL");
