/* Tracepoints (perf event + PERF_EVENT_IOC_SET_BPF, through a bpf_link where the kernel has
 * them) and raw tracepoints (BPF_RAW_TRACEPOINT_OPEN). */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "error.h"
#include "link.h"
#include "sys.h"
#include "tracepoint_names.h"

static const char *const tracefs_roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

/* "does not exist", with the nearest existing names when there are some. */
static int no_such_tracepoint(const lbpf_program *prog, const char *category, const char *name)
{
	char near[400];

	lbpf_tracepoint_suggest(category, name, near, sizeof(near));
	if (category)
		return lbpf_err(ENOENT, "program '%s': tracepoint %s:%s does not exist%s%s%s",
				lbpf_program_name(prog), category, name, *near ? " (nearest: " : "",
				near, *near ? ")" : "");
	return lbpf_err(ENOENT, "program '%s': raw tracepoint '%s' does not exist%s%s%s",
			lbpf_program_name(prog), name, *near ? " (nearest: " : "", near,
			*near ? ")" : "");
}

static int tracepoint_id(const lbpf_program *prog, const char *category, const char *name)
{
	char path[512], buf[32];
	ssize_t n;
	int fd = -1;

	for (size_t i = 0; i < 2 && fd < 0; i++) {
		snprintf(path, sizeof(path), "%s/events/%s/%s/id", tracefs_roots[i], category, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		if (access("/sys/kernel/tracing/events", F_OK) && access("/sys/kernel/debug/tracing/events", F_OK))
			return lbpf_err(ENOENT, "tracepoint %s:%s: tracefs is not mounted "
					"(mount -t tracefs tracefs /sys/kernel/tracing)", category, name);
		return no_such_tracepoint(prog, category, name);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return lbpf_err(EIO, "cannot read the id of tracepoint %s:%s", category, name);
	buf[n] = '\0';
	return atoi(buf);
}

/* A bpf_link over the perf event, so the attachment can be pinned and inspected. */
static int perf_link_create(int prog_fd, int pfd)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)prog_fd;
	attr.link_create.target_fd = (uint32_t)pfd;
	attr.link_create.attach_type = BPF_PERF_EVENT;
	return lbpf_sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr));
}

int lbpf_attach_perf_event_fd(lbpf_program *prog, int pfd, const char *what, lbpf_link **out);

int lbpf_attach_perf_event_fd(lbpf_program *prog, int pfd, const char *what, lbpf_link **out)
{
	int prog_fd = lbpf_program_fd(prog);
	lbpf_link *link;
	int lfd;

	lfd = perf_link_create(prog_fd, pfd);
	if (lfd < 0) {
		/* Older kernels: attach straight to the event and keep it open. */
		if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0 ||
		    ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
			int err = errno;

			close(pfd);
			return lbpf_err(err, "attaching program '%s' to %s failed: %s",
					lbpf_program_name(prog), what, strerror(err));
		}
		link = lbpf_link_new(pfd, "%s", what);
		if (!link) {
			close(pfd);
			return -ENOMEM;
		}
	} else {
		link = lbpf_link_new(lfd, "%s", what);
		if (!link) {
			close(lfd);
			close(pfd);
			return -ENOMEM;
		}
		link->aux_fd = pfd;
	}
	*out = link;
	return 0;
}

int lbpf_program_attach_tracepoint(lbpf_program *prog, const char *category, const char *name,
				   lbpf_link **out)
{
	struct perf_event_attr attr;
	char what[300];
	int id, pfd;

	if (lbpf_program_fd(prog) < 0)
		return lbpf_err(EBADF, "program '%s' is not loaded", lbpf_program_name(prog));
	if (lbpf_program_type(prog) != BPF_PROG_TYPE_TRACEPOINT)
		return lbpf_err(EINVAL, "program '%s' is a %s program, not a tracepoint program",
				lbpf_program_name(prog), lbpf_prog_type_name(lbpf_program_type(prog)));
	id = tracepoint_id(prog, category, name);
	if (id < 0)
		return id;
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = (uint64_t)id;
	pfd = lbpf_sys_perf_event_open(&attr, -1, 0, -1, 0);
	if (pfd < 0)
		return lbpf_err(pfd, "opening tracepoint %s:%s failed: %s", category, name,
				lbpf_strerror(pfd));
	snprintf(what, sizeof(what), "tracepoint %s:%s", category, name);
	return lbpf_attach_perf_event_fd(prog, pfd, what, out);
}

int lbpf_program_attach_raw_tracepoint(lbpf_program *prog, const char *name, lbpf_link **out)
{
	union bpf_attr attr;
	int fd;

	if (lbpf_program_fd(prog) < 0)
		return lbpf_err(EBADF, "program '%s' is not loaded", lbpf_program_name(prog));
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = lbpf_ptr(name);
	attr.raw_tracepoint.prog_fd = (uint32_t)lbpf_program_fd(prog);
	fd = lbpf_sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
	if (fd == -ENOENT && name)
		return no_such_tracepoint(prog, NULL, name);
	if (fd < 0)
		return lbpf_err(fd, "attaching program '%s' to raw tracepoint '%s' failed: %s%s",
				lbpf_program_name(prog), name ? name : "(none)", lbpf_strerror(fd),
				fd == -ENOENT ? " (no such tracepoint)" : "");
	*out = lbpf_link_new(fd, "raw_tracepoint %s", name ? name : "");
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}
