/* Small shared pieces of the binding: failure returns, handle classes and options tables. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lhandle.h"

int lbpf_lua_fail(lua_State *L, int neg_errno)
{
	int err = neg_errno < 0 ? -neg_errno : neg_errno;
	const char *msg = lbpf_errmsg();
	lua_pushnil(L);
	if (msg && *msg)
		lua_pushstring(L, msg);
	else
		lua_pushstring(L, strerror(err));
	lua_pushinteger(L, err);
	return 3;
}

int lbpf_lua_ok(lua_State *L, int err)
{
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

int lbpf_lua_fail_msg(lua_State *L, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err < 0)
		err = -err;
	lua_pushnil(L);
	lua_pushstring(L, msg);
	lua_pushinteger(L, err);
	return 3;
}

void lbpf_lua_new_class(lua_State *L, const char *mt_name, const luaL_Reg *meta,
			const luaL_Reg *methods, lua_CFunction index_fn)
{
	luaL_newmetatable(L, mt_name);
	luaL_setfuncs(L, meta, 0);
	lua_newtable(L);
	if (methods)
		luaL_setfuncs(L, methods, 0);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "methods");
	if (index_fn)
		lua_pushcclosure(L, index_fn, 1);
	lua_setfield(L, -2, "__index");
	/* Type name in error messages (luaL_checkudata / luaL_typename on 5.4). */
	lua_pushstring(L, mt_name);
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
}

int lbpf_lua_index_method(lua_State *L)
{
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return !lua_isnil(L, -1);
}

void lbpf_lua_push_methods(lua_State *L, const char *mt_name)
{
	luaL_getmetatable(L, mt_name);
	lua_getfield(L, -1, "methods");
	lua_remove(L, -2);
}

void lbpf_lua_add_methods(lua_State *L, const char *mt_name, const luaL_Reg *methods)
{
	lbpf_lua_push_methods(L, mt_name);
	if (lua_istable(L, -1))
		luaL_setfuncs(L, methods, 0);
	lua_pop(L, 1);
}

void lbpf_lua_copy_name(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s ? s : "");
}

void lbpf_lua_set_owner(lua_State *L, int idx, int owner_idx)
{
	idx = lua_absindex(L, idx);
	owner_idx = lua_absindex(L, owner_idx);
	lua_createtable(L, 0, 1);
	lua_pushvalue(L, owner_idx);
	lua_setfield(L, -2, "owner");
	lbpf_setuservalue(L, idx);
}

void lbpf_lua_push_owner(lua_State *L, int idx)
{
	lbpf_getuservalue(L, idx);
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "owner");
		lua_remove(L, -2);
	}
}

/* ---- options tables ----------------------------------------------------------------------- */

int lbpf_lua_opt_table(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	luaL_checktype(L, idx, LUA_TTABLE);
	return lua_absindex(L, idx);
}

int lbpf_lua_opt_push(lua_State *L, int t, const char *field)
{
	if (!t)
		return 0;
	lua_getfield(L, t, field);
	if (!lua_isnil(L, -1))
		return 1;
	lua_pop(L, 1);
	return 0;
}

/* what: "a boolean", "an integer", ... as the message reads. */
static void opt_type_error(lua_State *L, const char *field, const char *what)
{
	luaL_error(L, "option '%s' must be %s, got %s", field, what, luaL_typename(L, -1));
}

int lbpf_lua_opt_bool(lua_State *L, int t, const char *field, int def)
{
	int v;

	if (!lbpf_lua_opt_push(L, t, field))
		return def;
	if (!lua_isboolean(L, -1))
		opt_type_error(L, field, "a boolean");
	v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

lua_Integer lbpf_lua_opt_int(lua_State *L, int t, const char *field, lua_Integer def)
{
	lua_Integer v;

	if (!lbpf_lua_opt_push(L, t, field))
		return def;
	if (!lbpf_isinteger(L, -1))
		opt_type_error(L, field, "an integer");
	v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

lua_Integer lbpf_lua_opt_uint(lua_State *L, int t, const char *field, lua_Integer def,
			      lua_Integer max)
{
	if (!lbpf_lua_opt_push(L, t, field))
		return def;
	lua_Number n = lua_tonumber(L, -1);
	if (lua_type(L, -1) != LUA_TNUMBER || !(n >= 0 && n <= (lua_Number)max && n == (lua_Integer)n)) {
		char range[32]; /* lua_pushfstring has no 64-bit format on every Lua */
		snprintf(range, sizeof(range), "0..%lld", (long long)max);
		luaL_error(L, "option '%s' must be an integer in %s, got %s", field, range,
			   lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	return (lua_Integer)n;
}

const char *lbpf_lua_opt_str(lua_State *L, int t, const char *field, const char *def)
{
	const char *v;

	if (!lbpf_lua_opt_push(L, t, field))
		return def;
	if (lua_type(L, -1) != LUA_TSTRING)
		opt_type_error(L, field, "a string");
	v = lua_tostring(L, -1);
	lua_pop(L, 1); /* the table still holds the string */
	return v;
}
