/*
 * Program handles: name, section, type, attach, test_run.
 * A program is a pointer into its object: the handle keeps the object userdata alive (uservalue)
 * and checks that the object is still open before every use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lhandle.h"

void lbpf_lua_new_program_handle(lua_State *L, lbpf_program *prog, int obj_idx)
{
	obj_idx = lua_absindex(L, obj_idx);
	struct lbpf_lua_program *p = lbpf_newuserdata(L, sizeof(*p));
	memset(p, 0, sizeof(*p));
	p->prog = prog;
	p->owner = lbpf_lua_to_object(L, obj_idx);
	lbpf_lua_copy_name(p->name, sizeof(p->name), lbpf_program_name(prog));
	luaL_setmetatable(L, LBPF_PROGRAM_MT);
	lbpf_lua_set_owner(L, -1, obj_idx);
}

static struct lbpf_lua_program *check_program_ud(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, LBPF_PROGRAM_MT);
}

static bool program_alive(const struct lbpf_lua_program *p)
{
	return p->owner && p->owner->obj;
}

lbpf_program *lbpf_lua_check_program(lua_State *L, int idx)
{
	struct lbpf_lua_program *p = check_program_ud(L, idx);
	if (!program_alive(p))
		luaL_error(L, "program '%s' used after its object was closed", p->name);
	return p->prog;
}

/* Attaching or running a program before load is misuse: a Lua error, not a nil return. */
lbpf_program *lbpf_lua_check_loaded(lua_State *L, int idx)
{
	lbpf_program *prog = lbpf_lua_check_program(L, idx);
	if (lbpf_program_fd(prog) < 0)
		luaL_error(L, "program '%s' is not loaded (call obj:load() first)", lbpf_program_name(prog));
	return prog;
}

static int l_attach(lua_State *L)
{
	lbpf_link *link = NULL;
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	int err = lbpf_program_attach(prog, &link);
	return lbpf_lua_link_result(L, err, &link);
}

static int l_attach_tracepoint(lua_State *L)
{
	lbpf_link *link = NULL;
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	const char *category = luaL_checkstring(L, 2);
	const char *name = luaL_checkstring(L, 3);
	int err = lbpf_program_attach_tracepoint(prog, category, name, &link);
	return lbpf_lua_link_result(L, err, &link);
}

static int l_attach_raw_tracepoint(lua_State *L)
{
	lbpf_link *link = NULL;
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	const char *name = luaL_checkstring(L, 2);
	int err = lbpf_program_attach_raw_tracepoint(prog, name, &link);
	return lbpf_lua_link_result(L, err, &link);
}

/* test_run's own option getters: sizes must not be negative, and messages name test_run. */
static size_t opt_size(lua_State *L, int tbl, const char *field, size_t dflt)
{
	if (!lbpf_lua_opt_push(L, tbl, field))
		return dflt;
	if (!lbpf_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
		luaL_error(L, "test_run: %s must be a non-negative integer, got %s", field,
			   luaL_typename(L, -1));
	size_t v = (size_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

static const char *opt_bytes(lua_State *L, int tbl, const char *field, size_t *len)
{
	*len = 0;
	if (!lbpf_lua_opt_push(L, tbl, field))
		return NULL;
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "test_run: %s must be a string, got %s", field, luaL_typename(L, -1));
	const char *s = lua_tolstring(L, -1, len);
	lua_pop(L, 1); /* the string stays referenced by the options table */
	return s;
}

/* Scratch memory owned by the Lua stack, so an error cannot leak it. */
static void *stack_buffer(lua_State *L, size_t size)
{
	return size ? lbpf_newuserdata(L, size) : (lua_pushnil(L), NULL);
}

/* Syscall programs run once, take no packet and write their context back into ctx_in (the
 * kernel refuses repeat, data and ctx_out for them): the context is copied into scratch memory
 * and returned as `ctx`. Explicit repeat/ctx_size_out are passed through for the kernel to judge. */
static int test_run_syscall(lua_State *L, lbpf_program *prog, struct lbpf_test_run *run)
{
	void *ctx = stack_buffer(L, run->ctx_size_in);
	if (ctx)
		memcpy(ctx, run->ctx_in, run->ctx_size_in);
	run->ctx_in = ctx;
	run->repeat = (uint32_t)opt_size(L, 2, "repeat", 0);
	run->flags = (uint32_t)opt_size(L, 2, "flags", 0);
	run->cpu = (uint32_t)opt_size(L, 2, "cpu", 0);
	run->ctx_size_out = opt_size(L, 2, "ctx_size_out", 0);
	run->ctx_out = stack_buffer(L, run->ctx_size_out);
	int err = lbpf_program_test_run(prog, run);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_createtable(L, 0, 3);
	lua_pushinteger(L, (lua_Integer)run->retval);
	lua_setfield(L, -2, "retval");
	lua_pushinteger(L, (lua_Integer)run->duration_ns);
	lua_setfield(L, -2, "duration");
	if (ctx) {
		lua_pushlstring(L, ctx, run->ctx_size_in);
		lua_setfield(L, -2, "ctx");
	}
	return 1;
}

/* prog:test_run{data=, ctx=, repeat=, data_size_out=, ctx_size_out=, flags=, cpu=}
 *   -> {retval=, duration=, data=, ctx=} | nil, message, errno */
static int l_test_run(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_loaded(L, 1);
	struct lbpf_test_run run;

	memset(&run, 0, sizeof(run));
	if (lua_isnoneornil(L, 2))
		lua_newtable(L);
	lua_settop(L, 2);
	luaL_checktype(L, 2, LUA_TTABLE);
	run.data_in = opt_bytes(L, 2, "data", &run.data_size_in);
	run.ctx_in = opt_bytes(L, 2, "ctx", &run.ctx_size_in);
	/* Raw tracepoint programs take the same rules (no repeat, data or ctx_out): BEGIN/END of
	 * bpf.trace run that way. */
	if (lbpf_program_type(prog) == BPF_PROG_TYPE_SYSCALL ||
	    lbpf_program_type(prog) == BPF_PROG_TYPE_RAW_TRACEPOINT)
		return test_run_syscall(L, prog, &run);
	run.repeat = (uint32_t)opt_size(L, 2, "repeat", 1);
	run.flags = (uint32_t)opt_size(L, 2, "flags", 0);
	run.cpu = (uint32_t)opt_size(L, 2, "cpu", 0);
	/* Room for programs that grow the packet (xdp_adjust_head/tail). */
	run.data_size_out = opt_size(L, 2, "data_size_out", run.data_in ? run.data_size_in + 256 : 0);
	run.ctx_size_out = opt_size(L, 2, "ctx_size_out", run.ctx_size_in);
	run.data_out = stack_buffer(L, run.data_size_out);
	run.ctx_out = stack_buffer(L, run.ctx_size_out);

	int err = lbpf_program_test_run(prog, &run);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_createtable(L, 0, 4);
	lua_pushinteger(L, (lua_Integer)run.retval);
	lua_setfield(L, -2, "retval");
	lua_pushinteger(L, (lua_Integer)run.duration_ns);
	lua_setfield(L, -2, "duration");
	if (run.data_out) {
		lua_pushlstring(L, run.data_out, run.data_size_out);
		lua_setfield(L, -2, "data");
	}
	if (run.ctx_out) {
		lua_pushlstring(L, run.ctx_out, run.ctx_size_out);
		lua_setfield(L, -2, "ctx");
	}
	return 1;
}

static int l_fd(lua_State *L)
{
	int fd = lbpf_program_fd(lbpf_lua_check_program(L, 1));
	if (fd < 0)
		return lbpf_lua_fail_msg(L, EBADF, "program '%s' is not loaded", check_program_ud(L, 1)->name);
	lua_pushinteger(L, fd);
	return 1;
}

/* prog:set_attach_target(target [, func]): freplace's target, a loaded program handle (or its
 * fd) and the global function replaced (default: the one the section freplace/FUNC names). */
static int l_set_attach_target(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_program(L, 1);
	const char *func = luaL_optstring(L, 3, NULL);
	int fd, err;

	if (lua_type(L, 2) == LUA_TNUMBER)
		fd = (int)luaL_checkinteger(L, 2);
	else
		fd = lbpf_program_fd(lbpf_lua_check_program(L, 2));
	if (fd < 0)
		return luaL_argerror(L, 2, "the target program is not loaded");
	err = lbpf_program_set_attach_target(prog, fd, func);
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_settop(L, 1);
	return 1;
}

static int l_set_autoload(lua_State *L)
{
	lbpf_program *prog = lbpf_lua_check_program(L, 1);
	luaL_checktype(L, 2, LUA_TBOOLEAN);
	int err = lbpf_program_set_autoload(prog, lua_toboolean(L, 2));
	if (err < 0)
		return lbpf_lua_fail(L, err);
	lua_settop(L, 1);
	return 1;
}

static int l_tostring(lua_State *L)
{
	struct lbpf_lua_program *p = check_program_ud(L, 1);
	if (!program_alive(p)) {
		lua_pushfstring(L, "bpf.program(%s, closed)", p->name);
		return 1;
	}
	int fd = lbpf_program_fd(p->prog);
	const char *type = lbpf_prog_type_name(lbpf_program_type(p->prog));
	if (fd >= 0)
		lua_pushfstring(L, "bpf.program(%s, %s, type %s, fd %d)", p->name,
				lbpf_program_section(p->prog), type ? type : "?", fd);
	else
		lua_pushfstring(L, "bpf.program(%s, %s, type %s, not loaded)", p->name,
				lbpf_program_section(p->prog), type ? type : "?");
	return 1;
}

static int l_eq(lua_State *L)
{
	lua_pushboolean(L, lua_touserdata(L, 1) == lua_touserdata(L, 2));
	return 1;
}

static int push_property(lua_State *L, struct lbpf_lua_program *p, const char *k)
{
	if (strcmp(k, "name") == 0) {
		lua_pushstring(L, p->name);
		return 1;
	}
	if (!program_alive(p))
		return luaL_error(L, "program '%s' used after its object was closed", p->name);
	if (strcmp(k, "section") == 0) {
		lua_pushstring(L, lbpf_program_section(p->prog));
	} else if (strcmp(k, "type") == 0) {
		const char *t = lbpf_prog_type_name(lbpf_program_type(p->prog));
		lua_pushstring(L, t ? t : "unknown");
	} else if (strcmp(k, "expected_attach_type") == 0) {
		const char *t = lbpf_attach_type_name(lbpf_program_expected_attach_type(p->prog));
		lua_pushstring(L, t ? t : "unknown");
	} else if (strcmp(k, "insn_count") == 0) {
		lua_pushinteger(L, (lua_Integer)lbpf_program_insn_count(p->prog));
	} else if (strcmp(k, "autoload") == 0) {
		lua_pushboolean(L, lbpf_program_autoload(p->prog));
	} else if (strcmp(k, "loaded") == 0) {
		lua_pushboolean(L, lbpf_program_fd(p->prog) >= 0);
	} else if (strcmp(k, "autoattach") == 0) {
		lua_pushboolean(L, lbpf_program_autoattach(p->prog));
	} else if (strcmp(k, "flags") == 0) {
		lua_pushinteger(L, (lua_Integer)lbpf_program_flags(p->prog));
	} else if (strcmp(k, "log_level") == 0) {
		lua_pushinteger(L, (lua_Integer)lbpf_program_log_level(p->prog));
	} else if (strcmp(k, "log") == 0) {
		lua_pushstring(L, lbpf_program_log(p->prog)); /* nil unless a log level was set */
	} else {
		return 0;
	}
	return 1;
}

static int l_index(lua_State *L)
{
	if (lbpf_lua_index_method(L))
		return 1;
	struct lbpf_lua_program *p = check_program_ud(L, 1);
	if (lua_type(L, 2) != LUA_TSTRING)
		return 0;
	if (strcmp(lua_tostring(L, 2), "object") == 0) {
		lbpf_lua_push_owner(L, 1);
		return 1;
	}
	return push_property(L, p, lua_tostring(L, 2));
}

/* prog:close(): a program built by bpf.asm owns its one-program object and frees it (fd, BTF,
 * memory) now; a program of an object lives until obj:close(). Closing twice is harmless. */
static int l_close(lua_State *L)
{
	struct lbpf_lua_program *p = check_program_ud(L, 1);
	if (!p->owns_object)
		return luaL_error(L, "program '%s' belongs to object '%s': close the object instead",
				  p->name, p->owner ? p->owner->name : "?");
	lbpf_lua_close_object(p->owner);
	return 0;
}

#if LBPF_HAVE_CLOSE
/* <close> (Lua 5.4): like close() for a built program; an object's program stays with it. */
static int l_close_scope(lua_State *L)
{
	struct lbpf_lua_program *p = check_program_ud(L, 1);
	if (p->owns_object)
		lbpf_lua_close_object(p->owner);
	return 0;
}
#endif

void lbpf_lua_open_program(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{ "__tostring", l_tostring },
		{ "__eq", l_eq },
#if LBPF_HAVE_CLOSE
		{ "__close", l_close_scope },
#endif
		{ NULL, NULL },
	};
	static const luaL_Reg methods[] = {
		{ "attach", l_attach },
		{ "attach_tracepoint", l_attach_tracepoint },
		{ "attach_raw_tracepoint", l_attach_raw_tracepoint },
		{ "test_run", l_test_run },
		{ "fd", l_fd },
		{ "set_autoload", l_set_autoload },
		{ "set_attach_target", l_set_attach_target },
		{ "close", l_close },
		{ NULL, NULL },
	};
	lbpf_lua_new_class(L, LBPF_PROGRAM_MT, meta, methods, l_index);
}
