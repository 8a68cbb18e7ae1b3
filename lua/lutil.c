/* Small shared pieces of the binding: failure returns and handle classes. */
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

void lbpf_lua_push_owner(lua_State *L, int idx)
{
	lbpf_getuservalue(L, idx);
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "owner");
		lua_remove(L, -2);
	}
}
