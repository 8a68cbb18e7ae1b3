/* BTF reader: validation in one pass over the type section, type queries, lazy name index. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bounds.h"
#include "btf_internal.h"
#include "error.h"

static const char *const kind_names[NR_BTF_KINDS] = {
	[BTF_KIND_UNKN] = "unknown", [BTF_KIND_INT] = "int", [BTF_KIND_PTR] = "ptr",
	[BTF_KIND_ARRAY] = "array", [BTF_KIND_STRUCT] = "struct", [BTF_KIND_UNION] = "union",
	[BTF_KIND_ENUM] = "enum", [BTF_KIND_FWD] = "fwd", [BTF_KIND_TYPEDEF] = "typedef",
	[BTF_KIND_VOLATILE] = "volatile", [BTF_KIND_CONST] = "const",
	[BTF_KIND_RESTRICT] = "restrict", [BTF_KIND_FUNC] = "func",
	[BTF_KIND_FUNC_PROTO] = "func_proto", [BTF_KIND_VAR] = "var",
	[BTF_KIND_DATASEC] = "datasec", [BTF_KIND_FLOAT] = "float",
	[BTF_KIND_DECL_TAG] = "decl_tag", [BTF_KIND_TYPE_TAG] = "type_tag",
	[BTF_KIND_ENUM64] = "enum64",
};

const char *lbpf_btf_kind_name(unsigned int kind)
{
	return kind < NR_BTF_KINDS ? kind_names[kind] : "?";
}

int lbpf_btf_kind_from_name(const char *name)
{
	for (int k = 1; k < NR_BTF_KINDS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

/* Bytes following struct btf_type: per kind, times vlen where the kind has a list. */
static size_t extra_size(unsigned int kind, unsigned int vlen)
{
	switch (kind) {
	case BTF_KIND_INT: return sizeof(uint32_t);
	case BTF_KIND_ARRAY: return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION: return (size_t)vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM: return (size_t)vlen * sizeof(struct btf_enum);
	case BTF_KIND_ENUM64: return (size_t)vlen * sizeof(struct btf_enum64);
	case BTF_KIND_FUNC_PROTO: return (size_t)vlen * sizeof(struct btf_param);
	case BTF_KIND_VAR: return sizeof(struct btf_var);
	case BTF_KIND_DATASEC: return (size_t)vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG: return sizeof(struct btf_decl_tag);
	default: return 0;
	}
}

size_t lbpf_btf_type_rec_size(const struct btf_type *t)
{
	return sizeof(*t) + extra_size(BTF_INFO_KIND(t->info), BTF_INFO_VLEN(t->info));
}

/* ---- validation ------------------------------------------------------------------------------ */

struct parse_state {
	lbpf_btf *btf;
	uint32_t str_total;  /* valid string offsets are < this (base strings included) */
	uint32_t max_ref;    /* largest type id referenced, checked once the count is known */
	uint32_t max_ref_by; /* which type referenced it */
};

static int check_header(const uint8_t *data, size_t size, struct btf_header *hdr)
{
	if (size < sizeof(*hdr))
		return lbpf_err(EINVAL, "BTF: %zu bytes is too short for a header", size);
	memcpy(hdr, data, sizeof(*hdr));
	if (hdr->magic == 0x9FeB)
		return lbpf_err(EINVAL, "BTF: big-endian BTF is not supported (little-endian only)");
	if (hdr->magic != LBPF_BTF_MAGIC)
		return lbpf_err(EINVAL, "BTF: bad magic 0x%04x (expected 0xeb9f)", hdr->magic);
	if (hdr->version != BTF_VERSION)
		return lbpf_err(EINVAL, "BTF: unsupported version %u", hdr->version);
	if (hdr->hdr_len < sizeof(*hdr) || hdr->hdr_len > size)
		return lbpf_err(EINVAL, "BTF: header length %u out of range (file %zu bytes)",
				hdr->hdr_len, size);
	/* A longer header than ours must have zeros in the part we don't know. */
	for (size_t i = sizeof(*hdr); i < hdr->hdr_len; i++)
		if (data[i])
			return lbpf_err(EINVAL, "BTF: unknown non-zero header field at byte %zu", i);
	size_t body = size - hdr->hdr_len;
	if (!lbpf_range_ok(hdr->type_off, hdr->type_len, body))
		return lbpf_err(EINVAL, "BTF: type section [%u, +%u) outside the %zu-byte body",
				hdr->type_off, hdr->type_len, body);
	if (!lbpf_range_ok(hdr->str_off, hdr->str_len, body))
		return lbpf_err(EINVAL, "BTF: string section [%u, +%u) outside the %zu-byte body",
				hdr->str_off, hdr->str_len, body);
	if ((hdr->hdr_len + hdr->type_off) % 4)
		return lbpf_err(EINVAL, "BTF: type section offset %u is not 4-byte aligned",
				hdr->hdr_len + hdr->type_off);
	if (hdr->type_off < hdr->str_off ? hdr->type_off + hdr->type_len > hdr->str_off
					 : hdr->str_off + hdr->str_len > hdr->type_off)
		return lbpf_err(EINVAL, "BTF: type and string sections overlap");
	return 0;
}

static int check_strings(const lbpf_btf *btf)
{
	if (btf->strs_len == 0 && !btf->base)
		return lbpf_err(EINVAL, "BTF: empty string section");
	if (btf->strs_len && btf->strs[btf->strs_len - 1] != '\0')
		return lbpf_err(EINVAL, "BTF: string section is not NUL-terminated");
	if (!btf->base && btf->strs[0] != '\0')
		return lbpf_err(EINVAL, "BTF: string section does not start with an empty string");
	return 0;
}

static inline int check_name(const struct parse_state *ps, uint32_t id, uint32_t off,
			     const char *what)
{
	if (off < ps->str_total)
		return 0;
	return lbpf_err(EINVAL, "BTF: type [%u] %s name offset %u out of range (strings: %u bytes)",
			id, what, off, ps->str_total);
}

static inline void note_ref(struct parse_state *ps, uint32_t id, uint32_t ref)
{
	if (ref > ps->max_ref) {
		ps->max_ref = ref;
		ps->max_ref_by = id;
	}
}

/* Hot loop of the parse (vmlinux has about a million members): maxima first, one branch per
 * record, and the slow path only to name the culprit. */
static int check_members(struct parse_state *ps, uint32_t id, const struct btf_type *t)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	unsigned int vlen = BTF_INFO_VLEN(t->info);
	uint32_t offset_mask = BTF_INFO_KFLAG(t->info) ? 0xffffff : 0xffffffff;
	uint32_t max_name = 0, max_type = 0, max_off = 0;
	for (unsigned int i = 0; i < vlen; i++) {
		uint32_t off = m[i].offset & offset_mask;
		max_name = m[i].name_off > max_name ? m[i].name_off : max_name;
		max_type = m[i].type > max_type ? m[i].type : max_type;
		max_off = off > max_off ? off : max_off;
	}
	note_ref(ps, id, max_type);
	if (max_name < ps->str_total && max_off <= 8ull * t->size)
		return 0;
	for (unsigned int i = 0; i < vlen; i++) {
		if (m[i].name_off >= ps->str_total)
			return check_name(ps, id, m[i].name_off, "member");
		if ((m[i].offset & offset_mask) > 8ull * t->size)
			return lbpf_err(EINVAL, "BTF: type [%u] member %u '%s' at bit %u lies outside the "
					"%u-byte record", id, i, lbpf_btf_str(ps->btf, m[i].name_off),
					m[i].offset & offset_mask, t->size);
	}
	return 0;
}

static int check_params(struct parse_state *ps, uint32_t id, const struct btf_type *t)
{
	const struct btf_param *p = (const struct btf_param *)(t + 1);
	note_ref(ps, id, t->type);
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		if (p[i].name_off >= ps->str_total)
			return check_name(ps, id, p[i].name_off, "parameter");
		note_ref(ps, id, p[i].type);
	}
	return 0;
}

static int check_enum(struct parse_state *ps, uint32_t id, const struct btf_type *t)
{
	unsigned int vlen = BTF_INFO_VLEN(t->info);
	bool is64 = BTF_INFO_KIND(t->info) == BTF_KIND_ENUM64;
	size_t step = is64 ? sizeof(struct btf_enum64) : sizeof(struct btf_enum);
	const uint8_t *e = (const uint8_t *)(t + 1);
	for (unsigned int i = 0; i < vlen; i++, e += step) {
		uint32_t off;
		memcpy(&off, e, sizeof(off)); /* name_off is the first field of both */
		if (off >= ps->str_total)
			return check_name(ps, id, off, "enumerator");
	}
	return 0;
}

/* Kind-specific checks of one type record (already known to fit in the section). */
static int check_type(struct parse_state *ps, uint32_t id, const struct btf_type *t)
{
	unsigned int kind = BTF_INFO_KIND(t->info);
	if (t->name_off >= ps->str_total)
		return check_name(ps, id, t->name_off, "type");
	switch (kind) {
	case BTF_KIND_INT: {
		uint32_t enc = *(const uint32_t *)(t + 1);
		if (BTF_INT_BITS(enc) > 128 || BTF_INT_OFFSET(enc) + BTF_INT_BITS(enc) > 128 ||
		    t->size > 16 || t->size == 0)
			return lbpf_err(EINVAL, "BTF: type [%u] int has a bad encoding", id);
		return 0;
	}
	case BTF_KIND_PTR: case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT: case BTF_KIND_FUNC: case BTF_KIND_VAR: case BTF_KIND_DECL_TAG:
	case BTF_KIND_TYPE_TAG:
		note_ref(ps, id, t->type);
		return 0;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = (const struct btf_array *)(t + 1);
		note_ref(ps, id, a->type);
		note_ref(ps, id, a->index_type);
		return 0;
	}
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		return check_members(ps, id, t);
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		return check_enum(ps, id, t);
	case BTF_KIND_FUNC_PROTO:
		return check_params(ps, id, t);
	case BTF_KIND_DATASEC: {
		const struct btf_var_secinfo *v = (const struct btf_var_secinfo *)(t + 1);
		for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++)
			note_ref(ps, id, v[i].type);
		return 0;
	}
	case BTF_KIND_FWD:
		/* Nothing follows a FWD: a list length would make readers walk into the next type
		 * (the kernel refuses it too). */
		if (BTF_INFO_VLEN(t->info))
			return lbpf_err(EINVAL, "BTF: type [%u] fwd has %u members", id,
					BTF_INFO_VLEN(t->info));
		return 0;
	case BTF_KIND_FLOAT:
		return 0;
	default:
		return lbpf_err(EINVAL, "BTF: type [%u] has unknown kind %u", id, kind);
	}
}

/* The single pass: record every type's offset and validate it. */
static int index_types(struct parse_state *ps)
{
	lbpf_btf *btf = ps->btf;
	/* Every record is at least 12 bytes: an upper bound on the count, never touched beyond. */
	btf->offs = malloc((btf->types_len / sizeof(struct btf_type) + 1) * sizeof(uint32_t));
	if (!btf->offs)
		return lbpf_err(ENOMEM, "BTF: out of memory for the type index");
	uint32_t pos = 0, n = 0;
	while (pos < btf->types_len) {
		uint32_t id = btf->start_id + n;
		if (btf->types_len - pos < sizeof(struct btf_type))
			return lbpf_err(EINVAL, "BTF: type [%u] header truncated at offset %u", id, pos);
		const struct btf_type *t = (const struct btf_type *)(btf->types + pos);
		unsigned int kind = BTF_INFO_KIND(t->info);
		if (kind == BTF_KIND_UNKN || kind > BTF_KIND_MAX)
			return lbpf_err(EINVAL, "BTF: type [%u] has unknown kind %u", id, kind);
		size_t rec = sizeof(*t) + extra_size(kind, BTF_INFO_VLEN(t->info));
		if (rec > btf->types_len - pos)
			return lbpf_err(EINVAL, "BTF: type [%u] (%s, %u entries) runs past the type "
					"section", id, kind_names[kind], BTF_INFO_VLEN(t->info));
		int err = check_type(ps, id, t);
		if (err)
			return err;
		btf->offs[n++] = pos;
		pos += rec;
	}
	btf->nr = n;
	if (ps->max_ref >= btf->start_id + n)
		return lbpf_err(EINVAL, "BTF: type [%u] refers to type id %u, out of range (%u types)",
				ps->max_ref_by, ps->max_ref, btf->start_id + n - 1);
	return 0;
}

static bool is_chain_kind(unsigned int kind)
{
	switch (kind) {
	case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG: case BTF_KIND_ARRAY:
		return true;
	default:
		return false;
	}
}

static uint32_t chain_next(const struct btf_type *t)
{
	if (BTF_INFO_KIND(t->info) == BTF_KIND_ARRAY)
		return ((const struct btf_array *)(t + 1))->type;
	return t->type;
}

/* Typedef/qualifier/array chains must end: a cycle among them has no meaning in C and would
 * send resolve/size into a loop. Coloured walk, linear in the number of types. */
static int check_chain_loops(lbpf_btf *btf)
{
	uint8_t *color = calloc(btf->nr ? btf->nr : 1, 1); /* 0 new, 1 on this walk, 2 done */
	if (!color)
		return lbpf_err(ENOMEM, "BTF: out of memory");
	int err = 0;
	for (uint32_t i = 0; i < btf->nr && !err; i++) {
		uint32_t cur = i;
		while (!color[cur]) {
			const struct btf_type *t = (const struct btf_type *)(btf->types + btf->offs[cur]);
			if (!is_chain_kind(BTF_INFO_KIND(t->info)))
				break;
			color[cur] = 1;
			uint32_t next = chain_next(t);
			if (next < btf->start_id)
				break; /* void or a base type: the base was checked on its own */
			cur = next - btf->start_id;
			if (color[cur] == 1) {
				err = lbpf_err(EINVAL, "BTF: type [%u] (%s '%s') is part of a loop of "
					       "typedefs/qualifiers/arrays", next,
					       kind_names[BTF_INFO_KIND(t->info)],
					       lbpf_btf_type_name(btf, next));
				break;
			}
		}
		for (cur = i; color[cur] == 1;) {
			color[cur] = 2;
			const struct btf_type *t = (const struct btf_type *)(btf->types + btf->offs[cur]);
			uint32_t next = chain_next(t);
			if (next < btf->start_id)
				break;
			cur = next - btf->start_id;
		}
	}
	free(color);
	return err;
}

static void release_data(uint8_t *data, size_t size, bool mapped)
{
	if (mapped)
		munmap(data, size);
	else
		free(data);
}

int lbpf_btf_parse_owned(uint8_t *data, size_t size, bool mapped, const lbpf_btf *base,
			 lbpf_btf **out)
{
	return lbpf_btf_parse_owned_ex(data, size, mapped, base, false, out);
}

int lbpf_btf_parse_owned_ex(uint8_t *data, size_t size, bool mapped, const lbpf_btf *base,
			    bool kernel_checked, lbpf_btf **out)
{
	struct btf_header hdr;
	*out = NULL;
	int err = check_header(data, size, &hdr);
	if (err) {
		release_data(data, size, mapped);
		return err;
	}
	lbpf_btf *btf = calloc(1, sizeof(*btf));
	if (!btf) {
		release_data(data, size, mapped);
		return lbpf_err(ENOMEM, "BTF: out of memory");
	}
	btf->data = data;
	btf->size = size;
	btf->mapped = mapped;
	btf->fd = -1;
	btf->types = data + hdr.hdr_len + hdr.type_off;
	btf->types_len = hdr.type_len;
	btf->strs = (const char *)data + hdr.hdr_len + hdr.str_off;
	btf->strs_len = hdr.str_len;
	btf->base = base;
	btf->start_id = base ? lbpf_btf_type_count(base) : 1;
	btf->start_str = base ? base->start_str + base->strs_len : 0;
	struct parse_state ps = { .btf = btf, .str_total = btf->start_str + btf->strs_len };
	err = check_strings(btf);
	if (!err)
		err = index_types(&ps);
	/* The kernel refuses BTF with such loops, so its own BTF needs no second pass (resolve,
	 * size and the C writer still bound their walks). */
	if (!err && !kernel_checked)
		err = check_chain_loops(btf);
	if (err) {
		lbpf_btf_free(btf);
		return err;
	}
	*out = btf;
	return 0;
}

int lbpf_btf_open_mem(const void *data, size_t size, lbpf_btf **out)
{
	*out = NULL;
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return lbpf_err(ENOMEM, "BTF: out of memory");
	memcpy(copy, data, size);
	return lbpf_btf_parse_owned(copy, size, false, NULL, out);
}

void lbpf_btf_free(lbpf_btf *btf)
{
	if (!btf)
		return;
	if (btf->fd >= 0)
		close(btf->fd);
	release_data(btf->data, btf->size, btf->mapped);
	free(btf->offs);
	free(btf->name_buckets);
	free(btf->name_chain);
	free(btf->flavoured);
	free(btf->ext_data);
	for (size_t i = 0; i < btf->elf_nsecs; i++)
		free(btf->elf_secs[i].name);
	free(btf->elf_secs);
	free(btf);
}

int lbpf_btf_make_writable(lbpf_btf *btf)
{
	if (!btf->mapped)
		return 0;
	uint8_t *copy = malloc(btf->size);
	if (!copy)
		return lbpf_err(ENOMEM, "BTF: out of memory");
	memcpy(copy, btf->data, btf->size);
	btf->types = copy + (btf->types - btf->data);
	btf->strs = (const char *)copy + (btf->strs - (const char *)btf->data);
	munmap(btf->data, btf->size);
	btf->data = copy;
	btf->mapped = false;
	return 0;
}

/* ---- queries ---------------------------------------------------------------------------------- */

uint32_t lbpf_btf_type_count(const lbpf_btf *btf)
{
	return btf->start_id + btf->nr;
}

const struct btf_type *lbpf_btf_type(const lbpf_btf *btf, uint32_t id)
{
	if (id < btf->start_id)
		return btf->base && id ? lbpf_btf_type(btf->base, id) : NULL;
	if (id - btf->start_id >= btf->nr)
		return NULL;
	return (const struct btf_type *)(btf->types + btf->offs[id - btf->start_id]);
}

struct btf_type *lbpf_btf_type_mut(lbpf_btf *btf, uint32_t id)
{
	if (id < btf->start_id || id - btf->start_id >= btf->nr || btf->mapped)
		return NULL;
	return (struct btf_type *)(btf->types + btf->offs[id - btf->start_id]);
}

const char *lbpf_btf_str(const lbpf_btf *btf, uint32_t offset)
{
	if (offset < btf->start_str)
		return btf->base ? lbpf_btf_str(btf->base, offset) : "";
	offset -= btf->start_str;
	return offset < btf->strs_len ? btf->strs + offset : "";
}

const char *lbpf_btf_type_name(const lbpf_btf *btf, uint32_t id)
{
	const struct btf_type *t = lbpf_btf_type(btf, id);
	return t ? lbpf_btf_str(btf, t->name_off) : "";
}

static bool is_modifier(unsigned int kind)
{
	switch (kind) {
	case BTF_KIND_TYPEDEF: case BTF_KIND_VOLATILE: case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT: case BTF_KIND_TYPE_TAG: case BTF_KIND_DECL_TAG:
		return true;
	default:
		return false;
	}
}

int lbpf_btf_resolve_checked(const lbpf_btf *btf, uint32_t id, uint32_t *out)
{
	uint32_t start = id;
	for (int depth = 0; depth <= LBPF_BTF_MAX_CHAIN; depth++) {
		if (id == 0) {
			*out = 0;
			return 0;
		}
		const struct btf_type *t = lbpf_btf_type(btf, id);
		if (!t)
			return lbpf_err(EINVAL, "BTF: type id %u out of range (%u types)", id,
					lbpf_btf_type_count(btf));
		if (!is_modifier(BTF_INFO_KIND(t->info))) {
			*out = id;
			return 0;
		}
		id = t->type;
	}
	return lbpf_err(EINVAL, "BTF: type [%u] ('%s'): typedef/qualifier chain longer than %d "
			"(a loop?)", start, lbpf_btf_type_name(btf, start), LBPF_BTF_MAX_CHAIN);
}

uint32_t lbpf_btf_resolve(const lbpf_btf *btf, uint32_t id)
{
	uint32_t out;
	return lbpf_btf_resolve_checked(btf, id, &out) ? 0 : out;
}

int64_t lbpf_btf_type_size(const lbpf_btf *btf, uint32_t id)
{
	uint64_t mult = 1;
	uint32_t start = id;
	for (int depth = 0; depth <= LBPF_BTF_MAX_CHAIN; depth++) {
		uint32_t rid;
		int err = lbpf_btf_resolve_checked(btf, id, &rid);
		if (err)
			return err;
		const struct btf_type *t = lbpf_btf_type(btf, rid);
		if (!t)
			return lbpf_err(EINVAL, "BTF: type [%u] has no size (void)", start);
		switch (BTF_INFO_KIND(t->info)) {
		case BTF_KIND_INT: case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64: case BTF_KIND_DATASEC: case BTF_KIND_FLOAT:
			mult *= t->size;
			if (mult > INT64_MAX / 2)
				return lbpf_err(E2BIG, "BTF: type [%u] size overflows", start);
			return (int64_t)mult;
		case BTF_KIND_PTR:
			return (int64_t)(mult * sizeof(void *));
		case BTF_KIND_ARRAY: {
			const struct btf_array *a = (const struct btf_array *)(t + 1);
			mult *= a->nelems;
			if (mult > UINT32_MAX)
				return lbpf_err(E2BIG, "BTF: type [%u] array size overflows", start);
			id = a->type;
			break;
		}
		case BTF_KIND_VAR:
			id = t->type;
			break;
		default:
			return lbpf_err(EINVAL, "BTF: type [%u] (%s) has no size", start,
					kind_names[BTF_INFO_KIND(t->info)]);
		}
	}
	return lbpf_err(EINVAL, "BTF: type [%u] ('%s'): array chain deeper than %d (a loop?)",
			start, lbpf_btf_type_name(btf, start), LBPF_BTF_MAX_CHAIN);
}

/* The alignment walk visits every member of every record held by value. A record that
 * contains itself (corrupt BTF) or a lying DAG of records (each holding the next several times)
 * would make it exponential: the walk stops at a record already on its path, and after a
 * budget of visits far above any real type's (task_struct needs a few hundred). */
#define ALIGN_WALK_BUDGET 20000

struct align_walk {
	const lbpf_btf *btf;
	uint8_t *memo; /* per type id: a record's alignment once known, 0 before (or NULL) */
	uint32_t path[LBPF_BTF_MAX_CHAIN + 2]; /* records being walked */
	int depth;
	int budget;
};

static int member_align(struct align_walk *w, const struct btf_type *t);

static bool on_path(const struct align_walk *w, uint32_t id)
{
	for (int i = 0; i < w->depth; i++)
		if (w->path[i] == id)
			return true;
	return false;
}

static int align_of(struct align_walk *w, uint32_t id)
{
	if (w->depth > LBPF_BTF_MAX_CHAIN || --w->budget < 0)
		return 1;
	uint32_t rid = lbpf_btf_resolve(w->btf, id);
	const struct btf_type *t = lbpf_btf_type(w->btf, rid);
	if (!t)
		return 1;
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT: case BTF_KIND_ENUM: case BTF_KIND_ENUM64: case BTF_KIND_FLOAT: {
		uint32_t s = t->size;
		return s >= 16 ? 16 : s >= 8 ? 8 : s >= 4 ? 4 : s >= 2 ? 2 : 1;
	}
	case BTF_KIND_PTR:
		return sizeof(void *);
	case BTF_KIND_ARRAY: {
		w->path[w->depth++] = 0; /* arrays only count towards the depth */
		int a = align_of(w, ((const struct btf_array *)(t + 1))->type);
		w->depth--;
		return a;
	}
	case BTF_KIND_STRUCT: case BTF_KIND_UNION: {
		if (w->memo && w->memo[rid])
			return w->memo[rid];
		if (on_path(w, rid))
			return 1;
		w->path[w->depth++] = rid;
		int a = member_align(w, t);
		w->depth--;
		if (w->memo)
			w->memo[rid] = (uint8_t)a;
		return a;
	}
	default:
		return 1;
	}
}

/* Largest member alignment; 1 when the members' offsets show the record is packed. */
static int member_align(struct align_walk *w, const struct btf_type *t)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	int max = 1;
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		uint32_t bits = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BITFIELD_SIZE(m[i].offset) : 0;
		uint32_t off = BTF_INFO_KFLAG(t->info) ? BTF_MEMBER_BIT_OFFSET(m[i].offset)
						       : m[i].offset;
		int a = align_of(w, m[i].type);
		if (!bits && off % (8u * a))
			return 1;
		if (a > max)
			max = a;
	}
	if (t->size % max)
		return 1;
	return max;
}

int lbpf_btf_type_align(const lbpf_btf *btf, uint32_t id)
{
	return lbpf_btf_type_align_memo(btf, id, NULL);
}

int lbpf_btf_type_align_memo(const lbpf_btf *btf, uint32_t id, uint8_t *memo)
{
	struct align_walk w = { .btf = btf, .memo = memo, .budget = ALIGN_WALK_BUDGET };
	return align_of(&w, id);
}

/* ---- name index ------------------------------------------------------------------------------- */
/* A hash of full names, built in one pass that reads each name 8 bytes at a time. Names that
 * contain "___" (possibly a CO-RE "___flavour" suffix; a few dozen in vmlinux) are also listed
 * apart, so that a CO-RE candidate search by essential name is one chain walk plus that short
 * list. Anonymous types are left out: they would all share one bucket. */

size_t lbpf_btf_essential_len(const char *name)
{
	size_t n = strlen(name);

	/* The last "X___Y" (X, Y not underscores) separates the name from its flavour. */
	for (size_t i = n >= 5 ? n - 5 + 1 : 0; i-- > 0;) {
		if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' &&
		    name[i + 3] == '_' && name[i + 4] != '_')
			return i + 1;
	}
	return n;
}

#define BYTES(b) (0x0101010101010101ull * (uint8_t)(b))
#define HIGHS BYTES(0x80)

/* High bit of every zero byte of w set, nothing else (exact: no borrow between bytes). */
static inline uint64_t zero_bytes(uint64_t w)
{
	return ~(((w & ~HIGHS) + ~HIGHS) | w | ~HIGHS);
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 32);
}

/* The hash of a name: its bytes and terminating NUL in 8-byte words, zero-padded. This version
 * takes name[0, len) from anywhere (a query, an essential prefix). */
static uint64_t hash_bytes(const char *name, size_t len)
{
	uint64_t h = 0;

	for (size_t i = 0; i <= len; i += 8) {
		uint64_t w = 0;
		memcpy(&w, name + i, len - i < 8 ? len - i : 8);
		h = mix(h, w);
	}
	return h;
}

/* The same hash of a NUL-terminated name inside a string section ending at end, reading whole
 * words (within the section); *triple is set when the name contains "___". */
static uint64_t hash_in_section(const char *name, const char *end, bool *triple)
{
	uint64_t h = 0, prev_us = 0;

	for (const char *p = name;; p += 8) {
		if (end - p < 8) { /* the section's last bytes: no whole word left to read */
			*triple = strstr(name, "___") != NULL;
			return hash_bytes(name, strlen(name));
		}
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t z = zero_bytes(w), keep = z ? (z & -z) - 1 : ~0ull;
		w &= keep;
		uint64_t us = zero_bytes(w ^ BYTES('_')) & keep, ext = (us << 16) | (prev_us >> 48);
		*triple |= ((us & (us << 8) & (us << 16)) | (ext & (ext << 8) & (ext << 16))) != 0;
		prev_us = us;
		h = mix(h, w);
		if (z)
			return h;
	}
}

/* Where a string offset points and where its section ends (split BTF: maybe in the base). */
static const char *str_and_end(const lbpf_btf *btf, uint32_t off, const char **end)
{
	if (off < btf->start_str && btf->base)
		return str_and_end(btf->base, off, end);
	*end = btf->strs + btf->strs_len;
	return btf->strs + (off - btf->start_str);
}

static const char *local_name(const lbpf_btf *btf, uint32_t i)
{
	const struct btf_type *t = (const struct btf_type *)(btf->types + btf->offs[i]);
	return lbpf_btf_str(btf, t->name_off);
}

static int alloc_name_index(lbpf_btf *btf, uint32_t nb)
{
	btf->name_buckets = calloc(nb, sizeof(uint32_t));
	btf->name_chain = malloc((btf->nr ? btf->nr : 1) * sizeof(uint32_t));
	if (btf->name_buckets && btf->name_chain)
		return 0;
	free(btf->name_buckets);
	free(btf->name_chain);
	btf->name_buckets = btf->name_chain = NULL;
	return lbpf_err(ENOMEM, "BTF: out of memory for the name index");
}

/* Names with "___", noted while the build walks backwards (reversed at the end). */
static int note_flavoured(lbpf_btf *btf, uint32_t i, uint32_t *cap)
{
	if (btf->nflavoured == *cap) {
		uint32_t n = *cap ? *cap * 2 : 16;
		uint32_t *bigger = realloc(btf->flavoured, n * sizeof(uint32_t));
		if (!bigger)
			return lbpf_err(ENOMEM, "BTF: out of memory for the name index");
		btf->flavoured = bigger;
		*cap = n;
	}
	btf->flavoured[btf->nflavoured++] = i;
	return 0;
}

static void reverse_flavoured(lbpf_btf *btf)
{
	for (uint32_t a = 0, b = btf->nflavoured; a + 1 < b; a++, b--) {
		uint32_t x = btf->flavoured[a];
		btf->flavoured[a] = btf->flavoured[b - 1];
		btf->flavoured[b - 1] = x;
	}
}

static void free_name_index(lbpf_btf *btf)
{
	free(btf->name_buckets);
	free(btf->name_chain);
	free(btf->flavoured);
	btf->name_buckets = btf->name_chain = btf->flavoured = NULL;
	btf->nflavoured = 0;
}

/* Pushes local type i on the front of its bucket's chain. */
static int index_name(lbpf_btf *btf, uint32_t i, uint32_t *cap)
{
	const struct btf_type *t = (const struct btf_type *)(btf->types + btf->offs[i]);
	const char *end, *name = str_and_end(btf, t->name_off, &end);
	bool triple = false;

	if (!*name)
		return 0;
	uint32_t b = (uint32_t)hash_in_section(name, end, &triple) & btf->name_mask;
	btf->name_chain[i] = btf->name_buckets[b];
	btf->name_buckets[b] = i + 1;
	return triple ? note_flavoured(btf, i, cap) : 0;
}

int lbpf_btf_build_name_index(lbpf_btf *btf)
{
	uint32_t nb = 1, cap = 0;
	if (btf->name_buckets)
		return 0;
	while (nb < btf->nr / 2) /* many types are anonymous: ~1 named type per bucket */
		nb <<= 1;
	if (alloc_name_index(btf, nb))
		return -ENOMEM;
	btf->name_mask = nb - 1;
	/* Insert backwards so each chain lists the lowest id first. */
	for (uint32_t i = btf->nr; i-- > 0;) {
		if (index_name(btf, i, &cap)) {
			free_name_index(btf);
			return -ENOMEM;
		}
	}
	reverse_flavoured(btf);
	return 0;
}

/* Anonymous types are not indexed: the rare lookup of "" scans. */
static int32_t find_anonymous(const lbpf_btf *btf, int kind)
{
	for (uint32_t i = 0; i < btf->nr; i++) {
		const struct btf_type *t = (const struct btf_type *)(btf->types + btf->offs[i]);
		if (!*local_name(btf, i) && (kind == 0 || (int)BTF_INFO_KIND(t->info) == kind))
			return (int32_t)(btf->start_id + i);
	}
	return -ENOENT;
}

static int32_t find_local(const lbpf_btf *btf, const char *name, int kind)
{
	if (!*name)
		return find_anonymous(btf, kind);
	/* The index is a cache: building it doesn't change what the btf describes. */
	int err = lbpf_btf_build_name_index((lbpf_btf *)btf);
	if (err)
		return err;
	uint32_t b = (uint32_t)hash_bytes(name, strlen(name)) & btf->name_mask;
	for (uint32_t i = btf->name_buckets[b]; i; i = btf->name_chain[i - 1]) {
		const struct btf_type *t = (const struct btf_type *)(btf->types + btf->offs[i - 1]);
		if ((kind == 0 || (int)BTF_INFO_KIND(t->info) == kind) &&
		    strcmp(lbpf_btf_str(btf, t->name_off), name) == 0)
			return (int32_t)(btf->start_id + i - 1);
	}
	return -ENOENT;
}

int32_t lbpf_btf_find(const lbpf_btf *btf, const char *name, int kind)
{
	if (btf->base) {
		int32_t id = lbpf_btf_find(btf->base, name, kind);
		if (id != -ENOENT)
			return id;
	}
	return find_local(btf, name, kind);
}

/* ---- candidates by essential name ------------------------------------------------------------- */

struct essential_walk {
	const lbpf_btf *btf;
	const char *name;
	size_t len;
	uint32_t chain;      /* next exact-name entry (local index + 1), 0 at the end */
	uint32_t flav;       /* next position in btf->flavoured */
};

static bool has_essential(const struct essential_walk *w, uint32_t i)
{
	const char *tn = local_name(w->btf, i);
	return strncmp(tn, w->name, w->len) == 0 && lbpf_btf_essential_len(tn) == w->len;
}

/* The next local index of either list, ascending (a name may be on both: taken once). */
static bool next_essential(struct essential_walk *w, uint32_t *out)
{
	const lbpf_btf *btf = w->btf;
	uint32_t c = w->chain ? w->chain - 1 : UINT32_MAX;
	uint32_t f = w->flav < btf->nflavoured ? btf->flavoured[w->flav] : UINT32_MAX;

	if (c == UINT32_MAX && f == UINT32_MAX)
		return false;
	if (c <= f)
		w->chain = btf->name_chain[c];
	if (f <= c)
		w->flav++;
	*out = c < f ? c : f;
	return true;
}

static int each_essential_local(const lbpf_btf *btf, uint32_t from_id, const char *name,
				size_t len, int (*fn)(void *ctx, uint32_t id), void *ctx)
{
	int err = lbpf_btf_build_name_index((lbpf_btf *)btf);
	if (err)
		return err;
	struct essential_walk w = { btf, name, len, 0, 0 };
	w.chain = btf->name_buckets[(uint32_t)hash_bytes(name, len) & btf->name_mask];
	for (uint32_t i; next_essential(&w, &i);) {
		if (btf->start_id + i < from_id || !has_essential(&w, i))
			continue;
		if ((err = fn(ctx, btf->start_id + i)))
			return err;
	}
	return 0;
}

int lbpf_btf_each_essential(const lbpf_btf *btf, uint32_t from_id, const char *name, size_t len,
			    int (*fn)(void *ctx, uint32_t id), void *ctx)
{
	if (len == 0)
		return 0;
	if (btf->base && from_id < btf->start_id) {
		int err = lbpf_btf_each_essential(btf->base, from_id, name, len, fn, ctx);
		if (err)
			return err;
	}
	return each_essential_local(btf, from_id, name, len, fn, ctx);
}
