/*
 * The floor of the Lua side of the benchmark: what calling a Lua function once per record costs
 * from C, with nothing else. Bench only (a tiny Lua C module, not part of luabpf).
 *   floor.calls(fn, n)          fn() n times
 *   floor.calls_str(fn, n, sz)  fn(s) n times, s a fresh sz-byte string made with lua_pushlstring
 * Both return the seconds spent (monotonic clock); floor.now() reads that clock.
 */
#include <lauxlib.h>
#include <lua.h>
#include <string.h>
#include <time.h>

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int calls(lua_State *L)
{
	long n = (long)luaL_checkinteger(L, 2);
	double t0 = mono_now();

	for (long i = 0; i < n; i++) {
		lua_pushvalue(L, 1);
		lua_call(L, 0, 0);
	}
	lua_pushnumber(L, mono_now() - t0);
	return 1;
}

static int calls_str(lua_State *L)
{
	long n = (long)luaL_checkinteger(L, 2);
	size_t size = (size_t)luaL_checkinteger(L, 3);
	unsigned char buf[4096];
	double t0;

	if (size > sizeof(buf))
		size = sizeof(buf);
	memset(buf, 'x', sizeof(buf));
	t0 = mono_now();
	for (long i = 0; i < n; i++) {
		memcpy(buf, &i, sizeof(i)); /* a different string each time, like real records */
		lua_pushvalue(L, 1);
		lua_pushlstring(L, (const char *)buf, size);
		lua_call(L, 1, 1);
		lua_pop(L, 1);
	}
	lua_pushnumber(L, mono_now() - t0);
	return 1;
}

static int now(lua_State *L)
{
	lua_pushnumber(L, mono_now());
	return 1;
}

int luaopen_ringbuf_floor(lua_State *L)
{
	lua_createtable(L, 0, 3);
	lua_pushcfunction(L, now);
	lua_setfield(L, -2, "now");
	lua_pushcfunction(L, calls);
	lua_setfield(L, -2, "calls");
	lua_pushcfunction(L, calls_str);
	lua_setfield(L, -2, "calls_str");
	return 1;
}
