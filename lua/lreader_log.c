/*
 * The Lua side of bpf/include/bpf_log.h: obj:logs() / bpf.log.reader(obj) read the object's
 * lbpf_log ring buffer and hand each record over as (message, level).
 *
 * Format strings never travel: each bpf_log call site keeps its format in .rodata as the global
 * __lbpf_fmt_<id>, and a record carries the id, the level and the argument slots (8 bytes per
 * integer/pointer, str_max bytes per string). See bpf_log.h for the layout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lhandle.h"
#include "lreader.h"

#define LOG_MAP_NAME "lbpf_log"
#define FMT_PREFIX "__lbpf_fmt_"

struct log_header {
	uint32_t fmt_id;
	uint8_t level;
	uint8_t nargs;
	uint16_t str_max;
};

static const char *const level_names[] = { "none", "error", "warn", "info", "debug", "trace" };

void lreader_log_push_formats(lua_State *L, lbpf_object *obj)
{
	size_t n = lbpf_object_global_count(obj);

	lua_newtable(L);
	for (size_t i = 0; i < n; i++) {
		struct lbpf_global g;
		const char *at, *data;
		char *end;
		unsigned long id;

		if (lbpf_object_global_at(obj, i, &g) < 0 || !g.name)
			continue;
		/* Function-local statics are named "<function>.__lbpf_fmt_<id>" in BTF. */
		at = strstr(g.name, FMT_PREFIX);
		if (!at)
			continue;
		id = strtoul(at + strlen(FMT_PREFIX), &end, 10);
		data = lbpf_global_data(&g);
		if (*end || !data)
			continue;
		lua_pushlstring(L, data, strnlen(data, g.size));
		lua_rawseti(L, -2, (int)id);
	}
}

/* One conversion of a format string: "%-08.3lx" split into its parts. */
struct conv {
	char flags[8];
	char width_prec[24];
	int length_bits; /* 0: int (32), 8, 16, 64 */
	char spec;       /* d i u x X o c p s, or 0 when malformed */
	const char *next;
};

static const char *parse_conv(const char *p, struct conv *c)
{
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	while (*p && strchr("-+ #0", *p) && n < sizeof(c->flags) - 1)
		c->flags[n++] = *p++;
	n = 0;
	while (*p && (strchr("0123456789.", *p)) && n < sizeof(c->width_prec) - 1)
		c->width_prec[n++] = *p++;
	if (p[0] == 'h' && p[1] == 'h')
		c->length_bits = 8, p += 2;
	else if (p[0] == 'h')
		c->length_bits = 16, p += 1;
	else if (p[0] == 'l' && p[1] == 'l')
		c->length_bits = 64, p += 2;
	else if (*p == 'l' || *p == 'z' || *p == 't' || *p == 'j')
		c->length_bits = 64, p += 1;
	if (*p && strchr("diuxXocps", *p))
		c->spec = *p++;
	c->next = p;
	return p;
}

static void format_int(luaL_Buffer *b, const struct conv *c, uint64_t v)
{
	char fmt[48], out[128];
	int bits = c->length_bits ? c->length_bits : 32;
	uint64_t mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;

	if (c->spec == 'p') {
		snprintf(out, sizeof(out), "0x%llx", (unsigned long long)v);
	} else if (c->spec == 'c') {
		snprintf(fmt, sizeof(fmt), "%%%s%sc", c->flags, c->width_prec);
		snprintf(out, sizeof(out), fmt, (int)(unsigned char)v);
	} else if (c->spec == 'd' || c->spec == 'i') {
		int shift = 64 - bits;
		long long s = (long long)((int64_t)(v << shift) >> shift);

		snprintf(fmt, sizeof(fmt), "%%%s%slld", c->flags, c->width_prec);
		snprintf(out, sizeof(out), fmt, s);
	} else {
		snprintf(fmt, sizeof(fmt), "%%%s%sll%c", c->flags, c->width_prec, c->spec);
		snprintf(out, sizeof(out), fmt, (unsigned long long)(v & mask));
	}
	luaL_addstring(b, out);
}

/* s is NUL-terminated (format_record copies each slot and terminates it). */
static void format_str(luaL_Buffer *b, const struct conv *c, const char *s)
{
	char fmt[48], out[1024];

	if (!c->flags[0] && !c->width_prec[0]) {
		luaL_addstring(b, s);
		return;
	}
	snprintf(fmt, sizeof(fmt), "%%%s%ss", c->flags, c->width_prec);
	snprintf(out, sizeof(out), fmt, s);
	luaL_addstring(b, out);
}

/* Formats fmt with the argument slots in args[0, size). */
static void format_record(luaL_Buffer *b, const char *fmt, const uint8_t *args, size_t size,
			  unsigned nargs, unsigned str_max)
{
	size_t off = 0;
	unsigned used = 0;
	char str[4096];

	for (const char *p = fmt; *p;) {
		const char *pct = strchr(p, '%');
		struct conv c;

		if (!pct) {
			luaL_addstring(b, p);
			break;
		}
		luaL_addlstring(b, p, (size_t)(pct - p));
		if (pct[1] == '%') {
			luaL_addchar(b, '%');
			p = pct + 2;
			continue;
		}
		parse_conv(pct + 1, &c);
		if (!c.spec) { /* not a conversion we know: print it as is */
			luaL_addlstring(b, pct, (size_t)(c.next - pct));
			p = c.next;
			continue;
		}
		size_t slot = c.spec == 's' ? str_max : 8;
		if (used >= nargs || off + slot > size) {
			luaL_addstring(b, "<missing>");
		} else if (c.spec == 's') {
			size_t n = slot < sizeof(str) - 1 ? slot : sizeof(str) - 1;
			memcpy(str, args + off, n);
			str[n] = '\0';
			format_str(b, &c, str);
		} else {
			uint64_t v;
			memcpy(&v, args + off, 8);
			format_int(b, &c, v);
		}
		off += slot;
		used++;
		p = c.next;
	}
}

void lreader_log_push_record(lua_State *L, int fmts_idx, const void *data, size_t size)
{
	struct log_header h;
	const char *fmt;
	luaL_Buffer b;

	if (size < sizeof(h))
		luaL_error(L, "bpf_log: a record of %d bytes is shorter than its header", (int)size);
	memcpy(&h, data, sizeof(h));
	lua_rawgeti(L, fmts_idx, (int)h.fmt_id);
	fmt = lua_tostring(L, -1);
	if (!fmt) {
		lua_pop(L, 1);
		lua_pushfstring(L, "<bpf_log format %d not found in the object's globals>",
				(int)h.fmt_id);
	} else {
		luaL_buffinit(L, &b);
		format_record(&b, fmt, (const uint8_t *)data + sizeof(h), size - sizeof(h), h.nargs,
			      h.str_max);
		luaL_pushresult(&b);
		lua_remove(L, -2); /* the format */
	}
	if (h.level < sizeof(level_names) / sizeof(*level_names))
		lua_pushstring(L, level_names[h.level]);
	else
		lua_pushfstring(L, "level %d", (int)h.level);
}

/* bpf.log.reader(obj[, opts]) */
static int l_log_reader(lua_State *L)
{
	lbpf_object *obj = lbpf_lua_check_object(L, 1);
	lbpf_map *map = lbpf_object_map_by_name(obj, LOG_MAP_NAME);
	int idx;

	if (!map)
		return luaL_error(L, "object '%s' has no " LOG_MAP_NAME " map (its programs do not "
				  "include bpf_log.h)", lbpf_object_name(obj));
	lbpf_lua_push_map(L, 1, map);
	idx = lua_gettop(L);
	return lreader_new_from_maps(L, &idx, 1, lua_istable(L, 2) ? 2 : 0, true);
}

/* obj:logs(): the object's log reader, created on first use and then cached. */
static int l_obj_logs(lua_State *L)
{
	lbpf_lua_check_object(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, "bpf.log_readers");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_createtable(L, 0, 1);
		lua_pushliteral(L, "k");
		lua_setfield(L, -2, "__mode");
		lua_setmetatable(L, -2);
		lua_pushvalue(L, -1);
		lua_setfield(L, LUA_REGISTRYINDEX, "bpf.log_readers");
	}
	int cache = lua_gettop(L);
	lua_pushvalue(L, 1);
	lua_rawget(L, cache);
	struct lreader *r = luaL_testudata(L, -1, LBPF_READER_MT);
	if (r && !r->closed)
		return 1;
	lua_settop(L, cache);
	lua_pushcfunction(L, l_log_reader);
	lua_pushvalue(L, 1);
	lua_call(L, 1, LUA_MULTRET);
	if (!luaL_testudata(L, cache + 1, LBPF_READER_MT))
		return lua_gettop(L) - cache; /* nil, message, errno */
	lua_pushvalue(L, 1);
	lua_pushvalue(L, cache + 1);
	lua_rawset(L, cache);
	lua_settop(L, cache + 1);
	return 1;
}

static const luaL_Reg object_methods[] = {
	{ "logs", l_obj_logs },
	{ NULL, NULL },
};

void lreader_log_open(lua_State *L)
{
	lbpf_lua_add_methods(L, LBPF_OBJECT_MT, object_methods);
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, l_log_reader);
	lua_setfield(L, -2, "reader");
	lua_createtable(L, 5, 0);
	for (int i = 1; i <= 5; i++) {
		lua_pushstring(L, level_names[i]);
		lua_rawseti(L, -2, i);
	}
	lua_setfield(L, -2, "levels");
	lua_setfield(L, -2, "log");
}
