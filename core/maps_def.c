/* Map definitions: BTF-defined maps in ".maps", legacy struct bpf_map_def in "maps", and the
 * global data sections (.data, .rodata, .bss, custom .data.* / .rodata.*) as array maps. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "error.h"
#include "internal.h"

static lbpf_map *new_map(lbpf_object *obj, const char *name, enum lbpf_map_origin origin,
			 size_t sec_idx)
{
	lbpf_map *map = lbpf_array_push((void **)&obj->maps, &obj->nmaps, sizeof(*map));

	if (!map)
		return NULL;
	map->name = strdup(name);
	if (!map->name) {
		obj->nmaps--;
		return NULL;
	}
	map->origin = origin;
	map->sec_idx = sec_idx;
	map->values_off = -1;
	map->fd = -1;
	map->btf = obj->btf;
	return map;
}

/* ---- BTF-defined maps ---------------------------------------------------------------------- */

/* __uint(name, N) is encoded as a pointer to an array of N elements. */
static int btf_uint_member(const lbpf_btf *btf, const struct btf_member *m, uint32_t *val)
{
	const struct btf_type *ptr = lbpf_btf_type(btf, m->type), *arr;

	if (!ptr || lbpf_btf_kind(ptr) != BTF_KIND_PTR)
		return -EINVAL;
	arr = lbpf_btf_type(btf, lbpf_btf_resolve(btf, ptr->type));
	if (!arr || lbpf_btf_kind(arr) != BTF_KIND_ARRAY)
		return -EINVAL;
	*val = ((const struct btf_array *)(arr + 1))->nelems;
	return 0;
}

/* __type(name, T) is encoded as a pointer to T. */
static int btf_type_member(const lbpf_btf *btf, const struct btf_member *m, uint32_t *type_id,
			   uint32_t *size)
{
	const struct btf_type *ptr = lbpf_btf_type(btf, m->type);
	int64_t sz;

	if (!ptr || lbpf_btf_kind(ptr) != BTF_KIND_PTR)
		return -EINVAL;
	sz = lbpf_btf_type_size(btf, ptr->type);
	if (sz < 0 || sz > UINT32_MAX)
		return -EINVAL;
	*type_id = ptr->type;
	*size = (uint32_t)sz;
	return 0;
}

static int parse_def_struct(lbpf_object *obj, lbpf_map *map, uint32_t struct_id);

/* __array(values, struct inner_def): the inner map's definition, for map-in-map. */
static int parse_inner_def(lbpf_object *obj, lbpf_map *outer, const struct btf_member *m)
{
	const lbpf_btf *btf = obj->btf;
	const struct btf_type *arr = lbpf_btf_type(btf, m->type), *ptr;
	uint32_t elem;

	if (!arr || lbpf_btf_kind(arr) != BTF_KIND_ARRAY)
		return lbpf_err(EINVAL, "map '%s': 'values' must be an array", outer->name);
	elem = ((const struct btf_array *)(arr + 1))->type;
	ptr = lbpf_btf_type(btf, lbpf_btf_resolve(btf, elem));
	if (!ptr || lbpf_btf_kind(ptr) != BTF_KIND_PTR)
		return lbpf_err(EINVAL, "map '%s': 'values' must hold pointers", outer->name);
	if (outer->def.type == BPF_MAP_TYPE_PROG_ARRAY)
		return 0; /* programs named in a static initialiser; nothing to define */
	outer->inner = calloc(1, sizeof(*outer->inner));
	if (!outer->inner)
		return lbpf_err(ENOMEM, "out of memory");
	outer->inner->fd = -1;
	outer->inner->btf = btf;
	if (asprintf(&outer->inner->name, "%s.inner", outer->name) < 0) {
		outer->inner->name = NULL;
		return lbpf_err(ENOMEM, "out of memory");
	}
	return parse_def_struct(obj, outer->inner, lbpf_btf_resolve(btf, ptr->type));
}

/* __uint(key_size, N) / __uint(value_size, N) after a __type(...) of another size. */
static int parse_size_member(lbpf_map *map, const char *name, uint32_t val)
{
	bool key = name[0] == 'k';
	uint32_t *size = key ? &map->def.key_size : &map->def.value_size;

	if (*size && *size != val && (key ? map->btf_key_type_id : map->btf_value_type_id))
		return lbpf_err(EINVAL, "map '%s': %s %u conflicts with its BTF %s type of %u bytes",
				map->name, name, val, key ? "key" : "value", *size);
	*size = val;
	return 0;
}

/* __type(key, T) / __type(value, T): T's size is the map's key or value size. A size given
 * apart (__uint(value_size, N)) that disagrees is an error, as libbpf has it. */
static int parse_type_member(const lbpf_btf *btf, lbpf_map *map, const struct btf_member *m,
			     const char *name)
{
	bool key = name[0] == 'k';
	uint32_t *size = key ? &map->def.key_size : &map->def.value_size;
	uint32_t given = *size;

	if (btf_type_member(btf, m, key ? &map->btf_key_type_id : &map->btf_value_type_id, size))
		return lbpf_err(EINVAL, "map '%s': attribute '%s' is malformed", map->name, name);
	if (given && given != *size)
		return lbpf_err(EINVAL, "map '%s': %s_size %u conflicts with its BTF %s type of %u bytes",
				map->name, name, given, name, *size);
	return 0;
}

static int parse_def_member(lbpf_object *obj, lbpf_map *map, const struct btf_member *m)
{
	const lbpf_btf *btf = obj->btf;
	const char *name = lbpf_btf_str(btf, m->name_off);
	uint32_t val = 0;
	int ret = 0;

	if (!strcmp(name, "key") || !strcmp(name, "value"))
		return parse_type_member(btf, map, m, name);
	if (!strcmp(name, "values")) {
		map->values_off = (int32_t)(m->offset / 8);
		return parse_inner_def(obj, map, m);
	}
	else if ((ret = btf_uint_member(btf, m, &val)) == 0) {
		if (!strcmp(name, "type"))
			map->def.type = val;
		else if (!strcmp(name, "max_entries"))
			map->def.max_entries = val;
		else if (!strcmp(name, "map_flags"))
			map->def.map_flags = val;
		else if (!strcmp(name, "numa_node"))
			map->def.numa_node = val;
		else if (!strcmp(name, "pinning"))
			map->def.pinning = val;
		else if (!strcmp(name, "key_size") || !strcmp(name, "value_size"))
			return parse_size_member(map, name, val);
		else if (!strcmp(name, "map_extra"))
			map->def.map_extra = val;
		else
			return lbpf_err(EINVAL, "map '%s': unknown attribute '%s'", map->name, name);
	}
	if (ret)
		return lbpf_err(EINVAL, "map '%s': attribute '%s' is malformed", map->name, name);
	return 0;
}

static int parse_def_struct(lbpf_object *obj, lbpf_map *map, uint32_t struct_id)
{
	const struct btf_type *st = lbpf_btf_type(obj->btf, struct_id);
	const struct btf_member *m;

	if (!st || lbpf_btf_kind(st) != BTF_KIND_STRUCT)
		return lbpf_err(EINVAL, "map '%s': definition is not a struct", map->name);
	m = (const struct btf_member *)(st + 1);
	for (uint16_t i = 0; i < lbpf_btf_vlen(st); i++) {
		int ret = parse_def_member(obj, map, &m[i]);

		if (ret)
			return ret;
	}
	/* __array(values, ...) without __type(value): slots hold a map or program fd (u32). */
	if (map->values_off >= 0 && !map->def.value_size)
		map->def.value_size = sizeof(uint32_t);
	if (map->def.pinning > 1)
		return lbpf_err(EINVAL, "map '%s': unknown pinning type %u", map->name,
				map->def.pinning);
	return 0;
}

static int collect_btf_maps(lbpf_object *obj)
{
	int shndx = obj->elf.maps_shndx;
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;
	int32_t sec_id;

	if (shndx < 0)
		return 0;
	if (!obj->btf)
		return lbpf_err(EINVAL, "section .maps needs BTF, but the object has no .BTF section");
	sec_id = lbpf_btf_find(obj->btf, ".maps", BTF_KIND_DATASEC);
	if (sec_id < 0)
		return lbpf_err(EINVAL, "object BTF has no DATASEC for .maps");
	sec = lbpf_btf_type(obj->btf, (uint32_t)sec_id);
	vs = (const struct btf_var_secinfo *)(sec + 1);
	for (uint16_t i = 0; i < lbpf_btf_vlen(sec); i++) {
		const struct btf_type *var = lbpf_btf_type(obj->btf, vs[i].type);
		const char *name;
		lbpf_map *map;
		GElf_Sym sym;
		int ret;

		if (!var || lbpf_btf_kind(var) != BTF_KIND_VAR)
			return lbpf_err(EINVAL, ".maps entry %u is not a variable", i);
		name = lbpf_btf_str(obj->btf, var->name_off);
		map = new_map(obj, name, LBPF_MAP_USER, (size_t)shndx);
		if (!map)
			return lbpf_err(ENOMEM, "out of memory");
		if (lbpf_elf_find_sym(&obj->elf, name, shndx, -1, &sym))
			return lbpf_err(EINVAL, "map '%s' has no symbol in .maps", name);
		map->sec_off = (uint32_t)sym.st_value;
		ret = parse_def_struct(obj, map, lbpf_btf_resolve(obj->btf, var->type));
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- legacy maps --------------------------------------------------------------------------- */

struct legacy_map_def {
	uint32_t type, key_size, value_size, max_entries, map_flags;
};

static int collect_legacy_maps(lbpf_object *obj)
{
	int shndx = obj->elf.legacy_maps_shndx;
	const struct lbpf_elf_sec *sec;

	if (shndx < 0)
		return 0;
	sec = &obj->elf.secs[shndx];
	for (size_t i = 1; i < obj->elf.nsyms; i++) {
		struct legacy_map_def def;
		const char *name;
		GElf_Sym sym;
		lbpf_map *map;

		if (!lbpf_elf_sym(&obj->elf, i, &sym) || sym.st_shndx != (size_t)shndx ||
		    GELF_ST_TYPE(sym.st_info) == STT_SECTION)
			continue;
		name = lbpf_elf_sym_name(&obj->elf, &sym);
		if (!sec->data || !lbpf_range_ok(sym.st_value, sizeof(def), sec->size))
			return lbpf_err(EINVAL, "legacy map '%s' lies outside the maps section", name);
		memcpy(&def, (const char *)sec->data + sym.st_value, sizeof(def));
		map = new_map(obj, name, LBPF_MAP_USER, (size_t)shndx);
		if (!map)
			return lbpf_err(ENOMEM, "out of memory");
		map->sec_off = (uint32_t)sym.st_value;
		map->def.type = def.type;
		map->def.key_size = def.key_size;
		map->def.value_size = def.value_size;
		map->def.max_entries = def.max_entries;
		map->def.map_flags = def.map_flags;
	}
	return 0;
}

int lbpf_collect_maps(lbpf_object *obj)
{
	int ret = collect_btf_maps(obj);

	return ret ? ret : collect_legacy_maps(obj);
}

/* ---- global data ---------------------------------------------------------------------------- */

static bool is_data_section(const struct lbpf_elf_sec *sec, bool *readonly)
{
	const char *n = sec->name;

	if (sec->size == 0 || !(sec->shdr.sh_flags & SHF_ALLOC) ||
	    (sec->shdr.sh_flags & SHF_EXECINSTR))
		return false;
	*readonly = !strncmp(n, ".rodata", 7);
	return !strcmp(n, ".data") || !strncmp(n, ".data.", 6) || !strcmp(n, ".bss") ||
	       !strncmp(n, ".bss.", 5) || *readonly;
}

static int add_data_map(lbpf_object *obj, size_t sec_idx, bool readonly)
{
	const struct lbpf_elf_sec *sec = &obj->elf.secs[sec_idx];
	lbpf_map *map;

	if (sec->size > LBPF_MAX_DATA_SIZE)
		return lbpf_err(E2BIG, "section '%s' claims %zu bytes of global data (corrupt?)",
				sec->name, sec->size);
	map = new_map(obj, sec->name, LBPF_MAP_DATA, sec_idx);
	if (!map)
		return lbpf_err(ENOMEM, "out of memory");
	map->def.type = BPF_MAP_TYPE_ARRAY;
	map->def.key_size = 4;
	map->def.value_size = (uint32_t)sec->size;
	map->def.max_entries = 1;
	map->def.map_flags = BPF_F_MMAPABLE | (readonly ? BPF_F_RDONLY_PROG : 0);
	map->readonly = readonly;
	map->image = calloc(1, sec->size);
	if (!map->image)
		return lbpf_err(ENOMEM, "out of memory");
	if (sec->data)
		memcpy(map->image, sec->data, sec->size);
	if (obj->btf) {
		int32_t id = lbpf_btf_find(obj->btf, sec->name, BTF_KIND_DATASEC);

		if (id > 0)
			map->btf_value_type_id = (uint32_t)id;
	}
	return 0;
}

static uint32_t var_type_in_datasec(const lbpf_object *obj, const lbpf_map *map, const char *name)
{
	const struct btf_type *sec;
	const struct btf_var_secinfo *vs;

	if (!obj->btf || !(sec = lbpf_btf_type(obj->btf, map->btf_value_type_id)))
		return 0; /* no BTF (-g0): the global is read as plain bytes or an integer */
	vs = (const struct btf_var_secinfo *)(sec + 1);
	for (uint16_t i = 0; i < lbpf_btf_vlen(sec); i++) {
		const struct btf_type *var = lbpf_btf_type(obj->btf, vs[i].type);

		if (var && lbpf_btf_kind(var) == BTF_KIND_VAR &&
		    !strcmp(lbpf_btf_str(obj->btf, var->name_off), name))
			return var->type;
	}
	return 0;
}

static int add_global(lbpf_object *obj, size_t map_idx, const GElf_Sym *sym, const char *name)
{
	const lbpf_map *map = &obj->maps[map_idx];
	struct lbpf_global_sym *g;

	if (!lbpf_range_ok(sym->st_value, sym->st_size, map->def.value_size))
		return lbpf_err(EINVAL, "global '%s' lies outside its section '%s'", name, map->name);
	g = lbpf_array_push((void **)&obj->globals, &obj->nglobals, sizeof(*g));
	if (!g)
		return lbpf_err(ENOMEM, "out of memory");
	g->name = name;
	g->map_idx = map_idx;
	g->offset = (uint32_t)sym->st_value;
	g->size = (uint32_t)sym->st_size;
	g->btf_type_id = var_type_in_datasec(obj, map, name);
	return 0;
}

static int collect_globals(lbpf_object *obj)
{
	for (size_t i = 1; i < obj->elf.nsyms; i++) {
		GElf_Sym sym;
		const char *name;

		if (!lbpf_elf_sym(&obj->elf, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
			continue;
		name = lbpf_elf_sym_name(&obj->elf, &sym);
		if (!name[0] || name[0] == '.')
			continue; /* string literals and other compiler-made symbols */
		for (size_t m = 0; m < obj->nmaps; m++) {
			if (obj->maps[m].origin != LBPF_MAP_DATA || obj->maps[m].sec_idx != sym.st_shndx)
				continue;
			int ret = add_global(obj, m, &sym, name);

			if (ret)
				return ret;
			break;
		}
	}
	return 0;
}

int lbpf_collect_data_maps(lbpf_object *obj)
{
	for (size_t i = 1; i < obj->elf.nsecs; i++) {
		bool readonly;
		int ret;

		if (!is_data_section(&obj->elf.secs[i], &readonly))
			continue;
		ret = add_data_map(obj, i, readonly);
		if (ret)
			return ret;
	}
	return collect_globals(obj);
}
