/* Map-handle internals shared by lmap.c (element operations), liter.c (iteration),
 * lmap_types.c (type-specific key/value shapes) and lmap_info.c (info, open_map, symbols). */
#ifndef LBPF_LMAP_H
#define LBPF_LMAP_H

#include "lhandle.h"

bool lbpf_lua_map_alive(const struct lbpf_lua_map *m);
/* After a pre-load setter (lmap_set.c) changed the map at idx: its sizes, codecs, buffers anew. */
void lbpf_lua_map_refresh(lua_State *L, int idx);
/* A live map handle / one whose map exists in the kernel, or a Lua error. */
struct lbpf_lua_map *lbpf_lua_check_map_handle(lua_State *L, int idx);
struct lbpf_lua_map *lbpf_lua_check_created_map(lua_State *L, int idx);
bool lbpf_lua_map_is_array(const struct lbpf_lua_map *m);

void lbpf_lua_map_encode_key(lua_State *L, struct lbpf_lua_map *m, int idx, void *out, int raw);
void lbpf_lua_map_encode_value(lua_State *L, struct lbpf_lua_map *m, int idx, void *out, int raw);
void lbpf_lua_map_push_key(lua_State *L, const struct lbpf_lua_map *m, const void *key, int raw);
/* Pushes one lookup's worth of data (an array of per-CPU values for per-CPU maps). */
void lbpf_lua_map_push_value(lua_State *L, const struct lbpf_lua_map *m, const void *data, int raw);

/* Operations whose support depends on the map type. */
enum lbpf_map_op { LBPF_OP_KEYED, LBPF_OP_DELETE, LBPF_OP_PUSH, LBPF_OP_POP, LBPF_OP_PEEK,
		   LBPF_OP_CONTAINS, LBPF_OP_ITER };
/* Lua error "pop is not supported on a hash map ('name')" unless the type supports op. */
void lbpf_lua_map_check_op(lua_State *L, const struct lbpf_lua_map *m, enum lbpf_map_op op);

/* lmap_types.c: the type's name ("hash", "cgrp_storage", ...). */
const char *lbpf_lua_map_type_name(const struct lbpf_lua_map *m);
/* Type-specific shapes: 1 when handled (out written / value pushed), 0 to use the codecs. */
int lbpf_lua_map_encode_special_key(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out);
int lbpf_lua_map_push_special_key(lua_State *L, const struct lbpf_lua_map *m, const uint8_t *key);
int lbpf_lua_map_encode_special_value(lua_State *L, struct lbpf_lua_map *m, int idx, uint8_t *out);
int lbpf_lua_map_push_special_value(lua_State *L, const struct lbpf_lua_map *m, const uint8_t *data);
bool lbpf_lua_map_is_storage(const struct lbpf_lua_map *m);
/* Closes an fd a storage-map key opened for one call (pidfd, path); no-op otherwise. */
void lbpf_lua_map_release_key(struct lbpf_lua_map *m);

/* liter.c: the iterator userdata behind map:pairs(), map:keys(), map:items(), map:count(),
 * map:clear() and map:dump(). It reads BPF_MAP_LOOKUP_BATCH batches into buffers inside itself,
 * or (map types without batch support) walks get_next_key + lookup. */
enum lbpf_iter_mode { LBPF_ITER_BATCH, LBPF_ITER_NEXT_KEY };
struct lbpf_lua_iter {
	struct lbpf_lua_map *m; /* kept alive by the uservalue */
	uint32_t cap;           /* entries per batch */
	uint32_t count;         /* entries in the buffers */
	uint32_t pos;           /* next one to hand out */
	uint32_t token_size;
	uint8_t mode;           /* enum lbpf_iter_mode */
	bool started;
	bool exhausted; /* batch mode: the kernel said there is no more */
	bool have_cur;  /* next_key mode: cur holds the next key to hand out */
	bool raw;
	bool flat_key;   /* decoded field by field, names in the uservalue from [1] */
	bool flat_value; /* the same, names after the key's */
	bool reuse;      /* pairs{reuse = true}: the same key / value tables refilled (liter_reuse.c) */
	uint8_t *keys;   /* key_size stride, as the kernel writes them */
	uint8_t *values; /* lookup_size stride */
	uint8_t *in_token;
	uint8_t *out_token;
	uint8_t *cur;
	uint8_t *prev;
};
/* Pushes a new iterator over the map at map_idx; options at opts_idx (0: none): raw, batch
 * (false: next_key mode), batch_size. */
struct lbpf_lua_iter *lbpf_lua_new_iter(lua_State *L, int map_idx, int opts_idx);
/* The next entry: 1 with *key and *value set (valid until the next step), 0 at the end.
 * want_value 0 lets next_key mode skip the lookup. Lua error on a system failure. */
int lbpf_lua_iter_step(lua_State *L, struct lbpf_lua_iter *it, const uint8_t **key,
		       const uint8_t **value, int want_value);
/* it:_batch() -> keys pointer, values pointer, count (the rest of the current batch, handed
 * over whole) | nil, 0 at the end | nil, 1 once the iterator fell back to next_key mode. */
int lbpf_lua_iter_batch(lua_State *L);
/* Pushes the iterator's __call / it:next() (a closure): the next key and value, nothing at the
 * end. */
void lbpf_lua_push_iter_call(lua_State *L);
/* liter_reuse.c. The iterator's uservalue holds the reused key and value tables at these
 * indices (field names from 1 on, "map"). */
#define LBPF_ITER_REUSED_KEY (-1)
#define LBPF_ITER_REUSED_VALUE (-2)
/* pairs{reuse = true}: pushes the entry's key and value into the reused tables of the iterator
 * at it_idx (scalars as they are); returns 2. */
int lbpf_lua_iter_push_reused(lua_State *L, const struct lbpf_lua_iter *it, int it_idx,
			      const uint8_t *key, const uint8_t *value);
/* Pushes the reused table of a side (uservalue at uv), created on first use for a flat struct;
 * nil when that side has none yet or is no flat struct. */
void lbpf_lua_iter_push_reused_table(lua_State *L, const struct lbpf_lua_iter *it, int uv,
				     bool is_key);
#if LBPF_LUA54
/* Lua 5.4: gives a reuse iterator with a flat side a metatable of its own whose __call is a Lua
 * closure made by code generated per map (liter_reuse.c); nothing otherwise. */
void lbpf_lua_iter_reuse_attach(lua_State *L, int map_idx, int it_idx);
/* Whether the value at idx is an iterator with such a metatable. */
bool lbpf_lua_is_reuse_iter(lua_State *L, int idx);
/* Registers the generator (after the iterator class exists). */
void lbpf_lua_open_iter_reuse(lua_State *L);
#endif
/* Map types whose keys and values have no type-specific shape (lmap_types.c has none for them). */
bool lbpf_lua_map_plain_type(const struct lbpf_lua_map *m);
/* Whether keys / values decode field by field from the codec's list (flat structs of a plain
 * map type, one value per lookup, not raw): then interned field names and lua_rawset build the
 * tables, where lua_setfield would look every name up again. */
bool lbpf_lua_map_flat_side(const struct lbpf_lua_map *m, bool is_key, bool raw);
/* Stores the codec's field names into the table at t, from index first on. */
void lbpf_lua_store_field_names(lua_State *L, const struct lbpf_lua_codec *c, int t, int first);
/* One field of a flat struct, exactly as the codec decodes it (lvalue.c). */
void lbpf_lua_push_field(lua_State *L, const struct lbpf_lua_flat_field *f, const uint8_t *data);
/* A flat struct as a table; the table at names holds the field names from index first on. */
void lbpf_lua_push_flat(lua_State *L, const struct lbpf_lua_codec *c, const uint8_t *data,
			int names, int first);
void lbpf_lua_open_map_iter(lua_State *L);
/* lmap_dump.c: map:dump() (per-entry tables or columns). */
void lbpf_lua_open_map_dump(lua_State *L);
/* Raw entries collected by map:dump() sit behind a header of this size in each chunk. */
#define LBPF_DUMP_CHUNK_HEADER 8
#if LBPF_LUAJIT
/* lmap_jit.c: decoders generated in Lua for flat keys and values, which LuaJIT compiles.
 * lbpf_lua_jit_push_decoders: pushes {fill, fillcols, kdec, vdec, kfill, vfill, kst, vst} and
 * returns 1, or returns 0 (nothing pushed) when the map has none. lbpf_lua_jit_pairs: switches the new
 * iterator at it_idx to the generated decoders when the map has them. */
int lbpf_lua_jit_push_decoders(lua_State *L, int map_idx, const struct lbpf_lua_iter *it);
void lbpf_lua_jit_pairs(lua_State *L, int map_idx, int it_idx);
/* Installs the iterator's Lua-side __call / next (after the iterator class exists). */
void lbpf_lua_open_map_jit(lua_State *L);
#endif
/* lmap_info.c: map:info(), map:stack(), bpf.open_map(), bpf.ksym(); __tostring. */
void lbpf_lua_open_map_info(lua_State *L);
int lbpf_lua_map_tostring(lua_State *L);

#endif
