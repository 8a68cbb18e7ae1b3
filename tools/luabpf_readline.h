/* The static binary's REPL input: line editing, history and completion (luabpf_readline.c). */
#ifndef LUABPF_READLINE_H
#define LUABPF_READLINE_H

#include <stddef.h>

#include <lua.h>

/* Sets up editing when stdin is a terminal: the history file, and completion through the Lua
 * function on top of the stack (popped), called as complete(line_before_cursor, word) and
 * returning an array of words. Without a terminal input is read plainly. */
void luabpf_readline_init(lua_State *L);
/* Reads one line (with its newline) into line after printing prompt; 0 at end of input. */
int luabpf_readline(const char *prompt, char *line, size_t size);
/* Saves the history (the REPL's end). */
void luabpf_readline_done(void);

#endif
