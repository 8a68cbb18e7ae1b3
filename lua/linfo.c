/*
 * System introspection and exploration from Lua: bpf.programs(), bpf.maps(), bpf.links() (what
 * the kernel has loaded, bpftool-style), prog:xlated() and bpf.disasm() (our disassembler),
 * bpf.features() (probed, cached), bpf.sleep(), a help method on every handle, and lazy loading
 * of the pure-Lua submodules (bpf.hist, bpf.top, bpf.pp, bpf.help, bpf.json) as module fields.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lhandle.h"

#define FEATURES_KEY "luabpf.features"

/* ---- who holds which object: /proc/<pid>/fdinfo ------------------------------------------- */

/* The anon inode name of each kind's fds, and the fdinfo line that names the id. */
struct holder_kind {
	const char *link_target; /* readlink of /proc/<pid>/fd/<n> */
	const char *id_field;    /* "prog_id:" in fdinfo */
};

static const struct holder_kind holder_kinds[] = {
	[LBPF_ID_PROG] = { "anon_inode:bpf-prog", "prog_id:" },
	[LBPF_ID_MAP] = { "anon_inode:bpf-map", "map_id:" },
	[LBPF_ID_LINK] = { "anon_inode:bpf_link", "link_id:" },
};

/* Reads id and memlock from one fdinfo file. */
static void read_fdinfo(const char *path, const char *id_field, long long *id, long long *memlock)
{
	char line[256];
	size_t flen = strlen(id_field);
	FILE *f = fopen(path, "re");

	*id = -1;
	*memlock = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, id_field, flen) == 0)
			*id = strtoll(line + flen, NULL, 10);
		else if (strncmp(line, "memlock:", 8) == 0)
			*memlock = strtoll(line + 8, NULL, 10);
	}
	fclose(f);
}

static void push_comm(lua_State *L, const char *pid)
{
	char path[300], comm[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	lua_pushstring(L, comm);
}

/* holders[id] = { memlock = n, pids = { {pid = p, comm = c}, ... } }; one entry per process. */
static void add_holder(lua_State *L, int holders, long long id, long long memlock, const char *pid)
{
	lua_Integer npid = strtol(pid, NULL, 10);
	size_t n;

	lua_rawgeti(L, holders, (lua_Integer)id);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_createtable(L, 0, 2);
		lua_newtable(L);
		lua_setfield(L, -2, "pids");
		lua_pushvalue(L, -1);
		lua_rawseti(L, holders, (lua_Integer)id);
	}
	if (memlock >= 0) {
		lua_pushinteger(L, (lua_Integer)memlock);
		lua_setfield(L, -2, "memlock");
	}
	lua_getfield(L, -1, "pids");
	n = (size_t)lbpf_len(L, -1);
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i);
		lua_getfield(L, -1, "pid");
		if (lua_tointeger(L, -1) == npid) {
			lua_pop(L, 4);
			return;
		}
		lua_pop(L, 2);
	}
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, npid);
	lua_setfield(L, -2, "pid");
	push_comm(L, pid);
	lua_setfield(L, -2, "comm");
	lua_rawseti(L, -2, (lua_Integer)n + 1);
	lua_pop(L, 2);
}

static void scan_process(lua_State *L, int holders, const struct holder_kind *k, const char *pid)
{
	char path[600], target[64];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return; /* gone, or not ours to read */
	while ((e = readdir(d))) {
		long long id, memlock;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, k->link_target) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, e->d_name);
		read_fdinfo(path, k->id_field, &id, &memlock);
		if (id > 0)
			add_holder(L, holders, id, memlock, pid);
	}
	closedir(d);
}

/* Pushes the holders table of one kind, from one pass over every process's fds. */
static void push_holders(lua_State *L, enum lbpf_id_kind kind)
{
	struct dirent *e;
	DIR *proc = opendir("/proc");
	int holders;

	lua_newtable(L);
	holders = lua_gettop(L);
	if (!proc)
		return;
	while ((e = readdir(proc))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		scan_process(L, holders, &holder_kinds[kind], e->d_name);
	}
	closedir(proc);
}

/* Copies memlock and pids of holders[id] into the table on top. */
static void set_holder_fields(lua_State *L, int holders, uint32_t id)
{
	if (!holders)
		return;
	lua_rawgeti(L, holders, id);
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "memlock");
		lua_setfield(L, -3, "memlock");
		lua_getfield(L, -1, "pids");
		lua_setfield(L, -3, "pids");
	} else {
		lua_newtable(L);
		lua_setfield(L, -3, "pids");
	}
	lua_pop(L, 1);
}

/* ---- listing ---------------------------------------------------------------------------------- */

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static void set_u64(lua_State *L, const char *k, uint64_t v)
{
	lbpf_lua_push_u64(L, v);
	lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v ? v : "");
	lua_setfield(L, -2, k);
}

static void push_tag(lua_State *L, const uint8_t *tag)
{
	char hex[BPF_TAG_SIZE * 2 + 1];

	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", tag[i]);
	lua_pushstring(L, hex);
}

/* The map ids a program uses (a second info call with a buffer). */
static void push_map_ids(lua_State *L, int fd, uint32_t count)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info), *ids = calloc(count ? count : 1, sizeof(*ids));

	lua_createtable(L, (int)count, 0);
	if (!ids || !count) {
		free(ids);
		return;
	}
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = count;
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (lbpf_obj_info(fd, &info, &len) == 0) {
		uint32_t n = info.nr_map_ids < count ? info.nr_map_ids : count;

		for (uint32_t i = 0; i < n; i++) {
			lua_pushinteger(L, ids[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
	}
	free(ids);
}

static void push_prog_entry(lua_State *L, int fd, const struct bpf_prog_info *info)
{
	lua_createtable(L, 0, 16);
	set_int(L, "id", info->id);
	set_str(L, "type", lbpf_prog_type_name(info->type));
	set_str(L, "name", info->name);
	push_tag(L, info->tag);
	lua_setfield(L, -2, "tag");
	lua_pushboolean(L, info->gpl_compatible);
	lua_setfield(L, -2, "gpl");
	set_u64(L, "loaded_at", info->load_time);
	set_int(L, "uid", info->created_by_uid);
	set_int(L, "xlated_bytes", info->xlated_prog_len);
	set_int(L, "jited_bytes", info->jited_prog_len);
	set_int(L, "verified_insns", info->verified_insns);
	set_u64(L, "run_time_ns", info->run_time_ns);
	set_u64(L, "run_count", info->run_cnt);
	if (info->btf_id)
		set_int(L, "btf_id", info->btf_id);
	set_int(L, "func_info", info->nr_func_info);
	set_int(L, "line_info", info->nr_line_info);
	push_map_ids(L, fd, info->nr_map_ids);
	lua_setfield(L, -2, "map_ids");
}

static void push_map_entry(lua_State *L, const struct bpf_map_info *info)
{
	lua_createtable(L, 0, 12);
	set_int(L, "id", info->id);
	set_str(L, "type", lbpf_map_type_name(info->type));
	set_str(L, "name", info->name);
	set_int(L, "key_size", info->key_size);
	set_int(L, "value_size", info->value_size);
	set_int(L, "max_entries", info->max_entries);
	set_int(L, "flags", info->map_flags);
	if (info->btf_id) {
		set_int(L, "btf_id", info->btf_id);
		set_int(L, "btf_key_type_id", info->btf_key_type_id);
		set_int(L, "btf_value_type_id", info->btf_value_type_id);
	}
}

/* Link info: a first call learns the type; raw tracepoints and iterators get a second one with
 * a name buffer (the buffer pointer field means other things for other link types). */
static void push_link_entry(lua_State *L, int fd, struct bpf_link_info *info)
{
	char desc[256], name[256] = "";

	if (info->type == BPF_LINK_TYPE_RAW_TRACEPOINT || info->type == BPF_LINK_TYPE_ITER) {
		uint32_t len = sizeof(*info);
		uint32_t type = info->type;

		memset(info, 0, sizeof(*info));
		info->raw_tracepoint.tp_name = (uint64_t)(uintptr_t)name;
		info->raw_tracepoint.tp_name_len = sizeof(name);
		if (lbpf_obj_info(fd, info, &len) < 0 || info->type != type)
			name[0] = '\0';
		name[sizeof(name) - 1] = '\0';
	}
	lbpf_link_info_describe(info, desc, sizeof(desc));
	lua_createtable(L, 0, 8);
	set_int(L, "id", info->id);
	set_str(L, "type", lbpf_link_type_name(info->type));
	set_int(L, "prog_id", info->prog_id);
	switch (info->type) {
	case BPF_LINK_TYPE_RAW_TRACEPOINT:
		set_str(L, "attach_point", name);
		snprintf(desc, sizeof(desc), "raw_tracepoint %s", name);
		break;
	case BPF_LINK_TYPE_ITER:
		set_str(L, "attach_point", name);
		snprintf(desc, sizeof(desc), "iter %s", name);
		break;
	case BPF_LINK_TYPE_TRACING:
		set_str(L, "attach_type", lbpf_attach_type_name(info->tracing.attach_type));
		set_int(L, "target_btf_id", info->tracing.target_btf_id);
		set_int(L, "target_obj_id", info->tracing.target_obj_id);
		break;
	case BPF_LINK_TYPE_CGROUP:
		set_str(L, "attach_type", lbpf_attach_type_name(info->cgroup.attach_type));
		set_u64(L, "cgroup_id", info->cgroup.cgroup_id);
		break;
	case BPF_LINK_TYPE_NETNS:
		set_str(L, "attach_type", lbpf_attach_type_name(info->netns.attach_type));
		set_int(L, "netns_ino", info->netns.netns_ino);
		break;
	case BPF_LINK_TYPE_XDP:
		set_int(L, "ifindex", info->xdp.ifindex);
		break;
	default:
		break;
	}
	set_str(L, "attach", desc);
}

/* Opens each id of a kind in turn; fills one entry per object that still exists. */
static int list_objects(lua_State *L, enum lbpf_id_kind kind)
{
	int want_holders = 1, holders = 0, result;
	uint32_t id = 0;
	lua_Integer n = 0;

	if (lua_istable(L, 1)) {
		lua_getfield(L, 1, "pids");
		want_holders = lua_isnil(L, -1) || lua_toboolean(L, -1);
		lua_pop(L, 1);
	} else if (!lua_isnoneornil(L, 1)) {
		return luaL_argerror(L, 1, "options table expected");
	}
	if (want_holders) {
		push_holders(L, kind);
		holders = lua_gettop(L);
	}
	lua_newtable(L);
	result = lua_gettop(L);
	for (;;) {
		union {
			struct bpf_prog_info prog;
			struct bpf_map_info map;
			struct bpf_link_info link;
		} info;
		uint32_t len;
		int err = lbpf_next_id(kind, id, &id), fd;

		if (err == -ENOENT)
			break;
		if (err < 0)
			return lbpf_lua_fail(L, err);
		fd = lbpf_fd_by_id(kind, id);
		if (fd < 0)
			continue; /* unloaded between the two calls */
		memset(&info, 0, sizeof(info));
		len = kind == LBPF_ID_PROG ? sizeof(info.prog)
		      : kind == LBPF_ID_MAP ? sizeof(info.map) : sizeof(info.link);
		if (lbpf_obj_info(fd, &info, &len) == 0) {
			if (kind == LBPF_ID_PROG)
				push_prog_entry(L, fd, &info.prog);
			else if (kind == LBPF_ID_MAP)
				push_map_entry(L, &info.map);
			else
				push_link_entry(L, fd, &info.link);
			set_holder_fields(L, holders, id);
			lua_rawseti(L, result, ++n);
		}
		close(fd);
	}
	lua_pushvalue(L, result);
	return 1;
}

static int l_programs(lua_State *L) { return list_objects(L, LBPF_ID_PROG); }
static int l_maps(lua_State *L) { return list_objects(L, LBPF_ID_MAP); }
static int l_links(lua_State *L) { return list_objects(L, LBPF_ID_LINK); }

/* ---- disassembly ------------------------------------------------------------------------------ */

/* prog:xlated() for object programs and programs opened by id or pin: any handle whose fd()
 * method gives a loaded program's fd. */
static int l_xlated(lua_State *L)
{
	char *text = NULL;
	int fd, err;

	luaL_checktype(L, 1, LUA_TUSERDATA);
	if (luaL_testudata(L, 1, LBPF_PROGRAM_MT) &&
	    lbpf_program_fd(lbpf_lua_check_program(L, 1)) < 0)
		return luaL_error(L, "program '%s' is not loaded (call obj:load() first)",
				  lbpf_program_name(lbpf_lua_check_program(L, 1)));
	lua_getfield(L, 1, "fd");
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	fd = (int)luaL_checkinteger(L, -1);
	err = lbpf_prog_xlated_text(fd, &text);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushstring(L, text);
	free(text);
	return 1;
}

/* prog:info(): what the kernel reports about a loaded program (the entry bpf.programs() lists). */
static int l_prog_info(lua_State *L)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	lbpf_program *prog = lbpf_lua_check_program(L, 1);
	int fd = lbpf_program_fd(prog), err;

	if (fd < 0)
		return luaL_error(L, "program '%s' is not loaded (call obj:load() first)",
				  lbpf_program_name(prog));
	memset(&info, 0, sizeof(info));
	err = lbpf_obj_info(fd, &info, &len);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	push_prog_entry(L, fd, &info);
	return 1;
}

/* bpf.disasm(bytes [, {xlated = true}]): raw instructions (8 bytes each) as text. */
static int l_disasm(lua_State *L)
{
	size_t size;
	const char *bytes = luaL_checklstring(L, 1, &size);
	struct lbpf_disasm_opts opts = { 0 };
	struct bpf_insn *insns;
	char *text = NULL;
	int err;

	if (size % sizeof(struct bpf_insn))
		return luaL_error(L, "bpf.disasm: %d bytes is not a whole number of 8-byte "
				  "instructions", (int)size);
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "xlated");
		opts.xlated = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	/* Copy: a Lua string's bytes need not be aligned for struct bpf_insn. */
	insns = malloc(size ? size : 1);
	if (!insns)
		return lbpf_lua_fail_msg(L, ENOMEM, "out of memory");
	memcpy(insns, bytes, size);
	err = lbpf_disasm(insns, size / sizeof(*insns), &opts, &text);
	free(insns);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushstring(L, text);
	free(text);
	return 1;
}

/* ---- features --------------------------------------------------------------------------------- */

#define MAX_TYPE_ID 40

static int prog_type_by_name(const char *name)
{
	for (int t = 1; t < MAX_TYPE_ID; t++)
		if (strcmp(lbpf_prog_type_name((enum bpf_prog_type)t), name) == 0)
			return t;
	return -1;
}

/* features.helpers[prog_type] → { bpf_map_lookup_elem = true, ... }, probed on first use. */
static int l_helpers_index(lua_State *L)
{
	const char *name = luaL_checkstring(L, 2);
	int type = prog_type_by_name(name), count = lbpf_helper_count();

	if (type < 0 || lbpf_probe_prog_type((enum bpf_prog_type)type) <= 0)
		return 0;
	lua_createtable(L, 0, count);
	for (int id = 1; id < count; id++) {
		int ok = lbpf_probe_helper((enum bpf_prog_type)type, id);

		if (ok >= 0 && lbpf_helper_name(id)) {
			lua_pushboolean(L, ok);
			lua_setfield(L, -2, lbpf_helper_name(id));
		}
	}
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, 1);
	return 1;
}

/* 1, 0, or -1 when a directory on the way cannot be searched (tracefs is root's only). */
static int file_exists(const char *path)
{
	if (access(path, F_OK) == 0)
		return 1;
	return errno == EACCES || errno == EPERM ? -1 : 0;
}

static int either(int a, int b)
{
	if (a == 1 || b == 1)
		return 1;
	return a < 0 || b < 0 ? -1 : 0;
}

/* Answers are 1 (yes), 0 (no) or negative (cannot tell: the probe was refused for lack of
 * privilege). "a and b": a definite no wins over "cannot tell". */
static int both(int a, int b)
{
	if (a == 0 || b == 0)
		return 0;
	return a < 0 || b < 0 ? -1 : 1;
}

static int prog_ok(enum bpf_prog_type t)
{
	return lbpf_probe_prog_type(t);
}

/* Sets t[name] = ok, or appends "group.name" to the unknown list at unknown_idx. */
static void set_answer(lua_State *L, int unknown_idx, const char *group, const char *name, int ok)
{
	if (ok < 0) {
		lua_pushfstring(L, "%s.%s", group, name);
		lua_rawseti(L, unknown_idx, (int)lbpf_len(L, unknown_idx) + 1);
		return;
	}
	lua_pushboolean(L, ok);
	lua_setfield(L, -2, name);
}

static void push_attach_features(lua_State *L, int unknown_idx)
{
	int uprobe = file_exists("/sys/bus/event_source/devices/uprobe");
	int kprobe = either(file_exists("/sys/bus/event_source/devices/kprobe"),
			    file_exists("/sys/kernel/tracing/kprobe_events"));
	int tracefs = either(file_exists("/sys/kernel/tracing/events"),
			     file_exists("/sys/kernel/debug/tracing/events"));
	int kprobe_type = prog_ok(BPF_PROG_TYPE_KPROBE);
	const struct { const char *name; int ok; } kinds[] = {
		{ "tracepoint", both(prog_ok(BPF_PROG_TYPE_TRACEPOINT), tracefs) },
		{ "raw_tracepoint", prog_ok(BPF_PROG_TYPE_RAW_TRACEPOINT) },
		{ "tp_btf", lbpf_probe_attach_btf(BPF_TRACE_RAW_TP) },
		{ "kprobe", both(kprobe, kprobe_type) },
		{ "kretprobe", both(kprobe, kprobe_type) },
		{ "uprobe", both(uprobe, kprobe_type) },
		{ "uretprobe", both(uprobe, kprobe_type) },
		{ "usdt", both(uprobe, kprobe_type) },
		{ "perf_event", prog_ok(BPF_PROG_TYPE_PERF_EVENT) },
		{ "fentry", lbpf_probe_attach_btf(BPF_TRACE_FENTRY) },
		{ "fexit", lbpf_probe_attach_btf(BPF_TRACE_FEXIT) },
		{ "fmod_ret", lbpf_probe_attach_btf(BPF_MODIFY_RETURN) },
		{ "lsm", lbpf_probe_attach_btf(BPF_LSM_MAC) },
		{ "iter", lbpf_probe_attach_btf(BPF_TRACE_ITER) },
		{ "xdp", prog_ok(BPF_PROG_TYPE_XDP) },
		{ "tc", prog_ok(BPF_PROG_TYPE_SCHED_CLS) },
		{ "cgroup_skb", prog_ok(BPF_PROG_TYPE_CGROUP_SKB) },
		{ "cgroup_sock", prog_ok(BPF_PROG_TYPE_CGROUP_SOCK) },
		{ "cgroup_sock_addr", prog_ok(BPF_PROG_TYPE_CGROUP_SOCK_ADDR) },
		{ "socket_filter", prog_ok(BPF_PROG_TYPE_SOCKET_FILTER) },
		{ "sk_lookup", prog_ok(BPF_PROG_TYPE_SK_LOOKUP) },
		{ "flow_dissector", prog_ok(BPF_PROG_TYPE_FLOW_DISSECTOR) },
		{ "sockmap", both(prog_ok(BPF_PROG_TYPE_SK_SKB), prog_ok(BPF_PROG_TYPE_SK_MSG)) },
		{ "netfilter", prog_ok((enum bpf_prog_type)32) },
		{ "kprobe_multi", kprobe && lbpf_probe_link("kprobe_multi") > 0 },
		{ "uprobe_multi", uprobe && lbpf_probe_link("uprobe_multi") > 0 },
		{ "tcx", lbpf_probe_link("tcx") > 0 },
	};

	lua_createtable(L, 0, (int)(sizeof(kinds) / sizeof(kinds[0])));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		set_answer(L, unknown_idx, "attach", kinds[i].name, kinds[i].ok < 0 ? -1 : kinds[i].ok);
}

/* Names the build knows; "unknown" marks ids past the end of the name tables. */
static void push_type_features(lua_State *L, int maps, int unknown_idx)
{
	lua_newtable(L);
	for (int t = 1; t < MAX_TYPE_ID; t++) {
		const char *name = maps ? lbpf_map_type_name((enum bpf_map_type)t)
					: lbpf_prog_type_name((enum bpf_prog_type)t);
		int ok;

		if (strcmp(name, "unknown") == 0)
			continue;
		ok = maps ? lbpf_probe_map_type((enum bpf_map_type)t)
			  : lbpf_probe_prog_type((enum bpf_prog_type)t);
		if (ok == -EPERM)
			set_answer(L, unknown_idx, maps ? "map_types" : "prog_types", name, -1);
		else if (ok >= 0) /* otherwise not probeable (struct_ops): left out, not guessed */
			set_answer(L, unknown_idx, NULL, name, ok);
	}
}

/* bpf.features(): cached once every answer is known. Without the privilege to probe, the answers
 * that could not be had are listed in `unknown` (with `unknown_reason`) instead of guessed; with
 * none at all it fails as a system call does: nil, message, EPERM. */
static int l_features(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, FEATURES_KEY);
	if (lua_istable(L, -1))
		return 1;
	lua_pop(L, 1);
	lua_newtable(L); /* unknown */
	int unknown = lua_gettop(L);
	lua_createtable(L, 0, 6);
	push_type_features(L, 0, unknown);
	lua_setfield(L, -2, "prog_types");
	push_type_features(L, 1, unknown);
	lua_setfield(L, -2, "map_types");
	push_attach_features(L, unknown);
	lua_setfield(L, -2, "attach");
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, l_helpers_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, "helpers");
	if (lbpf_len(L, unknown) == 0) {
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, FEATURES_KEY);
		return 1;
	}
	lua_getfield(L, -1, "prog_types");
	lua_pushnil(L);
	int nothing_known = lua_next(L, -2) == 0;
	lua_pop(L, nothing_known ? 1 : 3);
	if (nothing_known)
		return lbpf_lua_fail_msg(L, EPERM, "bpf.features: the kernel refused every probe: "
					 LBPF_PRIVILEGE_HINT);
	lua_pushvalue(L, unknown);
	lua_setfield(L, -2, "unknown");
	lua_pushstring(L, "probes refused for lack of privilege (" LBPF_PRIVILEGE_HINT ")");
	lua_setfield(L, -2, "unknown_reason");
	return 1;
}

/* ---- small things for scripts ----------------------------------------------------------------- */

/* bpf.sleep(seconds) -> seconds left: fractional seconds; the tracing examples and bpf.top wait
 * with it. A caught signal ends the sleep early (the interpreters' Ctrl-C handler then stops the
 * script at once instead of after the whole wait); it returns what was left, 0 otherwise. */
static int l_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);
	struct timespec ts;

	if (s < 0)
		return luaL_argerror(L, 1, "negative duration");
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (lua_Number)ts.tv_sec) * 1e9);
	if (nanosleep(&ts, &ts) == 0 || errno != EINTR)
		ts.tv_sec = ts.tv_nsec = 0;
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

/* ---- help and lazily loaded pure-Lua parts -------------------------------------------------- */

static const char *const lua_parts[] = { "hist", "top", "pp", "help", "json", "asm", "trace", "repl",
					"cli", NULL };

/* Module __index: bpf.hist & co. are required on first use and then stored in the module. */
static int l_module_index(lua_State *L)
{
	const char *key = lua_tostring(L, 2);

	if (lua_type(L, 2) != LUA_TSTRING)
		return 0;
	for (int i = 0; lua_parts[i]; i++) {
		if (strcmp(key, lua_parts[i]) != 0)
			continue;
		lua_getglobal(L, "require");
		lua_pushfstring(L, "bpf.%s", key);
		lua_call(L, 1, 1);
		lua_pushvalue(L, 2);
		lua_pushvalue(L, -2);
		lua_rawset(L, 1);
		return 1;
	}
	return 0;
}

/* handle:help(): the methods of this handle with a line each (bpf.help does the work). */
static int l_handle_help(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "bpf.help");
	lua_call(L, 1, 1);
	lua_pushvalue(L, 1);
	lua_call(L, 1, 0);
	return 0; /* printed; nothing for the REPL to echo */
}

/* The method table of a class: its `methods` field, or __index when that is the table. */
static void add_to_class(lua_State *L, const char *mt_name, const luaL_Reg *methods)
{
	luaL_getmetatable(L, mt_name);
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "methods");
		if (!lua_istable(L, -1)) {
			lua_pop(L, 1);
			lua_getfield(L, -1, "__index");
		}
		if (lua_istable(L, -1))
			luaL_setfuncs(L, methods, 0);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}


void lbpf_lua_open_info(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "programs", l_programs },
		{ "maps", l_maps },
		{ "links", l_links },
		{ "features", l_features },
		{ "disasm", l_disasm },
		{ "sleep", l_sleep },
		{ NULL, NULL },
	};
	static const luaL_Reg prog_methods[] = {
		{ "xlated", l_xlated },
		{ NULL, NULL },
	};
	static const luaL_Reg object_prog_methods[] = {
		{ "info", l_prog_info },
		{ NULL, NULL },
	};
	static const luaL_Reg help_method[] = {
		{ "help", l_handle_help },
		{ NULL, NULL },
	};
	static const char *const classes[] = {
		LBPF_OBJECT_MT, LBPF_PROGRAM_MT, LBPF_MAP_MT, LBPF_ITER_MT, LBPF_LINK_MT,
		LBPF_BTF_MT, LBPF_READER_MT, "bpf.writer", "bpf.pinned_program", NULL,
	};

	luaL_setfuncs(L, funcs, 0);
	add_to_class(L, LBPF_PROGRAM_MT, prog_methods);
	add_to_class(L, LBPF_PROGRAM_MT, object_prog_methods);
	add_to_class(L, "bpf.pinned_program", prog_methods);
	for (int i = 0; classes[i]; i++)
		add_to_class(L, classes[i], help_method);
	/* The module table gets a metatable for the lazily required parts. */
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, l_module_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
}
