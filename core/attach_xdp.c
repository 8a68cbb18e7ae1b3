/* XDP: a bpf_link on the interface, or the older netlink IFLA_XDP attachment. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "attach_int.h"
#include "error.h"
#include "netlink.h"

struct xdp_netlink_state {
	int ifindex;
	uint32_t mode_flags;
};

static uint32_t mode_flags(enum lbpf_xdp_mode mode)
{
	switch (mode) {
	case LBPF_XDP_MODE_SKB: return XDP_FLAGS_SKB_MODE;
	case LBPF_XDP_MODE_DRV: return XDP_FLAGS_DRV_MODE;
	case LBPF_XDP_MODE_HW: return XDP_FLAGS_HW_MODE;
	default: return 0;
	}
}

static const char *mode_name(enum lbpf_xdp_mode mode)
{
	static const char *names[] = { "default", "skb", "drv", "hw" };

	return (unsigned)mode < 4 ? names[mode] : "?";
}

static int xdp_netlink_set(int ifindex, int fd, uint32_t flags, int expected_fd, char *why,
			   size_t why_len)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct lbpf_nl_msg msg;

	lbpf_nl_init(&msg, RTM_SETLINK, 0, &ifi, sizeof(ifi));
	lbpf_nl_nest_begin(&msg, IFLA_XDP);
	lbpf_nl_put_u32(&msg, IFLA_XDP_FD, (uint32_t)fd);
	if (flags)
		lbpf_nl_put_u32(&msg, IFLA_XDP_FLAGS, flags);
	if (flags & XDP_FLAGS_REPLACE)
		lbpf_nl_put_u32(&msg, IFLA_XDP_EXPECTED_FD, (uint32_t)expected_fd);
	lbpf_nl_nest_end(&msg);
	return lbpf_nl_request(&msg, NULL, NULL, why, why_len);
}

/* Undo: remove our program only (REPLACE with expected fd = ours), never someone else's. */
static int xdp_netlink_detach(lbpf_link *link)
{
	struct xdp_netlink_state *st = link->priv;
	char why[256];

	return xdp_netlink_set(st->ifindex, -1, st->mode_flags | XDP_FLAGS_REPLACE, link->aux_fd,
			       why, sizeof(why));
}

static int attach_xdp_netlink(lbpf_program *prog, int prog_fd, int ifindex,
			      const struct lbpf_xdp_opts *opts, const char *ifname, lbpf_link **out)
{
	uint32_t flags = mode_flags(opts->mode);
	struct xdp_netlink_state *st;
	char why[256];
	lbpf_link *link;
	int ret, own_fd;

	if (!opts->replace)
		flags |= XDP_FLAGS_UPDATE_IF_NOEXIST;
	else if (opts->expected_prog_fd > 0)
		flags |= XDP_FLAGS_REPLACE;
	ret = xdp_netlink_set(ifindex, prog_fd, flags, opts->expected_prog_fd, why, sizeof(why));
	if (ret < 0)
		return lbpf_err(ret, "program '%s': attaching XDP (%s mode, netlink) to %s: %s%s%s",
				lbpf_program_name(prog), mode_name(opts->mode), ifname,
				ret == -EBUSY || ret == -EEXIST
					? "another XDP program is attached (use replace)"
					: strerror(-ret), why[0] ? ": " : "", why);
	st = calloc(1, sizeof(*st));
	/* Keep our own reference to the program: detaching names it as the expected one. */
	own_fd = fcntl(prog_fd, F_DUPFD_CLOEXEC, 3);
	link = st && own_fd >= 0 ? lbpf_link_new(-1, "xdp %s (%s mode, netlink) program %s",
						 ifname, mode_name(opts->mode),
						 lbpf_program_name(prog)) : NULL;
	if (!link) {
		if (own_fd >= 0)
			close(own_fd);
		free(st);
		xdp_netlink_set(ifindex, -1, flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST, 0, why, sizeof(why));
		return lbpf_err(ENOMEM, "out of memory attaching XDP");
	}
	st->ifindex = ifindex;
	st->mode_flags = mode_flags(opts->mode);
	link->priv = st;
	link->aux_fd = own_fd;
	link->detach = xdp_netlink_detach;
	*out = link;
	return 0;
}

int lbpf_program_attach_xdp(lbpf_program *prog, int ifindex, const struct lbpf_xdp_opts *opts,
			    lbpf_link **out)
{
	static const struct lbpf_xdp_opts defaults;
	char ifname[IF_NAMESIZE] = "?";
	int prog_fd = attach_prog_fd(prog), fd, ret;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (!opts)
		opts = &defaults;
	if ((unsigned)opts->mode > LBPF_XDP_MODE_HW)
		return lbpf_err(EINVAL, "unknown XDP mode %d", (int)opts->mode);
	if ((ret = attach_ifname(prog, ifindex, ifname)) < 0)
		return ret;
	/* A bpf_link cannot take over a foreign program, so replace goes through netlink. */
	if (opts->netlink || opts->replace)
		return attach_xdp_netlink(prog, prog_fd, ifindex, opts, ifname, out);
	fd = attach_link_create(prog_fd, ifindex, BPF_XDP, mode_flags(opts->mode), NULL, 0);
	if (fd == -EINVAL || fd == -EOPNOTSUPP || fd == -ENOSYS)
		return attach_xdp_netlink(prog, prog_fd, ifindex, opts, ifname, out);
	if (fd < 0)
		return lbpf_err(fd, "program '%s': attaching XDP (%s mode) to %s: %s",
				lbpf_program_name(prog), mode_name(opts->mode), ifname,
				fd == -EBUSY || fd == -EEXIST
					? "another XDP program is already attached there"
					: strerror(-fd));
	*out = attach_bpf_link_new(fd, "xdp %s (%s mode) program %s", ifname,
				   mode_name(opts->mode), lbpf_program_name(prog));
	return *out ? 0 : -ENOMEM;
}

struct xdp_query {
	int ifindex;
	uint32_t prog_id;
	uint8_t attached;
};

static int xdp_query_reply(const struct nlmsghdr *h, void *arg)
{
	struct xdp_query *q = arg;
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct nlattr *tb[IFLA_MAX + 1], *xtb[IFLA_XDP_MAX + 1];
	size_t hdr = NLMSG_LENGTH(sizeof(*ifi));

	if (h->nlmsg_type != RTM_NEWLINK || ifi->ifi_index != q->ifindex || h->nlmsg_len < hdr)
		return 0;
	lbpf_nl_parse((const char *)h + NLMSG_ALIGN(hdr), h->nlmsg_len - NLMSG_ALIGN(hdr), tb,
		      IFLA_MAX);
	if (!tb[IFLA_XDP])
		return 1;
	lbpf_nl_parse(lbpf_nl_data(tb[IFLA_XDP]), lbpf_nl_len(tb[IFLA_XDP]), xtb, IFLA_XDP_MAX);
	if (xtb[IFLA_XDP_ATTACHED])
		q->attached = *(const uint8_t *)lbpf_nl_data(xtb[IFLA_XDP_ATTACHED]);
	if (xtb[IFLA_XDP_PROG_ID])
		memcpy(&q->prog_id, lbpf_nl_data(xtb[IFLA_XDP_PROG_ID]), sizeof(q->prog_id));
	return 1;
}

int lbpf_xdp_query(int ifindex, uint32_t *prog_id, enum lbpf_xdp_mode *mode)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	struct xdp_query q = { .ifindex = ifindex };
	struct lbpf_nl_msg msg;
	char why[256];
	int ret;

	lbpf_nl_init(&msg, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	ret = lbpf_nl_request(&msg, xdp_query_reply, &q, why, sizeof(why));
	if (ret < 0)
		return lbpf_err(ret, "querying XDP on ifindex %d: %s%s%s", ifindex, strerror(-ret),
				why[0] ? ": " : "", why);
	*prog_id = q.prog_id;
	if (mode)
		*mode = q.attached == XDP_ATTACHED_SKB ? LBPF_XDP_MODE_SKB
		      : q.attached == XDP_ATTACHED_DRV ? LBPF_XDP_MODE_DRV
		      : q.attached == XDP_ATTACHED_HW ? LBPF_XDP_MODE_HW : LBPF_XDP_MODE_DEFAULT;
	return 0;
}
