/*
 * Event readers for Lua: map:reader{...}, bpf.reader{m1, m2, ...}, bpf.trace_pipe() and the
 * bpf_log reader (obj:logs()); map:writer() lives in lwriter.c.
 *
 *   local r = obj.maps.events:reader{ type = "struct event" }   -- or raw = true, batch = N
 *   r:poll(100, function(ev) print(ev.pid, ev.comm) end)        -- wait up to 100 ms, drain
 *   r:consume(fn)                                               -- drain without waiting
 *   r:fd()  (readable while records wait: luv's uv.new_poll(r:fd()))
 *   r:pollfd() / r:events() / r:timeout()                       -- cqueues.poll(r)
 *
 * A callback returning false stops the drain after its record. With batch = N the callback
 * gets (records, n) with up to N records per call instead of one call per record. With
 * pointer = true it gets (pointer, size) and the record stays in the ring (lreader_view.c);
 * with pointer = true and batch = N, (ptrs, sizes, n) for a run held in the ring until the call
 * returns (lreader_batch.c). reuse = true refills decoded tables in place (one per source, or
 * the batch's array of tables) instead of making one per record. r:records() pulls records in a
 * loop instead of taking a callback.
 *
 * Speed: the core drains a whole batch per call with positions read and published once; each
 * record costs one lua_pushlstring (raw) or one table built from a field list resolved once
 * (decoded) plus the Lua call. A Lua error from a callback must not leave the reader half-way,
 * so a drain runs inside one lua_pcall (one setjmp per drain, not per record), resets the
 * reader's drain state, then re-raises the error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lhandle.h"
#include "lmap.h"
#include "lreader.h"

enum drain_mode { DRAIN_POLL, DRAIN_CONSUME };

static struct lreader *check_reader(lua_State *L, int idx)
{
	struct lreader *r = luaL_checkudata(L, idx, LBPF_READER_MT);

	if (r->closed)
		luaL_error(L, "%s used after close", r->name);
	return r;
}

/* ---- per-record callbacks (run inside the protected drain) ----------------------------------- */

int lreader_stop_requested(lua_State *L)
{
	int stop = lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1);

	lua_pop(L, 1);
	return stop;
}

/* Pushes what the callback receives for one record; returns how many values. */
static int push_record_args(lua_State *L, struct lreader *r, struct lreader_source *s,
			    const void *data, size_t size)
{
	if (r->owner && !r->owner->obj)
		luaL_error(L, "%s used after its object was closed", r->name);
	if (r->log) {
		lreader_log_push_record(L, r->fmts_idx, data, size);
		return 2;
	}
	lreader_push_record(L, s, data, size);
	if (r->multi) {
		lua_pushinteger(L, s->index);
		return 2;
	}
	return 1;
}

static int flush_batch(struct lreader *r)
{
	lua_State *L = r->L;

	if (r->nbatch == 0)
		return 0;
	lua_pushvalue(L, r->fn_idx);
	lua_pushvalue(L, r->batch_idx);
	lua_pushinteger(L, r->nbatch);
	r->nbatch = 0;
	if (!r->reuse) {
		lua_createtable(L, r->batch, 0); /* a fresh table: the callback may keep the old one */
		lua_replace(L, r->batch_idx);
	}
	lua_call(L, 2, 1);
	return lreader_stop_requested(L);
}

/* Reuse readers with batch: refills the batch's next table (made on first use) in place. */
static void refill_batch_entry(lua_State *L, struct lreader *r, struct lreader_source *s,
			       const void *data, size_t size)
{
	lua_rawgeti(L, r->batch_idx, r->nbatch + 1);
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		lua_createtable(L, 0, s->dec.nfields);
		lua_pushvalue(L, -1);
		lua_rawseti(L, r->batch_idx, r->nbatch + 1);
	}
	lreader_fill_record(L, s, lua_gettop(L), data, size);
	lua_pop(L, 1);
	r->nbatch++;
}

/* Reuse readers: the callback gets the source's one table, refilled for each record. */
static int on_reused_record(void *ctx, const void *data, size_t size)
{
	struct lreader_source *s = ctx;
	struct lreader *r = s->r;
	lua_State *L = r->L;

	if (r->closed)
		return 1;
	if (r->owner && !r->owner->obj)
		luaL_error(L, "%s used after its object was closed", r->name);
	if (r->batch > 0) {
		refill_batch_entry(L, r, s, data, size);
		return r->nbatch >= r->batch ? flush_batch(r) : 0;
	}
	lreader_fill_record(L, s, s->reuse_idx, data, size);
	lua_pushvalue(L, r->fn_idx);
	lua_pushvalue(L, s->reuse_idx);
	if (r->multi) {
		lua_pushinteger(L, s->index);
		lua_call(L, 2, 1);
	} else {
		lua_call(L, 1, 1);
	}
	return lreader_stop_requested(L);
}

static int on_record(void *ctx, const void *data, size_t size)
{
	struct lreader_source *s = ctx;
	struct lreader *r = s->r;
	lua_State *L = r->L;
	int nargs;

	if (r->closed) /* closed by an earlier callback of this drain */
		return 1;
	if (r->batch > 0) {
		push_record_args(L, r, s, data, size);
		if (r->log || r->multi)
			lua_pop(L, 1); /* batches carry the first value only */
		lua_rawseti(L, r->batch_idx, ++r->nbatch);
		return r->nbatch >= r->batch ? flush_batch(r) : 0;
	}
	lua_pushvalue(L, r->fn_idx);
	nargs = push_record_args(L, r, s, data, size);
	lua_call(L, nargs, 1);
	return lreader_stop_requested(L);
}

/* Pointer readers: the record stays in the ring; the callback gets (pointer, size[, index]). The
 * window tells bpf.peek & co. which record is readable; drain() restores it afterwards. */
static int on_pointer_record(void *ctx, const void *data, size_t size)
{
	struct lreader_source *s = ctx;
	struct lreader *r = s->r;
	lua_State *L = r->L;

	if (r->closed)
		return 1;
	r->window->base = data;
	r->window->size = size;
	r->window->owner = r;
	r->window->n = 0; /* not a run (we may be nested in a pointer batch's call) */
	lua_pushvalue(L, r->fn_idx);
	lua_pushlightuserdata(L, (void *)data);
	lua_pushinteger(L, (lua_Integer)size);
	if (r->multi) {
		lua_pushinteger(L, s->index);
		lua_call(L, 3, 1);
	} else {
		lua_call(L, 2, 1);
	}
	return lreader_stop_requested(L);
}

/* View readers: the callback gets the source's record view, valid until it returns. */
static int on_view_record(void *ctx, const void *data, size_t size)
{
	struct lreader_source *s = ctx;
	struct lreader *r = s->r;
	lua_State *L = r->L;
	int stop;

	if (r->closed)
		return 1;
	if (size < s->dec.size)
		luaL_error(L, "%s '%s': a record of %d bytes is shorter than %s (%d bytes)", s->what,
			   s->name, (int)size, s->dec.type_name, (int)s->dec.size);
	s->view->data = data;
	s->view->size = size;
	s->view->valid = true;
	lua_pushvalue(L, r->fn_idx);
	lua_pushvalue(L, s->view_idx);
	if (r->multi) {
		lua_pushinteger(L, s->index);
		lua_call(L, 2, 1);
	} else {
		lua_call(L, 1, 1);
	}
	s->view->valid = false;
	stop = lreader_stop_requested(L);
	return stop;
}

static int on_line(void *ctx, const char *line, size_t len)
{
	struct lreader *r = ctx;
	lua_State *L = r->L;

	if (r->closed)
		return 1;
	lua_pushvalue(L, r->fn_idx);
	lua_pushlstring(L, line, len);
	lua_call(L, 1, 1);
	return lreader_stop_requested(L);
}

/* ---- drains ------------------------------------------------------------------------------------ */

/* Puts what records need during a drain on the stack: field names, log formats, batch table. */
static void push_drain_state(lua_State *L, struct lreader *r)
{
	lbpf_getuservalue(L, 1);
	int uv = lua_gettop(L);

	lua_getfield(L, uv, "keys");
	int keys = lua_gettop(L);
	for (int i = 0; i < r->nsrc; i++) {
		struct lreader_source *s = &r->src[i];
		int n = s->dec.nfields > 0 ? s->dec.nfields : 0;

		luaL_checkstack(L, n + 8, "too many fields");
		lua_rawgeti(L, keys, i + 1);
		int names = lua_gettop(L);
		s->key_base = names + 1;
		for (int k = 1; k <= n; k++)
			lua_rawgeti(L, names, k);
		/* the names array itself stays below its entries; harmless */
	}
	if (r->view) {
		lua_getfield(L, uv, "views");
		for (int i = 0; i < r->nsrc; i++) {
			lua_rawgeti(L, -1 - i, i + 1);
			r->src[i].view_idx = lua_gettop(L);
		}
	}
	if (r->reuse && !r->batch) {
		lua_getfield(L, uv, "reused");
		for (int i = 0; i < r->nsrc; i++) {
			lua_rawgeti(L, -1 - i, i + 1);
			r->src[i].reuse_idx = lua_gettop(L);
		}
	}
	lua_getfield(L, uv, "fmts");
	r->fmts_idx = lua_gettop(L);
	if (r->pointer && r->batch) {
		/* the reader's own ptrs and sizes tables, reused by every call */
		lua_getfield(L, uv, "ptrs");
		r->batch_idx = lua_gettop(L);
		lua_getfield(L, uv, "sizes");
		r->sizes_idx = lua_gettop(L);
	} else if (r->reuse && r->batch) {
		lua_getfield(L, uv, "batch"); /* the reused array of reused tables */
		r->batch_idx = lua_gettop(L);
	} else {
		lua_createtable(L, r->batch > 0 ? r->batch : 0, 0);
		r->batch_idx = lua_gettop(L);
	}
	r->nbatch = 0;
}

static int core_drain(struct lreader *r, int mode, int timeout)
{
	if (r->pointer && r->batch)
		return lreader_drain_pointer_batches(r->L, r, mode == DRAIN_POLL, timeout);
	switch (r->kind) {
	case READER_RING:
		return mode == DRAIN_POLL ? lbpf_ringbuf_poll(r->rb, timeout) : lbpf_ringbuf_consume(r->rb);
	case READER_PERF:
		return mode == DRAIN_POLL ? lbpf_perfbuf_poll(r->pb, timeout) : lbpf_perfbuf_consume(r->pb);
	default:
		return lbpf_trace_pipe_poll(r->tp, mode == DRAIN_POLL ? timeout : 0, on_line, r);
	}
}

/* Runs under lua_pcall: (reader, fn, mode, timeout). */
static int drain_protected(lua_State *L)
{
	struct lreader *r = lua_touserdata(L, 1);
	int mode = (int)lua_tointeger(L, 3);
	int timeout = (int)lua_tointeger(L, 4);
	int n;

	r->L = L;
	r->fn_idx = 2;
	push_drain_state(L, r);
	n = core_drain(r, mode, timeout);
	if (n >= 0 && r->batch > 0 && !r->pointer && !r->closed)
		flush_batch(r);
	if (n < 0)
		return lbpf_lua_fail(L, n);
	lua_pushinteger(L, n);
	return 1;
}

static void free_core(struct lreader *r)
{
	lreader_window_forget(r);
	lbpf_ringbuf_free(r->rb);
	lbpf_perfbuf_free(r->pb);
	lbpf_trace_pipe_free(r->tp);
	r->rb = NULL;
	r->pb = NULL;
	r->tp = NULL;
	for (int i = 0; i < r->nsrc; i++)
		lreader_decoder_free(&r->src[i].dec);
	free(r->run_data);
	free(r->run_sizes);
	free(r->shown_sizes);
	r->run_data = NULL;
	r->run_sizes = NULL;
	r->shown_sizes = NULL;
	free(r->src);
	r->src = NULL;
	r->nsrc = 0;
}

static int drain(lua_State *L, int mode, int timeout, int fn_idx)
{
	struct lreader *r = check_reader(L, 1);
	int base = lua_gettop(L), status;
	struct lreader_window saved;

	luaL_checktype(L, fn_idx, LUA_TFUNCTION);
	if (r->active)
		return luaL_error(L, "%s: poll/consume called from inside its own callback", r->name);
	if (r->owner && !r->owner->obj)
		return luaL_error(L, "%s used after its object was closed", r->name);
	lua_pushcfunction(L, drain_protected);
	lua_pushvalue(L, 1);
	lua_pushvalue(L, fn_idx);
	lua_pushinteger(L, mode);
	lua_pushinteger(L, timeout);
	/* A record of ours still current (a records() loop left by break) is released by this
	 * drain: forget it, then keep the enclosing drain's record readable again afterwards. */
	lreader_window_forget(r);
	saved = lreader_current;
	r->window = &lreader_current;
	r->active = true;
	status = lua_pcall(L, 4, LUA_MULTRET, 0);
	r->active = false;
	lreader_current = saved;
	for (int i = 0; r->view && i < r->nsrc; i++)
		if (r->src[i].view) /* a callback that raised an error left it valid */
			r->src[i].view->valid = false;
	r->L = NULL;
	r->nbatch = 0;
	if (r->closed) /* closed from a callback: free now that nothing uses it */
		free_core(r);
	if (status != LUA_OK)
		return lua_error(L);
	return lua_gettop(L) - base;
}

/* reader:poll([timeout_ms,] fn): timeout -1 (default) waits forever. */
static int l_poll(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TFUNCTION)
		return drain(L, DRAIN_POLL, (int)luaL_optinteger(L, 3, -1), 2);
	return drain(L, DRAIN_POLL, (int)luaL_optinteger(L, 2, -1), 3);
}

static int l_consume(lua_State *L) { return drain(L, DRAIN_CONSUME, 0, 2); }

/* reader:records(): for p, size in reader:records() do ... end (ring buffers). Under LuaJIT on
 * x86-64 a pointer reader walks the ring from Lua through the FFI (lua/bpf/ringbuf_ffi.lua:
 * the loop is compiled as a whole); elsewhere a C iterator steps with lbpf_ringbuf_next. */
static int l_records(lua_State *L)
{
	struct lreader *r = check_reader(L, 1);

	if (r->kind != READER_RING)
		return luaL_error(L, "%s: records() reads ring buffers only (use poll or consume)",
				  r->name);
	if (r->active)
		return luaL_error(L, "%s: records() called from inside its own callback", r->name);
	if (r->log || r->view)
		return luaL_error(L, "%s: records() does not apply to log and view readers (views "
				  "go to callbacks)", r->name);
	if (r->owner && !r->owner->obj)
		return luaL_error(L, "%s used after its object was closed", r->name);
	lreader_window_forget(r);
	lua_settop(L, 1);
#if LBPF_LUAJIT && defined(__x86_64__)
	if (r->pointer) {
		lua_getglobal(L, "require");
		lua_pushliteral(L, "bpf.ringbuf_ffi");
		if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
			lua_getfield(L, -1, "records");
			lua_pushvalue(L, 1);
			lua_pushinteger(L, r->nsrc);
			lua_call(L, 2, 3);
			return 3;
		}
		lua_settop(L, 1); /* the Lua part is not installed: the C iterator does the job */
	}
#endif
	return lreader_records_c(L, r);
}

/* reader:_cursor(i) (1-based), for lua/bpf/ringbuf_ffi.lua. */
static int l_cursor(lua_State *L)
{
	struct lreader *r = check_reader(L, 1);
	lua_Integer i = luaL_checkinteger(L, 2);

	if (r->kind != READER_RING || i < 1 || i > r->nsrc)
		return luaL_error(L, "%s has no ring %d", r->name, (int)i);
	return lreader_push_cursor(L, r, (int)i - 1);
}

/* ---- other methods ---------------------------------------------------------------------------- */

static int reader_fd(struct lreader *r)
{
	switch (r->kind) {
	case READER_RING: return lbpf_ringbuf_epoll_fd(r->rb);
	case READER_PERF: return lbpf_perfbuf_epoll_fd(r->pb);
	default: return lbpf_trace_pipe_fd(r->tp);
	}
}

static int l_fd(lua_State *L)
{
	lua_pushinteger(L, reader_fd(check_reader(L, 1)));
	return 1;
}

static int l_events(lua_State *L)
{
	check_reader(L, 1);
	lua_pushliteral(L, "r");
	return 1;
}

static int l_timeout(lua_State *L)
{
	check_reader(L, 1);
	lua_pushnil(L);
	return 1;
}

static int l_lost(lua_State *L)
{
	struct lreader *r = check_reader(L, 1);

	if (r->kind != READER_PERF) {
		lua_pushnil(L);
		lua_pushliteral(L, "ring buffers do not report drops: a program sees bpf_ringbuf_reserve "
				   "fail and can count them itself");
		return 2;
	}
	lbpf_lua_push_u64(L, lbpf_perfbuf_lost(r->pb));
	return 1;
}

static int l_close(lua_State *L)
{
	struct lreader *r = luaL_checkudata(L, 1, LBPF_READER_MT);

	if (!r->closed) {
		r->closed = true;
		if (!r->active) /* otherwise the drain in progress frees it when it unwinds */
			free_core(r);
	}
	return 0;
}

static int l_gc(lua_State *L)
{
	struct lreader *r = luaL_checkudata(L, 1, LBPF_READER_MT);

	r->closed = true;
	free_core(r);
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lreader *r = luaL_checkudata(L, 1, LBPF_READER_MT);

	lua_pushfstring(L, "%s%s", r->name, r->closed ? " (closed)" : "");
	return 1;
}

/* ---- construction ----------------------------------------------------------------------------- */

static struct lreader *new_reader_ud(lua_State *L)
{
	struct lreader *r = lbpf_newuserdata(L, sizeof(*r));

	memset(r, 0, sizeof(*r));
	luaL_setmetatable(L, LBPF_READER_MT);
	lua_newtable(L);
	lbpf_setuservalue(L, -2);
	return r;
}

/* Stores the value on top in the reader's uservalue under key (pops it). */
static void uv_set(lua_State *L, int reader_idx, const char *key)
{
	lbpf_getuservalue(L, reader_idx);
	lua_insert(L, -2);
	lua_setfield(L, -2, key);
	lua_pop(L, 1);
}

static const char *source_kind(enum bpf_map_type t)
{
	return t == BPF_MAP_TYPE_PERF_EVENT_ARRAY ? "perf buffer" : "ring buffer";
}

static lbpf_map *check_event_map(lua_State *L, int idx, bool first_is_perf, int nmaps)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, idx);
	enum bpf_map_type t = lbpf_map_type(m->map);

	if (t != BPF_MAP_TYPE_RINGBUF && t != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		luaL_error(L, "map '%s' is a %s map, not a ring buffer or perf event array", m->name,
			   lbpf_map_type_name(t));
	if (nmaps > 1 && (t != BPF_MAP_TYPE_RINGBUF || first_is_perf))
		luaL_error(L, "a reader over several maps takes ring buffers only ('%s' is a %s map)",
			   m->name, lbpf_map_type_name(t));
	return m->map;
}

static void read_opts(lua_State *L, int opts_idx, struct lreader *r, const char **type, int *raw,
		      struct lbpf_perfbuf_opts *popts)
{
	*type = NULL;
	*raw = 0;
	if (!opts_idx || lua_isnoneornil(L, opts_idx))
		return;
	luaL_checktype(L, opts_idx, LUA_TTABLE);
	lua_getfield(L, opts_idx, "type");
	*type = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
	lua_getfield(L, opts_idx, "raw");
	*raw = lua_toboolean(L, -1);
	r->batch = (int)lbpf_lua_opt_uint(L, opts_idx, "batch", 0, 1 << 20);
	lua_getfield(L, opts_idx, "pointer");
	r->pointer = lua_toboolean(L, -1);
	lua_getfield(L, opts_idx, "view");
	r->view = lua_toboolean(L, -1);
	lua_getfield(L, opts_idx, "reuse");
	r->reuse = lua_toboolean(L, -1);
	lua_pop(L, 3);
	if (r->reuse && (*raw || r->pointer || r->view))
		luaL_error(L, "reader: reuse = true refills decoded tables in place: it needs type and "
			      "does not combine with raw, pointer or view");
	if (r->view && (*raw || r->batch || r->pointer))
		luaL_error(L, "reader: view = true decodes fields on access through the type named: "
			      "it needs type and does not combine with raw, batch or pointer");
	if (r->pointer && (*type || *raw))
		luaL_error(L, "reader: pointer = true hands over the records in place; it does not "
			      "combine with type or raw");
	popts->pages_per_cpu = (size_t)lbpf_lua_opt_uint(L, opts_idx, "pages", 0, 1 << 20);
	popts->wakeup_events = (uint32_t)lbpf_lua_opt_uint(L, opts_idx, "wakeup", 0, UINT32_MAX);
	lua_pop(L, 2); /* type stays referenced by the options table */
}

/* reuse = true: one table per source (uv.reused), or with batch the reused array (uv.batch)
 * whose tables are made on first use. Needs the fast field list of a plain struct. */
static void setup_reuse(lua_State *L, struct lreader *r, int ud)
{
	for (int i = 0; i < r->nsrc; i++)
		if (r->src[i].dec.nfields <= 0)
			luaL_error(L, "%s '%s': reuse = true needs a struct of plain members (%s has "
				      "bitfields or anonymous members: leave reuse out)", r->src[i].what,
				   r->src[i].name, r->src[i].dec.type_name);
	if (r->batch) {
		lua_createtable(L, r->batch, 0);
		uv_set(L, ud, "batch");
		return;
	}
	lua_createtable(L, r->nsrc, 0);
	for (int i = 0; i < r->nsrc; i++) {
		lua_createtable(L, 0, r->src[i].dec.nfields);
		lua_rawseti(L, -2, i + 1);
	}
	uv_set(L, ud, "reused");
}

/* pointer = true with batch: the run arrays the core fills and the two tables handed over. */
static void setup_pointer_batches(lua_State *L, struct lreader *r, int ud)
{
	if (r->kind != READER_RING)
		luaL_error(L, "reader: pointer = true with batch holds runs of records in the ring: "
			      "ring buffers only (a perf buffer takes pointer = true without batch)");
	r->run_data = calloc((size_t)r->batch, sizeof(*r->run_data));
	r->run_sizes = calloc((size_t)r->batch, sizeof(*r->run_sizes));
	r->shown_sizes = malloc((size_t)r->batch * sizeof(*r->shown_sizes));
	if (!r->run_data || !r->run_sizes || !r->shown_sizes)
		luaL_error(L, "out of memory");
	for (int i = 0; i < r->batch; i++)
		r->shown_sizes[i] = SIZE_MAX; /* nothing yet */
	lua_createtable(L, r->batch, 0);
	uv_set(L, ud, "ptrs");
	lua_createtable(L, r->batch, 0);
	uv_set(L, ud, "sizes");
}

static int start_core(lua_State *L, struct lreader *r, lbpf_map **maps,
		      const struct lbpf_perfbuf_opts *popts)
{
	lbpf_event_fn fn = r->pointer ? on_pointer_record : r->view ? on_view_record
					  : r->reuse ? on_reused_record : on_record;
	int err;

	if (r->kind == READER_PERF)
		return lbpf_perfbuf_new(maps[0], popts, fn, &r->src[0], &r->pb);
	err = lbpf_ringbuf_new(maps[0], fn, &r->src[0], &r->rb);
	for (int i = 1; err >= 0 && i < r->nsrc; i++)
		err = lbpf_ringbuf_add(r->rb, maps[i], fn, &r->src[i]);
	(void)L;
	return err < 0 ? err : 0;
}

int lreader_new_from_maps(lua_State *L, const int *map_idx, int nmaps, int opts_idx, bool log)
{
	struct lbpf_perfbuf_opts popts = { 0 };
	lbpf_map *maps[64];
	const char *type;
	struct lreader *r;
	int raw, ud, err;

	if (nmaps < 1 || nmaps > 64)
		return luaL_error(L, "reader: between 1 and 64 maps, not %d", nmaps);
	for (int i = 0; i < nmaps; i++)
		maps[i] = check_event_map(L, map_idx[i],
					  i > 0 && lbpf_map_type(maps[0]) == BPF_MAP_TYPE_PERF_EVENT_ARRAY,
					  nmaps);
	r = new_reader_ud(L);
	ud = lua_gettop(L);
	read_opts(L, opts_idx, r, &type, &raw, &popts);
	r->kind = lbpf_map_type(maps[0]) == BPF_MAP_TYPE_PERF_EVENT_ARRAY ? READER_PERF : READER_RING;
	r->log = log;
	r->multi = nmaps > 1;
	snprintf(r->name, sizeof(r->name), "%s reader of '%s'%s", source_kind(lbpf_map_type(maps[0])),
		 lbpf_map_name(maps[0]), nmaps > 1 ? " and more" : "");
	r->src = calloc((size_t)nmaps, sizeof(*r->src));
	if (!r->src)
		return luaL_error(L, "out of memory");
	r->nsrc = nmaps;
	/* uservalue: maps (kept alive), keys (field names per source), fmts (log formats) */
	lua_createtable(L, nmaps, 0);
	for (int i = 0; i < nmaps; i++) {
		lua_pushvalue(L, map_idx[i]);
		lua_rawseti(L, -2, i + 1);
	}
	uv_set(L, ud, "maps");
	lua_createtable(L, nmaps, 0);
	for (int i = 0; i < nmaps; i++) {
		struct lbpf_lua_map *m = luaL_checkudata(L, map_idx[i], LBPF_MAP_MT);
		struct lreader_source *s = &r->src[i];
		const lbpf_btf *btf = m->owner && m->owner->obj ? lbpf_object_btf(m->owner->obj)
								: lbpf_map_btf(m->map);

		if (m->owner)
			r->owner = m->owner;
		s->r = r;
		s->index = i + 1;
		s->what = source_kind(lbpf_map_type(maps[i]));
		lbpf_lua_copy_name(s->name, sizeof(s->name), m->name);
		/* no type, raw or pointer: the record type the program declared, if any */
		if (log || type || raw || r->pointer || !lreader_decoder_init_recorded(L, s, btf))
			lreader_decoder_init(L, s, btf, log ? NULL : type, raw || log);
		if ((r->reuse || r->view) && s->dec.raw)
			return luaL_error(L, "reader: %s needs type (or a record type declared with "
					  "BPF_RINGBUF_RECORD for map '%s')",
					  r->reuse ? "reuse = true" : "view = true", s->name);
		lua_rawseti(L, -2, i + 1);
	}
	if (r->view) {
		lua_createtable(L, nmaps, 0);
		for (int i = 0; i < nmaps; i++) {
			lua_rawgeti(L, -2, i + 1); /* the field names of source i */
			lreader_view_new(L, &r->src[i]);
			lua_rawseti(L, -3, i + 1);
			lua_pop(L, 1);
		}
		uv_set(L, ud, "views");
	}
	uv_set(L, ud, "keys");
	if (log && (r->pointer || r->view || r->reuse))
		return luaL_error(L, "log readers format their records: pointer/view/reuse do not "
				     "apply");
	if (r->reuse)
		setup_reuse(L, r, ud);
	if (r->pointer && r->batch)
		setup_pointer_batches(L, r, ud);
	if (log && r->owner && r->owner->obj)
		lreader_log_push_formats(L, r->owner->obj);
	else
		lua_newtable(L);
	uv_set(L, ud, "fmts");
	err = start_core(L, r, maps, &popts);
	if (err < 0) {
		lbpf_lua_fail(L, err);
		free_core(r);
		r->closed = true;
		return 3;
	}
	lua_settop(L, ud);
	return 1;
}

/* map:reader([opts]) */
static int l_map_reader(lua_State *L)
{
	int idx = 1;

	return lreader_new_from_maps(L, &idx, 1, lua_isnoneornil(L, 2) ? 0 : 2, false);
}

/* bpf.reader{map1, map2, ..., type = ..., raw = ..., batch = ...} */
static int l_bpf_reader(lua_State *L)
{
	int idx[64], n;

	luaL_checktype(L, 1, LUA_TTABLE);
	n = (int)lbpf_len(L, 1);
	if (n < 1 || n > 64)
		return luaL_error(L, "bpf.reader: give between 1 and 64 maps, not %d", n);
	luaL_checkstack(L, n + 16, "too many maps");
	for (int i = 0; i < n; i++) {
		lua_rawgeti(L, 1, i + 1);
		idx[i] = lua_gettop(L);
	}
	return lreader_new_from_maps(L, idx, n, 1, false);
}

/* bpf.trace_pipe(): a reader of bpf_printk output; callbacks get one line each. */
static int l_trace_pipe(lua_State *L)
{
	struct lreader *r = new_reader_ud(L);
	int err;

	r->kind = READER_TRACE;
	snprintf(r->name, sizeof(r->name), "trace_pipe reader");
	err = lbpf_trace_pipe_open(&r->tp);
	if (err < 0) {
		r->closed = true;
		return lbpf_lua_fail(L, err);
	}
	return 1;
}

static const luaL_Reg reader_meta[] = {
	{ "__gc", l_gc },
#if LBPF_HAVE_CLOSE
	{ "__close", l_close },
#endif
	{ "__tostring", l_tostring },
	{ NULL, NULL },
};

static const luaL_Reg reader_methods[] = {
	{ "poll", l_poll },
	{ "consume", l_consume },
	{ "fd", l_fd },
	{ "pollfd", l_fd },
	{ "events", l_events },
	{ "timeout", l_timeout },
	{ "lost", l_lost },
	{ "close", l_close },
	{ "records", l_records },
	{ "_cursor", l_cursor },
	{ NULL, NULL },
};

static const luaL_Reg map_methods[] = {
	{ "reader", l_map_reader },
	{ NULL, NULL },
};

void lbpf_lua_open_reader(lua_State *L)
{
	lbpf_lua_new_class(L, LBPF_READER_MT, reader_meta, reader_methods, NULL);
	lbpf_lua_add_methods(L, LBPF_MAP_MT, map_methods);
	lua_pushcfunction(L, l_bpf_reader);
	lua_setfield(L, -2, "reader");
	lua_pushcfunction(L, l_trace_pipe);
	lua_setfield(L, -2, "trace_pipe");
	lreader_log_open(L);
	lreader_writer_open(L);
	lreader_view_open(L);
}
