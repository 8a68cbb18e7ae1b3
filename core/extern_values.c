/* Where extern values come from: adapts kconfig.c and ksym.c to what extern.c needs, and
 * computes the LINUX_* values that come from no config file (probed as libbpf probes them). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"
#include "internal.h"
#include "kconfig.h"
#include "ksym.h"

int lbpf_kconfig_fill(const lbpf_btf *btf, const struct lbpf_extern *ext, void *dst);
int lbpf_ksym_address(const char *name, uint64_t *addr);
int lbpf_kconfig_virtual(const char *name, uint64_t *value);

/* The kernel's config and symbol table do not change under a running process (modules aside):
 * read each once, on first need. Not freed: one allocation per process, like a cache. */
static struct lbpf_kconfig *kconfig_cache;
static struct lbpf_ksyms *ksyms_cache;

int lbpf_kconfig_fill(const lbpf_btf *btf, const struct lbpf_extern *ext, void *dst)
{
	const struct btf_type *var = lbpf_btf_type(btf, ext->btf_id);
	const char *raw;
	int ret;

	if (!kconfig_cache && (ret = lbpf_kconfig_load(&kconfig_cache)) < 0)
		return ext->weak ? -ENOENT : ret;
	raw = lbpf_kconfig_get(kconfig_cache, ext->name);
	if (!raw)
		return lbpf_err(ENOENT, "kconfig extern '%s' is not set in the kernel config",
				ext->name);
	if (!var)
		return lbpf_err(EINVAL, "kconfig extern '%s' has no BTF type", ext->name);
	return lbpf_kconfig_store(btf, var->type, ext->name, raw, dst, ext->size);
}

/* ---- LINUX_* values ------------------------------------------------------------------------ */

/* The prefix of syscall entry points on this architecture (__x64_sys_bpf), NULL when the kernel
 * has no wrappers there. */
static const char *syscall_prefix(void)
{
#if defined(__x86_64__)
	return "x64";
#elif defined(__i386__)
	return "ia32";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv)
	return "riscv";
#elif defined(__powerpc64__)
	return "powerpc64";
#elif defined(__powerpc__)
	return "powerpc";
#else
	return NULL;
#endif
}

/* Whether a kprobe on __<arch>_sys_bpf can be created, which is what tells BPF_KSYSCALL
 * programs that the arguments sit behind a pt_regs pointer. Without a kprobe PMU, libbpf adds
 * and removes a legacy kprobe_events entry; the same answer comes without touching tracefs:
 * kprobe_events exists and kallsyms has the function. */
static bool has_syscall_wrapper(void)
{
	const char *pfx = syscall_prefix();
	char name[64];
	uint64_t addr;
	int pfd;

	if (!pfx)
		return false;
	snprintf(name, sizeof(name), "__%s_sys_bpf", pfx);
	pfd = attach_probe_pmu_open("kprobe", false, name, 0, getpid(), 0);
	if (pfd >= 0) {
		close(pfd);
		return true;
	}
	if (pfd != -ENODEV)
		return false;
	if (access("/sys/kernel/tracing/kprobe_events", F_OK) != 0 &&
	    access("/sys/kernel/debug/tracing/kprobe_events", F_OK) != 0)
		return false;
	return lbpf_ksym_address(name, &addr) == 0;
}

/* LINUX_HAS_BPF_COOKIE: a kprobe program may call bpf_get_attach_cookie (libbpf's probe). */
static bool has_bpf_cookie(void)
{
	return lbpf_probe_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_get_attach_cookie) == 1;
}

/* Values libbpf provides itself; -ENOENT for a LINUX_* name it does not know (a __weak extern
 * then reads zero). LINUX_KERNEL_VERSION is the object's, set by extern.c. */
int lbpf_kconfig_virtual(const char *name, uint64_t *value)
{
	static int cookie = -1, wrapper = -1; /* probed once per process */

	if (!strcmp(name, "LINUX_HAS_BPF_COOKIE")) {
		if (cookie < 0)
			cookie = has_bpf_cookie();
		*value = (uint64_t)cookie;
		return 0;
	}
	if (!strcmp(name, "LINUX_HAS_SYSCALL_WRAPPER")) {
		if (wrapper < 0)
			wrapper = has_syscall_wrapper();
		*value = (uint64_t)wrapper;
		return 0;
	}
	return -ENOENT;
}

int lbpf_ksym_address(const char *name, uint64_t *addr)
{
	int ret;

	if (!ksyms_cache && (ret = lbpf_ksyms_load(&ksyms_cache)) < 0)
		return ret;
	return lbpf_ksyms_lookup(ksyms_cache, name, addr);
}
