/*
 * Link handles. A link owns its lbpf_link (freed, and so detached unless pinned, by close or GC)
 * and keeps its program handle alive through the uservalue. The kernel side of a link holds its
 * own reference to the program, so a link stays valid even after its object is closed.
 */
#include <string.h>

#include "lhandle.h"

struct lbpf_lua_link {
	lbpf_link *link; /* NULL once closed */
};

void lbpf_lua_push_link(lua_State *L, lbpf_link *link, int owner_idx)
{
	owner_idx = lua_absindex(L, owner_idx);
	struct lbpf_lua_link *l = lbpf_newuserdata(L, sizeof(*l));
	l->link = link;
	luaL_setmetatable(L, LBPF_LINK_MT);
	lbpf_lua_set_owner(L, -1, owner_idx);
	/* What fires from now on runs through new kernel text (the JITed program, a trampoline):
	 * stacks symbolised later must name it, not whatever the cached table had there. */
	lbpf_lua_ksyms_forget(L);
}

int lbpf_lua_link_result(lua_State *L, int err, lbpf_link **plink)
{
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lbpf_lua_push_link(L, *plink, 1);
	return 1;
}

static struct lbpf_lua_link *check_link_ud(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, LBPF_LINK_MT);
}

lbpf_link *lbpf_lua_check_link(lua_State *L, int idx)
{
	struct lbpf_lua_link *l = check_link_ud(L, idx);
	if (!l->link)
		luaL_error(L, "link used after it was closed");
	return l->link;
}

/* link:detach(): detaches now (also a pinned link); a no-op on a closed link. */
static int l_detach(lua_State *L)
{
	struct lbpf_lua_link *l = check_link_ud(L, 1);
	lbpf_link *link = l->link;
	if (!link) { /* closed: already detached, and detaching twice is harmless */
		lua_pushboolean(L, 1);
		return 1;
	}
	return lbpf_lua_ok(L, lbpf_link_detach(link));
}

static int l_pin(lua_State *L)
{
	lbpf_link *link = lbpf_lua_check_link(L, 1);
	const char *path = luaL_checkstring(L, 2);
	return lbpf_lua_ok(L, lbpf_link_pin(link, path));
}

static int l_fd(lua_State *L)
{
	lua_pushinteger(L, lbpf_link_fd(lbpf_lua_check_link(L, 1)));
	return 1;
}

static int l_close(lua_State *L)
{
	struct lbpf_lua_link *l = check_link_ud(L, 1);
	if (l->link) {
		lbpf_link_free(l->link);
		l->link = NULL;
	}
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lbpf_lua_link *l = check_link_ud(L, 1);
	if (!l->link) {
		lua_pushliteral(L, "bpf.link(closed)");
		return 1;
	}
	const char *desc = lbpf_link_description(l->link);
	if (lbpf_link_is_attached(l->link))
		lua_pushfstring(L, "bpf.link(%s, fd %d)", desc ? desc : "?", lbpf_link_fd(l->link));
	else
		lua_pushfstring(L, "bpf.link(%s, detached)", desc ? desc : "?");
	return 1;
}

static int l_index(lua_State *L)
{
	if (lbpf_lua_index_method(L))
		return 1;
	struct lbpf_lua_link *l = check_link_ud(L, 1);
	const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "";
	if (strcmp(k, "program") == 0) {
		lbpf_lua_push_owner(L, 1);
		return 1;
	}
	if (!l->link)
		return 0;
	if (strcmp(k, "attached") == 0) {
		lua_pushboolean(L, lbpf_link_is_attached(l->link));
		return 1;
	}
	if (strcmp(k, "description") == 0) {
		lua_pushstring(L, lbpf_link_description(l->link));
		return 1;
	}
	return 0;
}

void lbpf_lua_open_link(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{ "__gc", l_close },
		{ "__tostring", l_tostring },
#if LBPF_HAVE_CLOSE
		{ "__close", l_close },
#endif
		{ NULL, NULL },
	};
	static const luaL_Reg methods[] = {
		{ "detach", l_detach },
		{ "pin", l_pin },
		{ "fd", l_fd },
		{ "close", l_close },
		{ NULL, NULL },
	};
	lbpf_lua_new_class(L, LBPF_LINK_MT, meta, methods, l_index);
}
