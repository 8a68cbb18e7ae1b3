/* Externs: `extern ... __kconfig` values (a read-only .kconfig map the loader fills) and
 * `extern ... __ksym` kernel symbols (typed: BTF ids; typeless: kallsyms addresses; functions:
 * kfunc BTF ids). __weak externs that the kernel lacks resolve to zero. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "btf_internal.h"
#include "error.h"
#include "internal.h"
#include "ksym.h"

#define LBPF_PSEUDO_BTF_ID 3
#define LBPF_PSEUDO_KFUNC_CALL 2

int lbpf_extern_apply(lbpf_object *obj, const struct lbpf_extern *ext, struct bpf_insn *insn);
int lbpf_resolve_externs(lbpf_object *obj, const lbpf_btf *vmlinux);
/* kconfig.c / ksym.c */
int lbpf_kconfig_fill(const lbpf_btf *btf, const struct lbpf_extern *ext, void *dst);
int lbpf_ksym_address(const char *name, uint64_t *addr);
int lbpf_kconfig_virtual(const char *name, uint64_t *value);

/* The VAR or FUNC named name inside DATASEC sec of the object BTF (0 if none). */
static uint32_t datasec_entry(const lbpf_btf *btf, const char *sec, const char *name)
{
	int32_t id = lbpf_btf_find(btf, sec, BTF_KIND_DATASEC);
	const struct btf_type *ds;
	const struct btf_var_secinfo *vs;

	if (id <= 0)
		return 0;
	ds = lbpf_btf_type(btf, (uint32_t)id);
	vs = (const struct btf_var_secinfo *)(ds + 1);
	for (uint16_t i = 0; i < lbpf_btf_vlen(ds); i++)
		if (!strcmp(lbpf_btf_type_name(btf, vs[i].type), name))
			return vs[i].type;
	return 0;
}

static int add_extern(lbpf_object *obj, const GElf_Sym *sym, const char *name)
{
	uint32_t kc = datasec_entry(obj->btf, ".kconfig", name);
	uint32_t ks = kc ? 0 : datasec_entry(obj->btf, ".ksyms", name);
	struct lbpf_extern *ext;
	int align;

	if (!kc && !ks)
		return 0; /* not an extern we resolve: its relocation will say so */
	ext = lbpf_array_push((void **)&obj->externs, &obj->nexterns, sizeof(*ext));
	if (!ext)
		return lbpf_err(ENOMEM, "out of memory");
	ext->name = name;
	ext->kconfig = kc != 0;
	ext->btf_id = kc ? kc : ks;
	ext->weak = GELF_ST_BIND(sym->st_info) == STB_WEAK;
	ext->is_func = lbpf_btf_kind(lbpf_btf_type(obj->btf, ext->btf_id)) == BTF_KIND_FUNC;
	if (ext->kconfig) {
		int64_t size = lbpf_btf_type_size(obj->btf, lbpf_btf_type(obj->btf, kc)->type);

		if (size <= 0)
			return lbpf_err(EINVAL, "kconfig extern '%s' has no size", name);
		if (size > LBPF_MAX_DATA_SIZE)
			return lbpf_err(E2BIG, "kconfig extern '%s' claims %lld bytes", name,
					(long long)size);
		ext->size = (uint32_t)size;
		align = lbpf_btf_type_align(obj->btf, lbpf_btf_type(obj->btf, kc)->type);
		ext->align = align > 0 ? (uint32_t)align : 1;
	}
	return 0;
}

static int secinfo_by_offset(const void *pa, const void *pb)
{
	const struct btf_var_secinfo *a = pa, *b = pb;

	return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* The .kconfig DATASEC as the kernel accepts it: each VAR allocated at its place in the map
 * (as libbpf rewrites it), and the entries in offset order, which the kernel requires and
 * libbpf's layout order does not give (libbpf then loses the BTF; we keep it). */
static void fix_kconfig_datasec(lbpf_object *obj, uint32_t size)
{
	int32_t id = lbpf_btf_find(obj->btf, ".kconfig", BTF_KIND_DATASEC);
	struct btf_type *ds = id > 0 ? lbpf_btf_type_mut(obj->btf, (uint32_t)id) : NULL;
	struct btf_var_secinfo *vs;

	if (!ds)
		return;
	ds->size = size;
	vs = (struct btf_var_secinfo *)(ds + 1);
	for (uint16_t i = 0; i < lbpf_btf_vlen(ds); i++) {
		struct btf_type *var = lbpf_btf_type_mut(obj->btf, vs[i].type);

		for (size_t e = 0; e < obj->nexterns; e++) {
			if (!obj->externs[e].kconfig || obj->externs[e].btf_id != vs[i].type)
				continue;
			vs[i].offset = obj->externs[e].offset;
			vs[i].size = obj->externs[e].size;
		}
		if (var && lbpf_btf_kind(var) == BTF_KIND_VAR)
			((struct btf_var *)(var + 1))->linkage = BTF_VAR_GLOBAL_ALLOCATED;
	}
	qsort(vs, lbpf_btf_vlen(ds), sizeof(*vs), secinfo_by_offset);
}

/* Kconfig externs sorted as libbpf lays them out: alignment descending, then size, then name
 * (so offsets, and the instructions that use them, match what libbpf loads). */
static int kconfig_order(const void *pa, const void *pb)
{
	const struct lbpf_extern *a = *(const struct lbpf_extern *const *)pa;
	const struct lbpf_extern *b = *(const struct lbpf_extern *const *)pb;

	if (a->align != b->align)
		return a->align > b->align ? -1 : 1;
	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Lay the kconfig externs out in one read-only map, each at its type's alignment. */
static int add_kconfig_map(lbpf_object *obj)
{
	struct lbpf_extern **order = calloc(obj->nexterns ? obj->nexterns : 1, sizeof(*order));
	size_t n = 0;
	uint64_t off = 0; /* each size is at most LBPF_MAX_DATA_SIZE: no wrap in 64 bits */
	lbpf_map *map;

	if (!order)
		return lbpf_err(ENOMEM, "out of memory");
	for (size_t i = 0; i < obj->nexterns; i++)
		if (obj->externs[i].kconfig)
			order[n++] = &obj->externs[i];
	qsort(order, n, sizeof(*order), kconfig_order);
	for (size_t i = 0; i < n; i++) {
		uint32_t align = order[i]->align;

		off = (off + align - 1) & ~(uint64_t)(align - 1);
		if (off + order[i]->size > LBPF_MAX_DATA_SIZE) {
			int err = lbpf_err(E2BIG, "kconfig externs need more than %u bytes (at '%s')",
					   LBPF_MAX_DATA_SIZE, order[i]->name);
			free(order);
			return err;
		}
		order[i]->offset = (uint32_t)off;
		off += order[i]->size;
	}
	free(order);
	if (!off)
		return 0;
	fix_kconfig_datasec(obj, (uint32_t)off);
	map = lbpf_array_push((void **)&obj->maps, &obj->nmaps, sizeof(*map));
	if (!map || !(map->name = strdup(".kconfig")) || !(map->image = calloc(1, off)))
		return lbpf_err(ENOMEM, "out of memory");
	map->origin = LBPF_MAP_KCONFIG;
	map->fd = -1;
	map->values_off = -1;
	map->readonly = true;
	map->def.type = BPF_MAP_TYPE_ARRAY;
	map->def.key_size = 4;
	map->def.value_size = (uint32_t)off;
	map->def.max_entries = 1;
	map->def.map_flags = BPF_F_MMAPABLE | BPF_F_RDONLY_PROG;
	return 0;
}

int lbpf_collect_externs(lbpf_object *obj)
{
	if (!obj->btf)
		return 0;
	for (size_t i = 1; i < obj->elf.nsyms; i++) {
		GElf_Sym sym;
		const char *name;
		int ret;

		if (!lbpf_elf_sym(&obj->elf, i, &sym) || sym.st_shndx != SHN_UNDEF)
			continue;
		name = lbpf_elf_sym_name(&obj->elf, &sym);
		if (!name[0])
			continue;
		ret = add_extern(obj, &sym, name);
		if (ret)
			return ret;
	}
	return add_kconfig_map(obj);
}

static lbpf_map *kconfig_map(lbpf_object *obj)
{
	for (size_t i = 0; i < obj->nmaps; i++)
		if (obj->maps[i].origin == LBPF_MAP_KCONFIG)
			return &obj->maps[i];
	return NULL;
}

/* Typed ksyms and kfuncs: the kernel's BTF id, after checking the declared type matches. */
/* The fd_array slot of a module's BTF fd (opened once per object, closed with it): kfunc calls
 * name their module by that index in insn->off, as libbpf does (slot 0 stays unused). */
static int module_btf_slot(lbpf_object *obj, const char *module, int *fd, int *slot)
{
	int *grown_fds;
	char **grown_names;
	int new_fd;

	for (size_t i = 1; i < obj->fd_array_cnt; i++)
		if (!strcmp(obj->fd_array_names[i], module)) {
			*fd = obj->fd_array[i];
			*slot = (int)i;
			return 0;
		}
	if (obj->fd_array_cnt >= INT16_MAX)
		return lbpf_err(E2BIG, "too many module BTFs for one object");
	new_fd = lbpf_ksym_module_btf_fd(module);
	if (new_fd < 0)
		return new_fd;
	size_t n = obj->fd_array_cnt ? obj->fd_array_cnt + 1 : 2;
	grown_fds = realloc(obj->fd_array, n * sizeof(*grown_fds));
	if (grown_fds)
		obj->fd_array = grown_fds;
	grown_names = realloc(obj->fd_array_names, n * sizeof(*grown_names));
	if (grown_names)
		obj->fd_array_names = grown_names;
	if (!grown_fds || !grown_names || !(grown_names[n - 1] = strdup(module))) {
		close(new_fd);
		return lbpf_err(ENOMEM, "out of memory");
	}
	grown_fds[0] = 0;
	grown_names[0] = NULL;
	grown_fds[n - 1] = new_fd;
	obj->fd_array_cnt = n;
	*fd = new_fd;
	*slot = (int)(n - 1);
	return 0;
}

/* Typed ksyms and kfuncs: the kernel's BTF id, in vmlinux or else in a module's BTF (then its
 * BTF fd and fd_array slot too), after checking the declared type matches. */
static int resolve_typed_ksym(lbpf_object *obj, const lbpf_btf *vmlinux, struct lbpf_extern *e)
{
	const lbpf_btf *const *mods = NULL;
	const lbpf_btf *targets[256];
	size_t nmods = 0, n = 0, t;
	uint32_t id;
	int ret;

	if (!vmlinux)
		return 0;
	targets[n++] = vmlinux;
	if (lbpf_btf_kernel_modules(&mods, &nmods) == 0)
		for (size_t i = 0; i < nmods && n < sizeof(targets) / sizeof(*targets); i++)
			targets[n++] = mods[i];
	if (lbpf_ksym_find_btf(targets, n, e->name, e->is_func ? BTF_KIND_FUNC : BTF_KIND_VAR,
			       &t, &id))
		return 0;
	ret = e->is_func ? lbpf_ksym_check_func(obj->btf, e->btf_id, targets[t], id)
			 : lbpf_ksym_check_var(obj->btf, e->btf_id, targets[t], id);
	if (!ret && t > 0)
		ret = module_btf_slot(obj, lbpf_btf_kernel_module_name(t - 1), &e->btf_obj_fd,
				      &e->btf_fd_idx);
	if (ret)
		return ret;
	e->value = id;
	e->resolved = true;
	return 0;
}

static int resolve_ksym(lbpf_object *obj, const lbpf_btf *vmlinux, struct lbpf_extern *e,
			uint32_t var_type)
{
	if (e->is_func || var_type) {
		int ret = resolve_typed_ksym(obj, vmlinux, e);

		if (ret)
			return ret;
	} else if (lbpf_ksym_address(e->name, &e->value) == 0) {
		e->resolved = true;
	}
	if (!e->resolved && !e->weak)
		return lbpf_err(ENOENT, "extern '%s' (__ksym%s) not found in the kernel%s", e->name,
				e->is_func ? " function" : "",
				e->is_func || var_type ? " BTF (vmlinux nor any loaded module's)" : "");
	lbpf_err_clear();
	return 0;
}

/* A number into a kconfig extern of an integer, char or bool type (LINUX_* values). */
static int store_number(const lbpf_object *obj, const struct lbpf_extern *e, uint64_t value,
			void *dst)
{
	const struct btf_type *t = lbpf_btf_type(obj->btf, lbpf_btf_resolve(obj->btf,
				   lbpf_btf_type(obj->btf, e->btf_id)->type));

	if (!t || (lbpf_btf_kind(t) != BTF_KIND_INT && lbpf_btf_kind(t) != BTF_KIND_ENUM) ||
	    (e->size != 1 && e->size != 2 && e->size != 4 && e->size != 8))
		return lbpf_err(EINVAL, "kconfig extern '%s' must be an integer or a bool", e->name);
	if (e->size < 8 && value >> (e->size * 8))
		return lbpf_err(ERANGE, "kconfig extern '%s': value %llu does not fit %u bytes",
				e->name, (unsigned long long)value, e->size);
	memcpy(dst, &value, e->size); /* little endian: the low bytes first */
	return 0;
}

/* LINUX_* externs come from the loader, not the config: the kernel version, and what libbpf
 * probes itself (LINUX_HAS_BPF_COOKIE, LINUX_HAS_SYSCALL_WRAPPER). An unknown one reads zero
 * when __weak, and is an error otherwise (libbpf's rule). */
static int resolve_virtual(lbpf_object *obj, struct lbpf_extern *e, void *dst)
{
	uint64_t value;
	int ret = 0;

	if (!strcmp(e->name, "LINUX_KERNEL_VERSION"))
		value = obj->kversion;
	else if ((ret = lbpf_kconfig_virtual(e->name, &value)) == -ENOENT && e->weak)
		value = 0;
	else if (ret)
		return lbpf_err(EINVAL, "kconfig extern '%s': no such value (the loader provides "
				"LINUX_KERNEL_VERSION, LINUX_HAS_BPF_COOKIE and "
				"LINUX_HAS_SYSCALL_WRAPPER; declare others __weak)", e->name);
	return store_number(obj, e, value, dst);
}

int lbpf_resolve_externs(lbpf_object *obj, const lbpf_btf *vmlinux)
{
	lbpf_map *kc = kconfig_map(obj);

	for (size_t i = 0; i < obj->nexterns; i++) {
		struct lbpf_extern *e = &obj->externs[i];
		const struct btf_type *t = lbpf_btf_type(obj->btf, e->btf_id);
		int ret;

		if (e->kconfig && !kc)
			return lbpf_err(EINVAL, "kconfig extern '%s' has no .kconfig map", e->name);
		if (e->kconfig && !strncmp(e->name, "LINUX_", 6)) {
			ret = resolve_virtual(obj, e, (char *)kc->image + e->offset);
			if (ret)
				return ret;
			e->resolved = true;
			continue;
		}
		if (e->kconfig) {
			ret = lbpf_kconfig_fill(obj->btf, e, (char *)kc->image + e->offset);
			if (ret == -ENOENT && e->weak)
				ret = 0; /* absent options of a __weak extern read as zero */
			if (ret)
				return ret;
			e->resolved = true;
			continue;
		}
		ret = resolve_ksym(obj, vmlinux, e, e->is_func ? 0 : lbpf_btf_resolve(obj->btf, t->type));
		if (ret)
			return ret;
	}
	return 0;
}

int lbpf_extern_apply(lbpf_object *obj, const struct lbpf_extern *ext, struct bpf_insn *insn)
{
	if (ext->kconfig) {
		lbpf_map *kc = kconfig_map(obj);

		insn[0].src_reg = LBPF_PSEUDO_MAP_VALUE;
		insn[0].imm = kc->fd;
		insn[1].imm = (int32_t)(ext->offset + (uint32_t)insn[1].imm);
		return 0;
	}
	if (ext->is_func && insn->code == (BPF_LD | BPF_IMM | BPF_DW)) {
		/* A kfunc's address (bpf_ksym_exists): the kernel's BTF id, as a typed ksym; an
		 * absent __weak kfunc is a plain zero. */
		insn[0].src_reg = ext->resolved ? LBPF_PSEUDO_BTF_ID : 0;
		insn[0].imm = ext->resolved ? (int32_t)ext->value : 0;
		insn[1].imm = ext->resolved ? ext->btf_obj_fd : 0; /* BTF object fd: 0 is vmlinux */
		return 0;
	}
	if (ext->is_func) {
		insn->src_reg = LBPF_PSEUDO_KFUNC_CALL;
		insn->imm = ext->resolved ? (int32_t)ext->value : 0;
		insn->off = (int16_t)ext->btf_fd_idx; /* fd_array slot of a module's BTF, 0: vmlinux */
		return 0;
	}
	if (ext->resolved && lbpf_btf_resolve(obj->btf, lbpf_btf_type(obj->btf, ext->btf_id)->type)) {
		insn[0].src_reg = LBPF_PSEUDO_BTF_ID;
		insn[0].imm = (int32_t)ext->value;
		insn[1].imm = ext->btf_obj_fd; /* a module's BTF fd, 0: vmlinux */
		return 0;
	}
	/* A typeless ksym: its address, or zero for an absent weak one. */
	insn[0].src_reg = 0;
	insn[0].imm = (int32_t)(uint32_t)ext->value;
	insn[1].imm = (int32_t)(uint32_t)(ext->value >> 32);
	return 0;
}
