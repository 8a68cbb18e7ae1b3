/* Fuzz target for parsers written in Lua: embeds Lua 5.4 (with the bpf module built in, as
 * package.preload.bpf), requires FUZZ_LUA_MODULE and calls its FUZZ_LUA_FUNCTION with the input
 * as a string. A Lua error is a clean refusal; a crash, a hang or a leak in C is a finding.
 * mk/fuzz.mk builds one binary per "name:module:function" entry of LUA_FUZZ_TARGETS. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_LUA_MODULE
#error "build with -DFUZZ_LUA_MODULE='\"module.name\"' -DFUZZ_LUA_FUNCTION='\"function\"'"
#endif
/* Where the project's pure-Lua modules are, relative to the repository root (make runs there). */
#ifndef FUZZ_LUA_PATH
#define FUZZ_LUA_PATH "lua/?.lua;lua/?/init.lua"
#endif

int luaopen_bpf(lua_State *L);

static lua_State *L;
static int fn_ref = LUA_NOREF;

/* libFuzzer sees the C it instrumented, not the Lua lines the interpreter runs: a line hook
 * counts each (function, line) pair into libFuzzer's extra counters, so the parser's own
 * branches guide the search too. */
#define LUA_LINE_SLOTS (1u << 16)
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t lua_lines[LUA_LINE_SLOTS];

static void line_hook(lua_State *hl, lua_Debug *ar)
{
	uintptr_t h;

	if (!lua_getinfo(hl, "S", ar))
		return;
	h = ((uintptr_t)ar->source >> 3) * 2654435761u ^ (uintptr_t)ar->currentline * 40503u;
	lua_lines[h % LUA_LINE_SLOTS]++;
}

static void fail(const char *what)
{
	fprintf(stderr, "lua_target: %s: %s\n", what, lua_tostring(L, -1));
	exit(1);
}

static void set_up(void)
{
	const char *path = getenv("FUZZ_LUA_PATH");

	L = luaL_newstate();
	luaL_openlibs(L);
	lua_getglobal(L, "package");
	lua_pushstring(L, path ? path : FUZZ_LUA_PATH);
	lua_setfield(L, -2, "path");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, luaopen_bpf);
	lua_setfield(L, -2, "bpf");
	lua_pop(L, 2);
	lua_getglobal(L, "require");
	lua_pushstring(L, FUZZ_LUA_MODULE);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK)
		fail("require " FUZZ_LUA_MODULE);
	lua_getfield(L, -1, FUZZ_LUA_FUNCTION);
	if (!lua_isfunction(L, -1))
		fail(FUZZ_LUA_MODULE "." FUZZ_LUA_FUNCTION " is not a function");
	fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_settop(L, 0);
	lua_sethook(L, line_hook, LUA_MASKLINE, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;

	if (!L)
		set_up();
	lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
	lua_pushlstring(L, (const char *)data, size);
	lua_pcall(L, 1, 0, 0); /* an error is an answer, not a finding */
	lua_settop(L, 0);
	if (++runs % 256 == 0)
		lua_gc(L, LUA_GCCOLLECT, 0);
	return 0;
}
