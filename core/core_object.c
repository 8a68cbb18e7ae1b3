/* Applies an object's CO-RE relocations (.BTF.ext core_relo) to its code sections, against the
 * running kernel's BTF or the one opts.btf_path names. */
#include <errno.h>

#include "btf_internal.h"
#include "core_reloc.h"
#include "error.h"
#include "internal.h"

int lbpf_core_relocate_object(lbpf_object *obj);
int lbpf_object_target_btf(lbpf_object *obj, const lbpf_btf **out); /* object.c */

static int relocate_code(lbpf_object *obj, struct lbpf_core_cand_cache *cache,
			 const lbpf_btf *const *targets, size_t ntargets, struct lbpf_code *code)
{
	const struct lbpf_btf_ext *ext = obj->btf_ext;
	const struct lbpf_btf_ext_sec *sec = lbpf_btf_ext_find(&ext->core_relo, code->name);

	for (uint32_t i = 0; sec && i < sec->count; i++) {
		const struct bpf_core_relo *rec =
			(const void *)((const char *)sec->recs + (size_t)i * sec->rec_size);
		const char *func = lbpf_func_name_at(obj, (size_t)(code - obj->code),
						     rec->insn_off / LBPF_INSN_SIZE);
		int ret = lbpf_core_apply(cache, obj->btf, targets, ntargets, rec, code->insns,
					  code->insn_cnt, func);
		if (ret)
			return ret;
	}
	return 0;
}

#define LBPF_CORE_MAX_TARGETS 1024

/* vmlinux (or opts.btf), then, for the running kernel, its modules' split BTF. */
static int core_targets(lbpf_object *obj, const lbpf_btf **targets, size_t *n)
{
	const lbpf_btf *const *mods;
	size_t nmods = 0;
	int ret = lbpf_object_target_btf(obj, &targets[0]);

	*n = 1;
	if (ret || obj->btf_path)
		return ret;
	if (lbpf_btf_kernel_modules(&mods, &nmods))
		return 0; /* vmlinux alone still relocates everything that is not a module's */
	for (size_t i = 0; i < nmods && *n < LBPF_CORE_MAX_TARGETS; i++)
		targets[(*n)++] = mods[i];
	return 0;
}

int lbpf_core_relocate_object(lbpf_object *obj)
{
	const struct lbpf_btf_ext *ext = obj->btf_ext;
	struct lbpf_core_cand_cache *cache;
	const lbpf_btf *targets[LBPF_CORE_MAX_TARGETS];
	size_t ntargets;
	int ret;

	if (!ext || !ext->core_relo.count)
		return 0;
	ret = core_targets(obj, targets, &ntargets);
	if (ret)
		return lbpf_err_prefix(ret, "CO-RE needs the target BTF: ");
	/* The cache outlives relocation: it explains verifier refusals of poisoned instructions. */
	cache = obj->core_cache = lbpf_core_cache_new();
	if (!cache)
		return lbpf_err(ENOMEM, "out of memory");
	for (size_t i = 0; !ret && i < obj->ncode; i++)
		ret = relocate_code(obj, cache, targets, ntargets, &obj->code[i]);
	return ret;
}
