/*
 * The object handle: bpf.open / bpf.load / obj:load / obj:close, obj.programs, obj.maps,
 * obj.globals.
 *
 * The object userdata's uservalue is a table:
 *   programs = { name = program handle, ... }  (plain table: pairs() works everywhere)
 *   maps     = { name = map handle, ... }
 *   handles  = { [lightuserdata(prog or map)] = handle }  (for C code that has a pointer)
 *   globals  = the globals proxy
 *   strings  = option strings the core may keep pointers to until load
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lhandle.h"

struct lbpf_lua_object *lbpf_lua_to_object(lua_State *L, int idx)
{
	return luaL_testudata(L, idx, LBPF_OBJECT_MT);
}

static struct lbpf_lua_object *check_object_ud(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, LBPF_OBJECT_MT);
}

lbpf_object *lbpf_lua_check_object(lua_State *L, int idx)
{
	struct lbpf_lua_object *o = check_object_ud(L, idx);
	if (!o->obj)
		luaL_error(L, "object '%s' used after it was closed", o->name);
	return o->obj;
}

/* Pushes field `field` of the object's uservalue table. */
static void push_uv_field(lua_State *L, int obj_idx, const char *field)
{
	lbpf_getuservalue(L, obj_idx);
	lua_getfield(L, -1, field);
	lua_remove(L, -2);
}

static void push_cached_handle(lua_State *L, int obj_idx, void *ptr)
{
	push_uv_field(L, obj_idx, "handles");
	lua_pushlightuserdata(L, ptr);
	lua_rawget(L, -2);
	lua_remove(L, -2);
}

void lbpf_lua_push_program(lua_State *L, int obj_idx, lbpf_program *prog)
{
	obj_idx = lua_absindex(L, obj_idx);
	push_cached_handle(L, obj_idx, prog);
	if (!lua_isnil(L, -1))
		return;
	lua_pop(L, 1);
	lbpf_lua_new_program_handle(L, prog, obj_idx);
}

void lbpf_lua_push_map(lua_State *L, int obj_idx, lbpf_map *map)
{
	obj_idx = lua_absindex(L, obj_idx);
	push_cached_handle(L, obj_idx, map);
	if (!lua_isnil(L, -1))
		return;
	lua_pop(L, 1);
	lbpf_lua_new_map_handle(L, map, obj_idx);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* __index of obj.maps / obj.programs: a name that is not there is a mistake worth an error that
 * lists the names that are (upvalues: "map" or "program", the object's name). */
static int l_missing_name(lua_State *L)
{
	const char *kind = lua_tostring(L, lua_upvalueindex(1));
	const char *names[64];
	size_t n = 0, more = 0;
	luaL_Buffer b;

	lua_pushnil(L);
	while (lua_next(L, 1)) {
		lua_pop(L, 1);
		if (n < sizeof(names) / sizeof(names[0]))
			names[n++] = lua_tostring(L, -1);
		else
			more++;
	}
	qsort(names, n, sizeof(names[0]), compare_names);
	luaL_buffinit(L, &b);
	for (size_t i = 0; i < n; i++) {
		luaL_addstring(&b, i ? ", " : "");
		luaL_addstring(&b, names[i]);
	}
	if (more)
		luaL_addstring(&b, ", ...");
	luaL_pushresult(&b);
	if (lua_type(L, 2) == LUA_TSTRING)
		lua_pushfstring(L, "'%s'", lua_tostring(L, 2));
	else
		lua_pushfstring(L, "named by a %s", luaL_typename(L, 2));
	return luaL_error(L, "object '%s' has no %s %s (its %ss: %s)",
			  lua_tostring(L, lua_upvalueindex(2)), kind, lua_tostring(L, -1), kind,
			  n ? lua_tostring(L, -2) : "none");
}

/* Gives the table on top the erroring __index above. */
static void refuse_missing_names(lua_State *L, const char *kind, lbpf_object *obj)
{
	lua_createtable(L, 0, 1);
	lua_pushstring(L, kind);
	lua_pushstring(L, lbpf_object_name(obj));
	lua_pushcclosure(L, l_missing_name, 2);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
}

static void build_handle_tables(lua_State *L, int obj_idx, int uv_idx, lbpf_object *obj)
{
	size_t nprogs = lbpf_object_program_count(obj), nmaps = lbpf_object_map_count(obj);

	lua_createtable(L, 0, (int)(nprogs + nmaps));
	lua_setfield(L, uv_idx, "handles");
	lua_getfield(L, uv_idx, "handles");
	int handles = lua_gettop(L);

	lua_createtable(L, 0, (int)nprogs);
	for (size_t i = 0; i < nprogs; i++) {
		lbpf_program *p = lbpf_object_program_at(obj, i);
		lbpf_lua_new_program_handle(L, p, obj_idx);
		lua_pushlightuserdata(L, p);
		lua_pushvalue(L, -2);
		lua_rawset(L, handles);
		lua_setfield(L, -2, lbpf_program_name(p));
	}
	refuse_missing_names(L, "program", obj);
	lua_setfield(L, uv_idx, "programs");

	lua_createtable(L, 0, (int)nmaps);
	for (size_t i = 0; i < nmaps; i++) {
		lbpf_map *m = lbpf_object_map_at(obj, i);
		lbpf_lua_new_map_handle(L, m, obj_idx);
		lua_pushlightuserdata(L, m);
		lua_pushvalue(L, -2);
		lua_rawset(L, handles);
		lua_setfield(L, -2, lbpf_map_name(m));
	}
	refuse_missing_names(L, "map", obj);
	lua_setfield(L, uv_idx, "maps");
	lua_pop(L, 1); /* handles */

	lbpf_lua_new_globals(L, obj_idx);
	lua_setfield(L, uv_idx, "globals");
}

static const char *const btf_feature_names[] = { "decl_tag", "type_tag", "enum64", "float",
						  "func_linkage", "datasec", NULL };

static uint32_t check_btf_disable(lua_State *L, int opts)
{
	lua_getfield(L, opts, "btf_disable");
	uint32_t bits = 0;
	if (lua_type(L, -1) == LUA_TNUMBER) {
		lua_pop(L, 1);
		return (uint32_t)lbpf_lua_opt_uint(L, opts, "btf_disable", 0, (1 << 6) - 1);
	} else if (lua_istable(L, -1)) {
		for (int i = 1;; i++) {
			lua_rawgeti(L, -1, i);
			if (lua_isnil(L, -1)) {
				lua_pop(L, 1);
				break;
			}
			const char *name = lua_tostring(L, -1);
			int j = 0;
			while (name && btf_feature_names[j] && strcmp(btf_feature_names[j], name) != 0)
				j++;
			if (!name || !btf_feature_names[j])
				luaL_error(L, "opts.btf_disable: unknown BTF feature '%s' (expected decl_tag, "
					   "type_tag, enum64, float, func_linkage or datasec)",
					   name ? name : luaL_typename(L, -1));
			bits |= 1u << j;
			lua_pop(L, 1);
		}
	} else if (!lua_isnil(L, -1)) {
		luaL_error(L, "opts.btf_disable: number or list of feature names expected, got %s",
			   luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	return bits;
}

/* A string option: kept alive in strings_idx (the core may hold the pointer until load). */
static const char *opt_string(lua_State *L, int opts, const char *field, int strings_idx)
{
	if (!lbpf_lua_opt_push(L, opts, field))
		return NULL;
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "opts.%s: string expected, got %s", field, luaL_typename(L, -1));
	const char *s = lua_tostring(L, -1);
	lua_setfield(L, strings_idx, field);
	return s;
}

static void check_opts(lua_State *L, int opts, int strings_idx, struct lbpf_open_opts *o)
{
	static const char *const known[] = { "name", "pin_path", "btf", "kernel_version", "globals",
					     "btf_disable", "bytes", NULL };
	memset(o, 0, sizeof(*o));
	if (lua_isnoneornil(L, opts))
		return;
	luaL_checktype(L, opts, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, opts)) {
		lua_pop(L, 1);
		const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
		int i = 0;
		while (k && known[i] && strcmp(known[i], k) != 0)
			i++;
		if (!k || !known[i])
			luaL_error(L, "bpf.open: unknown option '%s' (known: name, pin_path, btf, "
				   "kernel_version, globals, btf_disable, bytes)", k ? k : luaL_typename(L, -1));
	}
	o->name = opt_string(L, opts, "name", strings_idx);
	o->pin_root = opt_string(L, opts, "pin_path", strings_idx);
	o->btf_path = opt_string(L, opts, "btf", strings_idx);
	o->kernel_version = (uint32_t)lbpf_lua_opt_uint(L, opts, "kernel_version", 0, UINT32_MAX);
	o->btf_disable = check_btf_disable(L, opts);
	lua_getfield(L, opts, "globals");
	if (!lua_isnil(L, -1) && !lua_istable(L, -1))
		luaL_error(L, "opts.globals: table expected, got %s", luaL_typename(L, -1));
	lua_pop(L, 1);
}

static int is_elf_image(const char *s, size_t len)
{
	return len >= 4 && memcmp(s, "\177ELF", 4) == 0;
}

/* A NUL or another control byte: no file name a person gives looks like that. */
static bool cannot_be_path(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return len == 0;
}

/*
 * What bpf.open was given: the bytes of an ELF object when the string starts with the ELF magic
 * (or opts.bytes is true), otherwise a path. Pushes nil, message, EINVAL and returns 3 for a
 * string that is neither (bytes without the magic, which must not be echoed as a file name);
 * returns 0 when src is to be opened, with *bytes set.
 */
static int classify_source(lua_State *L, int opts, const char *src, size_t len, bool *bytes)
{
	bool said_bytes = false;

	if (lua_istable(L, opts) && lbpf_lua_opt_push(L, opts, "bytes")) {
		if (!lua_isboolean(L, -1))
			luaL_error(L, "opts.bytes: boolean expected, got %s", luaL_typename(L, -1));
		said_bytes = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	*bytes = is_elf_image(src, len);
	if (*bytes || !(said_bytes || cannot_be_path(src, len)))
		return 0;
	lua_pushnil(L);
	if (said_bytes)
		lua_pushfstring(L, "not an ELF object: %d bytes without the ELF magic",
				(int)(len > INT32_MAX ? INT32_MAX : len));
	else
		lua_pushfstring(L, "not an ELF object: %d bytes without the ELF magic, and not a path "
				   "(a path has no control characters)", (int)(len > INT32_MAX ? INT32_MAX : len));
	lua_pushinteger(L, EINVAL);
	return 3;
}

/* bpf.open(path_or_bytes [, opts]) -> object | nil, message, errno */
static int l_open(lua_State *L)
{
	size_t len;
	if (lua_type(L, 1) != LUA_TSTRING) /* not even a number: 42 is no path */
		luaL_argerror(L, 1, lua_pushfstring(L, "string (path or ELF image) expected, got %s",
						  luaL_typename(L, 1)));
	const char *src = lua_tolstring(L, 1, &len);
	struct lbpf_open_opts opts;
	lbpf_object *obj = NULL;

	lua_settop(L, 2);
	struct lbpf_lua_object *o = lbpf_newuserdata(L, sizeof(*o)); /* 3 */
	memset(o, 0, sizeof(*o));
	luaL_setmetatable(L, LBPF_OBJECT_MT);
	lua_newtable(L); /* 4: uservalue */
	lua_newtable(L);
	lua_setfield(L, 4, "strings");
	lua_getfield(L, 4, "strings"); /* 5 */
	check_opts(L, 2, 5, &opts);
	lua_pop(L, 1);
	lua_pushvalue(L, 4);
	lbpf_setuservalue(L, 3);

	bool bytes;
	int ret = classify_source(L, 2, src, len, &bytes);
	if (ret)
		return ret;
	int err = bytes ? lbpf_object_open_mem(src, len, &opts, &obj)
			: lbpf_object_open_file(src, &opts, &obj);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	o->obj = obj;
	lbpf_lua_copy_name(o->name, sizeof(o->name), lbpf_object_name(obj));
	build_handle_tables(L, 3, 4, obj);
	if (!lua_isnil(L, 2)) {
		lua_getfield(L, 2, "globals");
		if (!lua_isnil(L, -1))
			lbpf_lua_set_globals(L, 3, lua_gettop(L));
		lua_pop(L, 1);
	}
	lua_settop(L, 3);
	return 1;
}

/* An object handle for obj, already open (and maybe loaded) elsewhere, e.g. a program built by
 * bpf.asm: pushed, owning obj from now on. */
void lbpf_lua_push_object(lua_State *L, lbpf_object *obj)
{
	struct lbpf_lua_object *o = lbpf_newuserdata(L, sizeof(*o));
	int obj_idx = lua_gettop(L);

	memset(o, 0, sizeof(*o));
	luaL_setmetatable(L, LBPF_OBJECT_MT);
	o->obj = obj;
	lbpf_lua_copy_name(o->name, sizeof(o->name), lbpf_object_name(obj));
	lua_newtable(L);
	lua_newtable(L);
	lua_setfield(L, -2, "strings");
	lua_pushvalue(L, -1);
	lbpf_setuservalue(L, obj_idx);
	build_handle_tables(L, obj_idx, lua_gettop(L), obj);
	lua_pop(L, 1);
}

static void close_object(struct lbpf_lua_object *o)
{
	if (o->obj) {
		lbpf_object_close(o->obj);
		o->obj = NULL;
	}
}

void lbpf_lua_close_object(struct lbpf_lua_object *o)
{
	close_object(o);
}

/* obj:load() -> obj | nil, message, errno */
static int l_load(lua_State *L)
{
	lbpf_object *obj = lbpf_lua_check_object(L, 1);
	if (lbpf_object_is_loaded(obj))
		return luaL_error(L, "object '%s' is already loaded", lbpf_object_name(obj));
	int err = lbpf_object_load(obj);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_settop(L, 1);
	return 1;
}

/* bpf.load(path_or_bytes [, opts]) = bpf.open + obj:load; a failed load closes the object. */
static int l_open_and_load(lua_State *L)
{
	lua_settop(L, 2);
	lua_pushcfunction(L, l_open);
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_call(L, 2, 3);
	if (lua_isnil(L, -3))
		return 3;
	lua_pop(L, 2);
	struct lbpf_lua_object *o = check_object_ud(L, -1);
	int err = lbpf_object_load(o->obj);
	if (err < 0) {
		int n = lbpf_lua_fail(L, err); /* message taken before close can touch it */
		close_object(o);
		return n;
	}
	return 1;
}

static int l_close(lua_State *L)
{
	close_object(check_object_ud(L, 1));
	return 0;
}

static int l_gc(lua_State *L)
{
	close_object(check_object_ud(L, 1));
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lbpf_lua_object *o = check_object_ud(L, 1);
	if (!o->obj) {
		lua_pushfstring(L, "bpf.object(%s, closed)", o->name);
		return 1;
	}
	lua_pushfstring(L, "bpf.object(%s, %s, %d programs, %d maps)", o->name,
			lbpf_object_is_loaded(o->obj) ? "loaded" : "not loaded",
			(int)lbpf_object_program_count(o->obj), (int)lbpf_object_map_count(o->obj));
	return 1;
}

static int l_index(lua_State *L)
{
	if (lbpf_lua_index_method(L))
		return 1;
	struct lbpf_lua_object *o = check_object_ud(L, 1);
	const char *k = lua_tostring(L, 2);
	if (!k || lua_type(L, 2) != LUA_TSTRING)
		return 0;
	if (strcmp(k, "name") == 0) {
		lua_pushstring(L, o->name);
		return 1;
	}
	if (strcmp(k, "closed") == 0) {
		lua_pushboolean(L, o->obj == NULL);
		return 1;
	}
	if (!o->obj)
		return luaL_error(L, "object '%s' used after it was closed (field '%s')", o->name, k);
	if (strcmp(k, "programs") == 0 || strcmp(k, "maps") == 0 || strcmp(k, "globals") == 0) {
		push_uv_field(L, 1, k);
		return 1;
	}
	if (strcmp(k, "loaded") == 0) {
		lua_pushboolean(L, lbpf_object_is_loaded(o->obj));
		return 1;
	}
	if (strcmp(k, "license") == 0) {
		lua_pushstring(L, lbpf_object_license(o->obj));
		return 1;
	}
	if (strcmp(k, "kernel_version") == 0) {
		lua_pushinteger(L, (lua_Integer)lbpf_object_kversion(o->obj));
		return 1;
	}
	return 0;
}

/* obj:program(name) / obj:map(name): the handle or nil, message (no such name). */
static int l_program(lua_State *L)
{
	lbpf_object *obj = lbpf_lua_check_object(L, 1);
	const char *name = luaL_checkstring(L, 2);
	lbpf_program *p = lbpf_object_program_by_name(obj, name);
	if (!p)
		return lbpf_lua_fail_msg(L, ENOENT, "object '%s' has no program '%s'",
					 lbpf_object_name(obj), name);
	lbpf_lua_push_program(L, 1, p);
	return 1;
}

static int l_map(lua_State *L)
{
	lbpf_object *obj = lbpf_lua_check_object(L, 1);
	const char *name = luaL_checkstring(L, 2);
	lbpf_map *m = lbpf_object_map_by_name(obj, name);
	if (!m)
		return lbpf_lua_fail_msg(L, ENOENT, "object '%s' has no map '%s'",
					 lbpf_object_name(obj), name);
	lbpf_lua_push_map(L, 1, m);
	return 1;
}

/* obj:warnings(): what the object skipped or degraded on the way (a list of strings). */
static int l_warnings(lua_State *L)
{
	lbpf_object *obj = lbpf_lua_check_object(L, 1);
	size_t n = lbpf_object_warning_count(obj);

	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, lbpf_object_warning_at(obj, i));
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

void lbpf_lua_open_object(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{ "__gc", l_gc },
		{ "__tostring", l_tostring },
#if LBPF_HAVE_CLOSE
		{ "__close", l_close },
#endif
		{ NULL, NULL },
	};
	static const luaL_Reg methods[] = {
		{ "load", l_load },
		{ "close", l_close },
		{ "program", l_program },
		{ "map", l_map },
		{ "warnings", l_warnings },
		{ NULL, NULL },
	};
	static const luaL_Reg funcs[] = {
		{ "open", l_open },
		{ "load", l_open_and_load },
		{ NULL, NULL },
	};
	lbpf_lua_new_class(L, LBPF_OBJECT_MT, meta, methods, l_index);
	luaL_setfuncs(L, funcs, 0);
}
