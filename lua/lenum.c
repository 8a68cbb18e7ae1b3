/*
 * bpf.enum_name(source, enum, value): the name of an enum value. Map values decode enums as
 * their numbers (what a program stored, comparable and exact); this names them when a person is
 * reading. The enum is looked up by name ("color", "enum color" or a typedef of an enum) in the
 * BTF of source: a map (its own BTF, also for bpf.open_map), an object, a bpf.btf handle, or nil
 * for the running kernel's (`bpf.enum_name(nil, "bpf_map_type", 2)`).
 */
#include <stdbool.h>
#include <string.h>

#include "../core/btf_internal.h"
#include "lhandle.h"

/* The BTF the source argument at idx stands for (not nil: the kernel's is read apart, its
 * absence being a system failure); a Lua error when it has none. */
static const lbpf_btf *source_btf(lua_State *L, int idx)
{
	const lbpf_btf *btf = lbpf_lua_test_btf(L, idx);
	if (btf)
		return btf;
	if (luaL_testudata(L, idx, LBPF_MAP_MT)) {
		lbpf_map *map = lbpf_lua_check_map(L, idx);
		if (!(btf = lbpf_map_btf(map)))
			luaL_error(L, "bpf.enum_name: map '%s' has no BTF", lbpf_map_name(map));
		return btf;
	}
	if (lbpf_lua_to_object(L, idx)) {
		lbpf_object *obj = lbpf_lua_check_object(L, idx);
		if (!(btf = lbpf_object_btf(obj)))
			luaL_error(L, "bpf.enum_name: object '%s' has no BTF", lbpf_object_name(obj));
		return btf;
	}
	luaL_argerror(L, idx, "bpf.map, bpf.object, bpf.btf or nil (the kernel) expected");
	return NULL;
}

/* The enum type called name (an enum first, then a typedef of one); a Lua error otherwise. */
static const struct btf_type *find_enum(lua_State *L, const lbpf_btf *btf, const char *name)
{
	if (strncmp(name, "enum ", 5) == 0)
		name += 5;
	int32_t id = lbpf_btf_find(btf, name, BTF_KIND_ENUM);
	if (id < 0)
		id = lbpf_btf_find(btf, name, BTF_KIND_ENUM64);
	if (id < 0)
		id = lbpf_btf_find(btf, name, BTF_KIND_TYPEDEF);
	const struct btf_type *t = id > 0 ? lbpf_btf_type(btf, lbpf_btf_resolve(btf, (uint32_t)id)) : NULL;
	if (!t || (lbpf_btf_kind(t) != BTF_KIND_ENUM && lbpf_btf_kind(t) != BTF_KIND_ENUM64))
		luaL_error(L, "bpf.enum_name: no enum named '%s' in this BTF", name);
	return t;
}

/* Enumerator i of t as the 64 bits its value decodes to from a map: cut to the enum's size and
 * sign-extended when the enum is signed, as lvalue.c does. */
static uint64_t enumerator_bits(const struct btf_type *t, bool is_signed, uint16_t i,
				uint32_t *name_off)
{
	uint64_t v;
	if (lbpf_btf_kind(t) == BTF_KIND_ENUM) {
		const struct btf_enum *e = (const struct btf_enum *)(t + 1) + i;
		*name_off = e->name_off;
		v = (uint32_t)e->val;
	} else {
		const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;
		*name_off = e->name_off;
		v = (uint64_t)e->val_hi32 << 32 | e->val_lo32;
	}
	unsigned bits = t->size >= 1 && t->size < 8 ? t->size * 8u : 64u;
	if (is_signed)
		return (uint64_t)lbpf_lua_sign_extend(v, bits);
	return bits < 64 ? v & ((1ull << bits) - 1) : v;
}

/* bpf.enum_name(source, enum, value) -> name, or nil when no enumerator has that value (nil,
 * message, errno when the kernel's BTF is asked for and cannot be read). */
static int l_enum_name(lua_State *L)
{
	const char *name = luaL_checkstring(L, 2);
	uint64_t bits;
	int negative;
	if (lbpf_lua_get_int(L, 3, &bits, &negative) != 0)
		return luaL_argerror(L, 3, lua_pushfstring(L, "integer expected, got %s",
							   luaL_typename(L, 3)));
	const lbpf_btf *btf;
	if (lua_isnoneornil(L, 1)) {
		int err = lbpf_btf_kernel_shared(&btf);
		if (err < 0)
			return lbpf_lua_fail(L, err);
	} else {
		btf = source_btf(L, 1);
	}
	const struct btf_type *t = find_enum(L, btf, name);
	bool is_signed = lbpf_lua_enum_is_signed(t);
	for (uint16_t i = 0; i < lbpf_btf_vlen(t); i++) {
		uint32_t name_off;
		if (enumerator_bits(t, is_signed, i, &name_off) == bits) {
			lua_pushstring(L, lbpf_btf_str(btf, name_off));
			return 1;
		}
	}
	lua_pushnil(L);
	return 1;
}

void lbpf_lua_open_enum(lua_State *L)
{
	lua_pushcfunction(L, l_enum_name);
	lua_setfield(L, -2, "enum_name");
}
