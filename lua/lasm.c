/*
 * The C side of bpf.asm: loading a built program (module "bpf.asm_core", preloaded),
 * bpf.map_create (maps with BTF made from Lua type descriptions), prog:insns() and presized
 * tables for the builder's slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lasm_gen.h"
#include "lhandle.h"

/* A copy of a Lua string in memory owned by the Lua stack (aligned; freed with it). */
static const void *aligned_copy(lua_State *L, const char *s, size_t len)
{
	void *p = lbpf_newuserdata(L, len ? len : 1);
	memcpy(p, s, len);
	return p;
}

static const void *opt_bytes(lua_State *L, int t, const char *field, size_t rec, size_t *count)
{
	size_t len;
	const char *s;

	*count = 0;
	if (!lbpf_lua_opt_push(L, t, field))
		return NULL;
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "bpf.asm: %s must be a byte string, got %s", field, luaL_typename(L, -1));
	s = lua_tolstring(L, -1, &len);
	if (len % rec)
		luaL_error(L, "bpf.asm: %s is %d bytes, not a multiple of %d", field, (int)len, (int)rec);
	*count = len / rec;
	lua_pop(L, 1);
	return len ? aligned_copy(L, s, len) : NULL;
}

/* asm_core.load(spec) -> program handle | nil, message, errno */
static int l_load(lua_State *L)
{
	struct lbpf_prog_build spec;
	lbpf_object *obj = NULL;
	size_t n;
	int err;

	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&spec, 0, sizeof(spec));
	spec.name = lbpf_lua_opt_str(L, 1, "name", NULL);
	spec.section = lbpf_lua_opt_str(L, 1, "section", NULL);
	spec.license = lbpf_lua_opt_str(L, 1, "license", "GPL");
	spec.prog_type = lbpf_lua_opt_str(L, 1, "prog_type", NULL);
	spec.attach_type = lbpf_lua_opt_str(L, 1, "attach_type", NULL);
	spec.kern_version = (uint32_t)lbpf_lua_opt_int(L, 1, "kern_version", 0);
	spec.prog_flags = (uint32_t)lbpf_lua_opt_int(L, 1, "prog_flags", 0);
	spec.sleepable = lbpf_lua_opt_bool(L, 1, "sleepable", 0);
	spec.log_level = (uint32_t)lbpf_lua_opt_int(L, 1, "log_level", 0);
	spec.insns = opt_bytes(L, 1, "insns", sizeof(struct bpf_insn), &spec.insn_cnt);
	spec.btf = opt_bytes(L, 1, "btf", 1, &spec.btf_size);
	spec.func_info = opt_bytes(L, 1, "func_info", 8, &n);
	spec.func_info_cnt = (uint32_t)n;
	spec.line_info = opt_bytes(L, 1, "line_info", 16, &n);
	spec.line_info_cnt = (uint32_t)n;
	err = lbpf_program_build(&spec, &obj);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_lua_push_object(L, obj);
	lbpf_lua_push_program(L, -1, lbpf_object_program_at(obj, 0));
	((struct lbpf_lua_program *)lua_touserdata(L, -1))->owns_object = true;
	return 1;
}

/* ---- bpf.map_create ------------------------------------------------------------------------ */

static uint32_t opt_u32(lua_State *L, int t, const char *field, uint32_t def)
{
	lua_Integer v = lbpf_lua_opt_int(L, t, field, (lua_Integer)def);

	if (v < 0 || v > (lua_Integer)UINT32_MAX)
		luaL_error(L, "bpf.map_create: %s out of range", field);
	return (uint32_t)v;
}

static uint32_t map_type_of(lua_State *L, int t)
{
	int type;

	lua_getfield(L, t, "type");
	if (lua_type(L, -1) == LUA_TNUMBER) {
		type = (int)lua_tointeger(L, -1);
	} else if (lua_type(L, -1) == LUA_TSTRING) {
		type = lbpf_map_type_by_name(lua_tostring(L, -1));
		if (type <= 0)
			luaL_error(L, "bpf.map_create: unknown map type '%s'", lua_tostring(L, -1));
	} else {
		luaL_error(L, "bpf.map_create: opts.type (a map type name such as \"hash\") is "
			   "required, got %s", luaL_typename(L, -1));
		return 0;
	}
	lua_pop(L, 1);
	return (uint32_t)type;
}

/* Sizes given and sizes the type says must agree; either alone is enough. */
static uint32_t agree_size(lua_State *L, int t, const char *field, int type_idx)
{
	int has_type = !lua_isnil(L, type_idx);
	uint32_t from_type = has_type ? (uint32_t)lua_tointeger(L, type_idx) : 0;
	uint32_t given = opt_u32(L, t, field, from_type);

	if (has_type && given != from_type)
		luaL_error(L, "bpf.map_create: %s %d disagrees with its type (%d bytes)", field,
			   (int)given, (int)from_type);
	return given;
}

/* bpf.map_create(opts) -> map handle | nil, message, errno */
static int l_map_create(lua_State *L)
{
	struct lbpf_map_build spec;
	lbpf_map *map = NULL;
	size_t btf_len = 0;
	int err, base;

	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&spec, 0, sizeof(spec));
	spec.type = map_type_of(L, 1);
	spec.name = lbpf_lua_opt_str(L, 1, "name", "map");
	spec.max_entries = opt_u32(L, 1, "max_entries", 0);
	spec.map_flags = opt_u32(L, 1, "flags", 0);
	spec.numa_node = opt_u32(L, 1, "numa_node", 0);
	spec.map_extra = (uint64_t)lbpf_lua_opt_int(L, 1, "map_extra", 0);
	/* Types → BTF in Lua (bpf.asm_btf): bytes, key id, value id, key size, value size. */
	lua_getglobal(L, "require");
	lua_pushliteral(L, "bpf.asm_btf");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "map_types");
	lua_getfield(L, 1, "key_type");
	lua_getfield(L, 1, "value_type");
	lua_call(L, 2, 5);
	base = lua_gettop(L) - 4;
	spec.key_size = agree_size(L, 1, "key_size", base + 3);
	spec.value_size = agree_size(L, 1, "value_size", base + 4);
	spec.btf_key_type_id = (uint32_t)lua_tointeger(L, base + 1);
	spec.btf_value_type_id = (uint32_t)lua_tointeger(L, base + 2);
	if (spec.btf_key_type_id || spec.btf_value_type_id) {
		const char *btf = lua_tolstring(L, base, &btf_len);
		spec.btf = aligned_copy(L, btf, btf_len);
		spec.btf_size = btf_len;
	}
	err = lbpf_map_build(&spec, &map);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_lua_new_map_handle(L, map, 0);
	return 1;
}

/* ---- prog:insns() ---------------------------------------------------------------------------- */

/* prog:insns([opts]) -> bytes: as loaded (default once loaded), opts.elf: the ELF instructions,
 * opts.xlated: the kernel's translation. */
static int l_prog_insns(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_program(L, 1);
	int t = lbpf_lua_opt_table(L, 2);
	const struct bpf_insn *insns;
	size_t count = 0;
	int err;

	if (lbpf_lua_opt_bool(L, t, "xlated", 0)) {
		struct bpf_insn *x;
		int fd = lbpf_program_fd(prog);

		if (fd < 0)
			return luaL_error(L, "program '%s' is not loaded", lbpf_program_name(prog));
		err = lbpf_prog_xlated(fd, &x, &count);
		if (err < 0)
			return lbpf_lua_fail(L, err);
		lua_pushlstring(L, (const char *)x, count * sizeof(*x));
		free(x);
		return 1;
	}
	insns = lbpf_program_insns(prog, &count);
	if (lbpf_lua_opt_bool(L, t, "elf", 0) || !insns) {
		err = lbpf_program_elf_insns(prog, &insns, &count);
		if (err < 0)
			return lbpf_lua_fail(L, err);
	}
	lua_pushlstring(L, (const char *)insns, count * sizeof(*insns));
	return 1;
}

/* new_table(narr [, nrec]): an empty table with room for narr array entries and nrec others
 * (a builder's slots and jumps, sized once instead of grown by doubling as they come). */
static int l_new_table(lua_State *L)
{
	lua_Integer narr = luaL_checkinteger(L, 1), nrec = luaL_optinteger(L, 2, 0);
	luaL_argcheck(L, narr >= 0 && narr <= (1 << 24), 1, "size out of range");
	luaL_argcheck(L, nrec >= 0 && nrec <= (1 << 24), 2, "size out of range");
	lua_createtable(L, (int)narr, (int)nrec);
	return 1;
}

static int open_asm_core(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "load", l_load },
		{ "new_table", l_new_table },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_setfuncs(L, funcs, 0);
	lbpf_lua_asm_gen_funcs(L); /* lasm_gen.c: the trace compiler's builder */
	return 1;
}

void lbpf_lua_open_asm(lua_State *L)
{
	static const luaL_Reg prog_methods[] = {
		{ "insns", l_prog_insns },
		{ NULL, NULL },
	};
	lua_pushcfunction(L, l_map_create);
	lua_setfield(L, -2, "map_create");
	lbpf_lua_add_methods(L, LBPF_PROGRAM_MT, prog_methods);
	/* package.preload["bpf.asm_core"]: what lua/bpf/asm.lua needs from C. */
	lua_getglobal(L, "package");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "preload");
		if (lua_istable(L, -1)) {
			lua_pushcfunction(L, open_asm_core);
			lua_setfield(L, -2, "bpf.asm_core");
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}
