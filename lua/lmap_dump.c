/*
 * map:dump([opts]): a whole map into Lua in one call.
 *
 *   keys, values, n = map:dump()                    two arrays of decoded keys and values
 *   keys, values, n = map:dump { columns = true }   tables of columns (no table per entry)
 *
 * Both read every entry first (batched, into chunks of raw bytes held by Lua userdata, so an
 * error halfway frees everything), then decode into arrays created at their final size: no
 * array is ever grown and rehashed. The garbage collector is stopped meanwhile, since what is
 * allocated stays referenced by the result (an incremental collector would otherwise traverse
 * the growing arrays over and over); its previous state is restored afterwards, also on error.
 *
 * Per-entry tables of flat structs (the common key/value shape) are built with their exact
 * hash size and field names pushed once and set with lua_rawset, instead of lua_setfield
 * hashing each name again. Under LuaJIT, maps of flat structs and integers are decoded by Lua
 * code generated per map instead (lmap_jit.c), which the JIT compiles.
 *
 * Columns: a struct key or value (a decoded table with named fields: structs, unions, LPM trie
 * keys) becomes a table with one array per field (`values.packets[i]`); a nested struct becomes
 * a nested table of columns (`values.inner.x[i]`); anything else (integers, strings, arrays,
 * per-CPU arrays, raw bytes) becomes a single array, as with the per-entry dump. Flat structs
 * and integers are decoded straight into the columns; other shapes are decoded per entry and
 * then spread into the columns.
 */
#include <limits.h>
#include <string.h>

#include "lmap.h"

#define CHUNK_BYTES (4u << 20)

/* Raw entries (key, then lookup_size bytes of value), held in a Lua userdata. */
struct chunk {
	uint32_t count;
	uint32_t cap;
};
_Static_assert(sizeof(struct chunk) == LBPF_DUMP_CHUNK_HEADER, "what lmap_jit.c reads");

static uint8_t *chunk_entries(struct chunk *c)
{
	return (uint8_t *)(c + 1);
}

/* Every entry into chunks, kept in a table pushed on the stack; returns how many. */
static size_t collect(lua_State *L, struct lbpf_lua_iter *it)
{
	const struct lbpf_lua_map *m = it->m;
	size_t stride = (size_t)m->key_size + m->lookup_size;
	size_t cap = CHUNK_BYTES / (stride ? stride : 1);
	struct chunk *c = NULL;
	const uint8_t *key, *value;
	size_t n = 0;
	int nchunks = 0;

	if (cap < 1)
		cap = 1;
	lua_newtable(L);
	int list = lua_gettop(L);
	while (lbpf_lua_iter_step(L, it, &key, &value, 1)) {
		if (!c || c->count == c->cap) {
			c = lbpf_newuserdata(L, sizeof(*c) + cap * stride);
			c->count = 0;
			c->cap = (uint32_t)cap;
			lua_rawseti(L, list, ++nchunks);
		}
		uint8_t *e = chunk_entries(c) + (size_t)c->count * stride;
		memcpy(e, key, m->key_size);
		memcpy(e + m->key_size, value, m->lookup_size);
		c->count++;
		n++;
	}
	if (n > INT_MAX)
		luaL_error(L, "map '%s' has more entries than a Lua array holds", m->name);
	return n;
}

/* ---- decoding one key or value -------------------------------------------------------------- */

/* How one side (keys or values) is decoded. */
struct side {
	const struct lbpf_lua_map *m;
	const struct lbpf_lua_codec *codec;
	bool is_key;
	bool raw;
	bool flat;  /* a flat struct decoded field by field from codec->fields */
	int names;  /* flat: stack index of the array of field names */
	int column; /* columns: stack index of the first column (flat) or the only one */
};

static void side_init(lua_State *L, struct side *s, const struct lbpf_lua_map *m, bool is_key, bool raw)
{
	s->m = m;
	s->is_key = is_key;
	s->raw = raw;
	s->codec = is_key ? &m->key : &m->value;
	s->flat = lbpf_lua_map_flat_side(m, is_key, raw);
	s->names = 0;
	if (!s->flat)
		return;
	luaL_checkstack(L, s->codec->nfields + 8, "map dump");
	lua_createtable(L, s->codec->nfields, 0);
	s->names = lua_gettop(L);
	lbpf_lua_store_field_names(L, s->codec, s->names, 1);
}

/* Decodes into scalars that need no table of their own (the fast column cases). */
static bool side_is_scalar(const struct side *s)
{
	return s->raw || s->flat ||
	       ((s->codec->shape == LBPF_SHAPE_UINT || s->codec->shape == LBPF_SHAPE_SINT) &&
		lbpf_lua_map_plain_type(s->m) && (s->is_key || s->m->ncpus <= 1));
}

/* Pushes one decoded key or value. */
static void side_push(lua_State *L, const struct side *s, const uint8_t *data)
{
	if (s->flat)
		lbpf_lua_push_flat(L, s->codec, data, s->names, 1);
	else if (s->is_key)
		lbpf_lua_map_push_key(L, s->m, data, s->raw);
	else
		lbpf_lua_map_push_value(L, s->m, data, s->raw);
}

/* Walks the collected entries (chunk list at list, held on the stack meanwhile). */
struct cursor {
	lua_State *L;
	int list;
	int next_chunk;
	struct chunk *chunk;
	uint32_t pos;
	uint32_t key_size;
	size_t stride;
};

static void cursor_init(struct cursor *cur, lua_State *L, int list, const struct lbpf_lua_map *m)
{
	memset(cur, 0, sizeof(*cur));
	cur->L = L;
	cur->list = list;
	cur->next_chunk = 1;
	cur->key_size = m->key_size;
	cur->stride = (size_t)m->key_size + m->lookup_size;
}

static bool cursor_next(struct cursor *cur, const uint8_t **key, const uint8_t **value)
{
	while (!cur->chunk || cur->pos >= cur->chunk->count) {
		lua_rawgeti(cur->L, cur->list, cur->next_chunk++);
		cur->chunk = lua_touserdata(cur->L, -1);
		lua_pop(cur->L, 1); /* still referenced by the list */
		cur->pos = 0;
		if (!cur->chunk)
			return false;
	}
	*key = chunk_entries(cur->chunk) + (size_t)cur->pos++ * cur->stride;
	*value = *key + cur->key_size;
	return true;
}

/* ---- per-entry tables ------------------------------------------------------------------------ */

/* Pushes keys, values (arrays of n decoded entries). */
static void decode_entries(lua_State *L, struct lbpf_lua_iter *it, int list, int n)
{
	const struct lbpf_lua_map *m = it->m;
	struct side ks, vs;
	int base = lua_gettop(L);

	side_init(L, &ks, m, true, it->raw);
	side_init(L, &vs, m, false, it->raw);
	lua_createtable(L, n, 0);
	int keys = lua_gettop(L);
	lua_createtable(L, n, 0);
	int values = lua_gettop(L);
	struct cursor cur;
	const uint8_t *key, *value;
	cursor_init(&cur, L, list, m);
	for (int i = 1; cursor_next(&cur, &key, &value); i++) {
		side_push(L, &ks, key);
		lua_rawseti(L, keys, i);
		side_push(L, &vs, value);
		lua_rawseti(L, values, i);
	}
	/* keep keys and values only */
	lua_pushvalue(L, keys);
	lua_pushvalue(L, values);
	lua_replace(L, base + 2);
	lua_replace(L, base + 1);
	lua_settop(L, base + 2);
}

/* ---- columns --------------------------------------------------------------------------------- */

/* A decoded table with named fields (a struct, union or LPM key), as opposed to an array. */
static bool is_named_table(lua_State *L, int idx)
{
	if (lua_type(L, idx) != LUA_TTABLE || lua_rawlen(L, idx) != 0)
		return false;
	lua_pushnil(L);
	if (!lua_next(L, idx))
		return false;
	bool named = lua_type(L, -2) == LUA_TSTRING;
	lua_pop(L, 2);
	return named;
}

/* Spreads the named table at v into the tree of columns at cols, as entry i of n. */
static void spread(lua_State *L, int v, int cols, int i, int n, int depth)
{
	if (depth > 64)
		luaL_error(L, "map dump: values nested too deeply");
	luaL_checkstack(L, 8, "map dump");
	lua_pushnil(L);
	while (lua_next(L, v)) {
		int field = lua_gettop(L); /* key at field - 1 */
		bool nested = is_named_table(L, field);
		lua_pushvalue(L, field - 1);
		lua_rawget(L, cols);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_createtable(L, nested ? 0 : n, 0);
			lua_pushvalue(L, field - 1);
			lua_pushvalue(L, -2);
			lua_rawset(L, cols);
		}
		if (nested) {
			spread(L, field, lua_gettop(L), i, n, depth + 1);
		} else {
			lua_pushvalue(L, field);
			lua_rawseti(L, -2, i);
		}
		lua_settop(L, field - 1);
	}
}

/* Pushes the result table of one side and sets s->column. Flat: {name = column, ...} with the
 * columns also left on the stack from s->column on; scalar: one array (s->column is it);
 * otherwise a table filled by spread() once the first entry shows the shape. */
static void columns_init(lua_State *L, struct side *s, int n)
{
	if (!s->flat) {
		lua_createtable(L, side_is_scalar(s) ? n : 0, 0);
		s->column = lua_gettop(L);
		return;
	}
	const struct lbpf_lua_codec *c = s->codec;
	lua_createtable(L, 0, c->nfields);
	int result = lua_gettop(L);
	s->column = result + 1;
	for (int f = 0; f < c->nfields; f++) {
		lua_createtable(L, n, 0);
		lua_rawgeti(L, s->names, f + 1);
		lua_pushvalue(L, -2);
		lua_rawset(L, result);
	}
}

/* Entry i of one side into its columns. tree: 1 named tables spread, 0 one array, -1 not known
 * yet (decided by the first entry). */
static void columns_add(lua_State *L, struct side *s, int *tree, const uint8_t *data, int i, int n)
{
	if (s->flat) {
		for (int f = 0; f < s->codec->nfields; f++) {
			lbpf_lua_push_field(L, &s->codec->fields[f], data);
			lua_rawseti(L, s->column + f, i);
		}
		return;
	}
	side_push(L, s, data);
	int v = lua_gettop(L);
	if (*tree < 0)
		*tree = !side_is_scalar(s) && is_named_table(L, v);
	if (!*tree) {
		lua_rawseti(L, s->column, i);
		return;
	}
	if (!is_named_table(L, v))
		luaL_error(L, "map '%s': entries of different shapes cannot be dumped as columns", s->m->name);
	spread(L, v, s->column, i, n, 0);
	lua_pop(L, 1);
}

/* Pushes keys, values (tables of columns) of n entries. */
static void decode_columns(lua_State *L, struct lbpf_lua_iter *it, int list, int n)
{
	const struct lbpf_lua_map *m = it->m;
	struct side ks, vs;
	int base = lua_gettop(L), ktree = -1, vtree = -1;

	side_init(L, &ks, m, true, it->raw);
	side_init(L, &vs, m, false, it->raw);
	columns_init(L, &ks, n);
	int keys = ks.flat ? ks.column - 1 : ks.column;
	columns_init(L, &vs, n);
	int values = vs.flat ? vs.column - 1 : vs.column;
	struct cursor cur;
	const uint8_t *key, *value;
	cursor_init(&cur, L, list, m);
	for (int i = 1; cursor_next(&cur, &key, &value); i++) {
		columns_add(L, &ks, &ktree, key, i, n);
		columns_add(L, &vs, &vtree, value, i, n);
	}
	lua_pushvalue(L, keys);
	lua_pushvalue(L, values);
	lua_replace(L, base + 2);
	lua_replace(L, base + 1);
	lua_settop(L, base + 2);
}

/* ---- map:dump -------------------------------------------------------------------------------- */

#if LBPF_LUAJIT
/* Pushes the array of the columns of one side, in field order, for the generated fillcols. */
static void push_column_list(lua_State *L, const struct side *s)
{
	int n = s->flat ? s->codec->nfields : 1;
	lua_createtable(L, n, 0);
	for (int f = 0; f < n; f++) {
		lua_pushvalue(L, s->column + f);
		lua_rawseti(L, -2, f + 1);
	}
}

/* The generated decoders of the map (LuaJIT), if it has them: pushes keys, values. */
static bool jit_decode(lua_State *L, struct lbpf_lua_iter *it, int list, int n, bool columns)
{
	if (!lbpf_lua_jit_push_decoders(L, 1, it))
		return false;
	int dec = lua_gettop(L), keys, values;
	if (!columns) {
		lua_createtable(L, n, 0);
		lua_createtable(L, n, 0);
		keys = dec + 1;
		values = dec + 2;
		lua_getfield(L, dec, "fill");
		lua_pushvalue(L, list);
		lua_pushvalue(L, keys);
		lua_pushvalue(L, values);
	} else {
		struct side ks, vs;
		side_init(L, &ks, it->m, true, false);
		side_init(L, &vs, it->m, false, false);
		columns_init(L, &ks, n);
		keys = ks.flat ? ks.column - 1 : ks.column;
		columns_init(L, &vs, n);
		values = vs.flat ? vs.column - 1 : vs.column;
		lua_getfield(L, dec, "fillcols");
		lua_pushvalue(L, list);
		push_column_list(L, &ks);
		push_column_list(L, &vs);
	}
	lua_call(L, 3, 0);
	lua_pushvalue(L, keys);
	lua_pushvalue(L, values);
	return true;
}
#endif

/* dump_protected(map, iterator, columns) -> keys, values, n; runs with the collector stopped. */
static int dump_protected(lua_State *L)
{
	struct lbpf_lua_iter *it = lua_touserdata(L, 2);
	bool columns = lua_toboolean(L, 3);
	lua_settop(L, 2);
	size_t n = collect(L, it);
	int list = lua_gettop(L);
#if LBPF_LUAJIT
	if (!jit_decode(L, it, list, (int)n, columns))
#endif
	{
		if (columns)
			decode_columns(L, it, list, (int)n);
		else
			decode_entries(L, it, list, (int)n);
	}
	lua_pushinteger(L, (lua_Integer)n);
	return 3;
}

/* Whether the collector may stay stopped: the column path for nested shapes decodes each entry
 * into temporary tables, which must be collectable on a big map. */
static bool only_kept_allocations(const struct lbpf_lua_iter *it, bool columns)
{
	if (!columns)
		return true;
	const struct lbpf_lua_map *m = it->m;
	struct side k = { .m = m, .codec = &m->key, .is_key = true, .raw = it->raw,
			  .flat = lbpf_lua_map_flat_side(m, true, it->raw) };
	struct side v = { .m = m, .codec = &m->value, .is_key = false, .raw = it->raw,
			  .flat = lbpf_lua_map_flat_side(m, false, it->raw) };
	return side_is_scalar(&k) && side_is_scalar(&v);
}

/* map:dump([opts]) -> keys, values, n. opts: raw, columns, batch, batch_size. */
static int l_dump(lua_State *L)
{
	bool columns = false;
	struct lbpf_lua_iter *it = lbpf_lua_new_iter(L, 1, 2);
	int it_idx = lua_gettop(L);
	if (!lua_isnoneornil(L, 2)) {
		lua_getfield(L, 2, "columns");
		columns = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	bool pause = only_kept_allocations(it, columns);
	int was_running = lbpf_gc_isrunning(L);
	lua_pushcfunction(L, dump_protected);
	lua_pushvalue(L, 1);
	lua_pushvalue(L, it_idx);
	lua_pushboolean(L, columns);
	if (was_running && pause)
		lua_gc(L, LUA_GCSTOP, 0);
	int status = lua_pcall(L, 3, 3, 0);
	if (was_running && pause)
		lua_gc(L, LUA_GCRESTART, 0);
	if (status != LUA_OK)
		return lua_error(L);
	return 3;
}

void lbpf_lua_open_map_dump(lua_State *L)
{
	static const luaL_Reg map_methods[] = {
		{ "dump", l_dump },
		{ NULL, NULL },
	};
	lbpf_lua_add_methods(L, LBPF_MAP_MT, map_methods);
}
