/* Where extern values come from: adapts kconfig.c and ksym.c to what extern.c needs. */
#include <errno.h>
#include <string.h>

#include "error.h"
#include "internal.h"
#include "kconfig.h"
#include "ksym.h"

int lbpf_kconfig_fill(const lbpf_btf *btf, const struct lbpf_extern *ext, void *dst);
int lbpf_ksym_address(const char *name, uint64_t *addr);

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

int lbpf_ksym_address(const char *name, uint64_t *addr)
{
	int ret;

	if (!ksyms_cache && (ret = lbpf_ksyms_load(&ksyms_cache)) < 0)
		return ret;
	return lbpf_ksyms_lookup(ksyms_cache, name, addr);
}
