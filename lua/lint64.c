/*
 * 64-bit integers between C and Lua, exact on both interpreters: lua_Integer on Lua 5.3+, and on
 * LuaJIT numbers below 2^53 and int64_t/uint64_t cdata beyond (see lvalue.c's header comment).
 */
#include <math.h>
#include <string.h>

#include "lbpf_lua.h"


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
int lbpf_lua_number_bits(lua_Number n, uint64_t *bits, int *negative)
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
		return lbpf_lua_number_bits(lua_tonumber(L, idx), bits, negative);
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
