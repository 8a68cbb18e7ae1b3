/* Reader of the kernel's trace_pipe, where bpf_printk()/bpf_trace_printk() output lands.
 * Reads are non-blocking; partial lines are kept until their newline arrives. trace_pipe is
 * system-wide and consuming: every reader takes lines away from the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "luabpf.h"

#define TRACE_PIPE_BUF 65536

struct lbpf_trace_pipe {
	int fd;
	char *buf;   /* TRACE_PIPE_BUF bytes; [0, used) holds an incomplete line */
	size_t used;
};

static const char *const trace_pipe_paths[] = {
	"/sys/kernel/tracing/trace_pipe",
	"/sys/kernel/debug/tracing/trace_pipe",
};

int lbpf_trace_pipe_open(lbpf_trace_pipe **out)
{
	lbpf_trace_pipe *tp;
	int fd = -1, err = ENOENT;

	*out = NULL;
	for (size_t i = 0; fd < 0 && i < sizeof(trace_pipe_paths) / sizeof(*trace_pipe_paths); i++) {
		fd = open(trace_pipe_paths[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno != ENOENT)
			err = errno;
	}
	if (fd < 0)
		return lbpf_err(err, "cannot open trace_pipe: %s (is tracefs mounted? "
				"mount -t tracefs tracefs /sys/kernel/tracing)", strerror(err));
	tp = calloc(1, sizeof(*tp));
	if (tp)
		tp->buf = malloc(TRACE_PIPE_BUF);
	if (!tp || !tp->buf) {
		free(tp);
		close(fd);
		return lbpf_err(ENOMEM, "trace_pipe reader: out of memory");
	}
	tp->fd = fd;
	*out = tp;
	return 0;
}

int lbpf_trace_pipe_fd(const lbpf_trace_pipe *tp) { return tp ? tp->fd : -EINVAL; }

void lbpf_trace_pipe_free(lbpf_trace_pipe *tp)
{
	if (!tp)
		return;
	close(tp->fd);
	free(tp->buf);
	free(tp);
}

/* Hands every complete line in the buffer to fn and keeps the incomplete tail. */
static int emit_lines(lbpf_trace_pipe *tp, lbpf_line_fn fn, void *ctx, int *lines)
{
	size_t start = 0;
	int ret = 0;

	while (start < tp->used) {
		char *nl = memchr(tp->buf + start, '\n', tp->used - start);
		size_t len;

		if (!nl)
			break;
		len = (size_t)(nl - (tp->buf + start));
		*nl = '\0';
		(*lines)++;
		ret = fn(ctx, tp->buf + start, len);
		start += len + 1;
		if (ret)
			break;
	}
	memmove(tp->buf, tp->buf + start, tp->used - start);
	tp->used -= start;
	if (tp->used == TRACE_PIPE_BUF) { /* a line longer than the buffer: hand it over as is */
		(*lines)++;
		tp->used = 0;
		ret = fn(ctx, tp->buf, TRACE_PIPE_BUF);
	}
	return ret;
}

int lbpf_trace_pipe_poll(lbpf_trace_pipe *tp, int timeout_ms, lbpf_line_fn fn, void *ctx)
{
	struct pollfd pfd;
	int lines = 0;

	if (!tp || !fn)
		return lbpf_err(EINVAL, "trace_pipe reader: no reader or no callback given");
	pfd.fd = tp->fd;
	pfd.events = POLLIN;
	if (timeout_ms != 0 && poll(&pfd, 1, timeout_ms) < 0) {
		if (errno == EINTR)
			return 0;
		return lbpf_err(errno, "trace_pipe: poll: %s", strerror(errno));
	}
	for (;;) {
		ssize_t n = read(tp->fd, tp->buf + tp->used, TRACE_PIPE_BUF - tp->used);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return lbpf_err(errno, "trace_pipe: read: %s", strerror(errno));
		}
		if (n == 0)
			break;
		tp->used += (size_t)n;
		if (emit_lines(tp, fn, ctx, &lines))
			break;
	}
	return lines;
}
