/*
 * The one compatibility layer between the Lua 5.4 C API and LuaJIT 2.1 (the Lua 5.1 C API with
 * a few 5.2 additions such as luaL_setfuncs, luaL_testudata and luaL_newlib). The rest of the
 * binding writes 5.4-style code and calls the lbpf_ helpers below where the two differ.
 */
#ifndef LBPF_COMPAT_H
#define LBPF_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM < 501 || (LUA_VERSION_NUM > 501 && LUA_VERSION_NUM < 504)
#error "luabpf builds against Lua 5.4 or LuaJIT 2.1 (the Lua 5.1 API)"
#endif

#if LUA_VERSION_NUM == 501
#define LBPF_LUAJIT 1
/* lua_type() of an FFI cdata value under LuaJIT (not named in its lua.h). */
#define LBPF_TCDATA 10
#else
#define LBPF_LUAJIT 0
#endif

#ifndef LUA_OK
#define LUA_OK 0
#endif

/* __close (to-be-closed variables) exists on 5.4 only; registering it elsewhere is harmless
 * but pointless, so metatables skip it. */
#define LBPF_HAVE_CLOSE (LUA_VERSION_NUM >= 504)

#if LBPF_LUAJIT

#ifndef lua_absindex
static inline int lbpf_absindex(lua_State *L, int idx)
{
	return (idx > 0 || idx <= LUA_REGISTRYINDEX) ? idx : lua_gettop(L) + idx + 1;
}
#define lua_absindex lbpf_absindex
#endif

#define lua_rawlen(L, idx) lua_objlen((L), (idx))

/* A userdata's uservalue is its environment table on 5.1: it must be a table (or nil, which
 * we map to a fresh empty table so the call never fails). */
static inline void lbpf_setuservalue(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
	}
	lua_setfenv(L, idx);
}

static inline int lbpf_getuservalue(lua_State *L, int idx)
{
	lua_getfenv(L, idx);
	return lua_type(L, -1);
}

static inline void *lbpf_newuserdata(lua_State *L, size_t size)
{
	return lua_newuserdata(L, size);
}

/* Length without metamethods (5.1 has no __len for tables). */
static inline lua_Integer lbpf_len(lua_State *L, int idx)
{
	return (lua_Integer)lua_objlen(L, idx);
}

/* True when the value is a number holding an integer (5.1 has only doubles). */
static inline int lbpf_isinteger(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return 0;
	lua_Number n = lua_tonumber(L, idx);
	/* The range test comes first: converting an out-of-range double is undefined. */
	return n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
	       n == (lua_Number)(long long)n;
}

#else /* Lua 5.4 */

static inline void lbpf_setuservalue(lua_State *L, int idx)
{
	lua_setiuservalue(L, idx, 1);
}

static inline int lbpf_getuservalue(lua_State *L, int idx)
{
	return lua_getiuservalue(L, idx, 1);
}

static inline void *lbpf_newuserdata(lua_State *L, size_t size)
{
	return lua_newuserdatauv(L, size, 1);
}

static inline lua_Integer lbpf_len(lua_State *L, int idx)
{
	return (lua_Integer)lua_rawlen(L, idx);
}

static inline int lbpf_isinteger(lua_State *L, int idx)
{
	return lua_isinteger(L, idx);
}

#endif

#endif
