/*
 * The floor of the Lua side of the benchmark: what calling a Lua function once per record costs
 * from C, with nothing else. Bench only (a tiny Lua C module, not part of luabpf).
 *   floor.calls(fn, n)          fn() n times
 *   floor.calls_str(fn, n, sz)  fn(s) n times, s a fresh sz-byte string made with lua_pushlstring
 *   floor.calls_args(fn, n, sz) fn(p, sz) n times, p a light userdata, one result checked: the
 *                               calling protocol of a pointer reader's callback, nothing else
 *   floor.ring_calls(fd, fn)    fn() once per record of the ring buffer map fd (a dup is
 *                               taken), walked by the core's lbpf_ringbuf_consume: the same C
 *                               call with no argument, over the same records in the same memory
 *                               as the readers; returns records, seconds
 * They return the seconds spent (monotonic clock); floor.now() reads that clock.
 */
#include <fcntl.h>
#include <unistd.h>

#include "luabpf.h"
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

static int calls_args(lua_State *L)
{
	long n = (long)luaL_checkinteger(L, 2);
	lua_Integer size = luaL_checkinteger(L, 3);
	static unsigned char buf[4096];
	long stops = 0;
	double t0 = mono_now();

	for (long i = 0; i < n; i++) {
		lua_pushvalue(L, 1);
		lua_pushlightuserdata(L, buf + (i & 255) * 16);
		lua_pushinteger(L, size);
		lua_call(L, 2, 1);
		stops += lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	lua_pushnumber(L, mono_now() - t0);
	lua_pushinteger(L, stops);
	return 2;
}

static int call_empty(void *ctx, const void *data, size_t size)
{
	lua_State *L = ctx;

	(void)data;
	(void)size;
	lua_pushvalue(L, 2);
	lua_call(L, 0, 0);
	return 0;
}

static int ring_calls(lua_State *L)
{
	int fd = fcntl((int)luaL_checkinteger(L, 1), F_DUPFD_CLOEXEC, 3);
	lbpf_map *map = NULL;
	lbpf_ringbuf *rb = NULL;
	double t0;
	int n;

	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (fd < 0 || lbpf_map_from_fd(fd, &map) < 0)
		return luaL_error(L, "floor.ring_calls: no map behind fd");
	n = lbpf_ringbuf_new(map, call_empty, L, &rb);
	lbpf_map_free(map);
	if (n < 0)
		return luaL_error(L, "floor.ring_calls: %s", lbpf_errmsg());
	t0 = mono_now();
	n = lbpf_ringbuf_consume(rb);
	lua_pushinteger(L, n);
	lua_pushnumber(L, mono_now() - t0);
	lbpf_ringbuf_free(rb);
	return 2;
}

static int now(lua_State *L)
{
	lua_pushnumber(L, mono_now());
	return 1;
}

int luaopen_ringbuf_floor(lua_State *L)
{
	lua_createtable(L, 0, 5);
	lua_pushcfunction(L, ring_calls);
	lua_setfield(L, -2, "ring_calls");
	lua_pushcfunction(L, calls_args);
	lua_setfield(L, -2, "calls_args");
	lua_pushcfunction(L, now);
	lua_setfield(L, -2, "now");
	lua_pushcfunction(L, calls);
	lua_setfield(L, -2, "calls");
	lua_pushcfunction(L, calls_str);
	lua_setfield(L, -2, "calls_str");
	return 1;
}
