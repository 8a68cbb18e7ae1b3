/* luaopen_bpf: the module table `require "bpf"` returns. */
#include <string.h>

#include "lhandle.h"

static int l_num_possible_cpus(lua_State *L)
{
	int n = lbpf_num_possible_cpus();
	if (n < 0)
		return lbpf_lua_fail(L, n);
	lua_pushinteger(L, n);
	return 1;
}

static void set_constants(lua_State *L)
{
	static const struct {
		const char *name;
		lua_Integer value;
	} constants[] = {
		{ "ANY", BPF_ANY },
		{ "NOEXIST", BPF_NOEXIST },
		{ "EXIST", BPF_EXIST },
		{ "F_LOCK", BPF_F_LOCK },
	};
	for (size_t i = 0; i < sizeof(constants) / sizeof(constants[0]); i++) {
		lua_pushinteger(L, constants[i].value);
		lua_setfield(L, -2, constants[i].name);
	}
}

int luaopen_bpf(lua_State *L);

/* A module built against PUC 5.1's headers loads into LuaJIT too (same API) but would hand out
 * rounded doubles where LuaJIT's build gives exact 64-bit cdata: refuse it, saying how to build
 * the right one. */
static void check_interpreter(lua_State *L)
{
#if LUA_VERSION_NUM == 501 && !LBPF_LUAJIT
	lua_getglobal(L, "jit");
	bool luajit = lua_istable(L, -1);
	lua_pop(L, 1);
	if (luajit)
		luaL_error(L, "bpf: this bpf.so was built for PUC Lua 5.1 but runs under LuaJIT; build "
			   "it against LuaJIT's headers (luarocks --lua-version 5.1 make "
			   "rockspec/luabpf-scm-1.rockspec LUA_INCDIR=/usr/include/luajit-2.1)");
#else
	(void)L;
#endif
}

/* `lua5.4 -l bpf` sets the global bpf; the 5.1 interpreters (LuaJIT, PUC 5.1) only require the
 * module. Loaded with no Lua function on the stack, which is how their -l loads it, the module
 * sets the global itself, so that `luajit -i -l bpf` works as the README says. A require from
 * Lua code never sets a global. */
static void set_global_when_loaded_by_host(lua_State *L)
{
#if LUA_VERSION_NUM == 501
	lua_Debug ar;
	for (int level = 0; lua_getstack(L, level, &ar); level++) {
		if (lua_getinfo(L, "S", &ar) && ar.what && strcmp(ar.what, "C") != 0)
			return;
	}
	lua_pushvalue(L, -1);
	lua_setglobal(L, "bpf");
#else
	(void)L;
#endif
}

int luaopen_bpf(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "num_possible_cpus", l_num_possible_cpus },
		{ NULL, NULL },
	};
	check_interpreter(L);
	lua_newtable(L);
	luaL_setfuncs(L, funcs, 0);
	set_constants(L);
	lua_pushliteral(L, "0.1");
	lua_setfield(L, -2, "version");
	lbpf_lua_open_object(L);
	lbpf_lua_open_program(L);
	lbpf_lua_open_map(L);
	lbpf_lua_open_link(L);
	lbpf_lua_open_btf(L);
	lbpf_lua_open_reader(L);
	lbpf_lua_open_attach(L);
	lbpf_lua_open_enum(L);
	lbpf_lua_open_set(L);
	lbpf_lua_open_asm(L);   /* lasm.c: bpf.map_create, bpf.asm_core */
	lbpf_lua_open_info(L); /* last: it adds methods to every class above */
	lbpf_lua_open_apidoc(L);
	lbpf_lua_open_trace_syntax(L);
	set_global_when_loaded_by_host(L);
	return 1;
}
