/*
 * BTF <-> Lua value conversion.
 *
 * Decoding: integers by size and signedness, bool, enums as their number, char[N] as a string up
 * to the first NUL, other arrays as Lua arrays (1-based), structs/unions as tables (bitfields
 * included, anonymous members flattened into the parent), .data-style DATASECs as tables of their
 * variables, floats as numbers, pointers as integers. Anything else (and values without BTF that
 * are not 1/2/4/8 bytes wide) is a byte string.
 *
 * Encoding accepts the same shapes: missing fields and array elements are zero, an unknown field,
 * an array index beyond the declared length, an out-of-range integer, a float with a fraction for
 * an integer, a finite number too large for a float, a string too long for its char[N] or a value
 * of the wrong type raise a Lua error naming the field. A string stands for raw bytes only under
 * raw = true (and for types that decode as byte strings). Everything is encoded into a caller's scratch buffer first, so a bad
 * value never reaches the kernel.
 *
 * 64-bit integers (exact on both interpreters):
 *  - Lua 5.4: lua_Integer. An unsigned 64-bit value >= 2^63 is returned as the negative integer
 *    with the same bits (use math.ult / string.format("%u") style code, or `v & mask`); writes
 *    accept that negative form as well as floats in [2^63, 2^64).
 *  - LuaJIT: numbers when |v| < 2^53, otherwise uint64_t (unsigned fields) or int64_t (signed
 *    fields) cdata made by the ffi; writes accept numbers and int64_t/uint64_t cdata.
 *  - An unsigned 64-bit field accepts any value in [-2^63, 2^64) (negative = two's complement).
 */
#include <math.h>
#include <string.h>

#include "lvalue.h"

/* ---- shared with lvalue_encode.c ------------------------------------------------------------ */

/* Skips typedefs/modifiers and VARs to the type that describes the bytes. */
uint32_t lbpf_value_resolve(const lbpf_btf *btf, uint32_t id)
{
	for (int i = 0; i < MAX_DEPTH && id; i++) {
		id = lbpf_btf_resolve(btf, id);
		const struct btf_type *t = lbpf_btf_type(btf, id);
		if (!t || lbpf_btf_kind(t) != BTF_KIND_VAR)
			return id;
		id = t->type;
	}
	return id;
}

/* Older compilers (clang < 15) leave the signedness flag of an enum unset; an enumerator below
 * zero still says the enum is signed. */
static bool enum_has_negative(const struct btf_type *t)
{
	uint16_t n = lbpf_btf_vlen(t);
	if (lbpf_btf_kind(t) == BTF_KIND_ENUM) {
		const struct btf_enum *v = (const struct btf_enum *)(t + 1);
		for (uint16_t i = 0; i < n; i++)
			if (v[i].val < 0)
				return true;
	} else {
		const struct btf_enum64 *v = (const struct btf_enum64 *)(t + 1);
		for (uint16_t i = 0; i < n; i++)
			if ((int32_t)v[i].val_hi32 < 0)
				return true;
	}
	return false;
}

bool lbpf_lua_enum_is_signed(const struct btf_type *t)
{
	return lbpf_btf_kflag(t) || enum_has_negative(t);
}

int lbpf_value_describe_int(const struct btf_type *t, struct int_desc *d)
{
	memset(d, 0, sizeof(*d));
	switch (lbpf_btf_kind(t)) {
	case BTF_KIND_INT: {
		uint32_t enc;
		memcpy(&enc, t + 1, sizeof(enc));
		d->size = t->size;
		d->bits = BTF_INT_BITS(enc);
		d->bit_offset = BTF_INT_OFFSET(enc);
		d->is_signed = (BTF_INT_ENCODING(enc) & BTF_INT_SIGNED) != 0;
		d->is_bool = (BTF_INT_ENCODING(enc) & BTF_INT_BOOL) != 0;
		return d->size <= 8 && d->bits <= 64;
	}
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		d->size = t->size;
		d->bits = t->size * 8;
		d->is_signed = lbpf_lua_enum_is_signed(t);
		return d->size <= 8;
	case BTF_KIND_PTR:
		d->size = 8;
		d->bits = 64;
		return 1;
	}
	return 0;
}

bool lbpf_value_is_char_type(const lbpf_btf *btf, uint32_t id)
{
	const struct btf_type *t = lbpf_btf_type(btf, id);
	if (!t || lbpf_btf_kind(t) != BTF_KIND_INT || t->size != 1)
		return false;
	uint32_t enc;
	memcpy(&enc, t + 1, sizeof(enc));
	return (BTF_INT_ENCODING(enc) & BTF_INT_CHAR) || strcmp(lbpf_btf_str(btf, t->name_off), "char") == 0;
}

uint32_t lbpf_value_bounded_size(const lbpf_btf *btf, uint32_t id, size_t avail)
{
	int64_t sz = lbpf_btf_type_size(btf, id);
	if (sz < 0 || (uint64_t)sz > avail)
		return (uint32_t)avail;
	return (uint32_t)sz;
}
/* ---- decoding ------------------------------------------------------------------------------- */

static void push_plain(lua_State *L, const uint8_t *data, size_t size)
{
	if (size == 1 || size == 2 || size == 4 || size == 8)
		lbpf_lua_push_u64(L, load_uint(data, size));
	else
		lua_pushlstring(L, (const char *)data, size);
}

static void push_typed(lua_State *L, const lbpf_btf *btf, uint32_t id, const uint8_t *data,
		       size_t size, int depth);

static void push_int(lua_State *L, const struct int_desc *d, const uint8_t *data, size_t size)
{
	if (d->size > size) {
		lua_pushlstring(L, (const char *)data, size);
		return;
	}
	uint64_t v;
	unsigned bits = d->bits ? d->bits : d->size * 8;
	if (d->bit_offset || bits != d->size * 8)
		v = load_bits(data, size, d->bit_offset, bits);
	else
		v = load_uint(data, d->size);
	if (d->is_bool)
		lua_pushboolean(L, v != 0);
	else
		lbpf_lua_push_int_bits(L, v, bits, d->is_signed);
}

static void push_array(lua_State *L, const lbpf_btf *btf, const struct btf_type *t,
		       const uint8_t *data, size_t size, int depth)
{
	struct btf_array arr;
	memcpy(&arr, t + 1, sizeof(arr));
	uint32_t elem = lbpf_value_resolve(btf, arr.type);
	if (lbpf_value_is_char_type(btf, elem)) {
		size_t n = arr.nelems < size ? arr.nelems : size;
		const void *nul = memchr(data, 0, n);
		lua_pushlstring(L, (const char *)data, nul ? (size_t)((const uint8_t *)nul - data) : n);
		return;
	}
	int64_t esz = lbpf_btf_type_size(btf, elem);
	if (esz <= 0) {
		lua_pushlstring(L, (const char *)data, size);
		return;
	}
	lua_createtable(L, (int)arr.nelems, 0);
	for (uint32_t i = 0; i < arr.nelems && (uint64_t)(i + 1) * (uint64_t)esz <= size; i++) {
		push_typed(L, btf, elem, data + (size_t)i * (size_t)esz, (size_t)esz, depth + 1);
		lua_rawseti(L, -2, (int)i + 1);
	}
}

static void decode_members(lua_State *L, const lbpf_btf *btf, const struct btf_type *t,
			   const uint8_t *data, size_t size, int depth);

/* One member of a struct/union into the table on top of the stack. */
static void decode_member(lua_State *L, const lbpf_btf *btf, const struct btf_type *t,
			  const struct btf_member *m, const uint8_t *data, size_t size, int depth)
{
	uint32_t bit_off = lbpf_btf_kflag(t) ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
	uint32_t bitfield = lbpf_btf_kflag(t) ? BTF_MEMBER_BITFIELD_SIZE(m->offset) : 0;
	uint32_t mid = lbpf_value_resolve(btf, m->type);
	const struct btf_type *mt = lbpf_btf_type(btf, mid);
	const char *name = lbpf_btf_str(btf, m->name_off);
	struct int_desc d;

	if (bit_off / 8 >= size && !(mt && lbpf_btf_kind(mt) == BTF_KIND_ARRAY))
		return;
	if (!*name && mt && (lbpf_btf_kind(mt) == BTF_KIND_STRUCT || lbpf_btf_kind(mt) == BTF_KIND_UNION)) {
		decode_members(L, btf, mt, data + bit_off / 8, size - bit_off / 8, depth + 1);
		return;
	}
	if (!*name)
		return;
	if (mt && lbpf_value_describe_int(mt, &d) && (bitfield || (bit_off % 8) || (d.bits && d.bits != d.size * 8) || d.bit_offset)) {
		/* A bitfield: kflag gives its width in the member; otherwise the int type does. */
		uint32_t nbits = bitfield ? bitfield : d.bits;
		uint64_t v = load_bits(data, size, bit_off + d.bit_offset, nbits);
		if (d.is_bool)
			lua_pushboolean(L, v != 0);
		else
			lbpf_lua_push_int_bits(L, v, nbits, d.is_signed);
	} else {
		size_t off = bit_off / 8;
		push_typed(L, btf, mid, data + off, lbpf_value_bounded_size(btf, mid, size - off), depth + 1);
	}
	lua_setfield(L, -2, name);
}

static void decode_members(lua_State *L, const lbpf_btf *btf, const struct btf_type *t,
			   const uint8_t *data, size_t size, int depth)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	uint16_t n = lbpf_btf_vlen(t);
	if (depth > MAX_DEPTH)
		return;
	for (uint16_t i = 0; i < n; i++)
		decode_member(L, btf, t, &m[i], data, size, depth);
}

static void push_datasec(lua_State *L, const lbpf_btf *btf, const struct btf_type *t,
			 const uint8_t *data, size_t size, int depth)
{
	const struct btf_var_secinfo *v = (const struct btf_var_secinfo *)(t + 1);
	uint16_t n = lbpf_btf_vlen(t);
	lua_createtable(L, 0, n);
	for (uint16_t i = 0; i < n; i++) {
		if (v[i].offset >= size || v[i].size > size - v[i].offset)
			continue;
		const struct btf_type *var = lbpf_btf_type(btf, v[i].type);
		if (!var)
			continue;
		push_typed(L, btf, v[i].type, data + v[i].offset, v[i].size, depth + 1);
		lua_setfield(L, -2, lbpf_btf_str(btf, var->name_off));
	}
}

static void push_float(lua_State *L, const uint8_t *data, size_t size)
{
	if (size == 4) {
		float f;
		memcpy(&f, data, 4);
		lua_pushnumber(L, f);
	} else if (size == 8) {
		double d;
		memcpy(&d, data, 8);
		lua_pushnumber(L, d);
	} else {
		lua_pushlstring(L, (const char *)data, size);
	}
}

static void push_typed(lua_State *L, const lbpf_btf *btf, uint32_t id, const uint8_t *data,
		       size_t size, int depth)
{
	const struct btf_type *t;
	struct int_desc d;

	if (depth > MAX_DEPTH)
		luaL_error(L, "BTF type nesting deeper than %d levels", MAX_DEPTH);
	luaL_checkstack(L, 4, "decoding a value");
	id = lbpf_value_resolve(btf, id);
	t = lbpf_btf_type(btf, id);
	if (!t) {
		push_plain(L, data, size);
		return;
	}
	if (lbpf_value_describe_int(t, &d)) {
		push_int(L, &d, data, size);
		return;
	}
	switch (lbpf_btf_kind(t)) {
	case BTF_KIND_ARRAY:
		push_array(L, btf, t, data, size, depth);
		return;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		lua_createtable(L, 0, lbpf_btf_vlen(t));
		decode_members(L, btf, t, data, size, depth);
		return;
	case BTF_KIND_DATASEC:
		push_datasec(L, btf, t, data, size, depth);
		return;
	case BTF_KIND_FLOAT:
		push_float(L, data, t->size <= size ? t->size : size);
		return;
	}
	lua_pushlstring(L, (const char *)data, size);
}

void lbpf_lua_push_value(lua_State *L, const lbpf_btf *btf, uint32_t type_id, const void *data,
			 size_t size, int raw)
{
	if (raw) {
		lua_pushlstring(L, data, size);
		return;
	}
	if (!btf || !type_id) {
		push_plain(L, data, size);
		return;
	}
	push_typed(L, btf, type_id, data, size, 0);
}

/* ---- codecs: the resolved per-map fast path ------------------------------------------------- */

/* One member of a flat struct, or false when it needs the general decoder. */
static bool flat_field(const lbpf_btf *btf, const struct btf_type *t, const struct btf_member *m,
		       size_t size, struct lbpf_lua_flat_field *f)
{
	uint32_t bit_off = lbpf_btf_kflag(t) ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
	uint32_t mid = lbpf_value_resolve(btf, m->type);
	const struct btf_type *mt = lbpf_btf_type(btf, mid);
	struct int_desc d;

	f->name = lbpf_btf_str(btf, m->name_off);
	f->offset = bit_off / 8;
	if (!mt || !*f->name || bit_off % 8 || (lbpf_btf_kflag(t) && BTF_MEMBER_BITFIELD_SIZE(m->offset)))
		return false;
	if (lbpf_btf_kind(mt) == BTF_KIND_ARRAY) {
		const struct btf_array *a = (const struct btf_array *)(mt + 1);
		f->kind = LBPF_FIELD_CHARS;
		f->size = (uint16_t)a->nelems;
		return lbpf_value_is_char_type(btf, lbpf_value_resolve(btf, a->type)) && a->nelems <= 0xffff &&
		       f->offset + (size_t)a->nelems <= size;
	}
	if (lbpf_btf_kind(mt) == BTF_KIND_PTR || !lbpf_value_describe_int(mt, &d) || d.bit_offset ||
	    (d.bits && d.bits != d.size * 8) || !(d.size == 1 || d.size == 2 || d.size == 4 || d.size == 8))
		return false;
	f->size = (uint16_t)d.size;
	f->kind = d.is_bool ? LBPF_FIELD_BOOL : d.is_signed ? LBPF_FIELD_SINT : LBPF_FIELD_UINT;
	return f->offset + (size_t)d.size <= size;
}

/* Precompiles a struct of plain fields (the common case of map keys and values). */
static void plan_flat(struct lbpf_lua_codec *c, const struct btf_type *t)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	uint16_t n = lbpf_btf_vlen(t);
	if (lbpf_btf_kind(t) != BTF_KIND_STRUCT || n == 0 || n > LBPF_LUA_FLAT_MAX)
		return;
	for (uint16_t i = 0; i < n; i++)
		if (!flat_field(c->btf, t, &m[i], c->size, &c->fields[i]))
			return;
	c->nfields = (uint8_t)n;
	c->shape = LBPF_SHAPE_FLAT;
}

static void push_flat(lua_State *L, const struct lbpf_lua_codec *c, const uint8_t *data)
{
	lua_createtable(L, 0, c->nfields);
	for (uint8_t i = 0; i < c->nfields; i++) {
		const struct lbpf_lua_flat_field *f = &c->fields[i];
		const uint8_t *p = data + f->offset;
		switch (f->kind) {
		case LBPF_FIELD_UINT:
			lbpf_lua_push_u64(L, load_uint(p, f->size));
			break;
		case LBPF_FIELD_SINT:
			lbpf_lua_push_i64(L, lbpf_lua_sign_extend(load_uint(p, f->size), f->size * 8u));
			break;
		case LBPF_FIELD_BOOL:
			lua_pushboolean(L, load_uint(p, f->size) != 0);
			break;
		default: {
			const void *nul = memchr(p, 0, f->size);
			lua_pushlstring(L, (const char *)p, nul ? (size_t)((const uint8_t *)nul - p) : f->size);
		}
		}
		lua_setfield(L, -2, f->name);
	}
}

void lbpf_lua_codec_init(struct lbpf_lua_codec *c, const lbpf_btf *btf, uint32_t type_id,
			 size_t size, int raw)
{
	const struct btf_type *t;
	struct int_desc d;

	memset(c, 0, sizeof(*c));
	c->size = (uint32_t)size;
	c->shape = LBPF_SHAPE_BYTES;
	if (raw)
		return;
	if (!btf || !type_id) {
		if (size == 1 || size == 2 || size == 4 || size == 8)
			c->shape = LBPF_SHAPE_UINT;
		return;
	}
	c->btf = btf;
	c->type_id = lbpf_value_resolve(btf, type_id);
	c->shape = LBPF_SHAPE_BTF;
	t = lbpf_btf_type(btf, c->type_id);
	if (t && lbpf_value_describe_int(t, &d) && !d.is_bool && !d.bit_offset && d.size == size &&
	    (d.bits == 0 || d.bits == d.size * 8) &&
	    (size == 1 || size == 2 || size == 4 || size == 8) && lbpf_btf_kind(t) != BTF_KIND_ENUM64 &&
	    lbpf_btf_kind(t) != BTF_KIND_ENUM)
		c->shape = d.is_signed ? LBPF_SHAPE_SINT : LBPF_SHAPE_UINT;
	if (t && lbpf_btf_kind(t) == BTF_KIND_ARRAY) {
		struct btf_array arr;
		memcpy(&arr, t + 1, sizeof(arr));
		c->char_array = lbpf_value_is_char_type(btf, lbpf_value_resolve(btf, arr.type));
	}
	if (t && lbpf_btf_type_size(btf, c->type_id) == (int64_t)size)
		plan_flat(c, t);
}

void lbpf_lua_codec_push(lua_State *L, const struct lbpf_lua_codec *c, const void *data)
{
	switch (c->shape) {
	case LBPF_SHAPE_UINT:
		lbpf_lua_push_u64(L, load_uint(data, c->size));
		return;
	case LBPF_SHAPE_SINT:
		lbpf_lua_push_i64(L, lbpf_lua_sign_extend(load_uint(data, c->size), c->size * 8));
		return;
	case LBPF_SHAPE_FLAT:
		push_flat(L, c, data);
		return;
	case LBPF_SHAPE_BTF:
		push_typed(L, c->btf, c->type_id, data, c->size, 0);
		return;
	}
	lua_pushlstring(L, data, c->size);
}

int lbpf_lua_codec_is_percpu_array(lua_State *L, int idx, const struct lbpf_lua_codec *c)
{
	if (lua_type(L, idx) != LUA_TTABLE)
		return 0;
	lua_rawgeti(L, idx, 1);
	int first = lua_type(L, -1);
	lua_pop(L, 1);
	if (first == LUA_TNIL)
		return 0;
	if (c->shape != LBPF_SHAPE_BTF)
		return 1; /* a scalar value type: any array is per-CPU */
	const struct btf_type *t = lbpf_btf_type(c->btf, c->type_id);
	if (t && lbpf_btf_kind(t) == BTF_KIND_ARRAY && !c->char_array)
		return first == LUA_TTABLE; /* an array value: per-CPU is an array of arrays */
	return 1;
}
