/* cgroup programs: a cgroup bpf_link, or BPF_PROG_ATTACH (multi) where links are missing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

struct prog_attach_state {
	int prog_fd;       /* our own dup of the program, named when detaching */
	uint32_t attach_type;
};

static int prog_detach(lbpf_link *link)
{
	struct prog_attach_state *st = link->priv;
	union bpf_attr attr;
	int ret;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = link->aux_fd;
	attr.attach_bpf_fd = st->prog_fd;
	attr.attach_type = st->attach_type;
	ret = lbpf_sys_bpf(BPF_PROG_DETACH, &attr, sizeof(attr));
	close(st->prog_fd);
	st->prog_fd = -1;
	return ret == -ENOENT ? 0 : ret;
}

/* BPF_PROG_ATTACH to target_fd (a cgroup or a sockmap); the link keeps dups of both fds. */
int attach_prog_attach(lbpf_program *prog, int target_fd, uint32_t attach_type, uint32_t flags,
		       const char *desc, lbpf_link **out)
{
	struct prog_attach_state *st;
	union bpf_attr attr;
	lbpf_link *link;
	int prog_fd = attach_prog_fd(prog), ret;

	if (prog_fd < 0)
		return prog_fd;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = target_fd;
	attr.attach_bpf_fd = prog_fd;
	attr.attach_type = attach_type;
	attr.attach_flags = flags;
	ret = lbpf_sys_bpf(BPF_PROG_ATTACH, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "program '%s': attaching to %s (PROG_ATTACH %s): %s",
				lbpf_program_name(prog), desc, lbpf_attach_type_name(attach_type),
				strerror(-ret));
	st = calloc(1, sizeof(*st));
	link = st ? lbpf_link_new(-1, "%s %s program %s", desc,
				  lbpf_attach_type_name(attach_type), lbpf_program_name(prog))
		  : NULL;
	if (link) {
		link->priv = st;
		st->prog_fd = fcntl(prog_fd, F_DUPFD_CLOEXEC, 3);
		st->attach_type = attach_type;
		link->aux_fd = fcntl(target_fd, F_DUPFD_CLOEXEC, 3);
		link->detach = prog_detach;
	}
	if (!link || st->prog_fd < 0 || link->aux_fd < 0) {
		/* Undo with the original fds, then drop what we built. */
		attr.attach_flags = 0;
		lbpf_sys_bpf(BPF_PROG_DETACH, &attr, sizeof(attr));
		if (link) {
			if (st->prog_fd >= 0)
				close(st->prog_fd);
			link->detach = NULL;
			lbpf_link_free(link);
		} else {
			free(st);
		}
		return lbpf_err(ENOMEM, "out of resources attaching program '%s'",
				lbpf_program_name(prog));
	}
	*out = link;
	return 0;
}

int lbpf_program_attach_cgroup(lbpf_program *prog, int cgroup_fd,
			       const struct lbpf_cgroup_opts *opts, lbpf_link **out)
{
	static const struct lbpf_cgroup_opts defaults;
	uint32_t type;
	int prog_fd = attach_prog_fd(prog), fd;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (!opts)
		opts = &defaults;
	type = opts->override_attach_type ? opts->attach_type
					  : lbpf_program_expected_attach_type(prog);
	if (!opts->prog_attach) {
		fd = attach_link_create(prog_fd, cgroup_fd, type, 0, NULL, 0);
		if (fd >= 0) {
			*out = attach_bpf_link_new(fd, "cgroup %s program %s",
						   lbpf_attach_type_name(type),
						   lbpf_program_name(prog));
			return *out ? 0 : -ENOMEM;
		}
		if (fd != -EINVAL && fd != -EOPNOTSUPP)
			return lbpf_err(fd, "program '%s': attaching to cgroup (%s): %s",
					lbpf_program_name(prog), lbpf_attach_type_name(type),
					fd == -EBADF || fd == -ENOTDIR
						? "not a cgroup v2 directory" : strerror(-fd));
	}
	return attach_prog_attach(prog, cgroup_fd, type, BPF_F_ALLOW_MULTI, "cgroup", out);
}

int lbpf_program_attach_cgroup_path(lbpf_program *prog, const char *path,
				    const struct lbpf_cgroup_opts *opts, lbpf_link **out)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	*out = NULL;
	if (fd < 0)
		return lbpf_err(errno, "program '%s': opening cgroup %s: %s",
				prog ? lbpf_program_name(prog) : "?", path, strerror(errno));
	ret = lbpf_program_attach_cgroup(prog, fd, opts, out);
	close(fd);
	if (ret == 0 && *out) {
		char *desc;

		if (asprintf(&desc, "cgroup %s %s", path, (*out)->desc + strlen("cgroup ")) >= 0) {
			free((*out)->desc);
			(*out)->desc = desc;
		}
	}
	return ret;
}
