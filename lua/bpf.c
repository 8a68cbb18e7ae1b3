/* luaopen_bpf: the module table `require "bpf"` returns. */
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

int luaopen_bpf(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "num_possible_cpus", l_num_possible_cpus },
		{ NULL, NULL },
	};
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
	lbpf_lua_open_asm(L);   /* lasm.c: bpf.map_create, bpf.asm_core */
	lbpf_lua_open_info(L); /* last: it adds methods to every class above */
	return 1;
}
