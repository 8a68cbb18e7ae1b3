/* Programs on perf events: a perf bpf_link (or the older ioctl) on one event fd, and
 * perf_event programs sampling on every CPU. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

static int perf_ioctl_detach(lbpf_link *link)
{
	/* Disabling first: the program stops running before the fd closes. */
	ioctl(link->aux_fd, PERF_EVENT_IOC_DISABLE, 0);
	return 0;
}

int lbpf_program_attach_perf_event_fd(lbpf_program *prog, int perf_fd, uint64_t cookie,
				      const char *desc, lbpf_link **out)
{
	return attach_perf_event_fd(prog, perf_fd, cookie, desc, false, out);
}

int attach_perf_event_fd(lbpf_program *prog, int perf_fd, uint64_t cookie, const char *desc,
			 bool ioctl_only, lbpf_link **out)
{
	int prog_fd = attach_prog_fd(prog), fd;
	lbpf_link *link;

	*out = NULL;
	if (prog_fd < 0) {
		close(perf_fd);
		return prog_fd;
	}
	fd = ioctl_only ? -EOPNOTSUPP
			: attach_link_create(prog_fd, perf_fd, BPF_PERF_EVENT, 0, &cookie, sizeof(cookie));
	if (fd >= 0) {
		link = attach_bpf_link_new(fd, "%s program %s", desc, lbpf_program_name(prog));
		if (!link) {
			close(perf_fd);
			return -ENOMEM;
		}
		link->aux_fd = perf_fd; /* the event must live as long as the link */
		*out = link;
		return 0;
	}
	/* Kernels before 5.15 have no perf links: bind the program with the ioctl. */
	if (fd != -EINVAL && fd != -EOPNOTSUPP) {
		close(perf_fd);
		return attach_fail(prog, fd, desc);
	}
	if (ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0 ||
	    ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		int err = errno;

		close(perf_fd);
		return attach_fail(prog, err, desc);
	}
	link = lbpf_link_new(-1, "%s program %s", desc, lbpf_program_name(prog));
	if (!link) {
		close(perf_fd);
		return -ENOMEM;
	}
	link->aux_fd = perf_fd;
	link->detach = perf_ioctl_detach;
	*out = link;
	return 0;
}

/* A link made of several links (one per CPU); detaching detaches them all. */
struct link_group {
	int count;
	lbpf_link *links[];
};

static int group_detach(lbpf_link *link)
{
	struct link_group *g = link->priv;

	for (int i = 0; i < g->count; i++)
		lbpf_link_free(g->links[i]);
	g->count = 0;
	return 0;
}

/* Online CPUs from sysfs ("0-3,5"): fills cpus (cap entries), returns the count. */
static int online_cpus(int *cpus, int cap)
{
	FILE *f = fopen("/sys/devices/system/cpu/online", "re");
	int n = 0, a, b;
	char sep;

	if (!f)
		return -errno;
	while (fscanf(f, "%d", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
			if (fscanf(f, "%d", &b) != 1)
				break;
			if (fscanf(f, "%c", &sep) != 1)
				sep = '\n';
		}
		for (int c = a; c <= b && n < cap; c++)
			cpus[n++] = c;
		if (sep != ',')
			break;
	}
	fclose(f);
	return n > 0 ? n : -ENOENT;
}

static int open_one(lbpf_program *prog, const struct lbpf_perf_event_opts *opts, int cpu,
		    lbpf_link **out)
{
	struct perf_event_attr attr;
	char desc[128];
	int pfd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = opts->type;
	attr.config = opts->config;
	if (opts->sample_period) {
		attr.sample_period = opts->sample_period;
	} else {
		attr.freq = 1;
		attr.sample_freq = opts->sample_freq ? opts->sample_freq : 99;
	}
	pfd = lbpf_sys_perf_event_open(&attr, opts->pid > 0 ? opts->pid : -1, cpu, -1, 0);
	snprintf(desc, sizeof(desc), "perf_event type %u config %llu cpu %d", opts->type,
		 (unsigned long long)opts->config, cpu);
	if (pfd < 0)
		return lbpf_err(pfd, "program '%s': opening %s: %s", lbpf_program_name(prog), desc,
				pfd == -ENOENT || pfd == -EOPNOTSUPP
					? "this event does not exist here (a VM often lacks "
					  "hardware counters: try a software event)"
					: strerror(-pfd));
	return lbpf_program_attach_perf_event_fd(prog, pfd, 0, desc, out);
}

int lbpf_program_attach_perf_event(lbpf_program *prog, const struct lbpf_perf_event_opts *opts,
				   lbpf_link **out)
{
	static const struct lbpf_perf_event_opts defaults = { .type = PERF_TYPE_SOFTWARE,
							      .config = PERF_COUNT_SW_CPU_CLOCK };
	int cpus[1024], n, ret = 0;
	struct link_group *g;
	lbpf_link *link;

	*out = NULL;
	if ((ret = attach_prog_fd(prog)) < 0)
		return ret;
	ret = 0;
	if (!opts)
		opts = &defaults;
	if (opts->single_cpu || opts->pid > 0) {
		if (opts->pid > 0 && !opts->single_cpu)
			return open_one(prog, opts, -1, out);
		return open_one(prog, opts, opts->cpu, out);
	}
	n = online_cpus(cpus, 1024);
	if (n < 0)
		return lbpf_err(n, "reading the online CPUs: %s", strerror(-n));
	g = calloc(1, sizeof(*g) + (size_t)n * sizeof(g->links[0]));
	if (!g)
		return lbpf_err(ENOMEM, "out of memory attaching perf events");
	for (int i = 0; i < n && ret == 0; i++) {
		ret = open_one(prog, opts, cpus[i], &g->links[i]);
		if (ret == 0)
			g->count++;
	}
	link = ret == 0 ? lbpf_link_new(-1, "perf_event type %u config %llu on %d CPUs program %s",
					opts->type, (unsigned long long)opts->config, n,
					lbpf_program_name(prog)) : NULL;
	if (!link) {
		lbpf_link tmp = { .priv = g };

		group_detach(&tmp);
		free(g);
		return ret ? ret : -ENOMEM;
	}
	link->priv = g;
	link->detach = group_detach;
	*out = link;
	return 0;
}
