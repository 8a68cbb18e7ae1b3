/* Raw system calls; everything above talks to the kernel through these two functions. */
#include <errno.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys.h"

#define LBPF_SYS_RETRIES 5

int lbpf_sys_bpf(enum bpf_cmd cmd, union bpf_attr *attr, unsigned int size)
{
	long ret;
	int tries = 0;

	do {
		ret = syscall(__NR_bpf, cmd, attr, size);
		/* PROG_LOAD may fail with EAGAIN transiently when the verifier is interrupted. */
	} while (ret < 0 && (errno == EINTR || (errno == EAGAIN && cmd == BPF_PROG_LOAD)) &&
		 ++tries < LBPF_SYS_RETRIES);
	return ret < 0 ? -errno : (int)ret;
}

int lbpf_sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
			     unsigned long flags)
{
	long ret = syscall(__NR_perf_event_open, attr, pid, cpu, group_fd,
			   flags | PERF_FLAG_FD_CLOEXEC);

	return ret < 0 ? -errno : (int)ret;
}
