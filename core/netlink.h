/* A minimal rtnetlink client: enough for XDP (IFLA_XDP) and tc (clsact + cls_bpf). */
#ifndef LBPF_NETLINK_H
#define LBPF_NETLINK_H

#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

/* A request under construction: header, family header, then attributes. */
struct lbpf_nl_msg {
	union {
		struct nlmsghdr hdr;
		char buf[1024];
	};
	struct nlattr *nests[4];
	int depth;
	int overflow; /* set when an attribute did not fit: the request is refused */
};

/* Starts a request of type/flags with a family header of fam_len bytes (copied from fam). */
void lbpf_nl_init(struct lbpf_nl_msg *msg, uint16_t type, uint16_t flags, const void *fam,
		  size_t fam_len);
void lbpf_nl_put(struct lbpf_nl_msg *msg, uint16_t type, const void *data, size_t len);
void lbpf_nl_put_u32(struct lbpf_nl_msg *msg, uint16_t type, uint32_t value);
void lbpf_nl_put_str(struct lbpf_nl_msg *msg, uint16_t type, const char *s);
void lbpf_nl_nest_begin(struct lbpf_nl_msg *msg, uint16_t type);
void lbpf_nl_nest_end(struct lbpf_nl_msg *msg);

/* Called for each reply message that is not an ack/error; return non-zero to stop. */
typedef int (*lbpf_nl_reply_fn)(const struct nlmsghdr *msg, void *arg);
/* Sends msg on a fresh NETLINK_ROUTE socket and waits for the ack. Returns 0 or -errno; on
 * failure the kernel's extended ack message (if any) is copied into why (size why_len). */
int lbpf_nl_request(struct lbpf_nl_msg *msg, lbpf_nl_reply_fn fn, void *arg, char *why,
		    size_t why_len);

/* Attribute walking inside a message: fills tb[type] for types <= max (others ignored). */
void lbpf_nl_parse(const void *attrs, size_t len, const struct nlattr **tb, int max);
static inline const void *lbpf_nl_data(const struct nlattr *a) { return (const char *)a + NLA_HDRLEN; }
static inline size_t lbpf_nl_len(const struct nlattr *a) { return a->nla_len - NLA_HDRLEN; }

#endif
