/*
 * map:pairs{reuse = true}: the iterator hands back the same key table and the same value table
 * on every step, refilled in place, so that a loop over a large map of structs allocates no
 * table per entry (the cost that puts fresh per-entry tables well above C on Lua 5.4). The
 * contract is the event readers' reuse: an entry is valid until the next step; copy what you
 * keep. Scalar keys and values (numbers, strings) are returned as usual.
 *
 * Two ways to refill, by shape:
 * - flat structs (lbpf_lua_map_flat_side): every field is written into the reused table under
 *   its name; integer fields allocate nothing (64-bit values above 2^53 are still cdata under
 *   LuaJIT, char[N] still strings, as for fresh tables). Who writes them: Lua code generated per
 *   map (Lua 5.4: the step closure below; LuaJIT: lmap_jit.c's kfill / vfill), or refill_flat
 *   here when LuaJIT's iterator hands over to the C one (next_key mode).
 * - anything else that decodes to a table (nested structs, arrays, per-CPU values, LPM keys):
 *   the entry is decoded as pairs() decodes it, then copied into the reused table, nested tables
 *   into the nested tables already there, keys the new entry lacks removed. The tables the caller
 *   sees keep their identity at every level and hold exactly what pairs() would give; the
 *   decoding itself still allocates (these shapes are not the fast path).
 * The reused tables live in the iterator's uservalue at LBPF_ITER_REUSED_KEY / _VALUE, where the
 * LuaJIT iterator (lmap_jit.c) finds the same tables, so a switch from its batches to the C
 * iterator (next_key fallback) keeps them.
 */
#include "lmap.h"

#define MERGE_MAX_DEPTH 32

/* Copies the table at src into the table at dst (absolute indices): nested tables into the
 * nested tables dst already has, other values replaced, keys src lacks removed. */
static void merge_into(lua_State *L, int dst, int src, int depth)
{
	if (depth > MERGE_MAX_DEPTH)
		luaL_error(L, "map:pairs{reuse = true}: value nested deeper than %d levels", MERGE_MAX_DEPTH);
	luaL_checkstack(L, 6, "refilling a reused table");
	lua_pushnil(L);
	while (lua_next(L, src)) {
		if (lua_istable(L, -1)) {
			lua_pushvalue(L, -2);
			lua_rawget(L, dst);
			if (lua_istable(L, -1) && !lua_rawequal(L, -1, -2)) {
				merge_into(L, lua_gettop(L), lua_gettop(L) - 1, depth + 1);
				lua_pop(L, 2);
				continue;
			}
			lua_pop(L, 1);
		}
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, dst); /* dst[key] = value; the key stays for lua_next */
	}
	/* Clearing existing fields during a traversal is allowed (assigning nil, never adding). */
	lua_pushnil(L);
	while (lua_next(L, dst)) {
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		lua_rawget(L, src);
		int gone = lua_isnil(L, -1);
		lua_pop(L, 1);
		if (gone) {
			lua_pushvalue(L, -1);
			lua_pushnil(L);
			lua_rawset(L, dst);
		}
	}
}

static const struct lbpf_lua_codec *side_codec(const struct lbpf_lua_iter *it, bool is_key)
{
	return is_key ? &it->m->key : &it->m->value;
}

static int side_slot(bool is_key)
{
	return is_key ? LBPF_ITER_REUSED_KEY : LBPF_ITER_REUSED_VALUE;
}

void lbpf_lua_iter_push_reused_table(lua_State *L, const struct lbpf_lua_iter *it, int uv,
				     bool is_key)
{
	lua_rawgeti(L, uv, side_slot(is_key));
	if (!lua_isnil(L, -1) || !(is_key ? it->flat_key : it->flat_value))
		return;
	lua_pop(L, 1);
	lua_createtable(L, 0, side_codec(it, is_key)->nfields);
	lua_pushvalue(L, -1);
	lua_rawseti(L, uv, side_slot(is_key));
}

/* A flat struct: every field into the reused table under its interned name. */
static void refill_flat(lua_State *L, const struct lbpf_lua_iter *it, int uv, bool is_key,
			const uint8_t *data)
{
	const struct lbpf_lua_codec *c = side_codec(it, is_key);
	int first = is_key ? 1 : 1 + it->m->key.nfields;
	lbpf_lua_iter_push_reused_table(L, it, uv, is_key);
	int t = lua_gettop(L);
	for (int i = 0; i < c->nfields; i++) {
		lua_rawgeti(L, uv, first + i);
		lbpf_lua_push_field(L, &c->fields[i], data);
		lua_rawset(L, t);
	}
}

/* Any other shape: decoded as pairs() decodes it, then merged into the reused table (the first
 * decoded table becomes the reused one). Scalars are returned as they are. */
static void refill_decoded(lua_State *L, const struct lbpf_lua_iter *it, int uv, bool is_key,
			   const uint8_t *data)
{
	if (is_key)
		lbpf_lua_map_push_key(L, it->m, data, it->raw);
	else
		lbpf_lua_map_push_value(L, it->m, data, it->raw);
	if (!lua_istable(L, -1))
		return;
	int fresh = lua_gettop(L);
	lua_rawgeti(L, uv, side_slot(is_key));
	if (lua_istable(L, -1)) {
		merge_into(L, fresh + 1, fresh, 0);
		lua_remove(L, fresh);
		return;
	}
	lua_pop(L, 1);
	lua_pushvalue(L, fresh);
	lua_rawseti(L, uv, side_slot(is_key));
}

int lbpf_lua_iter_push_reused(lua_State *L, const struct lbpf_lua_iter *it, int it_idx,
			      const uint8_t *key, const uint8_t *value)
{
	lbpf_getuservalue(L, it_idx);
	int uv = lua_gettop(L);
	if (it->flat_key)
		refill_flat(L, it, uv, true, key);
	else
		refill_decoded(L, it, uv, true, key);
	if (it->flat_value)
		refill_flat(L, it, uv, false, value);
	else
		refill_decoded(L, it, uv, false, value);
	return 2;
}

#if LBPF_LUA54
/*
 * Lua 5.4: the C API costs a call, a table lookup and a hash insertion per field (lua_rawgeti of
 * the name, lua_rawset), as much again as the kernel's batch lookup for a 10-field entry. A reuse
 * iterator with a flat side therefore gets a metatable of its own whose __call (and next) is a
 * Lua closure made by code generated per map, with the iterator's reused tables as upvalues: the
 * C function reuse_fields hands over the entry's field values on the stack and the closure
 * writes them with constant-key assignments (OP_SETFIELD), which the VM does cheaper. Each
 * iterator gets its own reuse_fields closure with the iterator as upvalue: the step takes no
 * argument it would have to check on every entry. The metatable is a copy of the class's (same
 * __name, __tostring and methods), marked with reuse_mark so that the binding knows it for an
 * iterator.
 */
static const char reuse_mark = 0; /* its address: the marker key */

static const char reuse_src[] =
	"-- kn, vn: the field names of a flat key / value, or false (one value, passed through).\n"
	"-- The result: make(kt, vt, cfields) -> the iterator's step function over the reused tables.\n"
	"return function(kn, vn)\n"
	"  local params, body = {}, {}\n"
	"  local function side(names, t, single)\n"
	"    if not names then params[#params + 1] = single return single end\n"
	"    for i, n in ipairs(names) do\n"
	"      params[#params + 1] = t .. '_' .. i\n"
	"      body[#body + 1] = ('%s[%q] = %s_%d'):format(t, n, t, i)\n"
	"    end\n"
	"    return t\n"
	"  end\n"
	"  local kr, vr = side(kn, 'kt', 'k'), side(vn, 'vt', 'v')\n"
	"  local src = ('return function(kt, vt, cfields) return function() local %s = cfields() '\n"
	"    .. 'if %s == nil then return nil end %s return %s, %s end end')\n"
	"    :format(table.concat(params, ', '), params[1], table.concat(body, ' '), kr, vr)\n"
	"  return assert(load(src, '=bpf map refill'))()\n"
	"end\n";

bool lbpf_lua_is_reuse_iter(lua_State *L, int idx)
{
	if (!lua_touserdata(L, idx) || !lua_getmetatable(L, idx))
		return false;
	lua_rawgetp(L, -1, &reuse_mark);
	bool marked = lua_toboolean(L, -1);
	lua_pop(L, 2);
	return marked;
}

/* One side's values for the generated step: every field of a flat struct, or the one value
 * (refilled table or scalar) otherwise. Returns how many were pushed. */
static int push_side_values(lua_State *L, const struct lbpf_lua_iter *it, bool is_key,
			    const uint8_t *data)
{
	if (!(is_key ? it->flat_key : it->flat_value)) {
		lbpf_getuservalue(L, 1);
		int uv = lua_gettop(L);
		refill_decoded(L, it, uv, is_key, data);
		lua_remove(L, uv);
		return 1;
	}
	const struct lbpf_lua_codec *c = side_codec(it, is_key);
	luaL_checkstack(L, c->nfields, "map entry fields");
	for (int i = 0; i < c->nfields; i++)
		lbpf_lua_push_field(L, &c->fields[i], data);
	return c->nfields;
}

/* cfields() -> the entry's values for the generated step, nothing at the end. The iterator is
 * upvalue 1 (pushed at 1 for the helpers that find it there). */
static int reuse_fields(lua_State *L)
{
	lua_settop(L, 0);
	lua_pushvalue(L, lua_upvalueindex(1));
	struct lbpf_lua_iter *it = lua_touserdata(L, 1);
	const uint8_t *key, *value;
	if (!lbpf_lua_iter_step(L, it, &key, &value, 1))
		return 0;
	int n = push_side_values(L, it, true, key);
	return n + push_side_values(L, it, false, value);
}

/* Pushes a side's field names for the generator, or false. */
static void push_side_names(lua_State *L, const struct lbpf_lua_iter *it, bool is_key)
{
	if (!(is_key ? it->flat_key : it->flat_value)) {
		lua_pushboolean(L, 0);
		return;
	}
	lua_newtable(L);
	lbpf_lua_store_field_names(L, side_codec(it, is_key), lua_gettop(L), 1);
}

/* The generator of make functions, compiled from reuse_src on first use (not at require:
 * parsing it is a tenth of a millisecond that a program reading no map need not pay). */
static void push_generator(lua_State *L)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, "bpf.reuse_gen") != LUA_TNIL)
		return;
	lua_pop(L, 1);
	if (luaL_loadstring(L, reuse_src) != 0)
		lua_error(L);
	lua_call(L, 0, 1);
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, "bpf.reuse_gen");
}

/* The map's generated make(kt, vt) (cached in the map's uservalue as reuse_make). */
static void push_make(lua_State *L, const struct lbpf_lua_iter *it, int map_idx)
{
	lbpf_getuservalue(L, map_idx);
	lua_getfield(L, -1, "reuse_make");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		push_generator(L);
		push_side_names(L, it, true);
		push_side_names(L, it, false);
		lua_call(L, 2, 1);
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, "reuse_make");
	}
	lua_remove(L, -2);
}

/* Pushes the iterator's own metatable: the class's fields, the marker, __call = step and
 * __index = {next = step} falling back to the class's methods. */
static void push_reuse_metatable(lua_State *L, int step)
{
	lua_createtable(L, 0, 8);
	int mt = lua_gettop(L);
	luaL_getmetatable(L, LBPF_ITER_MT);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, mt);
	}
	lua_pop(L, 1);
	lua_pushboolean(L, 1);
	lua_rawsetp(L, mt, &reuse_mark);
	lua_pushvalue(L, step);
	lua_setfield(L, mt, "__call");
	lua_createtable(L, 0, 1);
	lua_pushvalue(L, step);
	lua_setfield(L, -2, "next");
	lua_getfield(L, LUA_REGISTRYINDEX, "luabpf.reuse_methods_mt");
	lua_setmetatable(L, -2);
	lua_setfield(L, mt, "__index");
}

void lbpf_lua_iter_reuse_attach(lua_State *L, int map_idx, int it_idx)
{
	struct lbpf_lua_iter *it = lua_touserdata(L, it_idx);
	if (!it->reuse || !(it->flat_key || it->flat_value))
		return; /* nothing the VM writes faster: the C iterator refills (l_iter_call) */
	map_idx = lua_absindex(L, map_idx);
	it_idx = lua_absindex(L, it_idx);
	push_make(L, it, map_idx);
	lbpf_getuservalue(L, it_idx);
	lbpf_lua_iter_push_reused_table(L, it, lua_gettop(L), true);
	lbpf_lua_iter_push_reused_table(L, it, lua_gettop(L) - 1, false);
	lua_remove(L, -3);
	lua_pushvalue(L, it_idx);
	lua_pushcclosure(L, reuse_fields, 1);
	lua_call(L, 3, 1); /* the step function */
	push_reuse_metatable(L, lua_gettop(L));
	lua_setmetatable(L, it_idx);
	lua_pop(L, 1);
}

/* The metatable that sends the reuse metatables' __index to the class's methods (the
 * generator is compiled on first use: push_generator). */
void lbpf_lua_open_iter_reuse(lua_State *L)
{
	lua_createtable(L, 0, 1);
	lbpf_lua_push_methods(L, LBPF_ITER_MT);
	lua_setfield(L, -2, "__index");
	lua_setfield(L, LUA_REGISTRYINDEX, "luabpf.reuse_methods_mt");
}
#endif
