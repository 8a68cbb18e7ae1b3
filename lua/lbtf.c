/* bpf.btf: BTF handles for exploring types from Lua (kernel(), open(path), from_string(s)). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../core/btf_internal.h"
#include "lbpf_lua.h"

#define KERNEL_KEY "bpf.btf.kernel"

struct lua_btf {
	lbpf_btf *btf; /* NULL once closed */
	char origin[128];
};


static struct lua_btf *check_handle(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, LBPF_BTF_MT);
}

static lbpf_btf *check_btf(lua_State *L, int idx)
{
	struct lua_btf *h = check_handle(L, idx);
	if (!h->btf)
		luaL_error(L, "bpf.btf (%s) used after close", h->origin);
	return h->btf;
}

const lbpf_btf *lbpf_lua_test_btf(lua_State *L, int idx)
{
	return luaL_testudata(L, idx, LBPF_BTF_MT) ? check_btf(L, idx) : NULL;
}

/* A new handle owning btf; base_idx (0: none) is kept alive as the uservalue. */
static void push_handle(lua_State *L, lbpf_btf *btf, const char *origin, int base_idx)
{
	if (base_idx)
		base_idx = lua_absindex(L, base_idx);
	struct lua_btf *h = lbpf_newuserdata(L, sizeof(*h));
	h->btf = btf;
	snprintf(h->origin, sizeof(h->origin), "%s", origin);
	luaL_getmetatable(L, LBPF_BTF_MT);
	lua_setmetatable(L, -2);
	if (base_idx) {
		lua_pushvalue(L, base_idx);
		lbpf_setuservalue(L, -2);
	}
}

/* ---- type tables ---------------------------------------------------------------------------- */

static void set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static void set_decl(lua_State *L, const lbpf_btf *btf, const char *k, uint32_t id)
{
	char buf[512];
	if (lbpf_btf_decl_to_c(btf, id, "", buf, sizeof(buf)) >= 0)
		set_str(L, k, buf);
}

static void push_members(lua_State *L, const lbpf_btf *btf, const struct btf_type *t)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	bool kflag = BTF_INFO_KFLAG(t->info);
	lua_createtable(L, BTF_INFO_VLEN(t->info), 0);
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		uint32_t bits = kflag ? BTF_MEMBER_BIT_OFFSET(m[i].offset) : m[i].offset;
		lua_createtable(L, 0, 6);
		set_str(L, "name", lbpf_btf_str(btf, m[i].name_off));
		set_int(L, "type", m[i].type);
		set_decl(L, btf, "type_name", m[i].type);
		set_int(L, "bit_offset", bits);
		set_int(L, "offset", bits / 8);
		if (kflag && BTF_MEMBER_BITFIELD_SIZE(m[i].offset))
			set_int(L, "bitfield_size", BTF_MEMBER_BITFIELD_SIZE(m[i].offset));
		int64_t size = lbpf_btf_type_size(btf, m[i].type);
		if (size >= 0)
			set_int(L, "size", size);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "members");
}

static void push_enum_values(lua_State *L, const lbpf_btf *btf, const struct btf_type *t)
{
	bool is64 = BTF_INFO_KIND(t->info) == BTF_KIND_ENUM64, sign = BTF_INFO_KFLAG(t->info);
	lua_createtable(L, BTF_INFO_VLEN(t->info), 0);
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		lua_createtable(L, 0, 2);
		if (is64) {
			const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;
			set_str(L, "name", lbpf_btf_str(btf, e->name_off));
			set_int(L, "value", (lua_Integer)(((uint64_t)e->val_hi32 << 32) | e->val_lo32));
		} else {
			const struct btf_enum *e = (const struct btf_enum *)(t + 1) + i;
			set_str(L, "name", lbpf_btf_str(btf, e->name_off));
			set_int(L, "value", sign ? (lua_Integer)e->val : (lua_Integer)(uint32_t)e->val);
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "values");
}

static void push_params(lua_State *L, const lbpf_btf *btf, const struct btf_type *t)
{
	const struct btf_param *p = (const struct btf_param *)(t + 1);
	set_int(L, "return_type", t->type);
	lua_createtable(L, BTF_INFO_VLEN(t->info), 0);
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		lua_createtable(L, 0, 3);
		set_str(L, "name", lbpf_btf_str(btf, p[i].name_off));
		set_int(L, "type", p[i].type);
		set_decl(L, btf, "type_name", p[i].type);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "params");
}

static void push_vars(lua_State *L, const lbpf_btf *btf, const struct btf_type *t)
{
	const struct btf_var_secinfo *v = (const struct btf_var_secinfo *)(t + 1);
	lua_createtable(L, BTF_INFO_VLEN(t->info), 0);
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		lua_createtable(L, 0, 4);
		set_str(L, "name", lbpf_btf_type_name(btf, v[i].type));
		set_int(L, "type", v[i].type);
		set_int(L, "offset", v[i].offset);
		set_int(L, "size", v[i].size);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "vars");
}

static void push_kind_details(lua_State *L, const lbpf_btf *btf, const struct btf_type *t)
{
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT: {
		uint32_t enc = *(const uint32_t *)(t + 1);
		set_int(L, "bits", BTF_INT_BITS(enc));
		lua_pushboolean(L, (BTF_INT_ENCODING(enc) & BTF_INT_SIGNED) != 0);
		lua_setfield(L, -2, "signed");
		break;
	}
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = (const struct btf_array *)(t + 1);
		set_int(L, "type", a->type);
		set_int(L, "index_type", a->index_type);
		set_int(L, "nelems", a->nelems);
		break;
	}
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		push_members(L, btf, t);
		break;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		push_enum_values(L, btf, t);
		break;
	case BTF_KIND_FUNC_PROTO:
		push_params(L, btf, t);
		break;
	case BTF_KIND_DATASEC:
		push_vars(L, btf, t);
		break;
	case BTF_KIND_FUNC: case BTF_KIND_VAR:
		set_int(L, "type", t->type);
		set_int(L, "linkage", BTF_INFO_VLEN(t->info));
		if (BTF_INFO_KIND(t->info) == BTF_KIND_VAR)
			set_int(L, "linkage", *(const uint32_t *)(t + 1));
		break;
	case BTF_KIND_DECL_TAG:
		set_int(L, "type", t->type);
		set_int(L, "component_idx", *(const int32_t *)(t + 1));
		break;
	case BTF_KIND_FWD: case BTF_KIND_FLOAT:
		break;
	default: /* ptr, typedef, qualifiers, type tags */
		set_int(L, "type", t->type);
		break;
	}
}

/* { id, kind, name, size, ..., btf = handle } with a __tostring printing C. */
static int push_type(lua_State *L, int handle_idx, uint32_t id)
{
	const lbpf_btf *btf = check_btf(L, handle_idx);
	const struct btf_type *t = lbpf_btf_type(btf, id);
	if (!t)
		return lbpf_lua_fail_msg(L, ENOENT, "BTF: no type with id %u (%u types)", id,
					 lbpf_btf_type_count(btf));
	uint32_t resolved;
	int err = lbpf_btf_resolve_checked(btf, id, &resolved);
	if (err)
		return lbpf_lua_fail(L, err);
	int64_t size = lbpf_btf_type_size(btf, id); /* negative: a sizeless kind (func, void) */
	lua_createtable(L, 0, 8);
	set_int(L, "id", id);
	set_str(L, "kind", lbpf_btf_kind_name(BTF_INFO_KIND(t->info)));
	set_str(L, "name", lbpf_btf_str(btf, t->name_off));
	if (size >= 0)
		set_int(L, "size", size);
	lua_pushvalue(L, handle_idx);
	lua_setfield(L, -2, "btf");
	push_kind_details(L, btf, t);
	luaL_getmetatable(L, LBPF_BTF_MT ".type");
	lua_setmetatable(L, -2);
	return 1;
}

/* ---- handle methods --------------------------------------------------------------------------- */

/* "struct task_struct" → ("task_struct", STRUCT); "task_struct" → ("task_struct", any). */
static int split_kind(const char *spec, const char **name)
{
	const char *sp = strchr(spec, ' ');
	*name = spec;
	if (!sp)
		return 0;
	char word[16];
	size_t n = (size_t)(sp - spec);
	if (n >= sizeof(word))
		return 0;
	memcpy(word, spec, n);
	word[n] = '\0';
	int kind = lbpf_btf_kind_from_name(word);
	if (kind < 0)
		return 0;
	*name = sp + 1;
	return kind;
}

static int kind_arg(lua_State *L, int idx)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	const char *k = luaL_checkstring(L, idx);
	int kind = lbpf_btf_kind_from_name(k);
	if (kind < 0)
		luaL_argerror(L, idx, lua_pushfstring(L, "unknown BTF kind '%s'", k));
	return kind;
}

static int find_id(lua_State *L, const lbpf_btf *btf, int name_idx, int kind_idx, int32_t *id)
{
	const char *name;
	int kind = split_kind(luaL_checkstring(L, name_idx), &name);
	if (!kind)
		kind = kind_arg(L, kind_idx);
	*id = lbpf_btf_find(btf, name, kind);
	if (*id == -ENOENT)
		return lbpf_lua_fail_msg(L, ENOENT, "BTF: no type named '%s'%s%s", name,
					 kind ? " of kind " : "", kind ? lbpf_btf_kind_name(kind) : "");
	if (*id < 0)
		return lbpf_lua_fail(L, *id);
	return 0;
}

static uint32_t check_id(lua_State *L, const lbpf_btf *btf, int idx)
{
	lua_Integer id = luaL_checkinteger(L, idx);
	if (id < 0 || id >= (lua_Integer)lbpf_btf_type_count(btf))
		luaL_argerror(L, idx, lua_pushfstring(L, "type id %d out of range (%d types)",
						      (int)id, (int)lbpf_btf_type_count(btf)));
	return (uint32_t)id;
}

/* btf:type(name_or_id [, kind]) */
static int l_type(lua_State *L)
{
	const lbpf_btf *btf = check_btf(L, 1);
	if (lua_type(L, 2) == LUA_TNUMBER)
		return push_type(L, 1, check_id(L, btf, 2));
	int32_t id;
	int n = find_id(L, btf, 2, 3, &id);
	return n ? n : push_type(L, 1, (uint32_t)id);
}

/* btf:find(name [, kind]) → id */
static int l_find(lua_State *L)
{
	const lbpf_btf *btf = check_btf(L, 1);
	int32_t id;
	int n = find_id(L, btf, 2, 3, &id);
	if (n)
		return n;
	lua_pushinteger(L, id);
	return 1;
}

static int l_count(lua_State *L)
{
	lua_pushinteger(L, lbpf_btf_type_count(check_btf(L, 1)));
	return 1;
}

static int push_c(lua_State *L, const lbpf_btf *btf, uint32_t id)
{
	int len = lbpf_btf_type_to_c(btf, id, NULL, 0);
	if (len < 0)
		return lbpf_lua_fail(L, len);
	char *buf = malloc((size_t)len + 1);
	if (!buf)
		return lbpf_lua_fail_msg(L, ENOMEM, "out of memory");
	lbpf_btf_type_to_c(btf, id, buf, (size_t)len + 1);
	lua_pushlstring(L, buf, (size_t)len);
	free(buf);
	return 1;
}

/* btf:c(name_or_id) → C text */
static int l_c(lua_State *L)
{
	const lbpf_btf *btf = check_btf(L, 1);
	if (lua_type(L, 2) == LUA_TNUMBER)
		return push_c(L, btf, check_id(L, btf, 2));
	int32_t id;
	int n = find_id(L, btf, 2, 3, &id);
	return n ? n : push_c(L, btf, (uint32_t)id);
}

static int l_dump_c(lua_State *L)
{
	char *text;
	size_t len;
	int err = lbpf_btf_dump_c_str(check_btf(L, 1), &text, &len);
	if (err)
		return lbpf_lua_fail(L, err);
	lua_pushlstring(L, text, len);
	free(text);
	return 1;
}

static int l_raw(lua_State *L)
{
	uint32_t size;
	const void *data = lbpf_btf_raw_data(check_btf(L, 1), &size);
	lua_pushlstring(L, data, size);
	return 1;
}

/* btf:load([disable_mask]) → fd (kept by the btf) */
static int l_load(lua_State *L)
{
	lbpf_btf *btf = check_btf(L, 1);
	int fd = lbpf_btf_load(btf, (uint32_t)luaL_optinteger(L, 2, 0));
	if (fd < 0)
		return lbpf_lua_fail(L, fd);
	lua_pushinteger(L, fd);
	return 1;
}

/* btf:sanitized(mask) → a new handle of what load(mask) would send the kernel */
static int l_sanitized(lua_State *L)
{
	const lbpf_btf *btf = check_btf(L, 1);
	void *data;
	uint32_t size;
	int err = lbpf_btf_sanitized_copy(btf, (uint32_t)luaL_checkinteger(L, 2), &data, &size);
	if (err)
		return lbpf_lua_fail(L, err);
	lbpf_btf *copy;
	err = lbpf_btf_open_mem(data, size, &copy);
	free(data);
	if (err)
		return lbpf_lua_fail(L, err);
	push_handle(L, copy, "sanitized", 0);
	return 1;
}

static int ext_sec_size(void *ctx, const char *sec, uint32_t *size)
{
	const lbpf_btf *btf = ctx;
	for (size_t i = 0; i < btf->elf_nsecs; i++)
		if (strcmp(btf->elf_secs[i].name, sec) == 0) {
			*size = btf->elf_secs[i].size;
			return 0;
		}
	return -ENOENT;
}

static void push_ext_table(lua_State *L, const char *k, const struct lbpf_btf_ext_table *t)
{
	lua_createtable(L, 0, (int)t->count);
	for (size_t i = 0; i < t->count; i++) {
		lua_pushinteger(L, t->secs[i].count);
		lua_setfield(L, -2, t->secs[i].sec_name);
	}
	lua_setfield(L, -2, k);
}

/* btf:ext([bytes]) → { func_info = {sec = count}, line_info = ..., core_relo = ... }: parses and
 * checks .BTF.ext (the object's own when bytes is nil) against this BTF and the ELF's sections. */
static int l_ext(lua_State *L)
{
	const lbpf_btf *btf = check_btf(L, 1);
	size_t size = btf->ext_size;
	const void *data = btf->ext_data;
	if (!lua_isnoneornil(L, 2))
		data = luaL_checklstring(L, 2, &size);
	if (!data)
		return lbpf_lua_fail_msg(L, ENOENT, "BTF: no .BTF.ext (not opened from an object)");
	struct lbpf_btf_ext *ext;
	int err = lbpf_btf_ext_parse(data, size, btf, &ext);
	if (!err && btf->elf_nsecs)
		err = lbpf_btf_ext_check(ext, btf, ext_sec_size, (void *)btf);
	if (err) {
		if (ext)
			lbpf_btf_ext_free(ext);
		return lbpf_lua_fail(L, err);
	}
	lua_createtable(L, 0, 3);
	push_ext_table(L, "func_info", &ext->func_info);
	push_ext_table(L, "line_info", &ext->line_info);
	push_ext_table(L, "core_relo", &ext->core_relo);
	lbpf_btf_ext_free(ext);
	return 1;
}

static int l_ext_data(lua_State *L)
{
	const lbpf_btf *btf = check_btf(L, 1);
	if (!btf->ext_data)
		return lbpf_lua_fail_msg(L, ENOENT, "BTF: no .BTF.ext (not opened from an object)");
	lua_pushlstring(L, btf->ext_data, btf->ext_size);
	return 1;
}

static int l_close(lua_State *L)
{
	struct lua_btf *h = check_handle(L, 1);
	lbpf_btf_free(h->btf);
	h->btf = NULL;
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lua_btf *h = check_handle(L, 1);
	if (h->btf)
		lua_pushfstring(L, "bpf.btf (%s, %d types)", h->origin,
				(int)lbpf_btf_type_count(h->btf));
	else
		lua_pushfstring(L, "bpf.btf (%s, closed)", h->origin);
	return 1;
}

/* A type table prints as C. */
static int l_type_tostring(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "btf");
	lua_getfield(L, 1, "id");
	const lbpf_btf *btf = check_btf(L, -2);
	return push_c(L, btf, check_id(L, btf, -1));
}

/* ---- module functions ------------------------------------------------------------------------- */

static int l_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	lbpf_btf *btf;
	int err = lbpf_btf_open_file(path, &btf);
	if (err)
		return lbpf_lua_fail(L, err);
	push_handle(L, btf, path, 0);
	return 1;
}

/* bpf.btf.open_split(path, base) */
static int l_open_split(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const lbpf_btf *base = check_btf(L, 2);
	lbpf_btf *btf;
	int err = lbpf_btf_open_split_file(path, base, &btf);
	if (err)
		return lbpf_lua_fail(L, err);
	push_handle(L, btf, path, 2);
	return 1;
}

static int l_from_string(lua_State *L)
{
	size_t size;
	const char *data = luaL_checklstring(L, 1, &size);
	lbpf_btf *btf;
	int err = lbpf_btf_open_mem(data, size, &btf);
	if (err)
		return lbpf_lua_fail(L, err);
	push_handle(L, btf, "memory", 0);
	return 1;
}

/* bpf.btf.kernel(): one handle per Lua state, reopened if someone closed it. */
static int l_kernel(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, KERNEL_KEY);
	struct lua_btf *h = luaL_testudata(L, -1, LBPF_BTF_MT);
	if (h && h->btf)
		return 1;
	lua_pop(L, 1);
	lbpf_btf *btf;
	int err = lbpf_btf_open_kernel(&btf);
	if (err)
		return lbpf_lua_fail(L, err);
	push_handle(L, btf, "/sys/kernel/btf/vmlinux", 0);
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, KERNEL_KEY);
	return 1;
}

static int l_missing_features(lua_State *L)
{
	lua_pushinteger(L, lbpf_btf_missing_features());
	return 1;
}

static const luaL_Reg handle_methods[] = {
	{ "type", l_type }, { "find", l_find }, { "count", l_count }, { "c", l_c },
	{ "dump_c", l_dump_c }, { "raw", l_raw }, { "load", l_load },
	{ "sanitized", l_sanitized }, { "ext", l_ext }, { "ext_data", l_ext_data },
	{ "close", l_close }, { NULL, NULL },
};

static void register_metatables(lua_State *L)
{
	if (luaL_newmetatable(L, LBPF_BTF_MT)) {
		lua_newtable(L);
		luaL_setfuncs(L, handle_methods, 0);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__gc");
#if LBPF_HAVE_CLOSE
		lua_pushcfunction(L, l_close);
		lua_setfield(L, -2, "__close");
#endif
		lua_pushcfunction(L, l_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
	if (luaL_newmetatable(L, LBPF_BTF_MT ".type")) {
		lua_pushcfunction(L, l_type_tostring);
		lua_setfield(L, -2, "__tostring");
	}
	lua_pop(L, 1);
}

static const luaL_Reg module_funcs[] = {
	{ "kernel", l_kernel }, { "open", l_open }, { "open_split", l_open_split },
	{ "from_string", l_from_string }, { "missing_features", l_missing_features },
	{ NULL, NULL },
};

void lbpf_lua_open_btf(lua_State *L)
{
	register_metatables(L);
	lua_newtable(L);
	luaL_setfuncs(L, module_funcs, 0);
	static const struct { const char *name; unsigned int bit; } feats[] = {
		{ "FEAT_DECL_TAG", LBPF_BTF_FEAT_DECL_TAG }, { "FEAT_TYPE_TAG", LBPF_BTF_FEAT_TYPE_TAG },
		{ "FEAT_ENUM64", LBPF_BTF_FEAT_ENUM64 }, { "FEAT_FLOAT", LBPF_BTF_FEAT_FLOAT },
		{ "FEAT_FUNC_LINKAGE", LBPF_BTF_FEAT_FUNC_LINKAGE },
		{ "FEAT_DATASEC", LBPF_BTF_FEAT_DATASEC },
	};
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		lua_pushinteger(L, feats[i].bit);
		lua_setfield(L, -2, feats[i].name);
	}
	lua_setfield(L, -2, "btf");
}
