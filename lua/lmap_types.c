/*
 * Keys and values whose shape is set by the map type rather than by BTF:
 *  - fd-valued maps: prog_array takes a program handle, array/hash_of_maps a map handle,
 *    sockmap/sockhash/xskmap a socket (fd number or any object with :getfd(), e.g. luasocket),
 *    perf_event_array/cgroup_array an fd; lookups return what the kernel returns (prog/map id,
 *    socket cookie);
 *  - devmap/devmap_hash: an ifindex, an interface name, or {ifindex=, prog=} (8-byte values);
 *    cpumap: a queue size or {qsize=, prog=};
 *  - lpm_trie with 4- or 16-byte data (IP tries): keys are CIDR strings ("10.0.0.0/8",
 *    "2001:db8::/32"; a bare address is a full-length prefix) or {prefixlen=, data=} where data
 *    may be an address string; keys come back as CIDR strings;
 *  - local storage: task storage keys are pids (opened as pidfds for the call) or {pidfd=};
 *    inode and cgroup (cgrp) storage take a path or an fd, sk storage a socket or fd;
 *  - stack_trace values are arrays of instruction addresses without the zero padding.
 * Everything else goes through the BTF codecs (lvalue.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lmap.h"

#ifndef BPF_MAP_TYPE_CGRP_STORAGE
#define BPF_MAP_TYPE_CGRP_STORAGE 32
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

const char *lbpf_lua_map_type_name(const struct lbpf_lua_map *m)
{
	if ((int)m->type == BPF_MAP_TYPE_CGRP_STORAGE)
		return "cgrp_storage";
	const char *n = lbpf_map_type_name(m->type);
	return n ? n : "unknown";
}

/* ---- fds from Lua values -------------------------------------------------------------------- */

/* An fd from a number, a program or map handle, or an object with a getfd method. */
static int fd_of(lua_State *L, int idx, const struct lbpf_lua_map *m, const char *what)
{
	idx = lua_absindex(L, idx);
	if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Number n = lua_tonumber(L, idx);
		if (n < 0 || n > INT32_MAX || n != (lua_Number)(int)n)
			luaL_error(L, "value for %s map '%s': %s expected, got number %s",
				   lbpf_lua_map_type_name(m), m->name, what, lua_tostring(L, idx));
		return (int)n;
	}
	if (luaL_testudata(L, idx, LBPF_PROGRAM_MT)) {
		int fd = lbpf_program_fd(lbpf_lua_check_program(L, idx));
		if (fd < 0)
			luaL_error(L, "value for %s map '%s': program is not loaded", lbpf_lua_map_type_name(m), m->name);
		return fd;
	}
	if (luaL_testudata(L, idx, LBPF_MAP_MT)) {
		int fd = lbpf_map_fd(lbpf_lua_check_map(L, idx));
		if (fd < 0)
			luaL_error(L, "value for %s map '%s': map is not created yet", lbpf_lua_map_type_name(m), m->name);
		return fd;
	}
	if (lua_type(L, idx) == LUA_TUSERDATA || lua_type(L, idx) == LUA_TTABLE) {
		lua_getfield(L, idx, "getfd");
		if (lua_isfunction(L, -1)) {
			lua_pushvalue(L, idx);
			lua_call(L, 1, 1);
			/* luasocket returns its fd as a float */
			if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 0) {
				int fd = (int)lua_tonumber(L, -1);
				lua_pop(L, 1);
				return fd;
			}
		}
		lua_pop(L, 1);
	}
	return luaL_error(L, "value for %s map '%s': %s expected, got %s", lbpf_lua_map_type_name(m),
			  m->name, what, luaL_typename(L, idx));
}

static void store_u32(uint8_t *out, uint32_t v) { memcpy(out, &v, 4); }
static uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ---- devmap / cpumap ------------------------------------------------------------------------ */

/* A u32 field of a special value: an integer in range, never truncated or wrapped. */
static uint32_t u32_of(lua_State *L, int idx, const struct lbpf_lua_map *m, const char *what)
{
	lua_Number n = lua_type(L, idx) == LUA_TNUMBER ? lua_tonumber(L, idx) : -1;
	if (!(n >= 0 && n <= UINT32_MAX && n == (lua_Number)(uint32_t)n))
		luaL_error(L, "value for %s map '%s': %s must be an integer in 0..4294967295, got %s",
			   lbpf_lua_map_type_name(m), m->name, what,
			   lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx) : luaL_typename(L, idx));
	return (uint32_t)n;
}

static uint32_t ifindex_of(lua_State *L, int idx, const struct lbpf_lua_map *m)
{
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *name = lua_tostring(L, idx);
		unsigned int ifindex = if_nametoindex(name);
		if (!ifindex)
			luaL_error(L, "value for %s map '%s': no network interface named '%s'",
				   lbpf_lua_map_type_name(m), m->name, name);
		return ifindex;
	}
	return u32_of(L, idx, m, "ifindex");
}

/* devmap: ifindex | name | {ifindex=, prog=}; cpumap: qsize | {qsize=, prog=}. */
static void encode_dev_or_cpu(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out)
{
	bool dev = m->type != BPF_MAP_TYPE_CPUMAP;
	const char *first = dev ? "ifindex" : "qsize";
	memset(out, 0, m->value_size);
	if (lua_type(L, idx) != LUA_TTABLE) {
		store_u32(out, dev ? ifindex_of(L, idx, m) : u32_of(L, idx, m, "qsize"));
		return;
	}
	lua_getfield(L, idx, first);
	if (lua_isnil(L, -1))
		luaL_error(L, "value for %s map '%s': field '%s' missing", lbpf_lua_map_type_name(m), m->name, first);
	store_u32(out, dev ? ifindex_of(L, lua_gettop(L), m) : u32_of(L, lua_gettop(L), m, "qsize"));
	lua_getfield(L, idx, "prog");
	if (!lua_isnil(L, -1)) {
		if (m->value_size < 8)
			luaL_error(L, "value for %s map '%s': a program needs 8-byte values (this map has %d)",
				   lbpf_lua_map_type_name(m), m->name, (int)m->value_size);
		store_u32(out + 4, (uint32_t)fd_of(L, -1, m, "program handle or fd"));
	}
	lua_pop(L, 2);
}

static void push_dev_or_cpu(lua_State *L, const struct lbpf_lua_map *m, const uint8_t *data)
{
	if (m->value_size < 8) {
		lua_pushinteger(L, load_u32(data));
		return;
	}
	lua_createtable(L, 0, 2);
	lua_pushinteger(L, load_u32(data));
	lua_setfield(L, -2, m->type == BPF_MAP_TYPE_CPUMAP ? "qsize" : "ifindex");
	lua_pushinteger(L, load_u32(data + 4));
	lua_setfield(L, -2, "prog_id");
}

/* ---- values --------------------------------------------------------------------------------- */

static const char *fd_value_kind(enum bpf_map_type t)
{
	switch (t) {
	case BPF_MAP_TYPE_PROG_ARRAY: return "program handle or fd";
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
	case BPF_MAP_TYPE_HASH_OF_MAPS: return "map handle or fd";
	case BPF_MAP_TYPE_SOCKMAP:
	case BPF_MAP_TYPE_SOCKHASH:
	case BPF_MAP_TYPE_XSKMAP: return "socket (fd or object with :getfd())";
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY: return "perf event fd";
	case BPF_MAP_TYPE_CGROUP_ARRAY: return "cgroup fd";
	default: return NULL;
	}
}

int lbpf_lua_map_encode_special_value(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out)
{
	const char *kind = fd_value_kind(m->type);
	if (kind) {
		memset(out, 0, m->value_size);
		store_u32(out, (uint32_t)fd_of(L, idx, m, kind));
		return 1;
	}
	if (m->type == BPF_MAP_TYPE_DEVMAP || m->type == BPF_MAP_TYPE_DEVMAP_HASH ||
	    m->type == BPF_MAP_TYPE_CPUMAP) {
		encode_dev_or_cpu(L, m, lua_absindex(L, idx), out);
		return 1;
	}
	return 0;
}

int lbpf_lua_map_push_special_value(lua_State *L, const struct lbpf_lua_map *m, const uint8_t *data)
{
	switch (m->type) {
	case BPF_MAP_TYPE_DEVMAP:
	case BPF_MAP_TYPE_DEVMAP_HASH:
	case BPF_MAP_TYPE_CPUMAP:
		push_dev_or_cpu(L, m, data);
		return 1;
	case BPF_MAP_TYPE_STACK_TRACE: {
		uint32_t n = m->value_size / 8, i;
		lua_createtable(L, (int)n, 0);
		for (i = 0; i < n; i++) {
			uint64_t addr;
			memcpy(&addr, data + (size_t)i * 8, 8);
			if (!addr)
				break;
			lbpf_lua_push_u64(L, addr);
			lua_rawseti(L, -2, (int)i + 1);
		}
		return 1;
	}
	default:
		if (fd_value_kind(m->type) && m->value_size == 4) {
			lua_pushinteger(L, load_u32(data)); /* prog id, map id, ... */
			return 1;
		}
		return 0;
	}
}

/* ---- LPM trie keys -------------------------------------------------------------------------- */

static bool is_ip_trie(const struct lbpf_lua_map *m)
{
	return m->type == BPF_MAP_TYPE_LPM_TRIE && (m->key_size == 8 || m->key_size == 20);
}

/* "addr[/len]" into out (prefixlen u32 host order, then the address); 0 or -1 if unparsable. */
static int parse_cidr(const char *s, uint8_t *out, uint32_t data_size)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int af = data_size == 4 ? AF_INET : AF_INET6;
	unsigned long len = data_size * 8;

	if (n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(af, addr, out + 4) != 1)
		return -1;
	if (slash) {
		char *end;
		len = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || len > data_size * 8)
			return -1;
	}
	store_u32(out, (uint32_t)len);
	return 0;
}

static void encode_lpm_key(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out)
{
	uint32_t dsize = m->key_size - 4;
	const char *fam = dsize == 4 ? "IPv4" : "IPv6";
	memset(out, 0, m->key_size);
	if (lua_type(L, idx) == LUA_TSTRING) {
		if (parse_cidr(lua_tostring(L, idx), out, dsize) != 0)
			luaL_error(L, "key for lpm_trie map '%s': '%s' is not an %s address or CIDR prefix",
				   m->name, lua_tostring(L, idx), fam);
		return;
	}
	lua_getfield(L, idx, "data");
	lua_getfield(L, idx, "prefixlen");
	size_t len = 0;
	const char *data = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
	if (data && len != dsize) {
		if (parse_cidr(data, out, dsize) != 0)
			luaL_error(L, "key for lpm_trie map '%s': data '%s' is not an %s address", m->name, data, fam);
		lua_Integer plen = luaL_optinteger(L, -1, dsize * 8);
		if (plen < 0 || plen > dsize * 8)
			luaL_error(L, "key for lpm_trie map '%s': prefixlen %d out of range 0..%d", m->name,
				   (int)plen, (int)dsize * 8);
		store_u32(out, (uint32_t)plen);
		lua_pop(L, 2);
		return;
	}
	lua_pop(L, 2);
	lbpf_lua_codec_encode(L, idx, &m->key, out, "key");
}

static void push_lpm_key(lua_State *L, const struct lbpf_lua_map *m, const uint8_t *key)
{
	char text[INET6_ADDRSTRLEN + 8];
	uint32_t dsize = m->key_size - 4;
	if (!inet_ntop(dsize == 4 ? AF_INET : AF_INET6, key + 4, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	lua_pushfstring(L, "%s/%d", text, (int)load_u32(key));
}

/* ---- local storage keys --------------------------------------------------------------------- */

/* The fd a storage key opened for this call lives in key2_buf until the call ends. */
static void remember_fd(struct lbpf_lua_map *m, int fd)
{
	memcpy(m->key2_buf, &fd, sizeof(fd));
}

void lbpf_lua_map_release_key(struct lbpf_lua_map *m)
{
	int fd;
	if (!m->key2_buf || m->key_size != 4 || !lbpf_lua_map_is_storage(m))
		return;
	memcpy(&fd, m->key2_buf, sizeof(fd));
	if (fd > 0)
		close(fd);
	remember_fd(m, -1);
}

bool lbpf_lua_map_is_storage(const struct lbpf_lua_map *m)
{
	switch ((int)m->type) {
	case BPF_MAP_TYPE_TASK_STORAGE:
	case BPF_MAP_TYPE_INODE_STORAGE:
	case BPF_MAP_TYPE_SK_STORAGE:
	case BPF_MAP_TYPE_CGRP_STORAGE:
		return true;
	default:
		return false;
	}
}

static int open_for_key(lua_State *L, struct lbpf_lua_map *m, int idx)
{
	int fd;
	if (m->type == BPF_MAP_TYPE_TASK_STORAGE && lbpf_isinteger(L, idx)) {
		lua_Integer pid = lua_tointeger(L, idx);
		fd = (int)syscall(SYS_pidfd_open, (int)pid, 0);
		if (fd < 0)
			luaL_error(L, "key for task_storage map '%s': pid %d: %s", m->name, (int)pid, strerror(errno));
	} else if (lua_type(L, idx) == LUA_TSTRING && m->type != BPF_MAP_TYPE_SK_STORAGE &&
		   m->type != BPF_MAP_TYPE_TASK_STORAGE) {
		fd = open(lua_tostring(L, idx), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			luaL_error(L, "key for %s map '%s': %s: %s", lbpf_lua_map_type_name(m), m->name,
				   lua_tostring(L, idx), strerror(errno));
	} else {
		return -1;
	}
	remember_fd(m, fd);
	return fd;
}

static void encode_storage_key(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out)
{
	int fd = open_for_key(L, m, idx);
	if (fd < 0 && lua_type(L, idx) == LUA_TTABLE && m->type == BPF_MAP_TYPE_TASK_STORAGE) {
		lua_getfield(L, idx, "pidfd");
		fd = (int)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
	}
	if (fd < 0)
		fd = fd_of(L, idx, m, m->type == BPF_MAP_TYPE_TASK_STORAGE ? "pid or {pidfd=}"
				      : m->type == BPF_MAP_TYPE_SK_STORAGE ? "socket or fd" : "path or fd");
	memcpy(out, &fd, sizeof(fd));
}

/* ---- keys ----------------------------------------------------------------------------------- */

int lbpf_lua_map_encode_special_key(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out)
{
	if (is_ip_trie(m)) {
		encode_lpm_key(L, m, lua_absindex(L, idx), out);
		return 1;
	}
	if (lbpf_lua_map_is_storage(m) && m->key_size == 4) {
		encode_storage_key(L, m, lua_absindex(L, idx), out);
		return 1;
	}
	return 0;
}

int lbpf_lua_map_push_special_key(lua_State *L, const struct lbpf_lua_map *m, const uint8_t *key)
{
	if (is_ip_trie(m)) {
		push_lpm_key(L, m, key);
		return 1;
	}
	return 0;
}
