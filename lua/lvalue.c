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
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lbpf_lua.h"

#define MAX_DEPTH 32

/* ---- 64-bit integers ------------------------------------------------------------------------ */

#if LBPF_LUAJIT
static const char int64_helpers[] =
	"local ffi = require 'ffi'\n"
	"local u64, i64 = ffi.typeof('uint64_t'), ffi.typeof('int64_t')\n"
	"local function make(hi, lo, signed)\n"
	"  local v = u64(hi) * 4294967296ULL + lo\n"
	"  if signed then return i64(v) end\n"
	"  return v\n"
	"end\n"
	"local function split(v)\n"
	"  local signed = ffi.istype(i64, v)\n"
	"  if not signed and not ffi.istype(u64, v) then return nil end\n"
	"  local u = u64(v)\n"
	"  return tonumber(u / 4294967296ULL), tonumber(u % 4294967296ULL), signed\n"
	"end\n"
	"return make, split\n";

/* Pushes the cached helper (1: make, 2: split), loading the ffi once per Lua state. */
static void push_int64_helper(lua_State *L, int which)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "bpf.int64");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		if (luaL_loadstring(L, int64_helpers) != 0)
			lua_error(L);
		lua_call(L, 0, 2);
		lua_createtable(L, 2, 0);
		lua_insert(L, -3);
		lua_rawseti(L, -3, 2);
		lua_rawseti(L, -2, 1);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, "bpf.int64");
	}
	lua_rawgeti(L, -1, which);
	lua_remove(L, -2);
}

static void push_cdata64(lua_State *L, uint64_t bits, int is_signed)
{
	push_int64_helper(L, 1);
	lua_pushnumber(L, (lua_Number)(bits >> 32));
	lua_pushnumber(L, (lua_Number)(bits & 0xffffffffu));
	lua_pushboolean(L, is_signed);
	lua_call(L, 3, 1);
}

void lbpf_lua_push_u64(lua_State *L, uint64_t v)
{
	if (v < (1ull << 53))
		lua_pushnumber(L, (lua_Number)v);
	else
		push_cdata64(L, v, 0);
}

void lbpf_lua_push_i64(lua_State *L, int64_t v)
{
	if (v > -(1ll << 53) && v < (1ll << 53))
		lua_pushnumber(L, (lua_Number)v);
	else
		push_cdata64(L, (uint64_t)v, 1);
}

static int get_cdata64(lua_State *L, int idx, uint64_t *bits, int *negative)
{
	idx = lua_absindex(L, idx);
	push_int64_helper(L, 2);
	lua_pushvalue(L, idx);
	lua_call(L, 1, 3);
	if (lua_isnil(L, -3)) {
		lua_pop(L, 3);
		return -1;
	}
	*bits = ((uint64_t)lua_tonumber(L, -3) << 32) | (uint64_t)lua_tonumber(L, -2);
	*negative = lua_toboolean(L, -1) && (int64_t)*bits < 0;
	lua_pop(L, 3);
	return 0;
}
#elif LBPF_LUA_INTEGERS
void lbpf_lua_push_u64(lua_State *L, uint64_t v)
{
	lua_pushinteger(L, (lua_Integer)v);
}

void lbpf_lua_push_i64(lua_State *L, int64_t v)
{
	lua_pushinteger(L, (lua_Integer)v);
}
#else
/* PUC 5.1 and 5.2: numbers are doubles, exact below 2^53. */
void lbpf_lua_push_u64(lua_State *L, uint64_t v)
{
	lua_pushnumber(L, (lua_Number)v);
}

void lbpf_lua_push_i64(lua_State *L, int64_t v)
{
	lua_pushnumber(L, (lua_Number)v);
}
#endif

/* An integral double as 64 bits: [-2^63, 2^64). */
static int number_bits(lua_Number n, uint64_t *bits, int *negative)
{
	if (!(n == floor(n)) || n < -9223372036854775808.0 || n >= 18446744073709551616.0)
		return -1;
	if (n >= 9223372036854775808.0) {
		*bits = (uint64_t)n;
		*negative = 0;
	} else {
		*bits = (uint64_t)(int64_t)n;
		*negative = n < 0;
	}
	return 0;
}

int lbpf_lua_get_int(lua_State *L, int idx, uint64_t *bits, int *negative)
{
	int type = lua_type(L, idx);
	if (type == LUA_TNUMBER) {
#if LBPF_LUA_INTEGERS
		if (lua_isinteger(L, idx)) {
			lua_Integer i = lua_tointeger(L, idx);
			*bits = (uint64_t)i;
			*negative = i < 0;
			return 0;
		}
#endif
		return number_bits(lua_tonumber(L, idx), bits, negative);
	}
#if LBPF_LUAJIT
	if (type == LBPF_TCDATA)
		return get_cdata64(L, idx, bits, negative);
#endif
	return -1;
}

uint64_t lbpf_lua_check_u64(lua_State *L, int idx)
{
	uint64_t bits;
	int negative;
	if (lbpf_lua_get_int(L, idx, &bits, &negative) != 0)
		luaL_argerror(L, idx, lua_pushfstring(L, "integer expected, got %s",
						      luaL_typename(L, idx)));
	return bits;
}

/* ---- little helpers ------------------------------------------------------------------------- */

/* Path of the value being encoded, for messages ("value.stats[2].count"). */
struct path {
	char buf[256];
	size_t len;
};

static size_t path_push(struct path *p, const char *fmt, ...)
{
	size_t saved = p->len;
	if (p->len < sizeof(p->buf)) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, ap);
		va_end(ap);
		if (n > 0)
			p->len += (size_t)n;
		if (p->len >= sizeof(p->buf))
			p->len = sizeof(p->buf) - 1;
	}
	return saved;
}

static void path_pop(struct path *p, size_t saved)
{
	p->len = saved;
	p->buf[saved] = '\0';
}

static int shape_error(lua_State *L, const struct path *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return luaL_error(L, "%s: %s", p->buf, msg);
}

static uint64_t load_uint(const uint8_t *data, size_t size)
{
	switch (size) {
	case 1: return data[0];
	case 2: { uint16_t v; memcpy(&v, data, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, data, 4); return v; }
	case 8: { uint64_t v; memcpy(&v, data, 8); return v; }
	}
	return 0;
}

static void store_uint(uint8_t *data, size_t size, uint64_t v)
{
	switch (size) {
	case 1: data[0] = (uint8_t)v; break;
	case 2: { uint16_t x = (uint16_t)v; memcpy(data, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(data, &x, 4); break; }
	case 8: memcpy(data, &v, 8); break;
	}
}

/* Bits [bit_off, bit_off + nbits) of a little-endian byte range of size bytes. */
static uint64_t load_bits(const uint8_t *data, size_t size, uint32_t bit_off, uint32_t nbits)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < nbits; i++) {
		uint32_t b = bit_off + i;
		if (b / 8 >= size)
			break;
		v |= (uint64_t)((data[b / 8] >> (b % 8)) & 1) << i;
	}
	return v;
}

static void store_bits(uint8_t *data, size_t size, uint32_t bit_off, uint32_t nbits, uint64_t v)
{
	for (uint32_t i = 0; i < nbits; i++) {
		uint32_t b = bit_off + i;
		if (b / 8 >= size)
			break;
		uint8_t mask = (uint8_t)(1u << (b % 8));
		if ((v >> i) & 1)
			data[b / 8] |= mask;
		else
			data[b / 8] &= (uint8_t)~mask;
	}
}

/* Skips typedefs/modifiers and VARs to the type that describes the bytes. */
static uint32_t resolve(const lbpf_btf *btf, uint32_t id)
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

/* Integer description of an INT/ENUM/ENUM64/PTR type: 0 if it is none of those. */
struct int_desc {
	uint32_t size;
	uint32_t bits;
	uint32_t bit_offset;
	bool is_signed;
	bool is_bool;
};

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

static int describe_int(const struct btf_type *t, struct int_desc *d)
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

static bool is_char_type(const lbpf_btf *btf, uint32_t id)
{
	const struct btf_type *t = lbpf_btf_type(btf, id);
	if (!t || lbpf_btf_kind(t) != BTF_KIND_INT || t->size != 1)
		return false;
	uint32_t enc;
	memcpy(&enc, t + 1, sizeof(enc));
	return (BTF_INT_ENCODING(enc) & BTF_INT_CHAR) || strcmp(lbpf_btf_str(btf, t->name_off), "char") == 0;
}

static uint32_t bounded_size(const lbpf_btf *btf, uint32_t id, size_t avail)
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
	uint32_t elem = resolve(btf, arr.type);
	if (is_char_type(btf, elem)) {
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
	uint32_t mid = resolve(btf, m->type);
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
	if (mt && describe_int(mt, &d) && (bitfield || (bit_off % 8) || (d.bits && d.bits != d.size * 8) || d.bit_offset)) {
		/* A bitfield: kflag gives its width in the member; otherwise the int type does. */
		uint32_t nbits = bitfield ? bitfield : d.bits;
		uint64_t v = load_bits(data, size, bit_off + d.bit_offset, nbits);
		if (d.is_bool)
			lua_pushboolean(L, v != 0);
		else
			lbpf_lua_push_int_bits(L, v, nbits, d.is_signed);
	} else {
		size_t off = bit_off / 8;
		push_typed(L, btf, mid, data + off, bounded_size(btf, mid, size - off), depth + 1);
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
	id = resolve(btf, id);
	t = lbpf_btf_type(btf, id);
	if (!t) {
		push_plain(L, data, size);
		return;
	}
	if (describe_int(t, &d)) {
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

/* ---- encoding ------------------------------------------------------------------------------- */

struct enc {
	lua_State *L;
	const lbpf_btf *btf;
	struct path path;
};

static void encode_typed(struct enc *e, int idx, uint32_t id, uint8_t *out, size_t size, int depth);

/* Raises for a value that is no integer: a float with a fraction, a string (which stands for
 * bytes only under raw = true), or any other type. */
static void not_an_integer(struct enc *e, int idx, const char *type_name)
{
	lua_State *L = e->L;
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Number n = lua_tonumber(L, idx);
		if (n == floor(n)) /* integral but beyond any 64-bit integer (or infinite) */
			shape_error(L, &e->path, "%s out of range for a 64-bit %s", lua_tostring(L, idx),
				    type_name);
		shape_error(L, &e->path, "%s expected, got the non-integral number %s", type_name,
			    lua_tostring(L, idx));
	}
	if (lua_type(L, idx) == LUA_TSTRING)
		shape_error(L, &e->path, "%s expected, got string (byte strings need {raw = true})",
			    type_name);
	shape_error(L, &e->path, "%s expected, got %s", type_name, luaL_typename(L, idx));
}

/* Raises naming the value and the range of an nbits-wide field. */
static void range_error(struct enc *e, uint64_t bits, int negative, unsigned nbits, bool is_signed,
			const char *type_name)
{
	char num[32], range[64];
	if (negative)
		snprintf(num, sizeof(num), "%lld", (long long)(int64_t)bits);
	else
		snprintf(num, sizeof(num), "%llu", (unsigned long long)bits);
	if (is_signed)
		snprintf(range, sizeof(range), "%lld..%lld", nbits >= 64 ? (long long)INT64_MIN
			 : -(1ll << (nbits - 1)), nbits >= 64 ? (long long)INT64_MAX
			 : (1ll << (nbits - 1)) - 1);
	else
		snprintf(range, sizeof(range), "0..%llu", nbits >= 64 ? (unsigned long long)UINT64_MAX
			 : (1ull << nbits) - 1);
	shape_error(e->L, &e->path, "%s out of range for %s%u-bit %s (%s)", num,
		    is_signed ? "signed " : "unsigned ", nbits, type_name, range);
}

/* Reads an integer for a field of nbits bits, checking the range. A bool field takes true, false,
 * 0 or 1; other fields take integers only (2.0 is an integer, 1.5 is not). */
static uint64_t encode_int_value(struct enc *e, int idx, unsigned nbits, bool is_signed,
				 bool is_bool, const char *type_name)
{
	uint64_t bits;
	int negative;
	if (is_bool && lua_type(e->L, idx) == LUA_TBOOLEAN)
		return lua_toboolean(e->L, idx) ? 1 : 0;
	if (lbpf_lua_get_int(e->L, idx, &bits, &negative) != 0)
		not_an_integer(e, idx, is_bool ? "boolean" : type_name);
	if (is_bool && (negative || bits > 1))
		shape_error(e->L, &e->path, "boolean expected, got %s", lua_tostring(e->L, idx));
	if (nbits >= 64) {
		if (is_signed && !negative && bits > (uint64_t)INT64_MAX)
			goto out_of_range;
		return bits;
	}
	if (is_signed) {
		int64_t v = (int64_t)bits, lim = (int64_t)1 << (nbits - 1);
		if (negative ? v < -lim : bits >= (uint64_t)lim)
			goto out_of_range;
	} else if (negative || bits >> nbits) {
		goto out_of_range;
	}
	return bits;
out_of_range:
	range_error(e, bits, negative, nbits, is_signed, type_name);
	return 0;
}

static uint32_t enum_value_by_name(struct enc *e, const struct btf_type *t, const char *name,
				   uint64_t *out)
{
	uint16_t n = lbpf_btf_vlen(t);
	if (lbpf_btf_kind(t) == BTF_KIND_ENUM) {
		const struct btf_enum *v = (const struct btf_enum *)(t + 1);
		for (uint16_t i = 0; i < n; i++)
			if (strcmp(lbpf_btf_str(e->btf, v[i].name_off), name) == 0) {
				*out = (uint64_t)(int64_t)v[i].val;
				if (!lbpf_btf_kflag(t))
					*out = (uint32_t)v[i].val;
				return 1;
			}
	} else if (lbpf_btf_kind(t) == BTF_KIND_ENUM64) {
		const struct btf_enum64 *v = (const struct btf_enum64 *)(t + 1);
		for (uint16_t i = 0; i < n; i++)
			if (strcmp(lbpf_btf_str(e->btf, v[i].name_off), name) == 0) {
				*out = ((uint64_t)v[i].val_hi32 << 32) | v[i].val_lo32;
				return 1;
			}
	}
	return 0;
}

static void encode_int(struct enc *e, int idx, const struct btf_type *t, const struct int_desc *d,
		       uint8_t *out, size_t size)
{
	uint64_t v = 0;
	unsigned bits = d->bits ? d->bits : d->size * 8;
	int kind = lbpf_btf_kind(t);
	if (d->size > size)
		shape_error(e->L, &e->path, "type does not fit its %zu bytes", size);
	if ((kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64) && lua_type(e->L, idx) == LUA_TSTRING) {
		const char *name = lua_tostring(e->L, idx);
		if (!enum_value_by_name(e, t, name, &v))
			shape_error(e->L, &e->path, "'%s' is not a value of enum %s", name,
				    lbpf_btf_str(e->btf, t->name_off));
	} else {
		v = encode_int_value(e, idx, bits, d->is_signed, d->is_bool,
				     kind == BTF_KIND_PTR ? "pointer" : d->is_bool ? "boolean" : "integer");
	}
	if (d->bit_offset || bits != d->size * 8)
		store_bits(out, size, d->bit_offset, bits, v);
	else
		store_uint(out, d->size, v);
}

static void encode_bytes(struct enc *e, int idx, uint8_t *out, size_t size)
{
	size_t len;
	if (lua_type(e->L, idx) != LUA_TSTRING)
		shape_error(e->L, &e->path, "byte string of %zu bytes expected, got %s", size,
			    luaL_typename(e->L, idx));
	const char *s = lua_tolstring(e->L, idx, &len);
	if (len != size)
		shape_error(e->L, &e->path, "byte string of %zu bytes expected, got %zu bytes", size, len);
	memcpy(out, s, size);
}

static void encode_plain(struct enc *e, int idx, uint8_t *out, size_t size)
{
	if (size == 1 || size == 2 || size == 4 || size == 8)
		store_uint(out, size, encode_int_value(e, idx, (unsigned)size * 8, false, false, "integer"));
	else
		encode_bytes(e, idx, out, size);
}

/* Every key of the table at idx must be an index 1..nelems (a hole is a zero element): a key
 * beyond the declared length, or of another kind, is an error rather than dropped. Returns the
 * largest index. */
static size_t check_array_keys(struct enc *e, int idx, uint32_t nelems)
{
	lua_State *L = e->L;
	size_t top = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		uint64_t bits = 0;
		int negative = 0; /* set by lbpf_lua_get_int; clang cannot see shape_error never returns */
		if (lua_type(L, -1) == LUA_TSTRING)
			shape_error(L, &e->path, "array indices must be integers, got the key '%s'",
				    lua_tostring(L, -1));
		if (lua_type(L, -1) != LUA_TNUMBER || lbpf_lua_get_int(L, -1, &bits, &negative) != 0)
			shape_error(L, &e->path, "array indices must be integers, got a %s key",
				    luaL_typename(L, -1));
		if (negative || bits < 1 || bits > nelems)
			shape_error(L, &e->path, "index %s beyond an array of %u elements (1..%u)",
				    lua_tostring(L, -1), nelems, nelems);
		if (bits > top)
			top = (size_t)bits;
	}
	return top;
}

static void encode_array(struct enc *e, int idx, const struct btf_type *t, uint8_t *out,
			 size_t size, int depth)
{
	lua_State *L = e->L;
	struct btf_array arr;
	memcpy(&arr, t + 1, sizeof(arr));
	uint32_t elem = resolve(e->btf, arr.type);
	int64_t esz = lbpf_btf_type_size(e->btf, elem);
	int type = lua_type(L, idx);

	if (esz == 1 && type == LUA_TSTRING) {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		size_t cap = arr.nelems < size ? arr.nelems : size;
		if (len > cap)
			shape_error(L, &e->path, "string of %zu bytes too long for %s[%u]", len,
				    is_char_type(e->btf, elem) ? "char" : "an array of bytes", arr.nelems);
		memcpy(out, s, len);
		return;
	}
	if (type != LUA_TTABLE || is_char_type(e->btf, elem))
		shape_error(L, &e->path, "%s expected, got %s",
			    is_char_type(e->btf, elem) ? "string" : "table (array)", luaL_typename(L, idx));
	if (esz <= 0)
		shape_error(L, &e->path, "array of elements without a size");
	size_t n = check_array_keys(e, idx, arr.nelems);
	for (size_t i = 0; i < n; i++) {
		if ((i + 1) * (size_t)esz > size)
			break;
		lua_rawgeti(L, idx, (int)i + 1);
		size_t saved = path_push(&e->path, "[%zu]", i + 1);
		if (!lua_isnil(L, -1))
			encode_typed(e, lua_gettop(L), elem, out + i * (size_t)esz, (size_t)esz, depth + 1);
		path_pop(&e->path, saved);
		lua_pop(L, 1);
	}
}

static int encode_members(struct enc *e, int idx, const struct btf_type *t, uint8_t *out,
			  size_t size, int depth);

/* Encodes one member from the table at idx; returns how many table keys it consumed. */
static int encode_member(struct enc *e, int idx, const struct btf_type *t, const struct btf_member *m,
			 uint8_t *out, size_t size, int depth)
{
	lua_State *L = e->L;
	uint32_t bit_off = lbpf_btf_kflag(t) ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
	uint32_t bitfield = lbpf_btf_kflag(t) ? BTF_MEMBER_BITFIELD_SIZE(m->offset) : 0;
	uint32_t mid = resolve(e->btf, m->type);
	const struct btf_type *mt = lbpf_btf_type(e->btf, mid);
	const char *name = lbpf_btf_str(e->btf, m->name_off);
	struct int_desc d;
	int used = 0;

	if (bit_off / 8 > size)
		return 0;
	if (!*name) {
		if (mt && (lbpf_btf_kind(mt) == BTF_KIND_STRUCT || lbpf_btf_kind(mt) == BTF_KIND_UNION))
			return encode_members(e, idx, mt, out + bit_off / 8, size - bit_off / 8, depth + 1);
		return 0;
	}
	lua_getfield(L, idx, name);
	if (!lua_isnil(L, -1)) {
		size_t saved = path_push(&e->path, ".%s", name);
		used = 1;
		if (mt && describe_int(mt, &d) &&
		    (bitfield || (bit_off % 8) || (d.bits && d.bits != d.size * 8) || d.bit_offset)) {
			uint32_t nbits = bitfield ? bitfield : d.bits;
			uint64_t v = encode_int_value(e, lua_gettop(L), nbits, d.is_signed, d.is_bool,
						      d.is_bool ? "boolean" : "integer");
			store_bits(out, size, bit_off + d.bit_offset, nbits, v);
		} else {
			size_t off = bit_off / 8;
			encode_typed(e, lua_gettop(L), mid, out + off,
				     bounded_size(e->btf, mid, size - off), depth + 1);
		}
		path_pop(&e->path, saved);
	}
	lua_pop(L, 1);
	return used;
}

static int encode_members(struct enc *e, int idx, const struct btf_type *t, uint8_t *out,
			  size_t size, int depth)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	uint16_t n = lbpf_btf_vlen(t);
	int used = 0;
	if (depth > MAX_DEPTH)
		luaL_error(e->L, "BTF type nesting deeper than %d levels", MAX_DEPTH);
	for (uint16_t i = 0; i < n; i++)
		used += encode_member(e, idx, t, &m[i], out, size, depth);
	return used;
}

/* Whether a member (possibly inside anonymous members) of t is called name. */
static bool has_member(const lbpf_btf *btf, const struct btf_type *t, const char *name, int depth)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	uint16_t n = lbpf_btf_vlen(t);
	for (uint16_t i = 0; i < n && depth < MAX_DEPTH; i++) {
		const char *mname = lbpf_btf_str(btf, m[i].name_off);
		if (*mname) {
			if (strcmp(mname, name) == 0)
				return true;
			continue;
		}
		const struct btf_type *mt = lbpf_btf_type(btf, resolve(btf, m[i].type));
		if (mt && (lbpf_btf_kind(mt) == BTF_KIND_STRUCT || lbpf_btf_kind(mt) == BTF_KIND_UNION) &&
		    has_member(btf, mt, name, depth + 1))
			return true;
	}
	return false;
}

/* Raises naming the first key of the table at idx that is not a member of t. */
static void reject_unknown_field(struct enc *e, int idx, const struct btf_type *t)
{
	lua_State *L = e->L;
	const char *tname = lbpf_btf_str(e->btf, t->name_off);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			shape_error(L, &e->path, "field names must be strings, got %s key in a table for %s %s",
				    luaL_typename(L, -1),
				    lbpf_btf_kind(t) == BTF_KIND_UNION ? "union" : "struct",
				    *tname ? tname : "(anonymous)");
		}
		const char *key = lua_tostring(L, -1);
		if (!has_member(e->btf, t, key, 0))
			shape_error(L, &e->path, "unknown field '%s' for %s %s", key,
				    lbpf_btf_kind(t) == BTF_KIND_UNION ? "union" : "struct",
				    *tname ? tname : "(anonymous)");
	}
}

static void encode_struct(struct enc *e, int idx, const struct btf_type *t, uint8_t *out,
			  size_t size, int depth)
{
	lua_State *L = e->L;
	if (lua_type(L, idx) != LUA_TTABLE)
		shape_error(L, &e->path, "table expected for %s %s, got %s%s",
			    lbpf_btf_kind(t) == BTF_KIND_UNION ? "union" : "struct",
			    lbpf_btf_str(e->btf, t->name_off), luaL_typename(L, idx),
			    lua_type(L, idx) == LUA_TSTRING ? " (byte strings need {raw = true})" : "");
	int used = encode_members(e, idx, t, out, size, depth);
	/* Cheap common case: as many keys as members found means no unknown key. */
	int count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		count++;
	}
	if (count != used)
		reject_unknown_field(e, idx, t);
}

static void encode_datasec(struct enc *e, int idx, const struct btf_type *t, uint8_t *out,
			   size_t size, int depth)
{
	lua_State *L = e->L;
	const struct btf_var_secinfo *v = (const struct btf_var_secinfo *)(t + 1);
	uint16_t n = lbpf_btf_vlen(t);
	if (lua_type(L, idx) != LUA_TTABLE)
		shape_error(L, &e->path, "table of variables expected, got %s", luaL_typename(L, idx));
	for (uint16_t i = 0; i < n; i++) {
		const struct btf_type *var = lbpf_btf_type(e->btf, v[i].type);
		if (!var || v[i].offset >= size || v[i].size > size - v[i].offset)
			continue;
		const char *name = lbpf_btf_str(e->btf, var->name_off);
		lua_getfield(L, idx, name);
		if (!lua_isnil(L, -1)) {
			size_t saved = path_push(&e->path, ".%s", name);
			encode_typed(e, lua_gettop(L), v[i].type, out + v[i].offset, v[i].size, depth + 1);
			path_pop(&e->path, saved);
		}
		lua_pop(L, 1);
	}
}

static void encode_float(struct enc *e, int idx, uint8_t *out, size_t size)
{
	if (lua_type(e->L, idx) != LUA_TNUMBER)
		shape_error(e->L, &e->path, "number expected, got %s", luaL_typename(e->L, idx));
	lua_Number n = lua_tonumber(e->L, idx);
	if (size == 4 && isfinite(n) && fabs(n) > FLT_MAX)
		shape_error(e->L, &e->path, "%s out of range for a 4-byte float (largest %g)",
			    lua_tostring(e->L, idx), (double)FLT_MAX);
	if (size == 4) {
		float f = (float)n;
		memcpy(out, &f, 4);
	} else if (size == 8) {
		double d = (double)n;
		memcpy(out, &d, 8);
	} else {
		shape_error(e->L, &e->path, "floating point type of %zu bytes is not supported", size);
	}
}

static void encode_typed(struct enc *e, int idx, uint32_t id, uint8_t *out, size_t size, int depth)
{
	const struct btf_type *t;
	struct int_desc d;

	if (depth > MAX_DEPTH)
		luaL_error(e->L, "BTF type nesting deeper than %d levels", MAX_DEPTH);
	luaL_checkstack(e->L, 6, "encoding a value");
	id = resolve(e->btf, id);
	t = lbpf_btf_type(e->btf, id);
	if (!t) {
		encode_plain(e, idx, out, size);
		return;
	}
	if (describe_int(t, &d)) {
		encode_int(e, idx, t, &d, out, size);
		return;
	}
	switch (lbpf_btf_kind(t)) {
	case BTF_KIND_ARRAY:
		encode_array(e, idx, t, out, size, depth);
		return;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		encode_struct(e, idx, t, out, size, depth);
		return;
	case BTF_KIND_DATASEC:
		encode_datasec(e, idx, t, out, size, depth);
		return;
	case BTF_KIND_FLOAT:
		encode_float(e, idx, out, t->size <= size ? t->size : size);
		return;
	}
	encode_bytes(e, idx, out, size);
}

static void encode_value(lua_State *L, int idx, const lbpf_btf *btf, uint32_t type_id, void *out,
			 size_t size, int raw, const char *what)
{
	struct enc e = { .L = L, .btf = btf };
	idx = lua_absindex(L, idx);
	path_push(&e.path, "%s", what);
	memset(out, 0, size);
	if (raw)
		encode_bytes(&e, idx, out, size);
	else if (!btf || !type_id)
		encode_plain(&e, idx, out, size);
	else
		encode_typed(&e, idx, type_id, out, size, 0);
}

void lbpf_lua_to_value(lua_State *L, int idx, const lbpf_btf *btf, uint32_t type_id, void *out,
		       size_t size, int raw, const char *what)
{
	encode_value(L, idx, btf, type_id, out, size, raw, what ? what : "value");
}

/* ---- codecs: the resolved per-map fast path ------------------------------------------------- */

/* One member of a flat struct, or false when it needs the general decoder. */
static bool flat_field(const lbpf_btf *btf, const struct btf_type *t, const struct btf_member *m,
		       size_t size, struct lbpf_lua_flat_field *f)
{
	uint32_t bit_off = lbpf_btf_kflag(t) ? BTF_MEMBER_BIT_OFFSET(m->offset) : m->offset;
	uint32_t mid = resolve(btf, m->type);
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
		return is_char_type(btf, resolve(btf, a->type)) && a->nelems <= 0xffff &&
		       f->offset + (size_t)a->nelems <= size;
	}
	if (lbpf_btf_kind(mt) == BTF_KIND_PTR || !describe_int(mt, &d) || d.bit_offset ||
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
	c->type_id = resolve(btf, type_id);
	c->shape = LBPF_SHAPE_BTF;
	t = lbpf_btf_type(btf, c->type_id);
	if (t && describe_int(t, &d) && !d.is_bool && !d.bit_offset && d.size == size &&
	    (d.bits == 0 || d.bits == d.size * 8) &&
	    (size == 1 || size == 2 || size == 4 || size == 8) && lbpf_btf_kind(t) != BTF_KIND_ENUM64 &&
	    lbpf_btf_kind(t) != BTF_KIND_ENUM)
		c->shape = d.is_signed ? LBPF_SHAPE_SINT : LBPF_SHAPE_UINT;
	if (t && lbpf_btf_kind(t) == BTF_KIND_ARRAY) {
		struct btf_array arr;
		memcpy(&arr, t + 1, sizeof(arr));
		c->char_array = is_char_type(btf, resolve(btf, arr.type));
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

/* Integer fast path: the common u32/u64 key and value skip the generic encoder. */
static int encode_fast_int(lua_State *L, int idx, const struct lbpf_lua_codec *c, void *out)
{
#if LBPF_LUA_INTEGERS
	if (!lua_isinteger(L, idx))
		return 0;
	lua_Integer i = lua_tointeger(L, idx);
	uint64_t bits = (uint64_t)i;
	int negative = i < 0;
#else
	if (lua_type(L, idx) != LUA_TNUMBER)
		return 0;
	uint64_t bits;
	int negative;
	if (number_bits(lua_tonumber(L, idx), &bits, &negative) != 0)
		return 0;
#endif
	unsigned nbits = c->size * 8;
	if (c->shape == LBPF_SHAPE_UINT) {
		if (nbits < 64 && (negative || bits >> nbits))
			return 0;
	} else if (nbits < 64) {
		int64_t v = (int64_t)bits, lim = (int64_t)1 << (nbits - 1);
		if (v < -lim || v >= lim)
			return 0;
	} else if (!negative && bits > (uint64_t)INT64_MAX) {
		return 0;
	}
	store_uint(out, c->size, bits);
	return 1;
}

void lbpf_lua_codec_encode(lua_State *L, int idx, const struct lbpf_lua_codec *c, void *out,
			   const char *what)
{
	if ((c->shape == LBPF_SHAPE_UINT || c->shape == LBPF_SHAPE_SINT) &&
	    encode_fast_int(L, idx, c, out))
		return;
	if (c->shape == LBPF_SHAPE_SINT || c->shape == LBPF_SHAPE_UINT) {
		/* Slow path for messages, cdata and strings; keeps the same rules. */
		struct enc e = { .L = L, .btf = c->btf };
		idx = lua_absindex(L, idx);
		path_push(&e.path, "%s", what);
		memset(out, 0, c->size);
		store_uint(out, c->size, encode_int_value(&e, idx, c->size * 8, c->shape == LBPF_SHAPE_SINT,
							  false, "integer"));
		return;
	}
	encode_value(L, idx, c->btf, c->type_id, out, c->size, c->shape == LBPF_SHAPE_BYTES, what);
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
