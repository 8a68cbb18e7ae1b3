/* Internal view of a link: every attach kind builds one of these. */
#ifndef LBPF_LINK_H
#define LBPF_LINK_H

#include <stdbool.h>

#include "luabpf.h"

struct lbpf_link {
	int fd;        /* bpf_link fd, perf event fd, or -1 */
	int aux_fd;    /* a second fd the attachment needs open (e.g. a socket), or -1 */
	bool attached;
	bool pinned;
	char *desc;    /* "tracepoint raw_syscalls:sys_enter" */
	/* Kind-specific undo (netlink removal, PROG_DETACH, ...). NULL: closing the fds is enough. */
	int (*detach)(struct lbpf_link *link);
	void *priv;    /* kind-specific state, freed with free() after detach */
};

/* A new attached link owning fd; desc is printf-style. NULL with errno-style error recorded. */
lbpf_link *lbpf_link_new(int fd, const char *desc_fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
