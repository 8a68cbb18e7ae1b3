/* rtnetlink requests for XDP and tc attachments (no libmnl: the few messages we need). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "netlink.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

void lbpf_nl_init(struct lbpf_nl_msg *msg, uint16_t type, uint16_t flags, const void *fam,
		  size_t fam_len)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.nlmsg_len = NLMSG_LENGTH(fam_len);
	msg->hdr.nlmsg_type = type;
	msg->hdr.nlmsg_flags = flags;
	memcpy(NLMSG_DATA(&msg->hdr), fam, fam_len);
}

void lbpf_nl_put(struct lbpf_nl_msg *msg, uint16_t type, const void *data, size_t len)
{
	size_t at = NLMSG_ALIGN(msg->hdr.nlmsg_len);
	struct nlattr *a = (struct nlattr *)(msg->buf + at);

	if (at + NLA_ALIGN(NLA_HDRLEN + len) > sizeof(msg->buf)) {
		msg->overflow = 1;
		return;
	}
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	msg->hdr.nlmsg_len = at + NLA_ALIGN(a->nla_len);
}

void lbpf_nl_put_u32(struct lbpf_nl_msg *msg, uint16_t type, uint32_t value)
{
	lbpf_nl_put(msg, type, &value, sizeof(value));
}

void lbpf_nl_put_str(struct lbpf_nl_msg *msg, uint16_t type, const char *s)
{
	lbpf_nl_put(msg, type, s, strlen(s) + 1);
}

void lbpf_nl_nest_begin(struct lbpf_nl_msg *msg, uint16_t type)
{
	size_t at = NLMSG_ALIGN(msg->hdr.nlmsg_len);

	if (msg->depth >= (int)(sizeof(msg->nests) / sizeof(msg->nests[0]))) {
		msg->overflow = 1;
		return;
	}
	lbpf_nl_put(msg, type | NLA_F_NESTED, NULL, 0);
	msg->nests[msg->depth++] = (struct nlattr *)(msg->buf + at);
}

void lbpf_nl_nest_end(struct lbpf_nl_msg *msg)
{
	struct nlattr *a;

	if (msg->depth <= 0)
		return;
	a = msg->nests[--msg->depth];
	a->nla_len = (uint16_t)(msg->buf + msg->hdr.nlmsg_len - (char *)a);
}

void lbpf_nl_parse(const void *attrs, size_t len, const struct nlattr **tb, int max)
{
	const struct nlattr *a = attrs;

	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		int type = a->nla_type & NLA_TYPE_MASK;

		if (type <= max)
			tb[type] = a;
		size_t step = (size_t)NLA_ALIGN(a->nla_len);

		len -= step < len ? step : len;
		a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	/* Extended acks carry the kernel's explanation ("Native and generic XDP can't be
	 * active at the same time"); without them we would only have an errno. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void copy_extack(const struct nlmsghdr *h, char *why, size_t why_len)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t off = sizeof(*e);

	if (!why || !why_len || !(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(h->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if (NLMSG_HDRLEN + off >= h->nlmsg_len)
		return;
	lbpf_nl_parse((const char *)e + off, h->nlmsg_len - NLMSG_HDRLEN - off, tb,
		      NLMSGERR_ATTR_MAX);
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(why, why_len, "%.*s", (int)lbpf_nl_len(tb[NLMSGERR_ATTR_MSG]),
			 (const char *)lbpf_nl_data(tb[NLMSGERR_ATTR_MSG]));
}

/* Reads replies until the ack for seq arrives. Returns the ack's error (0 or -errno). */
static int nl_wait_ack(int fd, uint32_t seq, lbpf_nl_reply_fn fn, void *arg, char *why,
		       size_t why_len)
{
	static _Thread_local char buf[32768];

	for (;;) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		int n;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = (int)got;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error)
					copy_extack(h, why, why_len);
				return e->error;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (fn && fn(h, arg))
				return 0;
		}
	}
}

int lbpf_nl_request(struct lbpf_nl_msg *msg, lbpf_nl_reply_fn fn, void *arg, char *why,
		    size_t why_len)
{
	static _Thread_local uint32_t seq;
	int fd, ret;

	if (why && why_len)
		why[0] = '\0';
	if (msg->overflow)
		return -EMSGSIZE;
	fd = nl_open();
	if (fd < 0)
		return fd;
	msg->hdr.nlmsg_seq = ++seq;
	msg->hdr.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(fd, msg->buf, msg->hdr.nlmsg_len, 0) < 0)
		ret = -errno;
	else
		ret = nl_wait_ack(fd, msg->hdr.nlmsg_seq, fn, arg, why, why_len);
	close(fd);
	return ret;
}
