/* Static initialisation of map-in-map and prog_array slots:
 *   struct { __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); ... __array(values, ...); }
 *   outer SEC(".maps") = { .values = { [0] = &inner_a, [3] = &inner_b } };
 * The compiler leaves one relocation per filled slot in .rel.maps. */
#include <errno.h>
#include <string.h>

#include "error.h"
#include "internal.h"

static int map_owning(const lbpf_object *obj, uint64_t off)
{
	for (size_t i = 0; i < obj->nmaps; i++) {
		const lbpf_map *m = &obj->maps[i];

		if (m->origin == LBPF_MAP_USER && m->sec_idx == (size_t)obj->elf.maps_shndx &&
		    m->values_off >= 0 && off >= m->sec_off + (uint32_t)m->values_off &&
		    off < m->sec_off + (uint32_t)m->values_off + 8ull * m->def.max_entries)
			return (int)i;
	}
	return -1;
}

static int describe_init(lbpf_object *obj, const GElf_Rel *rel, struct lbpf_map_init *init)
{
	GElf_Sym sym;
	const char *name;
	int idx;

	if (!lbpf_elf_sym(&obj->elf, GELF_R_SYM(rel->r_info), &sym))
		return lbpf_err(EINVAL, ".maps relocation names a missing symbol");
	name = lbpf_elf_sym_name(&obj->elf, &sym);
	idx = map_owning(obj, rel->r_offset);
	if (idx < 0)
		return lbpf_err(EINVAL, ".maps relocation against '%s' is not inside a 'values' array",
				name);
	init->map_idx = (size_t)idx;
	init->slot = (uint32_t)((rel->r_offset - obj->maps[idx].sec_off -
				 (uint32_t)obj->maps[idx].values_off) / 8);
	init->is_prog = GELF_ST_TYPE(sym.st_info) == STT_FUNC;
	for (size_t i = 0; i < (init->is_prog ? obj->nprogs : obj->nmaps); i++) {
		const char *candidate = init->is_prog ? obj->progs[i].name : obj->maps[i].name;

		if (!strcmp(candidate, name)) {
			init->target = i;
			return 0;
		}
	}
	return lbpf_err(EINVAL, "map '%s' slot %u refers to '%s', which is not a %s of the object",
			obj->maps[idx].name, init->slot, name, init->is_prog ? "program" : "map");
}

int lbpf_collect_map_inits(lbpf_object *obj)
{
	for (size_t i = 1; i < obj->elf.nsecs; i++) {
		const struct lbpf_elf_sec *rsec = &obj->elf.secs[i];
		size_t n;

		if (rsec->shdr.sh_type != SHT_REL || obj->elf.maps_shndx < 0 ||
		    rsec->shdr.sh_info != (size_t)obj->elf.maps_shndx || !rsec->data)
			continue;
		n = rsec->size / sizeof(Elf64_Rel);
		for (size_t r = 0; r < n; r++) {
			struct lbpf_map_init *init;
			GElf_Rel rel;
			int ret;

			memcpy(&rel, (const char *)rsec->data + r * sizeof(Elf64_Rel), sizeof(rel));
			init = lbpf_array_push((void **)&obj->inits, &obj->ninits, sizeof(*init));
			if (!init)
				return lbpf_err(ENOMEM, "out of memory");
			ret = describe_init(obj, &rel, init);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int lbpf_apply_map_inits(lbpf_object *obj)
{
	for (size_t i = 0; i < obj->ninits; i++) {
		const struct lbpf_map_init *init = &obj->inits[i];
		const lbpf_map *outer = &obj->maps[init->map_idx];
		int fd = init->is_prog ? obj->progs[init->target].fd : obj->maps[init->target].fd;
		int ret;

		if (fd < 0)
			return lbpf_err(EINVAL, "map '%s' slot %u: '%s' was not loaded", outer->name,
					init->slot, init->is_prog ? obj->progs[init->target].name
								  : obj->maps[init->target].name);
		ret = lbpf_map_update(outer, &init->slot, &fd, BPF_ANY);
		if (ret)
			return ret;
	}
	return 0;
}
