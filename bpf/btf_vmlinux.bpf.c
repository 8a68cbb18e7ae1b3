/* Compiles against the generated vmlinux.h: proves the header is valid C for clang -target bpf,
 * with CO-RE (preserve_access_index) field accesses into kernel structs. */
#include "vmlinux.h"
#include "bpf_helpers.h"

int seen_pid;
int seen_tgid;

SEC("raw_tp/sys_enter")
int read_task(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	int pid = 0, tgid = 0;
	bpf_probe_read_kernel(&pid, sizeof(pid), &task->pid);
	bpf_probe_read_kernel(&tgid, sizeof(tgid), &task->tgid);
	seen_pid = pid;
	seen_tgid = tgid;
	return 0;
}

BPF_LICENSE("GPL");
