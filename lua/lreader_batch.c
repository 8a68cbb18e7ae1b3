/*
 * Pointer readers with batch = N: one Lua call per run of up to N records, the records left in
 * the ring until the call returns.
 *
 *   local r = map:reader{ pointer = true, batch = 1024 }
 *   r:consume(function(ptrs, sizes, n)
 *       for i = 1, n do local seq = bpf.peek(ptrs[i], 0, "u64") end
 *   end)
 *
 * A call per record costs a C->Lua call (1.5-3x an empty call once arguments and the result
 * check are counted); here a record costs one rawseti in C (sizes are written only where they
 * changed since the last call) and a table read in the caller's loop. ptrs and sizes are two
 * tables of the reader reused by every call: entries 1..n are this call's, entries past n are
 * left from earlier calls; they belong to the reader (do not write into them). The core walks
 * the run with lbpf_ringbuf_hold (positions kept unpublished, so the kernel cannot reuse the
 * space; the tables are filled as the walk goes, which overlaps the work with the memory loads)
 * and lbpf_ringbuf_release publishes them after the call. While the call runs, the window of
 * the pointer accessors holds the whole run: bpf.peek & co. look the pointer up among the run's
 * records and check the read against that record; after the call they refuse it.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "lhandle.h"
#include "lreader.h"

/* Building a run: each record goes into the run arrays (for the accessors' window) and the two
 * tables as the core's walk reaches it. */
struct run_builder {
	lua_State *L;
	struct lreader *r;
	int n;
	size_t split; /* where the run's addresses wrap around the ring (SIZE_MAX: not yet) */
};

static int add_to_run(void *ctx, const void *data, size_t size)
{
	struct run_builder *b = ctx;
	struct lreader *r = b->r;
	lua_State *L = b->L;
	int i = b->n++;

	r->run_data[i] = data;
	r->run_sizes[i] = size;
	if (i > 0 && b->split == SIZE_MAX && (const uint8_t *)data < (const uint8_t *)r->run_data[i - 1])
		b->split = (size_t)i;
	lua_pushlightuserdata(L, (void *)data);
	lua_rawseti(L, r->batch_idx, i + 1);
	/* Records of one ring mostly have one size: a slot whose size is unchanged since the last
	 * call is not written again (halves the table writes per record). */
	if (r->shown_sizes[i] != size) {
		lua_pushinteger(L, (lua_Integer)size);
		lua_rawseti(L, r->sizes_idx, i + 1);
		r->shown_sizes[i] = size;
	}
	return 0;
}

static void window_hold_run(struct lreader *r, int n, size_t split)
{
	struct lreader_window *w = r->window;

	w->base = NULL;
	w->size = 0;
	w->owner = r;
	w->ptrs = (const void *const *)r->run_data;
	w->sizes = r->run_sizes;
	w->n = (size_t)n;
	w->split = split;
	w->hint = 0;
}

static void window_drop_run(struct lreader *r)
{
	struct lreader_window *w = r->window;

	w->owner = NULL;
	w->ptrs = NULL;
	w->sizes = NULL;
	w->n = 0;
}

/* One call with the next run of ring. Returns the records handed over (0: the ring is empty) or
 * a negative errno; *stop is set when the callback asked to stop or closed the reader. */
static int hand_over_run(lua_State *L, struct lreader *r, int ring, bool *stop)
{
	struct run_builder b = { L, r, 0, SIZE_MAX };
	int n = lbpf_ringbuf_hold(r->rb, (size_t)ring, (size_t)r->batch, add_to_run, &b);

	if (n <= 0)
		return n;
	window_hold_run(r, n, b.split == SIZE_MAX ? (size_t)n : b.split);
	lua_pushvalue(L, r->fn_idx);
	lua_pushvalue(L, r->batch_idx);
	lua_pushvalue(L, r->sizes_idx);
	lua_pushinteger(L, n);
	if (r->multi) {
		lua_pushinteger(L, ring + 1);
		lua_call(L, 4, 1);
	} else {
		lua_call(L, 3, 1);
	}
	/* An error above leaves the run unreleased: the next drain of the ring releases it, and
	 * drain() restores the window. */
	window_drop_run(r);
	lbpf_ringbuf_release(r->rb, (size_t)ring);
	*stop = lreader_stop_requested(L) || r->closed;
	return n;
}

int lreader_drain_pointer_batches(lua_State *L, struct lreader *r, bool wait, int timeout_ms)
{
	int64_t handled = 0;
	bool stop = false;

	if (wait) {
		int ready = lbpf_ringbuf_wait(r->rb, timeout_ms);

		if (ready <= 0)
			return ready;
	}
	for (int ring = 0; ring < r->nsrc && !stop; ring++) {
		int n = 0;

		while (!stop && (n = hand_over_run(L, r, ring, &stop)) > 0)
			handled += n;
		if (n < 0)
			return n;
	}
	return handled > INT_MAX ? INT_MAX : (int)handled;
}
