/* Auto-attach: the program's section name (libbpf's conventions) says where it goes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "luabpf.h"

enum attach_kind {
	KIND_TRACEPOINT,   /* tracepoint/CAT/NAME */
	KIND_RAW_TP,       /* raw_tp/NAME */
	KIND_TRAMPOLINE,   /* fentry/fexit/fmod_ret/lsm/tp_btf: target fixed at load */
	KIND_KPROBE,       /* kprobe/FUNC[+OFF] */
	KIND_KRETPROBE,
	KIND_KSYSCALL,     /* ksyscall/NAME: kprobe on the arch syscall wrapper */
	KIND_KPROBE_MULTI, /* kprobe.multi/PATTERN */
	KIND_KRETPROBE_MULTI,
	KIND_UPROBE_MULTI, /* uprobe.multi/PATH:PATTERN */
	KIND_URETPROBE_MULTI,
	KIND_KRETSYSCALL,
	KIND_UPROBE,       /* uprobe/PATH:FUNC[+OFF] */
	KIND_URETPROBE,
	KIND_USDT,         /* usdt/PATH:PROVIDER:NAME */
	KIND_ITER,         /* iter/KIND */
	KIND_NETNS,        /* sk_lookup, flow_dissector: the caller's network namespace */
	KIND_NEEDS_TARGET, /* cannot auto-attach: the user must say where */
	KIND_NOT_ATTACHABLE,
};

struct section_rule {
	const char *prefix;  /* matches "prefix" exactly or "prefix/..." */
	enum attach_kind kind;
	const char *hint;    /* for KIND_NEEDS_TARGET / KIND_NOT_ATTACHABLE: what to do instead */
};

static const struct section_rule rules[] = {
	{ "tracepoint", KIND_TRACEPOINT, NULL },
	{ "tp", KIND_TRACEPOINT, NULL },
	{ "raw_tracepoint", KIND_RAW_TP, NULL },
	{ "raw_tp", KIND_RAW_TP, NULL },
	{ "raw_tracepoint.w", KIND_RAW_TP, NULL },
	{ "raw_tp.w", KIND_RAW_TP, NULL },
	{ "tp_btf", KIND_TRAMPOLINE, NULL },
	{ "fentry", KIND_TRAMPOLINE, NULL },
	{ "fentry.s", KIND_TRAMPOLINE, NULL },
	{ "fexit", KIND_TRAMPOLINE, NULL },
	{ "fexit.s", KIND_TRAMPOLINE, NULL },
	{ "fmod_ret", KIND_TRAMPOLINE, NULL },
	{ "fmod_ret.s", KIND_TRAMPOLINE, NULL },
	{ "lsm", KIND_TRAMPOLINE, NULL },
	{ "lsm.s", KIND_TRAMPOLINE, NULL },
	{ "freplace", KIND_TRAMPOLINE, NULL },
	{ "kprobe", KIND_KPROBE, NULL },
	{ "kretprobe", KIND_KRETPROBE, NULL },
	{ "ksyscall", KIND_KSYSCALL, NULL },
	{ "kprobe.multi", KIND_KPROBE_MULTI, NULL },
	{ "kretprobe.multi", KIND_KRETPROBE_MULTI, NULL },
	{ "uprobe.multi", KIND_UPROBE_MULTI, NULL },
	{ "uprobe.multi.s", KIND_UPROBE_MULTI, NULL },
	{ "uretprobe.multi", KIND_URETPROBE_MULTI, NULL },
	{ "uretprobe.multi.s", KIND_URETPROBE_MULTI, NULL },
	{ "kretsyscall", KIND_KRETSYSCALL, NULL },
	{ "uprobe", KIND_UPROBE, NULL },
	{ "uprobe.s", KIND_UPROBE, NULL },
	{ "uretprobe", KIND_URETPROBE, NULL },
	{ "uretprobe.s", KIND_URETPROBE, NULL },
	{ "usdt", KIND_USDT, NULL },
	{ "iter", KIND_ITER, NULL },
	{ "iter.s", KIND_ITER, NULL },
	{ "sk_lookup", KIND_NETNS, NULL },
	{ "flow_dissector", KIND_NETNS, NULL },
	{ "lsm_cgroup", KIND_NEEDS_TARGET, "needs a cgroup: use attach_cgroup" },
	{ "sk_reuseport", KIND_NEEDS_TARGET, "needs a socket group: set it with SO_ATTACH_REUSEPORT_EBPF" },
	{ "lirc_mode2", KIND_NEEDS_TARGET, "needs a lirc device: not supported" },
	{ "xdp", KIND_NEEDS_TARGET, "needs an interface: use attach_xdp" },
	{ "xdp.frags", KIND_NEEDS_TARGET, "needs an interface: use attach_xdp" },
	{ "tc", KIND_NEEDS_TARGET, "needs an interface: use attach_tc" },
	{ "tcx", KIND_NEEDS_TARGET, "needs an interface: use attach_tc" },
	{ "classifier", KIND_NEEDS_TARGET, "needs an interface: use attach_tc" },
	{ "action", KIND_NEEDS_TARGET, "needs an interface: use attach_tc" },
	{ "socket", KIND_NEEDS_TARGET, "needs a socket: use attach_socket" },
	{ "cgroup_skb", KIND_NEEDS_TARGET, "needs a cgroup: use attach_cgroup" },
	{ "cgroup", KIND_NEEDS_TARGET, "needs a cgroup: use attach_cgroup" },
	{ "sockops", KIND_NEEDS_TARGET, "needs a cgroup: use attach_cgroup" },
	{ "sk_msg", KIND_NEEDS_TARGET, "needs a sockmap: use attach_sockmap" },
	{ "sk_skb", KIND_NEEDS_TARGET, "needs a sockmap: use attach_sockmap" },
	{ "perf_event", KIND_NEEDS_TARGET, "needs an event: use attach_perf_event" },
	{ "netfilter", KIND_NEEDS_TARGET, "needs a hook: use attach_netfilter" },
	{ "syscall", KIND_NOT_ATTACHABLE, "does not attach: run it with test_run" },
	{ "struct_ops", KIND_NOT_ATTACHABLE, "is a struct_ops member: it does not attach alone" },
};

static const struct section_rule *find_rule(const char *sec, const char **rest)
{
	const struct section_rule *best = NULL;
	size_t best_len = 0;

	/* The longest matching prefix wins ("raw_tp.w" over "raw_tp", "xdp.frags" over "xdp"). */
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		size_t len = strlen(rules[i].prefix);

		if (strncmp(sec, rules[i].prefix, len) != 0 || (sec[len] && sec[len] != '/'))
			continue;
		if (len > best_len) {
			best = &rules[i];
			best_len = len;
		}
	}
	if (best)
		*rest = sec[best_len] == '/' ? sec + best_len + 1 : "";
	return best;
}

static int attach_tracepoint_section(lbpf_program *prog, const char *target, lbpf_link **out)
{
	const char *slash = strchr(target, '/');
	char category[128];
	size_t len;

	if (!slash || slash == target || !slash[1])
		return lbpf_err(EINVAL,
				"program '%s': section '%s' must name a tracepoint as CATEGORY/NAME",
				lbpf_program_name(prog), lbpf_program_section(prog));
	len = (size_t)(slash - target);
	if (len >= sizeof(category))
		return lbpf_err(ENAMETOOLONG, "program '%s': tracepoint category too long",
				lbpf_program_name(prog));
	memcpy(category, target, len);
	category[len] = '\0';
	return lbpf_program_attach_tracepoint(prog, category, slash + 1, out);
}

/* "FUNC+OFF" → func (into buf) and offset. */
static int split_func_offset(const char *target, char *func, size_t size, uint64_t *offset)
{
	const char *plus = strchr(target, '+');
	size_t len = plus ? (size_t)(plus - target) : strlen(target);
	char *end;

	*offset = 0;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(func, target, len);
	func[len] = '\0';
	if (plus) {
		errno = 0;
		*offset = strtoull(plus + 1, &end, 0);
		if (errno || *end || end == plus + 1)
			return -EINVAL;
	}
	return 0;
}

static int attach_kprobe_section(lbpf_program *prog, const char *target, bool ret, bool syscall,
				 lbpf_link **out)
{
	char func[256], name[300];
	uint64_t offset;

	if (!*target || split_func_offset(target, func, sizeof(func), &offset) < 0 || !func[0])
		return lbpf_err(EINVAL, "program '%s': section '%s' must name a %s (use "
				"attach_kprobe for a target chosen at run time)", lbpf_program_name(prog),
				lbpf_program_section(prog), syscall ? "syscall" : "kernel function[+offset]");
	if (!syscall)
		return lbpf_program_attach_kprobe(prog, func, offset, ret, out);
	/* The syscall entry points carry the architecture's prefix since 4.17. */
#if defined(__x86_64__)
	snprintf(name, sizeof(name), "__x64_sys_%s", func);
#elif defined(__aarch64__)
	snprintf(name, sizeof(name), "__arm64_sys_%s", func);
#else
	snprintf(name, sizeof(name), "sys_%s", func);
#endif
	return lbpf_program_attach_kprobe(prog, name, 0, ret, out);
}

static int attach_uprobe_section(lbpf_program *prog, const char *target, bool ret,
				 lbpf_link **out)
{
	const char *colon = strrchr(target, ':');
	struct lbpf_uprobe_opts opts = { .retprobe = ret };
	char path[4096], func[256];

	if (!colon || colon == target || !colon[1])
		return lbpf_err(EINVAL, "program '%s': section '%s' must be uprobe/BINARY:FUNCTION"
				"[+OFFSET] to auto-attach; otherwise use attach_uprobe",
				lbpf_program_name(prog), lbpf_program_section(prog));
	snprintf(path, sizeof(path), "%.*s", (int)(colon - target), target);
	if (split_func_offset(colon + 1, func, sizeof(func), &opts.offset) < 0)
		return lbpf_err(EINVAL, "program '%s': bad function+offset in section '%s'",
				lbpf_program_name(prog), lbpf_program_section(prog));
	/* "uprobe/bin:0x1234" is a raw file offset. */
	if (func[0] >= '0' && func[0] <= '9') {
		char *end;

		opts.offset += strtoull(func, &end, 0);
		if (*end)
			return lbpf_err(EINVAL, "program '%s': bad offset in section '%s'",
					lbpf_program_name(prog), lbpf_program_section(prog));
		func[0] = '\0';
	}
	return lbpf_program_attach_uprobe(prog, path, func, &opts, out);
}

static int attach_uprobe_multi_section(lbpf_program *prog, const char *target, bool ret,
				       lbpf_link **out)
{
	const char *colon = strrchr(target, ':');
	struct lbpf_uprobe_multi_opts opts = { .retprobe = ret };
	char path[4096];

	if (!colon || colon == target || !colon[1])
		return lbpf_err(EINVAL, "program '%s': section '%s' must be uprobe.multi/BINARY:PATTERN"
				" to auto-attach; otherwise use attach_uprobe_multi",
				lbpf_program_name(prog), lbpf_program_section(prog));
	snprintf(path, sizeof(path), "%.*s", (int)(colon - target), target);
	return lbpf_program_attach_uprobe_multi(prog, path, colon + 1, &opts, out);
}

static int attach_usdt_section(lbpf_program *prog, const char *target, lbpf_link **out)
{
	const char *name = strrchr(target, ':'), *provider;
	char path[4096], prov[128];

	for (provider = name ? name - 1 : NULL; provider && provider > target && *provider != ':';)
		provider--;
	if (!name || !provider || provider == target || *provider != ':' || !name[1])
		return lbpf_err(EINVAL, "program '%s': section '%s' must be usdt/BINARY:PROVIDER:NAME"
				" to auto-attach; otherwise use attach_usdt",
				lbpf_program_name(prog), lbpf_program_section(prog));
	snprintf(path, sizeof(path), "%.*s", (int)(provider - target), target);
	snprintf(prov, sizeof(prov), "%.*s", (int)(name - provider - 1), provider + 1);
	return lbpf_program_attach_usdt(prog, path, prov, name + 1, 0, out);
}

/* sk_lookup / flow_dissector auto-attach to the caller's own network namespace. */
static int attach_netns_self(lbpf_program *prog, lbpf_link **out)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return lbpf_err(errno, "opening /proc/self/ns/net: %s", strerror(errno));
	ret = lbpf_program_attach_netns(prog, fd, out);
	close(fd);
	return ret;
}

static int attach_by_rule(lbpf_program *prog, const struct section_rule *rule, const char *target,
			  lbpf_link **out)
{
	const char *name = lbpf_program_name(prog), *sec = lbpf_program_section(prog);

	switch (rule->kind) {
	case KIND_TRACEPOINT:
		return attach_tracepoint_section(prog, target, out);
	case KIND_RAW_TP:
		if (!*target)
			return lbpf_err(EINVAL, "program '%s': section '%s' must name a raw tracepoint",
					name, sec);
		return lbpf_program_attach_raw_tracepoint(prog, target, out);
	case KIND_TRAMPOLINE:
		return lbpf_program_attach_trampoline(prog, out);
	case KIND_KPROBE:
	case KIND_KRETPROBE:
		return attach_kprobe_section(prog, target, rule->kind == KIND_KRETPROBE, false, out);
	case KIND_KSYSCALL:
	case KIND_KRETSYSCALL:
		return attach_kprobe_section(prog, target, rule->kind == KIND_KRETSYSCALL, true, out);
	case KIND_KPROBE_MULTI:
	case KIND_KRETPROBE_MULTI:
		if (!*target)
			return lbpf_err(EINVAL, "program '%s': section '%s' must name a function pattern "
					"(kprobe.multi/PATTERN)", name, sec);
		return lbpf_program_attach_kprobe_multi(prog, target,
							rule->kind == KIND_KRETPROBE_MULTI, out);
	case KIND_UPROBE_MULTI:
	case KIND_URETPROBE_MULTI:
		return attach_uprobe_multi_section(prog, target, rule->kind == KIND_URETPROBE_MULTI,
						   out);
	case KIND_UPROBE:
	case KIND_URETPROBE:
		return attach_uprobe_section(prog, target, rule->kind == KIND_URETPROBE, out);
	case KIND_USDT:
		return attach_usdt_section(prog, target, out);
	case KIND_ITER:
		return lbpf_program_attach_iter(prog, NULL, out);
	case KIND_NETNS:
		return attach_netns_self(prog, out);
	case KIND_NEEDS_TARGET:
	case KIND_NOT_ATTACHABLE:
		break;
	}
	return lbpf_err(EOPNOTSUPP, "program '%s' in section '%s' %s", name, sec, rule->hint);
}

int lbpf_program_attach(lbpf_program *prog, lbpf_link **out)
{
	const char *sec = lbpf_program_section(prog), *target = "";
	const struct section_rule *rule;

	*out = NULL;
	rule = sec ? find_rule(sec, &target) : NULL;
	if (!rule)
		return lbpf_err(EOPNOTSUPP,
				"program '%s': section '%s' does not say where to attach; use one of "
				"the attach_* methods",
				lbpf_program_name(prog), sec ? sec : "");
	return attach_by_rule(prog, rule, target, out);
}
