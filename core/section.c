/* Section names → program types, following the naming conventions libbpf established, so objects
 * written for other loaders load unchanged. */
#include <string.h>

#include "internal.h"

/* Newer than the 6.1 UAPI headers this builds against (attach types: luabpf_attach.h). */
#define LBPF_PROG_TYPE_NETFILTER 32

#define S LBPF_SEC_SLEEPABLE
#define B LBPF_SEC_BTF_ID
#define F LBPF_SEC_XDP_FRAGS

/* Longer prefixes first where one is a prefix of another ("xdp.frags/devmap" before "xdp"). */
static const struct lbpf_sec_def sec_defs[] = {
	{ "socket", BPF_PROG_TYPE_SOCKET_FILTER, 0, 0 },
	{ "sk_reuseport/migrate", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT_OR_MIGRATE, 0 },
	{ "sk_reuseport", BPF_PROG_TYPE_SK_REUSEPORT, BPF_SK_REUSEPORT_SELECT, 0 },
	{ "kprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, 0 },
	{ "kretprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, 0 },
	{ "kprobe", BPF_PROG_TYPE_KPROBE, 0, 0 },
	{ "kretprobe", BPF_PROG_TYPE_KPROBE, 0, 0 },
	{ "ksyscall", BPF_PROG_TYPE_KPROBE, 0, 0 },
	{ "kretsyscall", BPF_PROG_TYPE_KPROBE, 0, 0 },
	{ "uprobe.multi.s", BPF_PROG_TYPE_KPROBE, LBPF_ATTACH_TRACE_UPROBE_MULTI, S },
	{ "uretprobe.multi.s", BPF_PROG_TYPE_KPROBE, LBPF_ATTACH_TRACE_UPROBE_MULTI, S },
	{ "uprobe.multi", BPF_PROG_TYPE_KPROBE, LBPF_ATTACH_TRACE_UPROBE_MULTI, 0 },
	{ "uretprobe.multi", BPF_PROG_TYPE_KPROBE, LBPF_ATTACH_TRACE_UPROBE_MULTI, 0 },
	{ "uprobe.s", BPF_PROG_TYPE_KPROBE, 0, S },
	{ "uretprobe.s", BPF_PROG_TYPE_KPROBE, 0, S },
	{ "uprobe", BPF_PROG_TYPE_KPROBE, 0, 0 },
	{ "uretprobe", BPF_PROG_TYPE_KPROBE, 0, 0 },
	{ "usdt", BPF_PROG_TYPE_KPROBE, 0, 0 },
	{ "tcx/ingress", BPF_PROG_TYPE_SCHED_CLS, LBPF_ATTACH_TCX_INGRESS, 0 },
	{ "tcx/egress", BPF_PROG_TYPE_SCHED_CLS, LBPF_ATTACH_TCX_EGRESS, 0 },
	{ "tc/ingress", BPF_PROG_TYPE_SCHED_CLS, LBPF_ATTACH_TCX_INGRESS, 0 },
	{ "tc/egress", BPF_PROG_TYPE_SCHED_CLS, LBPF_ATTACH_TCX_EGRESS, 0 },
	{ "tc", BPF_PROG_TYPE_SCHED_CLS, 0, 0 },
	{ "classifier", BPF_PROG_TYPE_SCHED_CLS, 0, 0 },
	{ "action", BPF_PROG_TYPE_SCHED_ACT, 0, 0 },
	{ "tracepoint", BPF_PROG_TYPE_TRACEPOINT, 0, 0 },
	{ "tp_btf", BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, B },
	{ "tp", BPF_PROG_TYPE_TRACEPOINT, 0, 0 },
	{ "raw_tracepoint.w", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, 0 },
	{ "raw_tp.w", BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0, 0 },
	{ "raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0 },
	{ "raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0 },
	{ "fentry.s", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, B | S },
	{ "fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, B },
	{ "fmod_ret.s", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, B | S },
	{ "fmod_ret", BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, B },
	{ "fexit.s", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, B | S },
	{ "fexit", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, B },
	{ "freplace", BPF_PROG_TYPE_EXT, 0, 0 },
	{ "lsm.s", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, B | S },
	{ "lsm_cgroup", BPF_PROG_TYPE_LSM, BPF_LSM_CGROUP, B },
	{ "lsm", BPF_PROG_TYPE_LSM, BPF_LSM_MAC, B },
	{ "iter.s", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, B | S },
	{ "iter", BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, B },
	{ "syscall", BPF_PROG_TYPE_SYSCALL, 0, S },
	{ "xdp.frags/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, F },
	{ "xdp/devmap", BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, 0 },
	{ "xdp.frags/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, F },
	{ "xdp/cpumap", BPF_PROG_TYPE_XDP, BPF_XDP_CPUMAP, 0 },
	{ "xdp.frags", BPF_PROG_TYPE_XDP, BPF_XDP, F },
	{ "xdp", BPF_PROG_TYPE_XDP, BPF_XDP, 0 },
	{ "perf_event", BPF_PROG_TYPE_PERF_EVENT, 0, 0 },
	{ "lwt_in", BPF_PROG_TYPE_LWT_IN, 0, 0 },
	{ "lwt_out", BPF_PROG_TYPE_LWT_OUT, 0, 0 },
	{ "lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, 0, 0 },
	{ "lwt_seg6local", BPF_PROG_TYPE_LWT_SEG6LOCAL, 0, 0 },
	{ "sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS, 0 },
	{ "sk_skb/stream_parser", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_PARSER, 0 },
	{ "sk_skb/stream_verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_STREAM_VERDICT, 0 },
	{ "sk_skb/verdict", BPF_PROG_TYPE_SK_SKB, BPF_SK_SKB_VERDICT, 0 },
	{ "sk_skb", BPF_PROG_TYPE_SK_SKB, 0, 0 },
	{ "sk_msg", BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT, 0 },
	{ "lirc_mode2", BPF_PROG_TYPE_LIRC_MODE2, BPF_LIRC_MODE2, 0 },
	{ "flow_dissector", BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_FLOW_DISSECTOR, 0 },
	{ "cgroup_skb/ingress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS, 0 },
	{ "cgroup_skb/egress", BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS, 0 },
	{ "cgroup/skb", BPF_PROG_TYPE_CGROUP_SKB, 0, 0 },
	{ "cgroup/sock_create", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, 0 },
	{ "cgroup/sock_release", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_RELEASE, 0 },
	{ "cgroup/sock", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE, 0 },
	{ "cgroup/post_bind4", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND, 0 },
	{ "cgroup/post_bind6", BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND, 0 },
	{ "cgroup/bind4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_BIND, 0 },
	{ "cgroup/bind6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_BIND, 0 },
	{ "cgroup/connect4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT, 0 },
	{ "cgroup/connect6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT, 0 },
	{ "cgroup/sendmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG, 0 },
	{ "cgroup/sendmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG, 0 },
	{ "cgroup/recvmsg4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG, 0 },
	{ "cgroup/recvmsg6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_RECVMSG, 0 },
	{ "cgroup/getpeername4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETPEERNAME, 0 },
	{ "cgroup/getpeername6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETPEERNAME, 0 },
	{ "cgroup/getsockname4", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_GETSOCKNAME, 0 },
	{ "cgroup/getsockname6", BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETSOCKNAME, 0 },
	{ "cgroup/sysctl", BPF_PROG_TYPE_CGROUP_SYSCTL, BPF_CGROUP_SYSCTL, 0 },
	{ "cgroup/getsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_GETSOCKOPT, 0 },
	{ "cgroup/setsockopt", BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT, 0 },
	{ "cgroup/dev", BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, 0 },
	{ "struct_ops", BPF_PROG_TYPE_STRUCT_OPS, 0, 0 },
	{ "sk_lookup", BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP, 0 },
	{ "netfilter", LBPF_PROG_TYPE_NETFILTER, LBPF_ATTACH_NETFILTER, 0 },
};

/* A prefix matches the name itself, or the name followed by '/'. */
static bool prefix_matches(const struct lbpf_sec_def *def, const char *name)
{
	size_t len = strlen(def->prefix);

	if (strncmp(name, def->prefix, len))
		return false;
	if (name[len] == '\0' || name[len] == '/')
		return true;
	return false;
}

const struct lbpf_sec_def *lbpf_sec_def_find(const char *sec_name)
{
	for (size_t i = 0; i < sizeof(sec_defs) / sizeof(sec_defs[0]); i++)
		if (prefix_matches(&sec_defs[i], sec_name))
			return &sec_defs[i];
	return NULL;
}
