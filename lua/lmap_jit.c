/*
 * LuaJIT only: keys and values of flat maps decoded by Lua code generated per map, which the JIT
 * compiles. For maps whose key and value are plain integers or flat structs (LBPF_SHAPE_FLAT),
 * decoders are generated once per map from the precompiled field list: ffi loads at fixed
 * offsets inside a table constructor, which the JIT turns into a few machine instructions per
 * field, where the C API would pay a call, a string lookup and a hash insertion for each. Values
 * keep the binding's rules (64-bit integers stay numbers below 2^53, cdata above).
 *
 * Users: map:dump() (lmap_dump.c calls `fill` or `fillcols` on the raw entries it collected),
 * and map:pairs(), whose iterator's __call and next are a Lua function here: it hands out the
 * entries of the current batch (it:_batch()) through the map's decoders, so that a
 * `for k, v in map:pairs()` loop compiles as a whole, and leaves anything else (maps without
 * decoders, next_key mode, the end) to the C iterator. With reuse = true the generated kfill /
 * vfill write the fields into the C iterator's reused tables instead of building new ones.
 *
 * The Lua sources are kept readable below; the generator's output is a function per map.
 */
#include <stddef.h>
#include <string.h>

#include "lmap.h"

#if LBPF_LUAJIT

/* The iterator function reads these through the ffi to refuse a closed map (jit_iter_src). */
_Static_assert(offsetof(struct lbpf_lua_map, map) == 0, "map first");
_Static_assert(offsetof(struct lbpf_lua_map, owner) == sizeof(void *), "owner second");
_Static_assert(offsetof(struct lbpf_lua_object, obj) == 0, "obj first");

/* Returns {fill, fillcols, kdec, vdec, kfill, vfill, kst, vst} for a map, or nil. */
static const char jit_gen_src[] =
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
	"-- The expression reading one field at byte off of pointer var. kind: 0 unsigned, 1 signed,\n"
	"-- 2 bool, 3 char[size].\n"
	"local function expr(var, off, size, kind)\n"
	"  if kind == 3 then return ('cstr(%s + %d, %d)'):format(var, off, size) end\n"
	"  local e = ('cast(P[%d], %s + %d)[0]'):format(kind == 1 and -size or size, var, off)\n"
	"  if kind == 2 then return '(' .. e .. ' ~= 0)' end\n"
	"  if size == 8 then return (kind == 1 and 'bs(' or 'bu(') .. e .. ')' end\n"
	"  return e\n"
	"end\n"
	"-- desc: {int = true, size =, signed =} or a list of {name, offset, size, kind}. Returns a list\n"
	"-- of {name or false, expression}, or nil when a name is no identifier.\n"
	"local function fields(d, var)\n"
	"  if d.int then return { { false, expr(var, 0, d.size, d.signed and 1 or 0) } } end\n"
	"  local out = {}\n"
	"  for i, f in ipairs(d) do\n"
	"    if not f[1]:match('^[%a_][%w_]*$') then return nil end\n"
	"    out[i] = { f[1], expr(var, f[2], f[3], f[4]) }\n"
	"  end\n"
	"  return out\n"
	"end\n"
	"-- The statements refilling table t (reuse = true); nil for an integer.\n"
	"local function refill(fs)\n"
	"  if not fs[1][1] then return nil end\n"
	"  local parts = {}\n"
	"  for i, f in ipairs(fs) do parts[i] = ('t[%q] = %s'):format(f[1], f[2]) end\n"
	"  return table.concat(parts, '; ')\n"
	"end\n"
	"local function ctor(fs)\n"
	"  if not fs[1][1] then return fs[1][2] end\n"
	"  local parts = {}\n"
	"  for i, f in ipairs(fs) do parts[i] = ('[%q] = %s'):format(f[1], f[2]) end\n"
	"  return '{' .. table.concat(parts, ', ') .. '}'\n"
	"end\n"
	"-- kd, vd: descriptions; ks, vs: key and value strides of a batch; hdr: bytes before the\n"
	"-- entries of a dump chunk (entries: key then value, ks + vs bytes).\n"
	"return function(kd, vd, ks, vs, hdr)\n"
	"  local kf, vf = fields(kd, 'p'), fields(vd, 'p')\n"
	"  if not kf or not vf then return nil end\n"
	"  local vq = fields(vd, 'q')\n"
	"  local src = {}\n"
	"  local function add(s, ...) src[#src + 1] = s:format(...) end\n"
	"  add('local cast, P, bu, bs, cstr, u8p, u32p = ...')\n"
	"  add('local function kdec(p) return %s end', ctor(kf))\n"
	"  add('local function vdec(p) return %s end', ctor(vf))\n"
	"  -- map:pairs{reuse = true}: the same fields into the iterator's reused table t\n"
	"  local function addfill(name, fs, dec)\n"
	"    local body = refill(fs)\n"
	"    if body then add('local function %s(p, t) %s; return t end', name, body)\n"
	"    else add('local %s = %s', name, dec) end\n"
	"  end\n"
	"  addfill('kfill', kf, 'kdec')\n"
	"  addfill('vfill', vf, 'vdec')\n"
	"  -- map:dump(): every collected entry into arrays created at their final size\n"
	"  add('local function fill(list, keys, values)')\n"
	"  add('  local n = 0')\n"
	"  add('  for c = 1, #list do')\n"
	"  add('    local base = cast(u8p, list[c])')\n"
	"  add('    local e = base + %d', hdr)\n"
	"  add('    for i = 0, cast(u32p, base)[0] - 1 do')\n"
	"  add('      local p = e + i * %d', ks + vs)\n"
	"  add('      n = n + 1')\n"
	"  add('      keys[n] = kdec(p)')\n"
	"  add('      values[n] = vdec(p + %d)', ks)\n"
	"  add('    end')\n"
	"  add('  end')\n"
	"  add('  return n')\n"
	"  add('end')\n"
	"  -- map:dump{columns = true}: kc, vc are the columns in field order\n"
	"  add('local function fillcols(list, kc, vc)')\n"
	"  for i = 1, #kf do add('  local k%d = kc[%d]', i, i) end\n"
	"  for i = 1, #vf do add('  local v%d = vc[%d]', i, i) end\n"
	"  add('  local n = 0')\n"
	"  add('  for c = 1, #list do')\n"
	"  add('    local base = cast(u8p, list[c])')\n"
	"  add('    local e = base + %d', hdr)\n"
	"  add('    for i = 0, cast(u32p, base)[0] - 1 do')\n"
	"  add('      local p = e + i * %d', ks + vs)\n"
	"  add('      local q = p + %d', ks)\n"
	"  add('      n = n + 1')\n"
	"  for i = 1, #kf do add('      k%d[n] = %s', i, kf[i][2]) end\n"
	"  for i = 1, #vq do add('      v%d[n] = %s', i, vq[i][2]) end\n"
	"  add('    end')\n"
	"  add('  end')\n"
	"  add('  return n')\n"
	"  add('end')\n"
	"  add('return fill, fillcols, kdec, vdec, kfill, vfill')\n"
	"  local fill, fillcols, kdec, vdec, kfill, vfill =\n"
	"    assert(loadstring(table.concat(src, '\\n'), '=bpf map decoder'))(cast, P, bu, bs, cstr, P[1], P[4])\n"
	"  return { fill = fill, fillcols = fillcols, kdec = kdec, vdec = vdec, kfill = kfill,\n"
	"    vfill = vfill, kst = ks, vst = vs }\n"
	"end\n";

/* The iterator's __call / next, and attach(it, decoders, map pointer). Per iterator state lives
 * in a weak table keyed by the iterator: the current batch (pointers into the iterator's
 * buffers, which stay put until the next it:_batch()), the position, the map's decoders. A map
 * handle is closed when its map pointer (standalone maps) or its object's pointer is NULL: the
 * C iterator then raises the error. */
static const char jit_iter_src[] =
	"local ffi = require 'ffi'\n"
	"local cast = ffi.cast\n"
	"local u8p, vpp = ffi.typeof('const uint8_t *'), ffi.typeof('void *const *')\n"
	"local batch, cnext = ...\n"
	"local pcall, error = pcall, error\n"
	"local states = setmetatable({}, { __mode = 'k' })\n"
	"local function closed(mp)\n"
	"  local owner = mp[1]\n"
	"  if owner ~= nil then return cast(vpp, owner)[0] == nil end\n"
	"  return mp[0] == nil\n"
	"end\n"
	"local function call(it)\n"
	"  local s = states[it]\n"
	"  if s == nil then return cnext(it) end\n"
	"  local i = s.i\n"
	"  if i >= s.n then\n"
	"    -- An error of batch() (a closed map) names the caller's line, not this chunk's.\n"
	"    local ok, kp, vp, cnt = pcall(batch, it)\n"
	"    if not ok then error(kp, 2) end\n"
	"    if not kp then\n"
	"      states[it] = nil\n"
	"      return cnext(it)\n"
	"    end\n"
	"    s.kp, s.vp, s.n, i = cast(u8p, kp), cast(u8p, vp), cnt, 0\n"
	"  elseif closed(s.mp) then\n"
	"    return cnext(it)\n"
	"  end\n"
	"  s.i = i + 1\n"
	"  return s.kdec(s.kp + i * s.kst, s.kt), s.vdec(s.vp + i * s.vst, s.vt)\n"
	"end\n"
	"-- kt, vt: the iterator's reused tables (reuse = true, flat structs), else nil; decoders take\n"
	"-- (p, t) and the plain ones ignore t.\n"
	"local function attach(it, d, mp, kt, vt)\n"
	"  states[it] = { i = 0, n = 0, kp = false, vp = false, kdec = kt and d.kfill or d.kdec,\n"
	"    vdec = vt and d.vfill or d.vdec, kt = kt, vt = vt, kst = d.kst, vst = d.vst,\n"
	"    mp = cast(vpp, mp) }\n"
	"end\n"
	"return call, attach\n";

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

/* Pushes the map's generated decoders (cached in the map's uservalue) and returns 1, or returns 0
 * with nothing pushed when the map has none. */
int lbpf_lua_jit_push_decoders(lua_State *L, int map_idx, const struct lbpf_lua_iter *it)
{
	const struct lbpf_lua_map *m = it->m;
	if (it->raw || m->ncpus > 1 || !lbpf_lua_map_plain_type(m))
		return 0;
	lbpf_getuservalue(L, map_idx);
	lua_getfield(L, -1, "jit_decoders");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_getfield(L, LUA_REGISTRYINDEX, "bpf.jit_gen");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			if (luaL_loadstring(L, jit_gen_src) != 0)
				lua_error(L);
			lua_call(L, 0, 1);
			lua_pushvalue(L, -1);
			lua_setfield(L, LUA_REGISTRYINDEX, "bpf.jit_gen");
		}
		int top = lua_gettop(L); /* uservalue, generator */
		if (!push_codec_desc(L, &m->key) || !push_codec_desc(L, &m->value)) {
			lua_settop(L, top - 1);
			lua_pushnil(L);
		} else {
			lua_pushinteger(L, m->key_size);
			lua_pushinteger(L, m->lookup_size);
			lua_pushinteger(L, LBPF_DUMP_CHUNK_HEADER);
			lua_call(L, 5, 1);
		}
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_pushboolean(L, 0); /* false: no decoders for this map */
		}
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, "jit_decoders");
	}
	lua_remove(L, -2);
	if (lua_istable(L, -1))
		return 1;
	lua_pop(L, 1);
	return 0;
}

/* The iterator's reused key and value tables (the C iterator's, liter_reuse.c), or nil, nil. */
static void push_reused_tables(lua_State *L, const struct lbpf_lua_iter *it, int it_idx)
{
	if (!it->reuse) {
		lua_pushnil(L);
		lua_pushnil(L);
		return;
	}
	lbpf_getuservalue(L, it_idx);
	int uv = lua_gettop(L);
	lbpf_lua_iter_push_reused_table(L, it, uv, true);
	lbpf_lua_iter_push_reused_table(L, it, uv, false);
	lua_remove(L, uv);
}

void lbpf_lua_jit_pairs(lua_State *L, int map_idx, int it_idx)
{
	struct lbpf_lua_iter *it = lua_touserdata(L, it_idx);
	if (it->mode != LBPF_ITER_BATCH || !lbpf_lua_jit_push_decoders(L, map_idx, it))
		return;
	lua_getfield(L, LUA_REGISTRYINDEX, "bpf.jit_iter_attach");
	lua_pushvalue(L, it_idx);
	lua_pushvalue(L, -3);
	lua_pushlightuserdata(L, it->m);
	push_reused_tables(L, it, it_idx);
	lua_call(L, 5, 0);
	lua_pop(L, 1);
}

void lbpf_lua_open_map_jit(lua_State *L)
{
	if (luaL_loadstring(L, jit_iter_src) != 0)
		lua_error(L);
	lua_pushcfunction(L, lbpf_lua_iter_batch);
	lbpf_lua_push_iter_call(L);
	lua_call(L, 2, 2); /* call, attach */
	lua_setfield(L, LUA_REGISTRYINDEX, "bpf.jit_iter_attach");
	luaL_getmetatable(L, LBPF_ITER_MT);
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, "__call");
	lua_getfield(L, -1, "methods");
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "next");
	lua_pop(L, 3);
}

#else
/* Lua 5.4 has no JIT to feed: the C decoders serve. */
typedef int lbpf_lmap_jit_unused;
#endif
