/* Records to Lua values for the event readers: byte strings, a fast path for structs whose
 * members are plain integers and char arrays (field list and names resolved once per reader,
 * names kept on the Lua stack during a drain so that a record costs one table and one rawset per
 * field), and lbpf_lua_push_value for everything else. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lhandle.h"
#include "lreader.h"

/* ---- decoders -------------------------------------------------------------------------------- */

static void refill_ints(lua_State *L, int tbl_idx, const struct lreader_field *f,
			const uint8_t *p);

/* An array of integers: one table sized up front, no BTF walk per element. */
static void push_ints(lua_State *L, const struct lreader_field *f, const uint8_t *p)
{
	lua_createtable(L, (int)f->count, 0);
	refill_ints(L, lua_gettop(L), f, p);
}

void lreader_push_field(lua_State *L, const struct lreader_decoder *d, const struct lreader_field *f,
		       const uint8_t *rec)
{
	const uint8_t *p = rec + f->offset;

	switch (f->kind) {
	case FIELD_UINT:
	case FIELD_SINT:
		lbpf_lua_push_int_bits(L, lreader_load(p, f->size), f->size * 8u, f->kind == FIELD_SINT);
		return;
	case FIELD_BOOL:
		lua_pushboolean(L, lreader_load(p, f->size) != 0);
		return;
	case FIELD_UINTS:
	case FIELD_SINTS:
		push_ints(L, f, p);
		return;
	case FIELD_CHARS: {
		const void *nul = memchr(p, 0, f->size);
		lua_pushlstring(L, (const char *)p, nul ? (size_t)((const uint8_t *)nul - p) : f->size);
		return;
	}
	default:
		lbpf_lua_push_value(L, d->btf, f->type_id, p, f->size, 0);
	}
}

void lreader_push_record(lua_State *L, struct lreader_source *s, const void *data, size_t size)
{
	const struct lreader_decoder *d = &s->dec;

	if (d->raw) {
		lua_pushlstring(L, data, size);
		return;
	}
	if (size < d->size)
		luaL_error(L, "%s '%s': a record of %d bytes is shorter than %s (%d bytes)",
			   s->what, s->name, (int)size, d->type_name, (int)d->size);
	if (d->nfields < 0) {
		lbpf_lua_push_value(L, d->btf, d->type_id, data, d->size, 0);
		return;
	}
	lua_createtable(L, 0, d->nfields);
	for (int i = 0; i < d->nfields; i++) {
		lua_pushvalue(L, s->key_base + i);
		lreader_push_field(L, d, &d->fields[i], data);
		lua_rawset(L, -3);
	}
}

/* One integer element (lbpf_lua_push_int_bits is inline: each constant size below gets its
 * own specialised loop). */
static inline void push_elem(lua_State *L, const uint8_t *p, unsigned size, bool is_signed)
{
	lbpf_lua_push_int_bits(L, lreader_load(p, size), size * 8u, is_signed);
}

/* Refills the integer array table at tbl_idx (absolute) with a member's elements. */
static void refill_ints(lua_State *L, int tbl_idx, const struct lreader_field *f,
			const uint8_t *p)
{
	bool is_signed = f->kind == FIELD_SINTS;

	switch (f->elem_size) { /* constant sizes let the compiler specialise each loop */
	case 8:
		for (uint32_t k = 0; k < f->count; k++) {
			push_elem(L, p + (size_t)k * 8, 8, is_signed);
			lua_rawseti(L, tbl_idx, (lua_Integer)k + 1);
		}
		return;
	case 4:
		for (uint32_t k = 0; k < f->count; k++) {
			push_elem(L, p + (size_t)k * 4, 4, is_signed);
			lua_rawseti(L, tbl_idx, (lua_Integer)k + 1);
		}
		return;
	default:
		for (uint32_t k = 0; k < f->count; k++) {
			push_elem(L, p + (size_t)k * f->elem_size, f->elem_size, is_signed);
			lua_rawseti(L, tbl_idx, (lua_Integer)k + 1);
		}
	}
}

/* Reuse readers: the same keys are set again on the same table, which allocates nothing once the
 * table has them; an integer array member refills its own table when it is still there. */
void lreader_fill_record(lua_State *L, struct lreader_source *s, int tbl_idx, const void *data,
			 size_t size)
{
	const struct lreader_decoder *d = &s->dec;

	if (size < d->size)
		luaL_error(L, "%s '%s': a record of %d bytes is shorter than %s (%d bytes)",
			   s->what, s->name, (int)size, d->type_name, (int)d->size);
	for (int i = 0; i < d->nfields; i++) {
		const struct lreader_field *f = &d->fields[i];

		if (f->kind == FIELD_UINTS || f->kind == FIELD_SINTS) {
			lua_pushvalue(L, s->key_base + i);
			lua_rawget(L, tbl_idx);
			if (lua_istable(L, -1)) {
				refill_ints(L, lua_gettop(L), f, (const uint8_t *)data + f->offset);
				lua_pop(L, 1);
				continue;
			}
			lua_pop(L, 1);
		}
		lua_pushvalue(L, s->key_base + i);
		lreader_push_field(L, d, f, data);
		lua_rawset(L, tbl_idx);
	}
}

static int field_kind(const lbpf_btf *btf, const struct btf_type *t, struct lreader_field *f);

/* An array whose elements are plain integers or enums (not chars: those are strings) decodes
 * as FIELD_UINTS/SINTS, otherwise FIELD_OTHER. */
static int int_array_kind(const lbpf_btf *btf, const struct btf_type *et,
			  const struct btf_array *arr, struct lreader_field *f)
{
	struct lreader_field elem = { 0 };
	int kind;

	switch (lbpf_btf_kind(et)) {
	case BTF_KIND_INT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		break;
	default:
		return FIELD_OTHER;
	}
	kind = field_kind(btf, et, &elem);
	if ((kind != FIELD_UINT && kind != FIELD_SINT) || elem.size != et->size ||
	    arr->nelems > (1u << 20))
		return FIELD_OTHER;
	f->elem_size = (uint8_t)elem.size;
	f->count = arr->nelems;
	f->size = arr->nelems * elem.size;
	return kind == FIELD_UINT ? FIELD_UINTS : FIELD_SINTS;
}

/* Field kind of a member whose (resolved) type is t, or FIELD_OTHER. */
static int field_kind(const lbpf_btf *btf, const struct btf_type *t, struct lreader_field *f)
{
	uint32_t enc;

	switch (lbpf_btf_kind(t)) {
	case BTF_KIND_INT:
		memcpy(&enc, t + 1, sizeof(enc));
		if (BTF_INT_OFFSET(enc) || BTF_INT_BITS(enc) != t->size * 8 ||
		    (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8))
			return FIELD_OTHER;
		f->size = t->size;
		if (BTF_INT_ENCODING(enc) & BTF_INT_BOOL)
			return FIELD_BOOL;
		return BTF_INT_ENCODING(enc) & BTF_INT_SIGNED ? FIELD_SINT : FIELD_UINT;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
			return FIELD_OTHER;
		f->size = t->size;
		return lbpf_btf_kflag(t) ? FIELD_SINT : FIELD_UINT;
	case BTF_KIND_PTR:
		f->size = 8;
		return FIELD_UINT;
	case BTF_KIND_ARRAY: {
		struct btf_array arr;
		const struct btf_type *et;

		memcpy(&arr, t + 1, sizeof(arr));
		et = lbpf_btf_type(btf, lbpf_btf_resolve(btf, arr.type));
		if (et && et->size != 1 && arr.nelems > 0)
			return int_array_kind(btf, et, &arr, f);
		if (!et || lbpf_btf_kind(et) != BTF_KIND_INT || et->size != 1)
			return FIELD_OTHER;
		memcpy(&enc, et + 1, sizeof(enc));
		if (!(BTF_INT_ENCODING(enc) & BTF_INT_CHAR) &&
		    strcmp(lbpf_btf_type_name(btf, lbpf_btf_resolve(btf, arr.type)), "char") != 0)
			return FIELD_OTHER;
		f->size = arr.nelems;
		return FIELD_CHARS;
	}
	}
	return FIELD_OTHER;
}

/* Resolves a struct's members into a flat field list, pushing their names as a Lua array.
 * Returns the field count, or -1 when the struct needs the generic decoder (bitfields,
 * anonymous members); the pushed array is then empty. */
static int build_fields(lua_State *L, struct lreader_decoder *d, const struct btf_type *t)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	int n = lbpf_btf_vlen(t);

	lua_createtable(L, n, 0);
	d->fields = calloc((size_t)n + 1, sizeof(*d->fields));
	if (!d->fields)
		luaL_error(L, "out of memory");
	for (int i = 0; i < n; i++) {
		uint32_t bit_off = lbpf_btf_kflag(t) ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
		uint32_t bitfield = lbpf_btf_kflag(t) ? BTF_MEMBER_BITFIELD_SIZE(m[i].offset) : 0;
		const char *name = lbpf_btf_str(d->btf, m[i].name_off);
		uint32_t mid = lbpf_btf_resolve(d->btf, m[i].type);
		const struct btf_type *mt = lbpf_btf_type(d->btf, mid);
		struct lreader_field *f = &d->fields[i];
		int64_t msize;

		if (!*name || bitfield || bit_off % 8 || !mt)
			goto generic;
		f->offset = bit_off / 8;
		f->type_id = mid;
		f->kind = (uint8_t)field_kind(d->btf, mt, f);
		if (f->kind == FIELD_OTHER) {
			msize = lbpf_btf_type_size(d->btf, mid);
			if (msize < 0)
				goto generic;
			f->size = (uint32_t)msize;
			if (lbpf_btf_kind(mt) == BTF_KIND_INT) /* odd-sized or bit-offset ints */
				goto generic;
		}
		if ((uint64_t)f->offset + f->size > d->size)
			goto generic;
		lua_pushstring(L, name);
		lua_rawseti(L, -2, i + 1);
	}
	return n;
generic:
	lua_pop(L, 1);
	lua_createtable(L, 0, 0);
	free(d->fields);
	d->fields = NULL;
	return -1;
}

/* "struct event", "union u", "enum e" or a plain name (typedef or any kind). */
static int32_t find_type(const lbpf_btf *btf, const char *spec)
{
	static const struct { const char *prefix; int kind; } kinds[] = {
		{ "struct ", BTF_KIND_STRUCT }, { "union ", BTF_KIND_UNION }, { "enum ", BTF_KIND_ENUM },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++) {
		size_t len = strlen(kinds[i].prefix);

		if (strncmp(spec, kinds[i].prefix, len) == 0) {
			int32_t id = lbpf_btf_find(btf, spec + len, kinds[i].kind);
			if (id < 0 && kinds[i].kind == BTF_KIND_ENUM)
				id = lbpf_btf_find(btf, spec + len, BTF_KIND_ENUM64);
			return id;
		}
	}
	return lbpf_btf_find(btf, spec, 0);
}

/* The record type a BPF program declared for map_name with BPF_RINGBUF_RECORD(map, type)
 * (bpf/include/bpf_helpers.h): the pointee of the global __luabpf_record_<map> (const and
 * volatile skipped, typedefs kept); its name ("struct event", "event_t") goes to name. */
static int32_t recorded_type(const lbpf_btf *btf, const char *map_name, char *name, size_t len)
{
	char var[128];
	const struct btf_type *t;
	int32_t id;

	if (!btf || (size_t)snprintf(var, sizeof(var), "__luabpf_record_%s", map_name) >= sizeof(var))
		return 0;
	id = lbpf_btf_find(btf, var, BTF_KIND_VAR);
	t = id > 0 ? lbpf_btf_type(btf, (uint32_t)id) : NULL;
	for (t = t ? lbpf_btf_type(btf, t->type) : NULL; t; t = lbpf_btf_type(btf, t->type)) {
		uint16_t kind = lbpf_btf_kind(t);
		if (kind == BTF_KIND_PTR)
			break;
		if (kind != BTF_KIND_CONST && kind != BTF_KIND_VOLATILE)
			return 0;
	}
	if (!t)
		return 0;
	id = (int32_t)t->type;
	while ((t = lbpf_btf_type(btf, (uint32_t)id)) && (lbpf_btf_kind(t) == BTF_KIND_CONST ||
							 lbpf_btf_kind(t) == BTF_KIND_VOLATILE))
		id = (int32_t)t->type;
	if (!t || !*lbpf_btf_type_name(btf, (uint32_t)id))
		return 0;
	uint16_t kind = lbpf_btf_kind(t);
	snprintf(name, len, "%s%s",
		 kind == BTF_KIND_STRUCT ? "struct " : kind == BTF_KIND_UNION ? "union " : "",
		 lbpf_btf_type_name(btf, (uint32_t)id));
	return id;
}

/* Decodes records as the type id (named name in messages). */
static void init_typed(lua_State *L, struct lreader_source *s, const lbpf_btf *btf, int32_t id,
		       const char *name)
{
	struct lreader_decoder *d = &s->dec;
	const struct btf_type *t;
	int64_t size = lbpf_btf_type_size(btf, (uint32_t)id);

	if (size <= 0)
		luaL_error(L, "%s '%s': type '%s' has no size", s->what, s->name, name);
	d->btf = btf;
	d->type_id = (uint32_t)id;
	d->size = (uint32_t)size;
	lbpf_lua_copy_name(d->type_name, sizeof(d->type_name), name);
	t = lbpf_btf_type(btf, lbpf_btf_resolve(btf, (uint32_t)id));
	if (t && lbpf_btf_kind(t) == BTF_KIND_STRUCT)
		d->nfields = build_fields(L, d, t);
	else
		lua_createtable(L, 0, 0);
}

void lreader_decoder_init(lua_State *L, struct lreader_source *s, const lbpf_btf *btf,
			  const char *type, int raw)
{
	struct lreader_decoder *d = &s->dec;
	int32_t id;

	memset(d, 0, sizeof(*d));
	d->raw = raw || !type;
	d->nfields = -1;
	if (d->raw) {
		lua_createtable(L, 0, 0);
		return;
	}
	if (!btf)
		luaL_error(L, "%s '%s': cannot decode records as '%s': its object has no BTF",
			   s->what, s->name, type);
	id = find_type(btf, type);
	if (id <= 0)
		luaL_error(L, "%s '%s': unknown type '%s' (not in its object's BTF)", s->what, s->name,
			   type);
	init_typed(L, s, btf, id, type);
}

bool lreader_decoder_init_recorded(lua_State *L, struct lreader_source *s, const lbpf_btf *btf)
{
	char name[64];
	int32_t id = recorded_type(btf, s->name, name, sizeof(name));

	if (id <= 0)
		return false;
	memset(&s->dec, 0, sizeof(s->dec));
	s->dec.nfields = -1;
	init_typed(L, s, btf, id, name);
	return true;
}

void lreader_decoder_free(struct lreader_decoder *d)
{
	free(d->fields);
	d->fields = NULL;
}
