/* CO-RE access specs and type compatibility rules.
 *
 * The rules follow the semantics libbpf established (they are the contract compilers and BPF
 * programs rely on): candidates are found by essential name, members are matched by exact name
 * through anonymous structs/unions, array steps must stay in bounds (flexible arrays excepted),
 * and field types only need to be "compatible" (ints with ints, pointers with pointers, ...). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_reloc.h"
#include "core_spec.h"

#define CORE_MAX_DEPTH 32

bool core_kind_is_field(uint32_t kind)
{
	return kind <= BPF_CORE_FIELD_RSHIFT_U64;
}

bool core_kind_is_type(uint32_t kind)
{
	return kind == BPF_CORE_TYPE_ID_LOCAL || kind == BPF_CORE_TYPE_ID_TARGET ||
	       kind == BPF_CORE_TYPE_EXISTS || kind == BPF_CORE_TYPE_SIZE ||
	       kind == BPF_CORE_TYPE_MATCHES;
}

bool core_kind_is_enumval(uint32_t kind)
{
	return kind == BPF_CORE_ENUMVAL_EXISTS || kind == BPF_CORE_ENUMVAL_VALUE;
}

const struct btf_type *core_skip_mods(const lbpf_btf *btf, uint32_t id, uint32_t *id_out)
{
	uint32_t resolved = lbpf_btf_resolve(btf, id);

	if (id_out)
		*id_out = resolved;
	return lbpf_btf_type(btf, resolved);
}

bool core_is_composite(const struct btf_type *t)
{
	uint16_t k = lbpf_btf_kind(t);

	return k == BTF_KIND_STRUCT || k == BTF_KIND_UNION;
}

bool core_is_any_enum(const struct btf_type *t)
{
	uint16_t k = lbpf_btf_kind(t);

	return k == BTF_KIND_ENUM || k == BTF_KIND_ENUM64;
}

static const struct btf_member *members_of(const struct btf_type *t)
{
	return (const struct btf_member *)(t + 1);
}

static const struct btf_array *array_of(const struct btf_type *t)
{
	return (const struct btf_array *)(t + 1);
}

static const struct btf_param *params_of(const struct btf_type *t)
{
	return (const struct btf_param *)(t + 1);
}

uint32_t core_member_bit_offset(const struct btf_type *t, uint32_t idx)
{
	uint32_t off = members_of(t)[idx].offset;

	return lbpf_btf_kflag(t) ? BTF_MEMBER_BIT_OFFSET(off) : off;
}

uint32_t core_member_bitfield_size(const struct btf_type *t, uint32_t idx)
{
	uint32_t off = members_of(t)[idx].offset;

	return lbpf_btf_kflag(t) ? BTF_MEMBER_BITFIELD_SIZE(off) : 0;
}

int64_t core_type_size(const lbpf_btf *btf, uint32_t id)
{
	const struct btf_type *t = core_skip_mods(btf, id, NULL);

	if (t && lbpf_btf_kind(t) == BTF_KIND_PTR)
		return 8;
	return lbpf_btf_type_size(btf, id);
}

static uint32_t enum_name_off(const struct btf_type *t, uint32_t i)
{
	if (lbpf_btf_kind(t) == BTF_KIND_ENUM)
		return ((const struct btf_enum *)(t + 1))[i].name_off;
	return ((const struct btf_enum64 *)(t + 1))[i].name_off;
}

/* Same kind, where ENUM and ENUM64 count as one kind. */
static bool kinds_compat(const struct btf_type *a, const struct btf_type *b)
{
	return lbpf_btf_kind(a) == lbpf_btf_kind(b) || (core_is_any_enum(a) && core_is_any_enum(b));
}

static bool names_match(const char *a, const char *b)
{
	size_t la = lbpf_core_essential_name_len(a), lb = lbpf_core_essential_name_len(b);

	return la == lb && strncmp(a, b, la) == 0;
}

static int int_bit_offset(const struct btf_type *t)
{
	return BTF_INT_OFFSET(*(const uint32_t *)(t + 1));
}

static int int_encoding(const struct btf_type *t)
{
	return BTF_INT_ENCODING(*(const uint32_t *)(t + 1));
}

/* ---- access string parsing ----------------------------------------------------------------- */

static int parse_indices(const char *s, struct core_spec *spec)
{
	while (*s) {
		unsigned long v;
		char *end;

		if (*s == ':')
			s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = strtoul(s, &end, 10);
		if (v > INT32_MAX)
			return -EINVAL;
		if (spec->raw_len == CORE_SPEC_MAX_LEN)
			return -E2BIG;
		spec->raw[spec->raw_len++] = (uint32_t)v;
		s = end;
	}
	return spec->raw_len ? 0 : -EINVAL;
}

/* A zero-length array as the last member of its struct may be indexed past its bound. */
static bool is_flex_array(const lbpf_btf *btf, const struct core_access *outer,
			  const struct btf_array *arr)
{
	const struct btf_type *t;

	if (!outer->name || arr->nelems > 0)
		return false;
	t = lbpf_btf_type(btf, outer->type_id);
	return t && outer->idx == (uint32_t)lbpf_btf_vlen(t) - 1;
}

static int parse_enumval(const lbpf_btf *btf, const struct btf_type *t, struct core_spec *spec,
			 const char **why)
{
	struct core_access *acc = &spec->acc[0];

	if (!core_is_any_enum(t) || spec->raw_len > 1 || acc->idx >= lbpf_btf_vlen(t)) {
		*why = "enum value relocation on a non-enum type or an enumerator out of range";
		return -EINVAL;
	}
	acc->name = lbpf_btf_str(btf, enum_name_off(t, acc->idx));
	return 0;
}

static int parse_member_step(const lbpf_btf *btf, const struct btf_type *t, uint32_t *id,
			     uint32_t idx, struct core_spec *spec, const char **why)
{
	const struct btf_member *m;

	if (idx >= lbpf_btf_vlen(t)) {
		*why = "member index out of range";
		return -EINVAL;
	}
	spec->bit_offset += core_member_bit_offset(t, idx);
	m = members_of(t) + idx;
	if (m->name_off) {
		const char *name = lbpf_btf_str(btf, m->name_off);

		if (!*name) {
			*why = "member name out of the string section";
			return -EINVAL;
		}
		spec->acc[spec->len++] = (struct core_access){ *id, idx, name };
	}
	*id = m->type;
	return 0;
}

static int parse_array_step(const lbpf_btf *btf, const struct btf_type *t, uint32_t *id,
			    uint32_t idx, struct core_spec *spec, const char **why)
{
	const struct btf_array *a = array_of(t);
	int64_t sz;

	if (!core_skip_mods(btf, a->type, id)) {
		*why = "array of void";
		return -EINVAL;
	}
	if (idx >= a->nelems && !is_flex_array(btf, &spec->acc[spec->len - 1], a)) {
		*why = "array index out of bounds";
		return -EINVAL;
	}
	spec->acc[spec->len++] = (struct core_access){ *id, idx, NULL };
	sz = core_type_size(btf, *id);
	if (sz < 0) {
		*why = "array element without a size";
		return (int)sz;
	}
	spec->bit_offset += (uint64_t)idx * (uint64_t)sz * 8;
	return 0;
}

static int parse_field_steps(const lbpf_btf *btf, uint32_t id, struct core_spec *spec,
			     const char **why)
{
	int64_t sz = core_type_size(btf, id);
	int i, err;

	if (sz < 0) {
		*why = "root type has no size";
		return (int)sz;
	}
	spec->bit_offset = (uint64_t)spec->raw[0] * (uint64_t)sz * 8;
	for (i = 1; i < spec->raw_len; i++) {
		const struct btf_type *t = core_skip_mods(btf, id, &id);

		if (!t) {
			*why = "access steps into void";
			return -EINVAL;
		}
		if (spec->len == CORE_SPEC_MAX_LEN)
			return -E2BIG;
		if (core_is_composite(t))
			err = parse_member_step(btf, t, &id, spec->raw[i], spec, why);
		else if (lbpf_btf_kind(t) == BTF_KIND_ARRAY)
			err = parse_array_step(btf, t, &id, spec->raw[i], spec, why);
		else {
			*why = "access steps into a type that is neither struct, union nor array";
			err = -EINVAL;
		}
		if (err)
			return err;
	}
	return 0;
}

int core_spec_parse(const lbpf_btf *btf, uint32_t type_id, const char *spec_str, uint32_t kind,
		    struct core_spec *spec, const char **why)
{
	const struct btf_type *t;
	uint32_t id;
	int err;

	memset(spec, 0, sizeof(*spec));
	spec->btf = btf;
	spec->root_id = type_id;
	spec->kind = kind;
	*why = "malformed access string";
	if (!spec_str || !*spec_str || *spec_str == ':')
		return -EINVAL;
	if (core_kind_is_type(kind))
		return strcmp(spec_str, "0") ? -EINVAL : 0;
	err = parse_indices(spec_str, spec);
	if (err)
		return err;
	t = core_skip_mods(btf, type_id, &id);
	if (!t) {
		*why = "relocation on void or an invalid type id";
		return -EINVAL;
	}
	spec->acc[0] = (struct core_access){ id, spec->raw[0], NULL };
	spec->len = 1;
	if (core_kind_is_enumval(kind))
		return parse_enumval(btf, t, spec, why);
	if (!core_kind_is_field(kind)) {
		*why = "unknown relocation kind";
		return -EOPNOTSUPP;
	}
	return parse_field_steps(btf, id, spec, why);
}

/* ---- compatibility ------------------------------------------------------------------------- */

/* Whether a local field type may be read as the target's: composites with composites, same
 * kinds otherwise, enums/fwds by essential name, arrays by element. */
static int fields_compat(const lbpf_btf *lb, uint32_t lid, const lbpf_btf *tb, uint32_t tid)
{
	int depth;

	for (depth = 0; depth < CORE_MAX_DEPTH; depth++) {
		const struct btf_type *l = core_skip_mods(lb, lid, &lid);
		const struct btf_type *t = core_skip_mods(tb, tid, &tid);

		if (!l || !t)
			return -EINVAL;
		if (core_is_composite(l) && core_is_composite(t))
			return 1;
		if (!kinds_compat(l, t))
			return 0;
		switch (lbpf_btf_kind(l)) {
		case BTF_KIND_PTR:
		case BTF_KIND_FLOAT:
			return 1;
		case BTF_KIND_FWD:
		case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64: {
			const char *ln = lbpf_btf_str(lb, l->name_off);
			const char *tn = lbpf_btf_str(tb, t->name_off);

			return !*ln || !*tn || names_match(ln, tn);
		}
		case BTF_KIND_INT:
			return int_bit_offset(l) == 0 && int_bit_offset(t) == 0;
		case BTF_KIND_ARRAY:
			lid = array_of(l)->type;
			tid = array_of(t)->type;
			continue;
		default:
			return 0;
		}
	}
	return -ELOOP;
}

static int types_compat(const lbpf_btf *lb, uint32_t lid, const lbpf_btf *tb, uint32_t tid,
			int level);

static int protos_compat(const lbpf_btf *lb, const struct btf_type *l, const lbpf_btf *tb,
			 const struct btf_type *t, int level)
{
	const struct btf_param *lp = params_of(l), *tp = params_of(t);
	int i, n = lbpf_btf_vlen(l), err;

	if (n != lbpf_btf_vlen(t))
		return 0;
	if (level <= 0)
		return -ELOOP;
	for (i = 0; i < n; i++) {
		err = types_compat(lb, lp[i].type, tb, tp[i].type, level - 1);
		if (err <= 0)
			return err;
	}
	return 1;
}

static int types_compat(const lbpf_btf *lb, uint32_t lid, const lbpf_btf *tb, uint32_t tid,
			int level)
{
	int depth, err;

	for (depth = 0; depth < CORE_MAX_DEPTH; depth++) {
		const struct btf_type *l = core_skip_mods(lb, lid, &lid);
		const struct btf_type *t = core_skip_mods(tb, tid, &tid);

		if (!l || !t)
			return (!l && !t) ? 1 : 0; /* void matches void only */
		if (!kinds_compat(l, t))
			return 0;
		switch (lbpf_btf_kind(l)) {
		case BTF_KIND_STRUCT:
		case BTF_KIND_UNION:
		case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64:
		case BTF_KIND_FWD:
			return 1;
		case BTF_KIND_INT:
			return int_bit_offset(l) == 0 && int_bit_offset(t) == 0;
		case BTF_KIND_PTR:
			lid = l->type;
			tid = t->type;
			continue;
		case BTF_KIND_ARRAY:
			lid = array_of(l)->type;
			tid = array_of(t)->type;
			continue;
		case BTF_KIND_FUNC_PROTO:
			err = protos_compat(lb, l, tb, t, level);
			if (err <= 0)
				return err;
			lid = l->type; /* then the return types */
			tid = t->type;
			continue;
		default:
			return 0;
		}
	}
	return -ELOOP;
}

int lbpf_core_types_compat(const lbpf_btf *local, uint32_t local_id, const lbpf_btf *target,
			   uint32_t target_id)
{
	const struct btf_type *l = lbpf_btf_type(local, local_id);
	const struct btf_type *t = lbpf_btf_type(target, target_id);

	/* The roots' own kinds must agree before typedefs are looked through. */
	if (!l || !t || !kinds_compat(l, t))
		return 0;
	return types_compat(local, local_id, target, target_id, CORE_MAX_DEPTH);
}

/* ---- TYPE_MATCHES --------------------------------------------------------------------------- */

static int types_match(const lbpf_btf *lb, uint32_t lid, const lbpf_btf *tb, uint32_t tid,
		       bool behind_ptr, int level);

static bool name_offs_match(const lbpf_btf *lb, uint32_t loff, const lbpf_btf *tb, uint32_t toff)
{
	const char *ln = lbpf_btf_str(lb, loff), *tn = lbpf_btf_str(tb, toff);

	if (!*tn)
		return !*ln;
	return names_match(ln, tn);
}

static int enums_match(const lbpf_btf *lb, const struct btf_type *l, const lbpf_btf *tb,
		       const struct btf_type *t)
{
	int i, j, ln = lbpf_btf_vlen(l), tn = lbpf_btf_vlen(t);

	if (l->size != t->size || ln > tn)
		return 0;
	for (i = 0; i < ln; i++) {
		for (j = 0; j < tn; j++)
			if (name_offs_match(lb, enum_name_off(l, i), tb, enum_name_off(t, j)))
				break;
		if (j == tn)
			return 0;
	}
	return 1;
}

static int composites_match(const lbpf_btf *lb, const struct btf_type *l, const lbpf_btf *tb,
			    const struct btf_type *t, bool behind_ptr, int level)
{
	const struct btf_member *lm = members_of(l), *tm = members_of(t);
	int i, j, ln = lbpf_btf_vlen(l), tn = lbpf_btf_vlen(t), err = 0;

	if (ln > tn)
		return 0;
	for (i = 0; i < ln; i++) {
		for (j = 0; j < tn; j++) {
			if (!name_offs_match(lb, lm[i].name_off, tb, tm[j].name_off))
				continue;
			err = types_match(lb, lm[i].type, tb, tm[j].type, behind_ptr, level - 1);
			if (err != 0)
				break;
		}
		if (err < 0)
			return err;
		if (j == tn)
			return 0;
	}
	return 1;
}

static int fwd_match(const struct btf_type *l, const struct btf_type *t, bool behind_ptr)
{
	bool lunion = lbpf_btf_kflag(l);
	uint16_t tk = lbpf_btf_kind(t);

	if (tk == BTF_KIND_FWD)
		return lunion == lbpf_btf_kflag(t);
	if (!behind_ptr)
		return 0;
	return (tk == BTF_KIND_STRUCT && !lunion) || (tk == BTF_KIND_UNION && lunion);
}

static int composite_match(const lbpf_btf *lb, const struct btf_type *l, const lbpf_btf *tb,
			   const struct btf_type *t, bool behind_ptr, int level)
{
	uint16_t lk = lbpf_btf_kind(l), tk = lbpf_btf_kind(t);

	if (lk == tk)
		return behind_ptr ? 1 : composites_match(lb, l, tb, t, behind_ptr, level);
	if (behind_ptr && tk == BTF_KIND_FWD)
		return (lk == BTF_KIND_UNION) == lbpf_btf_kflag(t);
	return 0;
}

static int protos_match(const lbpf_btf *lb, const struct btf_type *l, const lbpf_btf *tb,
			const struct btf_type *t, bool behind_ptr, int level)
{
	const struct btf_param *lp = params_of(l), *tp = params_of(t);
	int i, n = lbpf_btf_vlen(l), err;

	if (n != lbpf_btf_vlen(t))
		return 0;
	for (i = 0; i < n; i++) {
		err = types_match(lb, lp[i].type, tb, tp[i].type, behind_ptr, level - 1);
		if (err <= 0)
			return err;
	}
	return 1;
}

static int types_match(const lbpf_btf *lb, uint32_t lid, const lbpf_btf *tb, uint32_t tid,
		       bool behind_ptr, int level)
{
	int depth, err;

	if (level <= 0)
		return -ELOOP;
	for (depth = 0; depth < CORE_MAX_DEPTH; depth++) {
		const struct btf_type *l = core_skip_mods(lb, lid, &lid);
		const struct btf_type *t = core_skip_mods(tb, tid, &tid);

		if (!l || !t)
			return (!l && !t) ? 1 : 0;
		if (!name_offs_match(lb, l->name_off, tb, t->name_off))
			return 0;
		switch (lbpf_btf_kind(l)) {
		case BTF_KIND_FWD:
			return fwd_match(l, t, behind_ptr);
		case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64:
			return core_is_any_enum(t) ? enums_match(lb, l, tb, t) : 0;
		case BTF_KIND_STRUCT:
		case BTF_KIND_UNION:
			return composite_match(lb, l, tb, t, behind_ptr, level);
		case BTF_KIND_INT:
			return lbpf_btf_kind(t) == BTF_KIND_INT && l->size == t->size &&
			       (int_encoding(l) & BTF_INT_SIGNED) == (int_encoding(t) & BTF_INT_SIGNED);
		case BTF_KIND_FLOAT:
			return lbpf_btf_kind(t) == BTF_KIND_FLOAT && l->size == t->size;
		case BTF_KIND_PTR:
			if (lbpf_btf_kind(t) != BTF_KIND_PTR)
				return 0;
			behind_ptr = true;
			lid = l->type;
			tid = t->type;
			continue;
		case BTF_KIND_ARRAY:
			if (lbpf_btf_kind(t) != BTF_KIND_ARRAY ||
			    array_of(l)->nelems != array_of(t)->nelems)
				return 0;
			lid = array_of(l)->type;
			tid = array_of(t)->type;
			continue;
		case BTF_KIND_FUNC_PROTO:
			if (lbpf_btf_kind(t) != BTF_KIND_FUNC_PROTO)
				return 0;
			err = protos_match(lb, l, tb, t, behind_ptr, level);
			if (err <= 0)
				return err;
			lid = l->type;
			tid = t->type;
			continue;
		default:
			return 0;
		}
	}
	return -ELOOP;
}

int core_types_match(const lbpf_btf *local, uint32_t local_id, const lbpf_btf *targ,
		     uint32_t targ_id)
{
	return types_match(local, local_id, targ, targ_id, false, CORE_MAX_DEPTH);
}

/* ---- matching a local spec against a candidate ---------------------------------------------- */

static int match_enumval(const struct core_spec *local, const lbpf_btf *tb, uint32_t tid,
			 struct core_spec *targ)
{
	const struct btf_type *t = core_skip_mods(tb, tid, &tid);
	int i, n;

	if (!t || !core_is_any_enum(t))
		return 0;
	n = lbpf_btf_vlen(t);
	for (i = 0; i < n; i++) {
		const char *name = lbpf_btf_str(tb, enum_name_off(t, i));

		if (names_match(local->acc[0].name, name)) {
			targ->acc[0] = (struct core_access){ tid, (uint32_t)i, name };
			targ->len = 1;
			targ->raw[0] = (uint32_t)i;
			targ->raw_len = 1;
			return 1;
		}
	}
	return 0;
}

/* Finds the member named like local's member acc in target composite tid, looking through
 * anonymous members; pushes the raw path and the named access on success. */
static int match_member(const struct core_spec *local, const struct core_access *acc,
			const lbpf_btf *tb, uint32_t tid, struct core_spec *targ, uint32_t *next,
			int level)
{
	const struct btf_type *lt = lbpf_btf_type(local->btf, acc->type_id);
	const struct btf_member *lm = members_of(lt) + acc->idx;
	const struct btf_type *t = core_skip_mods(tb, tid, &tid);
	int i, n, found;

	if (!t)
		return -EINVAL;
	if (!core_is_composite(t))
		return 0;
	if (level <= 0)
		return -ELOOP;
	n = lbpf_btf_vlen(t);
	for (i = 0; i < n; i++) {
		const struct btf_member *m = members_of(t) + i;
		const char *name = lbpf_btf_str(tb, m->name_off);
		uint32_t bit_off = core_member_bit_offset(t, (uint32_t)i);

		if (targ->raw_len == CORE_SPEC_MAX_LEN || targ->len == CORE_SPEC_MAX_LEN)
			return -E2BIG;
		targ->bit_offset += bit_off; /* tentatively descend into member i */
		targ->raw[targ->raw_len++] = (uint32_t)i;
		if (!*name) {
			found = match_member(local, acc, tb, m->type, targ, next, level - 1);
			if (found)
				return found;
		} else if (strcmp(acc->name, name) == 0) {
			*next = m->type;
			found = fields_compat(local->btf, lm->type, tb, m->type);
			if (found > 0)
				targ->acc[targ->len++] = (struct core_access){ tid, (uint32_t)i, name };
			return found;
		}
		targ->bit_offset -= bit_off;
		targ->raw_len--;
	}
	return 0;
}

static int match_array_step(const struct core_spec *local, int i, const lbpf_btf *tb,
			    uint32_t *tid, struct core_spec *targ)
{
	const struct core_access *lacc = &local->acc[i];
	int64_t sz;

	if (i > 0) {
		const struct btf_type *t = lbpf_btf_type(tb, *tid);
		const struct btf_array *a;

		if (lbpf_btf_kind(t) != BTF_KIND_ARRAY)
			return 0;
		a = array_of(t);
		if (lacc->idx >= a->nelems && !is_flex_array(tb, &targ->acc[targ->len - 1], a))
			return 0;
		if (!core_skip_mods(tb, a->type, tid))
			return -EINVAL;
	}
	if (targ->raw_len == CORE_SPEC_MAX_LEN)
		return -E2BIG;
	targ->acc[targ->len++] = (struct core_access){ *tid, lacc->idx, NULL };
	targ->raw[targ->raw_len++] = lacc->idx;
	sz = core_type_size(tb, *tid);
	if (sz < 0)
		return (int)sz;
	targ->bit_offset += (uint64_t)lacc->idx * (uint64_t)sz * 8;
	return 1;
}

static int match_fields(const struct core_spec *local, const lbpf_btf *tb, uint32_t tid,
			struct core_spec *targ)
{
	int i, found;

	for (i = 0; i < local->len; i++) {
		if (!core_skip_mods(tb, tid, &tid))
			return -EINVAL;
		if (local->acc[i].name)
			found = match_member(local, &local->acc[i], tb, tid, targ, &tid,
					     CORE_MAX_DEPTH);
		else
			found = match_array_step(local, i, tb, &tid, targ);
		if (found <= 0)
			return found;
	}
	return 1;
}

int core_spec_match(const struct core_spec *local, const lbpf_btf *targ_btf, uint32_t targ_id,
		    struct core_spec *targ)
{
	memset(targ, 0, sizeof(*targ));
	targ->btf = targ_btf;
	targ->root_id = targ_id;
	targ->kind = local->kind;
	if (core_kind_is_type(local->kind)) {
		if (local->kind == BPF_CORE_TYPE_MATCHES)
			return core_types_match(local->btf, local->root_id, targ_btf, targ_id);
		return lbpf_core_types_compat(local->btf, local->root_id, targ_btf, targ_id);
	}
	if (core_kind_is_enumval(local->kind))
		return match_enumval(local, targ_btf, targ_id, targ);
	if (!core_kind_is_field(local->kind))
		return -EINVAL;
	return match_fields(local, targ_btf, targ_id, targ);
}

/* ---- description ---------------------------------------------------------------------------- */

static const char *kind_word(const struct btf_type *t)
{
	switch (t ? lbpf_btf_kind(t) : 0) {
	case BTF_KIND_STRUCT: return "struct ";
	case BTF_KIND_UNION: return "union ";
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64: return "enum ";
	default: return "";
	}
}

void core_spec_describe(const struct core_spec *spec, char *buf, size_t size)
{
	const struct btf_type *root = lbpf_btf_type(spec->btf, spec->root_id);
	size_t used;
	int i;

	snprintf(buf, size, "%s%s", kind_word(root), lbpf_btf_type_name(spec->btf, spec->root_id));
	if (core_kind_is_enumval(spec->kind) && spec->len > 0) {
		used = strlen(buf);
		snprintf(buf + used, size - used, "::%s", spec->acc[0].name);
		return;
	}
	for (i = 0; i < spec->len; i++) {
		const struct core_access *a = &spec->acc[i];

		used = strlen(buf);
		if (used + 1 >= size)
			return;
		if (a->name)
			snprintf(buf + used, size - used, ".%s", a->name);
		else if (i > 0 || a->idx)
			snprintf(buf + used, size - used, "[%u]", a->idx);
	}
}
