/* Map-handle internals shared by lmap.c (element operations) and liter.c (iteration). */
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

/* liter.c: map:pairs(), __pairs, map:keys(), map:count(), map:clear(). */
void lbpf_lua_open_map_iter(lua_State *L);

#endif
