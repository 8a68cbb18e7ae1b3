/* luabpf public API, events part (included by luabpf.h; do not include directly).
 *
 * Readers deliver records through a callback; a non-zero return stops the current drain (the
 * record that returned it counts as consumed). Readers are not thread safe: one thread drives
 * a reader. The callbacks may re-enter the same reader's consume (the nested call continues
 * after the current record), and may escape with a longjmp (a Lua error): the record being
 * handled then counts as consumed and the next call picks up after it.
 */
#ifndef LUABPF_EVENTS_H
#define LUABPF_EVENTS_H

/* Receives one record. data is valid only during the call. Non-zero: stop after this record. */
typedef int (*lbpf_event_fn)(void *ctx, const void *data, size_t size);

/* ---- BPF_MAP_TYPE_RINGBUF ----------------------------------------------------------------- */

typedef struct lbpf_ringbuf lbpf_ringbuf;

/* A reader over one ring buffer map (the map must be loaded). More maps join with _add; all
 * share one epoll fd. The reader holds its own references: the map may be closed first. */
int lbpf_ringbuf_new(const lbpf_map *map, lbpf_event_fn fn, void *ctx, lbpf_ringbuf **out);
/* Returns the index of the added ring (0 for the first). */
int lbpf_ringbuf_add(lbpf_ringbuf *rb, const lbpf_map *map, lbpf_event_fn fn, void *ctx);
/* Waits up to timeout_ms (-1: forever, 0: not at all) for records, then drains every ready ring.
 * Returns the number of records handed to callbacks (0 on timeout or when a signal interrupted
 * the wait) or a negative errno. */
int lbpf_ringbuf_poll(lbpf_ringbuf *rb, int timeout_ms);
/* Drains every ring without waiting. Returns records handled or a negative errno. */
int lbpf_ringbuf_consume(lbpf_ringbuf *rb);
/* Drains ring index only. */
int lbpf_ringbuf_consume_ring(lbpf_ringbuf *rb, size_t index);
/* An epoll fd that is readable while any ring holds unread records. Owned by the reader. */
int lbpf_ringbuf_epoll_fd(const lbpf_ringbuf *rb);
size_t lbpf_ringbuf_ring_count(const lbpf_ringbuf *rb);
/* Bytes written by producers and not yet consumed in ring index. */
uint64_t lbpf_ringbuf_avail(const lbpf_ringbuf *rb, size_t index);
/* Unmaps, closes the epoll fd and frees. NULL is fine. */
void lbpf_ringbuf_free(lbpf_ringbuf *rb);

/* Pull-style consumption, for callers that iterate instead of taking callbacks: releases the
 * record the previous call on this ring returned (its data is invalid from now on) and returns
 * the next committed one: 1 with *data and *size (valid until the next call on this ring or
 * the next drain of the reader), 0 when none waits (everything is released then), or a
 * negative errno. The callbacks of the ring are not called. */
int lbpf_ringbuf_next(lbpf_ringbuf *rb, size_t index, const void **data, size_t *size);

/* Batch consumption without callbacks, for callers that hand many records to one call: first
 * releases whatever this ring handed out before (as lbpf_ringbuf_next does), then hands out up to
 * max committed records (discarded ones are skipped) in data[] and sizes[] and keeps them all
 * unreleased, so the kernel cannot reuse their space, until lbpf_ringbuf_release (or the next
 * peek, next or drain of the ring). Stops early once the records held take a quarter of the
 * ring, so that a producer keeps room. Returns how many (0: none waits) or a negative errno. */
int lbpf_ringbuf_peek_batch(lbpf_ringbuf *rb, size_t index, const void **data, size_t *sizes,
			    size_t max);
/* The same, handing each record of the run to fn as the walk reaches it (fn returning non-zero
 * ends the run after its record; the callbacks given to _new/_add are not called). */
int lbpf_ringbuf_hold(lbpf_ringbuf *rb, size_t index, size_t max, lbpf_event_fn fn, void *ctx);
/* Releases the records of ring index handed out by lbpf_ringbuf_peek_batch, _hold or _next. */
int lbpf_ringbuf_release(lbpf_ringbuf *rb, size_t index);
/* Waits up to timeout_ms (-1: forever) until some ring holds records, without reading any.
 * Returns 1 when records wait, 0 on timeout or signal, or a negative errno. */
int lbpf_ringbuf_wait(lbpf_ringbuf *rb, int timeout_ms);

/* The consumer state of one ring, for callers that walk the ring in place themselves (the
 * binding's LuaJIT FFI path reads and writes it with plain loads and stores, which is sound on
 * x86 only: there, plain loads are acquires and plain stores releases). Layout is ABI: the FFI
 * declaration in lua/bpf/ringbuf_ffi.lua mirrors it. A walker must follow the protocol of
 * lbpf_ringbuf_next: records start at data + (cons & mask) with an 8-byte header (u32 length
 * with BPF_RINGBUF_BUSY_BIT / BPF_RINGBUF_DISCARD_BIT, u32 page offset) and take
 * round_up(length + 8, 8) bytes; while a record is in use cons already points past it and
 * unpublished is 1; releasing stores cons into *consumer_pos and clears unpublished. */
struct lbpf_ringbuf_cursor {
	unsigned long *consumer_pos;       /* page 0 of the map, shared with the kernel */
	const unsigned long *producer_pos; /* written by the kernel */
	const uint8_t *data;               /* the data area, mapped twice in a row */
	unsigned long mask;                /* data size - 1 */
	unsigned long cons;                /* consumer position reached */
	uint32_t unpublished;              /* cons is ahead of *consumer_pos */
	uint32_t reserved;
};
/* The cursor of ring index; valid until the next lbpf_ringbuf_add or lbpf_ringbuf_free. */
struct lbpf_ringbuf_cursor *lbpf_ringbuf_cursor(lbpf_ringbuf *rb, size_t index);

/* ---- BPF_MAP_TYPE_PERF_EVENT_ARRAY -------------------------------------------------------- */

typedef struct lbpf_perfbuf lbpf_perfbuf;
/* Told how many samples the kernel dropped on cpu because its ring was full. */
typedef void (*lbpf_lost_fn)(void *ctx, int cpu, uint64_t lost);

struct lbpf_perfbuf_opts {
	size_t pages_per_cpu;  /* data pages of each per-CPU ring, a power of two; 0: 8 */
	uint32_t wakeup_events; /* wake the reader every N samples; 0: 1 */
	lbpf_lost_fn lost_fn;  /* optional */
};

/* Opens a BPF output perf event on every online CPU the map has a slot for, maps its ring and
 * stores its fd in map[cpu]. The reader keeps its own fd of the map: the map may be closed
 * first. */
int lbpf_perfbuf_new(const lbpf_map *map, const struct lbpf_perfbuf_opts *opts,
		     lbpf_event_fn fn, void *ctx, lbpf_perfbuf **out);
int lbpf_perfbuf_poll(lbpf_perfbuf *pb, int timeout_ms);
int lbpf_perfbuf_consume(lbpf_perfbuf *pb);
int lbpf_perfbuf_epoll_fd(const lbpf_perfbuf *pb);
/* Samples the kernel reported lost (PERF_RECORD_LOST), over every CPU, since creation. */
uint64_t lbpf_perfbuf_lost(const lbpf_perfbuf *pb);
size_t lbpf_perfbuf_cpu_count(const lbpf_perfbuf *pb);
/* Removes the fds from the map, unmaps, closes. NULL is fine. */
void lbpf_perfbuf_free(lbpf_perfbuf *pb);

/* ---- BPF_MAP_TYPE_USER_RINGBUF (user space produces, programs drain) ---------------------- */

typedef struct lbpf_user_ringbuf lbpf_user_ringbuf;

int lbpf_user_ringbuf_new(const lbpf_map *map, lbpf_user_ringbuf **out);
/* Reserves size bytes. Returns 0 and *sample, or -ENOSPC when the ring is full (the kernel has
 * not drained enough yet), -E2BIG when size can never fit. Reserved samples must be submitted
 * or discarded in order of reservation for the kernel to see the later ones. */
int lbpf_user_ringbuf_reserve(lbpf_user_ringbuf *urb, uint32_t size, void **sample);
void lbpf_user_ringbuf_submit(lbpf_user_ringbuf *urb, void *sample);
void lbpf_user_ringbuf_discard(lbpf_user_ringbuf *urb, void *sample);
/* reserve + copy + submit. */
int lbpf_user_ringbuf_write(lbpf_user_ringbuf *urb, const void *data, uint32_t size);
/* Waits up to timeout_ms until size bytes can be reserved. 0 when they can, -ETIME if not. */
int lbpf_user_ringbuf_wait(lbpf_user_ringbuf *urb, uint32_t size, int timeout_ms);
/* Free bytes (headers included) left for new samples. */
uint64_t lbpf_user_ringbuf_free_space(const lbpf_user_ringbuf *urb);
int lbpf_user_ringbuf_epoll_fd(const lbpf_user_ringbuf *urb);
void lbpf_user_ringbuf_free(lbpf_user_ringbuf *urb);

/* ---- trace_pipe (bpf_printk output) ------------------------------------------------------- */

typedef struct lbpf_trace_pipe lbpf_trace_pipe;
/* Receives one line without its newline. Non-zero: stop. */
typedef int (*lbpf_line_fn)(void *ctx, const char *line, size_t len);

/* Opens /sys/kernel/tracing/trace_pipe (or the debugfs one). tracefs must be mounted. */
int lbpf_trace_pipe_open(lbpf_trace_pipe **out);
int lbpf_trace_pipe_fd(const lbpf_trace_pipe *tp);
/* Waits up to timeout_ms for output, then hands every complete line read to fn. Returns lines
 * handled or a negative errno. */
int lbpf_trace_pipe_poll(lbpf_trace_pipe *tp, int timeout_ms, lbpf_line_fn fn, void *ctx);
void lbpf_trace_pipe_free(lbpf_trace_pipe *tp);

#endif
