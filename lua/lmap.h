/* Map-handle internals shared by lmap.c (element operations), liter.c (iteration),
 * lmap_types.c (type-specific key/value shapes) and lmap_info.c (info, open_map, symbols). */
#ifndef LBPF_LMAP_H
#define LBPF_LMAP_H

#include "lhandle.h"

bool lbpf_lua_map_alive(const struct lbpf_lua_map *m);
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

/* liter.c: map:pairs(), __pairs, map:keys(), map:count(), map:clear(). */
void lbpf_lua_open_map_iter(lua_State *L);
/* lmap_info.c: map:info(), map:stack(), bpf.open_map(), bpf.ksym(); __tostring. */
void lbpf_lua_open_map_info(lua_State *L);
int lbpf_lua_map_tostring(lua_State *L);

#endif
