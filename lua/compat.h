/*
 * The one compatibility layer between the Lua C APIs the module builds against: PUC Lua 5.1,
 * 5.2, 5.3, 5.4 and LuaJIT 2.1 (the 5.1 API with a few 5.2 additions such as luaL_setfuncs,
 * luaL_testudata and luaL_newlib). The rest of the binding writes 5.4-style code and calls the
 * lbpf_ helpers below where the APIs differ; three flags say which paths apply:
 *   LBPF_LUAJIT        LuaJIT: FFI cdata for 64-bit integers, generated decoders the JIT compiles
 *   LBPF_LUA_INTEGERS  5.3 and 5.4: a 64-bit integer subtype (lua_isinteger)
 *   LBPF_LUA54         5.4: generated reuse steps (liter_reuse.c), uservalues by index
 * On PUC 5.1 and 5.2 numbers are doubles: integers beyond 2^53 come back rounded.
 */
#ifndef LBPF_COMPAT_H
#define LBPF_COMPAT_H

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#if LUA_VERSION_NUM < 501 || LUA_VERSION_NUM > 504
#error "luabpf builds against Lua 5.1 to 5.4 or LuaJIT 2.1"
#endif

/* LuaJIT's lualib.h names its jit library; PUC Lua's never does. */
#if defined(LUA_JITLIBNAME)
#define LBPF_LUAJIT 1
/* lua_type() of an FFI cdata value under LuaJIT (not named in its lua.h). */
#define LBPF_TCDATA 10
#else
#define LBPF_LUAJIT 0
#endif

#define LBPF_LUA_INTEGERS (LUA_VERSION_NUM >= 503)
#define LBPF_LUA54 (LUA_VERSION_NUM >= 504)

#ifndef LUA_OK
#define LUA_OK 0
#endif

/* __close (to-be-closed variables) exists on 5.4 only; registering it elsewhere is harmless
 * but pointless, so metatables skip it. */
#define LBPF_HAVE_CLOSE (LUA_VERSION_NUM >= 504)

/* Whether the collector runs. PUC 5.1 cannot say: answering 0 there means code that pauses
 * the collector for a while leaves it alone, since it could not tell whether to restart it. */
#ifdef LUA_GCISRUNNING
#define lbpf_gc_isrunning(L) lua_gc((L), LUA_GCISRUNNING, 0)
#else
#define lbpf_gc_isrunning(L) ((void)(L), 0)
#endif

/* ---- functions of the 5.2 auxiliary library that PUC 5.1 lacks (LuaJIT has them) ---- */
#if LUA_VERSION_NUM == 501 && !LBPF_LUAJIT

static inline void lbpf_setfuncs(lua_State *L, const luaL_Reg *l, int nup)
{
	luaL_checkstack(L, nup, "too many upvalues");
	for (; l->name != NULL; l++) {
		for (int i = 0; i < nup; i++)
			lua_pushvalue(L, -nup);
		lua_pushcclosure(L, l->func, nup);
		lua_setfield(L, -(nup + 2), l->name);
	}
	lua_pop(L, nup);
}
#define luaL_setfuncs lbpf_setfuncs

static inline void *lbpf_testudata(lua_State *L, int idx, const char *tname)
{
	void *p = lua_touserdata(L, idx);
	if (p == NULL || !lua_getmetatable(L, idx))
		return NULL;
	luaL_getmetatable(L, tname);
	int same = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return same ? p : NULL;
}
#define luaL_testudata lbpf_testudata

static inline void lbpf_setmetatable(lua_State *L, const char *tname)
{
	luaL_getmetatable(L, tname);
	lua_setmetatable(L, -2);
}
#define luaL_setmetatable lbpf_setmetatable

#define luaL_newlibtable(L, l) lua_createtable((L), 0, sizeof(l) / sizeof((l)[0]) - 1)
#define luaL_newlib(L, l) (luaL_newlibtable((L), (l)), luaL_setfuncs((L), (l), 0))

#endif

#if LUA_VERSION_NUM == 501

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

#elif LUA_VERSION_NUM < 504 /* 5.2, 5.3: one uservalue, a table or nil on 5.2 */

static inline void lbpf_setuservalue(lua_State *L, int idx)
{
	lua_setuservalue(L, idx);
}

static inline int lbpf_getuservalue(lua_State *L, int idx)
{
	lua_getuservalue(L, idx);
	return lua_type(L, -1);
}

#endif

#if LUA_VERSION_NUM < 504

static inline void *lbpf_newuserdata(lua_State *L, size_t size)
{
	return lua_newuserdata(L, size);
}

/* Length without metamethods (5.1 has no __len for tables). */
static inline lua_Integer lbpf_len(lua_State *L, int idx)
{
	return (lua_Integer)lua_rawlen(L, idx);
}

#endif

#if !LBPF_LUA_INTEGERS
/* True when the value is a number holding an integer (5.1 and 5.2 have only doubles). */
static inline int lbpf_isinteger(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return 0;
	lua_Number n = lua_tonumber(L, idx);
	/* The range test comes first: converting an out-of-range double is undefined. */
	return n >= -9223372036854775808.0 && n < 9223372036854775808.0 &&
	       n == (lua_Number)(long long)n;
}
#elif !LBPF_LUA54
static inline int lbpf_isinteger(lua_State *L, int idx)
{
	return lua_isinteger(L, idx);
}
#endif

#if LBPF_LUA54

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
