/* The bpftrace front end's Lua entry points (module "bpf.trace.syntax", preloaded by
 * luaopen_bpf): for now the lexer's token array, which lua/bpf/trace/parser.lua reads. */
#include "lbpf_lua.h"
#include "ltrace_syntax.h"

static const char *const TOKEN_TYPES[] = { "eof", "int", "str", "ident", "var", "param", "map",
	"op", "spec" };

/* syntax.tokenize(text [, macros]) -> array of {t, v, pos, epos [, close_filter]}, or nil,
 * pos, epos, message. */
static int l_tokenize(lua_State *L)
{
	size_t len, pos, epos;
	const char *text = luaL_checklstring(L, 1, &len);
	struct ltrace_tokens *tt;

	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	if (ltrace_tokenize(L, text, len, lua_isnil(L, 2) ? 0 : 2, &tt, &pos, &epos) < 0) {
		lua_pushnil(L);
		lua_pushinteger(L, (lua_Integer)pos);
		lua_pushinteger(L, (lua_Integer)epos);
		lua_pushvalue(L, -4);
		return 4;
	}
	lua_createtable(L, (int)tt->n, 0);
	for (size_t i = 0; i < tt->n; i++) {
		const struct ltrace_token *t = &tt->toks[i];
		lua_createtable(L, 0, 5);
		lua_pushstring(L, TOKEN_TYPES[t->type]);
		lua_setfield(L, -2, "t");
		ltrace_push_token_value(L, tt, t);
		lua_setfield(L, -2, "v");
		lua_pushinteger(L, (lua_Integer)t->pos);
		lua_setfield(L, -2, "pos");
		lua_pushinteger(L, (lua_Integer)t->epos);
		lua_setfield(L, -2, "epos");
		if (t->close_filter) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "close_filter");
		}
		lua_rawseti(L, -2, (int)i + 1);
	}
	return 1;
}

static int open_syntax(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "tokenize", l_tokenize },
		{ NULL, NULL },
	};
	lua_newtable(L);
	luaL_setfuncs(L, funcs, 0);
	return 1;
}

void lbpf_lua_open_trace_syntax(lua_State *L)
{
	lua_getglobal(L, "package");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "preload");
		if (lua_istable(L, -1)) {
			lua_pushcfunction(L, open_syntax);
			lua_setfield(L, -2, "bpf.trace.syntax");
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}
