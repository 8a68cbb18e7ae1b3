/* Line and column of byte offsets in a trace program's source (bpf.trace.syntax.locator): the
 * compiler asks for one per statement and event, mostly in source order; for a statement also
 * its text as the line info shows it. */
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

/* string.sub's bounds (as Lua 5.1 to 5.4 clamp them) of [i, j] in a string of len bytes:
 * *from is 0-based, the count is returned (0 when the span is empty). */
static size_t sub_span(lua_Integer i, lua_Integer j, size_t len, size_t *from)
{
	lua_Integer n = (lua_Integer)len;

	if (i < 0)
		i = i < -n ? 1 : n + i + 1;
	else if (i == 0)
		i = 1;
	if (j > n)
		j = n;
	else if (j < 0)
		j = j < -n ? 0 : n + j + 1;
	*from = (size_t)i - 1;
	return i > j ? 0 : (size_t)(j - i + 1);
}

static bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Pushes the source text of [pos, epos] as a line info shows it (what codegen made with sub,
 * find and gsub): on one line, every run of blanks one space when it holds a newline or a
 * tab, and at most 80 bytes, a longer one cut to 77 and "...". */
static void push_statement_text(lua_State *L, const char *src, size_t len, lua_Integer pos,
				lua_Integer epos)
{
	size_t from, n = sub_span(pos, epos, len, &from), out = 0;
	const char *t = src + from;
	char shown[81]; /* up to one byte more than the limit: enough to know it is passed */

	if (!memchr(t, '\n', n) && !memchr(t, '\t', n)) {
		if (n <= 80) {
			lua_pushlstring(L, t, n);
			return;
		}
		memcpy(shown, t, 77);
		out = 81;
	}
	for (size_t k = 0; k < n && out < 81;) {
		if (is_space(t[k])) {
			while (k < n && is_space(t[k]))
				k++;
			shown[out++] = ' ';
		} else {
			shown[out++] = t[k++];
		}
	}
	if (out > 80) {
		memcpy(shown + 77, "...", 3);
		out = 80;
	}
	lua_pushlstring(L, shown, out);
}

/* where(pos [, epos]) -> line, column (both 1-based) [, the text of pos..epos as above; epos
 * nil: to the end]. Upvalues: the line starts, the source. */
static int l_where(lua_State *L)
{
	struct line_starts *ls = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer pos = luaL_checkinteger(L, 1), epos = 0;
	bool with_text = lua_gettop(L) >= 2;
	size_t i = line_of(ls, pos), len;
	const char *src;

	if (with_text)
		epos = lua_isnil(L, 2) ? -1 : luaL_checkinteger(L, 2);
	ls->last = i;
	lua_pushinteger(L, (lua_Integer)i + 1);
	lua_pushinteger(L, pos - ls->starts[i] + 1);
	if (!with_text)
		return 2;
	src = lua_tolstring(L, lua_upvalueindex(2), &len);
	push_statement_text(L, src, len, pos, epos);
	return 3;
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
	lua_pushvalue(L, 1);
	lua_pushcclosure(L, l_where, 2);
	return 1;
}
