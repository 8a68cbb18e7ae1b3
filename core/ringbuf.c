/* BPF_MAP_TYPE_RINGBUF reader: the consumer side of the kernel's mmap ABI.
 *
 * Layout of the map's mmap: page 0 holds consumer_pos (we write it), page 1 producer_pos
 * (kernel writes), then the data area, which the kernel maps twice in a row so that a record
 * crossing the end is contiguous for us. Each record starts with an 8-byte header (u32 len
 * with BUSY/DISCARD bits, u32 page offset) and occupies round_up(len + 8, 8) bytes.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "luabpf.h"

/* The positions live in a struct lbpf_ringbuf_cursor (luabpf_events.h) so that a caller may walk
 * the ring itself with the same state (the LuaJIT FFI path of the binding). Its cons is the
 * consumer position reached by our callbacks, kept before being published so that a callback
 * escaping by longjmp loses no progress; unpublished says cons is ahead of the published
 * position (a drain is running, was left by longjmp, or lbpf_ringbuf_next handed out a record
 * that is still in use). Otherwise each drain starts from the published position, which another
 * consumer of the same map may have moved. */
struct ring {
	struct lbpf_ringbuf_cursor cur;
	lbpf_event_fn fn;
	void *ctx;
	size_t data_size;
};

struct lbpf_ringbuf {
	int epoll_fd;
	struct ring *rings;
	size_t count;
	struct epoll_event *events; /* count entries, for epoll_wait */
};

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static void ring_unmap(struct ring *r)
{
	size_t page = page_size();

	if (r->cur.consumer_pos)
		munmap(r->cur.consumer_pos, page);
	if (r->cur.producer_pos)
		munmap((void *)r->cur.producer_pos, page + 2 * r->data_size);
	r->cur.consumer_pos = NULL;
	r->cur.producer_pos = NULL;
}

static int check_ringbuf_map(const lbpf_map *map)
{
	if (!map)
		return lbpf_err(EINVAL, "ring buffer reader: no map given");
	if (lbpf_map_type(map) != BPF_MAP_TYPE_RINGBUF)
		return lbpf_err(EINVAL, "map '%s' is a %s map, not a ring buffer", lbpf_map_name(map),
				lbpf_map_type_name(lbpf_map_type(map)));
	if (lbpf_map_fd(map) < 0)
		return lbpf_err(EBADF, "ring buffer '%s' is not loaded (load its object first)",
				lbpf_map_name(map));
	return 0;
}

static int ring_map(struct ring *r, const lbpf_map *map)
{
	size_t page = page_size();
	int fd = lbpf_map_fd(map);
	void *p;

	r->data_size = lbpf_map_max_entries(map);
	r->cur.mask = r->data_size - 1;
	/* The consumer page is the only one we may write. */
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return lbpf_err(errno, "ring buffer '%s': mmap of the consumer page: %s",
				lbpf_map_name(map), strerror(errno));
	r->cur.consumer_pos = p;
	/* Producer page plus the data area twice (the kernel maps it back to back). */
	p = mmap(NULL, page + 2 * r->data_size, PROT_READ, MAP_SHARED, fd, (off_t)page);
	if (p == MAP_FAILED) {
		int err = errno;

		ring_unmap(r);
		return lbpf_err(err, "ring buffer '%s': mmap of the producer page and data: %s",
				lbpf_map_name(map), strerror(err));
	}
	r->cur.producer_pos = p;
	r->cur.data = (const uint8_t *)p + page;
	r->cur.cons = __atomic_load_n(r->cur.consumer_pos, __ATOMIC_ACQUIRE);
	return 0;
}

int lbpf_ringbuf_add(lbpf_ringbuf *rb, const lbpf_map *map, lbpf_event_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ring *rings;
	struct epoll_event *events;
	struct ring *r;
	int err;

	if (!rb || !fn)
		return lbpf_err(EINVAL, "ring buffer reader: no reader or no callback given");
	err = check_ringbuf_map(map);
	if (err)
		return err;
	rings = realloc(rb->rings, (rb->count + 1) * sizeof(*rings));
	if (!rings)
		return lbpf_err(ENOMEM, "ring buffer reader: out of memory");
	rb->rings = rings;
	events = realloc(rb->events, (rb->count + 1) * sizeof(*events));
	if (!events)
		return lbpf_err(ENOMEM, "ring buffer reader: out of memory");
	rb->events = events;
	r = &rb->rings[rb->count];
	memset(r, 0, sizeof(*r));
	r->fn = fn;
	r->ctx = ctx;
	err = ring_map(r, map);
	if (err)
		return err;
	ev.data.u32 = (uint32_t)rb->count;
	if (epoll_ctl(rb->epoll_fd, EPOLL_CTL_ADD, lbpf_map_fd(map), &ev) < 0) {
		err = errno;
		ring_unmap(r);
		return lbpf_err(err, "ring buffer '%s': adding it to epoll: %s", lbpf_map_name(map),
				strerror(err));
	}
	return (int)rb->count++;
}

int lbpf_ringbuf_new(const lbpf_map *map, lbpf_event_fn fn, void *ctx, lbpf_ringbuf **out)
{
	lbpf_ringbuf *rb;
	int err;

	*out = NULL;
	err = check_ringbuf_map(map);
	if (err)
		return err;
	rb = calloc(1, sizeof(*rb));
	if (!rb)
		return lbpf_err(ENOMEM, "ring buffer reader: out of memory");
	rb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (rb->epoll_fd < 0) {
		err = lbpf_err(errno, "ring buffer reader: epoll_create1: %s", strerror(errno));
		free(rb);
		return err;
	}
	err = lbpf_ringbuf_add(rb, map, fn, ctx);
	if (err < 0) {
		lbpf_ringbuf_free(rb);
		return err;
	}
	*out = rb;
	return 0;
}

void lbpf_ringbuf_free(lbpf_ringbuf *rb)
{
	if (!rb)
		return;
	for (size_t i = 0; i < rb->count; i++)
		ring_unmap(&rb->rings[i]);
	if (rb->epoll_fd >= 0)
		close(rb->epoll_fd);
	free(rb->rings);
	free(rb->events);
	free(rb);
}

static inline void publish_consumer(struct ring *r)
{
	__atomic_store_n(r->cur.consumer_pos, r->cur.cons, __ATOMIC_RELEASE);
	r->cur.unpublished = false;
}

/* Drains one ring. Positions are read once per pass and the consumer position published once
 * per pass (or every quarter ring, so a slow callback does not make the kernel drop records). */
static int ring_consume(struct ring *r, int64_t *handled)
{
	unsigned long prod, published, flush_every = r->data_size / 4;
	bool progress;

	if (r->cur.unpublished)
		publish_consumer(r); /* a previous pass left by longjmp, or we are nested in one */
	else
		r->cur.cons = __atomic_load_n(r->cur.consumer_pos, __ATOMIC_RELAXED);
	published = r->cur.cons;
	do {
		progress = false;
		prod = __atomic_load_n(r->cur.producer_pos, __ATOMIC_ACQUIRE);
		/* r->cur.cons, not a local: a nested consume from a callback advances it too. */
		while (r->cur.cons < prod) {
			unsigned long cons = r->cur.cons;
			const uint32_t *hdr = (const uint32_t *)(r->cur.data + (cons & r->cur.mask));
			uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
			uint32_t size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

			if (len & BPF_RINGBUF_BUSY_BIT)
				break; /* reserved, not yet committed: records after it wait too */
			r->cur.cons = cons + ((size + BPF_RINGBUF_HDR_SZ + 7) & ~7UL);
			r->cur.unpublished = true;
			progress = true;
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				int ret;

				(*handled)++;
				ret = r->fn(r->ctx, hdr + 2, size);
				if (ret) {
					publish_consumer(r);
					return ret < 0 ? ret : 1;
				}
			}
			if (r->cur.cons - published > flush_every) {
				publish_consumer(r);
				published = r->cur.cons;
			}
		}
		publish_consumer(r);
		published = r->cur.cons;
	} while (progress);
	return 0;
}

static int clamp_count(int64_t n) { return n > INT_MAX ? INT_MAX : (int)n; }

int lbpf_ringbuf_consume_ring(lbpf_ringbuf *rb, size_t index)
{
	int64_t handled = 0;
	int ret;

	if (!rb || index >= rb->count)
		return lbpf_err(EINVAL, "ring buffer reader: no ring %zu", index);
	ret = ring_consume(&rb->rings[index], &handled);
	return ret < 0 ? ret : clamp_count(handled);
}

int lbpf_ringbuf_consume(lbpf_ringbuf *rb)
{
	int64_t handled = 0;

	if (!rb)
		return lbpf_err(EINVAL, "ring buffer reader: NULL reader");
	for (size_t i = 0; i < rb->count; i++) {
		int ret = ring_consume(&rb->rings[i], &handled);

		if (ret < 0)
			return ret;
		if (ret > 0)
			break;
	}
	return clamp_count(handled);
}

/* Rings with data within timeout_ms: the count, 0 (none, or a signal came: let the caller look
 * at its signals) or a negative errno. */
static int wait_ready(lbpf_ringbuf *rb, int timeout_ms)
{
	int n;

	if (!rb)
		return lbpf_err(EINVAL, "ring buffer reader: NULL reader");
	n = epoll_wait(rb->epoll_fd, rb->events, (int)rb->count, timeout_ms);
	if (n < 0 && errno == EINTR)
		return 0;
	if (n < 0)
		return lbpf_err(errno, "ring buffer reader: epoll_wait: %s", strerror(errno));
	return n;
}

int lbpf_ringbuf_poll(lbpf_ringbuf *rb, int timeout_ms)
{
	int64_t handled = 0;
	int n;

	n = wait_ready(rb, timeout_ms);
	if (n <= 0)
		return n;
	for (int i = 0; i < n; i++) {
		int ret = ring_consume(&rb->rings[rb->events[i].data.u32], &handled);

		if (ret < 0)
			return ret;
		if (ret > 0)
			break;
	}
	return clamp_count(handled);
}

int lbpf_ringbuf_epoll_fd(const lbpf_ringbuf *rb) { return rb ? rb->epoll_fd : -EINVAL; }

size_t lbpf_ringbuf_ring_count(const lbpf_ringbuf *rb) { return rb ? rb->count : 0; }

/* Same walk as ring_consume, one record per call, with the record handed out kept unpublished
 * until the next call. */
int lbpf_ringbuf_next(lbpf_ringbuf *rb, size_t index, const void **data, size_t *size)
{
	struct ring *r;
	unsigned long prod;

	if (!rb || index >= rb->count || !data || !size)
		return lbpf_err(EINVAL, "ring buffer reader: no ring %zu", index);
	r = &rb->rings[index];
	if (r->cur.unpublished)
		publish_consumer(r); /* releases the record of the previous call */
	else
		r->cur.cons = __atomic_load_n(r->cur.consumer_pos, __ATOMIC_RELAXED);
	prod = __atomic_load_n(r->cur.producer_pos, __ATOMIC_ACQUIRE);
	while (r->cur.cons < prod) {
		const uint32_t *hdr = (const uint32_t *)(r->cur.data + (r->cur.cons & r->cur.mask));
		uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		uint32_t rec_size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break;
		r->cur.cons += (rec_size + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			r->cur.unpublished = true;
			*data = hdr + 2;
			*size = rec_size;
			return 1;
		}
		publish_consumer(r); /* a discarded record: nothing to hand out, release it now */
	}
	*data = NULL;
	*size = 0;
	return 0;
}

/* Same walk again, many records per call: cons moves past each record handed out and stays
 * unpublished until lbpf_ringbuf_release, so every record of the run stays readable. fn sees
 * each record as the walk reaches it: its work overlaps the loads of the next headers. */
int lbpf_ringbuf_hold(lbpf_ringbuf *rb, size_t index, size_t max, lbpf_event_fn fn, void *ctx)
{
	struct ring *r;
	unsigned long prod, start, hold_max;
	size_t n = 0;

	if (!rb || index >= rb->count || !fn)
		return lbpf_err(EINVAL, "ring buffer reader: no ring %zu", index);
	if (max > INT_MAX)
		max = INT_MAX;
	r = &rb->rings[index];
	if (r->cur.unpublished)
		publish_consumer(r); /* releases what the previous hold or next handed out */
	else
		r->cur.cons = __atomic_load_n(r->cur.consumer_pos, __ATOMIC_RELAXED);
	start = r->cur.cons;
	hold_max = r->data_size / 4;
	prod = __atomic_load_n(r->cur.producer_pos, __ATOMIC_ACQUIRE);
	while (n < max && r->cur.cons < prod && (n == 0 || r->cur.cons - start < hold_max)) {
		const uint32_t *hdr = (const uint32_t *)(r->cur.data + (r->cur.cons & r->cur.mask));
		uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		uint32_t rec_size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* reserved, not yet committed: records after it wait too */
		r->cur.cons += (rec_size + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
		r->cur.unpublished = true;
		if (len & BPF_RINGBUF_DISCARD_BIT)
			continue;
		if (fn(ctx, hdr + 2, rec_size))
			return (int)n + 1;
		n++;
	}
	return (int)n;
}

struct run_collector {
	const void **data;
	size_t *sizes;
	size_t n;
};

static int collect_record(void *ctx, const void *data, size_t size)
{
	struct run_collector *c = ctx;

	c->data[c->n] = data;
	c->sizes[c->n++] = size;
	return 0;
}

int lbpf_ringbuf_peek_batch(lbpf_ringbuf *rb, size_t index, const void **data, size_t *sizes,
			    size_t max)
{
	struct run_collector c = { data, sizes, 0 };

	if (!data || !sizes)
		return lbpf_err(EINVAL, "ring buffer reader: no arrays for the records");
	return lbpf_ringbuf_hold(rb, index, max, collect_record, &c);
}

int lbpf_ringbuf_release(lbpf_ringbuf *rb, size_t index)
{
	struct ring *r;

	if (!rb || index >= rb->count)
		return lbpf_err(EINVAL, "ring buffer reader: no ring %zu", index);
	r = &rb->rings[index];
	if (r->cur.unpublished)
		publish_consumer(r);
	return 0;
}

int lbpf_ringbuf_wait(lbpf_ringbuf *rb, int timeout_ms)
{
	int n = wait_ready(rb, timeout_ms);

	return n < 0 ? n : n > 0;
}

struct lbpf_ringbuf_cursor *lbpf_ringbuf_cursor(lbpf_ringbuf *rb, size_t index)
{
	if (!rb || index >= rb->count) {
		lbpf_err(EINVAL, "ring buffer reader: no ring %zu", index);
		return NULL;
	}
	return &rb->rings[index].cur;
}

uint64_t lbpf_ringbuf_avail(const lbpf_ringbuf *rb, size_t index)
{
	const struct ring *r;

	if (!rb || index >= rb->count)
		return 0;
	r = &rb->rings[index];
	return __atomic_load_n(r->cur.producer_pos, __ATOMIC_ACQUIRE) - r->cur.cons;
}
