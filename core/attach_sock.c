/* Socket-level attachments: socket filters, network namespace links (sk_lookup,
 * flow_dissector), sockmap programs (sk_msg, sk_skb) and netfilter hooks. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif
#ifndef SO_DETACH_BPF
#define SO_DETACH_BPF 27 /* same value as SO_DETACH_FILTER */
#endif

static int socket_detach(lbpf_link *link)
{
	int dummy = 0;

	if (setsockopt(link->aux_fd, SOL_SOCKET, SO_DETACH_BPF, &dummy, sizeof(dummy)) < 0 &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

int lbpf_program_attach_socket(lbpf_program *prog, int sock_fd, lbpf_link **out)
{
	int prog_fd = attach_prog_fd(prog), own;
	lbpf_link *link;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (setsockopt(sock_fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd, sizeof(prog_fd)) < 0)
		return lbpf_err(errno, "program '%s': attaching to socket fd %d: %s",
				lbpf_program_name(prog), sock_fd,
				errno == ENOTSOCK ? "not a socket" : strerror(errno));
	/* Our own reference to the socket, so detaching works whatever the caller does. */
	own = fcntl(sock_fd, F_DUPFD_CLOEXEC, 3);
	link = own >= 0 ? lbpf_link_new(-1, "socket fd %d program %s", sock_fd,
					lbpf_program_name(prog)) : NULL;
	if (!link) {
		int dummy = 0;

		setsockopt(sock_fd, SOL_SOCKET, SO_DETACH_BPF, &dummy, sizeof(dummy));
		if (own >= 0)
			close(own);
		return lbpf_err(ENOMEM, "out of resources attaching program '%s' to a socket",
				lbpf_program_name(prog));
	}
	link->aux_fd = own;
	link->detach = socket_detach;
	*out = link;
	return 0;
}

int lbpf_program_attach_netns(lbpf_program *prog, int netns_fd, lbpf_link **out)
{
	int prog_fd = attach_prog_fd(prog), fd;
	uint32_t type;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	type = lbpf_program_expected_attach_type(prog);
	if (lbpf_program_type(prog) == BPF_PROG_TYPE_SK_LOOKUP)
		type = BPF_SK_LOOKUP;
	else if (lbpf_program_type(prog) == BPF_PROG_TYPE_FLOW_DISSECTOR)
		type = BPF_FLOW_DISSECTOR;
	fd = attach_link_create(prog_fd, netns_fd, type, 0, NULL, 0);
	if (fd < 0)
		return lbpf_err(fd, "program '%s': attaching to network namespace (%s): %s",
				lbpf_program_name(prog), lbpf_attach_type_name(type),
				fd == -EINVAL ? "not a network namespace fd, or not an sk_lookup / "
						"flow_dissector program"
					      : strerror(-fd));
	*out = attach_bpf_link_new(fd, "netns %s program %s", lbpf_attach_type_name(type),
				   lbpf_program_name(prog));
	return *out ? 0 : -ENOMEM;
}

int lbpf_program_attach_sockmap(lbpf_program *prog, int map_fd, lbpf_link **out)
{
	uint32_t type;

	*out = NULL;
	type = lbpf_program_expected_attach_type(prog);
	/* sk_msg programs load without an expected attach type; the map attach needs it. */
	if (lbpf_program_type(prog) == BPF_PROG_TYPE_SK_MSG)
		type = BPF_SK_MSG_VERDICT;
	else if (lbpf_program_type(prog) == BPF_PROG_TYPE_SK_SKB && type != BPF_SK_SKB_STREAM_PARSER &&
		 type != BPF_SK_SKB_STREAM_VERDICT)
		type = BPF_SK_SKB_VERDICT;
	return attach_prog_attach(prog, map_fd, type, 0, "sockmap", out);
}

int lbpf_program_attach_netfilter(lbpf_program *prog, const struct lbpf_netfilter_opts *opts,
				  lbpf_link **out)
{
	struct { uint32_t pf, hooknum; int32_t priority; uint32_t flags; } nf;
	int prog_fd = attach_prog_fd(prog), fd;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (!opts)
		return lbpf_err(EINVAL, "program '%s': a netfilter attach needs pf and hooknum",
				lbpf_program_name(prog));
	nf.pf = opts->pf;
	nf.hooknum = opts->hooknum;
	nf.priority = opts->priority;
	nf.flags = opts->flags;
	fd = attach_link_create(prog_fd, 0, LBPF_ATTACH_NETFILTER, 0, &nf, sizeof(nf));
	if (fd < 0)
		return lbpf_err(fd, "program '%s': attaching netfilter hook (pf %u hook %u prio %d): %s",
				lbpf_program_name(prog), nf.pf, nf.hooknum, nf.priority,
				fd == -EOPNOTSUPP || fd == -EINVAL
					? "refused (kernel without netfilter BPF links, or bad pf/hook/"
					  "priority)" : strerror(-fd));
	*out = attach_bpf_link_new(fd, "netfilter pf %u hook %u prio %d program %s", nf.pf,
				   nf.hooknum, nf.priority, lbpf_program_name(prog));
	return *out ? 0 : -ENOMEM;
}
