/* BPF_MAP_TYPE_PERF_EVENT_ARRAY reader: one BPF-output perf event per CPU, each with its own
 * mmapped ring, all on one epoll fd. Programs write with bpf_perf_event_output(), which lands in
 * the ring of the CPU they run on as a PERF_RECORD_SAMPLE carrying the raw bytes; when a ring is
 * full the kernel counts drops and later emits PERF_RECORD_LOST.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "luabpf.h"
#include "sys.h"

struct cpu_ring {
	int cpu;
	int fd;
	struct perf_event_mmap_page *page; /* control page; the data pages follow */
	const uint8_t *data;
	uint64_t data_size;
	uint64_t tail; /* progress of our callbacks; published to the kernel once per pass */
};

struct lbpf_perfbuf {
	int map_fd; /* our own dup: the map may be closed before the reader */
	char name[BPF_OBJ_NAME_LEN];
	lbpf_event_fn fn;
	void *ctx;
	lbpf_lost_fn lost_fn;
	int epoll_fd;
	size_t mmap_size;
	struct cpu_ring *rings;
	size_t count;
	struct epoll_event *events;
	uint8_t *scratch; /* a record that wraps around the end of a ring is copied here */
	size_t scratch_size;
	uint64_t lost;
	uint32_t max_entries;
};

/* The two records we care about, as the kernel lays them out for sample_type RAW. */
struct sample_record {
	struct perf_event_header header;
	uint32_t size;
	uint8_t data[];
};
struct lost_record {
	struct perf_event_header header;
	uint64_t id;
	uint64_t lost;
	uint32_t max_entries;
};

/* Parses a CPU list such as "0-3,6" (from /sys/devices/system/cpu/online) into mask[cpu]. */
static int read_online_cpus(bool *mask, int max)
{
	char buf[4096], *p = buf;
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	size_t n;

	if (!f)
		return lbpf_err(errno, "perf buffer: cannot read /sys/devices/system/cpu/online: %s",
				strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (*p && *p != '\n') {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p)
			return lbpf_err(EINVAL, "perf buffer: cannot parse online CPU list '%s'", buf);
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (long c = lo; c <= hi && c < max; c++)
			mask[c] = true;
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int check_perf_map(const lbpf_map *map)
{
	if (!map)
		return lbpf_err(EINVAL, "perf buffer reader: no map given");
	if (lbpf_map_type(map) != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return lbpf_err(EINVAL, "map '%s' is a %s map, not a perf event array",
				lbpf_map_name(map), lbpf_map_type_name(lbpf_map_type(map)));
	if (lbpf_map_fd(map) < 0)
		return lbpf_err(EBADF, "perf event array '%s' is not loaded (load its object first)",
				lbpf_map_name(map));
	return 0;
}

/* Update (value non-NULL) or delete map[key] through our own fd. */
static int map_elem(lbpf_perfbuf *pb, enum bpf_cmd cmd, uint32_t key, const uint32_t *value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)pb->map_fd;
	attr.key = lbpf_ptr(&key);
	attr.value = lbpf_ptr(value);
	attr.flags = BPF_ANY;
	return lbpf_sys_bpf(cmd, &attr, sizeof(attr));
}

static int open_cpu_ring(lbpf_perfbuf *pb, struct cpu_ring *r, int cpu, uint32_t wakeup)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
		.wakeup_events = wakeup,
	};
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t key = (uint32_t)cpu, value;
	void *p;
	int err;

	r->cpu = cpu;
	r->fd = lbpf_sys_perf_event_open(&attr, -1, cpu, -1, 0);
	if (r->fd < 0)
		return lbpf_err(r->fd, "perf buffer '%s': perf_event_open on CPU %d: %s",
				pb->name, cpu, strerror(-r->fd));
	p = mmap(NULL, pb->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (p == MAP_FAILED)
		return lbpf_err(errno, "perf buffer '%s': mmap of CPU %d's ring (%zu bytes): %s",
				pb->name, cpu, pb->mmap_size, strerror(errno));
	r->page = p;
	r->data = (const uint8_t *)p + (r->page->data_offset ? r->page->data_offset : page);
	r->data_size = r->page->data_size ? r->page->data_size : pb->mmap_size - page;
	r->tail = r->page->data_tail;
	value = (uint32_t)r->fd;
	err = map_elem(pb, BPF_MAP_UPDATE_ELEM, key, &value);
	if (err)
		return lbpf_err(err, "perf buffer '%s': storing CPU %d's event fd in the map: %s",
				pb->name, cpu, strerror(-err));
	if (ioctl(r->fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
		return lbpf_err(errno, "perf buffer '%s': enabling CPU %d's event: %s",
				pb->name, cpu, strerror(errno));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)pb->count };
	if (epoll_ctl(pb->epoll_fd, EPOLL_CTL_ADD, r->fd, &ev) < 0)
		return lbpf_err(errno, "perf buffer '%s': epoll_ctl: %s", pb->name,
				strerror(errno));
	return 0;
}

static void close_cpu_ring(lbpf_perfbuf *pb, struct cpu_ring *r)
{
	uint32_t key = (uint32_t)r->cpu;

	if (r->fd < 0)
		return;
	/* Stop programs from writing into an event that is going away. */
	map_elem(pb, BPF_MAP_DELETE_ELEM, key, NULL);
	if (r->page)
		munmap(r->page, pb->mmap_size);
	close(r->fd);
	r->fd = -1;
}

void lbpf_perfbuf_free(lbpf_perfbuf *pb)
{
	if (!pb)
		return;
	for (size_t i = 0; i < pb->count; i++)
		close_cpu_ring(pb, &pb->rings[i]);
	if (pb->epoll_fd >= 0)
		close(pb->epoll_fd);
	if (pb->map_fd >= 0)
		close(pb->map_fd);
	free(pb->rings);
	free(pb->events);
	free(pb->scratch);
	free(pb);
}

static int open_all_cpus(lbpf_perfbuf *pb, uint32_t wakeup)
{
	int ncpu = lbpf_num_possible_cpus();
	uint32_t slots = pb->max_entries;
	bool *online;
	int err;

	if (ncpu <= 0)
		return lbpf_err(ncpu < 0 ? ncpu : EINVAL, "perf buffer: cannot count possible CPUs");
	if (slots && slots < (uint32_t)ncpu)
		ncpu = (int)slots;
	online = calloc((size_t)ncpu, sizeof(*online));
	pb->rings = calloc((size_t)ncpu, sizeof(*pb->rings));
	pb->events = calloc((size_t)ncpu, sizeof(*pb->events));
	if (!online || !pb->rings || !pb->events) {
		free(online);
		return lbpf_err(ENOMEM, "perf buffer: out of memory");
	}
	err = read_online_cpus(online, ncpu);
	for (int cpu = 0; !err && cpu < ncpu; cpu++) {
		if (!online[cpu])
			continue;
		err = open_cpu_ring(pb, &pb->rings[pb->count], cpu, wakeup);
		pb->count++; /* counted even when half open, so free() cleans it */
	}
	free(online);
	return err;
}

int lbpf_perfbuf_new(const lbpf_map *map, const struct lbpf_perfbuf_opts *opts,
		     lbpf_event_fn fn, void *ctx, lbpf_perfbuf **out)
{
	size_t pages = opts && opts->pages_per_cpu ? opts->pages_per_cpu : 8;
	lbpf_perfbuf *pb;
	int err;

	*out = NULL;
	err = check_perf_map(map);
	if (err)
		return err;
	if (!fn)
		return lbpf_err(EINVAL, "perf buffer '%s': no callback given", lbpf_map_name(map));
	if (pages & (pages - 1))
		return lbpf_err(EINVAL, "perf buffer '%s': pages per CPU must be a power of two, not %zu",
				lbpf_map_name(map), pages);
	pb = calloc(1, sizeof(*pb));
	if (!pb)
		return lbpf_err(ENOMEM, "perf buffer: out of memory");
	snprintf(pb->name, sizeof(pb->name), "%s", lbpf_map_name(map));
	pb->max_entries = lbpf_map_max_entries(map);
	pb->map_fd = -1;
	pb->epoll_fd = -1;
	pb->fn = fn;
	pb->ctx = ctx;
	pb->lost_fn = opts ? opts->lost_fn : NULL;
	pb->mmap_size = (pages + 1) * (size_t)sysconf(_SC_PAGESIZE);
	pb->map_fd = fcntl(lbpf_map_fd(map), F_DUPFD_CLOEXEC, 0);
	pb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (pb->map_fd < 0 || pb->epoll_fd < 0) {
		err = lbpf_err(errno, "perf buffer: dup/epoll_create1: %s", strerror(errno));
		lbpf_perfbuf_free(pb);
		return err;
	}
	err = open_all_cpus(pb, opts && opts->wakeup_events ? opts->wakeup_events : 1);
	if (err) {
		lbpf_perfbuf_free(pb);
		return err;
	}
	*out = pb;
	return 0;
}

/* Returns the record at offset off, copied to scratch if it wraps around the ring's end. */
static const struct perf_event_header *record_at(lbpf_perfbuf *pb, struct cpu_ring *r,
						 uint64_t off, uint16_t size)
{
	const struct perf_event_header *eh = (const void *)(r->data + off);
	uint64_t first = r->data_size - off;

	if (size <= first)
		return eh;
	if (pb->scratch_size < size) {
		uint8_t *p = realloc(pb->scratch, size);

		if (!p)
			return NULL;
		pb->scratch = p;
		pb->scratch_size = size;
	}
	memcpy(pb->scratch, eh, first);
	memcpy(pb->scratch + first, r->data, size - first);
	return (const void *)pb->scratch;
}

static int handle_record(lbpf_perfbuf *pb, struct cpu_ring *r, const struct perf_event_header *eh,
			 int64_t *handled)
{
	if (eh->type == PERF_RECORD_SAMPLE) {
		const struct sample_record *s = (const void *)eh;
		uint32_t size = s->size;

		if (size + sizeof(*s) > eh->size) /* never from a sane kernel; do not overread */
			size = eh->size - (uint32_t)sizeof(*s);
		(*handled)++;
		return pb->fn(pb->ctx, s->data, size);
	}
	if (eh->type == PERF_RECORD_LOST) {
		const struct lost_record *l = (const void *)eh;

		pb->lost += l->lost;
		if (pb->lost_fn)
			pb->lost_fn(pb->ctx, r->cpu, l->lost);
	}
	return 0;
}

static int cpu_ring_consume(lbpf_perfbuf *pb, struct cpu_ring *r, int64_t *handled)
{
	uint64_t head;
	int ret = 0;

	if (r->page->data_tail != r->tail) /* a previous pass left by longjmp */
		__atomic_store_n(&r->page->data_tail, r->tail, __ATOMIC_RELEASE);
	head = __atomic_load_n(&r->page->data_head, __ATOMIC_ACQUIRE);
	while (r->tail < head) {
		const struct perf_event_header *eh = (const void *)(r->data + (r->tail & (r->data_size - 1)));
		uint16_t size = eh->size;

		if (size < sizeof(*eh))
			return lbpf_err(EPROTO, "perf buffer '%s': corrupt record on CPU %d",
					pb->name, r->cpu);
		eh = record_at(pb, r, r->tail & (r->data_size - 1), size);
		if (!eh)
			return lbpf_err(ENOMEM, "perf buffer: out of memory");
		r->tail += size;
		ret = handle_record(pb, r, eh, handled);
		if (ret)
			break;
	}
	__atomic_store_n(&r->page->data_tail, r->tail, __ATOMIC_RELEASE);
	return ret < 0 ? ret : ret > 0;
}

static int clamp_count(int64_t n) { return n > INT_MAX ? INT_MAX : (int)n; }

int lbpf_perfbuf_consume(lbpf_perfbuf *pb)
{
	int64_t handled = 0;

	if (!pb)
		return lbpf_err(EINVAL, "perf buffer reader: NULL reader");
	for (size_t i = 0; i < pb->count; i++) {
		int ret = cpu_ring_consume(pb, &pb->rings[i], &handled);

		if (ret < 0)
			return ret;
		if (ret > 0)
			break;
	}
	return clamp_count(handled);
}

int lbpf_perfbuf_poll(lbpf_perfbuf *pb, int timeout_ms)
{
	int64_t handled = 0;
	int n;

	if (!pb)
		return lbpf_err(EINVAL, "perf buffer reader: NULL reader");
	n = epoll_wait(pb->epoll_fd, pb->events, (int)pb->count, timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return lbpf_err(errno, "perf buffer reader: epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		int ret = cpu_ring_consume(pb, &pb->rings[pb->events[i].data.u32], &handled);

		if (ret < 0)
			return ret;
		if (ret > 0)
			break;
	}
	return clamp_count(handled);
}

int lbpf_perfbuf_epoll_fd(const lbpf_perfbuf *pb) { return pb ? pb->epoll_fd : -EINVAL; }
uint64_t lbpf_perfbuf_lost(const lbpf_perfbuf *pb) { return pb ? pb->lost : 0; }
size_t lbpf_perfbuf_cpu_count(const lbpf_perfbuf *pb) { return pb ? pb->count : 0; }
