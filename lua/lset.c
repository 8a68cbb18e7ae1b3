/*
 * libbpf's pre-load setters from Lua: map:set{...} and prog:set{...} change a definition before
 * obj:load() (a Lua error after it, or for a wrong field), and obj:attach() attaches every
 * loaded program whose autoattach is on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lhandle.h"
#include "lmap.h"

/* A type given by name ("xdp", "percpu_array") or number. */
static int check_enum(lua_State *L, int idx, const char *what, const char *(*name_of)(int))
{
	if (lbpf_isinteger(L, idx))
		return (int)lua_tointeger(L, idx);
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *want = lua_tostring(L, idx);

		for (int v = 0; v < 256; v++) {
			const char *name = name_of(v);

			if (name && !strcmp(name, want))
				return v;
		}
		return luaL_error(L, "%s: unknown name '%s'", what, want);
	}
	return luaL_error(L, "%s: name or number expected, got %s", what, luaL_typename(L, idx));
}

static const char *prog_type_name(int v) { return lbpf_prog_type_name((enum bpf_prog_type)v); }
static const char *attach_type_name(int v) { return lbpf_attach_type_name((enum bpf_attach_type)v); }
static const char *map_type_name(int v) { return lbpf_map_type_name((enum bpf_map_type)v); }

static uint64_t check_uint(lua_State *L, int idx, const char *what, uint64_t max)
{
	if (!lbpf_isinteger(L, idx))
		luaL_error(L, "%s: integer expected, got %s", what, luaL_typename(L, idx));
	lua_Integer v = lua_tointeger(L, idx);
	if (v < 0 || (uint64_t)v > max) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s: %lld out of range (0 to %llu)", what, (long long)v,
			 (unsigned long long)max);
		luaL_error(L, "%s", msg);
	}
	return (uint64_t)v;
}

static bool check_bool(lua_State *L, int idx, const char *what)
{
	if (lua_type(L, idx) != LUA_TBOOLEAN)
		luaL_error(L, "%s: boolean expected, got %s", what, luaL_typename(L, idx));
	return lua_toboolean(L, idx);
}

/* Every key of the table at idx must be in known (a misspelt field is no silent no-op). */
static void check_fields(lua_State *L, int idx, const char *fn, const char *const *known)
{
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		int i = 0;

		while (k && known[i] && strcmp(known[i], k))
			i++;
		if (!k || !known[i])
			luaL_error(L, "%s: unknown field '%s'", fn, k ? k : luaL_typename(L, -1));
	}
}

/* A setter's failure (set after load, global-data size, ...) is a usage error. */
static void check_set(lua_State *L, int err)
{
	if (err < 0)
		luaL_error(L, "%s", lbpf_errmsg());
}

/* ---- map:set{...} --------------------------------------------------------------------------- */

static const char *const map_fields[] = { "type", "key_size", "value_size", "max_entries", "flags",
					   "numa_node", "map_extra", "inner_map", "initial_value",
					   "autocreate", NULL };

/* The inner map template: a created map handle, or an fd. */
static int inner_fd(lua_State *L, int idx)
{
	if (lbpf_isinteger(L, idx))
		return (int)lua_tointeger(L, idx);
	if (luaL_testudata(L, idx, LBPF_MAP_MT)) {
		struct lbpf_lua_map *m = lbpf_lua_check_map_handle(L, idx);

		if (lbpf_map_fd(m->map) < 0)
			luaL_error(L, "map:set: inner_map '%s' is not created yet (load its object first)",
				   m->name);
		return lbpf_map_fd(m->map);
	}
	return luaL_error(L, "map:set: inner_map: map or fd expected, got %s", luaL_typename(L, idx));
}

static void set_map_field(lua_State *L, lbpf_map *map, int field, int v)
{
	const char *what = map_fields[field];
	char where[48];

	snprintf(where, sizeof(where), "map:set: %s", what);
	switch (field) {
	case 0: check_set(L, lbpf_map_set_type(map, check_enum(L, v, where, map_type_name))); break;
	case 1: check_set(L, lbpf_map_set_key_size(map, (uint32_t)check_uint(L, v, where, UINT32_MAX))); break;
	case 2: check_set(L, lbpf_map_set_value_size(map, (uint32_t)check_uint(L, v, where, UINT32_MAX))); break;
	case 3: check_set(L, lbpf_map_set_max_entries(map, (uint32_t)check_uint(L, v, where, UINT32_MAX))); break;
	case 4: check_set(L, lbpf_map_set_flags(map, (uint32_t)check_uint(L, v, where, UINT32_MAX))); break;
	case 5: check_set(L, lbpf_map_set_numa_node(map, (uint32_t)check_uint(L, v, where, UINT32_MAX))); break;
	case 6: check_set(L, lbpf_map_set_map_extra(map, check_uint(L, v, where, INT64_MAX))); break;
	case 7: check_set(L, lbpf_map_set_inner_map_fd(map, inner_fd(L, v))); break;
	case 8: {
		size_t len;
		const char *data;

		if (lua_type(L, v) != LUA_TSTRING)
			luaL_error(L, "%s: string expected, got %s", where, luaL_typename(L, v));
		data = lua_tolstring(L, v, &len);
		check_set(L, lbpf_map_set_initial_value(map, data, len));
		break;
	}
	case 9: check_set(L, lbpf_map_set_autocreate(map, check_bool(L, v, where))); break;
	}
}

/* map:set{value_size = 8 * 127, max_entries = 1024, ...} -> map */
static int l_map_set(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_map_handle(L, 1);

	check_fields(L, 2, "map:set", map_fields);
	for (int i = 0; map_fields[i]; i++) {
		lua_getfield(L, 2, map_fields[i]);
		if (!lua_isnil(L, -1))
			set_map_field(L, m->map, i, lua_gettop(L));
		lua_pop(L, 1);
	}
	lbpf_lua_map_refresh(L, 1);
	lua_settop(L, 1);
	return 1;
}

/* ---- prog:set{...} -------------------------------------------------------------------------- */

static const char *const prog_fields[] = { "type", "expected_attach_type", "attach_target", "flags",
					    "log_level", "autoload", "autoattach", NULL };

/* attach_target = "kernel_function" | {func = "name", prog = program handle or fd} */
static int set_attach_target(lua_State *L, lbpf_program *prog, int v)
{
	int fd = -1;
	const char *func;

	if (lua_type(L, v) == LUA_TSTRING)
		return lbpf_program_set_attach_target(prog, -1, lua_tostring(L, v));
	if (!lua_istable(L, v))
		return luaL_error(L, "prog:set: attach_target: function name or {func = ..., prog = ...} "
				  "expected, got %s", luaL_typename(L, v));
	lua_getfield(L, v, "func");
	func = lua_tostring(L, -1);
	if (lua_type(L, -1) != LUA_TSTRING)
		return luaL_error(L, "prog:set: attach_target.func: string expected, got %s",
				  luaL_typename(L, -1));
	lua_getfield(L, v, "prog");
	if (lbpf_isinteger(L, -1))
		fd = (int)lua_tointeger(L, -1);
	else if (luaL_testudata(L, -1, LBPF_PROGRAM_MT))
		fd = lbpf_program_fd(lbpf_lua_check_loaded(L, lua_gettop(L)));
	else if (!lua_isnil(L, -1))
		return luaL_error(L, "prog:set: attach_target.prog: program or fd expected, got %s",
				  luaL_typename(L, -1));
	int err = lbpf_program_set_attach_target(prog, fd, func);
	lua_pop(L, 2);
	return err;
}

static void set_prog_field(lua_State *L, lbpf_program *prog, int field, int v)
{
	char where[48];

	snprintf(where, sizeof(where), "prog:set: %s", prog_fields[field]);
	switch (field) {
	case 0: check_set(L, lbpf_program_set_type(prog, check_enum(L, v, where, prog_type_name))); break;
	case 1:
		check_set(L, lbpf_program_set_expected_attach_type(prog,
			  check_enum(L, v, where, attach_type_name)));
		break;
	case 2: check_set(L, set_attach_target(L, prog, v)); break;
	case 3: check_set(L, lbpf_program_set_flags(prog, (uint32_t)check_uint(L, v, where, UINT32_MAX))); break;
	case 4: check_set(L, lbpf_program_set_log_level(prog, (uint32_t)check_uint(L, v, where, UINT32_MAX))); break;
	case 5: check_set(L, lbpf_program_set_autoload(prog, check_bool(L, v, where))); break;
	case 6: check_set(L, lbpf_program_set_autoattach(prog, check_bool(L, v, where))); break;
	}
}

/* prog:set{type = "xdp", autoload = false, attach_target = "do_nanosleep", ...} -> prog */
static int l_prog_set(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_program(L, 1);

	check_fields(L, 2, "prog:set", prog_fields);
	for (int i = 0; prog_fields[i]; i++) {
		lua_getfield(L, 2, prog_fields[i]);
		if (!lua_isnil(L, -1))
			set_prog_field(L, prog, i, lua_gettop(L));
		lua_pop(L, 1);
	}
	lua_settop(L, 1);
	return 1;
}

/* ---- obj:attach() --------------------------------------------------------------------------- */

static void detach_all(lua_State *L, int links)
{
	lua_pushnil(L);
	while (lua_next(L, links)) {
		lua_getfield(L, -1, "detach");
		lua_pushvalue(L, -2);
		lua_pcall(L, 1, 0, 0);
		lua_pop(L, 1);
	}
}

/* obj:attach() -> {program name = link} | nil, message, errno (nothing left attached) */
static int l_obj_attach(lua_State *L)
{
	lbpf_object *obj = lbpf_lua_check_object(L, 1);

	if (!lbpf_object_is_loaded(obj))
		return luaL_error(L, "object '%s' is not loaded (call obj:load() first)",
				  lbpf_object_name(obj));
	lua_settop(L, 1);
	lua_newtable(L); /* 2: links */
	for (size_t i = 0; i < lbpf_object_program_count(obj); i++) {
		lbpf_program *prog = lbpf_object_program_at(obj, i);

		if (lbpf_program_fd(prog) < 0 || !lbpf_program_autoattach(prog))
			continue;
		lbpf_lua_push_program(L, 1, prog);
		lua_getfield(L, -1, "attach");
		lua_insert(L, -2);
		lua_call(L, 1, 3);
		if (lua_isnil(L, -3)) {
			detach_all(L, 2);
			return 3;
		}
		lua_pop(L, 2);
		lua_setfield(L, 2, lbpf_program_name(prog));
	}
	return 1;
}

void lbpf_lua_open_set(lua_State *L)
{
	static const luaL_Reg map_methods[] = { { "set", l_map_set }, { NULL, NULL } };
	static const luaL_Reg prog_methods[] = { { "set", l_prog_set }, { NULL, NULL } };
	static const luaL_Reg obj_methods[] = { { "attach", l_obj_attach }, { NULL, NULL } };

	lbpf_lua_add_methods(L, LBPF_MAP_MT, map_methods);
	lbpf_lua_add_methods(L, LBPF_PROGRAM_MT, prog_methods);
	lbpf_lua_add_methods(L, LBPF_OBJECT_MT, obj_methods);
}
