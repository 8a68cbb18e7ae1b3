/* The static binary's REPL input: libedit's readline interface for line editing, a history file
 * ($LUABPF_HISTORY, else ~/.luabpf_history) and tab completion computed by a Lua function
 * (tools/repl/complete.lua) from what the prompt can reach. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>

#include "luabpf_readline.h"

#define HISTORY_LINES 1000

static int editing;          /* stdin is a terminal */
static char history_path[4096];
static lua_State *complete_L; /* the REPL's state, while the REPL runs */
static int complete_ref = LUA_NOREF;

static void find_history_path(void)
{
	const char *env = getenv("LUABPF_HISTORY");
	const char *home = getenv("HOME");

	if (env && *env)
		snprintf(history_path, sizeof(history_path), "%s", env);
	else if (home && *home)
		snprintf(history_path, sizeof(history_path), "%s/.luabpf_history", home);
}

/* The candidates of the last completion, handed out one by one to libedit. */
static char **candidates;
static size_t ncandidates;

static void free_candidates(void)
{
	for (size_t i = 0; i < ncandidates; i++)
		free(candidates[i]);
	free(candidates);
	candidates = NULL;
	ncandidates = 0;
}

/* Runs complete(line_before_cursor, word) and keeps the strings of the array it returns. */
static void compute_candidates(const char *word)
{
	lua_State *L = complete_L;
	int top = lua_gettop(L);

	free_candidates();
	lua_rawgeti(L, LUA_REGISTRYINDEX, complete_ref);
	lua_pushlstring(L, rl_line_buffer, (size_t)rl_point);
	lua_pushstring(L, word);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
		lua_settop(L, top);
		return;
	}
	size_t n = lua_rawlen(L, -1);
	candidates = calloc(n ? n : 1, sizeof(*candidates));
	for (size_t i = 0; candidates && i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		const char *s = lua_tostring(L, -1);
		if (s && (candidates[ncandidates] = strdup(s)))
			ncandidates++;
		lua_pop(L, 1);
	}
	lua_settop(L, top);
}

static char *next_candidate(const char *word, int state)
{
	static size_t next;

	if (state == 0) {
		compute_candidates(word);
		next = 0;
	}
	return next < ncandidates ? strdup(candidates[next++]) : NULL;
}

static char **complete(const char *word, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1; /* no file names when nothing matches */
	return rl_completion_matches(word, next_candidate);
}

void luabpf_readline_init(lua_State *L)
{
	editing = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (!editing) {
		lua_pop(L, 1);
		return;
	}
	complete_L = L;
	complete_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	rl_readline_name = "luabpf";
	/* '.' and ':' stay inside a word (obj.maps.x, obj:lo); quotes and brackets end one. */
	rl_completer_word_break_characters = (char *)" \t\n\"'`@$><=;|&{}()[],+-*/%^~#";
	rl_attempted_completion_function = complete;
	rl_completion_append_character = '\0'; /* Lua goes on with ( . : or = after a name */
	find_history_path();
	using_history();
	stifle_history(HISTORY_LINES);
	if (*history_path)
		read_history(history_path);
}

int luabpf_readline(const char *prompt, char *line, size_t size)
{
	if (!editing) {
		fputs(prompt, stdout);
		fflush(stdout);
		return fgets(line, (int)size, stdin) != NULL;
	}
	char *input = readline(prompt);
	if (!input)
		return 0;
	if (*input) {
		add_history(input);
		/* written at once: the history survives a killed session */
		if (*history_path)
			write_history(history_path);
	}
	snprintf(line, size, "%s\n", input);
	free(input);
	return 1;
}

void luabpf_readline_done(void)
{
	free_candidates();
	if (editing && complete_L)
		luaL_unref(complete_L, LUA_REGISTRYINDEX, complete_ref);
	complete_L = NULL;
	complete_ref = LUA_NOREF;
}
