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
/* lbpf_lua_check_program, and a Lua error when the program is not loaded yet (lprog.c). */
lbpf_program *lbpf_lua_check_loaded(lua_State *L, int idx);

/* Pushes a link handle owning link; the handle keeps the value at owner_idx alive. */
void lbpf_lua_push_link(lua_State *L, lbpf_link *link, int owner_idx);
/* The result of an attach call on the program at index 1: its new link (owning the program
 * handle), or (err < 0) what lbpf_lua_fail gives. Takes plink, not the link, so that the
 * attach call can fill it in the same argument list. */
int lbpf_lua_link_result(lua_State *L, int err, lbpf_link **plink);
/* Drops the cached /proc/kallsyms table of bpf.ksym and map:stack (lmap_info.c): an attach
 * adds kernel symbols (the program's bpf_prog_*, BPF trampolines) that it must see. */
void lbpf_lua_ksyms_forget(lua_State *L);

/* Adds methods to an existing handle metatable's method table (for extension files). */
void lbpf_lua_add_methods(lua_State *L, const char *mt_name, const luaL_Reg *methods);

/* Value conversion through BTF (lvalue.c). type_id 0 or btf NULL: integer of size 1/2/4/8,
 * byte string otherwise. raw: always a byte string. */
void lbpf_lua_push_value(lua_State *L, const lbpf_btf *btf, uint32_t type_id, const void *data,
			 size_t size, int raw);
/* Encodes the Lua value at idx into out (size bytes, zeroed first). Raises a Lua error on a
 * value of the wrong shape, naming the field under what ("globals.x"; NULL: "value"). */
void lbpf_lua_to_value(lua_State *L, int idx, const lbpf_btf *btf, uint32_t type_id, void *out,
		       size_t size, int raw, const char *what);

/* Each part registers itself into the module table on top of the stack. */
void lbpf_lua_open_object(lua_State *L);
void lbpf_lua_open_program(lua_State *L);
void lbpf_lua_open_map(lua_State *L);
void lbpf_lua_open_link(lua_State *L);
void lbpf_lua_open_btf(lua_State *L);    /* lbtf.c */
void lbpf_lua_open_reader(lua_State *L); /* lreader.c */
void lbpf_lua_open_attach(lua_State *L); /* lattach.c */
void lbpf_lua_open_info(lua_State *L);   /* linfo.c */
void lbpf_lua_open_apidoc(lua_State *L); /* lapidoc.c: require "bpf.apidoc" */
void lbpf_lua_open_enum(lua_State *L);   /* lenum.c */
void lbpf_lua_open_set(lua_State *L);    /* lset.c */
void lbpf_lua_open_asm(lua_State *L);    /* lasm.c */
void lbpf_lua_open_trace_syntax(lua_State *L); /* ltrace_parse.c: require "bpf.trace.syntax" */

/* lbtf.c: the BTF of the bpf.btf handle at idx; NULL if it is something else, a Lua error if it
 * was closed. */
const lbpf_btf *lbpf_lua_test_btf(lua_State *L, int idx);

/* ---- additions by the binding (lvalue.c, lutil.c) ---------------------------------------- */

/* 64-bit integers. Lua 5.4: a lua_Integer; an unsigned 64-bit value >= 2^63 comes back as the
 * negative integer with the same bits (two's complement). LuaJIT: a number when |v| < 2^53,
 * otherwise a uint64_t / int64_t cdata (built through the ffi). */
void lbpf_lua_push_u64(lua_State *L, uint64_t v);
void lbpf_lua_push_i64(lua_State *L, int64_t v);

/* The low bits of v as a signed number (bits 1 to 64). */
static inline int64_t lbpf_lua_sign_extend(uint64_t v, unsigned bits)
{
	if (bits >= 64)
		return (int64_t)v;
	uint64_t sign = 1ull << (bits - 1);
	v &= (sign << 1) - 1;
	return (int64_t)((v ^ sign) - sign);
}

/* An integer of bits bits (its value in the low bits of v), signed or not, pushed as
 * lbpf_lua_push_u64 / _i64 would push it. Inline, with the common case (a plain Lua number)
 * pushed directly: the record readers and map iterators call it per field. */
static inline void lbpf_lua_push_int_bits(lua_State *L, uint64_t v, unsigned bits, bool is_signed)
{
	if (is_signed)
		v = (uint64_t)lbpf_lua_sign_extend(v, bits);
#if LBPF_LUAJIT
	if (is_signed ? (int64_t)v <= -(1ll << 53) || (int64_t)v >= (1ll << 53) : v >= (1ull << 53)) {
		if (is_signed)
			lbpf_lua_push_i64(L, (int64_t)v);
		else
			lbpf_lua_push_u64(L, v);
		return;
	}
	lua_pushnumber(L, is_signed ? (lua_Number)(int64_t)v : (lua_Number)v);
#elif LBPF_LUA_INTEGERS
	lua_pushinteger(L, (lua_Integer)v);
#else
	lua_pushnumber(L, is_signed ? (lua_Number)(int64_t)v : (lua_Number)v);
#endif
}
/* Reads an integer-valued Lua value (integer, integral float, LuaJIT int64/uint64 cdata) as its
 * 64 bits; *negative says whether it was below zero. Returns 0, or -1 for anything else. */
int lbpf_lua_get_int(lua_State *L, int idx, uint64_t *bits, int *negative);
/* An integral Lua number in [-2^63, 2^64) as its 64 bits; 0, or -1 for anything else. */
int lbpf_lua_number_bits(lua_Number n, uint64_t *bits, int *negative);
/* Whether an ENUM/ENUM64 type's values decode as signed: its kflag, or (older compilers leave
 * the flag unset) an enumerator below zero. */
bool lbpf_lua_enum_is_signed(const struct btf_type *t);
/* lbpf_lua_get_int or a Lua argument error. */
uint64_t lbpf_lua_check_u64(lua_State *L, int idx);

/* A value's encoding resolved once (per map key/value or global) so that hot paths skip BTF:
 * plain integers go straight between bytes and Lua numbers. */
enum lbpf_lua_shape { LBPF_SHAPE_BYTES, LBPF_SHAPE_UINT, LBPF_SHAPE_SINT, LBPF_SHAPE_BTF,
		      LBPF_SHAPE_FLAT };
/* LBPF_SHAPE_FLAT: a struct whose members are all named, byte-aligned plain integers, bools,
 * enums or char[N], decoded from this precompiled field list without walking BTF. Names point
 * into the BTF's strings, which live as long as the map handle may be used. */
#define LBPF_LUA_FLAT_MAX 16
enum lbpf_lua_field_kind { LBPF_FIELD_UINT, LBPF_FIELD_SINT, LBPF_FIELD_BOOL, LBPF_FIELD_CHARS };
struct lbpf_lua_flat_field {
	const char *name;
	uint32_t offset;
	uint16_t size;
	uint8_t kind;
};
struct lbpf_lua_codec {
	const lbpf_btf *btf;
	uint32_t type_id; /* resolved (typedefs skipped); 0: no BTF */
	uint32_t size;
	uint8_t shape;
	uint8_t char_array; /* a char[N]: Lua strings */
	uint8_t nfields;    /* LBPF_SHAPE_FLAT */
	struct lbpf_lua_flat_field fields[LBPF_LUA_FLAT_MAX];
};
void lbpf_lua_codec_init(struct lbpf_lua_codec *c, const lbpf_btf *btf, uint32_t type_id,
			 size_t size, int raw);
void lbpf_lua_codec_push(lua_State *L, const struct lbpf_lua_codec *c, const void *data);
/* Encodes into out (c->size bytes, zeroed first); Lua error on a bad shape. what names the
 * value in messages ("key", "value"). */
void lbpf_lua_codec_encode(lua_State *L, int idx, const struct lbpf_lua_codec *c, void *out,
			   const char *what);
/* Whether a Lua value at idx is a per-CPU array for a value of this codec (vs a single value). */
int lbpf_lua_codec_is_percpu_array(lua_State *L, int idx, const struct lbpf_lua_codec *c);

/* Creates a handle class: metatable name with meta functions; methods go to a table that
 * __index consults (index_fn, if given, is __index with that table as upvalue 1). */
void lbpf_lua_new_class(lua_State *L, const char *mt_name, const luaL_Reg *meta,
			const luaL_Reg *methods, lua_CFunction index_fn);
/* First step of an index_fn: pushes methods[key] (the key at index 2, the methods table as
 * upvalue 1) and returns whether that is a method; when not, the nil stays pushed. */
int lbpf_lua_index_method(lua_State *L);
/* Pushes the methods table of a class. */
void lbpf_lua_push_methods(lua_State *L, const char *mt_name);
/* Errno-style failure with a message of ours (no core message). */
int lbpf_lua_fail_msg(lua_State *L, int err, const char *fmt, ...);
/* The result of a call that returns nothing but success: true, or (err < 0) what
 * lbpf_lua_fail gives. */
int lbpf_lua_ok(lua_State *L, int err);
/* Makes the value at owner_idx the owner of the userdata at idx: its uservalue becomes
 * {owner = value}, which keeps the owner alive as long as the handle. */
void lbpf_lua_set_owner(lua_State *L, int idx, int owner_idx);
/* Pushes the object userdata (index) that owns a handle, from the handle's uservalue. */
void lbpf_lua_push_owner(lua_State *L, int idx);

/* Options tables. An options argument is a table or nil: lbpf_lua_opt_table returns its
 * (absolute) index, or 0 for nil, and every getter gives its default for t == 0 or an absent
 * field. A field of the wrong type raises "option 'mode' must be a string, got number". */
int lbpf_lua_opt_table(lua_State *L, int idx);
int lbpf_lua_opt_bool(lua_State *L, int t, const char *field, int def);
lua_Integer lbpf_lua_opt_int(lua_State *L, int t, const char *field, lua_Integer def);
/* An integer option in 0..max (a negative, fractional or larger number is an error). */
lua_Integer lbpf_lua_opt_uint(lua_State *L, int t, const char *field, lua_Integer def,
			      lua_Integer max);
/* The string stays valid while the options table does. */
const char *lbpf_lua_opt_str(lua_State *L, int t, const char *field, const char *def);
/* For options with checks or messages of their own: pushes the field and returns 1, or pushes
 * nothing and returns 0 when t is 0 or the field is nil. */
int lbpf_lua_opt_push(lua_State *L, int t, const char *field);

#endif
