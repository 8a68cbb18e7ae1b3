/* An fentry program: this kernel refuses BPF trampolines (load fails with EPERM); the spec
 * checks the message says so. */
#include <linux/bpf.h>
#include "bpf_helpers.h"

__u64 hits = 0;

SEC("fentry/do_nanosleep")
int on_nanosleep(void *ctx)
{
	hits++;
	return 0;
}

BPF_LICENSE("GPL");
