/*
 * Map handles: map[key], map[key] = v, map[key] = nil, lookup/update/delete/next_key, push/peek
 * (queue, stack, bloom filter), counts and clearing. Iterators live in liter.c.
 *
 * `__index` first looks the key up in the method table, then (string keys only) in the handle's
 * properties (name, type, key_size, value_size, max_entries, flags, percpu, loaded); any other
 * key is a map lookup. So a string key that names a method or property must be read with
 * map:lookup(key) (and written with map:update).
 *
 * Hot paths never allocate: the key and value are encoded into scratch buffers inside the map
 * userdata, and the key/value codecs are resolved from BTF once, when the handle is made.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lhandle.h"
#include "lmap.h"


static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static size_t scratch_size(const lbpf_map *map)
{
	uint32_t ks = lbpf_map_key_size(map);
	size_t lookup = lbpf_map_lookup_value_size(map);

	return 2 * align8(ks ? ks : 1) + align8(lookup ? lookup : 1);
}

/* Sizes, codecs and scratch buffers (at buf, scratch_size bytes) from the map's definition. */
static void describe_map(struct lbpf_lua_map *m, lbpf_map *map, uint8_t *buf)
{
	uint32_t ks = lbpf_map_key_size(map), vs = lbpf_map_value_size(map);

	m->key_size = ks;
	m->value_size = vs;
	m->type = lbpf_map_type(map);
	m->lookup_size = (uint32_t)lbpf_map_lookup_value_size(map);
	m->ncpus = lbpf_map_is_percpu(map) ? (uint32_t)lbpf_num_possible_cpus() : 1;
	if (m->ncpus < 1)
		m->ncpus = 1;
	m->value_stride = m->ncpus > 1 ? (uint32_t)align8(vs) : vs;
	lbpf_lua_codec_init(&m->key, lbpf_map_btf(map), lbpf_map_btf_key_type_id(map), ks, 0);
	lbpf_lua_codec_init(&m->value, lbpf_map_btf(map), lbpf_map_btf_value_type_id(map), vs, 0);
	m->key_buf = buf;
	m->key2_buf = m->key_buf + align8(ks ? ks : 1);
	m->value_buf = m->key2_buf + align8(ks ? ks : 1);
}

void lbpf_lua_new_map_handle(lua_State *L, lbpf_map *map, int obj_idx)
{
	size_t head = align8(sizeof(struct lbpf_lua_map));
	size_t total = head + scratch_size(map);

	obj_idx = obj_idx ? lua_absindex(L, obj_idx) : 0;
	struct lbpf_lua_map *m = lbpf_newuserdata(L, total);
	memset(m, 0, total);
	m->map = map;
	m->owner = obj_idx ? lbpf_lua_to_object(L, obj_idx) : NULL;
	describe_map(m, map, (uint8_t *)m + head);
	lbpf_lua_copy_name(m->name, sizeof(m->name), lbpf_map_name(map));
	luaL_setmetatable(L, LBPF_MAP_MT);
	lua_createtable(L, 0, 1);
	if (obj_idx) {
		lua_pushvalue(L, obj_idx);
		lua_setfield(L, -2, "owner");
	}
	lbpf_setuservalue(L, -2);
}

void lbpf_lua_map_refresh(lua_State *L, int idx)
{
	struct lbpf_lua_map *m = luaL_checkudata(L, idx, LBPF_MAP_MT);
	size_t total = scratch_size(m->map);
	uint8_t *buf;

	idx = lua_absindex(L, idx);
	buf = lbpf_newuserdata(L, total); /* the buffers inside the handle may be too small now */
	memset(buf, 0, total);
	lbpf_getuservalue(L, idx);
	lua_insert(L, -2);
	lua_setfield(L, -2, "scratch");
	lua_pop(L, 1);
	describe_map(m, m->map, buf);
}

static struct lbpf_lua_map *check_map_ud(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, LBPF_MAP_MT);
}

bool lbpf_lua_map_alive(const struct lbpf_lua_map *m)
{
	return m->owner ? m->owner->obj != NULL : m->map != NULL;
}

struct lbpf_lua_map *lbpf_lua_check_map_handle(lua_State *L, int idx)
{
	struct lbpf_lua_map *m = check_map_ud(L, idx);
	if (!lbpf_lua_map_alive(m))
		luaL_error(L, "map '%s' used after its object was closed", m->name);
	return m;
}

lbpf_map *lbpf_lua_check_map(lua_State *L, int idx)
{
	return lbpf_lua_check_map_handle(L, idx)->map;
}

struct lbpf_lua_map *lbpf_lua_check_created_map(lua_State *L, int idx)
{
	struct lbpf_lua_map *m = lbpf_lua_check_map_handle(L, idx);
	if (lbpf_map_fd(m->map) < 0)
		luaL_error(L, "map '%s' is not created yet (call obj:load() first)", m->name);
	return m;
}

static bool is_array_type(enum bpf_map_type t)
{
	switch (t) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PROG_ARRAY:
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
	case BPF_MAP_TYPE_CGROUP_ARRAY:
	case BPF_MAP_TYPE_ARRAY_OF_MAPS:
	case BPF_MAP_TYPE_DEVMAP:
	case BPF_MAP_TYPE_CPUMAP:
	case BPF_MAP_TYPE_XSKMAP:
		return true;
	default:
		return false;
	}
}

bool lbpf_lua_map_is_array(const struct lbpf_lua_map *m)
{
	return is_array_type(m->type);
}

static const char *type_name(const struct lbpf_lua_map *m)
{
	return lbpf_lua_map_type_name(m);
}

/* ---- what each map type supports ------------------------------------------------------------ */

static bool supports(const struct lbpf_lua_map *m, enum lbpf_map_op op)
{
	switch (m->type) {
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK:
		return op == LBPF_OP_PUSH || op == LBPF_OP_POP || op == LBPF_OP_PEEK;
	case BPF_MAP_TYPE_BLOOM_FILTER:
		return op == LBPF_OP_PUSH || op == LBPF_OP_CONTAINS;
	case BPF_MAP_TYPE_RINGBUF:
	case BPF_MAP_TYPE_USER_RINGBUF:
		return false;
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_CGROUP_STORAGE:
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		return op == LBPF_OP_KEYED || op == LBPF_OP_ITER;
	default:
		if (lbpf_lua_map_is_storage(m))
			return op == LBPF_OP_KEYED || op == LBPF_OP_DELETE;
		return op == LBPF_OP_KEYED || op == LBPF_OP_DELETE || op == LBPF_OP_ITER;
	}
}

static const char *op_hint(const struct lbpf_lua_map *m)
{
	switch (m->type) {
	case BPF_MAP_TYPE_QUEUE:
	case BPF_MAP_TYPE_STACK: return " (use push, pop and peek)";
	case BPF_MAP_TYPE_BLOOM_FILTER: return " (use push and contains)";
	case BPF_MAP_TYPE_RINGBUF: return " (read it with bpf.reader)";
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY: return " (array slots always exist: write a zero value)";
	default: return "";
	}
}

/* Pushes "pop is not supported on a hash map ('x')" and returns it, or NULL if supported. */
static const char *unsupported(lua_State *L, const struct lbpf_lua_map *m, enum lbpf_map_op op)
{
	static const char *const names[] = { "lookup by key", "delete", "push", "pop", "peek",
					     "contains", "iteration" };
	if (supports(m, op))
		return NULL;
	return lua_pushfstring(L, "%s is not supported on a%s %s map ('%s')%s", names[op],
			       strchr("aeiou", type_name(m)[0]) ? "n" : "", type_name(m), m->name,
			       op_hint(m));
}

void lbpf_lua_map_check_op(lua_State *L, const struct lbpf_lua_map *m, enum lbpf_map_op op)
{
	if (unsupported(L, m, op))
		lua_error(L);
}

/* Options table at idx (or none): raw = true. */
static int opt_raw(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_getfield(L, idx, "raw");
	int raw = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return raw;
}

/* Array maps: an index beyond max_entries is a usage error, not a system failure, and the same
 * one for every keyed access (m[k], m[k] = v, lookup, update, delete, batches). */
static void check_array_index(lua_State *L, const struct lbpf_lua_map *m, const void *key)
{
	uint32_t index;
	if (!is_array_type(m->type) || m->key_size != 4)
		return;
	memcpy(&index, key, 4);
	if (index >= lbpf_map_max_entries(m->map)) {
		char msg[160]; /* lua_pushfstring has no %u */
		snprintf(msg, sizeof(msg), "key %u out of range for %s map '%s' (max_entries %u)", index,
			 type_name(m), m->name, lbpf_map_max_entries(m->map));
		luaL_error(L, "%s", msg);
	}
}

void lbpf_lua_map_encode_key(lua_State *L, struct lbpf_lua_map *m, int idx, void *out, int raw)
{
	lbpf_lua_map_check_op(L, m, LBPF_OP_KEYED);
	if (!raw && lbpf_lua_map_encode_special_key(L, m, idx, out))
		return;
	/* raw: a byte string of key_size bytes is taken as is (what raw iteration returns);
	 * anything else is encoded as usual. */
	size_t len;
	if (raw && lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tolstring(L, idx, &len);
		if (len != m->key_size)
			luaL_error(L, "key: byte string of %d bytes expected, got %d bytes", (int)m->key_size,
				   (int)len);
		memcpy(out, s, len);
		check_array_index(L, m, out);
		return;
	}
	lbpf_lua_codec_encode(L, idx, &m->key, out, "key");
	check_array_index(L, m, out);
}

void lbpf_lua_map_push_key(lua_State *L, const struct lbpf_lua_map *m, const void *key, int raw)
{
	if (raw)
		lua_pushlstring(L, key, m->key_size);
	else if (!lbpf_lua_map_push_special_key(L, m, key))
		lbpf_lua_codec_push(L, &m->key, key);
}

void lbpf_lua_map_push_value(lua_State *L, const struct lbpf_lua_map *m, const void *data, int raw)
{
	const uint8_t *p = data;
	if (m->ncpus <= 1) {
		if (raw)
			lua_pushlstring(L, data, m->value_size);
		else if (!lbpf_lua_map_push_special_value(L, m, data))
			lbpf_lua_codec_push(L, &m->value, data);
		return;
	}
	lua_createtable(L, (int)m->ncpus, 0);
	for (uint32_t cpu = 0; cpu < m->ncpus; cpu++) {
		if (raw)
			lua_pushlstring(L, (const char *)p + (size_t)cpu * m->value_stride, m->value_size);
		else
			lbpf_lua_codec_push(L, &m->value, p + (size_t)cpu * m->value_stride);
		lua_rawseti(L, -2, (int)cpu + 1);
	}
}

static void encode_one(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out, int raw)
{
	if (raw) {
		struct lbpf_lua_codec c;
		lbpf_lua_codec_init(&c, NULL, 0, m->value_size, 1);
		lbpf_lua_codec_encode(L, idx, &c, out, "value");
	} else {
		lbpf_lua_codec_encode(L, idx, &m->value, out, "value");
	}
}

/* The largest index of a per-CPU array at idx; any key that is not a CPU index 1..ncpus is an
 * error (a hole is a zero value), never dropped. */
static size_t percpu_count(lua_State *L, int idx, uint32_t ncpus)
{
	size_t top = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		lua_Number k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
		if (!(k >= 1 && k == (lua_Number)(size_t)k))
			luaL_error(L, "value: per-CPU values are an array indexed by CPU, got a %s key",
				   luaL_typename(L, -1));
		if (k > ncpus)
			luaL_error(L, "value: %d per-CPU values given, but the machine has %d possible CPUs",
				   (int)(k > 1e9 ? 1e9 : k), (int)ncpus);
		if ((size_t)k > top)
			top = (size_t)k;
	}
	return top;
}

/* A value for one update: per-CPU maps take one value (replicated) or an array of them. */
void lbpf_lua_map_encode_value(lua_State *L, struct lbpf_lua_map *m, int idx, void *out, int raw)
{
	uint8_t *p = out;
	idx = lua_absindex(L, idx);
	if (m->ncpus <= 1) {
		if (raw || !lbpf_lua_map_encode_special_value(L, m, idx, p))
			encode_one(L, m, idx, p, raw);
		return;
	}
	memset(p, 0, m->lookup_size);
	int is_array = raw ? lua_type(L, idx) == LUA_TTABLE
			   : lbpf_lua_codec_is_percpu_array(L, idx, &m->value);
	if (!is_array) {
		encode_one(L, m, idx, p, raw);
		for (uint32_t cpu = 1; cpu < m->ncpus; cpu++)
			memcpy(p + (size_t)cpu * m->value_stride, p, m->value_size);
		return;
	}
	size_t n = percpu_count(L, idx, m->ncpus);
	for (size_t cpu = 0; cpu < n; cpu++) {
		lua_rawgeti(L, idx, (int)cpu + 1);
		if (!lua_isnil(L, -1))
			encode_one(L, m, lua_gettop(L), p + cpu * m->value_stride, raw);
		lua_pop(L, 1);
	}
}

static uint64_t check_update_flags(lua_State *L, int idx)
{
	static const char *const names[] = { "any", "noexist", "exist", "lock", NULL };
	static const uint64_t values[] = { BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK };
	int type = lua_type(L, idx);
	if (type == LUA_TNONE || type == LUA_TNIL)
		return BPF_ANY;
	if (type == LUA_TNUMBER)
		return lbpf_lua_check_u64(L, idx);
	return values[luaL_checkoption(L, idx, NULL, names)];
}

/* Encodes a value once the key sits in key_buf: a bad value must not leak an fd the key opened
 * (pidfd of a task-storage key), so the error is caught, the key released and re-raised. */
static int encode_value_protected(lua_State *L)
{
	struct lbpf_lua_map *m = lua_touserdata(L, 1);
	lbpf_lua_map_encode_value(L, m, 2, m->value_buf, lua_toboolean(L, 3));
	return 0;
}

static void encode_value_keeping_key(lua_State *L, struct lbpf_lua_map *m, int idx, int raw)
{
	if (!lbpf_lua_map_is_storage(m)) {
		lbpf_lua_map_encode_value(L, m, idx, m->value_buf, raw);
		return;
	}
	idx = lua_absindex(L, idx);
	lua_pushcfunction(L, encode_value_protected);
	lua_pushlightuserdata(L, m);
	lua_pushvalue(L, idx);
	lua_pushboolean(L, raw);
	if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
		lbpf_lua_map_release_key(m);
		lua_error(L);
	}
}

/* ---- element operations --------------------------------------------------------------------- */

/* The map handle at 1 for map[key], map[key] = v and map:lookup(k), created in the kernel: checked against the
 * metatable held in upvalue up (no registry lookup by name on every access); the usual checks
 * and messages otherwise. */
static struct lbpf_lua_map *fast_created_map(lua_State *L, int up)
{
	struct lbpf_lua_map *m = lua_touserdata(L, 1);
	if (m && lua_getmetatable(L, 1)) {
		int same = lua_rawequal(L, -1, lua_upvalueindex(up));
		lua_pop(L, 1);
		if (same && lbpf_lua_map_alive(m) && lbpf_map_fd(m->map) >= 0)
			return m;
	}
	return lbpf_lua_check_created_map(L, 1);
}


/* map:lookup(key [, {raw=true}]) -> value | nil, message, errno (ENOENT when absent).
 * Upvalue: the metatable (fast_created_map). */
static int l_lookup(lua_State *L)
{
	struct lbpf_lua_map *m = fast_created_map(L, 1);
	int raw = opt_raw(L, 3);
	lbpf_lua_map_encode_key(L, m, 2, m->key_buf, raw);
	int err = lbpf_map_lookup(m->map, m->key_buf, m->value_buf, 0);
	lbpf_lua_map_release_key(m);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_lua_map_push_value(L, m, m->value_buf, raw);
	return 1;
}

/* map:update(key, value [, flags [, {raw=true}]]) -> true | nil, message, errno */
static int l_update(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	uint64_t flags = check_update_flags(L, 4);
	int raw = opt_raw(L, 5);
	luaL_checkany(L, 3);
	lbpf_lua_map_encode_key(L, m, 2, m->key_buf, raw);
	encode_value_keeping_key(L, m, 3, raw);
	int err = lbpf_map_update(m->map, m->key_buf, m->value_buf, flags);
	lbpf_lua_map_release_key(m);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

/* map:delete(key [, {raw=true}]) -> true | nil, message, errno */
static int l_delete(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	int raw = opt_raw(L, 3);
	/* Deleting a slot of an array is a failure (EINVAL, as the kernel says), not misuse. */
	if (unsupported(L, m, LBPF_OP_DELETE) && supports(m, LBPF_OP_KEYED))
		return lbpf_lua_fail_msg(L, EINVAL, "%s", lua_tostring(L, -1));
	lbpf_lua_map_check_op(L, m, LBPF_OP_DELETE);
	lbpf_lua_map_encode_key(L, m, 2, m->key_buf, raw);
	int err = lbpf_map_delete(m->map, m->key_buf);
	lbpf_lua_map_release_key(m);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

/* map:next_key([key [, {raw=true}]]) -> next key | nil at the end | nil, message, errno */
static int l_next_key(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	lbpf_lua_map_check_op(L, m, LBPF_OP_ITER); /* also keeps storage maps' key2_buf intact */
	int raw = opt_raw(L, 3);
	const void *key = NULL;
	if (!lua_isnoneornil(L, 2)) {
		lbpf_lua_map_encode_key(L, m, 2, m->key_buf, raw);
		key = m->key_buf;
	}
	int err = lbpf_map_next_key(m->map, key, m->key2_buf);
	if (err == -ENOENT) {
		lua_pushnil(L);
		return 1;
	}
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_lua_map_push_key(L, m, m->key2_buf, raw);
	return 1;
}

/* map:push(value [, flags]) for queue/stack/bloom_filter -> true | nil, message, errno */
static int l_push(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	luaL_checkany(L, 2);
	lbpf_lua_map_check_op(L, m, LBPF_OP_PUSH);
	uint64_t flags = check_update_flags(L, 3);
	lbpf_lua_map_encode_value(L, m, 2, m->value_buf, 0);
	int err = lbpf_map_update(m->map, NULL, m->value_buf, flags);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

/* The value a lookup-like call left in value_buf, nil when there was none (ENOENT), or the
 * system failure. */
static int push_taken(lua_State *L, struct lbpf_lua_map *m, int err, int raw)
{
	if (err == -ENOENT) {
		lua_pushnil(L);
		return 1;
	}
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_lua_map_push_value(L, m, m->value_buf, raw);
	return 1;
}

/* map:peek() for queue/stack -> value | nil when empty | nil, message, errno */
static int l_peek(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	lbpf_lua_map_check_op(L, m, LBPF_OP_PEEK);
	int err = lbpf_map_lookup(m->map, NULL, m->value_buf, 0);
	return push_taken(L, m, err, 0);
}

/* map:contains(value) for bloom filters -> boolean | nil, message, errno */
static int l_contains(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	luaL_checkany(L, 2);
	lbpf_lua_map_check_op(L, m, LBPF_OP_CONTAINS);
	lbpf_lua_map_encode_value(L, m, 2, m->value_buf, 0);
	int err = lbpf_map_lookup(m->map, NULL, m->value_buf, 0);
	if (err == -ENOENT) {
		lua_pushboolean(L, 0);
		return 1;
	}
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

/* map:pop() for queue/stack -> value | nil when empty | nil, message, errno */
static int l_pop(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	lbpf_lua_map_check_op(L, m, LBPF_OP_POP);
	int err = lbpf_map_lookup_and_delete(m->map, NULL, m->value_buf);
	return push_taken(L, m, err, 0);
}

/* map:take(key) for hash maps: atomic lookup-and-delete -> value | nil when absent |
 * nil, message, errno */
static int l_take(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	int raw = opt_raw(L, 3);
	lbpf_lua_map_check_op(L, m, LBPF_OP_DELETE);
	lbpf_lua_map_encode_key(L, m, 2, m->key_buf, raw);
	int err = lbpf_map_lookup_and_delete(m->map, m->key_buf, m->value_buf);
	lbpf_lua_map_release_key(m);
	return push_taken(L, m, err, raw);
}

/* Entries of the table at idx (pairs, not just the array part). */
static size_t table_entries(lua_State *L, int idx)
{
	size_t n = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		n++;
	}
	return n;
}

/* One element at a time: storage maps (whose keys open fds) and kernels without batch update. */
static int update_each(lua_State *L, struct lbpf_lua_map *m, uint64_t flags)
{
	lua_Integer n = 0;
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		lbpf_lua_map_encode_key(L, m, -2, m->key_buf, 0);
			encode_value_keeping_key(L, m, -1, 0);
		int err = lbpf_map_update(m->map, m->key_buf, m->value_buf, flags);
		lbpf_lua_map_release_key(m);
		if (err < 0)
			return lbpf_lua_fail(L, err);
		n++;
		lua_pop(L, 1);
	}
	lua_pushinteger(L, n);
	return 1;
}

/* map:update_batch({[k] = v, ...} [, flags]) -> count | nil, message, errno. Every entry is
 * encoded before anything is written, so a bad key or value writes nothing; then one
 * BPF_MAP_UPDATE_BATCH (element by element where the map type has no batch update). */
static int l_update_batch(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	uint64_t flags = check_update_flags(L, 3);
	lua_settop(L, 2);
	lbpf_lua_map_check_op(L, m, LBPF_OP_KEYED);
	if (lbpf_lua_map_is_storage(m))
		return update_each(L, m, flags);
	size_t n = table_entries(L, 2), i = 0;
	if (n == 0 || n > UINT32_MAX) {
		lua_pushinteger(L, 0);
		return 1;
	}
	uint8_t *keys = lbpf_newuserdata(L, n * m->key_size);
	uint8_t *values = lbpf_newuserdata(L, n * m->lookup_size);
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		lbpf_lua_map_encode_key(L, m, -2, keys + i * m->key_size, 0);
		lbpf_lua_map_encode_value(L, m, -1, values + i * m->lookup_size, 0);
		lua_pop(L, 1);
		i++;
	}
	uint32_t count = (uint32_t)n;
	int err = lbpf_map_update_batch(m->map, keys, values, &count, flags);
	if (err < 0 && count == 0 && (err == -EINVAL || err == -ENOTSUP || err == -524 /* ENOTSUPP */)) {
		lua_settop(L, 2);
		return update_each(L, m, flags);
	}
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushinteger(L, (lua_Integer)count);
	return 1;
}

/* map:delete_batch({k1, k2, ...}) -> number deleted (absent keys are skipped) */
static int l_delete_batch(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lbpf_lua_map_check_op(L, m, LBPF_OP_DELETE);
	lua_Integer n = 0, len = lbpf_len(L, 2);
	for (lua_Integer i = 1; i <= len; i++) {
		lua_rawgeti(L, 2, (int)i);
		lbpf_lua_map_encode_key(L, m, -1, m->key_buf, 0);
		lua_pop(L, 1);
		int err = lbpf_map_delete(m->map, m->key_buf);
		lbpf_lua_map_release_key(m);
		if (err == -ENOENT)
			continue;
		if (err < 0)
			return lbpf_lua_fail(L, err);
		n++;
	}
	lua_pushinteger(L, n);
	return 1;
}

static int l_freeze(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	int err = lbpf_map_freeze(m->map);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_pin(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_created_map(L, 1);
	int err = lbpf_map_pin(m->map, luaL_checkstring(L, 2));
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_unpin(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_map_handle(L, 1);
	int err = lbpf_map_unpin(m->map);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_fd(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_map_handle(L, 1);
	int fd = lbpf_map_fd(m->map);
	if (fd < 0)
		return lbpf_lua_fail_msg(L, EBADF, "map '%s' is not created yet", m->name);
	lua_pushinteger(L, fd);
	return 1;
}

static int l_set_max_entries(lua_State *L)
{
	struct lbpf_lua_map *m = lbpf_lua_check_map_handle(L, 1);
	lua_Integer n = luaL_checkinteger(L, 2);
	if (n < 0 || n > UINT32_MAX)
		return luaL_argerror(L, 2, "max_entries out of range");
	int err = lbpf_map_set_max_entries(m->map, (uint32_t)n);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_settop(L, 1);
	return 1;
}

/* map:close(): closes a standalone map; a map of an object lives until the object closes. */
static int l_close(lua_State *L)
{
	struct lbpf_lua_map *m = check_map_ud(L, 1);
	if (!m->owner && m->map) {
		lbpf_map_free(m->map);
		m->map = NULL;
	}
	return 0;
}

/* ---- metamethods ---------------------------------------------------------------------------- */

static int push_property(lua_State *L, struct lbpf_lua_map *m, const char *k)
{
	if (strcmp(k, "name") == 0) {
		lua_pushstring(L, m->name);
		return 1;
	}
	if (strcmp(k, "closed") == 0) {
		lua_pushboolean(L, !lbpf_lua_map_alive(m));
		return 1;
	}
	static const char *const props[] = { "type", "key_size", "value_size", "max_entries", "flags",
					     "percpu", "loaded", "autocreate", "numa_node", NULL };
	int i = 0;
	while (props[i] && strcmp(props[i], k) != 0)
		i++;
	if (!props[i])
		return -1;
	if (!lbpf_lua_map_alive(m))
		return luaL_error(L, "map '%s' used after its object was closed", m->name);
	switch (i) {
	case 0: lua_pushstring(L, type_name(m)); break;
	case 1: lua_pushinteger(L, m->key_size); break;
	case 2: lua_pushinteger(L, m->value_size); break;
	case 3: lua_pushinteger(L, (lua_Integer)lbpf_map_max_entries(m->map)); break;
	case 4: lua_pushinteger(L, (lua_Integer)lbpf_map_flags(m->map)); break;
	case 5: lua_pushboolean(L, m->ncpus > 1 || lbpf_map_is_percpu(m->map)); break;
	case 6: lua_pushboolean(L, lbpf_map_fd(m->map) >= 0); break;
	case 7: lua_pushboolean(L, lbpf_map_autocreate(m->map)); break;
	case 8: lua_pushinteger(L, (lua_Integer)lbpf_map_numa_node(m->map)); break;
	}
	return 1;
}

/* map[key]: method, property, or the value (nil when absent). Upvalues: methods, metatable. */
static int l_index(lua_State *L)
{
	int type = lua_type(L, 2);
	if (type == LUA_TSTRING) {
		lua_pushvalue(L, 2);
		lua_rawget(L, lua_upvalueindex(1));
		if (!lua_isnil(L, -1))
			return 1;
		lua_pop(L, 1);
		int n = push_property(L, check_map_ud(L, 1), lua_tostring(L, 2));
		if (n >= 0)
			return n;
	}
	struct lbpf_lua_map *m = fast_created_map(L, 2);
	lbpf_lua_map_encode_key(L, m, 2, m->key_buf, 0);
	int err = lbpf_map_lookup(m->map, m->key_buf, m->value_buf, 0);
	lbpf_lua_map_release_key(m);
	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return luaL_error(L, "%s", lbpf_errmsg());
	lbpf_lua_map_push_value(L, m, m->value_buf, 0);
	return 1;
}

/* map[key] = value (nil deletes; deleting an absent key is not an error). Upvalue: metatable. */
static int l_newindex(lua_State *L)
{
	struct lbpf_lua_map *m = fast_created_map(L, 1);
	lbpf_lua_map_encode_key(L, m, 2, m->key_buf, 0);
	int err;
	if (lua_isnil(L, 3)) {
		lbpf_lua_map_check_op(L, m, LBPF_OP_DELETE);
		err = lbpf_map_delete(m->map, m->key_buf);
		if (err == -ENOENT)
			err = 0;
	} else {
			encode_value_keeping_key(L, m, 3, 0);
		err = lbpf_map_update(m->map, m->key_buf, m->value_buf, BPF_ANY);
	}
	lbpf_lua_map_release_key(m);
	if (err < 0)
		return luaL_error(L, "%s", lbpf_errmsg());
	return 0;
}

static int l_eq(lua_State *L)
{
	lua_pushboolean(L, lua_touserdata(L, 1) == lua_touserdata(L, 2));
	return 1;
}

void lbpf_lua_open_map(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{ "__tostring", lbpf_lua_map_tostring },
		{ "__eq", l_eq },
		{ "__gc", l_close },
#if LBPF_HAVE_CLOSE
		{ "__close", l_close },
#endif
		{ NULL, NULL },
	};
	static const luaL_Reg methods[] = {
		{ "lookup", l_lookup },
		{ "update", l_update },
		{ "delete", l_delete },
		{ "next_key", l_next_key },
		{ "push", l_push },
		{ "peek", l_peek },
		{ "pop", l_pop },
		{ "take", l_take },
		{ "contains", l_contains },
		{ "update_batch", l_update_batch },
		{ "delete_batch", l_delete_batch },
		{ "freeze", l_freeze },
		{ "pin", l_pin },
		{ "unpin", l_unpin },
		{ "fd", l_fd },
		{ "set_max_entries", l_set_max_entries },
		{ "close", l_close },
		{ NULL, NULL },
	};
	lbpf_lua_new_class(L, LBPF_MAP_MT, meta, methods, l_index);
	/* __index and __newindex again, as closures that also hold the metatable */
	luaL_getmetatable(L, LBPF_MAP_MT);
	lua_getfield(L, -1, "methods");
	lua_pushvalue(L, -2);
	lua_pushcclosure(L, l_index, 2);
	lua_setfield(L, -2, "__index");
	lua_pushvalue(L, -1);
	lua_pushcclosure(L, l_newindex, 1);
	lua_setfield(L, -2, "__newindex");
	lua_getfield(L, -1, "methods");
	lua_pushvalue(L, -2);
	lua_pushcclosure(L, l_lookup, 1);
	lua_setfield(L, -2, "lookup");
	lua_pop(L, 2);
	lbpf_lua_open_map_iter(L);
	lbpf_lua_open_map_info(L);
}
