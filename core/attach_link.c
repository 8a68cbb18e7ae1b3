/* bpf_link plumbing shared by the attach kinds, plus pins, link info and link updates. */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

int attach_prog_fd(const lbpf_program *prog)
{
	int fd;

	if (!prog)
		return lbpf_err(EINVAL, "no program given");
	fd = lbpf_program_fd(prog);
	if (fd < 0)
		return lbpf_err(EBADF, "program '%s' is not loaded: load its object first",
				lbpf_program_name(prog));
	return fd;
}

int attach_fail(const lbpf_program *prog, int err, const char *what)
{
	return lbpf_err(err, "program '%s': %s: %s", lbpf_program_name(prog), what,
			strerror(abs(err)));
}

int attach_ifname(const lbpf_program *prog, int ifindex, char *ifname)
{
	if (ifindex <= 0 || !if_indextoname((unsigned)ifindex, ifname))
		return lbpf_err(ENODEV, "program '%s': no network interface with index %d",
				lbpf_program_name(prog), ifindex);
	return 0;
}

int attach_link_create(int prog_fd, int target, uint32_t attach_type, uint32_t flags,
		       const void *extra, size_t extra_len)
{
	union bpf_attr attr;
	size_t off = offsetof(union bpf_attr, link_create.target_btf_id);

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog_fd;
	attr.link_create.target_fd = target;
	attr.link_create.attach_type = attach_type;
	attr.link_create.flags = flags;
	if (extra_len) {
		if (off + extra_len > sizeof(attr))
			return -E2BIG;
		memcpy((char *)&attr + off, extra, extra_len);
	}
	return lbpf_sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr));
}

static int bpf_link_force_detach(lbpf_link *link)
{
	union bpf_attr attr;

	if (link->fd < 0)
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.link_detach.link_fd = link->fd;
	/* Kinds without LINK_DETACH (tracing, perf) answer EOPNOTSUPP/EINVAL: closing the fd
	 * (done by the caller) detaches those once nothing else holds them. */
	lbpf_sys_bpf(BPF_LINK_DETACH, &attr, sizeof(attr));
	return 0;
}

lbpf_link *attach_bpf_link_new(int fd, const char *desc_fmt, ...)
{
	char desc[512];
	lbpf_link *link;
	va_list ap;

	va_start(ap, desc_fmt);
	vsnprintf(desc, sizeof(desc), desc_fmt, ap);
	va_end(ap);
	link = lbpf_link_new(fd, "%s", desc);
	if (!link) {
		close(fd);
		return NULL;
	}
	link->detach = bpf_link_force_detach;
	return link;
}

int attach_read_int_file(const char *path, long *value)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fscanf(f, "%ld", value) == 1;
	fclose(f);
	return ok ? 0 : -EINVAL;
}

int lbpf_link_update_program(lbpf_link *link, lbpf_program *prog)
{
	union bpf_attr attr;
	int prog_fd = attach_prog_fd(prog), ret;

	if (prog_fd < 0)
		return prog_fd;
	if (!link->attached)
		return lbpf_err(EBADF, "link '%s' is detached", lbpf_link_description(link));
	if (link->fd < 0)
		return lbpf_err(EOPNOTSUPP, "link '%s' cannot change program: it is not a bpf_link "
				"(made through netlink, PROG_ATTACH or several probes); detach it and "
				"attach the new program", lbpf_link_description(link));
	memset(&attr, 0, sizeof(attr));
	attr.link_update.link_fd = link->fd;
	attr.link_update.new_prog_fd = prog_fd;
	ret = lbpf_sys_bpf(BPF_LINK_UPDATE, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "updating link '%s' to program '%s': %s",
				lbpf_link_description(link), lbpf_program_name(prog),
				ret == -EINVAL || ret == -EOPNOTSUPP
					? "this kind of link cannot change program"
					: strerror(-ret));
	return 0;
}

/* True when fd is the anonymous inode kind ("bpf-link", "bpf-prog", "bpf-map"). */
static int fd_is_kind(int fd, const char *kind)
{
	char path[64], target[128], want[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = 0;
	snprintf(want, sizeof(want), "anon_inode:%s", kind);
	/* The kernel spells it both ways ("bpf_link" when created, "bpf-link" from a pin). */
	for (char *c = target; *c; c++)
		if (*c == '_')
			*c = '-';
	for (char *c = want; *c; c++)
		if (*c == '_')
			*c = '-';
	return strcmp(target, want) == 0;
}

static int obj_get(const char *path)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = lbpf_ptr(path);
	return lbpf_sys_bpf(BPF_OBJ_GET, &attr, sizeof(attr));
}

int lbpf_link_get_info(const lbpf_link *link, struct bpf_link_info *info)
{
	union bpf_attr attr;
	int ret;

	memset(info, 0, sizeof(*info));
	if (!link->attached || link->fd < 0)
		return lbpf_err(EBADF, "link '%s' has no bpf_link fd (detached, or an attachment "
				"made without bpf_link)", lbpf_link_description(link));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = link->fd;
	attr.info.info_len = sizeof(*info);
	attr.info.info = lbpf_ptr(info);
	ret = lbpf_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "reading info of link '%s': %s", lbpf_link_description(link),
				strerror(-ret));
	return 0;
}

int lbpf_link_info_describe(const struct bpf_link_info *info, char *buf, size_t size)
{
	const char *type = lbpf_link_type_name(info->type);

	switch (info->type) {
	case BPF_LINK_TYPE_XDP:
		return snprintf(buf, size, "xdp ifindex %u", info->xdp.ifindex);
	case BPF_LINK_TYPE_CGROUP:
		return snprintf(buf, size, "cgroup id %llu %s",
				(unsigned long long)info->cgroup.cgroup_id,
				lbpf_attach_type_name(info->cgroup.attach_type));
	case BPF_LINK_TYPE_NETNS:
		return snprintf(buf, size, "netns inode %u %s", info->netns.netns_ino,
				lbpf_attach_type_name(info->netns.attach_type));
	case LBPF_LINK_TYPE_NETFILTER: {
		/* Newer than the UAPI headers: {pf, hooknum, priority, flags} opens the union. */
		const uint32_t *nf = (const uint32_t *)(const void *)&info->raw_tracepoint;

		return snprintf(buf, size, "netfilter pf %u hook %u priority %d", nf[0], nf[1],
				(int)nf[2]);
	}
	case BPF_LINK_TYPE_TRACING:
		return snprintf(buf, size, "tracing %s btf id %u",
				lbpf_attach_type_name(info->tracing.attach_type),
				info->tracing.target_btf_id);
	default:
		return snprintf(buf, size, "%s", type ? type : "link");
	}
}

int lbpf_link_open_pinned(const char *path, lbpf_link **out)
{
	struct bpf_link_info info;
	char desc[256];
	lbpf_link *link;
	int fd;

	*out = NULL;
	fd = obj_get(path);
	if (fd < 0)
		return lbpf_err(fd, "opening pinned link %s: %s", path, strerror(-fd));
	link = attach_bpf_link_new(fd, "pinned link %s", path);
	if (!link)
		return -ENOMEM;
	if (!fd_is_kind(fd, "bpf_link") || lbpf_link_get_info(link, &info) < 0) {
		/* A pinned program or map is not a link: say so instead of acting on it. */
		link->pinned = true;
		lbpf_link_free(link);
		return lbpf_err(EINVAL, "%s is not a bpf_link pin", path);
	}
	lbpf_link_info_describe(&info, desc, sizeof(desc));
	free(link->desc);
	if (asprintf(&link->desc, "%s (pinned at %s)", desc, path) < 0)
		link->desc = NULL;
	link->pinned = true;
	*out = link;
	return 0;
}

int lbpf_link_unpin(lbpf_link *link, const char *path)
{
	if (unlink(path) < 0)
		return lbpf_err(errno, "removing link pin %s: %s", path, strerror(errno));
	link->pinned = false;
	return 0;
}

int lbpf_program_pin(lbpf_program *prog, const char *path)
{
	union bpf_attr attr;
	int fd = attach_prog_fd(prog), ret;

	if (fd < 0)
		return fd;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = lbpf_ptr(path);
	attr.bpf_fd = fd;
	ret = lbpf_sys_bpf(BPF_OBJ_PIN, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "pinning program '%s' at %s: %s", lbpf_program_name(prog),
				path, ret == -ENOENT || ret == -EPERM
					? "no bpffs there (mount -t bpf bpf /sys/fs/bpf)"
					: strerror(-ret));
	return 0;
}

int lbpf_prog_fd_get_info(int prog_fd, struct bpf_prog_info *info)
{
	union bpf_attr attr;
	int ret;

	memset(info, 0, sizeof(*info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = prog_fd;
	attr.info.info_len = sizeof(*info);
	attr.info.info = lbpf_ptr(info);
	ret = lbpf_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
	if (ret < 0)
		return lbpf_err(ret, "reading program info: %s", strerror(-ret));
	return 0;
}

int lbpf_prog_fd_open_pinned(const char *path)
{
	struct bpf_prog_info info;
	int fd = obj_get(path);

	if (fd < 0)
		return lbpf_err(fd, "opening pinned program %s: %s", path, strerror(-fd));
	if (!fd_is_kind(fd, "bpf-prog") || lbpf_prog_fd_get_info(fd, &info) < 0) {
		close(fd);
		return lbpf_err(EINVAL, "%s is not a pinned program", path);
	}
	return fd;
}

int lbpf_prog_fd_by_id(uint32_t id)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = lbpf_sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr, sizeof(attr));
	if (fd < 0)
		return lbpf_err(fd, "opening program id %u: %s", id, strerror(-fd));
	return fd;
}
