/* The API reference (doc/API.md) compiled into the module, so that bpf.help describes every
 * function wherever the module is: a checkout, a LuaRocks tree, the static binary. */
#include "lbpf_lua.h"

/* Generated from doc/API.md at build time (mk/apidoc.mk): its bytes, then a NUL. */
static const char api_reference[] = {
#include "api_doc.inc"
};

/* require "bpf.apidoc" -> the text of doc/API.md the module was built with. */
static int l_apidoc(lua_State *L)
{
	lua_pushlstring(L, api_reference, sizeof(api_reference) - 1);
	return 1;
}

void lbpf_lua_open_apidoc(lua_State *L)
{
	lua_getglobal(L, "package");
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	lua_getfield(L, -1, "preload");
	if (lua_istable(L, -1)) {
		lua_pushcfunction(L, l_apidoc);
		lua_setfield(L, -2, "bpf.apidoc");
	}
	lua_pop(L, 2);
}
