/*
 * Kernel feature probing: does this kernel know a program type, a map type, a helper (for a
 * program type)? Answered the only reliable way: by asking the kernel to load a tiny program or
 * create a tiny map, and reading why it refuses. Each answer is cached for the process.
 */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "luabpf.h"
#include "sys.h"

/* Newer constants than the 6.1 UAPI header has. */
#define PROBE_MAP_TYPE_CGRP_STORAGE 32
#define PROBE_MAP_TYPE_ARENA 33
#define PROBE_PROG_TYPE_NETFILTER 32
#define PROBE_ATTACH_NETFILTER 45
#define PROBE_MAX_TYPES 64
#define PROBE_MAX_HELPERS 256

enum { UNPROBED = 0, YES = 1, NO = 2 };

static unsigned char prog_cache[PROBE_MAX_TYPES];
/* Whether this process holds every capability BPF asks for: CAP_SYS_ADMIN, or CAP_BPF with
 * CAP_PERFMON and CAP_NET_ADMIN. Then an EPERM is the kernel's answer (lockdown, no trampolines),
 * not a missing privilege. */
static int fully_privileged(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t eff;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) != 0)
		return 0;
	eff = data[0].effective | (uint64_t)data[1].effective << 32;
	if (eff & (1ull << CAP_SYS_ADMIN))
		return 1;
	return (eff & (1ull << 39 /* CAP_BPF */)) && (eff & (1ull << 38 /* CAP_PERFMON */)) &&
	       (eff & (1ull << CAP_NET_ADMIN));
}

/* A probe the kernel refused for lack of privilege answers nothing about the kernel: it is
 * reported as -EPERM ("cannot tell") and not cached, so a later privileged call probes again. */
static int refused_for_privilege(int ret)
{
	return ret == -EPERM && !fully_privileged();
}

static int cannot_tell(const char *what, int type)
{
	return lbpf_err(EPERM, "cannot probe %s %d: the kernel refused for lack of privilege", what,
			type);
}

static unsigned char map_cache[PROBE_MAX_TYPES];
static unsigned char helper_cache[PROBE_MAX_TYPES][PROBE_MAX_HELPERS];

/* ---- programs --------------------------------------------------------------------------------- */

/* Some types refuse to load without the attach type they are always used with. */
static enum bpf_attach_type expected_attach_type(enum bpf_prog_type type)
{
	switch (type) {
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR: return BPF_CGROUP_INET4_CONNECT;
	case BPF_PROG_TYPE_CGROUP_SOCKOPT: return BPF_CGROUP_GETSOCKOPT;
	case BPF_PROG_TYPE_SK_LOOKUP: return BPF_SK_LOOKUP;
	case BPF_PROG_TYPE_TRACING: return BPF_TRACE_FENTRY;
	case BPF_PROG_TYPE_LSM: return BPF_LSM_MAC;
	default:
		if ((int)type == PROBE_PROG_TYPE_NETFILTER)
			return (enum bpf_attach_type)PROBE_ATTACH_NETFILTER;
		return (enum bpf_attach_type)0;
	}
}

/* Loads insns as a GPL program of type; returns the fd or -errno, with the verifier log. */
static int load_probe(enum bpf_prog_type type, const struct bpf_insn *insns, uint32_t count,
		      char *log, uint32_t log_size)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.expected_attach_type = expected_attach_type(type);
	attr.insns = lbpf_ptr(insns);
	attr.insn_cnt = count;
	attr.license = lbpf_ptr("GPL");
	if (log) {
		log[0] = '\0';
		attr.log_buf = lbpf_ptr(log);
		attr.log_size = log_size;
		attr.log_level = 1;
	}
	return lbpf_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
}

int lbpf_probe_prog_type(enum bpf_prog_type type)
{
	/* r0 = 0; exit */
	static const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[512];
	int fd;

	if ((unsigned)type >= PROBE_MAX_TYPES || type == BPF_PROG_TYPE_UNSPEC)
		return lbpf_err(EINVAL, "program type %d is out of range", (int)type);
	if (prog_cache[type])
		return prog_cache[type] == YES;
	fd = load_probe(type, ret0, 2, log, sizeof(log));
	if (fd >= 0)
		close(fd);
	if (refused_for_privilege(fd))
		return cannot_tell("program type", (int)type);
	/* An unknown type fails with EINVAL before the verifier runs, so with an empty log. A known
	 * type that needs more (an attach target, a struct_ops) reaches the verifier, which says
	 * why; a privileged EPERM (lockdown) also means the kernel knows the type. */
	prog_cache[type] = (fd >= 0 || fd != -EINVAL || log[0]) ? YES : NO;
	return prog_cache[type] == YES;
}

/* ---- helpers ---------------------------------------------------------------------------------- */

int lbpf_probe_helper(enum bpf_prog_type type, int helper_id)
{
	/* call helper; r0 = 0; exit. Arguments are left uninitialised on purpose: the verifier
	 * looks the helper up before it checks arguments, so "unknown func" comes first. */
	struct bpf_insn insns[3] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = helper_id },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char log[4096];
	int fd, prog_ok;

	if (helper_id <= 0 || helper_id >= PROBE_MAX_HELPERS)
		return lbpf_err(EINVAL, "helper id %d is out of range", helper_id);
	prog_ok = lbpf_probe_prog_type(type);
	if (prog_ok <= 0)
		return prog_ok;
	if (helper_cache[type][helper_id])
		return helper_cache[type][helper_id] == YES;
	fd = load_probe(type, insns, 3, log, sizeof(log));
	if (fd >= 0)
		close(fd);
	if (refused_for_privilege(fd))
		return cannot_tell("helper", helper_id);
	/* The verifier names a refused helper in one of these ways (older and newer kernels);
	 * any other complaint (about arguments) means the helper itself is allowed. */
	helper_cache[type][helper_id] =
		fd >= 0 || (!strstr(log, "invalid func ") && !strstr(log, "unknown func ") &&
			    !strstr(log, "cannot use helper")) ? YES : NO;
	return helper_cache[type][helper_id] == YES;
}

/* ---- maps ------------------------------------------------------------------------------------- */

/* A BTF with one type, "int" (id 1): what local-storage maps require for key and value. */
static int load_int_btf(void)
{
	struct {
		struct btf_header hdr;
		uint32_t types[4];
		char strs[5];
	} __attribute__((packed)) img = {
		.hdr = { .magic = 0xeB9F, .version = BTF_VERSION, .hdr_len = sizeof(struct btf_header),
			 .type_off = 0, .type_len = sizeof(img.types),
			 .str_off = sizeof(img.types), .str_len = sizeof(img.strs) },
		.types = { 1, (uint32_t)BTF_KIND_INT << 24, 4, (BTF_INT_SIGNED << 24) | 32 },
		.strs = "\0int",
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.btf = lbpf_ptr(&img);
	attr.btf_size = sizeof(img);
	return lbpf_sys_bpf(BPF_BTF_LOAD, &attr, sizeof(attr));
}

static int create_inner_array(void)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 4;
	attr.max_entries = 1;
	return lbpf_sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
}

/* Fills the smallest definition each map type accepts. Returns a BTF fd to close, or -1. */
static int describe_probe_map(enum bpf_map_type type, union bpf_attr *attr)
{
	int page = (int)sysconf(_SC_PAGESIZE);

	attr->map_type = type;
	attr->key_size = 4;
	attr->value_size = 4;
	attr->max_entries = 1;
	switch ((int)type) {
	case BPF_MAP_TYPE_STACK_TRACE:
		attr->value_size = 8;
		break;
	case BPF_MAP_TYPE_LPM_TRIE:
		attr->key_size = 8;
		attr->map_flags = BPF_F_NO_PREALLOC;
		break;
	case BPF_MAP_TYPE_CGROUP_STORAGE:
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		attr->key_size = sizeof(struct bpf_cgroup_storage_key);
		attr->max_entries = 0;
		break;
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
	case BPF_MAP_TYPE_BLOOM_FILTER:
		attr->key_size = 0;
		break;
	case BPF_MAP_TYPE_RINGBUF:
	case BPF_MAP_TYPE_USER_RINGBUF:
		attr->key_size = 0;
		attr->value_size = 0;
		attr->max_entries = (uint32_t)page;
		break;
	case PROBE_MAP_TYPE_ARENA:
		attr->key_size = 0;
		attr->value_size = 0;
		attr->map_flags = 1u << 10; /* BPF_F_MMAPABLE */
		break;
	case BPF_MAP_TYPE_SK_STORAGE:
	case BPF_MAP_TYPE_INODE_STORAGE:
	case BPF_MAP_TYPE_TASK_STORAGE:
	case PROBE_MAP_TYPE_CGRP_STORAGE: {
		int btf_fd = load_int_btf();

		attr->max_entries = 0;
		attr->map_flags = BPF_F_NO_PREALLOC;
		attr->btf_key_type_id = 1;
		attr->btf_value_type_id = 1;
		if (btf_fd >= 0)
			attr->btf_fd = (uint32_t)btf_fd;
		return btf_fd;
	}
	default:
		break;
	}
	return -1;
}

int lbpf_probe_map_type(enum bpf_map_type type)
{
	union bpf_attr attr;
	int fd, btf_fd, inner_fd = -1;

	if ((unsigned)type >= PROBE_MAX_TYPES || type == BPF_MAP_TYPE_UNSPEC)
		return lbpf_err(EINVAL, "map type %d is out of range", (int)type);
	if (type == BPF_MAP_TYPE_STRUCT_OPS)
		/* Creating one needs a kernel struct_ops type and a module behind it: no tiny
		 * probe tells "unknown type" apart from "incomplete definition". */
		return lbpf_err(EOPNOTSUPP, "struct_ops maps cannot be probed");
	if (map_cache[type])
		return map_cache[type] == YES;
	memset(&attr, 0, sizeof(attr));
	btf_fd = describe_probe_map(type, &attr);
	if (type == BPF_MAP_TYPE_ARRAY_OF_MAPS || type == BPF_MAP_TYPE_HASH_OF_MAPS) {
		inner_fd = create_inner_array();
		attr.inner_map_fd = inner_fd >= 0 ? (uint32_t)inner_fd : 0;
	}
	fd = lbpf_sys_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
	if (fd >= 0)
		close(fd);
	if (btf_fd >= 0)
		close(btf_fd);
	if (inner_fd >= 0)
		close(inner_fd);
	if (refused_for_privilege(fd))
		return cannot_tell("map type", (int)type);
	map_cache[type] = fd >= 0 ? YES : NO;
	return map_cache[type] == YES;
}

/* ---- BTF-targeted program kinds (tp_btf, fentry, fexit, fmod_ret, lsm, iter) ------------------ */

/* A kernel function or type each kind can always target when the kernel has the feature. */
static const char *btf_target(enum bpf_attach_type type, int *kind, enum bpf_prog_type *ptype)
{
	*kind = BTF_KIND_FUNC;
	*ptype = BPF_PROG_TYPE_TRACING;
	switch (type) {
	case BPF_TRACE_RAW_TP:
		*kind = BTF_KIND_TYPEDEF;
		return "btf_trace_sched_switch";
	case BPF_TRACE_FENTRY:
	case BPF_TRACE_FEXIT:
		return "bpf_fentry_test1";
	case BPF_MODIFY_RETURN:
		/* The kernel allows fmod_ret on its error-injection list (bpf_modify_return_test is on
		 * it only with CONFIG_FUNCTION_ERROR_INJECTION, which Debian's cloud kernels lack)
		 * and on every security_* function: the second always answers for the feature. */
		return "security_file_open";
	case BPF_TRACE_ITER:
		return "bpf_iter_task";
	case BPF_LSM_MAC:
		*ptype = BPF_PROG_TYPE_LSM;
		return "bpf_lsm_file_open";
	default:
		return NULL;
	}
}

static unsigned char btf_attach_cache[PROBE_MAX_TYPES];

int lbpf_probe_attach_btf(enum bpf_attach_type type)
{
	static const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	enum bpf_prog_type ptype;
	union bpf_attr attr;
	lbpf_btf *vmlinux;
	int kind, fd;
	int32_t id;
	const char *target = btf_target(type, &kind, &ptype);

	if (!target)
		return lbpf_err(EINVAL, "attach type %d does not target a kernel BTF type", (int)type);
	if (btf_attach_cache[type])
		return btf_attach_cache[type] == YES;
	fd = lbpf_btf_open_kernel(&vmlinux);
	if (fd < 0)
		return fd;
	id = lbpf_btf_find(vmlinux, target, kind);
	lbpf_btf_free(vmlinux);
	if (id < 0) {
		/* No such target in this kernel's BTF: the feature is configured out. */
		btf_attach_cache[type] = NO;
		return 0;
	}
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = ptype;
	attr.expected_attach_type = type;
	attr.attach_btf_id = (uint32_t)id;
	attr.insns = lbpf_ptr(ret0);
	attr.insn_cnt = 2;
	attr.license = lbpf_ptr("GPL");
	fd = lbpf_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd >= 0)
		close(fd);
	if (refused_for_privilege(fd))
		return cannot_tell("attach type", (int)type);
	btf_attach_cache[type] = fd >= 0 ? YES : NO;
	return fd >= 0;
}

/* ---- link kinds newer than 6.1 (kprobe_multi, uprobe_multi, tcx) ------------------------------ */

#define PROBE_ATTACH_TCX_INGRESS 46
#define PROBE_ATTACH_UPROBE_MULTI 48

/* A program of type/attach that returns 0, or -errno. */
static int load_ret0(enum bpf_prog_type type, enum bpf_attach_type attach)
{
	static const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.expected_attach_type = attach;
	attr.insns = lbpf_ptr(ret0);
	attr.insn_cnt = 2;
	attr.license = lbpf_ptr("GPL");
	return lbpf_sys_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
}

/* LINK_CREATE's answer (-errno, or 0 after closing a link that should not have been made). */
static int probe_link_create(int prog_fd, uint32_t target, uint32_t attach, const void *extra,
			     size_t extra_len)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (uint32_t)prog_fd;
	attr.link_create.target_fd = target;
	attr.link_create.attach_type = attach;
	memcpy((char *)&attr + offsetof(union bpf_attr, link_create.target_btf_id), extra, extra_len);
	fd = lbpf_sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr));
	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

static int probe_kprobe_multi(void)
{
	const char *sym = "lbpf_probe_no_such_function";
	struct { uint32_t flags, cnt; uint64_t syms, addrs, cookies; } multi = {
		.cnt = 1, .syms = lbpf_ptr(&sym) };
	int fd = load_ret0(BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI), err;

	if (fd < 0)
		return 0; /* the attach type is unknown: before 5.18 */
	/* With fprobe the kernel looks the symbol up and misses it: ENOENT (ESRCH on some). */
	err = probe_link_create(fd, 0, BPF_TRACE_KPROBE_MULTI, &multi, sizeof(multi));
	close(fd);
	return err == -ENOENT || err == -ESRCH;
}

static int probe_uprobe_multi(void)
{
	uint64_t offset = 0;
	struct { uint64_t path, offsets, ref_ctr_offsets, cookies; uint32_t cnt, flags, pid; } multi = {
		.path = lbpf_ptr("/"), .offsets = lbpf_ptr(&offset), .cnt = 1 };
	int fd = load_ret0(BPF_PROG_TYPE_KPROBE, (enum bpf_attach_type)PROBE_ATTACH_UPROBE_MULTI), err;

	if (fd < 0)
		return 0;
	/* The kernel opens the path and refuses a directory: EBADF. */
	err = probe_link_create(fd, 0, PROBE_ATTACH_UPROBE_MULTI, &multi, sizeof(multi));
	close(fd);
	return err == -EBADF;
}

static int probe_tcx(void)
{
	int fd = load_ret0(BPF_PROG_TYPE_SCHED_CLS, (enum bpf_attach_type)0), err;
	uint64_t none = 0;

	if (fd < 0)
		return 0;
	/* Ifindex 0 names no device: ENXIO where tcx exists, EINVAL (unknown attach type) before. */
	err = probe_link_create(fd, 0, PROBE_ATTACH_TCX_INGRESS, &none, sizeof(none));
	close(fd);
	return err == -ENXIO || err == -ENODEV;
}

int lbpf_probe_link(const char *kind)
{
	static const char *const kinds[] = { "kprobe_multi", "uprobe_multi", "tcx" };
	static int (*const probes[])(void) = { probe_kprobe_multi, probe_uprobe_multi, probe_tcx };
	static unsigned char cache[3];

	for (size_t i = 0; i < 3; i++) {
		if (strcmp(kind, kinds[i]) != 0)
			continue;
		if (!cache[i])
			cache[i] = probes[i]() ? YES : NO;
		return cache[i] == YES;
	}
	return lbpf_err(EINVAL, "no link kind '%s' to probe (kprobe_multi, uprobe_multi, tcx)", kind);
}
