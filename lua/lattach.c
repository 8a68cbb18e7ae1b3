/*
 * Attach methods of program handles (prog:attach_xdp, attach_tc, ...), iterators, pins, and
 * the link extras (link:info, link:unpin, link:update), plus bpf.open_link / bpf.open_program.
 * Registered by lbpf_lua_open_attach() into the classes lprog.c and llink.c create.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "lbpf_lua.h"

#define LBPF_PINNED_PROG_MT "bpf.pinned_program"

/* ---- argument helpers ------------------------------------------------------------------- */

/* An interface given by name or index. Returns 0 (after pushing a failure) when unknown. */
static int check_ifindex(lua_State *L, int idx)
{
	if (lua_type(L, idx) == LUA_TNUMBER)
		return (int)luaL_checkinteger(L, idx);
	return (int)if_nametoindex(luaL_checkstring(L, idx));
}

static int no_such_interface(lua_State *L, int idx)
{
	return lbpf_lua_fail_msg(L, ENODEV, "program '%s': no network interface '%s'",
				 lbpf_program_name(lbpf_lua_check_program(L, 1)),
				 lua_tostring(L, idx) ? lua_tostring(L, idx) : "?");
}

struct named_value { const char *name; uint64_t value; };

/* A number, or a name from the table (Lua error naming the option otherwise). */
static uint64_t opt_named(lua_State *L, int t, const char *field, const struct named_value *names,
			  uint64_t def)
{
	uint64_t v;

	if (!lbpf_lua_opt_push(L, t, field))
		return def;
	if (lua_type(L, -1) == LUA_TSTRING) {
		const char *s = lua_tostring(L, -1);
		int i;

		for (i = 0; names[i].name && strcmp(names[i].name, s) != 0; i++)
			;
		if (!names[i].name)
			luaL_error(L, "unknown %s '%s'", field, s);
		v = names[i].value;
	} else {
		v = (uint64_t)luaL_checkinteger(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

/* ---- networking ------------------------------------------------------------------------- */

static int l_attach_xdp(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int ifindex = check_ifindex(L, 2), t = lbpf_lua_opt_table(L, 3);
	const char *mode = lbpf_lua_opt_str(L, t, "mode", "default");
	struct lbpf_xdp_opts opts = { 0 };
	lbpf_link *link = NULL;

	if (strcmp(mode, "skb") == 0 || strcmp(mode, "generic") == 0)
		opts.mode = LBPF_XDP_MODE_SKB;
	else if (strcmp(mode, "drv") == 0 || strcmp(mode, "native") == 0)
		opts.mode = LBPF_XDP_MODE_DRV;
	else if (strcmp(mode, "hw") == 0 || strcmp(mode, "offload") == 0)
		opts.mode = LBPF_XDP_MODE_HW;
	else if (strcmp(mode, "default") != 0)
		return luaL_error(L, "unknown XDP mode '%s' (skb, drv, hw or default)", mode);
	opts.netlink = lbpf_lua_opt_bool(L, t, "netlink", 0);
	opts.replace = lbpf_lua_opt_bool(L, t, "replace", 0);
	if (ifindex <= 0)
		return no_such_interface(L, 2);
	return lbpf_lua_link_result(L, lbpf_program_attach_xdp(prog, ifindex, &opts, &link), &link);
}

static int l_attach_tc(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int ifindex = check_ifindex(L, 2), t = lbpf_lua_opt_table(L, 3);
	const char *dir = lbpf_lua_opt_str(L, t, "direction", NULL);
	struct lbpf_tc_opts opts = { 0 };
	lbpf_link *link = NULL;

	/* Default direction: the one the section names (tc/egress, tcx/egress), else ingress. */
	opts.egress = lbpf_program_expected_attach_type(prog) == LBPF_ATTACH_TCX_EGRESS;
	if (dir && strcmp(dir, "egress") == 0)
		opts.egress = true;
	else if (dir && strcmp(dir, "ingress") == 0)
		opts.egress = false;
	else if (dir)
		return luaL_error(L, "unknown tc direction '%s' (ingress or egress)", dir);
	opts.netlink = lbpf_lua_opt_bool(L, t, "netlink", 0);
	opts.priority = (uint16_t)lbpf_lua_opt_int(L, t, "priority", 0);
	opts.handle = (uint32_t)lbpf_lua_opt_int(L, t, "handle", 0);
	if (ifindex <= 0)
		return no_such_interface(L, 2);
	return lbpf_lua_link_result(L, lbpf_program_attach_tc(prog, ifindex, &opts, &link), &link);
}

static int attach_type_by_name(const char *name)
{
	for (int i = 0; i < 64; i++) {
		const char *n = lbpf_attach_type_name((enum bpf_attach_type)i);

		if (n && strcmp(n, name) == 0)
			return i;
	}
	return -1;
}

static int l_attach_cgroup(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int t = lbpf_lua_opt_table(L, 3), err;
	const char *type = lbpf_lua_opt_str(L, t, "attach_type", NULL);
	struct lbpf_cgroup_opts opts = { 0 };
	lbpf_link *link = NULL;

	opts.prog_attach = lbpf_lua_opt_bool(L, t, "prog_attach", 0);
	if (type) {
		int v = attach_type_by_name(type);

		if (v < 0)
			return luaL_error(L, "unknown attach type '%s'", type);
		opts.override_attach_type = true;
		opts.attach_type = (enum bpf_attach_type)v;
	}
	if (lua_type(L, 2) == LUA_TNUMBER)
		err = lbpf_program_attach_cgroup(prog, (int)luaL_checkinteger(L, 2), &opts, &link);
	else
		err = lbpf_program_attach_cgroup_path(prog, luaL_checkstring(L, 2), &opts, &link);
	return lbpf_lua_link_result(L, err, &link);
}

static int l_attach_socket(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int fd = (int)luaL_checkinteger(L, 2);
	lbpf_link *link = NULL;

	return lbpf_lua_link_result(L, lbpf_program_attach_socket(prog, fd, &link), &link);
}

static int l_attach_netns(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	lbpf_link *link = NULL;
	int fd, err;

	if (lua_type(L, 2) == LUA_TNUMBER)
		return lbpf_lua_link_result(L, lbpf_program_attach_netns(prog,
									  (int)lua_tointeger(L, 2), &link), &link);
	{
		const char *path = luaL_optstring(L, 2, "/proc/self/ns/net");

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return lbpf_lua_fail_msg(L, errno, "opening network namespace %s: %s", path,
						 strerror(errno));
	}
	err = lbpf_program_attach_netns(prog, fd, &link);
	close(fd);
	return lbpf_lua_link_result(L, err, &link);
}

static int l_attach_sockmap(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	lbpf_map *map = lbpf_lua_check_map(L, 2);
	lbpf_link *link = NULL;

	return lbpf_lua_link_result(L, lbpf_program_attach_sockmap(prog, lbpf_map_fd(map), &link),
				    &link);
}

/* NFPROTO_* and NF_INET_* (linux/netfilter.h). */
static const struct named_value nf_families[] = {
	{ "ipv4", 2 }, { "ipv6", 10 }, { NULL, 0 },
};
static const struct named_value nf_hooks[] = {
	{ "prerouting", 0 }, { "local_in", 1 }, { "forward", 2 }, { "local_out", 3 },
	{ "postrouting", 4 }, { NULL, 0 },
};

static int l_attach_netfilter(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int t = lbpf_lua_opt_table(L, 2);
	struct lbpf_netfilter_opts opts = { 0 };
	lbpf_link *link = NULL;

	opts.pf = (uint32_t)opt_named(L, t, "pf", nf_families, 2);
	opts.hooknum = (uint32_t)opt_named(L, t, "hook", nf_hooks, 0);
	opts.priority = (int32_t)lbpf_lua_opt_int(L, t, "priority", 1);
	opts.flags = lbpf_lua_opt_bool(L, t, "defrag", 0) ? 1 : 0;
	return lbpf_lua_link_result(L, lbpf_program_attach_netfilter(prog, &opts, &link), &link);
}

/* ---- tracing ---------------------------------------------------------------------------- */

static int attach_uprobe_common(lua_State *L, bool retprobe)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	const char *binary = luaL_checkstring(L, 2);
	const char *func = luaL_optstring(L, 3, NULL);
	int t = lbpf_lua_opt_table(L, 4);
	struct lbpf_uprobe_opts opts = { 0 };
	lbpf_link *link = NULL;

	opts.retprobe = lbpf_lua_opt_bool(L, t, "retprobe", retprobe);
	opts.pid = (pid_t)lbpf_lua_opt_int(L, t, "pid", 0);
	opts.offset = (uint64_t)lbpf_lua_opt_int(L, t, "offset", 0);
	opts.ref_ctr_offset = (uint64_t)lbpf_lua_opt_int(L, t, "ref_ctr_offset", 0);
	opts.cookie = (uint64_t)lbpf_lua_opt_int(L, t, "cookie", 0);
	return lbpf_lua_link_result(L, lbpf_program_attach_uprobe(prog, binary, func, &opts, &link),
				    &link);
}

static int l_attach_uprobe(lua_State *L) { return attach_uprobe_common(L, false); }
static int l_attach_uretprobe(lua_State *L) { return attach_uprobe_common(L, true); }

static int l_attach_usdt(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	const char *binary = luaL_checkstring(L, 2);
	const char *provider = luaL_checkstring(L, 3);
	const char *name = luaL_checkstring(L, 4);
	int t = lbpf_lua_opt_table(L, 5);
	pid_t pid = (pid_t)lbpf_lua_opt_int(L, t, "pid", 0);
	lbpf_link *link = NULL;

	return lbpf_lua_link_result(L, lbpf_program_attach_usdt(prog, binary, provider, name, pid,
								&link), &link);
}

/* One parsed argument as a table: {kind = "const"|"reg"|"deref", size, signed, value | reg,
 * offset}. */
static void push_usdt_arg(lua_State *L, const struct lbpf_usdt_arg *a)
{
	static const char *kinds[] = { "?", "const", "reg", "deref" };
	const char *reg = lbpf_usdt_reg_name(a->reg_offset);

	lua_createtable(L, 0, 6);
	lua_pushstring(L, kinds[a->kind <= LBPF_USDT_ARG_REG_DEREF ? a->kind : 0]);
	lua_setfield(L, -2, "kind");
	lua_pushinteger(L, a->size);
	lua_setfield(L, -2, "size");
	lua_pushboolean(L, a->is_signed);
	lua_setfield(L, -2, "signed");
	if (a->kind == LBPF_USDT_ARG_CONST) {
		lbpf_lua_push_i64(L, a->value);
		lua_setfield(L, -2, "value");
		return;
	}
	lua_pushstring(L, reg ? reg : "?");
	lua_setfield(L, -2, "reg");
	lua_pushinteger(L, a->reg_offset);
	lua_setfield(L, -2, "reg_offset");
	if (a->kind == LBPF_USDT_ARG_REG_DEREF) {
		lbpf_lua_push_i64(L, a->value);
		lua_setfield(L, -2, "offset");
	}
}

/* bpf.usdt_args("-4@%edi 8@$5") → array of argument tables, or nil, message. */
static int l_usdt_args(lua_State *L)
{
	struct lbpf_usdt_spec spec;
	int err = lbpf_usdt_parse_args(luaL_checkstring(L, 1), &spec);

	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_createtable(L, (int)spec.arg_cnt, 0);
	for (uint32_t i = 0; i < spec.arg_cnt; i++) {
		push_usdt_arg(L, &spec.args[i]);
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

#define USDT_LIST_MAX 64

/* bpf.usdt_probes(binary, provider, name) → array of {pc_offset, semaphore_offset, args}. */
static int l_usdt_probes(lua_State *L)
{
	const char *binary = luaL_checkstring(L, 1);
	const char *provider = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
	struct lbpf_usdt_probe *sites = lua_newuserdata(L, USDT_LIST_MAX * sizeof(*sites));
	int n = lbpf_usdt_find(binary, provider, name, sites, USDT_LIST_MAX);

	if (n < 0)
		return lbpf_lua_fail(L, n);
	if (n > USDT_LIST_MAX)
		n = USDT_LIST_MAX;
	lua_createtable(L, n, 0);
	for (int i = 0; i < n; i++) {
		lua_createtable(L, 0, 3);
		lbpf_lua_push_u64(L, sites[i].pc_offset);
		lua_setfield(L, -2, "pc_offset");
		lbpf_lua_push_u64(L, sites[i].semaphore_offset);
		lua_setfield(L, -2, "semaphore_offset");
		lua_pushstring(L, sites[i].args);
		lua_setfield(L, -2, "args");
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static int attach_kprobe_common(lua_State *L, bool retprobe)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	const char *func = luaL_checkstring(L, 2);
	int t = lbpf_lua_opt_table(L, 3);
	uint64_t offset;
	lbpf_link *link = NULL;

	retprobe = lbpf_lua_opt_bool(L, t, "retprobe", retprobe);
	offset = (uint64_t)lbpf_lua_opt_int(L, t, "offset", 0);
	if (lbpf_lua_opt_bool(L, t, "legacy", 0))
		return lbpf_lua_link_result(L, lbpf_program_attach_kprobe_legacy(prog, func, offset,
										 retprobe, &link), &link);
	return lbpf_lua_link_result(L, lbpf_program_attach_kprobe(prog, func, offset, retprobe,
								  &link), &link);
}

static int l_attach_kprobe(lua_State *L) { return attach_kprobe_common(L, false); }
static int l_attach_kretprobe(lua_State *L) { return attach_kprobe_common(L, true); }

/* map:attach_struct_ops(): registers the ops of a struct_ops map; the link unregisters them. */
static int l_attach_struct_ops(lua_State *L)
{
	lbpf_map *map = lbpf_lua_check_map(L, 1);
	lbpf_link *link = NULL;

	return lbpf_lua_link_result(L, lbpf_map_attach_struct_ops(map, &link), &link);
}

/* The names of the array at idx as C strings (a userdata on the stack holds them; the strings
 * stay the table's). */
static const char **check_name_list(lua_State *L, int idx, size_t *count)
{
	size_t n = lua_rawlen(L, idx);
	const char **names;

	if (n == 0)
		luaL_argerror(L, idx, "the list of functions is empty");
	names = lua_newuserdata(L, n * sizeof(*names));
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "attach_kprobe_multi: function %d of the list is a %s, not a string",
				   (int)i + 1, luaL_typename(L, -1));
		names[i] = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	*count = n;
	return names;
}

/* prog:attach_kprobe_multi(pattern | {func, ...} [, {retprobe = bool}]) */
static int l_attach_kprobe_multi(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int t = lbpf_lua_opt_table(L, 3);
	bool ret = lbpf_lua_opt_bool(L, t, "retprobe", 0);
	lbpf_link *link = NULL;

	if (lua_type(L, 2) == LUA_TTABLE) {
		size_t count;
		const char **names = check_name_list(L, 2, &count);

		return lbpf_lua_link_result(L, lbpf_program_attach_kprobe_multi_syms(prog, names, count,
										   ret, &link), &link);
	}
	return lbpf_lua_link_result(L, lbpf_program_attach_kprobe_multi(prog, luaL_checkstring(L, 2),
									ret, &link), &link);
}

/* prog:attach_uprobe_multi(binary, pattern [, {retprobe = bool, pid = n}]) */
static int l_attach_uprobe_multi(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	const char *binary = luaL_checkstring(L, 2);
	const char *pattern = luaL_checkstring(L, 3);
	int t = lbpf_lua_opt_table(L, 4);
	struct lbpf_uprobe_multi_opts opts = { 0 };
	lbpf_link *link = NULL;

	opts.retprobe = lbpf_lua_opt_bool(L, t, "retprobe", 0);
	opts.pid = (pid_t)lbpf_lua_opt_int(L, t, "pid", 0);
	return lbpf_lua_link_result(L, lbpf_program_attach_uprobe_multi(prog, binary, pattern, &opts,
									&link), &link);
}

static const struct named_value perf_types[] = {
	{ "hardware", PERF_TYPE_HARDWARE }, { "software", PERF_TYPE_SOFTWARE },
	{ "tracepoint", PERF_TYPE_TRACEPOINT }, { "hw_cache", PERF_TYPE_HW_CACHE },
	{ "raw", PERF_TYPE_RAW }, { "breakpoint", PERF_TYPE_BREAKPOINT }, { NULL, 0 },
};
static const struct named_value perf_configs[] = {
	{ "cpu-clock", PERF_COUNT_SW_CPU_CLOCK }, { "task-clock", PERF_COUNT_SW_TASK_CLOCK },
	{ "page-faults", PERF_COUNT_SW_PAGE_FAULTS },
	{ "context-switches", PERF_COUNT_SW_CONTEXT_SWITCHES },
	{ "cpu-migrations", PERF_COUNT_SW_CPU_MIGRATIONS }, { "cpu-cycles", PERF_COUNT_HW_CPU_CYCLES },
	{ "instructions", PERF_COUNT_HW_INSTRUCTIONS }, { "cache-misses", PERF_COUNT_HW_CACHE_MISSES },
	{ "branch-misses", PERF_COUNT_HW_BRANCH_MISSES }, { NULL, 0 },
};

static int l_attach_perf_event(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int t = lbpf_lua_opt_table(L, 2);
	struct lbpf_perf_event_opts opts = { 0 };
	lbpf_link *link = NULL;
	lua_Integer cpu;

	opts.type = (uint32_t)opt_named(L, t, "type", perf_types, PERF_TYPE_SOFTWARE);
	opts.config = opt_named(L, t, "config", perf_configs,
				opts.type == PERF_TYPE_SOFTWARE ? PERF_COUNT_SW_CPU_CLOCK
								: PERF_COUNT_HW_CPU_CYCLES);
	opts.sample_period = (uint64_t)lbpf_lua_opt_int(L, t, "period", 0);
	opts.sample_freq = (uint64_t)lbpf_lua_opt_int(L, t, "freq", 0);
	opts.pid = (pid_t)lbpf_lua_opt_int(L, t, "pid", 0);
	cpu = lbpf_lua_opt_int(L, t, "cpu", -1);
	opts.single_cpu = cpu >= 0;
	opts.cpu = (int)cpu;
	return lbpf_lua_link_result(L, lbpf_program_attach_perf_event(prog, &opts, &link), &link);
}

static int l_attach_trampoline(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	lbpf_link *link = NULL;

	return lbpf_lua_link_result(L, lbpf_program_attach_trampoline(prog, &link), &link);
}

/* ---- iterators -------------------------------------------------------------------------- */

static void iter_opts(lua_State *L, int t, struct lbpf_iter_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	if (!t)
		return;
	lua_getfield(L, t, "map");
	if (!lua_isnil(L, -1))
		opts->map_fd = lbpf_map_fd(lbpf_lua_check_map(L, -1));
	lua_pop(L, 1);
	opts->tid = (uint32_t)lbpf_lua_opt_int(L, t, "tid", 0);
	opts->pid = (uint32_t)lbpf_lua_opt_int(L, t, "pid", 0);
}

static int l_attach_iter(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	struct lbpf_iter_opts opts;
	lbpf_link *link = NULL;

	iter_opts(L, lbpf_lua_opt_table(L, 2), &opts);
	return lbpf_lua_link_result(L, lbpf_program_attach_iter(prog, &opts, &link), &link);
}

/* prog:iterate(opts) → the text (or bytes) the iterator wrote. */
static int l_iterate(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	struct lbpf_iter_opts opts;
	size_t len;
	char *buf;
	int err;

	iter_opts(L, lbpf_lua_opt_table(L, 2), &opts);
	err = lbpf_program_iterate(prog, &opts, &buf, &len);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushlstring(L, buf, len);
	free(buf);
	return 1;
}

static int l_prog_pin(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);

	return lbpf_lua_ok(L, lbpf_program_pin(prog, luaL_checkstring(L, 2)));
}

/* {id, name, type, run_count} of the program behind fd (a loaded or an opened program). */
static int push_prog_info(lua_State *L, int fd)
{
	struct bpf_prog_info info;
	int err = lbpf_prog_fd_get_info(fd, &info);

	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_createtable(L, 0, 4);
	lua_pushinteger(L, info.id);
	lua_setfield(L, -2, "id");
	lua_pushstring(L, info.name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, lbpf_prog_type_name(info.type));
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, info.run_cnt);
	lua_setfield(L, -2, "run_count");
	return 1;
}

/* ---- links ------------------------------------------------------------------------------ */

static int l_link_info(lua_State *L)
{
	lbpf_link *link = lbpf_lua_check_link(L, 1);
	struct bpf_link_info info;
	char desc[256];
	int err = lbpf_link_get_info(link, &info);

	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_link_info_describe(&info, desc, sizeof(desc));
	lua_createtable(L, 0, 6);
	lua_pushstring(L, lbpf_link_type_name(info.type) ? lbpf_link_type_name(info.type) : "?");
	lua_setfield(L, -2, "type");
	lua_pushinteger(L, info.id);
	lua_setfield(L, -2, "id");
	lua_pushinteger(L, info.prog_id);
	lua_setfield(L, -2, "prog_id");
	lua_pushstring(L, desc);
	lua_setfield(L, -2, "description");
	if (info.type == BPF_LINK_TYPE_XDP) {
		lua_pushinteger(L, info.xdp.ifindex);
		lua_setfield(L, -2, "ifindex");
	} else if (info.type == BPF_LINK_TYPE_CGROUP) {
		lua_pushinteger(L, (lua_Integer)info.cgroup.cgroup_id);
		lua_setfield(L, -2, "cgroup_id");
		lua_pushstring(L, lbpf_attach_type_name(info.cgroup.attach_type));
		lua_setfield(L, -2, "attach_type");
	} else if (info.type == BPF_LINK_TYPE_NETNS) {
		lua_pushinteger(L, info.netns.netns_ino);
		lua_setfield(L, -2, "netns_ino");
	} else if (info.type == LBPF_LINK_TYPE_NETFILTER) {
		/* {pf, hooknum, priority, flags} at the start of the union (newer than our UAPI). */
		const uint32_t *nf = (const uint32_t *)(const void *)&info.raw_tracepoint;

		lua_pushinteger(L, nf[0]);
		lua_setfield(L, -2, "pf");
		lua_pushinteger(L, nf[1]);
		lua_setfield(L, -2, "hook");
		lua_pushinteger(L, (int32_t)nf[2]);
		lua_setfield(L, -2, "priority");
	}
	return 1;
}

static int l_link_unpin(lua_State *L)
{
	return lbpf_lua_ok(L, lbpf_link_unpin(lbpf_lua_check_link(L, 1), luaL_checkstring(L, 2)));
}

static int l_link_update(lua_State *L)
{
	lbpf_link *link = lbpf_lua_check_link(L, 1);
	lbpf_program *prog = lbpf_lua_check_loaded(L, 2);

	return lbpf_lua_ok(L, lbpf_link_update_program(link, prog));
}

/* link:read() on an iterator link: one full run of the iterator. */
static int l_link_read(lua_State *L)
{
	lbpf_link *link = lbpf_lua_check_link(L, 1);
	luaL_Buffer b;
	char chunk[4096];
	int fd = lbpf_link_iter_create(link);

	if (fd < 0)
		return lbpf_lua_fail(L, fd);
	luaL_buffinit(L, &b);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			close(fd);
			return lbpf_lua_fail_msg(L, err, "reading the iterator: %s", strerror(err));
		}
		if (n == 0)
			break;
		luaL_addlstring(&b, chunk, (size_t)n);
	}
	close(fd);
	luaL_pushresult(&b);
	return 1;
}

static int l_open_link(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	lbpf_link *link = NULL;
	int err = lbpf_link_open_pinned(path, &link);

	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_lua_push_link(L, link, 1);
	return 1;
}

/* ---- opened programs (by pin or id): a small handle of their own ------------------------ */

struct pinned_prog { int fd; };

static struct pinned_prog *check_pinned(lua_State *L, int idx)
{
	struct pinned_prog *p = luaL_checkudata(L, idx, LBPF_PINNED_PROG_MT);

	if (p->fd < 0)
		luaL_error(L, "program used after close");
	return p;
}

static int l_open_program(lua_State *L)
{
	struct pinned_prog *p;
	int fd;

	if (lua_type(L, 1) == LUA_TNUMBER)
		fd = lbpf_prog_fd_by_id((uint32_t)luaL_checkinteger(L, 1));
	else
		fd = lbpf_prog_fd_open_pinned(luaL_checkstring(L, 1));
	if (fd < 0)
		return lbpf_lua_fail(L, fd);
	p = lbpf_newuserdata(L, sizeof(*p));
	p->fd = fd;
	luaL_setmetatable(L, LBPF_PINNED_PROG_MT);
	return 1;
}

static int l_pinned_close(lua_State *L)
{
	struct pinned_prog *p = luaL_checkudata(L, 1, LBPF_PINNED_PROG_MT);

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	return 0;
}

static int l_pinned_fd(lua_State *L)
{
	lua_pushinteger(L, check_pinned(L, 1)->fd);
	return 1;
}

static int l_pinned_info(lua_State *L)
{
	return push_prog_info(L, check_pinned(L, 1)->fd);
}

static int l_pinned_tostring(lua_State *L)
{
	struct pinned_prog *p = luaL_checkudata(L, 1, LBPF_PINNED_PROG_MT);
	struct bpf_prog_info info;

	if (p->fd < 0 || lbpf_prog_fd_get_info(p->fd, &info) < 0)
		lua_pushliteral(L, "bpf.pinned_program(closed)");
	else
		lua_pushfstring(L, "bpf.pinned_program(%s '%s', id %d)",
				lbpf_prog_type_name(info.type), info.name, (int)info.id);
	return 1;
}

static int l_xdp_query(lua_State *L)
{
	int ifindex = check_ifindex(L, 1), err;
	enum lbpf_xdp_mode mode;
	uint32_t id;
	static const char *modes[] = { "none", "skb", "drv", "hw" };

	if (ifindex <= 0)
		return lbpf_lua_fail_msg(L, ENODEV, "no network interface '%s'",
					 lua_tostring(L, 1) ? lua_tostring(L, 1) : "?");
	err = lbpf_xdp_query(ifindex, &id, &mode);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushinteger(L, id);
	lua_pushstring(L, modes[mode]);
	return 2;
}

void lbpf_lua_open_attach(lua_State *L)
{
	static const luaL_Reg prog_methods[] = {
		{ "attach_xdp", l_attach_xdp },
		{ "attach_tc", l_attach_tc },
		{ "attach_cgroup", l_attach_cgroup },
		{ "attach_socket", l_attach_socket },
		{ "attach_netns", l_attach_netns },
		{ "attach_sk_lookup", l_attach_netns },
		{ "attach_flow_dissector", l_attach_netns },
		{ "attach_sockmap", l_attach_sockmap },
		{ "attach_netfilter", l_attach_netfilter },
		{ "attach_uprobe", l_attach_uprobe },
		{ "attach_uretprobe", l_attach_uretprobe },
		{ "attach_usdt", l_attach_usdt },
		{ "attach_kprobe", l_attach_kprobe },
		{ "attach_kretprobe", l_attach_kretprobe },
		{ "attach_kprobe_multi", l_attach_kprobe_multi },
		{ "attach_uprobe_multi", l_attach_uprobe_multi },
		{ "attach_perf_event", l_attach_perf_event },
		{ "attach_fentry", l_attach_trampoline },
		{ "attach_fexit", l_attach_trampoline },
		{ "attach_fmod_ret", l_attach_trampoline },
		{ "attach_lsm", l_attach_trampoline },
		{ "attach_tp_btf", l_attach_trampoline },
		{ "attach_trace", l_attach_trampoline },
		{ "attach_iter", l_attach_iter },
		{ "iterate", l_iterate },
		{ "pin", l_prog_pin }, /* prog:info() is linfo.c's */
		{ NULL, NULL },
	};
	static const luaL_Reg map_methods[] = {
		{ "attach_struct_ops", l_attach_struct_ops },
		{ NULL, NULL },
	};
	static const luaL_Reg link_methods[] = {
		{ "info", l_link_info },
		{ "unpin", l_link_unpin },
		{ "update", l_link_update },
		{ "read", l_link_read },
		{ NULL, NULL },
	};
	static const luaL_Reg pinned_meta[] = {
		{ "__gc", l_pinned_close },
		{ "__tostring", l_pinned_tostring },
#if LBPF_HAVE_CLOSE
		{ "__close", l_pinned_close },
#endif
		{ NULL, NULL },
	};
	static const luaL_Reg pinned_methods[] = {
		{ "fd", l_pinned_fd },
		{ "info", l_pinned_info },
		{ "close", l_pinned_close },
		{ NULL, NULL },
	};
	static const luaL_Reg module_funcs[] = {
		{ "open_link", l_open_link },
		{ "open_program", l_open_program },
		{ "xdp_query", l_xdp_query },
		{ "usdt_args", l_usdt_args },
		{ "usdt_probes", l_usdt_probes },
		{ NULL, NULL },
	};

	lbpf_lua_add_methods(L, LBPF_PROGRAM_MT, prog_methods);
	lbpf_lua_add_methods(L, LBPF_LINK_MT, link_methods);
	lbpf_lua_add_methods(L, LBPF_MAP_MT, map_methods);
	lbpf_lua_new_class(L, LBPF_PINNED_PROG_MT, pinned_meta, pinned_methods, NULL);
	luaL_setfuncs(L, module_funcs, 0);
}
