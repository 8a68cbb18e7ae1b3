/* tc: a tcx link (kernel 6.6+) or, on older kernels, a clsact qdisc with a cls_bpf filter in
 * direct-action mode. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"
#include "netlink.h"

struct tc_filter_id {
	int ifindex;
	uint32_t parent;
	uint32_t handle;
	uint32_t info; /* priority << 16 | protocol */
};

static int add_clsact(int ifindex, char *why, size_t why_len)
{
	struct tcmsg tc = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0),
		.tcm_parent = TC_H_CLSACT,
	};
	struct lbpf_nl_msg msg;
	int ret;

	lbpf_nl_init(&msg, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &tc, sizeof(tc));
	lbpf_nl_put_str(&msg, TCA_KIND, "clsact");
	ret = lbpf_nl_request(&msg, NULL, NULL, why, why_len);
	return ret == -EEXIST ? 0 : ret;
}

/* The kernel echoes the filter it created: that gives the handle and priority it chose. */
static int filter_echo(const struct nlmsghdr *h, void *arg)
{
	struct tc_filter_id *id = arg;
	const struct tcmsg *tc = NLMSG_DATA(h);

	if (h->nlmsg_type != RTM_NEWTFILTER || h->nlmsg_len < NLMSG_LENGTH(sizeof(*tc)))
		return 0;
	id->handle = tc->tcm_handle;
	id->info = tc->tcm_info;
	return 1;
}

/* Starts a request about the cls_bpf filter id names. */
static void filter_request(struct lbpf_nl_msg *msg, uint16_t type, uint16_t flags,
			   const struct tc_filter_id *id)
{
	struct tcmsg tc = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = id->ifindex,
		.tcm_parent = id->parent,
		.tcm_handle = id->handle,
		.tcm_info = id->info,
	};

	lbpf_nl_init(msg, type, flags, &tc, sizeof(tc));
	lbpf_nl_put_str(msg, TCA_KIND, "bpf");
}

static int add_filter(struct tc_filter_id *id, int prog_fd, const char *name, char *why,
		      size_t why_len)
{
	struct lbpf_nl_msg msg;

	filter_request(&msg, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, id);
	lbpf_nl_nest_begin(&msg, TCA_OPTIONS);
	lbpf_nl_put_u32(&msg, TCA_BPF_FD, (uint32_t)prog_fd);
	lbpf_nl_put_str(&msg, TCA_BPF_NAME, name);
	lbpf_nl_put_u32(&msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
	lbpf_nl_nest_end(&msg);
	return lbpf_nl_request(&msg, filter_echo, id, why, why_len);
}

static int del_filter(lbpf_link *link)
{
	struct lbpf_nl_msg msg;
	char why[256];
	int ret;

	filter_request(&msg, RTM_DELTFILTER, 0, link->priv);
	ret = lbpf_nl_request(&msg, NULL, NULL, why, sizeof(why));
	/* The interface (or its qdisc) may be gone already: then so is the filter. */
	return ret == -ENODEV || ret == -ENOENT || ret == -EINVAL ? 0 : ret;
}

static int attach_tc_netlink(lbpf_program *prog, int prog_fd, int ifindex,
			     const struct lbpf_tc_opts *opts, const char *ifname, lbpf_link **out)
{
	const char *dir = opts->egress ? "egress" : "ingress";
	struct tc_filter_id *id = calloc(1, sizeof(*id));
	char why[256];
	lbpf_link *link;
	int ret;

	if (!id)
		return lbpf_err(ENOMEM, "out of memory attaching tc");
	id->ifindex = ifindex;
	id->parent = TC_H_MAKE(TC_H_CLSACT, opts->egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
	id->handle = opts->handle;
	id->info = TC_H_MAKE((uint32_t)opts->priority << 16, htons(ETH_P_ALL));
	ret = add_clsact(ifindex, why, sizeof(why));
	if (ret == 0)
		ret = add_filter(id, prog_fd, lbpf_program_name(prog), why, sizeof(why));
	if (ret < 0) {
		free(id);
		return lbpf_err(ret, "program '%s': attaching tc %s filter to %s (netlink): %s%s%s",
				lbpf_program_name(prog), dir, ifname,
				ret == -EEXIST ? "a filter with that handle/priority exists"
					       : strerror(-ret), why[0] ? ": " : "", why);
	}
	link = lbpf_link_new(-1, "tc %s %s (cls_bpf prio %u handle %#x) program %s", ifname, dir,
			     id->info >> 16, id->handle, lbpf_program_name(prog));
	if (!link) {
		lbpf_link tmp = { .priv = id };

		del_filter(&tmp);
		free(id);
		return -ENOMEM;
	}
	link->priv = id;
	link->detach = del_filter;
	*out = link;
	return 0;
}

int lbpf_program_attach_tc(lbpf_program *prog, int ifindex, const struct lbpf_tc_opts *opts,
			   lbpf_link **out)
{
	static const struct lbpf_tc_opts defaults;
	char ifname[IF_NAMESIZE] = "?";
	int prog_fd = attach_prog_fd(prog), fd, ret;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (!opts)
		opts = &defaults;
	if ((ret = attach_ifname(prog, ifindex, ifname)) < 0)
		return ret;
	if (opts->netlink || opts->handle || opts->priority)
		return attach_tc_netlink(prog, prog_fd, ifindex, opts, ifname, out);
	fd = attach_link_create(prog_fd, ifindex,
				opts->egress ? LBPF_ATTACH_TCX_EGRESS : LBPF_ATTACH_TCX_INGRESS, 0,
				NULL, 0);
	/* Kernels before 6.6 do not know the tcx attach types. */
	if (fd == -EINVAL || fd == -EOPNOTSUPP)
		return attach_tc_netlink(prog, prog_fd, ifindex, opts, ifname, out);
	if (fd < 0)
		return lbpf_err(fd, "program '%s': attaching tcx %s to %s: %s",
				lbpf_program_name(prog), opts->egress ? "egress" : "ingress",
				ifname, strerror(-fd));
	*out = attach_bpf_link_new(fd, "tcx %s %s program %s", ifname,
				   opts->egress ? "egress" : "ingress", lbpf_program_name(prog));
	return *out ? 0 : -ENOMEM;
}
