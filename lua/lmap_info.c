/*
 * Map introspection and sharing: map:info(), __tostring, bpf.open_map(path_or_id), and stack
 * traces symbolised through /proc/kallsyms (map:stack(id), bpf.ksym(addr)).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lmap.h"

/* ---- __tostring ----------------------------------------------------------------------------- */

/* "struct pair", "__u32", "char[16]"; "" without BTF. */
static void describe_type(const lbpf_btf *btf, uint32_t id, char *buf, size_t size)
{
	const struct btf_type *t = btf && id ? lbpf_btf_type(btf, id) : NULL;
	buf[0] = '\0';
	if (!t)
		return;
	const char *name = lbpf_btf_type_name(btf, id);
	switch (lbpf_btf_kind(t)) {
	case BTF_KIND_STRUCT: snprintf(buf, size, "struct %s", *name ? name : "(anon)"); return;
	case BTF_KIND_UNION: snprintf(buf, size, "union %s", *name ? name : "(anon)"); return;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64: snprintf(buf, size, "enum %s", *name ? name : "(anon)"); return;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = (const struct btf_array *)(t + 1);
		char elem[64];
		describe_type(btf, a->type, elem, sizeof(elem));
		snprintf(buf, size, "%s[%u]", *elem ? elem : "?", a->nelems);
		return;
	}
	default:
		if (*name)
			snprintf(buf, size, "%s", name);
		else if (lbpf_btf_kind(t) == BTF_KIND_PTR)
			snprintf(buf, size, "pointer");
	}
}

static void add_part(luaL_Buffer *b, const char *what, const lbpf_btf *btf, uint32_t id, uint32_t size)
{
	char type[128], text[200];
	describe_type(btf, id, type, sizeof(type));
	snprintf(text, sizeof(text), ", %s %u%s%s", what, size, *type ? " " : "", type);
	luaL_addstring(b, text);
}

#define COUNT_LIMIT 100000u

/* Entries of a keyed map, counted key by key up to COUNT_LIMIT; -1 when not countable. */
static long count_entries(lua_State *L, const struct lbpf_lua_map *m)
{
	if (m->type == BPF_MAP_TYPE_ARRAY || m->type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return (long)lbpf_map_max_entries(m->map);
	if (!m->key_size || lbpf_lua_map_is_storage(m) || m->type == BPF_MAP_TYPE_RINGBUF ||
	    lbpf_lua_map_is_array(m) || m->type == BPF_MAP_TYPE_BLOOM_FILTER ||
	    m->type == BPF_MAP_TYPE_SOCKMAP)
		return -1;
	uint8_t *keys = lbpf_newuserdata(L, 2 * (size_t)m->key_size);
	uint8_t *cur = keys, *next = keys + m->key_size;
	long n = 0;
	int err = lbpf_map_next_key(m->map, NULL, next);
	while (err == 0 && n < (long)COUNT_LIMIT) {
		n++;
		uint8_t *tmp = cur;
		cur = next;
		next = tmp;
		err = lbpf_map_next_key(m->map, cur, next);
	}
	lua_pop(L, 1);
	return err == 0 || err == -ENOENT ? n : -1;
}

/* bpf.map(counts, hash, key 4 __u32, value 24 struct pair, max 16, 3 entries, fd 7): before
 * load the same without types and entries ("..., max 16, not created"). */
int lbpf_lua_map_tostring(lua_State *L)
{
	struct lbpf_lua_map *m = luaL_checkudata(L, 1, LBPF_MAP_MT);
	luaL_Buffer b;
	char text[160];

	if (!lbpf_lua_map_alive(m)) {
		lua_pushfstring(L, "bpf.map(%s, closed)", m->name);
		return 1;
	}
	int fd = lbpf_map_fd(m->map);
	const lbpf_btf *btf = fd >= 0 ? lbpf_map_btf(m->map) : NULL;
	long entries = fd >= 0 ? count_entries(L, m) : -1;
	luaL_buffinit(L, &b);
	snprintf(text, sizeof(text), "bpf.map(%s, %s", m->name, lbpf_lua_map_type_name(m));
	luaL_addstring(&b, text);
	add_part(&b, "key", btf, lbpf_map_btf_key_type_id(m->map), m->key_size);
	add_part(&b, "value", btf, lbpf_map_btf_value_type_id(m->map), m->value_size);
	snprintf(text, sizeof(text), ", max %u", lbpf_map_max_entries(m->map));
	luaL_addstring(&b, text);
	if (entries >= 0) {
		snprintf(text, sizeof(text), ", %s%ld entries", entries >= (long)COUNT_LIMIT ? ">=" : "",
			 entries);
		luaL_addstring(&b, text);
	}
	const char *pin = lbpf_map_pin_path(m->map);
	if (fd >= 0)
		snprintf(text, sizeof(text), ", fd %d%s%s)", fd, pin ? ", pinned " : "", pin ? pin : "");
	else
		snprintf(text, sizeof(text), ", not created)");
	luaL_addstring(&b, text);
	luaL_pushresult(&b);
	return 1;
}

/* ---- map:info() ----------------------------------------------------------------------------- */

/* "memlock:\t4096" style fields of /proc/self/fdinfo/<fd>; -1 when absent. */
static long long fdinfo_field(int fd, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long long v = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			v = strtoll(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

/* map:info() -> {id=, name=, type=, key_size=, value_size=, max_entries=, flags=, map_extra=,
 *   btf_id=, btf_key_type_id=, btf_value_type_id=, ifindex=, pinned=, memlock=, frozen=} */
static int l_info(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	int fd = lbpf_map_fd(m->map);

	memset(&info, 0, sizeof(info));
	int err = lbpf_obj_info(fd, &info, &len);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_createtable(L, 0, 16);
	set_int(L, "id", info.id);
	lua_pushstring(L, info.name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, lbpf_lua_map_type_name(m));
	lua_setfield(L, -2, "type");
	set_int(L, "key_size", info.key_size);
	set_int(L, "value_size", info.value_size);
	set_int(L, "max_entries", info.max_entries);
	set_int(L, "flags", info.map_flags);
	set_int(L, "map_extra", (lua_Integer)info.map_extra);
	set_int(L, "btf_id", info.btf_id);
	set_int(L, "btf_key_type_id", info.btf_key_type_id);
	set_int(L, "btf_value_type_id", info.btf_value_type_id);
	set_int(L, "ifindex", info.ifindex);
	if (lbpf_map_pin_path(m->map)) {
		lua_pushstring(L, lbpf_map_pin_path(m->map));
		lua_setfield(L, -2, "pinned");
	}
	long long memlock = fdinfo_field(fd, "memlock"), frozen = fdinfo_field(fd, "frozen");
	if (memlock >= 0)
		set_int(L, "memlock", (lua_Integer)memlock);
	lua_pushboolean(L, frozen > 0);
	lua_setfield(L, -2, "frozen");
	return 1;
}

/* ---- bpf.open_map(path_or_id) --------------------------------------------------------------- */

static int l_open_map(lua_State *L)
{
	int fd;
	if (lua_type(L, 1) == LUA_TNUMBER) {
		lua_Integer id = luaL_checkinteger(L, 1);
		if (id <= 0 || id > UINT32_MAX)
			return luaL_argerror(L, 1, "map id out of range");
		fd = lbpf_fd_by_id(LBPF_ID_MAP, (uint32_t)id);
	} else {
		fd = lbpf_obj_get(luaL_checkstring(L, 1));
	}
	if (fd < 0)
		return lbpf_lua_fail(L, fd);
	lbpf_map *map = NULL;
	int err = lbpf_map_from_fd(fd, &map);
	if (err < 0) {
		close(fd);
		return lbpf_lua_fail(L, err);
	}
	lbpf_lua_new_map_handle(L, map, 0);
	return 1;
}

/* ---- kernel symbols ------------------------------------------------------------------------- */

struct ksym {
	uint64_t addr;
	uint32_t name; /* offset into the names blob */
};

struct ksym_table {
	struct ksym *syms;
	size_t n;
	char *names;
};

#define KSYMS_KEY "bpf.kallsyms"

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int ksyms_gc(lua_State *L)
{
	struct ksym_table *t = lua_touserdata(L, 1);
	free(t->syms);
	free(t->names);
	t->syms = NULL;
	t->names = NULL;
	return 0;
}

/* Reads the text symbols of /proc/kallsyms ("ffffffff81000000 T _stext [module]"). */
static int ksyms_read(struct ksym_table *t)
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512];
	size_t cap = 0, names_len = 0, names_cap = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long addr;
		char type, name[256];
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || !addr ||
		    !strchr("tTwW", type))
			continue;
		size_t len = strlen(name) + 1;
		if (t->n == cap || names_len + len > names_cap) {
			size_t ncap = cap ? cap * 2 : 65536, ncap_names = names_cap ? names_cap * 2 : 1 << 20;
			struct ksym *s = t->n == cap ? realloc(t->syms, ncap * sizeof(*s)) : t->syms;
			if (s)
				t->syms = s, cap = t->n == cap ? ncap : cap;
			char *nn = names_len + len > names_cap ? realloc(t->names, ncap_names) : t->names;
			if (nn)
				t->names = nn, names_cap = names_len + len > names_cap ? ncap_names : names_cap;
			if (!s || !nn) {
				fclose(f);
				return -ENOMEM;
			}
		}
		memcpy(t->names + names_len, name, len);
		t->syms[t->n].addr = addr;
		t->syms[t->n++].name = (uint32_t)names_len;
		names_len += len;
	}
	fclose(f);
	qsort(t->syms, t->n, sizeof(*t->syms), ksym_cmp);
	return t->n ? 0 : -EPERM;
}

/* The table cached in the registry (read on first use, freed with the Lua state; read again
 * after lbpf_lua_ksyms_forget, which each new link calls). */
static struct ksym_table *ksyms(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, KSYMS_KEY);
	struct ksym_table *t = lua_touserdata(L, -1);
	lua_pop(L, 1);
	if (t)
		return t;
	t = lbpf_newuserdata(L, sizeof(*t));
	memset(t, 0, sizeof(*t));
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, ksyms_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	int err = ksyms_read(t);
	if (err < 0) {
		ksyms_gc(L);
		lua_pop(L, 1);
		luaL_error(L, "reading /proc/kallsyms: %s", err == -EPERM ? "no symbol addresses visible "
			   "(kernel.kptr_restrict?)" : strerror(-err));
	}
	lua_setfield(L, LUA_REGISTRYINDEX, KSYMS_KEY);
	return t;
}

void lbpf_lua_ksyms_forget(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, KSYMS_KEY);
	if (lua_touserdata(L, -1)) {
		lua_pushcfunction(L, ksyms_gc); /* its megabytes now, not at some later GC */
		lua_insert(L, -2);
		lua_call(L, 1, 0);
	} else {
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, KSYMS_KEY);
}

static const struct ksym *ksym_find(const struct ksym_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->syms[lo - 1] : NULL;
}

/* bpf.ksym(addr) -> name, offset | nil when no kernel symbol covers addr */
static int l_ksym(lua_State *L)
{
	uint64_t addr = lbpf_lua_check_u64(L, 1);
	const struct ksym *s = ksym_find(ksyms(L), addr);
	if (!s)
		return 0;
	lua_pushstring(L, ksyms(L)->names + s->name);
	lua_pushinteger(L, (lua_Integer)(addr - s->addr));
	return 2;
}

static void push_symbolised(lua_State *L, struct ksym_table *t, uint64_t addr)
{
	const struct ksym *s = ksym_find(t, addr);
	char text[300];
	if (s)
		snprintf(text, sizeof(text), "%s+0x%llx", t->names + s->name,
			 (unsigned long long)(addr - s->addr));
	else
		snprintf(text, sizeof(text), "0x%llx", (unsigned long long)addr);
	lua_pushstring(L, text);
}

/* map:stack(id [, {symbols = true}]) for stack_trace maps -> array of addresses, or of
 * "function+0xoffset" strings | nil, message, errno */
static int l_stack(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	if (m->type != BPF_MAP_TYPE_STACK_TRACE)
		return luaL_error(L, "stack works on stack_trace maps only, not on %s map '%s'",
				  lbpf_lua_map_type_name(m), m->name);
	lua_Integer id = luaL_checkinteger(L, 2);
	if (id < 0)
		return luaL_argerror(L, 2, "stack id is negative: bpf_get_stackid failed in the program");
	int symbols = 0;
	if (lua_istable(L, 3)) {
		lua_getfield(L, 3, "symbols");
		symbols = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	uint32_t key = (uint32_t)id;
	int err = lbpf_map_lookup(m->map, &key, m->value_buf, 0);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	struct ksym_table *t = symbols ? ksyms(L) : NULL;
	uint32_t n = m->value_size / 8;
	lua_createtable(L, (int)n, 0);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t addr;
		memcpy(&addr, m->value_buf + (size_t)i * 8, 8);
		if (!addr)
			break;
		if (t)
			push_symbolised(L, t, addr);
		else
			lbpf_lua_push_u64(L, addr);
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

void lbpf_lua_open_map_info(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "info", l_info },
		{ "stack", l_stack },
		{ NULL, NULL },
	};
	static const luaL_Reg funcs[] = {
		{ "open_map", l_open_map },
		{ "ksym", l_ksym },
		{ NULL, NULL },
	};
	lbpf_lua_add_methods(L, LBPF_MAP_MT, methods);
	luaL_setfuncs(L, funcs, 0); /* the module table is on top of the stack */
	luaL_getmetatable(L, LBPF_MAP_MT);
	lua_pushcfunction(L, lbpf_lua_map_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
}
