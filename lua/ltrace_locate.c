/* Line and column of byte offsets in a trace program's source (bpf.trace.syntax.locator): the
 * compiler asks for one per statement and event, mostly in source order. */
#include <string.h>

#include "lbpf_lua.h"
#include "ltrace_syntax.h"

/* The line starts of one source: starts[0] = 1, then the offset after every '\n' (1-based, as
 * the Lua side counts); last: the line of the previous answer, where the next one usually is. */
struct line_starts {
	size_t n, last;
	lua_Integer starts[];
};

/* The line (0-based index into starts) of pos: the last start at or before pos, else line 0. */
static size_t line_of(const struct line_starts *ls, lua_Integer pos)
{
	size_t i = ls->last, lo = 0, hi = ls->n - 1;

	/* in source order the answer is the last line or one of the next two */
	for (size_t k = 0; k < 3 && ls->starts[i] <= pos; k++, i++)
		if (i + 1 == ls->n || ls->starts[i + 1] > pos)
			return i;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (ls->starts[mid] <= pos)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* where(pos) -> line, column (both 1-based). Upvalue 1: the line starts. */
static int l_where(lua_State *L)
{
	struct line_starts *ls = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer pos = luaL_checkinteger(L, 1);
	size_t i = line_of(ls, pos);

	ls->last = i;
	lua_pushinteger(L, (lua_Integer)i + 1);
	lua_pushinteger(L, pos - ls->starts[i] + 1);
	return 2;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 1;
	const char *p = s, *end = s + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* syntax.locator(src) -> where: the function above for this source. */
int ltrace_locator(lua_State *L)
{
	size_t len, n, k = 1;
	const char *s = luaL_checklstring(L, 1, &len), *p = s, *end = s + len;
	struct line_starts *ls;

	n = count_lines(s, len);
	ls = lua_newuserdata(L, sizeof *ls + n * sizeof ls->starts[0]);
	ls->n = n;
	ls->last = 0;
	ls->starts[0] = 1;
	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		p++;
		ls->starts[k++] = (lua_Integer)(p - s) + 1;
	}
	lua_pushcclosure(L, l_where, 1);
	return 1;
}
