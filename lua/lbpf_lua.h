/* Shared internals of the Lua binding: how the per-handle files find each other's handles. */
#ifndef LBPF_LUA_H
#define LBPF_LUA_H

#include <stdint.h>

#include "compat.h"
#include "luabpf.h"

/* Metatable (registry) names of the handle kinds. */
#define LBPF_OBJECT_MT "bpf.object"
#define LBPF_PROGRAM_MT "bpf.program"
#define LBPF_MAP_MT "bpf.map"
#define LBPF_ITER_MT "bpf.map_iterator"
#define LBPF_LINK_MT "bpf.link"
#define LBPF_BTF_MT "bpf.btf"
#define LBPF_READER_MT "bpf.reader"

/* System failure: pushes nil, message (lbpf_errmsg() or strerror), errno; returns 3. */
int lbpf_lua_fail(lua_State *L, int neg_errno);

/* Argument checks: a live handle of that kind, or a Lua error naming the problem
 * ("bpf.program expected, got string", "program 'x' used after its object was closed"). */
lbpf_object *lbpf_lua_check_object(lua_State *L, int idx);
lbpf_program *lbpf_lua_check_program(lua_State *L, int idx);
lbpf_map *lbpf_lua_check_map(lua_State *L, int idx);
lbpf_link *lbpf_lua_check_link(lua_State *L, int idx);

/* Pushes a link handle owning link; the handle keeps the value at owner_idx alive. */
void lbpf_lua_push_link(lua_State *L, lbpf_link *link, int owner_idx);

/* Adds methods to an existing handle metatable's method table (for extension files). */
void lbpf_lua_add_methods(lua_State *L, const char *mt_name, const luaL_Reg *methods);

/* Value conversion through BTF (lvalue.c). type_id 0 or btf NULL: integer of size 1/2/4/8,
 * byte string otherwise. raw: always a byte string. */
void lbpf_lua_push_value(lua_State *L, const lbpf_btf *btf, uint32_t type_id, const void *data,
			 size_t size, int raw);
/* Encodes the Lua value at idx into out (size bytes, zeroed first). Raises a Lua error on a
 * value of the wrong shape, naming the field. */
void lbpf_lua_to_value(lua_State *L, int idx, const lbpf_btf *btf, uint32_t type_id, void *out,
		       size_t size, int raw);

/* Each part registers itself into the module table on top of the stack. */
void lbpf_lua_open_object(lua_State *L);
void lbpf_lua_open_program(lua_State *L);
void lbpf_lua_open_map(lua_State *L);
void lbpf_lua_open_link(lua_State *L);

#endif
