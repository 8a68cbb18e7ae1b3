/*
 * Map iteration: map:pairs() returns an iterator userdata (callable, so `for k, v in
 * map:pairs() do` works on every interpreter; Lua 5.4 also honours __pairs, so `pairs(map)`
 * works there). It reads BPF_MAP_LOOKUP_BATCH batches into buffers inside the iterator and
 * falls back to get_next_key + lookup for map types without batch support. The same iterator
 * feeds map:keys(), map:items(), map:count(), map:clear() and map:dump() (lmap_dump.c).
 *
 * Decoding: keys and values that are flat structs of a plain map type are built here with their
 * exact hash size, field names interned once per iterator (its uservalue) and lua_rawset, which
 * saves lua_setfield's lookup of every name; the iterator's __call checks its metatable against
 * an upvalue rather than the registry. Under LuaJIT, __call and next are replaced by a Lua
 * function (lmap_jit.c) that decodes flat maps in JIT-compiled code. pairs{reuse = true} refills
 * one key table and one value table in place instead (liter_reuse.c).
 *
 * Deleting while iterating: deleting the entry just returned (or any already returned) is safe
 * in both modes: batches are copied out before they are handed over, and the next_key mode
 * fetches the following key before it returns the current one. Deleting entries not yet visited
 * may, in next_key mode on a hash map, restart the walk (the kernel's rule for a missing key).
 */
#include <errno.h>
#include <string.h>

#include "lmap.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* the kernel's internal "operation not supported" */
#endif

#define BATCH_BYTES (256 * 1024)
#define BATCH_MAX 4096

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static uint32_t batch_capacity(const struct lbpf_lua_map *m, lua_Integer wanted)
{
	size_t entry = (size_t)m->key_size + m->lookup_size;
	size_t cap = wanted > 0 ? (size_t)wanted : BATCH_BYTES / (entry ? entry : 1);
	uint32_t max = lbpf_map_max_entries(m->map);
	if (wanted <= 0 && max && cap > max)
		cap = max;
	if (cap > BATCH_MAX && wanted <= 0)
		cap = BATCH_MAX;
	return cap ? (uint32_t)cap : 1;
}

struct lbpf_lua_iter *lbpf_lua_new_iter(lua_State *L, int map_idx, int opts_idx)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, map_idx);
	int raw = 0, batch = 1;
	lua_Integer wanted = 0;

	lbpf_lua_map_check_op(L, m, LBPF_OP_ITER);
	if (opts_idx && !lua_isnoneornil(L, opts_idx)) {
		luaL_checktype(L, opts_idx, LUA_TTABLE);
		lua_getfield(L, opts_idx, "raw");
		raw = lua_toboolean(L, -1);
		lua_getfield(L, opts_idx, "batch");
		batch = lua_isnil(L, -1) || lua_toboolean(L, -1);
		lua_getfield(L, opts_idx, "batch_size");
		if (!lua_isnil(L, -1)) {
			wanted = luaL_checkinteger(L, -1);
			if (wanted < 1 || wanted > 1 << 20)
				luaL_error(L, "batch_size must be between 1 and 1048576");
		}
		lua_pop(L, 3);
	}
	uint32_t cap = batch ? batch_capacity(m, wanted) : 1;
	size_t ks = align8(m->key_size), token = align8(m->key_size > 8 ? m->key_size : 8);
	size_t head = align8(sizeof(struct lbpf_lua_iter));
	size_t total = head + cap * ks + cap * align8(m->lookup_size) + 2 * token + 2 * ks;

	map_idx = lua_absindex(L, map_idx);
	struct lbpf_lua_iter *it = lbpf_newuserdata(L, total);
	memset(it, 0, head);
	it->m = m;
	it->cap = cap;
	it->mode = batch ? LBPF_ITER_BATCH : LBPF_ITER_NEXT_KEY;
	it->raw = raw;
	it->token_size = (uint32_t)token;
	it->keys = (uint8_t *)it + head;
	it->values = it->keys + cap * ks;
	it->in_token = it->values + cap * align8(m->lookup_size);
	it->out_token = it->in_token + token;
	it->cur = it->out_token + token;
	it->prev = it->cur + ks;
	it->flat_key = lbpf_lua_map_flat_side(m, true, raw);
	it->flat_value = lbpf_lua_map_flat_side(m, false, raw);
	luaL_setmetatable(L, LBPF_ITER_MT);
	lua_createtable(L, m->key.nfields + m->value.nfields, 1);
	lua_pushvalue(L, map_idx);
	lua_setfield(L, -2, "map");
	if (it->flat_key)
		lbpf_lua_store_field_names(L, &m->key, lua_gettop(L), 1);
	if (it->flat_value)
		lbpf_lua_store_field_names(L, &m->value, lua_gettop(L), 1 + m->key.nfields);
	lbpf_setuservalue(L, -2);
	return it;
}

static int raise_failure(lua_State *L, struct lbpf_lua_iter *it, const char *what)
{
	const char *msg = lbpf_errmsg();
	return luaL_error(L, "iterating map '%s': %s failed: %s", it->m->name, what,
			  msg && *msg ? msg : "unknown error");
}

/* The kernel writes keys[] and values[] densely (key_size and lookup_size strides). */
static const uint8_t *batch_key(const struct lbpf_lua_iter *it, uint32_t i)
{
	return it->keys + (size_t)i * it->m->key_size;
}

static const uint8_t *batch_value(const struct lbpf_lua_iter *it, uint32_t i)
{
	return it->values + (size_t)i * it->m->lookup_size;
}

/* Switches to next_key mode; after (a key, or NULL to start from the first key). */
static void switch_to_next_key(lua_State *L, struct lbpf_lua_iter *it, const uint8_t *after)
{
	it->mode = LBPF_ITER_NEXT_KEY;
	it->started = true;
	int err = lbpf_map_next_key(it->m->map, after, it->cur);
	if (err < 0 && err != -ENOENT)
		raise_failure(L, it, "get_next_key");
	it->have_cur = err == 0;
}

static void fetch_batch(lua_State *L, struct lbpf_lua_iter *it)
{
	struct lbpf_lua_map *m = it->m;
	uint32_t count = it->cap;
	bool first = !it->started;

	/* The last key handed out, in case the batch call refuses and next_key must resume. */
	if (it->count)
		memcpy(it->prev, batch_key(it, it->count - 1), m->key_size);
	int err = lbpf_map_lookup_batch(m->map, first ? NULL : it->in_token, it->out_token, it->keys,
					it->values, &count);
	it->started = true;
	if ((err == -EINVAL || err == -ENOTSUPP || err == -EOPNOTSUPP) && first) {
		switch_to_next_key(L, it, NULL);
		return;
	}
	if (err == -ENOSPC && count == 0) {
		/* A hash bucket bigger than the batch: carry on key by key. */
		switch_to_next_key(L, it, it->count ? it->prev : NULL);
		it->count = it->pos = 0;
		return;
	}
	if (err == -ENOENT)
		it->exhausted = true;
	else if (err < 0)
		raise_failure(L, it, "batch lookup");
	memcpy(it->in_token, it->out_token, it->token_size);
	it->count = count;
	it->pos = 0;
}

int lbpf_lua_iter_step(lua_State *L, struct lbpf_lua_iter *it, const uint8_t **key,
		     const uint8_t **value, int want_value)
{
	struct lbpf_lua_map *m = it->m;
	if (!lbpf_lua_map_alive(m))
		luaL_error(L, "map '%s' used after its object was closed", m->name);
	while (it->mode == LBPF_ITER_BATCH) {
		if (it->pos < it->count) {
			*key = batch_key(it, it->pos);
			*value = batch_value(it, it->pos);
			it->pos++;
			return 1;
		}
		if (it->exhausted)
			return 0;
		fetch_batch(L, it);
	}
	if (!it->started)
		switch_to_next_key(L, it, NULL);
	while (it->have_cur) {
		memcpy(it->prev, it->cur, m->key_size);
		int err = lbpf_map_next_key(m->map, it->prev, it->cur);
		if (err < 0 && err != -ENOENT)
			raise_failure(L, it, "get_next_key");
		it->have_cur = err == 0;
		if (want_value) {
			err = lbpf_map_lookup(m->map, it->prev, it->values, 0);
			if (err == -ENOENT)
				continue; /* deleted meanwhile */
			if (err < 0)
				raise_failure(L, it, "lookup");
		}
		*key = it->prev;
		*value = it->values;
		return 1;
	}
	return 0;
}

static struct lbpf_lua_iter *check_iter(lua_State *L, int idx)
{
#if LBPF_LUA54
	if (lbpf_lua_is_reuse_iter(L, idx))
		return lua_touserdata(L, idx);
#endif
	return luaL_checkudata(L, idx, LBPF_ITER_MT);
}

/* ---- decoding flat structs ------------------------------------------------------------------ */

bool lbpf_lua_map_flat_side(const struct lbpf_lua_map *m, bool is_key, bool raw)
{
	const struct lbpf_lua_codec *c = is_key ? &m->key : &m->value;
	return !raw && c->shape == LBPF_SHAPE_FLAT && lbpf_lua_map_plain_type(m) &&
	       (is_key || m->ncpus <= 1);
}

void lbpf_lua_store_field_names(lua_State *L, const struct lbpf_lua_codec *c, int t, int first)
{
	for (int i = 0; i < c->nfields; i++) {
		lua_pushstring(L, c->fields[i].name);
		lua_rawseti(L, t, first + i);
	}
}

static uint64_t load_uint(const uint8_t *p, size_t size)
{
	switch (size) {
	case 1: return p[0];
	case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
	default: { uint64_t v; memcpy(&v, p, 8); return v; }
	}
}

void lbpf_lua_push_field(lua_State *L, const struct lbpf_lua_flat_field *f, const uint8_t *data)
{
	const uint8_t *p = data + f->offset;
	switch (f->kind) {
	case LBPF_FIELD_UINT:
	case LBPF_FIELD_SINT:
		lbpf_lua_push_int_bits(L, load_uint(p, f->size), f->size * 8u,
				       f->kind == LBPF_FIELD_SINT);
		return;
	case LBPF_FIELD_BOOL:
		lua_pushboolean(L, load_uint(p, f->size) != 0);
		return;
	default: {
		const uint8_t *nul = memchr(p, 0, f->size);
		lua_pushlstring(L, (const char *)p, nul ? (size_t)(nul - p) : f->size);
	}
	}
}

void lbpf_lua_push_flat(lua_State *L, const struct lbpf_lua_codec *c, const uint8_t *data,
			int names, int first)
{
	lua_createtable(L, 0, c->nfields);
	for (int i = 0; i < c->nfields; i++) {
		lua_rawgeti(L, names, first + i);
		lbpf_lua_push_field(L, &c->fields[i], data);
		lua_rawset(L, -3);
	}
}

/* The iterator at 1, checked against the metatable in upvalue 1 (no registry lookup by name on
 * every entry); luaL_checkudata for the message when it is something else. */
static struct lbpf_lua_iter *check_iter_fast(lua_State *L)
{
	struct lbpf_lua_iter *it = lua_touserdata(L, 1);
	if (it && lua_getmetatable(L, 1)) {
		int same = lua_rawequal(L, -1, lua_upvalueindex(1));
		lua_pop(L, 1);
		if (same)
			return it;
	}
	return check_iter(L, 1);
}

/* it() / it:next() -> key, value | nothing at the end */
static int l_iter_call(lua_State *L)
{
	struct lbpf_lua_iter *it = check_iter_fast(L);
	const uint8_t *key, *value;
	if (!lbpf_lua_iter_step(L, it, &key, &value, 1))
		return 0;
	if (it->reuse)
		return lbpf_lua_iter_push_reused(L, it, 1, key, value);
	if (!it->flat_key && !it->flat_value) {
		lbpf_lua_map_push_key(L, it->m, key, it->raw);
		lbpf_lua_map_push_value(L, it->m, value, it->raw);
		return 2;
	}
	lbpf_getuservalue(L, 1);
	int names = lua_gettop(L);
	if (it->flat_key)
		lbpf_lua_push_flat(L, &it->m->key, key, names, 1);
	else
		lbpf_lua_map_push_key(L, it->m, key, it->raw);
	if (it->flat_value)
		lbpf_lua_push_flat(L, &it->m->value, value, names, 1 + it->m->key.nfields);
	else
		lbpf_lua_map_push_value(L, it->m, value, it->raw);
	return 2;
}

void lbpf_lua_push_iter_call(lua_State *L)
{
	luaL_getmetatable(L, LBPF_ITER_MT);
	lua_pushcclosure(L, l_iter_call, 1);
}

static int l_iter_tostring(lua_State *L)
{
	struct lbpf_lua_iter *it = check_iter(L, 1);
	lua_pushfstring(L, "bpf.map_iterator(%s, %s)", it->m->name,
			it->mode == LBPF_ITER_BATCH ? "batch" : "next_key");
	return 1;
}

/* map:pairs([opts]) -> iterator. reuse is read here only: map:keys(), map:dump() & co build
 * fresh values whatever the options say. */
static int l_pairs(lua_State *L)
{
	int reuse = lbpf_lua_opt_bool(L, lbpf_lua_opt_table(L, 2), "reuse", 0);
	struct lbpf_lua_iter *it = lbpf_lua_new_iter(L, 1, 2);
	it->reuse = reuse;
#if LBPF_LUAJIT
	lbpf_lua_jit_pairs(L, 1, lua_gettop(L));
#elif LBPF_LUA54
	lbpf_lua_iter_reuse_attach(L, 1, lua_gettop(L));
#endif
	return 1;
}

/* __pairs (Lua 5.4): pairs(map) -> iterator, nil, nil */
static int l_pairs_meta(lua_State *L)
{
	lbpf_lua_new_iter(L, 1, 0);
	lua_pushnil(L);
	lua_pushnil(L);
	return 3;
}

/* map:keys([opts]) -> array of keys */
static int l_keys(lua_State *L)
{
	struct lbpf_lua_iter *it = lbpf_lua_new_iter(L, 1, 2);
	const uint8_t *key, *value;
	int n = 0;
	lua_newtable(L);
	while (lbpf_lua_iter_step(L, it, &key, &value, 0)) {
		lbpf_lua_map_push_key(L, it->m, key, it->raw);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

/* map:items([opts]) -> {[key] = value} (a snapshot as a Lua table) */
static int l_items(lua_State *L)
{
	struct lbpf_lua_iter *it = lbpf_lua_new_iter(L, 1, 2);
	const uint8_t *key, *value;
	lua_newtable(L);
	while (lbpf_lua_iter_step(L, it, &key, &value, 1)) {
		lbpf_lua_map_push_key(L, it->m, key, it->raw);
		lbpf_lua_map_push_value(L, it->m, value, it->raw);
		lua_rawset(L, -3);
	}
	return 1;
}

#if LBPF_LUAJIT
int lbpf_lua_iter_batch(lua_State *L)
{
	struct lbpf_lua_iter *it = check_iter(L, 1);
	if (!lbpf_lua_map_alive(it->m))
		return luaL_error(L, "map '%s' used after its object was closed", it->m->name);
	while (it->mode == LBPF_ITER_BATCH && it->pos >= it->count && !it->exhausted)
		fetch_batch(L, it);
	if (it->mode != LBPF_ITER_BATCH || it->pos >= it->count) {
		lua_pushnil(L);
		lua_pushinteger(L, it->mode != LBPF_ITER_BATCH);
		return 2;
	}
	lua_pushlightuserdata(L, (void *)batch_key(it, it->pos));
	lua_pushlightuserdata(L, (void *)batch_value(it, it->pos));
	lua_pushinteger(L, it->count - it->pos);
	it->pos = it->count;
	return 3;
}
#endif

bool lbpf_lua_map_plain_type(const struct lbpf_lua_map *m)
{
	switch (m->type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
		return true;
	default:
		return false;
	}
}

static bool dense_array(const struct lbpf_lua_map *m)
{
	return m->type == BPF_MAP_TYPE_ARRAY || m->type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

/* map:count() -> number of entries (array maps: max_entries, every slot exists) */
static int l_count(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	if (dense_array(m)) {
		lua_pushinteger(L, (lua_Integer)lbpf_map_max_entries(m->map));
		return 1;
	}
	struct lbpf_lua_iter *it = lbpf_lua_new_iter(L, 1, 2);
	const uint8_t *key, *value;
	lua_Integer n = 0;
	while (lbpf_lua_iter_step(L, it, &key, &value, 0))
		n++;
	lua_pushinteger(L, n);
	return 1;
}

/* map:clear() -> number of entries removed (array maps: every slot zeroed, count = slots) */
static int l_clear(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	lua_Integer n = 0;
	if (dense_array(m)) {
		uint32_t max = lbpf_map_max_entries(m->map);
		memset(m->value_buf, 0, m->lookup_size);
		for (uint32_t i = 0; i < max; i++) {
			int err = lbpf_map_update(m->map, &i, m->value_buf, BPF_ANY);
			if (err < 0)
				return lbpf_lua_fail(L, err);
		}
		lua_pushinteger(L, (lua_Integer)max);
		return 1;
	}
	struct lbpf_lua_iter *it = lbpf_lua_new_iter(L, 1, 0);
	const uint8_t *key, *value;
	while (lbpf_lua_iter_step(L, it, &key, &value, 0)) {
		int err = lbpf_map_delete(m->map, key);
		if (err == -ENOENT)
			continue;
		if (err < 0)
			return lbpf_lua_fail(L, err);
		n++;
	}
	lua_pushinteger(L, n);
	return 1;
}

void lbpf_lua_open_map_iter(lua_State *L)
{
	static const luaL_Reg iter_meta[] = {
		{ "__tostring", l_iter_tostring },
		{ NULL, NULL },
	};
	static const luaL_Reg iter_methods[] = {
#if LBPF_LUAJIT
		{ "_batch", lbpf_lua_iter_batch },
#endif
		{ NULL, NULL },
	};
	static const luaL_Reg map_methods[] = {
		{ "pairs", l_pairs },
		{ "keys", l_keys },
		{ "items", l_items },
		{ "count", l_count },
		{ "clear", l_clear },
		{ NULL, NULL },
	};
	lbpf_lua_new_class(L, LBPF_ITER_MT, iter_meta, iter_methods, NULL);
	/* __call and next as closures over the metatable (check_iter_fast) */
	luaL_getmetatable(L, LBPF_ITER_MT);
	lbpf_lua_push_iter_call(L);
	lua_setfield(L, -2, "__call");
	lua_getfield(L, -1, "methods");
	lbpf_lua_push_iter_call(L);
	lua_setfield(L, -2, "next");
	lua_pop(L, 2);
	lbpf_lua_add_methods(L, LBPF_MAP_MT, map_methods);
	luaL_getmetatable(L, LBPF_MAP_MT);
	lua_pushcfunction(L, l_pairs_meta);
	lua_setfield(L, -2, "__pairs");
	lua_pop(L, 1);
	lbpf_lua_open_map_dump(L);
#if LBPF_LUAJIT
	lbpf_lua_open_map_jit(L);
#elif LBPF_LUA54
	lbpf_lua_open_iter_reuse(L);
#endif
}
