/* The bpftrace front end in C (module "bpf.trace.syntax", preloaded): the lexer
 * (ltrace_lex.c) turns preprocessed source into a token array, the parser (ltrace_parse.c)
 * turns that into the AST of Lua tables that lua/bpf/trace/semantic.lua reads. */
#ifndef LTRACE_SYNTAX_H
#define LTRACE_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compat.h"

enum ltrace_tok_type { TK_EOF, TK_INT, TK_STR, TK_IDENT, TK_VAR, TK_PARAM, TK_MAP, TK_OP, TK_SPEC };

/* Punctuators, in the order of OP_NAMES (ltrace_lex.c). */
enum ltrace_op {
	OP_SHL_ASSIGN, OP_SHR_ASSIGN, OP_ELLIPSIS, OP_EQ, OP_NE, OP_LE, OP_GE, OP_AND, OP_OR, OP_SHL,
	OP_SHR, OP_INC, OP_DEC, OP_ADD_ASSIGN, OP_SUB_ASSIGN, OP_MUL_ASSIGN, OP_DIV_ASSIGN,
	OP_MOD_ASSIGN, OP_AND_ASSIGN, OP_OR_ASSIGN, OP_XOR_ASSIGN, OP_ARROW, OP_PLUS, OP_MINUS,
	OP_STAR, OP_SLASH, OP_PERCENT, OP_AMP, OP_PIPE, OP_CARET, OP_NOT, OP_TILDE, OP_LT, OP_GT,
	OP_ASSIGN, OP_QUESTION, OP_COLON, OP_SEMI, OP_COMMA, OP_DOT, OP_LPAREN, OP_RPAREN,
	OP_LBRACE, OP_RBRACE, OP_LBRACKET, OP_RBRACKET, OP_COUNT
};
extern const char *const ltrace_op_names[OP_COUNT];

/* An integer literal's value as the Lua it is pushed to computes it: 64 bits that wrap on 5.3+,
 * a double (exact up to 2^53) on 5.1, 5.2 and LuaJIT. */
#if LBPF_LUA_INTEGERS
typedef uint64_t ltrace_int;
#else
typedef double ltrace_int;
#endif

struct ltrace_token {
	uint8_t type;         /* enum ltrace_tok_type */
	uint8_t op;           /* enum ltrace_op, for TK_OP */
	bool close_filter;    /* the '/' that ends a filter (the one before the action's '{') */
	size_t pos, epos;     /* 1-based, inclusive byte offsets, as the Lua side counts */
	const char *text;     /* name (ident, $var, @map, spec text, param digits or "#") */
	size_t len;
	union {
		ltrace_int num;   /* TK_INT */
		size_t str_off;   /* TK_STR: offset of the decoded bytes in the string store */
	} v;
};

/* Tokens and decoded string literals, in a userdata that frees them when collected (so that a
 * Lua error anywhere leaks nothing). The parser keeps one from parse to parse (in_use guards
 * it against a parse started by a finalizer during another). */
struct ltrace_tokens {
	struct ltrace_token *toks;
	size_t n, cap;
	char *strs;
	size_t slen, scap;
	bool in_use;
};

/* Pushes a new, empty token store (a userdata). */
struct ltrace_tokens *ltrace_new_tokens(lua_State *L);
/* Empties the store, and gives a big one's memory back. */
void ltrace_trim_tokens(struct ltrace_tokens *tt);

/* Tokenizes text (a Lua string kept alive by the caller; the lexer relies on the '\0' Lua
 * puts after it) with the macros table at stack index macros_idx (0: none) into tt, emptied
 * first. Returns 0, or -1 on a syntax error: then the message is pushed and *pos / *epos say
 * where. */
int ltrace_tokenize(lua_State *L, struct ltrace_tokens *tt, const char *text, size_t len,
		    int macros_idx, size_t *pos, size_t *epos);

/* Pushes a token's value as the Lua lexer had it: the integer, the decoded string, the name,
 * the parameter number (or "#"), the punctuator, the spec text. */
void ltrace_push_token_value(lua_State *L, const struct ltrace_tokens *tt,
			     const struct ltrace_token *t);

/* syntax.locator(src) -> where(pos) -> line, column (ltrace_locate.c). */
int ltrace_locator(lua_State *L);

#endif
