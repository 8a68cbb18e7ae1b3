/* The only place that enters the kernel through bpf(2) and perf_event_open(2). */
#ifndef LBPF_SYS_H
#define LBPF_SYS_H

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/types.h>

/* bpf(2). Returns the result (fd or 0) or -errno; retries on EINTR/EAGAIN where the kernel
 * asks for it. Does not record an error message: callers know what they were doing. */
int lbpf_sys_bpf(enum bpf_cmd cmd, union bpf_attr *attr, unsigned int size);
/* perf_event_open(2), close-on-exec. Returns fd or -errno. */
int lbpf_sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
			     unsigned long flags);
/* Pointer to the u64 that bpf_attr fields use. */
static inline __u64 lbpf_ptr(const void *p) { return (__u64)(unsigned long)p; }

#endif
