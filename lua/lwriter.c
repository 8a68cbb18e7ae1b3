/*
 * map:writer([{type = "struct cmd"}]) for BPF_MAP_TYPE_USER_RINGBUF maps: Lua produces records
 * that programs drain with bpf_user_ringbuf_drain().
 *
 *   local w = obj.maps.to_kernel:writer{ type = "struct cmd" }
 *   assert(w:write{ op = 1, arg = 42 })   -- encoded through BTF; or w:write(bytes)
 *   w:wait(64, 100)                       -- until 64 bytes fit, at most 100 ms
 *
 * A full ring buffer is a system condition (nil, message, ENOSPC), not an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lhandle.h"
#include "lmap.h"
#include "lreader.h"

struct lwriter {
	lbpf_user_ringbuf *urb;
	bool closed;
	struct lbpf_lua_object *owner; /* whose BTF encodes tables; checked before use */
	const lbpf_btf *btf;
	uint32_t type_id;
	uint32_t size;
	uint8_t *scratch;               /* size bytes: a table is encoded here before reserving */
	char type_name[64];
	char name[128];
};

static struct lwriter *check_writer(lua_State *L, int idx)
{
	struct lwriter *w = luaL_checkudata(L, idx, LBPF_WRITER_MT);

	if (w->closed)
		luaL_error(L, "%s used after close", w->name);
	if (w->owner && !w->owner->obj)
		luaL_error(L, "%s used after its object was closed", w->name);
	return w;
}

static void free_writer(struct lwriter *w)
{
	lbpf_user_ringbuf_free(w->urb);
	w->urb = NULL;
	free(w->scratch);
	w->scratch = NULL;
	w->closed = true;
}

static void set_type(lua_State *L, struct lwriter *w, const char *type)
{
	int32_t id;
	int64_t size;

	if (!w->btf)
		luaL_error(L, "%s: cannot encode '%s': its object has no BTF", w->name, type);
	id = lbpf_btf_find(w->btf, strncmp(type, "struct ", 7) == 0 ? type + 7 : type,
			   strncmp(type, "struct ", 7) == 0 ? BTF_KIND_STRUCT : 0);
	if (id <= 0)
		luaL_error(L, "%s: unknown type '%s' (not in its object's BTF)", w->name, type);
	size = lbpf_btf_type_size(w->btf, (uint32_t)id);
	if (size <= 0 || size > 1 << 24)
		luaL_error(L, "%s: type '%s' has no usable size", w->name, type);
	w->type_id = (uint32_t)id;
	w->size = (uint32_t)size;
	w->scratch = malloc((size_t)size);
	if (!w->scratch)
		luaL_error(L, "out of memory");
	lbpf_lua_copy_name(w->type_name, sizeof(w->type_name), type);
}

/* map:writer([opts]) */
static int l_map_writer(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	struct lwriter *w;
	int err;

	if (lbpf_map_type(m->map) != BPF_MAP_TYPE_USER_RINGBUF)
		return luaL_error(L, "map '%s' is a %s map, not a user ring buffer", m->name,
				  lbpf_map_type_name(lbpf_map_type(m->map)));
	w = lbpf_newuserdata(L, sizeof(*w));
	memset(w, 0, sizeof(*w));
	luaL_setmetatable(L, LBPF_WRITER_MT);
	lua_pushvalue(L, 1); /* keep the map (and so its object) alive */
	lbpf_setuservalue(L, -2);
	snprintf(w->name, sizeof(w->name), "user ring buffer writer of '%s'", m->name);
	w->owner = m->owner;
	w->btf = m->owner && m->owner->obj ? lbpf_object_btf(m->owner->obj) : lbpf_map_btf(m->map);
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "type");
		if (!lua_isnil(L, -1))
			set_type(L, w, luaL_checkstring(L, -1));
		lua_pop(L, 1);
	}
	err = lbpf_user_ringbuf_new(m->map, &w->urb);
	if (err < 0) {
		free_writer(w);
		return lbpf_lua_fail(L, err);
	}
	return 1;
}

/* writer:write(bytes | value): true, or nil, message, errno (ENOSPC when full). */
static int l_write(lua_State *L)
{
	struct lwriter *w = check_writer(L, 1);
	const void *data;
	size_t size;

	if (lua_type(L, 2) == LUA_TSTRING) {
		data = lua_tolstring(L, 2, &size);
	} else {
		if (!w->type_id)
			return luaL_error(L, "%s: write a byte string, or create the writer with "
					  "{type = ...} to write tables", w->name);
		lbpf_lua_to_value(L, 2, w->btf, w->type_id, w->scratch, w->size, 0, "record");
		data = w->scratch;
		size = w->size;
	}
	if (size > UINT32_MAX / 2)
		return luaL_error(L, "%s: a record of %d bytes is too big", w->name, (int)size);
	return lbpf_lua_ok(L, lbpf_user_ringbuf_write(w->urb, data, (uint32_t)size));
}

/* writer:wait([bytes[, timeout_ms]]): true once bytes (default: the type's size) fit. */
static int l_wait(lua_State *L)
{
	struct lwriter *w = check_writer(L, 1);
	lua_Integer size = luaL_optinteger(L, 2, w->size ? w->size : 1);

	if (size < 0 || size > UINT32_MAX / 2)
		return luaL_argerror(L, 2, "size out of range");
	return lbpf_lua_ok(L, lbpf_user_ringbuf_wait(w->urb, (uint32_t)size,
						     (int)luaL_optinteger(L, 3, -1)));
}

static int l_free_space(lua_State *L)
{
	lbpf_lua_push_u64(L, lbpf_user_ringbuf_free_space(check_writer(L, 1)->urb));
	return 1;
}

static int l_fd(lua_State *L)
{
	lua_pushinteger(L, lbpf_user_ringbuf_epoll_fd(check_writer(L, 1)->urb));
	return 1;
}

static int l_close(lua_State *L)
{
	free_writer(luaL_checkudata(L, 1, LBPF_WRITER_MT));
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lwriter *w = luaL_checkudata(L, 1, LBPF_WRITER_MT);

	lua_pushfstring(L, "%s%s", w->name, w->closed ? " (closed)" : "");
	return 1;
}

static const luaL_Reg writer_meta[] = {
	{ "__gc", l_close },
#if LBPF_HAVE_CLOSE
	{ "__close", l_close },
#endif
	{ "__tostring", l_tostring },
	{ NULL, NULL },
};

static const luaL_Reg writer_methods[] = {
	{ "write", l_write },
	{ "wait", l_wait },
	{ "free_space", l_free_space },
	{ "fd", l_fd },
	{ "close", l_close },
	{ NULL, NULL },
};

static const luaL_Reg map_methods[] = {
	{ "writer", l_map_writer },
	{ NULL, NULL },
};

void lreader_writer_open(lua_State *L)
{
	lbpf_lua_new_class(L, LBPF_WRITER_MT, writer_meta, writer_methods, NULL);
	lbpf_lua_add_methods(L, LBPF_MAP_MT, map_methods);
}
