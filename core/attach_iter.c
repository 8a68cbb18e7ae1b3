/* BPF iterators: an iter link, then BPF_ITER_CREATE gives a file that runs the program as
 * it is read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

int lbpf_program_attach_iter(lbpf_program *prog, const struct lbpf_iter_opts *opts,
			     lbpf_link **out)
{
	union bpf_iter_link_info info;
	struct { uint64_t info; uint32_t len; } extra = { 0, 0 };
	const char *sec = lbpf_program_section(prog);
	int prog_fd = attach_prog_fd(prog), fd;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	memset(&info, 0, sizeof(info));
	if (opts && opts->map_fd > 0) {
		info.map.map_fd = (uint32_t)opts->map_fd;
	} else if (opts && opts->cgroup_fd > 0) {
		info.cgroup.cgroup_fd = (uint32_t)opts->cgroup_fd;
		info.cgroup.order = opts->cgroup_order;
	} else if (opts && (opts->tid || opts->pid)) {
		info.task.tid = opts->tid;
		info.task.pid = opts->pid;
	}
	if (opts && (opts->map_fd > 0 || opts->cgroup_fd > 0 || opts->tid || opts->pid)) {
		extra.info = lbpf_ptr(&info);
		extra.len = sizeof(info);
	}
	fd = attach_link_create(prog_fd, 0, BPF_TRACE_ITER, 0, &extra, sizeof(extra));
	if (fd < 0)
		return lbpf_err(fd, "program '%s': creating the iterator link for '%s': %s",
				lbpf_program_name(prog), sec ? sec : "?",
				fd == -EINVAL ? "not an iterator program, or the iterator needs a "
						"map/cgroup it was not given" : strerror(-fd));
	*out = attach_bpf_link_new(fd, "iterator %s program %s", sec ? sec : "?",
				   lbpf_program_name(prog));
	return *out ? 0 : -ENOMEM;
}

int lbpf_link_iter_create(lbpf_link *link)
{
	union bpf_attr attr;
	int fd;

	if (!link->attached || link->fd < 0)
		return lbpf_err(EBADF, "link '%s' is detached", lbpf_link_description(link));
	memset(&attr, 0, sizeof(attr));
	attr.iter_create.link_fd = link->fd;
	fd = lbpf_sys_bpf(BPF_ITER_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return lbpf_err(fd, "creating an iterator from link '%s': %s",
				lbpf_link_description(link), strerror(-fd));
	return fd;
}

/* Reads fd to the end into a growing buffer. */
static int read_all(int fd, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *data = malloc(cap);

	if (!data)
		return -ENOMEM;
	for (;;) {
		ssize_t got;

		if (cap - n < 4096) {
			char *bigger = realloc(data, cap * 2);

			if (!bigger) {
				free(data);
				return -ENOMEM;
			}
			data = bigger;
			cap *= 2;
		}
		got = read(fd, data + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int err = -errno;

			free(data);
			return err;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	data[n] = '\0';
	*buf = data;
	*len = n;
	return 0;
}

int lbpf_program_iterate(lbpf_program *prog, const struct lbpf_iter_opts *opts, char **buf,
			 size_t *len)
{
	lbpf_link *link;
	int ret, fd;

	*buf = NULL;
	*len = 0;
	ret = lbpf_program_attach_iter(prog, opts, &link);
	if (ret < 0)
		return ret;
	fd = lbpf_link_iter_create(link);
	if (fd < 0) {
		lbpf_link_free(link);
		return fd;
	}
	ret = read_all(fd, buf, len);
	close(fd);
	lbpf_link_free(link);
	if (ret < 0)
		return lbpf_err(ret, "program '%s': reading the iterator: %s",
				lbpf_program_name(prog), strerror(-ret));
	return 0;
}
