/* BPF_MAP_TYPE_USER_RINGBUF writer: the producer side of the kernel ABI, used by programs that
 * drain with bpf_user_ringbuf_drain().
 *
 * Same layout as the kernel-to-user ring buffer with the roles swapped: page 0 holds
 * consumer_pos (the kernel advances it, read only for us), page 1 producer_pos (ours), then the
 * data area mapped twice in a row. A sample is reserved by writing its header with the BUSY bit
 * and advancing producer_pos; submitting clears BUSY (or sets DISCARD) with release semantics.
 * The kernel stops draining at the first BUSY header, so samples become visible in order.
 * Single producer: one thread writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "luabpf.h"

struct lbpf_user_ringbuf {
	char name[BPF_OBJ_NAME_LEN];
	int epoll_fd;
	const unsigned long *consumer_pos;
	unsigned long *producer_pos;
	uint8_t *data;
	uint64_t data_size;
	unsigned long prod; /* our copy of producer_pos */
};

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

void lbpf_user_ringbuf_free(lbpf_user_ringbuf *urb)
{
	size_t page = page_size();

	if (!urb)
		return;
	if (urb->consumer_pos)
		munmap((void *)urb->consumer_pos, page);
	if (urb->producer_pos)
		munmap(urb->producer_pos, page + 2 * urb->data_size);
	if (urb->epoll_fd >= 0)
		close(urb->epoll_fd);
	free(urb);
}

static int check_user_ringbuf_map(const lbpf_map *map)
{
	if (!map)
		return lbpf_err(EINVAL, "user ring buffer writer: no map given");
	if (lbpf_map_type(map) != BPF_MAP_TYPE_USER_RINGBUF)
		return lbpf_err(EINVAL, "map '%s' is a %s map, not a user ring buffer",
				lbpf_map_name(map), lbpf_map_type_name(lbpf_map_type(map)));
	if (lbpf_map_fd(map) < 0)
		return lbpf_err(EBADF, "user ring buffer '%s' is not loaded (load its object first)",
				lbpf_map_name(map));
	return 0;
}

static int map_user_ringbuf(lbpf_user_ringbuf *urb, int fd)
{
	size_t page = page_size();
	void *p;

	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return lbpf_err(errno, "user ring buffer '%s': mmap of the consumer page: %s",
				urb->name, strerror(errno));
	urb->consumer_pos = p;
	p = mmap(NULL, page + 2 * urb->data_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)page);
	if (p == MAP_FAILED)
		return lbpf_err(errno, "user ring buffer '%s': mmap of the producer page and data: %s",
				urb->name, strerror(errno));
	urb->producer_pos = p;
	urb->data = (uint8_t *)p + page;
	urb->prod = __atomic_load_n(urb->producer_pos, __ATOMIC_ACQUIRE);
	return 0;
}

int lbpf_user_ringbuf_new(const lbpf_map *map, lbpf_user_ringbuf **out)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	lbpf_user_ringbuf *urb;
	int err;

	*out = NULL;
	err = check_user_ringbuf_map(map);
	if (err)
		return err;
	urb = calloc(1, sizeof(*urb));
	if (!urb)
		return lbpf_err(ENOMEM, "user ring buffer writer: out of memory");
	snprintf(urb->name, sizeof(urb->name), "%s", lbpf_map_name(map));
	urb->data_size = lbpf_map_max_entries(map);
	urb->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (urb->epoll_fd < 0) {
		err = lbpf_err(errno, "user ring buffer writer: epoll_create1: %s", strerror(errno));
		goto fail;
	}
	if (epoll_ctl(urb->epoll_fd, EPOLL_CTL_ADD, lbpf_map_fd(map), &ev) < 0) {
		err = lbpf_err(errno, "user ring buffer '%s': epoll_ctl: %s", urb->name,
			       strerror(errno));
		goto fail;
	}
	err = map_user_ringbuf(urb, lbpf_map_fd(map));
	if (err)
		goto fail;
	*out = urb;
	return 0;
fail:
	lbpf_user_ringbuf_free(urb);
	return err;
}

static uint64_t total_size(uint32_t size)
{
	return ((uint64_t)size + BPF_RINGBUF_HDR_SZ + 7) & ~(uint64_t)7;
}

uint64_t lbpf_user_ringbuf_free_space(const lbpf_user_ringbuf *urb)
{
	unsigned long cons;

	if (!urb)
		return 0;
	cons = __atomic_load_n(urb->consumer_pos, __ATOMIC_ACQUIRE);
	return urb->data_size - (urb->prod - cons);
}

int lbpf_user_ringbuf_reserve(lbpf_user_ringbuf *urb, uint32_t size, void **sample)
{
	uint64_t total = total_size(size);
	uint32_t *hdr;

	*sample = NULL;
	if (!urb)
		return lbpf_err(EINVAL, "user ring buffer writer: NULL writer");
	if (size & (BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT) || total > urb->data_size)
		return lbpf_err(E2BIG, "user ring buffer '%s': a %u-byte sample can never fit in %llu bytes",
				urb->name, size, (unsigned long long)urb->data_size);
	if (total > lbpf_user_ringbuf_free_space(urb))
		return lbpf_err(ENOSPC, "user ring buffer '%s' is full (%llu bytes free, %u needed)",
				urb->name,
				(unsigned long long)lbpf_user_ringbuf_free_space(urb),
				(unsigned)total);
	hdr = (uint32_t *)(urb->data + (urb->prod & (urb->data_size - 1)));
	hdr[0] = size | BPF_RINGBUF_BUSY_BIT;
	hdr[1] = 0;
	urb->prod += total;
	/* The header must be visible before the kernel sees the new producer position. */
	__atomic_store_n(urb->producer_pos, urb->prod, __ATOMIC_RELEASE);
	*sample = hdr + 2;
	return 0;
}

static void commit(void *sample, uint32_t flag)
{
	uint32_t *hdr = (uint32_t *)sample - 2;
	uint32_t len = hdr[0] & ~BPF_RINGBUF_BUSY_BIT;

	__atomic_store_n(hdr, len | flag, __ATOMIC_RELEASE);
}

void lbpf_user_ringbuf_submit(lbpf_user_ringbuf *urb, void *sample)
{
	(void)urb;
	if (sample)
		commit(sample, 0);
}

void lbpf_user_ringbuf_discard(lbpf_user_ringbuf *urb, void *sample)
{
	(void)urb;
	if (sample)
		commit(sample, BPF_RINGBUF_DISCARD_BIT);
}

int lbpf_user_ringbuf_write(lbpf_user_ringbuf *urb, const void *data, uint32_t size)
{
	void *sample;
	int err = lbpf_user_ringbuf_reserve(urb, size, &sample);

	if (err)
		return err;
	memcpy(sample, data, size);
	lbpf_user_ringbuf_submit(urb, sample);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lbpf_user_ringbuf_wait(lbpf_user_ringbuf *urb, uint32_t size, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	uint64_t total = total_size(size);

	if (!urb)
		return lbpf_err(EINVAL, "user ring buffer writer: NULL writer");
	if (total > urb->data_size)
		return lbpf_err(E2BIG, "user ring buffer '%s': a %u-byte sample can never fit",
				urb->name, size);
	for (;;) {
		struct epoll_event ev;
		int64_t left = timeout_ms < 0 ? 1 : deadline - now_ms();

		if (lbpf_user_ringbuf_free_space(urb) >= total)
			return 0;
		if (left <= 0)
			return lbpf_err(ETIME, "user ring buffer '%s': no room for %u bytes within %d ms",
					urb->name, size, timeout_ms);
		/* The kernel reports writable as soon as any byte is free, so check the
		 * room again after each wakeup or short sleep. */
		int n = epoll_wait(urb->epoll_fd, &ev, 1, left > 10 ? 10 : (int)left);

		if (n < 0 && errno != EINTR)
			return lbpf_err(errno, "user ring buffer '%s': epoll_wait: %s", urb->name,
					strerror(errno));
		if (n > 0) /* some room, not enough: give the kernel a moment */
			nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
	}
}

int lbpf_user_ringbuf_epoll_fd(const lbpf_user_ringbuf *urb)
{
	return urb ? urb->epoll_fd : -EINVAL;
}
