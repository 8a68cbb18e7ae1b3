/*
 * luabpf: the single-file deployment. A Lua 5.4 interpreter with the bpf module (and its pure-Lua
 * submodules) built in, linked statically with libelf and zlib (mk/static.mk).
 *
 *   luabpf SCRIPT [ARGS...]     run a script; `arg` as with lua5.4 (arg[0] = SCRIPT)
 *   luabpf -e CODE [...]        run one-liners (several -e run in order), then a script if given
 *   luabpf -i [SCRIPT]          enter the REPL after the script / one-liners
 *   luabpf                      the REPL (also when stdin is a pipe: lines are read until EOF)
 *   luabpf new NAME [DIR]       write a ready project DIR/NAME (default ./NAME)
 *   luabpf trace ARGS...        bpftrace programs (bpf.trace.cli, lua/bpf/trace/cli.lua)
 *   luabpf -v | -h
 *
 * `bpf` is a global in every mode (require "bpf" works too); nothing is loaded from disk but the
 * script itself and the .bpf.o files it opens.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "luabpf_alloc.h"
#include "luabpf_embedded.h"
#include "luabpf_readline.h"

int luaopen_bpf(lua_State *L);

#define REPL_PROMPT "luabpf> "
#define REPL_PROMPT_MORE ">> "
#define REPL_LINE_MAX 65536

static const char *progname = "luabpf";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [-e CODE]... [-i] [SCRIPT [ARGS...]]\n"
		"       %s new NAME [DIR]   write a ready project (NAME.bpf.c, NAME.lua, Makefile)\n"
		"       %s trace [-e PROGRAM | FILE.bt] [-d S] [-c CMD] [-p PID] [--dump]   bpftrace\n"
		"       %s cc FILE.bpf.c [-o OUT.bpf.o] [CLANG_OPTION...]\n"
		"                          compile a BPF program (built-in headers, this kernel's vmlinux.h)\n"
		"       %s -v | -h\n"
		"With no script (and no -e), reads Lua lines interactively with `bpf` loaded.\n",
		progname, progname, progname, progname, progname);
}

/* ---- embedded files ------------------------------------------------------------------------ */

static const struct luabpf_embedded *find_embedded(const char *name)
{
	for (const struct luabpf_embedded *e = luabpf_embedded; e->name; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* embedded(name) -> contents or nil; embedded() -> array of every name. */
static int l_embedded(lua_State *L)
{
	if (lua_isnoneornil(L, 1)) {
		lua_newtable(L);
		lua_Integer i = 1;
		for (const struct luabpf_embedded *e = luabpf_embedded; e->name; e++) {
			lua_pushstring(L, e->name);
			lua_rawseti(L, -2, i++);
		}
		return 1;
	}
	const struct luabpf_embedded *e = find_embedded(luaL_checkstring(L, 1));
	if (!e)
		return 0;
	lua_pushlstring(L, e->data, e->size);
	return 1;
}

/* package.preload loader of an embedded pure-Lua submodule (upvalue 1: its embedded name). */
static int load_embedded_module(lua_State *L)
{
	const char *file = lua_tostring(L, lua_upvalueindex(1));
	const struct luabpf_embedded *e = find_embedded(file);
	char chunkname[256];

	snprintf(chunkname, sizeof(chunkname), "@%s", file);
	if (!e || luaL_loadbuffer(L, e->data, e->size, chunkname) != LUA_OK)
		return lua_error(L);
	lua_pushvalue(L, 1); /* the module name, as require passes it */
	lua_call(L, 1, 1);
	return 1;
}

/* "lua/bpf/pp.lua" -> "bpf.pp", "lua/bpf/trace/format.lua" -> "bpf.trace.format",
 * "lua/bpf/x/init.lua" -> "bpf.x", "lua/bpf/init.lua" -> none (bpf itself is the C module). */
static int module_name_of(const char *file, char *out, size_t size)
{
	static const char prefix[] = "lua/bpf/";
	size_t len = strlen(file);

	if (strncmp(file, prefix, sizeof(prefix) - 1) != 0 || len < sizeof(prefix) + 4 ||
	    strcmp(file + len - 4, ".lua") != 0)
		return 0;
	int n = snprintf(out, size, "bpf.%.*s", (int)(len - 4 - (sizeof(prefix) - 1)),
			 file + sizeof(prefix) - 1);
	if (n <= 0 || (size_t)n >= size)
		return 0;
	for (char *c = out; *c; c++)
		if (*c == '/')
			*c = '.';
	size_t mlen = strlen(out);
	if (mlen > 5 && strcmp(out + mlen - 5, ".init") == 0)
		out[mlen - 5] = '\0';
	return strcmp(out, "bpf") != 0;
}

/* package.preload: bpf (the C module) and every embedded lua/bpf/NAME.lua. */
static void preload_modules(lua_State *L)
{
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "preload");
	lua_pushcfunction(L, luaopen_bpf);
	lua_setfield(L, -2, "bpf");
	for (const struct luabpf_embedded *e = luabpf_embedded; e->name; e++) {
		char module[128];

		if (!module_name_of(e->name, module, sizeof(module)))
			continue;
		lua_pushstring(L, e->name);
		lua_pushcclosure(L, load_embedded_module, 1);
		lua_setfield(L, -2, module);
	}
	lua_pop(L, 2);
}

/* ---- running chunks ------------------------------------------------------------------------ */

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Ctrl-C while Lua runs: as lua5.4 does, an "interrupted!" error at the next Lua instruction
 * (a wait in the kernel returns early on the signal), so scripts and `luabpf trace` can catch it
 * and finish cleanly. A second Ctrl-C ends the process. */
static lua_State *running_state;

static void stop_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
	signal(sig, SIG_DFL);
	lua_sethook(running_state, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Calls the function below nargs arguments; reports an error on stderr. Returns a lua status. */
static int docall(lua_State *L, int nargs, int nresults)
{
	int base = lua_gettop(L) - nargs;

	lua_pushcfunction(L, traceback);
	lua_insert(L, base);
	running_state = L;
	signal(SIGINT, on_sigint);
	int status = lua_pcall(L, nargs, nresults, base);
	signal(SIGINT, SIG_DFL);
	lua_remove(L, base);
	return status;
}

static int report(lua_State *L, int status)
{
	if (status != LUA_OK) {
		fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
		fflush(stderr);
		lua_pop(L, 1);
	}
	return status;
}

static int dostring(lua_State *L, const char *code, const char *name)
{
	int status = luaL_loadbuffer(L, code, strlen(code), name);

	if (status == LUA_OK)
		status = docall(L, 0, 0);
	return report(L, status);
}

/* arg = { [-1] = progname, [0] = script, ARGS... } as lua5.4 builds it. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script)
{
	lua_createtable(L, argc - script, script + 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - script);
	}
	lua_setglobal(L, "arg");
}

static int run_script(lua_State *L, char **argv, int argc, int script)
{
	const char *path = strcmp(argv[script], "-") == 0 ? NULL : argv[script];
	int status = luaL_loadfile(L, path);

	if (status == LUA_OK) {
		int n = argc - script - 1;

		luaL_checkstack(L, n, "too many arguments to script");
		for (int i = script + 1; i < argc; i++)
			lua_pushstring(L, argv[i]);
		status = docall(L, n, 0);
	}
	return report(L, status);
}

/* ---- the REPL -------------------------------------------------------------------------------- */

/* Prints the values on the stack above base through the global print, as lua.c does; the REPL
 * installs bpf.repl's print first, so results look as in `lua5.4 -i -l bpf.repl`. */
static const char repl_print_lua[] = "print(...)\n";

static void repl_print(lua_State *L, int base)
{
	int n = lua_gettop(L) - base;

	if (n == 0)
		return;
	if (luaL_loadbuffer(L, repl_print_lua, sizeof(repl_print_lua) - 1, "=print") != LUA_OK) {
		report(L, LUA_ERRSYNTAX);
		lua_settop(L, base);
		return;
	}
	lua_insert(L, base + 1);
	report(L, docall(L, n, 0));
	lua_settop(L, base);
}

/* Whether a syntax error only means "the statement goes on in the next line". */
static int incomplete(lua_State *L, int status)
{
	static const char eof_mark[] = "<eof>";
	size_t len;
	const char *msg;

	if (status != LUA_ERRSYNTAX)
		return 0;
	msg = lua_tolstring(L, -1, &len);
	return len >= sizeof(eof_mark) - 1 &&
	       strcmp(msg + len - (sizeof(eof_mark) - 1), eof_mark) == 0;
}

/* Compiles the buffered input: first as `return <input>` (an expression), then as statements. */
static int compile_input(lua_State *L, const char *input)
{
	const char *expr = lua_pushfstring(L, "return %s;", input);
	int status = luaL_loadbuffer(L, expr, strlen(expr), "=stdin");

	lua_remove(L, -2);
	if (status == LUA_OK)
		return status;
	lua_pop(L, 1);
	return luaL_loadbuffer(L, input, strlen(input), "=stdin");
}

static int read_line(char *line, size_t size, int more)
{
	return luabpf_readline(more ? REPL_PROMPT_MORE : REPL_PROMPT, line, size);
}

/* Line editing with completion by the embedded tools/repl/complete.lua (none if it fails). */
static void start_line_editing(lua_State *L)
{
	const struct luabpf_embedded *e = find_embedded("repl/complete.lua");

	if (e && luaL_loadbuffer(L, e->data, e->size, "@complete.lua") == LUA_OK &&
	    docall(L, 0, 1) == LUA_OK && lua_isfunction(L, -1)) {
		luabpf_readline_init(L);
		return;
	}
	lua_settop(L, lua_gettop(L) - 1);
	lua_pushnil(L);
	luabpf_readline_init(L);
}

static void repl(lua_State *L)
{
	static char line[REPL_LINE_MAX];
	int base = lua_gettop(L);

	start_line_editing(L);
	if (luaL_dostring(L, "require 'bpf.repl'") != LUA_OK)
		report(L, LUA_ERRRUN);

	/* The statement being typed accumulates as a string at base + 1. */
	lua_pushliteral(L, "");
	for (;;) {
		int more = lua_rawlen(L, base + 1) > 0;

		if (!read_line(line, sizeof(line), more))
			break;
		lua_pushvalue(L, base + 1);
		lua_pushstring(L, line);
		lua_concat(L, 2);
		lua_replace(L, base + 1);
		int status = compile_input(L, lua_tostring(L, base + 1));
		if (incomplete(L, status)) {
			lua_pop(L, 1);
			continue;
		}
		lua_pushliteral(L, "");
		lua_replace(L, base + 1);
		if (status == LUA_OK) {
			status = docall(L, 0, LUA_MULTRET);
			if (status == LUA_OK)
				repl_print(L, base + 1);
		}
		report(L, status);
		lua_settop(L, base + 1);
	}
	luabpf_readline_done();
	lua_settop(L, base);
	fputs("\n", stdout);
	fflush(stdout);
}

/* ---- `luabpf new NAME [DIR]` --------------------------------------------------------------- */

/* Runs the embedded tools/new-project/new.lua with (embedded, NAME, DIR, runner). The projects
 * it writes run with this very binary (its absolute path from /proc/self/exe). */
static int new_project(lua_State *L, int argc, char **argv)
{
	const struct luabpf_embedded *script = find_embedded("new/new.lua");
	char self[4096];

	if (argc < 3 || argc > 4) {
		usage(stderr);
		return 2;
	}
	if (!script) {
		fprintf(stderr, "%s: this build has no project templates\n", progname);
		return 1;
	}
	if (!realpath("/proc/self/exe", self))
		snprintf(self, sizeof(self), "luabpf");
	int status = luaL_loadbuffer(L, script->data, script->size, "@new.lua");
	if (status == LUA_OK) {
		lua_pushcfunction(L, l_embedded);
		lua_pushstring(L, argv[2]);
		if (argc == 4)
			lua_pushstring(L, argv[3]);
		else
			lua_pushnil(L);
		lua_pushstring(L, self);
		status = docall(L, 4, 0);
	}
	return report(L, status) == LUA_OK ? 0 : 1;
}

/* ---- `luabpf trace ...` -------------------------------------------------------------------- */

/* require("bpf.trace.cli").main({ARGS after "trace"}): the exit status it returns. */
static int trace_command(lua_State *L, int argc, char **argv)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "bpf.trace.cli");
	if (report(L, docall(L, 1, 1)) != LUA_OK)
		return 1;
	lua_getfield(L, -1, "main");
	lua_remove(L, -2);
	lua_createtable(L, argc - 2, 0);
	for (int i = 2; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - 1);
	}
	if (report(L, docall(L, 1, 1)) != LUA_OK)
		return 1;
	return (int)lua_tointeger(L, -1);
}

/* ---- `luabpf cc FILE.bpf.c ...` ------------------------------------------------------------- */

/* Runs the embedded tools/cc/cc.lua with (embedded, argv[2], ...); it exits with clang's status. */
static int compile_program(lua_State *L, int argc, char **argv)
{
	const struct luabpf_embedded *script = find_embedded("cc/cc.lua");

	if (!script) {
		fprintf(stderr, "%s: this build has no `cc`\n", progname);
		return 1;
	}
	int status = luaL_loadbuffer(L, script->data, script->size, "@cc.lua");
	if (status == LUA_OK) {
		lua_pushcfunction(L, l_embedded);
		for (int i = 2; i < argc; i++)
			lua_pushstring(L, argv[i]);
		status = docall(L, argc - 1, 0);
	}
	return report(L, status) == LUA_OK ? 0 : 1;
}

/* ---- main ---------------------------------------------------------------------------------- */

struct options {
	int interactive; /* -i */
	int has_e;       /* at least one -e */
	int script;      /* index of the script in argv, or 0 */
};

/* Returns 0, or an exit status for bad usage (-1 for -v/-h handled). */
static int parse_options(int argc, char **argv, struct options *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || strcmp(a, "-") == 0)
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "-e") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "%s: -e needs an argument\n", progname);
				return 2;
			}
			o->has_e = 1;
		} else if (strcmp(a, "-i") == 0) {
			o->interactive = 1;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
			return -1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			return -2;
		} else {
			fprintf(stderr, "%s: unknown option '%s'\n", progname, a);
			usage(stderr);
			return 2;
		}
	}
	o->script = i < argc ? i : 0;
	return 0;
}

static int run_e_options(lua_State *L, char **argv, int stop)
{
	for (int i = 1; i < stop; i++)
		if (strcmp(argv[i], "-e") == 0 && dostring(L, argv[++i], "=(command line)") != LUA_OK)
			return 1;
	return 0;
}

static int set_bpf_global(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "bpf");
	int status = docall(L, 1, 1);
	if (status != LUA_OK)
		return report(L, status);
	lua_setglobal(L, "bpf");
	return LUA_OK;
}

static int pmain(lua_State *L)
{
	int argc = (int)lua_tointeger(L, 1);
	char **argv = lua_touserdata(L, 2);
	struct options o = { 0, 0, 0 };
	int rc;

	luaL_openlibs(L);
	preload_modules(L);
	if (argc >= 2 && strcmp(argv[1], "new") == 0) {
		lua_pushinteger(L, new_project(L, argc, argv));
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "trace") == 0) {
		lua_pushinteger(L, trace_command(L, argc, argv));
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "cc") == 0) {
		lua_pushinteger(L, compile_program(L, argc, argv));
		return 1;
	}
	rc = parse_options(argc, argv, &o);
	if (rc == -1 || rc == -2) {
		if (rc == -1)
			printf("luabpf %s (%s)\n", LUA_RELEASE, "bpf module built in");
		else
			usage(stdout);
		lua_pushinteger(L, 0);
		return 1;
	}
	if (rc == 0 && set_bpf_global(L) != LUA_OK)
		rc = 1;
	if (rc == 0) {
		create_arg_table(L, argv, argc, o.script ? o.script : argc);
		rc = run_e_options(L, argv, o.script ? o.script : argc);
	}
	if (rc == 0 && o.script)
		rc = run_script(L, argv, argc, o.script) == LUA_OK ? 0 : 1;
	if (rc == 0 && (o.interactive || (!o.script && !o.has_e)))
		repl(L);
	lua_pushinteger(L, rc);
	return 1;
}

int main(int argc, char **argv)
{
	static struct luabpf_alloc alloc;
	lua_State *L = luaL_newstate();

	if (argv[0] && argv[0][0])
		progname = argv[0];
	if (!L) {
		fprintf(stderr, "%s: cannot create the Lua state: not enough memory\n", progname);
		return 1;
	}
	/* luaL_newstate's panic and warning functions, with a faster allocator (the blocks the
	 * state made so far are malloc's: luabpf_alloc frees those with free). */
	luabpf_alloc_init(&alloc);
	lua_setallocf(L, luabpf_alloc, &alloc);
	lua_pushcfunction(L, pmain);
	lua_pushinteger(L, argc);
	lua_pushlightuserdata(L, argv);
	int status = lua_pcall(L, 2, 1, 0);
	int rc = status == LUA_OK ? (int)lua_tointeger(L, -1) : 1;
	if (status != LUA_OK)
		fprintf(stderr, "%s: %s\n", progname, lua_tostring(L, -1));
	/* `luabpf trace` has closed its handles and files itself: the process ends as os.exit does,
	 * without freeing the state block by block (a tenth of the run's instructions); stdio's
	 * buffers are flushed by exit. */
	if (argc >= 2 && strcmp(argv[1], "trace") == 0) {
		fflush(NULL);
		return rc;
	}
	lua_close(L);
	luabpf_alloc_done(&alloc);
	return rc;
}
