/*
 * Map iteration: map:pairs() returns an iterator userdata (callable, so `for k, v in
 * map:pairs() do` works on every interpreter; Lua 5.4 also honours __pairs, so `pairs(map)`
 * works there). It reads BPF_MAP_LOOKUP_BATCH batches into buffers inside the iterator and
 * falls back to get_next_key + lookup for map types without batch support.
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

enum iter_mode { ITER_BATCH, ITER_NEXT_KEY };

struct lbpf_lua_iter {
	struct lbpf_lua_map *m; /* kept alive by the uservalue */
	uint32_t cap;           /* entries per batch */
	uint32_t count;         /* entries in the buffers */
	uint32_t pos;           /* next one to hand out */
	uint32_t token_size;
	uint8_t mode;
	bool started;
	bool exhausted; /* batch mode: the kernel said there is no more */
	bool have_cur;  /* next_key mode: cur holds the next key to hand out */
	bool raw;
	uint8_t *keys;
	uint8_t *values;
	uint8_t *in_token;
	uint8_t *out_token;
	uint8_t *cur;
	uint8_t *prev;
};

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

/* Pushes a new iterator over the map at map_idx: opts.raw, opts.batch (false: next_key mode),
 * opts.batch_size. */
static struct lbpf_lua_iter *new_iter(lua_State *L, int map_idx, int opts_idx)
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
	it->mode = batch ? ITER_BATCH : ITER_NEXT_KEY;
	it->raw = raw;
	it->token_size = (uint32_t)token;
	it->keys = (uint8_t *)it + head;
	it->values = it->keys + cap * ks;
	it->in_token = it->values + cap * align8(m->lookup_size);
	it->out_token = it->in_token + token;
	it->cur = it->out_token + token;
	it->prev = it->cur + ks;
	luaL_setmetatable(L, LBPF_ITER_MT);
	lua_createtable(L, 0, 1);
	lua_pushvalue(L, map_idx);
	lua_setfield(L, -2, "map");
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
	it->mode = ITER_NEXT_KEY;
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

/* Next entry: 1 with *key and *value set, 0 at the end. want_value 0 skips lookups where it can. */
static int iter_step(lua_State *L, struct lbpf_lua_iter *it, const uint8_t **key,
		     const uint8_t **value, int want_value)
{
	struct lbpf_lua_map *m = it->m;
	if (!lbpf_lua_map_alive(m))
		luaL_error(L, "map '%s' used after its object was closed", m->name);
	while (it->mode == ITER_BATCH) {
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
	return luaL_checkudata(L, idx, LBPF_ITER_MT);
}

/* it() -> key, value | nil */
static int l_iter_call(lua_State *L)
{
	struct lbpf_lua_iter *it = check_iter(L, 1);
	const uint8_t *key, *value;
	if (!iter_step(L, it, &key, &value, 1))
		return 0;
	lbpf_lua_map_push_key(L, it->m, key, it->raw);
	lbpf_lua_map_push_value(L, it->m, value, it->raw);
	return 2;
}

static int l_iter_tostring(lua_State *L)
{
	struct lbpf_lua_iter *it = check_iter(L, 1);
	lua_pushfstring(L, "bpf.map_iterator(%s, %s)", it->m->name,
			it->mode == ITER_BATCH ? "batch" : "next_key");
	return 1;
}

/* map:pairs([opts]) -> iterator. */
static int l_pairs(lua_State *L)
{
	new_iter(L, 1, 2);
	return 1;
}

/* __pairs (Lua 5.4): pairs(map) -> iterator, nil, nil */
static int l_pairs_meta(lua_State *L)
{
	new_iter(L, 1, 0);
	lua_pushnil(L);
	lua_pushnil(L);
	return 3;
}

/* map:keys([opts]) -> array of keys */
static int l_keys(lua_State *L)
{
	struct lbpf_lua_iter *it = new_iter(L, 1, 2);
	const uint8_t *key, *value;
	int n = 0;
	lua_newtable(L);
	while (iter_step(L, it, &key, &value, 0)) {
		lbpf_lua_map_push_key(L, it->m, key, it->raw);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

/* map:items([opts]) -> {[key] = value} (a snapshot as a Lua table) */
static int l_items(lua_State *L)
{
	struct lbpf_lua_iter *it = new_iter(L, 1, 2);
	const uint8_t *key, *value;
	lua_newtable(L);
	while (iter_step(L, it, &key, &value, 1)) {
		lbpf_lua_map_push_key(L, it->m, key, it->raw);
		lbpf_lua_map_push_value(L, it->m, value, it->raw);
		lua_rawset(L, -3);
	}
	return 1;
}

#if LBPF_LUAJIT
/*
 * LuaJIT: map:dump() decodes in JIT-compiled Lua. For maps whose key and value are plain
 * integers or flat structs (LBPF_SHAPE_FLAT), a decoder is generated once per map from the
 * precompiled field list: ffi loads at fixed offsets inside a table constructor, which the JIT
 * turns into a few machine instructions per field, where the C API would pay a call, a string
 * lookup and a hash insertion for each. Batches still come from C (it:_batch()); values keep
 * the binding's rules (64-bit integers stay numbers below 2^53, cdata above).
 */
static const char jit_dump_gen[] =
	"local ffi = require 'ffi'\n"
	"local cast, tonumber, fstring = ffi.cast, tonumber, ffi.string\n"
	"local P = { [1] = ffi.typeof('const uint8_t *'), [2] = ffi.typeof('const uint16_t *'),\n"
	"  [4] = ffi.typeof('const uint32_t *'), [8] = ffi.typeof('const uint64_t *'),\n"
	"  [-1] = ffi.typeof('const int8_t *'), [-2] = ffi.typeof('const int16_t *'),\n"
	"  [-4] = ffi.typeof('const int32_t *'), [-8] = ffi.typeof('const int64_t *') }\n"
	"local LIM, SLIM = 9007199254740992ULL, 9007199254740992LL\n"
	"local function bu(x) if x < LIM then return tonumber(x) end return x end\n"
	"local function bs(x) if x < SLIM and x > -SLIM then return tonumber(x) end return x end\n"
	"local function cstr(p, n) local l = 0 while l < n and p[l] ~= 0 do l = l + 1 end\n"
	"  return fstring(p, l) end\n"
	/* desc: {size, signed} for an integer, or a list of {name, offset, size, kind} */
	"local function expr(off, size, kind)\n"
	"  if kind == 3 then return ('cstr(p + %d, %d)'):format(off, size) end\n"
	"  local e = ('cast(P[%d], p + %d)[0]'):format(kind == 1 and -size or size, off)\n"
	"  if kind == 2 then return '(' .. e .. ' ~= 0)' end\n"
	"  if size == 8 then return (kind == 1 and 'bs(' or 'bu(') .. e .. ')' end\n"
	"  return e\n"
	"end\n"
	"local function decoder(d)\n"
	"  if d.int then return 'return ' .. expr(0, d.size, d.signed and 1 or 0) end\n"
	"  local parts = {}\n"
	"  for i, f in ipairs(d) do\n"
	"    if not f[1]:match('^[%a_][%w_]*$') then return nil end\n"
	"    parts[i] = ('[%q] = %s'):format(f[1], expr(f[2], f[3], f[4]))\n"
	"  end\n"
	"  return 'return {' .. table.concat(parts, ', ') .. '}'\n"
	"end\n"
	"return function(kd, vd, kst, vst)\n"
	"  local kb, vb = decoder(kd), decoder(vd)\n"
	"  if not kb or not vb then return nil end\n"
	"  local src = 'local cast, P, bu, bs, cstr, u8p = ...\\n' ..\n"
	"    'local function kdec(p) ' .. kb .. ' end\\n' ..\n"
	"    'local function vdec(p) ' .. vb .. ' end\\n' ..\n"
	"    'return function(it, keys, values, n)\\n' ..\n"
	"    '  while true do\\n' ..\n"
	"    '    local kp, vp, cnt = it:_batch()\\n' ..\n"
	"    '    if not kp then return n, cnt end\\n' ..\n"
	"    '    kp, vp = cast(u8p, kp), cast(u8p, vp)\\n' ..\n"
	"    '    for i = 0, cnt - 1 do\\n' ..\n"
	"    '      n = n + 1\\n' ..\n"
	"    '      keys[n] = kdec(kp + i * ' .. kst .. ')\\n' ..\n"
	"    '      values[n] = vdec(vp + i * ' .. vst .. ')\\n' ..\n"
	"    '    end\\n' ..\n"
	"    '  end\\n' ..\n"
	"    'end\\n'\n"
	"  return assert(loadstring(src, '=bpf map decoder'))(cast, P, bu, bs, cstr, P[1])\n"
	"end\n";

/* Pushes a description of a codec for the generator, or returns 0 if it has no fast path. */
static int push_codec_desc(lua_State *L, const struct lbpf_lua_codec *c)
{
	if (c->shape == LBPF_SHAPE_UINT || c->shape == LBPF_SHAPE_SINT) {
		lua_createtable(L, 0, 3);
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "int");
		lua_pushinteger(L, c->size);
		lua_setfield(L, -2, "size");
		lua_pushboolean(L, c->shape == LBPF_SHAPE_SINT);
		lua_setfield(L, -2, "signed");
		return 1;
	}
	if (c->shape != LBPF_SHAPE_FLAT)
		return 0;
	/* field kinds for the generator: 0 unsigned, 1 signed, 2 bool, 3 chars */
	static const int kinds[] = { [LBPF_FIELD_UINT] = 0, [LBPF_FIELD_SINT] = 1,
				     [LBPF_FIELD_BOOL] = 2, [LBPF_FIELD_CHARS] = 3 };
	lua_createtable(L, c->nfields, 0);
	for (int i = 0; i < c->nfields; i++) {
		const struct lbpf_lua_flat_field *f = &c->fields[i];
		lua_createtable(L, 4, 0);
		lua_pushstring(L, f->name);
		lua_rawseti(L, -2, 1);
		lua_pushinteger(L, f->offset);
		lua_rawseti(L, -2, 2);
		lua_pushinteger(L, f->size);
		lua_rawseti(L, -2, 3);
		lua_pushinteger(L, kinds[f->kind]);
		lua_rawseti(L, -2, 4);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static bool jit_dump_applies(const struct lbpf_lua_map *m, const struct lbpf_lua_iter *it)
{
	return !it->raw && it->mode == ITER_BATCH && m->ncpus <= 1 &&
	       (m->type == BPF_MAP_TYPE_HASH || m->type == BPF_MAP_TYPE_LRU_HASH ||
		m->type == BPF_MAP_TYPE_ARRAY);
}

/* Pushes the map's generated dump function (cached in the map's uservalue), or nil. */
static void push_jit_dump(lua_State *L, int map_idx, const struct lbpf_lua_map *m)
{
	lbpf_getuservalue(L, map_idx);
	lua_getfield(L, -1, "jit_dump");
	if (!lua_isnil(L, -1)) {
		lua_remove(L, -2);
		return;
	}
	lua_pop(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, "bpf.jit_dump_gen");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		if (luaL_loadstring(L, jit_dump_gen) != 0)
			lua_error(L);
		lua_call(L, 0, 1);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, "bpf.jit_dump_gen");
	}
	int top = lua_gettop(L); /* uservalue, generator */
	if (!push_codec_desc(L, &m->key) || !push_codec_desc(L, &m->value)) {
		lua_settop(L, top - 1);
		lua_pushboolean(L, 0);
	} else {
		lua_pushinteger(L, m->key_size);
		lua_pushinteger(L, m->lookup_size);
		lua_call(L, 4, 1);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_pushboolean(L, 0);
		}
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "jit_dump"); /* false: no fast path for this map */
	lua_remove(L, -2);
}

/* it:_batch() -> keys pointer, values pointer, count | nil, 0 at the end | nil, 1 when the
 * iterator fell back to next_key mode (the caller continues with it()). */
static int l_iter_batch(lua_State *L)
{
	struct lbpf_lua_iter *it = luaL_checkudata(L, 1, LBPF_ITER_MT);
	if (!lbpf_lua_map_alive(it->m))
		return luaL_error(L, "map '%s' used after its object was closed", it->m->name);
	while (it->mode == ITER_BATCH && it->pos >= it->count && !it->exhausted)
		fetch_batch(L, it);
	if (it->mode != ITER_BATCH || it->pos >= it->count) {
		lua_pushnil(L);
		lua_pushinteger(L, it->mode != ITER_BATCH);
		return 2;
	}
	lua_pushlightuserdata(L, (void *)batch_key(it, it->pos));
	lua_pushlightuserdata(L, (void *)batch_value(it, it->pos));
	lua_pushinteger(L, it->count - it->pos);
	it->pos = it->count;
	return 3;
}

/* Runs the generated dump if there is one: pushes keys, values, n and returns 1, else 0. */
static int try_jit_dump(lua_State *L, int map_idx, int it_idx)
{
	struct lbpf_lua_iter *it = lua_touserdata(L, it_idx);
	if (!jit_dump_applies(it->m, it))
		return 0;
	push_jit_dump(L, map_idx, it->m);
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	lua_pushvalue(L, it_idx);
	lua_newtable(L);
	lua_newtable(L);
	lua_pushvalue(L, -2);
	lua_pushvalue(L, -2);
	lua_insert(L, it_idx + 1);
	lua_insert(L, it_idx + 1); /* it, keys, values, fn, it, keys, values */
	lua_pushinteger(L, 0);
	lua_call(L, 4, 2); /* -> n, fell_back */
	lua_Integer n = lua_tointeger(L, -2);
	bool fell_back = lua_tointeger(L, -1) != 0;
	lua_pop(L, 2);
	const uint8_t *key, *value;
	while (fell_back && iter_step(L, it, &key, &value, 1)) {
		n++;
		lbpf_lua_map_push_key(L, it->m, key, 0);
		lua_rawseti(L, it_idx + 1, (int)n);
		lbpf_lua_map_push_value(L, it->m, value, 0);
		lua_rawseti(L, it_idx + 2, (int)n);
	}
	lua_pushinteger(L, n);
	return 1;
}
#endif

/* map:dump([opts]) -> keys, values, n: every entry as two parallel arrays, read in batches.
 * The fastest way to bring a whole map into Lua: one C call, and the garbage collector is
 * paused while it runs, since everything it allocates stays referenced by the result (an
 * incremental collector would otherwise re-traverse the growing arrays over and over). */
/* dump_protected(map, iterator) -> keys, values, n; runs with the collector stopped. */
static int dump_protected(lua_State *L)
{
	struct lbpf_lua_iter *it = lua_touserdata(L, 2);
	const uint8_t *key, *value;
	lua_Integer n = 0;
#if LBPF_LUAJIT
	if (try_jit_dump(L, 1, 2))
		return 3;
#endif
	lua_newtable(L);
	lua_newtable(L);
	while (iter_step(L, it, &key, &value, 1)) {
		n++;
		lbpf_lua_map_push_key(L, it->m, key, it->raw);
		lua_rawseti(L, 3, (int)n);
		lbpf_lua_map_push_value(L, it->m, value, it->raw);
		lua_rawseti(L, 4, (int)n);
	}
	lua_pushinteger(L, n);
	return 3;
}

static int l_dump(lua_State *L)
{
	new_iter(L, 1, 2);
	int it_idx = lua_gettop(L);
	int was_running = lua_gc(L, LUA_GCISRUNNING, 0);
	lua_pushcfunction(L, dump_protected);
	lua_pushvalue(L, 1);
	lua_pushvalue(L, it_idx);
	if (was_running)
		lua_gc(L, LUA_GCSTOP, 0);
	int status = lua_pcall(L, 2, 3, 0);
	if (was_running)
		lua_gc(L, LUA_GCRESTART, 0);
	if (status != LUA_OK)
		return lua_error(L);
	return 3;
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
	struct lbpf_lua_iter *it = new_iter(L, 1, 2);
	const uint8_t *key, *value;
	lua_Integer n = 0;
	while (iter_step(L, it, &key, &value, 0))
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
	struct lbpf_lua_iter *it = new_iter(L, 1, 0);
	const uint8_t *key, *value;
	while (iter_step(L, it, &key, &value, 0)) {
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
		{ "__call", l_iter_call },
		{ "__tostring", l_iter_tostring },
		{ NULL, NULL },
	};
	static const luaL_Reg iter_methods[] = {
		{ "next", l_iter_call },
#if LBPF_LUAJIT
		{ "_batch", l_iter_batch },
#endif
		{ NULL, NULL },
	};
	static const luaL_Reg map_methods[] = {
		{ "pairs", l_pairs },
		{ "keys", l_keys },
		{ "items", l_items },
		{ "dump", l_dump },
		{ "count", l_count },
		{ "clear", l_clear },
		{ NULL, NULL },
	};
	lbpf_lua_new_class(L, LBPF_ITER_MT, iter_meta, iter_methods, NULL);
	lbpf_lua_add_methods(L, LBPF_MAP_MT, map_methods);
	luaL_getmetatable(L, LBPF_MAP_MT);
	lua_pushcfunction(L, l_pairs_meta);
	lua_setfield(L, -2, "__pairs");
	lua_pop(L, 1);
}
