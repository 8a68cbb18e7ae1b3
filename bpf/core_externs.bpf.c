/*
 * .kconfig and __ksym externs (spec/core_spec.lua): the loader fills the kernel version, config
 * options of each kind (bool, tristate, int, string, an absent __weak one) and a kallsyms
 * address; the syscall program copies them to globals the spec compares with /proc.
 */
#include <linux/bpf.h>
#include "bpf_helpers.h"

enum libbpf_tristate { TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2 };

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF __kconfig;
extern enum libbpf_tristate CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig;
extern char CONFIG_LOCALVERSION[32] __kconfig;
extern int CONFIG_LBPF_NO_SUCH_OPTION __kconfig __weak;
extern const void bpf_prog_put __ksym;

__u64 kernel_version = 0, config_bpf = 0, config_bpf_syscall = 0, hz = 0, absent = 99;
__u64 prog_put_addr = 0;
char localversion[32] = {};

SEC("syscall")
int read_externs(void *ctx)
{
	kernel_version = LINUX_KERNEL_VERSION;
	config_bpf = CONFIG_BPF;
	config_bpf_syscall = CONFIG_BPF_SYSCALL;
	hz = CONFIG_HZ;
	absent = CONFIG_LBPF_NO_SUCH_OPTION;
	__builtin_memcpy(localversion, CONFIG_LOCALVERSION, sizeof(localversion));
	prog_put_addr = (__u64)&bpf_prog_put;
	return 0;
}

char _license[] SEC("license") = "GPL";
