/* Relocations: what each ELF relocation of a code section means (a map, a global, a call, a
 * callback address), and linking a program: its own code, then every subprogram it reaches,
 * appended once, with calls, map fds and global addresses patched in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "btf_internal.h"
#include "error.h"
#include "internal.h"

#define INSN_LD_IMM64 (BPF_LD | BPF_IMM | BPF_DW)
#define INSN_CALL (BPF_JMP | BPF_CALL)

static bool is_ld_imm64(const struct bpf_insn *insn) { return insn->code == INSN_LD_IMM64; }

static bool is_pseudo_call(const struct bpf_insn *insn)
{
	return insn->code == INSN_CALL && insn->src_reg == LBPF_PSEUDO_CALL;
}

static int map_at(const lbpf_object *obj, size_t sec_idx, uint32_t off, bool data)
{
	for (size_t i = 0; i < obj->nmaps; i++) {
		const lbpf_map *m = &obj->maps[i];

		if (m->sec_idx != sec_idx)
			continue;
		if (data ? m->origin == LBPF_MAP_DATA : (m->origin == LBPF_MAP_USER && m->sec_off == off))
			return (int)i;
	}
	return -1;
}

static int extern_named(const lbpf_object *obj, const char *name)
{
	for (size_t i = 0; i < obj->nexterns; i++)
		if (!strcmp(obj->externs[i].name, name))
			return (int)i;
	return -1;
}

/* What one relocation of code section code_idx names, for messages. */
struct reloc_site {
	lbpf_object *obj;
	size_t code_idx, insn_idx;
	const struct bpf_insn *insn;
	const char *sym_name;
	GElf_Sym sym;
};

static const char *site_func(const struct reloc_site *s)
{
	return lbpf_func_name_at(s->obj, s->code_idx, s->insn_idx);
}

static int describe_extern(const struct reloc_site *s, struct lbpf_reloc *r)
{
	int idx = extern_named(s->obj, s->sym_name);

	if (idx < 0)
		return lbpf_err(ENOENT, "program '%s': relocation against undefined symbol '%s' "
				"(not defined in the object, nor an extern in .kconfig/.ksyms)",
				site_func(s), s->sym_name);
	/* Applying it writes the instruction and, for a 64-bit load, the one after it. */
	if (!(s->insn->code == INSN_CALL ||
	      (is_ld_imm64(s->insn) && s->insn_idx + 1 < s->obj->code[s->code_idx].insn_cnt)))
		return lbpf_err(EINVAL, "program '%s': relocation against extern '%s' on instruction "
				"%zu, which is neither a call nor a 64-bit load", site_func(s),
				s->sym_name, s->insn_idx);
	r->kind = LBPF_RELO_EXTERN;
	r->extern_idx = (size_t)idx;
	return 0;
}

/* A bpf-to-bpf call, or the address of a function passed as a callback. */
static int describe_code_ref(const struct reloc_site *s, int code_idx, struct lbpf_reloc *r)
{
	const struct lbpf_code *target;
	uint64_t insn = 0;
	bool ok;

	if (code_idx < 0)
		return lbpf_err(EINVAL, "program '%s': call to '%s', which is not code", site_func(s),
				s->sym_name);
	target = &s->obj->code[code_idx];
	r->target_code = (size_t)code_idx;
	if (is_pseudo_call(s->insn)) {
		r->kind = LBPF_RELO_CALL;
		ok = lbpf_offset_ok(s->sym.st_value / LBPF_INSN_SIZE, (int64_t)s->insn->imm + 1, &insn);
	} else {
		r->kind = LBPF_RELO_FUNC_PTR;
		ok = s->insn_idx + 1 < s->obj->code[s->code_idx].insn_cnt &&
		     lbpf_offset_ok(s->sym.st_value, s->insn->imm, &insn);
		insn /= LBPF_INSN_SIZE;
	}
	if (!ok || insn >= target->insn_cnt)
		return lbpf_err(EINVAL, "program '%s': call target outside section '%s'",
				site_func(s), target->name);
	r->target_insn = (size_t)insn;
	return 0;
}

/* A 64-bit load of a map (its fd) or of a global (an address inside a data map). */
static int describe_data_ref(const struct reloc_site *s, struct lbpf_reloc *r)
{
	const lbpf_object *obj = s->obj;
	size_t shndx = s->sym.st_shndx;
	int idx;

	if ((int)shndx == obj->elf.maps_shndx || (int)shndx == obj->elf.legacy_maps_shndx) {
		idx = map_at(obj, shndx, (uint32_t)s->sym.st_value, false);
		r->kind = LBPF_RELO_MAP_FD;
	} else {
		idx = map_at(obj, shndx, 0, true);
		r->kind = LBPF_RELO_MAP_VALUE;
		r->value_off = (uint32_t)(s->sym.st_value + (uint32_t)s->insn->imm);
	}
	if (idx < 0)
		return lbpf_err(EINVAL, "program '%s': relocation against '%s' in section '%s', "
				"which holds no map or global data", site_func(s), s->sym_name,
				obj->elf.secs[shndx].name);
	r->map_idx = (size_t)idx;
	return 0;
}

/* Fills r from one ELF relocation of code section code_idx. */
static int describe_reloc(lbpf_object *obj, size_t code_idx, const GElf_Rel *rel,
			  struct lbpf_reloc *r)
{
	const struct lbpf_code *code = &obj->code[code_idx];
	struct reloc_site s = { .obj = obj, .code_idx = code_idx,
				.insn_idx = rel->r_offset / LBPF_INSN_SIZE };
	int target_code;

	if (rel->r_offset % LBPF_INSN_SIZE || s.insn_idx >= code->insn_cnt)
		return lbpf_err(EINVAL, "section '%s': relocation at offset %lu is outside the code",
				code->name, (unsigned long)rel->r_offset);
	s.insn = &code->insns[s.insn_idx];
	if (!lbpf_elf_sym(&obj->elf, GELF_R_SYM(rel->r_info), &s.sym))
		return lbpf_err(EINVAL, "section '%s': relocation names symbol %lu, which does not exist",
				code->name, (unsigned long)GELF_R_SYM(rel->r_info));
	s.sym_name = lbpf_elf_sym_name(&obj->elf, &s.sym);
	r->insn_idx = s.insn_idx;
	if (s.sym.st_shndx == SHN_UNDEF)
		return describe_extern(&s, r);
	if (s.sym.st_shndx >= obj->elf.nsecs)
		return lbpf_err(EINVAL, "program '%s': relocation against symbol '%s' in a special "
				"section %u", site_func(&s), s.sym_name, s.sym.st_shndx);
	target_code = lbpf_code_of_section(obj, s.sym.st_shndx);
	if (is_pseudo_call(s.insn) || (is_ld_imm64(s.insn) && target_code >= 0))
		return describe_code_ref(&s, target_code, r);
	if (!is_ld_imm64(s.insn) || s.insn_idx + 1 >= code->insn_cnt)
		return lbpf_err(EINVAL, "program '%s': relocation against '%s' on instruction %zu, "
				"which is not a 64-bit load", site_func(&s), s.sym_name, s.insn_idx);
	return describe_data_ref(&s, r);
}

static int cmp_reloc(const void *a, const void *b)
{
	const struct lbpf_reloc *x = a, *y = b;

	return (x->insn_idx > y->insn_idx) - (x->insn_idx < y->insn_idx);
}

/* A code section may have several REL sections (linkers and hand-made objects): each adds to
 * the same sorted list. */
static int collect_section_relocs(lbpf_object *obj, const struct lbpf_elf_sec *rsec, size_t code_idx)
{
	struct lbpf_code *code = &obj->code[code_idx];
	size_t n = rsec->size / sizeof(Elf64_Rel);
	struct lbpf_reloc *grown;

	if (rsec->shdr.sh_entsize != sizeof(Elf64_Rel) || rsec->size % sizeof(Elf64_Rel))
		return lbpf_err(EINVAL, "relocation section '%s' is malformed", rsec->name);
	grown = realloc(code->relocs, (code->nrelocs + n + 1) * sizeof(*code->relocs));
	if (!grown)
		return lbpf_err(ENOMEM, "out of memory");
	code->relocs = grown;
	for (size_t i = 0; i < n; i++) {
		GElf_Rel rel;
		int ret;

		/* ELF64, host byte order: checked when the file was opened. */
		memcpy(&rel, (const char *)rsec->data + i * sizeof(Elf64_Rel), sizeof(Elf64_Rel));
		ret = describe_reloc(obj, code_idx, &rel, &code->relocs[code->nrelocs]);
		if (ret)
			return ret;
		code->nrelocs++;
	}
	qsort(code->relocs, code->nrelocs, sizeof(*code->relocs), cmp_reloc);
	return 0;
}

int lbpf_collect_relocs(lbpf_object *obj)
{
	for (size_t i = 1; i < obj->elf.nsecs; i++) {
		const struct lbpf_elf_sec *rsec = &obj->elf.secs[i];
		int code_idx, ret;

		if (rsec->shdr.sh_type != SHT_REL)
			continue;
		code_idx = lbpf_code_of_section(obj, rsec->shdr.sh_info);
		if (code_idx < 0)
			continue; /* relocations of debug info, BTF, .maps initialisers */
		if (!rsec->data)
			return lbpf_err(EINVAL, "relocation section '%s' has no data", rsec->name);
		ret = collect_section_relocs(obj, rsec, (size_t)code_idx);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- linking -------------------------------------------------------------------------------- */

struct placed {
	size_t func;
	size_t pos;
};

struct linker {
	lbpf_object *obj;
	lbpf_program *prog;
	struct bpf_insn *insns;
	size_t cnt, cap;
	struct placed *placed;
	size_t nplaced;
};

static int place_func(struct linker *l, size_t func_idx, size_t *pos)
{
	const struct lbpf_func *fn = &l->obj->funcs[func_idx];
	const struct lbpf_code *code = &l->obj->code[fn->code_idx];
	struct placed *p;

	for (size_t i = 0; i < l->nplaced; i++)
		if (l->placed[i].func == func_idx) {
			*pos = l->placed[i].pos;
			return 0;
		}
	if (l->cnt + fn->insn_cnt > l->cap) {
		size_t cap = (l->cnt + fn->insn_cnt) * 2;
		struct bpf_insn *grown = realloc(l->insns, cap * sizeof(*grown));

		if (!grown)
			return lbpf_err(ENOMEM, "out of memory");
		l->insns = grown;
		l->cap = cap;
	}
	p = lbpf_array_push((void **)&l->placed, &l->nplaced, sizeof(*p));
	if (!p)
		return lbpf_err(ENOMEM, "out of memory");
	p->func = func_idx;
	p->pos = l->cnt;
	memcpy(l->insns + l->cnt, code->insns + fn->insn_off, fn->insn_cnt * sizeof(*l->insns));
	l->cnt += fn->insn_cnt;
	*pos = p->pos;
	return 0;
}

/* Point the call (or function address) at final position `at` to code_idx:target. */
static int link_call(struct linker *l, size_t at, size_t code_idx, size_t target, bool func_ptr)
{
	int func = lbpf_func_containing(l->obj, code_idx, target);
	size_t pos;
	int ret;

	if (func < 0)
		return lbpf_err(EINVAL, "program '%s': call into section '%s' at instruction %zu, "
				"where no function is", l->prog->name, l->obj->code[code_idx].name,
				target);
	ret = place_func(l, (size_t)func, &pos);
	if (ret)
		return ret;
	pos += target - l->obj->funcs[func].insn_off;
	l->insns[at].imm = (int32_t)((long)pos - (long)at - 1);
	if (func_ptr) {
		l->insns[at].src_reg = LBPF_PSEUDO_FUNC;
		l->insns[at + 1].imm = 0;
	}
	return 0;
}

/* A map left uncreated (set_autocreate(false)): as libbpf does, its ld_imm64 becomes two calls
 * to a helper that does not exist, numbered after the map, so the verifier accepts the program
 * where that code is dead and names "unknown#2001000000+index" where it is not. */
#define MAP_POISON_BASE 2001000000

static void poison_map_load(struct bpf_insn *insn, size_t map_idx)
{
	for (int i = 0; i < 2; i++) {
		insn[i].code = BPF_JMP | BPF_CALL;
		insn[i].dst_reg = insn[i].src_reg = 0;
		insn[i].off = 0;
		insn[i].imm = MAP_POISON_BASE + (int32_t)map_idx;
	}
}

static int apply_map_reloc(struct linker *l, size_t at, const struct lbpf_reloc *r)
{
	const lbpf_map *map = &l->obj->maps[r->map_idx];

	if (map->skip_create) {
		poison_map_load(&l->insns[at], r->map_idx);
		return 0;
	}
	if (map->fd < 0)
		return lbpf_err(EINVAL, "program '%s': map '%s' was not created", l->prog->name,
				map->name);
	l->insns[at].imm = map->fd;
	if (r->kind == LBPF_RELO_MAP_FD) {
		l->insns[at].src_reg = LBPF_PSEUDO_MAP_FD;
	} else {
		l->insns[at].src_reg = LBPF_PSEUDO_MAP_VALUE;
		l->insns[at + 1].imm = (int32_t)r->value_off;
	}
	return 0;
}

static const struct lbpf_reloc *reloc_for(const struct lbpf_code *code, size_t insn)
{
	struct lbpf_reloc key = { .insn_idx = insn };

	if (!code->nrelocs)
		return NULL;
	return bsearch(&key, code->relocs, code->nrelocs, sizeof(key), cmp_reloc);
}

int lbpf_extern_apply(lbpf_object *obj, const struct lbpf_extern *ext, struct bpf_insn *insn);

static int link_insn(struct linker *l, const struct lbpf_func *fn, size_t at, size_t sec_insn)
{
	const struct lbpf_code *code = &l->obj->code[fn->code_idx];
	const struct lbpf_reloc *r = reloc_for(code, sec_insn);

	if (r) {
		switch (r->kind) {
		case LBPF_RELO_CALL:
			return link_call(l, at, r->target_code, r->target_insn, false);
		case LBPF_RELO_FUNC_PTR:
			return link_call(l, at, r->target_code, r->target_insn, true);
		case LBPF_RELO_MAP_FD:
		case LBPF_RELO_MAP_VALUE:
			return apply_map_reloc(l, at, r);
		case LBPF_RELO_EXTERN:
			return lbpf_extern_apply(l->obj, &l->obj->externs[r->extern_idx], &l->insns[at]);
		}
	}
	if (is_pseudo_call(&l->insns[at])) { /* a call inside the same section: no relocation */
		uint64_t target;

		if (!lbpf_offset_ok(sec_insn, (int64_t)l->insns[at].imm + 1, &target))
			return lbpf_err(EINVAL, "program '%s': call at instruction %zu of section '%s' "
					"jumps outside it", l->prog->name, sec_insn, code->name);
		return link_call(l, at, fn->code_idx, (size_t)target, false);
	}
	return 0;
}

static int link_block(struct linker *l, size_t block)
{
	const struct lbpf_func *fn = &l->obj->funcs[l->placed[block].func];
	size_t base = l->placed[block].pos;

	for (size_t j = 0; j < fn->insn_cnt; j++) {
		int ret = link_insn(l, fn, base + j, fn->insn_off + j);

		if (ret)
			return ret;
		if (is_ld_imm64(&l->insns[base + j]))
			j++; /* the second half of a 64-bit load */
	}
	return 0;
}

/* BTF.ext records of each placed function, renumbered to the final instruction positions. */
static int gather_ext(struct linker *l, const struct lbpf_btf_ext_table *table, void **out,
		      uint32_t *count, uint32_t *rec_size)
{
	char *recs = NULL;
	size_t n = 0;

	*out = NULL;
	*count = 0;
	for (size_t b = 0; b < l->nplaced; b++) {
		const struct lbpf_func *fn = &l->obj->funcs[l->placed[b].func];
		const struct lbpf_btf_ext_sec *sec =
			lbpf_btf_ext_find(table, l->obj->code[fn->code_idx].name);

		for (uint32_t i = 0; sec && i < sec->count; i++) {
			const char *rec = (const char *)sec->recs + (size_t)i * sec->rec_size;
			uint32_t off = *(const uint32_t *)rec / LBPF_INSN_SIZE;
			char *grown;

			if (off < fn->insn_off || off >= fn->insn_off + fn->insn_cnt)
				continue;
			grown = realloc(recs, (n + 1) * sec->rec_size);
			if (!grown) {
				free(recs);
				return lbpf_err(ENOMEM, "out of memory");
			}
			recs = grown;
			memcpy(recs + n * sec->rec_size, rec, sec->rec_size);
			*(uint32_t *)(recs + n * sec->rec_size) =
				(uint32_t)(l->placed[b].pos + off - fn->insn_off);
			*rec_size = sec->rec_size;
			n++;
		}
	}
	*out = recs;
	*count = (uint32_t)n;
	return 0;
}

int lbpf_link_program(lbpf_object *obj, lbpf_program *prog)
{
	struct linker l = { .obj = obj, .prog = prog };
	size_t pos;
	int ret;

	ret = place_func(&l, prog->func_idx, &pos);
	/* Blocks appended while linking are linked in turn: the loop bound grows. */
	for (size_t b = 0; !ret && b < l.nplaced; b++)
		ret = link_block(&l, b);
	if (!ret && obj->btf_ext && lbpf_btf_fd(obj->btf) >= 0) {
		struct lbpf_btf_ext *ext = obj->btf_ext;
		uint32_t rs = 0;

		ret = gather_ext(&l, &ext->func_info, &prog->func_info, &prog->func_info_cnt, &rs);
		prog->func_info_rec_size = rs;
		if (!ret)
			ret = gather_ext(&l, &ext->line_info, &prog->line_info, &prog->line_info_cnt, &rs);
		prog->line_info_rec_size = rs;
	}
	free(l.placed);
	if (ret) {
		free(l.insns);
		return ret;
	}
	free(prog->insns);
	prog->insns = l.insns;
	prog->insn_cnt = l.cnt;
	return 0;
}
