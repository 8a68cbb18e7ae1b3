/* Where extern values come from: adapts kconfig.c and ksym.c to what extern.c needs. */
#include <errno.h>

#include "error.h"
#include "internal.h"

int lbpf_kconfig_fill(const lbpf_btf *btf, const struct lbpf_extern *ext, void *dst);
int lbpf_ksym_address(const char *name, uint64_t *addr);

int lbpf_kconfig_fill(const lbpf_btf *btf, const struct lbpf_extern *ext, void *dst)
{
	(void)btf;
	(void)dst;
	return lbpf_err(ENOENT, "kconfig extern '%s': kernel configuration not available", ext->name);
}

int lbpf_ksym_address(const char *name, uint64_t *addr)
{
	(void)addr;
	return lbpf_err(ENOENT, "ksym '%s': kallsyms not available", name);
}
