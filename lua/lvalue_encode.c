/*
 * Lua value -> BTF-typed bytes (the encoding half of lvalue.c): every shape error names the field
 * ("value.stats[2].count") and is raised before a byte reaches the kernel.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lvalue.h"

/* ---- paths for messages --------------------------------------------------------------------- */

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
	uint32_t elem = lbpf_value_resolve(e->btf, arr.type);
	int64_t esz = lbpf_btf_type_size(e->btf, elem);
	int type = lua_type(L, idx);

	if (esz == 1 && type == LUA_TSTRING) {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		size_t cap = arr.nelems < size ? arr.nelems : size;
		if (len > cap)
			shape_error(L, &e->path, "string of %zu bytes too long for %s[%u]", len,
				    lbpf_value_is_char_type(e->btf, elem) ? "char" : "an array of bytes", arr.nelems);
		memcpy(out, s, len);
		return;
	}
	if (type != LUA_TTABLE || lbpf_value_is_char_type(e->btf, elem))
		shape_error(L, &e->path, "%s expected, got %s",
			    lbpf_value_is_char_type(e->btf, elem) ? "string" : "table (array)", luaL_typename(L, idx));
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
	uint32_t mid = lbpf_value_resolve(e->btf, m->type);
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
		if (mt && lbpf_value_describe_int(mt, &d) &&
		    (bitfield || (bit_off % 8) || (d.bits && d.bits != d.size * 8) || d.bit_offset)) {
			uint32_t nbits = bitfield ? bitfield : d.bits;
			uint64_t v = encode_int_value(e, lua_gettop(L), nbits, d.is_signed, d.is_bool,
						      d.is_bool ? "boolean" : "integer");
			store_bits(out, size, bit_off + d.bit_offset, nbits, v);
		} else {
			size_t off = bit_off / 8;
			encode_typed(e, lua_gettop(L), mid, out + off,
				     lbpf_value_bounded_size(e->btf, mid, size - off), depth + 1);
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
		const struct btf_type *mt = lbpf_btf_type(btf, lbpf_value_resolve(btf, m[i].type));
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
	id = lbpf_value_resolve(e->btf, id);
	t = lbpf_btf_type(e->btf, id);
	if (!t) {
		encode_plain(e, idx, out, size);
		return;
	}
	if (lbpf_value_describe_int(t, &d)) {
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

/* ---- the codec's encoding (lvalue.c plans codecs) ------------------------------------------ */

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
	if (lbpf_lua_number_bits(lua_tonumber(L, idx), &bits, &negative) != 0)
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
