/*
 * Zero-copy access to event records: the pointer mode of readers and the accessors that go
 * with it.
 *
 *   local r = map:reader{ pointer = true }
 *   r:consume(function(p, size) local pid = bpf.peek(p, 8, "u32") end)
 *   for p, size in r:records() do ... end          -- pull instead of callbacks
 *
 * A record pointer is a light userdata straight into the ring buffer's mmap: no string or table
 * is made per record. It is valid only while its record is current (during its callback, or
 * until the next step of a records() loop). bpf.peek / bpf.bytes / bpf.string check every access
 * against the one current record of this thread (the window below) and raise an error outside
 * it, so a pointer kept past its callback cannot read memory the kernel has reused or that was
 * unmapped. (Under LuaJIT, ffi.cast of the pointer is unchecked: that is its point.)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lhandle.h"
#include "lreader.h"

/* Per thread: Lua states of different threads may drain readers at the same time. */
_Thread_local struct lreader_window lreader_current;

void lreader_window_forget(const struct lreader *r)
{
	if (lreader_current.owner == r)
		memset(&lreader_current, 0, sizeof(lreader_current));
}

/* In [lo, hi) of a run's ascending part: the record whose first byte is at or before p, or -1. */
static long run_search(const struct lreader_window *w, size_t lo, size_t hi, const uint8_t *p)
{
	long found = -1;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if ((const uint8_t *)w->ptrs[mid] <= p) {
			found = (long)mid;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return found;
}

/* The record of the current run that p points into (its bounds in *base, *size); false if none.
 * Accessors mostly read the records in order: the last hit and the one after it come first. */
static bool run_find(struct lreader_window *w, const uint8_t *p, const uint8_t **base,
		     size_t *size)
{
	long i = -1;

	if (w->hint < w->n && w->ptrs[w->hint] == p)
		i = (long)w->hint;
	else if (w->hint + 1 < w->n && w->ptrs[w->hint + 1] == p)
		i = (long)w->hint + 1;
	else if (w->split < w->n && p < (const uint8_t *)w->ptrs[0])
		i = run_search(w, w->split, w->n, p); /* the part past the ring's wrap */
	else
		i = run_search(w, 0, w->split, p);
	if (i < 0 || p > (const uint8_t *)w->ptrs[i] + w->sizes[i])
		return false;
	w->hint = (size_t)i;
	*base = w->ptrs[i];
	*size = w->sizes[i];
	return true;
}

/* The address p + offset .. + len after checking it lies in a current record. */
static const uint8_t *checked_span(lua_State *L, int p_idx, lua_Integer offset, lua_Integer len)
{
	const uint8_t *p = lua_touserdata(L, p_idx);
	struct lreader_window *w = &lreader_current;
	const uint8_t *base = w->base;
	size_t size = w->size;

	if (lua_type(L, p_idx) != LUA_TLIGHTUSERDATA)
		luaL_argerror(L, p_idx, "record pointer (light userdata) expected");
	if (w->n > 0 && !run_find(w, p, &base, &size))
		base = NULL;
	if (!base || p < base || p > base + size)
		luaL_error(L, "record pointer used outside its callback (or records() step): records are "
			      "only readable while they are current");
	if (offset < 0 || len < 0 || (uint64_t)offset + (uint64_t)len >
					     (uint64_t)(base + size - p))
		luaL_error(L, "read of %d bytes at offset %d is outside the record (%d bytes)", (int)len,
			   (int)offset, (int)(base + size - p));
	return p + offset;
}

/* "u8" "i8"/"s8" "u16" ... "i64", "f32"/"float", "f64"/"double", "ptr". Returns the size;
 * *kind is 'u', 'i' or 'f'. */
static unsigned parse_kind(lua_State *L, int idx, char *kind)
{
	size_t len;
	const char *s = luaL_checklstring(L, idx, &len);

	if (strcmp(s, "float") == 0)
		s = "f32";
	else if (strcmp(s, "double") == 0)
		s = "f64";
	else if (strcmp(s, "ptr") == 0)
		s = "u64";
	*kind = s[0] == 's' ? 'i' : s[0];
	if (*kind == 'u' || *kind == 'i' || *kind == 'f') {
		if (strcmp(s + 1, "8") == 0 && *kind != 'f')
			return 1;
		if (strcmp(s + 1, "16") == 0 && *kind != 'f')
			return 2;
		if (strcmp(s + 1, "32") == 0)
			return 4;
		if (strcmp(s + 1, "64") == 0)
			return 8;
	}
	return (unsigned)luaL_argerror(L, idx, "u8, i8, u16, i16, u32, i32, u64, i64, f32 or f64 "
					       "expected");
}

/* bpf.peek(p, offset, kind): one little-endian (host order) scalar of the current record. */
static int l_peek(lua_State *L)
{
	char kind;
	unsigned size = parse_kind(L, 3, &kind);
	const uint8_t *at = checked_span(L, 1, luaL_checkinteger(L, 2), size);
	uint64_t v = lreader_load(at, size);

	if (kind == 'f') {
		if (size == 4) {
			float f;
			uint32_t b = (uint32_t)v;
			memcpy(&f, &b, sizeof(f));
			lua_pushnumber(L, f);
		} else {
			double d;
			memcpy(&d, &v, sizeof(d));
			lua_pushnumber(L, d);
		}
	} else {
		lbpf_lua_push_int_bits(L, v, size * 8u, kind == 'i');
	}
	return 1;
}

/* bpf.bytes(p, len [, offset]): len bytes of the current record as a string. */
static int l_bytes(lua_State *L)
{
	lua_Integer len = luaL_checkinteger(L, 2);
	const uint8_t *at = checked_span(L, 1, luaL_optinteger(L, 3, 0), len);

	lua_pushlstring(L, (const char *)at, (size_t)len);
	return 1;
}

/* bpf.string(p, offset, max): a NUL-terminated string of at most max bytes (a char[max]). */
static int l_string(lua_State *L)
{
	lua_Integer max = luaL_checkinteger(L, 3);
	const uint8_t *at = checked_span(L, 1, luaL_checkinteger(L, 2), max);
	const uint8_t *nul = memchr(at, 0, (size_t)max);

	lua_pushlstring(L, (const char *)at, nul ? (size_t)(nul - at) : (size_t)max);
	return 1;
}

/* ---- reader:records(): the C iterator (Lua 5.4, and LuaJIT where the FFI path does not apply) */

/* Pushes what one step yields; returns the count. */
static int push_step(lua_State *L, struct lreader *r, int ring, const void *data, size_t size)
{
	struct lreader_source *s = &r->src[ring];
	int n = 1;

	if (r->pointer) {
		lreader_current.base = data;
		lreader_current.size = size;
		lreader_current.owner = r;
		lreader_current.n = 0; /* not a run (we may be nested in a pointer batch's call) */
		lua_pushlightuserdata(L, (void *)data);
		lua_pushinteger(L, (lua_Integer)size);
		n = 2;
	} else if (s->dec.nfields > 0) {
		/* the decoder takes the field names from the stack (see push_drain_state) */
		int top = lua_gettop(L);

		lbpf_getuservalue(L, 1);
		lua_getfield(L, -1, "keys");
		lua_rawgeti(L, -1, ring + 1);
		luaL_checkstack(L, s->dec.nfields + 4, "too many fields");
		s->key_base = lua_gettop(L) + 1;
		for (int k = 1; k <= s->dec.nfields; k++)
			lua_rawgeti(L, s->key_base - 1, k);
		lreader_push_record(L, s, data, size);
		lua_replace(L, top + 1);
		lua_settop(L, top + 1);
	} else {
		lreader_push_record(L, s, data, size);
	}
	if (r->multi) {
		lua_pushinteger(L, ring + 1);
		n++;
	}
	return n;
}

static int records_step(lua_State *L)
{
	struct lreader *r = luaL_checkudata(L, 1, LBPF_READER_MT);

	if (r->closed)
		return luaL_error(L, "%s closed during a records() loop", r->name);
	if (r->owner && !r->owner->obj && !r->pointer && !r->src[0].dec.raw)
		return luaL_error(L, "%s used after its object was closed", r->name);
	lua_settop(L, 1);
	while (r->iter_ring < r->nsrc) {
		const void *data;
		size_t size;
		int got = lbpf_ringbuf_next(r->rb, (size_t)r->iter_ring, &data, &size);

		if (got < 0)
			return lbpf_lua_fail(L, got);
		if (got > 0)
			return push_step(L, r, r->iter_ring, data, size);
		r->iter_ring++;
	}
	lreader_window_forget(r);
	lua_pushnil(L);
	return 1;
}

int lreader_records_c(lua_State *L, struct lreader *r)
{
	r->iter_ring = 0;
	lua_pushcfunction(L, records_step);
	lua_pushvalue(L, 1);
	return 2;
}

/* reader:_cursor(i): light userdata of ring i's struct lbpf_ringbuf_cursor and of the reader's
 * closed flag, for lua/bpf/ringbuf_ffi.lua. */
int lreader_push_cursor(lua_State *L, struct lreader *r, int ring)
{
	struct lbpf_ringbuf_cursor *c = lbpf_ringbuf_cursor(r->rb, (size_t)ring);

	if (!c)
		return lbpf_lua_fail(L, -EINVAL);
	lua_pushlightuserdata(L, c);
	lua_pushlightuserdata(L, &r->closed);
	return 2;
}

/* ---- record views (reader{ type = ..., view = true }) -------------------------------------- */

/* view.field: decoded on access through the field list resolved once from BTF. */
static int l_view_index(lua_State *L)
{
	struct lreader_view *v = luaL_checkudata(L, 1, LBPF_VIEW_MT);
	const struct lreader_decoder *d;
	lua_Integer i;

	if (!v->valid)
		return luaL_error(L, "record view used after its callback returned");
	d = &v->src->dec;
	lbpf_getuservalue(L, 1);
	lua_pushvalue(L, 2);
	lua_rawget(L, -2);
	i = lua_tointeger(L, -1);
	if (i < 1 || i > d->nfields)
		return luaL_error(L, "%s has no field '%s'", d->type_name,
				  lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
	lreader_push_field(L, d, &d->fields[i - 1], v->data);
	return 1;
}

static int l_view_len(lua_State *L)
{
	struct lreader_view *v = luaL_checkudata(L, 1, LBPF_VIEW_MT);

	if (!v->valid)
		return luaL_error(L, "record view used after its callback returned");
	lua_pushinteger(L, (lua_Integer)v->size);
	return 1;
}

static int l_view_tostring(lua_State *L)
{
	struct lreader_view *v = luaL_checkudata(L, 1, LBPF_VIEW_MT);

	if (v->valid)
		lua_pushfstring(L, "record view (%s, %d bytes)", v->src->dec.type_name, (int)v->size);
	else
		lua_pushliteral(L, "record view (expired)");
	return 1;
}

void lreader_view_new(lua_State *L, struct lreader_source *s)
{
	struct lreader_view *v;
	int names;

	if (s->dec.nfields <= 0)
		luaL_error(L, "%s '%s': view = true needs a struct of plain members (%s has bitfields "
			      "or anonymous members: leave view out)", s->what, s->name, s->dec.type_name);
	names = lua_gettop(L); /* the decoder's field names, pushed by lreader_decoder_init */
	v = lbpf_newuserdata(L, sizeof(*v));
	memset(v, 0, sizeof(*v));
	v->src = s;
	s->view = v;
	if (luaL_newmetatable(L, LBPF_VIEW_MT)) {
		lua_pushcfunction(L, l_view_index);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_view_len);
		lua_setfield(L, -2, "__len");
		lua_pushcfunction(L, l_view_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_setmetatable(L, -2);
	lua_createtable(L, 0, s->dec.nfields);
	for (int k = 1; k <= s->dec.nfields; k++) {
		lua_rawgeti(L, names, k);
		lua_pushinteger(L, k);
		lua_rawset(L, -3);
	}
	lbpf_setuservalue(L, -2);
}

void lreader_view_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "peek", l_peek },
		{ "bytes", l_bytes },
		{ "string", l_string },
		{ NULL, NULL },
	};

	for (const luaL_Reg *f = fns; f->name; f++) {
		lua_pushcfunction(L, f->func);
		lua_setfield(L, -2, f->name);
	}
}
