/*
 * obj.globals: the object's global variables (.data, .rodata, .bss, .data.*, .rodata.*,
 * .kconfig) by name, decoded through the object's BTF.
 *
 * Before load, reads and writes go to the initial section images (so opts.globals / writes set
 * .rodata constants the verifier will see). After load, reads and writes go to the mmapped maps,
 * live while programs run; writing a read-only (.rodata/.kconfig) variable after load is an
 * error. Where a section map is not mmapped, the binding falls back to a map lookup/update.
 */
#include <errno.h>
#include <string.h>

#include "lhandle.h"

/* The proxy's metamethods hold the object userdata as upvalue 1. */
static struct lbpf_lua_object *upvalue_object(lua_State *L)
{
	struct lbpf_lua_object *o = lbpf_lua_to_object(L, lua_upvalueindex(1));
	if (!o->obj)
		luaL_error(L, "globals of object '%s' used after the object was closed", o->name);
	return o;
}

static void find_global(lua_State *L, struct lbpf_lua_object *o, const char *name,
			struct lbpf_global *g)
{
	if (lbpf_object_global_by_name(o->obj, name, g) < 0)
		luaL_error(L, "object '%s' has no global variable '%s'", o->name, name);
}

/* The whole section value read with a map lookup (for maps that are not mmapped). */
static uint8_t *read_section(lua_State *L, const struct lbpf_global *g)
{
	uint32_t zero = 0;
	uint8_t *buf = lbpf_newuserdata(L, lbpf_map_value_size(g->map));
	int err = lbpf_map_lookup(g->map, &zero, buf, 0);
	if (err < 0)
		luaL_error(L, "reading global '%s': %s", g->name, lbpf_errmsg());
	return buf;
}

static void push_global(lua_State *L, struct lbpf_lua_object *o, const struct lbpf_global *g)
{
	const uint8_t *data = lbpf_global_data(g);
	if (!data) {
		if (!lbpf_object_is_loaded(o->obj) || !g->map)
			luaL_error(L, "global '%s' has no data", g->name);
		data = read_section(L, g) + g->offset;
	}
	lbpf_lua_push_value(L, lbpf_object_btf(o->obj), g->btf_type_id, data, g->size, 0);
}

static void set_global(lua_State *L, struct lbpf_lua_object *o, const struct lbpf_global *g,
		       int value_idx)
{
	bool loaded = lbpf_object_is_loaded(o->obj);
	if (loaded && g->readonly)
		luaL_error(L, "global '%s' of object '%s' is read-only after load", g->name, o->name);
	value_idx = lua_absindex(L, value_idx);
	int top = lua_gettop(L);
	/* Encode aside first: a bad value must not leave a half-written variable. */
	uint8_t *tmp = lbpf_newuserdata(L, g->size ? g->size : 1);
	const char *what = lua_pushfstring(L, "globals.%s", g->name);
	lbpf_lua_to_value(L, value_idx, lbpf_object_btf(o->obj), g->btf_type_id, tmp, g->size, 0, what);
	uint8_t *data = lbpf_global_data(g);
	if (data) {
		memcpy(data, tmp, g->size);
	} else if (loaded && g->map) {
		uint32_t zero = 0;
		uint8_t *section = read_section(L, g);
		memcpy(section + g->offset, tmp, g->size);
		int err = lbpf_map_update(g->map, &zero, section, BPF_ANY);
		if (err < 0)
			luaL_error(L, "writing global '%s': %s", g->name, lbpf_errmsg());
	} else {
		luaL_error(L, "global '%s' has no data", g->name);
	}
	lua_settop(L, top); /* tmp, what and a section read aside */
}

static int l_index(lua_State *L)
{
	struct lbpf_lua_object *o = upvalue_object(L);
	struct lbpf_global g;
	find_global(L, o, luaL_checkstring(L, 2), &g);
	push_global(L, o, &g);
	return 1;
}

static int l_newindex(lua_State *L)
{
	struct lbpf_lua_object *o = upvalue_object(L);
	struct lbpf_global g;
	find_global(L, o, luaL_checkstring(L, 2), &g);
	set_global(L, o, &g, 3);
	return 0;
}

/* Iterator over every global: (proxy, name) -> next name, value */
static int l_next(lua_State *L)
{
	struct lbpf_lua_object *o = upvalue_object(L);
	size_t n = lbpf_object_global_count(o->obj), i = 0;
	struct lbpf_global g;
	if (!lua_isnil(L, 2)) {
		const char *prev = luaL_checkstring(L, 2);
		while (i < n && (lbpf_object_global_at(o->obj, i, &g) < 0 || strcmp(g.name, prev) != 0))
			i++;
		i++;
	}
	for (; i < n; i++) {
		if (lbpf_object_global_at(o->obj, i, &g) < 0)
			continue;
		lua_pushstring(L, g.name);
		push_global(L, o, &g);
		return 2;
	}
	return 0;
}

static int l_pairs(lua_State *L)
{
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushcclosure(L, l_next, 1);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

static int l_tostring(lua_State *L)
{
	struct lbpf_lua_object *o = lbpf_lua_to_object(L, lua_upvalueindex(1));
	lua_pushfstring(L, "bpf.globals(%s)", o->name);
	return 1;
}

void lbpf_lua_new_globals(lua_State *L, int obj_idx)
{
	static const luaL_Reg meta[] = {
		{ "__index", l_index },
		{ "__newindex", l_newindex },
		{ "__pairs", l_pairs },
		{ "__tostring", l_tostring },
		{ NULL, NULL },
	};
	obj_idx = lua_absindex(L, obj_idx);
	lua_newtable(L);
	lua_createtable(L, 0, 5);
	lua_pushvalue(L, obj_idx);
	luaL_setfuncs(L, meta, 1);
	lua_pushliteral(L, "bpf.globals");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

void lbpf_lua_set_globals(lua_State *L, int obj_idx, int tbl_idx)
{
	struct lbpf_lua_object *o = lbpf_lua_to_object(L, obj_idx);
	struct lbpf_global g;
	tbl_idx = lua_absindex(L, tbl_idx);
	lua_pushnil(L);
	while (lua_next(L, tbl_idx)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "opts.globals: names must be strings, got %s", luaL_typename(L, -2));
		find_global(L, o, lua_tostring(L, -2), &g);
		set_global(L, o, &g, -1);
		lua_pop(L, 1);
	}
}
