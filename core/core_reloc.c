/* CO-RE relocations: find the target types that correspond to a local type, compute the value
 * the instruction must carry on the target, and patch the instruction (or poison it). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btf_internal.h"
#include "core_reloc.h"
#include "core_spec.h"
#include "error.h"

/* ---- candidate cache ------------------------------------------------------------------------ */

struct core_cand {
	const lbpf_btf *btf;
	uint32_t id;
};

struct core_cand_list {
	const lbpf_btf *local;
	uint32_t local_id;
	struct core_cand *cands;
	size_t count;
};

/* An instruction that was poisoned, kept to explain a later verifier failure. */
struct core_poison {
	char *prog;
	uint32_t insn;
	char *what;
};

struct lbpf_core_cand_cache {
	struct core_cand_list *lists;
	size_t nlists, cap_lists;
	struct core_poison *poisons;
	size_t npoisons, cap_poisons;
};

struct lbpf_core_cand_cache *lbpf_core_cache_new(void)
{
	return calloc(1, sizeof(struct lbpf_core_cand_cache));
}

void lbpf_core_cache_free(struct lbpf_core_cand_cache *cache)
{
	size_t i;

	if (!cache)
		return;
	for (i = 0; i < cache->nlists; i++)
		free(cache->lists[i].cands);
	for (i = 0; i < cache->npoisons; i++) {
		free(cache->poisons[i].prog);
		free(cache->poisons[i].what);
	}
	free(cache->lists);
	free(cache->poisons);
	free(cache);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

size_t lbpf_core_essential_name_len(const char *name)
{
	return lbpf_btf_essential_len(name);
}

static bool kind_candidate(uint16_t local_kind, uint16_t kind)
{
	bool lenum = local_kind == BTF_KIND_ENUM || local_kind == BTF_KIND_ENUM64;
	bool tenum = kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64;

	return kind == local_kind || (lenum && tenum);
}

struct cand_walk {
	struct core_cand_list *list;
	size_t *cap;
	const lbpf_btf *btf;
	uint16_t kind;
};

static int add_cand(void *ctx, uint32_t id)
{
	struct cand_walk *w = ctx;
	const struct btf_type *t = lbpf_btf_type(w->btf, id);

	if (!kind_candidate(w->kind, lbpf_btf_kind(t)))
		return 0;
	if (grow((void **)&w->list->cands, w->cap, w->list->count + 1, sizeof(struct core_cand)))
		return -ENOMEM;
	w->list->cands[w->list->count++] = (struct core_cand){ w->btf, id };
	return 0;
}

/* Types of btf (from first_id on) with the same essential name, through its name index. */
static int add_cands_from(struct core_cand_list *list, size_t *cap, const lbpf_btf *btf,
			  uint32_t first_id, const char *name, size_t essent, uint16_t kind)
{
	struct cand_walk w = { list, cap, btf, kind };

	return lbpf_btf_each_essential(btf, first_id ? first_id : 1, name, essent, add_cand, &w);
}

/* Candidates in targets[0] first; modules (split over it) only when it has none. */
static int find_cands(const lbpf_btf *local, uint32_t local_id, const lbpf_btf *const *targets,
		      size_t ntargets, struct core_cand_list *list)
{
	const struct btf_type *lt = lbpf_btf_type(local, local_id);
	const char *name = lbpf_btf_type_name(local, local_id);
	size_t essent = lbpf_core_essential_name_len(name), cap = 0, i;
	uint32_t base_count;
	int err;

	list->local = local;
	list->local_id = local_id;
	if (!ntargets)
		return 0;
	err = add_cands_from(list, &cap, targets[0], 1, name, essent, lbpf_btf_kind(lt));
	base_count = lbpf_btf_type_count(targets[0]);
	for (i = 1; !err && i < ntargets && list->count == 0; i++)
		err = add_cands_from(list, &cap, targets[i], base_count, name, essent,
				     lbpf_btf_kind(lt));
	return err;
}

static int cache_lookup(struct lbpf_core_cand_cache *cache, const lbpf_btf *local,
			uint32_t local_id, const lbpf_btf *const *targets, size_t ntargets,
			const struct core_cand_list **out)
{
	struct core_cand_list list = { 0 };
	size_t i;
	int err;

	for (i = 0; i < cache->nlists; i++) {
		if (cache->lists[i].local == local && cache->lists[i].local_id == local_id) {
			*out = &cache->lists[i];
			return 0;
		}
	}
	err = find_cands(local, local_id, targets, ntargets, &list);
	if (!err)
		err = grow((void **)&cache->lists, &cache->cap_lists, cache->nlists + 1,
			   sizeof(list));
	if (err) {
		free(list.cands);
		return err;
	}
	cache->lists[cache->nlists] = list;
	*out = &cache->lists[cache->nlists++];
	return 0;
}

/* ---- computing the relocated value ---------------------------------------------------------- */

struct core_result {
	uint64_t orig_val, new_val;
	uint32_t orig_sz, new_sz;   /* memory size of the accessed field (plain fields) */
	uint32_t orig_type, new_type;
	bool poison;                /* unresolvable: poison the instruction */
	bool validate;              /* the instruction must carry orig_val */
	bool fail_memsz;            /* a load/store would need an unsafe size change */
	const char *why;            /* reason of an error or a poisoning */
};

/* Value of a field relocation on spec; NULL spec means "no target field". */
static int field_value(const struct core_spec *spec, uint32_t kind, uint64_t *val, uint32_t *sz,
		       uint32_t *type_id, bool *validate, const char **why);

static int array_field_value(const struct core_spec *spec, const struct core_access *acc,
			     uint32_t kind, uint64_t *val, uint32_t *sz, uint32_t *type_id,
			     const char **why)
{
	int64_t size = core_type_size(spec->btf, acc->type_id);

	if (size < 0) {
		*why = "array element without a size";
		return -EINVAL;
	}
	if (kind == BPF_CORE_FIELD_BYTE_OFFSET) {
		*val = spec->bit_offset / 8;
		*sz = (uint32_t)size;
		*type_id = acc->type_id;
	} else if (kind == BPF_CORE_FIELD_BYTE_SIZE) {
		*val = (uint64_t)size;
	} else {
		*why = "relocation kind cannot apply to an array element";
		return -EINVAL;
	}
	return 0;
}

/* Smallest aligned load (up to 8 bytes) covering a bitfield. */
static int bitfield_window(uint64_t bit_off, uint32_t bit_sz, uint32_t *byte_sz,
			   uint64_t *byte_off, const char **why)
{
	*byte_off = bit_off / 8 / *byte_sz * *byte_sz;
	while (bit_off + bit_sz - *byte_off * 8 > *byte_sz * 8) {
		if (*byte_sz >= 8) {
			*why = "bitfield cannot be read with one 64-bit load";
			return -E2BIG;
		}
		*byte_sz *= 2;
		*byte_off = bit_off / 8 / *byte_sz * *byte_sz;
	}
	return 0;
}

static bool type_is_signed(const struct btf_type *mt)
{
	uint16_t k = lbpf_btf_kind(mt);

	if (k == BTF_KIND_ENUM || k == BTF_KIND_ENUM64)
		return lbpf_btf_kflag(mt);
	return k == BTF_KIND_INT && (BTF_INT_ENCODING(*(const uint32_t *)(mt + 1)) & BTF_INT_SIGNED);
}

static int field_value(const struct core_spec *spec, uint32_t kind, uint64_t *val, uint32_t *sz,
		       uint32_t *type_id, bool *validate, const char **why)
{
	const struct core_access *acc;
	const struct btf_type *t, *mt;
	uint32_t field_id, bit_sz, byte_sz;
	uint64_t byte_off;
	bool bitfield;
	int err;

	if (kind == BPF_CORE_FIELD_EXISTS) {
		*val = spec != NULL;
		return 0;
	}
	if (!spec) {
		*why = "field not found in the target BTF";
		return -EUCLEAN;
	}
	acc = &spec->acc[spec->len - 1];
	if (validate)
		*validate = true;
	if (!acc->name)
		return array_field_value(spec, acc, kind, val, sz, type_id, why);
	t = lbpf_btf_type(spec->btf, acc->type_id);
	mt = core_skip_mods(spec->btf, ((const struct btf_member *)(t + 1))[acc->idx].type,
			    &field_id);
	bit_sz = core_member_bitfield_size(t, acc->idx);
	bitfield = bit_sz > 0;
	if (bitfield) {
		byte_sz = mt ? mt->size : 0;
		if (!byte_sz || (byte_sz & (byte_sz - 1)) || byte_sz > 8) {
			*why = "bitfield of an unexpected base type";
			return -EINVAL;
		}
		err = bitfield_window(spec->bit_offset, bit_sz, &byte_sz, &byte_off, why);
		if (err)
			return err;
	} else {
		int64_t size = core_type_size(spec->btf, field_id);

		if (size < 0) {
			*why = "field without a size";
			return -EINVAL;
		}
		byte_sz = (uint32_t)size;
		byte_off = spec->bit_offset / 8;
		bit_sz = byte_sz * 8;
	}
	/* Bitfield offsets/shifts may legitimately differ from what the compiler chose. */
	if (validate)
		*validate = !bitfield;
	switch (kind) {
	case BPF_CORE_FIELD_BYTE_OFFSET:
		*val = byte_off;
		if (!bitfield) {
			*sz = byte_sz;
			*type_id = field_id;
		}
		return 0;
	case BPF_CORE_FIELD_BYTE_SIZE:
		*val = byte_sz;
		return 0;
	case BPF_CORE_FIELD_SIGNED:
		*val = mt && type_is_signed(mt);
		if (validate)
			*validate = true;
		return 0;
	case BPF_CORE_FIELD_LSHIFT_U64:
		*val = 64 - (spec->bit_offset + bit_sz - byte_off * 8); /* little endian */
		return 0;
	case BPF_CORE_FIELD_RSHIFT_U64:
		*val = 64 - bit_sz;
		if (validate)
			*validate = true;
		return 0;
	default:
		*why = "unsupported relocation kind";
		return -EOPNOTSUPP;
	}
}

static int type_value(const struct core_spec *spec, uint32_t kind, uint64_t *val, const char **why)
{
	int64_t size;

	if (!spec) {
		*val = 0; /* type-based relocations answer 0 when the type is absent */
		return 0;
	}
	switch (kind) {
	case BPF_CORE_TYPE_ID_TARGET:
		*val = spec->root_id;
		return 0;
	case BPF_CORE_TYPE_EXISTS:
	case BPF_CORE_TYPE_MATCHES:
		*val = 1;
		return 0;
	case BPF_CORE_TYPE_SIZE:
		size = core_type_size(spec->btf, spec->root_id);
		if (size < 0) {
			*why = "type without a size";
			return -EINVAL;
		}
		*val = (uint64_t)size;
		return 0;
	default:
		*why = "unsupported relocation kind";
		return -EOPNOTSUPP;
	}
}

static int enumval_value(const struct core_spec *spec, uint32_t kind, uint64_t *val,
			 const char **why)
{
	const struct btf_type *t;
	uint32_t i;

	if (kind == BPF_CORE_ENUMVAL_EXISTS) {
		*val = spec != NULL;
		return 0;
	}
	if (!spec) {
		*why = "enumerator not found in the target BTF";
		return -EUCLEAN;
	}
	t = lbpf_btf_type(spec->btf, spec->acc[0].type_id);
	i = spec->acc[0].idx;
	if (lbpf_btf_kind(t) == BTF_KIND_ENUM) {
		const struct btf_enum *e = (const struct btf_enum *)(t + 1) + i;

		/* 32-bit enumerators are C ints: sign-extended to the instruction's 64 bits (compilers
		 * before clang 15 leave the signedness flag unset even for negative values). */
		*val = (uint64_t)(int64_t)e->val;
	} else {
		const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;

		*val = ((uint64_t)e->val_hi32 << 32) | e->val_lo32;
	}
	return 0;
}

/* Memory-size change of a load/store is safe only for pointers and unsigned integers. */
static bool memsz_change_safe(const struct core_spec *local, const struct core_spec *targ,
			      const struct core_result *res)
{
	const struct btf_type *o = lbpf_btf_type(local->btf, res->orig_type);
	const struct btf_type *n = lbpf_btf_type(targ->btf, res->new_type);

	if (!o || !n)
		return false;
	if (lbpf_btf_kind(o) == BTF_KIND_PTR && lbpf_btf_kind(n) == BTF_KIND_PTR)
		return true;
	return lbpf_btf_kind(o) == BTF_KIND_INT && lbpf_btf_kind(n) == BTF_KIND_INT &&
	       !type_is_signed(o) && !type_is_signed(n);
}

static int calc_result(const struct core_spec *local, const struct core_spec *targ,
		       struct core_result *res)
{
	uint32_t kind = local->kind;
	int err;

	memset(res, 0, sizeof(*res));
	res->validate = true;
	if (core_kind_is_field(kind)) {
		err = field_value(local, kind, &res->orig_val, &res->orig_sz, &res->orig_type,
				  &res->validate, &res->why);
		if (!err)
			err = field_value(targ, kind, &res->new_val, &res->new_sz, &res->new_type,
					  NULL, &res->why);
		if (!err && res->orig_sz != res->new_sz)
			res->fail_memsz = !memsz_change_safe(local, targ, res);
	} else if (core_kind_is_type(kind)) {
		err = type_value(local, kind, &res->orig_val, &res->why);
		if (!err)
			err = type_value(targ, kind, &res->new_val, &res->why);
		/* Type ids change when objects are linked: never insist on the compiled one. */
		if (kind == BPF_CORE_TYPE_ID_TARGET)
			res->validate = false;
	} else {
		err = enumval_value(local, kind, &res->orig_val, &res->why);
		if (!err)
			err = enumval_value(targ, kind, &res->new_val, &res->why);
	}
	if (err == -EUCLEAN) {
		res->poison = true;
		return 0;
	}
	return err;
}

/* ---- error context -------------------------------------------------------------------------- */

struct core_ctx {
	const char *prog;
	uint32_t insn_idx;
	const struct bpf_core_relo *relo;
	const char *access;
	const char *type_name;
	const char *type_kind;
};

static int relo_err(const struct core_ctx *c, int err, const char *fmt, const char *detail)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, detail);
	return lbpf_err(err,
			"program '%s': CO-RE relocation %s at insn %u (%s%s, access \"%s\"): %s",
			c->prog, lbpf_core_relo_kind_name(c->relo->kind), c->insn_idx,
			c->type_kind, c->type_name, c->access, msg);
}

const char *lbpf_core_relo_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		"field_byte_offset", "field_byte_size", "field_exists", "field_signed",
		"field_lshift_u64", "field_rshift_u64", "type_id_local", "type_id_target",
		"type_exists", "type_size", "enumval_exists", "enumval_value", "type_matches",
	};

	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

/* ---- patching ------------------------------------------------------------------------------- */

static bool is_ldimm64(const struct bpf_insn *insn)
{
	return insn->code == (BPF_LD | BPF_IMM | BPF_DW);
}

static void poison_insn(struct bpf_insn *insn)
{
	insn->code = BPF_JMP | BPF_CALL;
	insn->dst_reg = 0;
	insn->src_reg = 0;
	insn->off = 0;
	insn->imm = LBPF_CORE_POISON_IMM;
}

static int record_poison(struct lbpf_core_cand_cache *cache, const struct core_ctx *c,
			 const struct core_spec *local, const char *why)
{
	char desc[512], what[768];
	struct core_poison *p;

	core_spec_describe(local, desc, sizeof(desc));
	snprintf(what, sizeof(what), "insn %u: %s relocation of %s (access \"%s\") failed: %s",
		 c->insn_idx, lbpf_core_relo_kind_name(c->relo->kind), desc, c->access, why);
	if (grow((void **)&cache->poisons, &cache->cap_poisons, cache->npoisons + 1,
		 sizeof(*p)))
		return -ENOMEM;
	p = &cache->poisons[cache->npoisons];
	p->prog = strdup(c->prog);
	p->what = strdup(what);
	p->insn = c->insn_idx;
	if (!p->prog || !p->what) {
		free(p->prog);
		free(p->what);
		return -ENOMEM;
	}
	cache->npoisons++;
	return 0;
}

static int do_poison(struct lbpf_core_cand_cache *cache, const struct core_ctx *c,
		     const struct core_spec *local, struct bpf_insn *insn, size_t room,
		     const char *why)
{
	if (is_ldimm64(insn) && room > 1)
		poison_insn(insn + 1); /* so the verifier does not trip on a bare second half */
	poison_insn(insn);
	if (record_poison(cache, c, local, why))
		return lbpf_err(-ENOMEM, "out of memory recording a CO-RE relocation");
	return 0;
}

static bool imm_equals(int32_t imm, uint64_t val)
{
	return (uint64_t)(int64_t)imm == val || (uint64_t)(uint32_t)imm == val;
}

static int bytes_to_bpf_size(uint32_t bytes)
{
	switch (bytes) {
	case 1: return BPF_B;
	case 2: return BPF_H;
	case 4: return BPF_W;
	case 8: return BPF_DW;
	default: return -1;
	}
}

static uint32_t insn_mem_bytes(const struct bpf_insn *insn)
{
	switch (BPF_SIZE(insn->code)) {
	case BPF_B: return 1;
	case BPF_H: return 2;
	case BPF_W: return 4;
	default: return 8;
	}
}

static int patch_alu(const struct core_ctx *c, const struct core_result *r, struct bpf_insn *insn)
{
	char detail[96];

	if (BPF_SRC(insn->code) != BPF_K)
		return relo_err(c, -EINVAL, "%s", "ALU instruction has no immediate to patch");
	if (r->validate && !imm_equals(insn->imm, r->orig_val)) {
		snprintf(detail, sizeof(detail), "got %d, expected %llu", insn->imm,
			 (unsigned long long)r->orig_val);
		return relo_err(c, -EINVAL, "unexpected ALU immediate: %s", detail);
	}
	if (r->new_val > UINT32_MAX &&
	    !((int64_t)r->new_val < 0 && (int64_t)r->new_val >= INT32_MIN)) {
		snprintf(detail, sizeof(detail), "%llu", (unsigned long long)r->new_val);
		return relo_err(c, -ERANGE, "value %s does not fit a 32-bit immediate", detail);
	}
	insn->imm = (int32_t)r->new_val;
	return 0;
}

static int patch_mem(const struct core_ctx *c, const struct core_result *r, struct bpf_insn *insn)
{
	char detail[96];
	int bpf_sz;

	if (r->validate && (uint64_t)(int64_t)insn->off != r->orig_val) {
		snprintf(detail, sizeof(detail), "got %d, expected %llu", insn->off,
			 (unsigned long long)r->orig_val);
		return relo_err(c, -EINVAL, "unexpected load/store offset: %s", detail);
	}
	if (r->new_val > SHRT_MAX) {
		snprintf(detail, sizeof(detail), "%llu", (unsigned long long)r->new_val);
		return relo_err(c, -ERANGE, "offset %s too big for a load/store", detail);
	}
	insn->off = (int16_t)r->new_val;
	if (r->new_sz == r->orig_sz)
		return 0;
	if (insn_mem_bytes(insn) != r->orig_sz) {
		snprintf(detail, sizeof(detail), "%u bytes, field has %u", insn_mem_bytes(insn),
			 r->orig_sz);
		return relo_err(c, -EINVAL, "load/store of unexpected size: %s", detail);
	}
	bpf_sz = bytes_to_bpf_size(r->new_sz);
	if (bpf_sz < 0) {
		snprintf(detail, sizeof(detail), "%u", r->new_sz);
		return relo_err(c, -EINVAL, "target field size %s cannot be loaded", detail);
	}
	insn->code = (uint8_t)(BPF_MODE(insn->code) | bpf_sz | BPF_CLASS(insn->code));
	return 0;
}

static int patch_ldimm64(const struct core_ctx *c, const struct core_result *r,
			 struct bpf_insn *insn, size_t room)
{
	char detail[96];
	uint64_t imm;

	if (!is_ldimm64(insn) || room < 2 || insn[0].src_reg || insn[0].off || insn[1].code ||
	    insn[1].dst_reg || insn[1].src_reg || insn[1].off)
		return relo_err(c, -EINVAL, "%s", "ld_imm64 instruction of unexpected form");
	imm = (uint64_t)(uint32_t)insn[0].imm | ((uint64_t)(uint32_t)insn[1].imm << 32);
	if (r->validate && imm != r->orig_val) {
		snprintf(detail, sizeof(detail), "got %llu, expected %llu",
			 (unsigned long long)imm, (unsigned long long)r->orig_val);
		return relo_err(c, -EINVAL, "unexpected ld_imm64 value: %s", detail);
	}
	insn[0].imm = (int32_t)(uint32_t)r->new_val;
	insn[1].imm = (int32_t)(uint32_t)(r->new_val >> 32);
	return 0;
}

static int patch_insn(struct lbpf_core_cand_cache *cache, const struct core_ctx *c,
		      const struct core_spec *local, const struct core_result *r,
		      struct bpf_insn *insn, size_t room)
{
	uint8_t cls = BPF_CLASS(insn->code);

	if (r->poison)
		return do_poison(cache, c, local, insn, room, r->why);
	switch (cls) {
	case BPF_ALU:
	case BPF_ALU64:
		return patch_alu(c, r, insn);
	case BPF_LDX:
	case BPF_ST:
	case BPF_STX:
		if (r->fail_memsz && r->new_val <= SHRT_MAX &&
		    (!r->validate || (uint64_t)(int64_t)insn->off == r->orig_val))
			return do_poison(cache, c, local, insn, room,
					 "field changed size and type: only pointers and unsigned "
					 "integers may be read with another size");
		return patch_mem(c, r, insn);
	case BPF_LD:
		return patch_ldimm64(c, r, insn, room);
	default:
		return relo_err(c, -EINVAL, "%s", "instruction cannot carry a relocated value");
	}
}

/* ---- resolution ----------------------------------------------------------------------------- */

static int check_agreement(const struct core_ctx *c, const struct core_spec *first,
			   const struct core_result *fr, const struct core_spec *cand,
			   const struct core_result *cr)
{
	char detail[160];

	if (core_kind_is_field(first->kind) && cand->bit_offset != first->bit_offset) {
		snprintf(detail, sizeof(detail), "bit offset %llu != %llu",
			 (unsigned long long)first->bit_offset, (unsigned long long)cand->bit_offset);
		return relo_err(c, -EINVAL, "ambiguous target candidates: %s", detail);
	}
	if (cr->poison != fr->poison || cr->new_val != fr->new_val) {
		snprintf(detail, sizeof(detail), "value %llu != %llu",
			 (unsigned long long)fr->new_val, (unsigned long long)cr->new_val);
		return relo_err(c, -EINVAL, "ambiguous target candidates: %s", detail);
	}
	return 0;
}

/* Evaluates every candidate; all that match must agree. */
static int resolve(const struct core_ctx *c, const struct core_spec *local,
		   const struct core_cand_list *list, struct core_result *res)
{
	struct core_spec *targ = malloc(2 * sizeof(*targ)), *first;
	struct core_result cr;
	size_t i, matched = 0;
	int err = 0;

	if (!targ)
		return lbpf_err(-ENOMEM, "out of memory in CO-RE relocation");
	first = targ + 1;
	for (i = 0; i < list->count && !err; i++) {
		err = core_spec_match(local, list->cands[i].btf, list->cands[i].id, targ);
		if (err < 0) {
			err = relo_err(c, err, "%s", "malformed target BTF while matching");
			break;
		}
		if (err == 0)
			continue;
		err = calc_result(local, targ, &cr);
		if (err) {
			err = relo_err(c, err, "%s", cr.why ? cr.why : "cannot compute value");
			break;
		}
		if (matched++ == 0) {
			*res = cr;
			*first = *targ;
		} else {
			err = check_agreement(c, first, res, targ, &cr);
		}
	}
	if (!err && matched == 0) {
		err = calc_result(local, NULL, res);
		if (err)
			err = relo_err(c, err, "%s", res->why ? res->why : "cannot compute value");
	}
	free(targ);
	return err;
}

static int apply_parsed(struct lbpf_core_cand_cache *cache, const struct core_ctx *c,
			const lbpf_btf *local, const lbpf_btf *const *targets, size_t ntargets,
			const struct core_spec *spec, struct bpf_insn *insn, size_t room)
{
	const struct core_cand_list *list;
	struct core_result res;
	int err;

	if (c->relo->kind == BPF_CORE_TYPE_ID_LOCAL) {
		memset(&res, 0, sizeof(res));
		res.orig_val = res.new_val = c->relo->type_id;
		return patch_insn(cache, c, spec, &res, insn, room);
	}
	if (!*c->type_name)
		return relo_err(c, -EOPNOTSUPP, "%s", "anonymous local type has no candidates");
	if (!ntargets)
		return relo_err(c, -ENOENT, "%s", "no target BTF to relocate against");
	err = cache_lookup(cache, local, c->relo->type_id, targets, ntargets, &list);
	if (err)
		return lbpf_err(err, "out of memory searching CO-RE candidates");
	err = resolve(c, spec, list, &res);
	if (err)
		return err;
	return patch_insn(cache, c, spec, &res, insn, room);
}

static const char *type_kind_word(const struct btf_type *t)
{
	switch (lbpf_btf_kind(t)) {
	case BTF_KIND_STRUCT: return "struct ";
	case BTF_KIND_UNION: return "union ";
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64: return "enum ";
	case BTF_KIND_TYPEDEF: return "typedef ";
	default: return "";
	}
}

int lbpf_core_apply(struct lbpf_core_cand_cache *cache, const lbpf_btf *local,
		    const lbpf_btf *const *targets, size_t ntargets,
		    const struct bpf_core_relo *relo, struct bpf_insn *insns, size_t insn_cnt,
		    const char *prog_name)
{
	struct core_ctx c = { .prog = prog_name ? prog_name : "?", .relo = relo };
	const struct btf_type *lt;
	struct core_spec *spec;
	const char *why = NULL;
	int err;

	if (!cache || !local || !relo || !insns || (ntargets && !targets))
		return lbpf_err(-EINVAL, "CO-RE relocation: missing argument");
	c.insn_idx = relo->insn_off / 8;
	c.access = lbpf_btf_str(local, relo->access_str_off);
	lt = lbpf_btf_type(local, relo->type_id);
	c.type_name = lt ? lbpf_btf_type_name(local, relo->type_id) : "";
	c.type_kind = lt ? type_kind_word(lt) : "";
	if (!lt)
		return relo_err(&c, -EINVAL, "%s", "local type id out of range");
	if (relo->insn_off % 8 || c.insn_idx >= insn_cnt)
		return relo_err(&c, -EINVAL, "%s", "instruction offset outside the section");
	if (relo->kind > BPF_CORE_TYPE_MATCHES)
		return relo_err(&c, -EOPNOTSUPP, "%s", "unknown relocation kind");
	spec = malloc(sizeof(*spec));
	if (!spec)
		return lbpf_err(-ENOMEM, "out of memory in CO-RE relocation");
	err = core_spec_parse(local, relo->type_id, c.access, relo->kind, spec, &why);
	if (err)
		err = relo_err(&c, err, "bad access string: %s", why);
	else
		err = apply_parsed(cache, &c, local, targets, ntargets, spec, &insns[c.insn_idx],
				   insn_cnt - c.insn_idx);
	free(spec);
	return err;
}

/* ---- explaining verifier failures ----------------------------------------------------------- */

/* Index of the instruction the verifier rejected as a call to the poison helper, or -1. */
static long poisoned_insn_in_log(const char *log)
{
	static const char call[] = "call unknown#195896080";
	const char *hit = strstr(log, call), *line;

	if (!hit)
		return strstr(log, "unknown#195896080") ? LONG_MAX : -1;
	for (line = hit; line > log && line[-1] != '\n'; line--)
		;
	if (*line < '0' || *line > '9')
		return LONG_MAX;
	return strtol(line, NULL, 10);
}

static size_t append_poisons(const struct lbpf_core_cand_cache *cache, const char *prog,
			     long insn, bool exact, char *buf, size_t size, size_t used)
{
	size_t i, start = used;

	for (i = 0; cache && i < cache->npoisons && used < size; i++) {
		const struct core_poison *p = &cache->poisons[i];

		if (prog && strcmp(p->prog, prog) != 0)
			continue;
		if (exact && (long)p->insn != insn)
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%sprogram '%s' %s",
					 used > start ? "; " : "", p->prog, p->what);
	}
	return used;
}

int lbpf_core_explain_log(const struct lbpf_core_cand_cache *cache, const char *prog_name,
			  const char *log, char *buf, size_t size)
{
	long insn;
	size_t used;

	if (!log || !buf || !size)
		return 0;
	insn = poisoned_insn_in_log(log);
	if (insn < 0)
		return 0;
	used = (size_t)snprintf(buf, size,
				"the verifier reached an instruction whose CO-RE relocation could "
				"not be resolved against the target BTF: ");
	if (used >= size)
		return 1;
	{
		size_t before = used;

		used = append_poisons(cache, prog_name, insn, true, buf, size, used);
		if (used == before) /* insn moved (subprograms) or unknown: list what we know */
			used = append_poisons(cache, prog_name, insn, false, buf, size, used);
		if (used == before)
			used = append_poisons(cache, NULL, insn, false, buf, size, used);
		if (used == before)
			snprintf(buf + used, size - used, "insn %ld", insn);
	}
	return 1;
}
