/* luabpf public API, attach part (included by luabpf.h; do not include directly).
 *
 * Every attach function returns 0 and stores a new link in *out, or a negative errno with a
 * message (lbpf_errmsg()). The program must be loaded. Options structs may be NULL (defaults);
 * a zeroed options struct means the defaults too.
 */
#ifndef LUABPF_ATTACH_H
#define LUABPF_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Constants newer than the 6.1 UAPI headers the project builds against. */
#define LBPF_ATTACH_NETFILTER 45
#define LBPF_ATTACH_TCX_INGRESS 46
#define LBPF_ATTACH_TCX_EGRESS 47
#define LBPF_ATTACH_TRACE_UPROBE_MULTI 48
#define LBPF_LINK_TYPE_NETFILTER 10
#define LBPF_LINK_TYPE_TCX 11
#define LBPF_LINK_TYPE_UPROBE_MULTI 12
#define LBPF_LINK_TYPE_NETKIT 13
#define LBPF_LINK_TYPE_SOCKMAP 14

/* ---- networking --------------------------------------------------------------------------- */

enum lbpf_xdp_mode {
	LBPF_XDP_MODE_DEFAULT = 0, /* the kernel picks: driver mode when supported, else generic */
	LBPF_XDP_MODE_SKB,         /* generic (skb) XDP */
	LBPF_XDP_MODE_DRV,         /* native driver XDP */
	LBPF_XDP_MODE_HW,          /* offloaded to the NIC */
};
struct lbpf_xdp_opts {
	enum lbpf_xdp_mode mode;
	bool netlink;  /* skip the bpf_link and attach through netlink (IFLA_XDP) directly */
	/* Netlink only: replace a program already attached (default: fail with EBUSY). */
	bool replace;
	int expected_prog_fd; /* netlink + replace: only replace this program (0: any) */
};
/* bpf_link (BPF_LINK_CREATE, BPF_XDP) first; netlink IFLA_XDP when links are unsupported. */
int lbpf_program_attach_xdp(lbpf_program *prog, int ifindex, const struct lbpf_xdp_opts *opts,
			    lbpf_link **out);
/* Id of the XDP program on ifindex (0 if none) as netlink reports it; mode out may be NULL. */
int lbpf_xdp_query(int ifindex, uint32_t *prog_id, enum lbpf_xdp_mode *mode);

struct lbpf_tc_opts {
	bool egress;       /* default: ingress */
	bool netlink;      /* skip tcx and use clsact + cls_bpf (direct action) */
	uint16_t priority; /* netlink filter priority (0: the kernel picks) */
	uint32_t handle;   /* netlink filter handle (0: the kernel picks) */
};
/* tcx link (BPF_TCX_INGRESS/EGRESS) where the kernel has it, else clsact + cls_bpf. */
int lbpf_program_attach_tc(lbpf_program *prog, int ifindex, const struct lbpf_tc_opts *opts,
			   lbpf_link **out);

struct lbpf_cgroup_opts {
	bool override_attach_type;          /* use attach_type instead of the program's */
	enum bpf_attach_type attach_type;
	bool prog_attach;  /* skip bpf_link and use BPF_PROG_ATTACH (with BPF_F_ALLOW_MULTI) */
};
/* cgroup_fd: an open cgroup v2 directory (not kept). */
int lbpf_program_attach_cgroup(lbpf_program *prog, int cgroup_fd,
			       const struct lbpf_cgroup_opts *opts, lbpf_link **out);
/* Same with a path to the cgroup directory. */
int lbpf_program_attach_cgroup_path(lbpf_program *prog, const char *path,
				    const struct lbpf_cgroup_opts *opts, lbpf_link **out);

/* SO_ATTACH_BPF on a socket; the link keeps a duplicate of sock_fd to detach later. */
int lbpf_program_attach_socket(lbpf_program *prog, int sock_fd, lbpf_link **out);
/* sk_lookup / flow_dissector: a network namespace link. netns_fd: open /proc/PID/ns/net or
 * /var/run/netns/NAME (not kept). */
int lbpf_program_attach_netns(lbpf_program *prog, int netns_fd, lbpf_link **out);
/* sk_msg / sk_skb programs onto a sockmap or sockhash (BPF_PROG_ATTACH to the map). */
int lbpf_program_attach_sockmap(lbpf_program *prog, int map_fd, lbpf_link **out);

struct lbpf_netfilter_opts {
	uint32_t pf;       /* NFPROTO_IPV4 (2) / NFPROTO_IPV6 (10) */
	uint32_t hooknum;  /* NF_INET_PRE_ROUTING (0) ... NF_INET_POST_ROUTING (4) */
	int32_t priority;
	uint32_t flags;    /* BPF_F_NETFILTER_IP_DEFRAG (1) */
};
int lbpf_program_attach_netfilter(lbpf_program *prog, const struct lbpf_netfilter_opts *opts,
				  lbpf_link **out);

/* ---- tracing ------------------------------------------------------------------------------ */

struct lbpf_uprobe_opts {
	bool retprobe;
	pid_t pid;               /* 0: every process */
	uint64_t offset;         /* added to func's address; the file offset when func is NULL */
	uint64_t ref_ctr_offset; /* file offset of a USDT-style semaphore (0: none) */
	uint64_t cookie;         /* bpf_get_attach_cookie() */
};
/* binary: a path, or a bare name looked up like ld.so (libraries) or $PATH (programs). */
int lbpf_program_attach_uprobe(lbpf_program *prog, const char *binary, const char *func,
			       const struct lbpf_uprobe_opts *opts, lbpf_link **out);
/* File offset of func in an ELF file (symbol address → offset through program headers). */
int lbpf_elf_symbol_offset(const char *path, const char *func, uint64_t *offset);
/* Finds binary like ld.so / $PATH would; writes the path into buf. */
int lbpf_resolve_binary_path(const char *binary, char *buf, size_t size);

/* USDT probe provider:name in binary (.note.stapsdt); semaphores are incremented by the
 * kernel while attached. A probe placed at several sites gets a uprobe on each. When the
 * program's object has the __lbpf_usdt_specs map (bpf/include/usdt.bpf.h), each site's
 * arguments are parsed, stored in a free slot of that map (released on detach) and the slot
 * index becomes the uprobe's cookie; otherwise the cookie is the site index. */
int lbpf_program_attach_usdt(lbpf_program *prog, const char *binary, const char *provider,
			     const char *name, pid_t pid, lbpf_link **out);
struct lbpf_usdt_probe {
	uint64_t pc_offset;        /* file offset of the probe site */
	uint64_t semaphore_offset; /* file offset of the semaphore, 0 if none */
	char args[256];            /* the argument spec as written ("-4@%edi 8@%rax") */
};
/* Up to max probe sites of provider:name; returns how many exist. */
int lbpf_usdt_find(const char *binary, const char *provider, const char *name,
		   struct lbpf_usdt_probe *sites, int max);

/* A probe's arguments as the BPF side reads them (bpf/include/usdt.bpf.h: the struct layout of
 * the __lbpf_usdt_specs map's values, which attach_usdt fills). */
#define LBPF_USDT_MAX_ARGS 12
#define LBPF_USDT_SPECS_MAP "__lbpf_usdt_specs"
enum lbpf_usdt_arg_kind {
	LBPF_USDT_ARG_CONST = 1,     /* "$imm" */
	LBPF_USDT_ARG_REG = 2,       /* "%reg" */
	LBPF_USDT_ARG_REG_DEREF = 3, /* "off(%reg)": user memory at register + offset */
};
struct lbpf_usdt_arg {
	int64_t value;       /* CONST: the value; REG_DEREF: the offset added to the register */
	uint16_t reg_offset; /* byte offset of the register in the kernel's struct pt_regs */
	uint8_t kind;        /* enum lbpf_usdt_arg_kind */
	uint8_t size;        /* 1, 2, 4 or 8 bytes */
	uint8_t is_signed;
	uint8_t pad[3];
};
struct lbpf_usdt_spec {
	uint32_t arg_cnt;
	uint32_t in_use; /* set while a link uses the map slot */
	struct lbpf_usdt_arg args[LBPF_USDT_MAX_ARGS];
};
/* Parses a site's argument string ("-4@%edi 8@$5 -4@-20(%rbp)", x86-64 AT&T operands) into
 * spec (zeroed first). -EINVAL with the offending operand named; -EOPNOTSUPP for operands the
 * BPF side cannot read (RIP-relative, indexed, high-byte registers, other architectures). */
int lbpf_usdt_parse_args(const char *text, struct lbpf_usdt_spec *spec);
/* Name of the 64-bit register at a struct pt_regs offset ("rdi"), NULL if none. */
const char *lbpf_usdt_reg_name(uint16_t reg_offset);

/* kprobe PMU, falling back to tracefs kprobe_events. */
int lbpf_program_attach_kprobe(lbpf_program *prog, const char *func, uint64_t offset,
			       bool retprobe, lbpf_link **out);
/* The path kernels before 4.17 (no kprobe PMU) and 5.15 (no perf links) need, on any kernel:
 * a tracefs kprobe_events entry and PERF_EVENT_IOC_SET_BPF (removed again on detach). */
int lbpf_program_attach_kprobe_legacy(lbpf_program *prog, const char *func, uint64_t offset,
				      bool retprobe, lbpf_link **out);

/* kprobe.multi: one link on every kernel function matching pattern (a glob over tracefs
 * available_filter_functions); needs 5.18+ with CONFIG_FPROBE. */
int lbpf_program_attach_kprobe_multi(lbpf_program *prog, const char *pattern, bool retprobe,
				     lbpf_link **out);
/* The same on the functions listed (names as in available_filter_functions). */
int lbpf_program_attach_kprobe_multi_syms(lbpf_program *prog, const char *const *funcs,
					  size_t count, bool retprobe, lbpf_link **out);

struct lbpf_uprobe_multi_opts {
	bool retprobe;
	pid_t pid; /* 0: every process */
};
/* uprobe.multi: one link on every function of binary whose symbol matches pattern (6.6+). */
int lbpf_program_attach_uprobe_multi(lbpf_program *prog, const char *binary, const char *pattern,
				     const struct lbpf_uprobe_multi_opts *opts, lbpf_link **out);

struct lbpf_perf_event_opts {
	uint32_t type;          /* PERF_TYPE_SOFTWARE, PERF_TYPE_HARDWARE, ... */
	uint64_t config;        /* PERF_COUNT_SW_CPU_CLOCK, ... */
	uint64_t sample_period; /* one of period / freq; neither: freq 99 Hz */
	uint64_t sample_freq;
	pid_t pid;              /* 0: every process (needs a CPU) */
	bool single_cpu;        /* only cpu; default one event per online CPU */
	int cpu;
};
/* One perf event per CPU, all held by the one link. */
int lbpf_program_attach_perf_event(lbpf_program *prog, const struct lbpf_perf_event_opts *opts,
				   lbpf_link **out);
/* Attach an existing perf event fd (the link takes ownership of it). */
int lbpf_program_attach_perf_event_fd(lbpf_program *prog, int perf_fd, uint64_t cookie,
				      const char *desc, lbpf_link **out);

/* fentry/fexit/fmod_ret/lsm/tp_btf/freplace: a BPF trampoline link to the target chosen at
 * load time. */
int lbpf_program_attach_trampoline(lbpf_program *prog, lbpf_link **out);

/* ---- struct_ops --------------------------------------------------------------------------- */

/* Registers a struct_ops map of a loaded object (its value: the object's data and program fds):
 * a map update, plus a bpf_link for .struct_ops.link maps (6.4+). Detaching unregisters. */
int lbpf_map_attach_struct_ops(lbpf_map *map, lbpf_link **out);

/* ---- iterators ---------------------------------------------------------------------------- */

struct lbpf_iter_opts {
	int map_fd;   /* iter/bpf_map_elem, iter/sockmap, ...: the map walked (0: none) */
	int cgroup_fd; /* iter/cgroup: the start cgroup (0: none) */
	uint32_t cgroup_order;
	uint32_t tid, pid; /* iter/task*: restrict to a thread / process (0: all) */
};
int lbpf_program_attach_iter(lbpf_program *prog, const struct lbpf_iter_opts *opts,
			     lbpf_link **out);
/* A readable fd producing the iterator's output (BPF_ITER_CREATE). Caller closes it. */
int lbpf_link_iter_create(lbpf_link *link);
/* Attach, run the iterator to the end and return everything it wrote (malloc'd, NUL
 * terminated, *len without the NUL). */
int lbpf_program_iterate(lbpf_program *prog, const struct lbpf_iter_opts *opts, char **buf,
			 size_t *len);

/* ---- links and pins ----------------------------------------------------------------------- */

/* Swap the program of a bpf_link (BPF_LINK_UPDATE). */
int lbpf_link_update_program(lbpf_link *link, lbpf_program *prog);
/* Opens a pinned bpf_link; the result counts as pinned (freeing it leaves it attached,
 * lbpf_link_detach() detaches it for everyone). */
int lbpf_link_open_pinned(const char *path, lbpf_link **out);
/* Removes the pin at path (unlink) and marks the link unpinned: it detaches when freed. */
int lbpf_link_unpin(lbpf_link *link, const char *path);
/* BPF_OBJ_GET_INFO_BY_FD of the link (info is zeroed first). */
int lbpf_link_get_info(const lbpf_link *link, struct bpf_link_info *info);
/* Description of a link info ("xdp ifindex 3", "cgroup id 1 ingress"). */
int lbpf_link_info_describe(const struct bpf_link_info *info, char *buf, size_t size);

int lbpf_program_pin(lbpf_program *prog, const char *path);
/* Opens a program by bpffs path or by id. Returns a program fd (caller closes it). */
int lbpf_prog_fd_open_pinned(const char *path);
int lbpf_prog_fd_by_id(uint32_t id);
/* BPF_OBJ_GET_INFO_BY_FD of a program fd (info zeroed first). */
int lbpf_prog_fd_get_info(int prog_fd, struct bpf_prog_info *info);

#endif
