/* struct_ops: a kernel ops table (tcp_congestion_ops, ...) filled from a BPF object, following
 * libbpf's conventions. Each variable of a .struct_ops / .struct_ops.link section becomes a
 * BPF_MAP_TYPE_STRUCT_OPS map whose value is the kernel's bpf_struct_ops_<name>: its data
 * member gets the variable's plain members (matched by name, in the kernel's layout) and, for
 * each function pointer, the fd of the program it points to (relocations of the section).
 * Registering is an update of that value; .struct_ops.link maps then need a bpf_link (6.4+). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "btf_internal.h"
#include "error.h"
#include "internal.h"
#include "link.h"
#include "sys.h"

int lbpf_object_target_btf(lbpf_object *obj, const lbpf_btf **out); /* object.c */

#define ST_F_LINK (1u << 13)      /* BPF_F_LINK */
#define ST_ATTACH_STRUCT_OPS 44   /* BPF_STRUCT_OPS, newer than the 6.1 UAPI header */

struct lbpf_struct_ops {
	uint32_t local_type;      /* the variable's struct in the object BTF */
	const void *local_data;   /* its bytes in the ELF section */
	int *progs;               /* per local member: program index, or -1 */
	uint16_t nmembers;
	uint32_t kern_type, kern_value_type; /* in vmlinux: struct NAME, bpf_struct_ops_NAME */
	uint32_t data_off;        /* offset of the value's "data" member */
	uint32_t *kern_off;       /* per local member: byte offset in the kernel struct */
};

static bool is_struct_ops_section(const char *name, bool *link)
{
	*link = !strcmp(name, ".struct_ops.link");
	return *link || !strcmp(name, ".struct_ops");
}

static uint32_t member_byte_offset(const struct btf_type *t, const struct btf_member *m)
{
	return (lbpf_btf_kflag(t) ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset) / 8;
}

static lbpf_map *map_holding(lbpf_object *obj, size_t sec_idx, uint64_t off, uint16_t *member)
{
	for (size_t i = 0; i < obj->nmaps; i++) {
		lbpf_map *map = &obj->maps[i];
		const struct btf_type *t;
		const struct btf_member *m;

		if (map->origin != LBPF_MAP_STRUCT_OPS || map->sec_idx != sec_idx ||
		    off < map->sec_off || off >= map->sec_off + map->st_size)
			continue;
		t = lbpf_btf_type(obj->btf, map->st->local_type);
		m = (const struct btf_member *)(t + 1);
		for (uint16_t k = 0; k < lbpf_btf_vlen(t); k++)
			if (map->sec_off + member_byte_offset(t, &m[k]) == off) {
				*member = k;
				return map;
			}
	}
	return NULL;
}

static int add_struct_ops_map(lbpf_object *obj, size_t sec_idx, bool link, const char *name,
			      uint32_t var_type)
{
	const struct lbpf_elf_sec *sec = &obj->elf.secs[sec_idx];
	uint32_t type = lbpf_btf_resolve(obj->btf, var_type);
	const struct btf_type *t = lbpf_btf_type(obj->btf, type);
	GElf_Sym sym;
	lbpf_map *map;

	if (!t || lbpf_btf_kind(t) != BTF_KIND_STRUCT)
		return lbpf_err(EINVAL, "struct_ops '%s' in %s is not a struct", name, sec->name);
	if (lbpf_elf_find_sym(&obj->elf, name, (int)sec_idx, -1, &sym) < 0 ||
	    sym.st_value + t->size > sec->size || !sec->data)
		return lbpf_err(EINVAL, "struct_ops '%s': no symbol for it in %s", name, sec->name);
	map = lbpf_array_push((void **)&obj->maps, &obj->nmaps, sizeof(*map));
	if (!map || !(map->name = strdup(name)) || !(map->st = calloc(1, sizeof(*map->st))) ||
	    !(map->st->progs = malloc(sizeof(int) * (lbpf_btf_vlen(t) + 1u))) ||
	    !(map->st->kern_off = calloc(lbpf_btf_vlen(t) + 1u, sizeof(uint32_t))))
		return lbpf_err(ENOMEM, "out of memory");
	map->obj = obj;
	map->btf = obj->btf;
	map->origin = LBPF_MAP_STRUCT_OPS;
	map->sec_idx = sec_idx;
	map->sec_off = (uint32_t)sym.st_value;
	map->st_size = t->size;
	map->values_off = -1;
	map->fd = -1;
	map->def.type = BPF_MAP_TYPE_STRUCT_OPS;
	map->def.key_size = 4;
	map->def.max_entries = 1;
	map->def.map_flags = link ? ST_F_LINK : 0;
	map->st->local_type = type;
	map->st->local_data = (const char *)sec->data + sym.st_value;
	map->st->nmembers = lbpf_btf_vlen(t);
	for (uint16_t k = 0; k < map->st->nmembers; k++)
		map->st->progs[k] = -1;
	return 0;
}

/* Each function pointer initialised in the section names its program by relocation. */
static int collect_struct_ops_progs(lbpf_object *obj, size_t sec_idx)
{
	for (size_t i = 1; i < obj->elf.nsecs; i++) {
		const struct lbpf_elf_sec *rsec = &obj->elf.secs[i];

		if (rsec->shdr.sh_type != SHT_REL || rsec->shdr.sh_info != sec_idx || !rsec->data)
			continue;
		for (size_t r = 0; r < rsec->size / sizeof(Elf64_Rel); r++) {
			const char *name;
			uint16_t member;
			lbpf_map *map;
			GElf_Rel rel;
			GElf_Sym sym;
			size_t p;

			memcpy(&rel, (const char *)rsec->data + r * sizeof(Elf64_Rel), sizeof(rel));
			if (!lbpf_elf_sym(&obj->elf, GELF_R_SYM(rel.r_info), &sym))
				return lbpf_err(EINVAL, "struct_ops relocation names a missing symbol");
			name = lbpf_elf_sym_name(&obj->elf, &sym);
			map = map_holding(obj, sec_idx, rel.r_offset, &member);
			if (!map)
				return lbpf_err(EINVAL, "struct_ops relocation against '%s' at offset %llu "
						"is not a member of a struct_ops variable", name,
						(unsigned long long)rel.r_offset);
			for (p = 0; p < obj->nprogs && strcmp(obj->progs[p].name, name); p++)
				;
			if (p == obj->nprogs || obj->progs[p].type != BPF_PROG_TYPE_STRUCT_OPS)
				return lbpf_err(EINVAL, "struct_ops '%s' points to '%s', which is not a "
						"program in a struct_ops/ section", map->name, name);
			map->st->progs[member] = (int)p;
		}
	}
	return 0;
}

int lbpf_collect_struct_ops(lbpf_object *obj)
{
	for (size_t i = 1; i < obj->elf.nsecs; i++) {
		const struct lbpf_elf_sec *sec = &obj->elf.secs[i];
		const struct btf_var_secinfo *vs;
		const struct btf_type *ds;
		int32_t ds_id;
		bool link;
		int ret;

		if (!is_struct_ops_section(sec->name, &link))
			continue;
		if (!obj->btf || (ds_id = lbpf_btf_find(obj->btf, sec->name, BTF_KIND_DATASEC)) < 0)
			return lbpf_err(EINVAL, "section %s needs the object's BTF (compile with -g)",
					sec->name);
		ds = lbpf_btf_type(obj->btf, (uint32_t)ds_id);
		vs = (const struct btf_var_secinfo *)(ds + 1);
		for (uint16_t k = 0; k < lbpf_btf_vlen(ds); k++) {
			const struct btf_type *var = lbpf_btf_type(obj->btf, vs[k].type);

			if (!var || lbpf_btf_kind(var) != BTF_KIND_VAR)
				continue;
			ret = add_struct_ops_map(obj, i, link, lbpf_btf_str(obj->btf, var->name_off),
						 var->type);
			if (ret)
				return ret;
		}
		if ((ret = collect_struct_ops_progs(obj, i)))
			return ret;
	}
	return 0;
}

/* ---- load: the kernel's types, the programs' attach points, the value ---------------------- */

static int find_member(const lbpf_btf *btf, uint32_t type, const char *name, uint32_t *index,
		       uint32_t *offset)
{
	const struct btf_type *t = lbpf_btf_type(btf, type);
	const struct btf_member *m = (const struct btf_member *)(t + 1);

	for (uint16_t k = 0; k < lbpf_btf_vlen(t); k++)
		if (!strcmp(lbpf_btf_str(btf, m[k].name_off), name)) {
			*index = k;
			*offset = member_byte_offset(t, &m[k]);
			return 0;
		}
	return -ENOENT;
}

static bool is_func_ptr(const lbpf_btf *btf, uint32_t type)
{
	const struct btf_type *t = lbpf_btf_type(btf, lbpf_btf_resolve(btf, type));

	if (!t || lbpf_btf_kind(t) != BTF_KIND_PTR)
		return false;
	t = lbpf_btf_type(btf, lbpf_btf_resolve(btf, t->type));
	return t && lbpf_btf_kind(t) == BTF_KIND_FUNC_PROTO;
}

/* Places one local member in the kernel's struct: plain data is copied, a program gets its
 * attach point (the kernel struct's type id and the member's index). */
static int place_member(lbpf_object *obj, lbpf_map *map, const lbpf_btf *vmlinux, uint16_t k)
{
	struct lbpf_struct_ops *st = map->st;
	const struct btf_type *t = lbpf_btf_type(obj->btf, st->local_type);
	const struct btf_member *m = (const struct btf_member *)(t + 1) + k;
	const char *name = lbpf_btf_str(obj->btf, m->name_off);
	const struct btf_type *kt = lbpf_btf_type(vmlinux, st->kern_type);
	uint32_t kidx, koff, loff = member_byte_offset(t, m);
	int64_t lsize = lbpf_btf_type_size(obj->btf, m->type), ksize;
	const char *bytes = (const char *)st->local_data + loff;
	bool set = false;

	if (find_member(vmlinux, st->kern_type, name, &kidx, &koff) < 0) {
		for (int64_t b = 0; b < lsize && !set; b++)
			set = bytes[b] != 0;
		if (!set && st->progs[k] < 0)
			return 0; /* declared but unused: fine, as libbpf */
		return lbpf_err(EINVAL, "struct_ops '%s': the kernel's struct %s has no member '%s'",
				map->name, lbpf_btf_str(vmlinux, kt->name_off), name);
	}
	st->kern_off[k] = koff;
	if (st->progs[k] >= 0) {
		lbpf_program *prog = &obj->progs[st->progs[k]];

		if (!is_func_ptr(vmlinux, ((const struct btf_member *)(kt + 1))[kidx].type))
			return lbpf_err(EINVAL, "struct_ops '%s': member '%s' is not a function pointer "
					"in the kernel", map->name, name);
		prog->attach_btf_id = st->kern_type;
		prog->expected_attach_type = (enum bpf_attach_type)kidx;
		return 0;
	}
	if (is_func_ptr(obj->btf, m->type))
		return 0; /* a NULL function pointer: the kernel's default */
	ksize = lbpf_btf_type_size(vmlinux, ((const struct btf_member *)(kt + 1))[kidx].type);
	if (ksize != lsize)
		return lbpf_err(EINVAL, "struct_ops '%s': member '%s' is %lld bytes here, %lld in the "
				"kernel", map->name, name, (long long)lsize, (long long)ksize);
	memcpy((char *)map->image + st->data_off + koff, bytes, (size_t)lsize);
	return 0;
}

static int prepare_map(lbpf_object *obj, lbpf_map *map, const lbpf_btf *vmlinux)
{
	struct lbpf_struct_ops *st = map->st;
	const char *tname = lbpf_btf_type_name(obj->btf, st->local_type);
	char vname[160];
	int32_t kt, vt;
	uint32_t idx;
	int64_t size;
	int ret;

	snprintf(vname, sizeof(vname), "bpf_struct_ops_%s", tname);
	kt = lbpf_btf_find(vmlinux, tname, BTF_KIND_STRUCT);
	vt = lbpf_btf_find(vmlinux, vname, BTF_KIND_STRUCT);
	if (kt < 0 || vt < 0)
		return lbpf_err(EOPNOTSUPP, "struct_ops '%s': this kernel has no struct_ops type for "
				"struct %s (no %s in its BTF)", map->name, tname, vname);
	st->kern_type = (uint32_t)kt;
	st->kern_value_type = (uint32_t)vt;
	if (find_member(vmlinux, (uint32_t)vt, "data", &idx, &st->data_off) < 0)
		return lbpf_err(EINVAL, "struct_ops '%s': %s has no data member", map->name, vname);
	size = lbpf_btf_type_size(vmlinux, (uint32_t)vt);
	if (size <= 0)
		return lbpf_err(EINVAL, "struct_ops '%s': %s has no size", map->name, vname);
	map->def.value_size = (uint32_t)size;
	free(map->image);
	if (!(map->image = calloc(1, (size_t)size)))
		return lbpf_err(ENOMEM, "out of memory");
	for (uint16_t k = 0; k < st->nmembers; k++)
		if ((ret = place_member(obj, map, vmlinux, k)))
			return ret;
	return 0;
}

int lbpf_struct_ops_prepare(lbpf_object *obj)
{
	const lbpf_btf *vmlinux = NULL;
	int ret;

	for (size_t i = 0; i < obj->nmaps; i++) {
		if (obj->maps[i].origin != LBPF_MAP_STRUCT_OPS)
			continue;
		if (!vmlinux && (ret = lbpf_object_target_btf(obj, &vmlinux)))
			return lbpf_err_prefix(ret, "struct_ops '%s' needs the kernel's BTF: ",
					       obj->maps[i].name);
		if ((ret = prepare_map(obj, &obj->maps[i], vmlinux)))
			return ret;
	}
	return 0;
}

/* After the programs load: their fds go into the function pointer members. */
int lbpf_struct_ops_fill(lbpf_object *obj)
{
	for (size_t i = 0; i < obj->nmaps; i++) {
		lbpf_map *map = &obj->maps[i];

		if (map->origin != LBPF_MAP_STRUCT_OPS)
			continue;
		for (uint16_t k = 0; k < map->st->nmembers; k++) {
			const lbpf_program *prog;
			uint64_t fd;

			if (map->st->progs[k] < 0)
				continue;
			prog = &obj->progs[map->st->progs[k]];
			if (prog->fd < 0)
				return lbpf_err(EINVAL, "struct_ops '%s': program '%s' is not loaded (autoload "
						"off?)", map->name, prog->name);
			fd = (uint64_t)prog->fd;
			memcpy((char *)map->image + map->st->data_off + map->st->kern_off[k], &fd, 8);
		}
	}
	return 0;
}

uint32_t lbpf_struct_ops_value_type(const lbpf_map *map)
{
	return map->st ? map->st->kern_value_type : 0;
}

void lbpf_struct_ops_free(lbpf_map *map)
{
	if (!map->st)
		return;
	free(map->st->progs);
	free(map->st->kern_off);
	free(map->st);
	map->st = NULL;
}

/* ---- attach: register the ops ------------------------------------------------------------- */

static int delete_value(int map_fd)
{
	uint32_t zero = 0;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map_fd;
	attr.key = lbpf_ptr(&zero);
	return lbpf_sys_bpf(BPF_MAP_DELETE_ELEM, &attr, sizeof(attr));
}

static int unregister(lbpf_link *link)
{
	int ret = delete_value(link->aux_fd);

	close(link->aux_fd);
	link->aux_fd = -1;
	return ret;
}

int lbpf_map_attach_struct_ops(lbpf_map *map, lbpf_link **out)
{
	uint32_t zero = 0;
	int ret, fd;

	*out = NULL;
	if (map->origin != LBPF_MAP_STRUCT_OPS)
		return lbpf_err(EINVAL, "map '%s' is not a struct_ops map", map->name);
	if (map->fd < 0 || !map->image)
		return lbpf_err(EBADF, "struct_ops '%s' is not loaded: load its object first",
				map->name);
	ret = lbpf_map_update(map, &zero, map->image, BPF_ANY);
	if (ret < 0)
		return lbpf_err_prefix(ret, "registering struct_ops '%s': ", map->name);
	if (map->def.map_flags & ST_F_LINK) {
		fd = attach_link_create(map->fd, 0, ST_ATTACH_STRUCT_OPS, 0, NULL, 0);
		if (fd < 0)
			return lbpf_err(fd, "struct_ops '%s': creating its link: %s", map->name,
					strerror(-fd));
		*out = attach_bpf_link_new(fd, "struct_ops %s", map->name);
		return *out ? 0 : -ENOMEM;
	}
	/* Without a link, the registration lasts until the map's element is deleted. */
	fd = fcntl(map->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(*out = lbpf_link_new(-1, "struct_ops %s (map update)", map->name))) {
		if (fd >= 0)
			close(fd);
		delete_value(map->fd);
		return fd < 0 ? lbpf_err(errno, "duplicating a map fd: %s", strerror(errno)) : -ENOMEM;
	}
	(*out)->aux_fd = fd;
	(*out)->detach = unregister;
	return 0;
}
