/* The bpftrace parser's shared parts (private to ltrace_parse.c, expressions, and
 * ltrace_stmt.c, statements and probes): the parser state, token and AST-node helpers. */
#ifndef LTRACE_PARSE_H
#define LTRACE_PARSE_H

#include <string.h>

#include "ltrace_syntax.h"

#define MAX_DEPTH 150
#define STACK_ROOM 40

struct parser {
	lua_State *L;
	struct ltrace_tokens *tt;
	const char *text;
	const struct ltrace_token *toks;
	size_t n, i;
	int depth;
	int room_top; /* the stack has room up to this index (ensure_room) */
	size_t src_len;
	bool failed; /* the error being raised is a syntax error at err_pos..err_epos */
	size_t err_pos, err_epos;
};

enum node_class { N_OTHER, N_MAP, N_VAR };

/* What a parse function says about the node it leaves on top of the stack. */
struct node {
	size_t pos, epos;
	uint8_t cls;     /* enum node_class: only maps and variables can be assigned to */
	bool block_like; /* a statement that needs no ';' after it */
};

/* ---- tokens ----------------------------------------------------------------------------- */

static inline const struct ltrace_token *peek(const struct parser *ps) { return &ps->toks[ps->i]; }

static inline const struct ltrace_token *peek2(const struct parser *ps)
{
	return ps->i + 1 < ps->n ? &ps->toks[ps->i + 1] : &ps->toks[ps->n - 1];
}

static inline const struct ltrace_token *next(struct parser *ps)
{
	const struct ltrace_token *t = &ps->toks[ps->i];

	if (t->type != TK_EOF)
		ps->i++;
	return t;
}

static inline bool is_op(const struct ltrace_token *t, int op)
{
	return t->type == TK_OP && t->op == op;
}

static inline bool accept(struct parser *ps, int op)
{
	if (!is_op(peek(ps), op))
		return false;
	next(ps);
	return true;
}

static inline bool text_is(const struct ltrace_token *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->text, word, t->len) == 0;
}

static inline bool is_ident(const struct ltrace_token *t, const char *word)
{
	return t->type == TK_IDENT && text_is(t, word);
}

static inline bool in_list(const struct ltrace_token *t, const char *const *words)
{
	for (; *words; words++)
		if (text_is(t, *words))
			return true;
	return false;
}

/* STACK_ROOM free slots above the top, for one level of the parse: lua_checkstack is called
 * for twice that only when the last call's room is used up (the stack is never shrunk below
 * what it granted while the parse runs: it raised this call's frame top). */
static inline void ensure_room(struct parser *ps)
{
	int top = lua_gettop(ps->L);

	if (top + STACK_ROOM > ps->room_top) {
		luaL_checkstack(ps->L, 2 * STACK_ROOM, "bpf.trace: parse");
		ps->room_top = top + 2 * STACK_ROOM;
	}
}

/* ---- nodes ------------------------------------------------------------------------------ */

/* The strings every AST repeats (field names, kinds, operators), pushed once per parse at the
 * bottom of the parser's stack: a field set with them skips interning its name each time. The
 * S_ ids are those stack indices. */
#define AST_STRINGS(X) X(a) X(args) X(arrow) X(assign) X(b) X(base) X(binop) X(block) \
	X(body) X(call) X(cast) X(cond) X(cond_epos) X(count) X(ctype) X(else_) X(epos) \
	X(expr) X(expr_stmt) X(field) X(field_pos) X(ident) X(if) X(incdec) X(index) X(int) \
	X(keys) X(kind) X(left) X(map) X(n) X(name) X(name_epos) X(op) X(op_pos) X(operand) X(param) \
	X(pos) X(pred) X(prefix) X(probe) X(probes) X(program) X(ptr) X(right) X(spec) \
	X(specs) X(stmts) X(str) X(target) X(ternary) X(text) X(then_) X(unop) X(unroll) X(value) X(var) \
	X(words)
#define AST_STRING_ID(name) S_##name,
enum ast_string { S_NONE, AST_STRINGS(AST_STRING_ID) S_EMPTY, S_OPS };
#define AST_STRING_TEXT(name) #name,
#define N_STRINGS (S_OPS - 1 + OP_COUNT)

static inline int op_string(int op) { return S_OPS + op; }

/* Sets field key (an S_ id) of the table just below the value on top to that value. */
static inline void set_top(lua_State *L, int key)
{
	lua_pushvalue(L, key);
	lua_insert(L, -2);
	lua_rawset(L, -3);
}

static inline void set_int(lua_State *L, int key, size_t v)
{
	lua_pushvalue(L, key);
	lua_pushinteger(L, (lua_Integer)v);
	lua_rawset(L, -3);
}

static inline void set_bool(lua_State *L, int key, bool v)
{
	lua_pushvalue(L, key);
	lua_pushboolean(L, v);
	lua_rawset(L, -3);
}

/* Sets field key of the table on top to the value at stack index idx (absolute). */
static inline void set_from(lua_State *L, int key, int idx)
{
	lua_pushvalue(L, key);
	lua_pushvalue(L, idx);
	lua_rawset(L, -3);
}

static inline void set_token_value(struct parser *ps, int key, const struct ltrace_token *t)
{
	lua_pushvalue(ps->L, key);
	ltrace_push_token_value(ps->L, ps->tt, t);
	lua_rawset(ps->L, -3);
}

/* A node table with room for the fields it ends with: its own (kind, pos, epos and the rest)
 * and those the semantic pass adds (ty, access, event, ...), as counted on Debian's tools and
 * program_200. Lua sizes the hash part to a power of 2: a table too small is rehashed when a
 * field comes in, one too big costs memory and GC time (most nodes fit in 4 or 8 slots). */
static inline struct node new_node(lua_State *L, int kind, size_t pos, size_t epos, int room)
{
	lua_createtable(L, 0, room);
	set_from(L, S_kind, kind);
	set_int(L, S_pos, pos);
	set_int(L, S_epos, epos);
	return (struct node){ .pos = pos, .epos = epos };
}

/* The node on top replaces everything from stack index base up. */
static inline void collapse(lua_State *L, int base)
{
	lua_replace(L, base);
	lua_settop(L, base);
}

/* ---- shared by the two files (ltrace_parse.c) ------------------------------------------- */

/* Pushes how a message names a token: "end of input", "string", "integer 5", "'$x'", "'{'". */
void ltrace_push_describe(struct parser *ps, const struct ltrace_token *t);
/* Raises the syntax error at [pos, epos] whose message is the n strings on top of the stack. */
_Noreturn void ltrace_raise_at(struct parser *ps, size_t pos, size_t epos, int n);
_Noreturn void ltrace_raise_tok(struct parser *ps, const struct ltrace_token *t, const char *msg);
/* "<before><token described>" at the token. */
_Noreturn void ltrace_raise_found(struct parser *ps, const struct ltrace_token *t,
				  const char *before);
/* The next token if it is the punctuator op, else "expected 'op' <what>, found ..." */
const struct ltrace_token *ltrace_expect(struct parser *ps, int op, const char *what);
/* One more level of nesting (what: "expression" or "blocks"), bounded at MAX_DEPTH. */
void ltrace_enter(struct parser *ps, const struct ltrace_token *at, const char *what);
/* Pushes an array of the strings of AST_STRINGS and the punctuators (S_ ids as indices). */
void ltrace_push_ast_strings(lua_State *L);
/* An expression: leaves its node on top of the stack. */
struct node ltrace_parse_expr(struct parser *ps);

#endif
