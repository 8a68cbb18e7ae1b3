/* kprobe / kretprobe: the kprobe PMU, or tracefs kprobe_events on kernels without the PMU. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

static const char *const tracefs_roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static const char *tracefs_root(void)
{
	char path[128];

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/available_events", tracefs_roots[i]);
		if (access(path, F_OK) == 0)
			return tracefs_roots[i];
	}
	return NULL;
}

/* One write(2) with O_APPEND: stdio's append mode seeks to the end first, which tracefs refuses
 * (EINVAL), and without O_APPEND the write would replace every probe defined. */
/* What the kernel's refusal to place a kprobe means (register_kprobe's errors). */
static const char *kprobe_open_error(int err)
{
	if (err == -ENOENT || err == -EINVAL)
		return "no such kernel function (or it cannot be probed)";
	if (err == -EILSEQ) /* the address is not where an instruction starts */
		return "the offset is not at an instruction boundary";
	return strerror(-err);
}

static int write_kprobe_events(const char *root, const char *line)
{
	char path[160];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/kprobe_events", root);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, line, strlen(line));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

struct kprobe_event {
	char root[64];
	char name[64];
};

static int remove_kprobe_event(lbpf_link *link)
{
	struct kprobe_event *ev = link->priv;
	char line[96];

	/* The perf fd must be closed first, else the event is busy: close it here. */
	if (link->fd >= 0)
		close(link->fd);
	if (link->aux_fd >= 0)
		close(link->aux_fd);
	link->fd = link->aux_fd = -1;
	snprintf(line, sizeof(line), "-:kprobes/%s\n", ev->name);
	return write_kprobe_events(ev->root, line);
}

static int attach_kprobe_tracefs(lbpf_program *prog, const char *root, const char *func,
				 uint64_t offset, bool retprobe, const char *desc, bool legacy,
				 lbpf_link **out)
{
	static int counter;
	struct kprobe_event *ev = calloc(1, sizeof(*ev));
	struct perf_event_attr attr;
	char line[512], path[256];
	long id;
	int ret, pfd;

	if (!ev)
		return lbpf_err(ENOMEM, "out of memory");
	snprintf(ev->root, sizeof(ev->root), "%s", root);
	snprintf(ev->name, sizeof(ev->name), "lbpf_%d_%d", (int)getpid(), ++counter);
	snprintf(line, sizeof(line), "%c:kprobes/%s %s+%llu\n", retprobe ? 'r' : 'p', ev->name,
		 func, (unsigned long long)offset);
	ret = write_kprobe_events(root, line);
	if (ret < 0) {
		free(ev);
		return lbpf_err(ret, "program '%s': %s: adding to %s/kprobe_events: %s",
				lbpf_program_name(prog), desc, root, kprobe_open_error(ret));
	}
	snprintf(path, sizeof(path), "%s/events/kprobes/%s/id", root, ev->name);
	ret = attach_read_int_file(path, &id);
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = (uint64_t)id;
	attr.sample_period = 1;
	pfd = ret < 0 ? ret : lbpf_sys_perf_event_open(&attr, -1, 0, -1, 0);
	if (pfd >= 0)
		ret = attach_perf_event_fd(prog, pfd, 0, desc, legacy, out);
	else
		ret = lbpf_err(pfd, "program '%s': %s: opening the kprobe event %s/events/kprobes/"
			       "%s: %s", lbpf_program_name(prog), desc, root, ev->name,
			       strerror(-pfd));
	if (ret < 0) {
		snprintf(line, sizeof(line), "-:kprobes/%s\n", ev->name);
		write_kprobe_events(root, line);
		free(ev);
		return ret;
	}
	(*out)->priv = ev;
	(*out)->detach = remove_kprobe_event;
	return 0;
}

int lbpf_program_attach_kprobe(lbpf_program *prog, const char *func, uint64_t offset,
			       bool retprobe, lbpf_link **out)
{
	const char *root;
	char desc[320], path[160];
	int ret, pfd;

	*out = NULL;
	if ((ret = attach_prog_fd(prog)) < 0)
		return ret;
	if (!func || !*func)
		return lbpf_err(EINVAL, "program '%s': a kprobe needs a function name",
				lbpf_program_name(prog));
	snprintf(desc, sizeof(desc), "%s %s+%llu", retprobe ? "kretprobe" : "kprobe", func,
		 (unsigned long long)offset);
	pfd = attach_probe_pmu_open("kprobe", retprobe, func, offset, 0, 0);
	if (pfd >= 0)
		return lbpf_program_attach_perf_event_fd(prog, pfd, 0, desc, out);
	if (pfd != -ENODEV)
		return lbpf_err(pfd, "program '%s': %s: %s", lbpf_program_name(prog), desc,
				kprobe_open_error(pfd));
	root = tracefs_root();
	if (root) {
		snprintf(path, sizeof(path), "%s/kprobe_events", root);
		if (access(path, F_OK) == 0)
			return attach_kprobe_tracefs(prog, root, func, offset, retprobe, desc, false,
						     out);
		return lbpf_err(EOPNOTSUPP, "program '%s': %s: kernel built without kprobes (no "
				"kprobe PMU, no kprobe_events)", lbpf_program_name(prog), desc);
	}
	return lbpf_err(EOPNOTSUPP, "program '%s': %s: kernel built without kprobes (no kprobe "
			"PMU; tracefs is not mounted, so kprobe_events could not be checked: "
			"mount -t tracefs tracefs /sys/kernel/tracing)", lbpf_program_name(prog),
			desc);
}

int lbpf_program_attach_kprobe_legacy(lbpf_program *prog, const char *func, uint64_t offset,
				      bool retprobe, lbpf_link **out)
{
	const char *root = tracefs_root();
	char desc[320];
	int ret;

	*out = NULL;
	if ((ret = attach_prog_fd(prog)) < 0)
		return ret;
	if (!func || !*func)
		return lbpf_err(EINVAL, "program '%s': a kprobe needs a function name",
				lbpf_program_name(prog));
	if (!root)
		return lbpf_err(ENOENT, "program '%s': the legacy kprobe path needs tracefs "
				"(mount -t tracefs tracefs /sys/kernel/tracing)", lbpf_program_name(prog));
	snprintf(desc, sizeof(desc), "%s %s+%llu (kprobe_events, perf ioctl)",
		 retprobe ? "kretprobe" : "kprobe", func, (unsigned long long)offset);
	return attach_kprobe_tracefs(prog, root, func, offset, retprobe, desc, true, out);
}
