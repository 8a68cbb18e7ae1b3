/* The bpftrace parser: the lexer's tokens to the AST of Lua tables that
 * lua/bpf/trace/semantic.lua reads (module "bpf.trace.syntax", preloaded by luaopen_bpf).
 * Every node has `kind`, `pos` and `epos` (1-based byte offsets into the source). */
#include <stdlib.h>
#include <string.h>

#include "lbpf_lua.h"
#include "ltrace_syntax.h"

/* Nesting bound of expressions and blocks together: a message rather than a stack overflow. */
#define MAX_DEPTH 150
#define STACK_ROOM 40

struct parser {
	lua_State *L;
	struct ltrace_tokens *tt;
	const char *text;
	const struct ltrace_token *toks;
	size_t n, i;
	int depth;
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

static const struct ltrace_token *peek(const struct parser *ps) { return &ps->toks[ps->i]; }

static const struct ltrace_token *peek2(const struct parser *ps)
{
	return ps->i + 1 < ps->n ? &ps->toks[ps->i + 1] : &ps->toks[ps->n - 1];
}

static const struct ltrace_token *next(struct parser *ps)
{
	const struct ltrace_token *t = &ps->toks[ps->i];

	if (t->type != TK_EOF)
		ps->i++;
	return t;
}

static bool is_op(const struct ltrace_token *t, int op) { return t->type == TK_OP && t->op == op; }

static bool accept(struct parser *ps, int op)
{
	if (!is_op(peek(ps), op))
		return false;
	next(ps);
	return true;
}

static bool text_is(const struct ltrace_token *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->text, word, t->len) == 0;
}

static bool is_ident(const struct ltrace_token *t, const char *word)
{
	return t->type == TK_IDENT && text_is(t, word);
}

static bool in_list(const struct ltrace_token *t, const char *const *words)
{
	for (; *words; words++)
		if (text_is(t, *words))
			return true;
	return false;
}

static const char *const INT_TYPES[] = { "int8", "int16", "int32", "int64", "uint8", "uint16",
	"uint32", "uint64", "char", "short", "int", "long", "unsigned", "signed", "u8", "u16", "u32",
	"u64", "s8", "s16", "s32", "s64", "bool", "void", NULL };
static const char *const TYPE_WORDS[] = { "struct", "union", "enum", NULL };

static bool is_int_type(const struct ltrace_token *t)
{
	return t->type == TK_IDENT && in_list(t, INT_TYPES);
}

static bool is_type_start(const struct ltrace_token *t)
{
	return t->type == TK_IDENT && (in_list(t, TYPE_WORDS) || in_list(t, INT_TYPES));
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Pushes how a message names a token: "end of input", "string", "integer 5", "'$x'", "'{'". */
static void push_describe(struct parser *ps, const struct ltrace_token *t)
{
	lua_State *L = ps->L;

	if (t->type == TK_EOF || t->type == TK_STR) {
		lua_pushstring(L, t->type == TK_EOF ? "end of input" : "string");
		return;
	}
	lua_pushstring(L, t->type == TK_INT ? "integer " : "'");
	if (t->type == TK_VAR || t->type == TK_PARAM)
		lua_pushliteral(L, "$");
	else if (t->type == TK_MAP)
		lua_pushliteral(L, "@");
	else
		lua_pushliteral(L, "");
	ltrace_push_token_value(L, ps->tt, t);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushliteral(L, "nil");
	}
	lua_tolstring(L, -1, NULL); /* a number as tostring() writes it */
	lua_pushstring(L, t->type == TK_INT ? "" : "'");
	lua_concat(L, 4);
}

/* Raises the syntax error at [pos, epos] whose message is the n strings on top of the stack. */
static _Noreturn void raise_at(struct parser *ps, size_t pos, size_t epos, int n)
{
	lua_concat(ps->L, n);
	ps->failed = true;
	ps->err_pos = pos;
	ps->err_epos = epos;
	lua_error(ps->L);
	abort(); /* not reached: lua_error does not return */
}

static _Noreturn void raise_tok(struct parser *ps, const struct ltrace_token *t, const char *msg)
{
	lua_pushstring(ps->L, msg);
	raise_at(ps, t->pos, t->epos, 1);
}

/* "<before><token described>" at the token. */
static _Noreturn void raise_found(struct parser *ps, const struct ltrace_token *t, const char *before)
{
	lua_pushstring(ps->L, before);
	push_describe(ps, t);
	raise_at(ps, t->pos, t->epos, 2);
}

static const struct ltrace_token *expect(struct parser *ps, int op, const char *what)
{
	const struct ltrace_token *t = peek(ps);

	if (is_op(t, op))
		return next(ps);
	lua_pushfstring(ps->L, "expected '%s'%s%s, found ", ltrace_op_names[op], what ? " " : "",
			what ? what : "");
	push_describe(ps, t);
	raise_at(ps, t->pos, t->epos, 2);
}

static void enter(struct parser *ps, const struct ltrace_token *at, const char *what)
{
	if (++ps->depth > MAX_DEPTH) {
		lua_pushfstring(ps->L, "%s nested too deeply (more than %d levels)", what, MAX_DEPTH);
		raise_at(ps, at->pos, at->epos, 1);
	}
	luaL_checkstack(ps->L, STACK_ROOM, "bpf.trace: parse");
}

/* ---- nodes ------------------------------------------------------------------------------ */

/* The strings every AST repeats (field names, kinds, operators), pushed once per parse at the
 * bottom of the parser's stack: a field set with them skips interning its name each time. The
 * S_ ids are those stack indices. */
#define AST_STRINGS(X) X(a) X(args) X(arrow) X(assign) X(b) X(base) X(binop) X(block) \
	X(block_like) X(body) X(call) X(cast) X(cond) X(cond_epos) X(count) X(ctype) X(else_) X(epos) \
	X(expr) X(expr_stmt) X(field) X(field_pos) X(filter_pos) X(ident) X(if) X(incdec) X(index) X(int) \
	X(keys) X(kind) X(left) X(map) X(n) X(name) X(name_epos) X(op) X(operand) X(param) X(paren) \
	X(pepos) X(pos) X(ppos) X(pred) X(prefix) X(probe) X(probes) X(program) X(ptr) X(right) X(spec) \
	X(specs) X(stmts) X(str) X(target) X(ternary) X(text) X(then_) X(unop) X(unroll) X(value) X(var) \
	X(words)
#define AST_STRING_ID(name) S_##name,
enum ast_string { S_NONE, AST_STRINGS(AST_STRING_ID) S_EMPTY, S_OPS };
#define AST_STRING_TEXT(name) #name,
static const char *const AST_STRING_TEXTS[] = { AST_STRINGS(AST_STRING_TEXT) "" };
#define N_STRINGS (S_OPS - 1 + OP_COUNT)

static int op_string(int op) { return S_OPS + op; }

static void push_strings(lua_State *L)
{
	luaL_checkstack(L, N_STRINGS + STACK_ROOM, "bpf.trace: parse");
	for (int k = S_NONE + 1; k < S_OPS; k++)
		lua_pushstring(L, AST_STRING_TEXTS[k - 1]);
	for (int op = 0; op < OP_COUNT; op++)
		lua_pushstring(L, ltrace_op_names[op]);
}

/* Sets field key (an S_ id) of the table just below the value on top to that value. */
static void set_top(lua_State *L, int key)
{
	lua_pushvalue(L, key);
	lua_insert(L, -2);
	lua_rawset(L, -3);
}

static void set_int(lua_State *L, int key, size_t v)
{
	lua_pushvalue(L, key);
	lua_pushinteger(L, (lua_Integer)v);
	lua_rawset(L, -3);
}

static void set_bool(lua_State *L, int key, bool v)
{
	lua_pushvalue(L, key);
	lua_pushboolean(L, v);
	lua_rawset(L, -3);
}

/* Sets field key of the table on top to the value at stack index idx (absolute). */
static void set_from(lua_State *L, int key, int idx)
{
	lua_pushvalue(L, key);
	lua_pushvalue(L, idx);
	lua_rawset(L, -3);
}

static void set_token_value(struct parser *ps, int key, const struct ltrace_token *t)
{
	lua_pushvalue(ps->L, key);
	ltrace_push_token_value(ps->L, ps->tt, t);
	lua_rawset(ps->L, -3);
}

static struct node new_node(lua_State *L, int kind, size_t pos, size_t epos, int fields)
{
	lua_createtable(L, 0, fields + 3);
	set_from(L, S_kind, kind);
	set_int(L, S_pos, pos);
	set_int(L, S_epos, epos);
	return (struct node){ .pos = pos, .epos = epos };
}

/* The node on top replaces everything from stack index base up. */
static void collapse(lua_State *L, int base)
{
	lua_replace(L, base);
	lua_settop(L, base);
}

/* ---- expressions, by precedence (C's, as bpftrace's grammar has them) ------------------- */

static struct node parse_ternary(struct parser *ps);
static struct node parse_unary(struct parser *ps);
static struct node parse_primary(struct parser *ps);
static struct node parse_postfix(struct parser *ps, struct node e);

/* Every nested expression (parentheses, arguments, indexes) comes through here. */
static struct node parse_expr(struct parser *ps)
{
	struct node e;

	enter(ps, peek(ps), "expression");
	e = parse_ternary(ps);
	ps->depth--;
	return e;
}

static int binary_level(const struct ltrace_token *t)
{
	if (t->type != TK_OP)
		return 0;
	switch (t->op) {
	case OP_OR: return 1;
	case OP_AND: return 2;
	case OP_PIPE: return 3;
	case OP_CARET: return 4;
	case OP_AMP: return 5;
	case OP_EQ: case OP_NE: return 6;
	case OP_LT: case OP_LE: case OP_GT: case OP_GE: return 7;
	case OP_SHL: case OP_SHR: return 8;
	case OP_PLUS: case OP_MINUS: return 9;
	case OP_STAR: case OP_SLASH: case OP_PERCENT: return 10;
	default: return 0;
	}
}

/* Precedence climbing: operators of level >= min_level, left-associative. */
static struct node parse_binary(struct parser *ps, int min_level)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1;
	struct node left = parse_unary(ps), right, n;

	luaL_checkstack(L, STACK_ROOM, "bpf.trace: parse");
	for (;;) {
		const struct ltrace_token *t = peek(ps);
		int level = binary_level(t);
		/* in a filter, the '/' just before the action's '{' closes the filter */
		if (!level || level < min_level || t->close_filter)
			break;
		ps->i++;
		right = parse_binary(ps, level + 1);
		n = new_node(L, S_binop, left.pos, right.epos, 3);
		set_from(L, S_op, op_string(t->op));
		set_from(L, S_left, base);
		set_from(L, S_right, base + 1);
		collapse(L, base);
		left = n;
	}
	return left;
}

/* cond ? a : cond2 ? a2 : b, with the chain after ':' built in a loop (every node of it ends
 * where b ends); the middle operand is a nested expression. */
static struct node parse_ternary(struct parser *ps)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1, k = 0;
	struct node cond = parse_binary(ps, 1), b;
	size_t first_pos = cond.pos;

	if (!is_op(peek(ps), OP_QUESTION))
		return cond;
	lua_newtable(L); /* the chain's nodes, at base; the current condition at base + 1 */
	lua_insert(L, base);
	while (accept(ps, OP_QUESTION)) {
		parse_expr(ps);
		expect(ps, OP_COLON, "in a ternary expression");
		new_node(L, S_ternary, cond.pos, 0, 3);
		set_from(L, S_cond, base + 1);
		set_from(L, S_a, base + 2);
		if (k > 0) {
			lua_rawgeti(L, base, k);
			set_from(L, S_b, base + 3);
			lua_pop(L, 1);
		}
		lua_rawseti(L, base, ++k);
		lua_settop(L, base);
		cond = parse_binary(ps, 1);
	}
	b = cond; /* the last operand, at base + 1 */
	for (int j = k; j >= 1; j--) {
		lua_rawgeti(L, base, j);
		set_int(L, S_epos, b.epos);
		if (j == k)
			set_from(L, S_b, base + 1);
		lua_pop(L, 1);
	}
	lua_rawgeti(L, base, 1);
	collapse(L, base);
	return (struct node){ .pos = first_pos, .epos = b.epos };
}

/* The words of a C type name after '(' in a cast: `struct sock *`, `unsigned long`, `char *`.
 * Leaves the words table on top; returns how many. */
static int cast_words(struct parser *ps)
{
	lua_State *L = ps->L;
	const struct ltrace_token *t = next(ps), *name;
	int n = 0;

	lua_newtable(L);
	ltrace_push_token_value(L, ps->tt, t);
	lua_rawseti(L, -2, ++n);
	if (in_list(t, TYPE_WORDS)) {
		name = next(ps);
		if (name->type != TK_IDENT) {
			lua_pushliteral(L, "expected a type name after '");
			ltrace_push_token_value(L, ps->tt, t);
			lua_pushliteral(L, "'");
			raise_at(ps, name->pos, name->epos, 3);
		}
		ltrace_push_token_value(L, ps->tt, name);
		lua_rawseti(L, -2, ++n);
		return n;
	}
	while (is_int_type(peek(ps))) {
		ltrace_push_token_value(L, ps->tt, next(ps));
		lua_rawseti(L, -2, ++n);
	}
	return n;
}

static struct node parse_cast_type(struct parser *ps)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1, nwords;
	size_t start = peek(ps)->pos, ptr = 0;
	const struct ltrace_token *close;
	luaL_Buffer text;
	struct node n;

	nwords = cast_words(ps);
	while (accept(ps, OP_STAR))
		ptr++;
	close = expect(ps, OP_RPAREN, "after the type of a cast");
	n = new_node(L, S_ctype, start, close->epos - 1, 3);
	set_from(L, S_words, base);
	set_int(L, S_ptr, ptr);
	luaL_buffinit(L, &text);
	for (int j = 1; j <= nwords; j++) {
		if (j > 1)
			luaL_addchar(&text, ' ');
		lua_rawgeti(L, base, j);
		luaL_addvalue(&text);
	}
	if (ptr > 0)
		luaL_addchar(&text, ' ');
	for (size_t j = 0; j < ptr; j++)
		luaL_addchar(&text, '*');
	luaL_pushresult(&text);
	set_top(L, S_text);
	collapse(L, base);
	return n;
}

static struct node parse_unary_op(struct parser *ps, const struct ltrace_token *t)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1;
	struct node operand, n;

	switch (t->op) {
	case OP_NOT: case OP_TILDE: case OP_MINUS: case OP_STAR: case OP_AMP: case OP_PLUS:
		next(ps);
		operand = parse_unary(ps);
		if (t->op == OP_PLUS)
			return operand;
		n = new_node(L, S_unop, t->pos, operand.epos, 2);
		set_from(L, S_op, op_string(t->op));
		set_from(L, S_operand, base);
		collapse(L, base);
		return n;
	case OP_INC: case OP_DEC:
		next(ps);
		operand = parse_unary(ps);
		n = new_node(L, S_incdec, t->pos, operand.epos, 3);
		set_from(L, S_op, op_string(t->op));
		set_bool(L, S_prefix, true);
		set_from(L, S_target, base);
		collapse(L, base);
		return n;
	case OP_LPAREN:
		if (!is_type_start(peek2(ps)))
			break;
		next(ps);
		parse_cast_type(ps);
		operand = parse_unary(ps);
		n = new_node(L, S_cast, t->pos, operand.epos, 2);
		set_from(L, S_ctype, base);
		set_from(L, S_operand, base + 1);
		collapse(L, base);
		return n;
	default:
		break;
	}
	return parse_postfix(ps, parse_primary(ps));
}

static struct node parse_unary(struct parser *ps)
{
	const struct ltrace_token *t = peek(ps);
	struct node e;

	if (t->type != TK_OP)
		return parse_postfix(ps, parse_primary(ps));
	enter(ps, t, "expression");
	e = parse_unary_op(ps, t);
	ps->depth--;
	return e;
}

/* Comma-separated expressions up to the close token: leaves the array on top, returns the
 * count and the closing token. */
static int parse_args(struct parser *ps, int close_op, const struct ltrace_token **close)
{
	lua_State *L = ps->L;
	int n = 0;

	lua_newtable(L);
	if (!is_op(peek(ps), close_op)) {
		do {
			parse_expr(ps);
			lua_rawseti(L, -2, ++n);
		} while (accept(ps, OP_COMMA));
	}
	*close = expect(ps, close_op, "to close the argument list");
	return n;
}

/* e.field, e->field, e[index], e++, e-- */
static struct node parse_postfix(struct parser *ps, struct node e)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L);
	const struct ltrace_token *t, *f, *close;

	for (;;) {
		t = peek(ps);
		if (t->type != TK_OP)
			break;
		if (t->op == OP_DOT || t->op == OP_ARROW) {
			next(ps);
			f = next(ps);
			if (f->type != TK_IDENT && f->type != TK_INT) {
				lua_pushfstring(L, "expected a field name after '%s', found ", ltrace_op_names[t->op]);
				push_describe(ps, f);
				raise_at(ps, f->pos, f->epos, 2);
			}
			e = new_node(L, S_field, e.pos, f->epos, 4);
			set_from(L, S_base, base);
			ltrace_push_token_value(L, ps->tt, f);
			lua_tolstring(L, -1, NULL); /* tostring(): a field named by a number */
			set_top(L, S_field);
			set_bool(L, S_arrow, t->op == OP_ARROW);
			set_int(L, S_field_pos, f->pos);
		} else if (t->op == OP_LBRACKET) {
			next(ps);
			parse_expr(ps);
			close = expect(ps, OP_RBRACKET, "after an index");
			e = new_node(L, S_index, e.pos, close->epos, 2);
			set_from(L, S_base, base);
			set_from(L, S_index, base + 1);
		} else if (t->op == OP_INC || t->op == OP_DEC) {
			next(ps);
			e = new_node(L, S_incdec, e.pos, t->epos, 3);
			set_from(L, S_op, op_string(t->op));
			set_bool(L, S_prefix, false);
			set_from(L, S_target, base);
		} else {
			break;
		}
		collapse(L, base);
	}
	return e;
}

static struct node parse_map(struct parser *ps, const struct ltrace_token *t)
{
	lua_State *L = ps->L;
	const struct ltrace_token *close;
	struct node m = new_node(L, S_map, t->pos, t->epos, 2);

	m.cls = N_MAP;
	set_token_value(ps, S_name, t);
	if (!accept(ps, OP_LBRACKET))
		return m;
	if (parse_args(ps, OP_RBRACKET, &close) == 0) {
		lua_pushliteral(L, "a map key is expected inside '[]'");
		raise_at(ps, close->pos, close->epos, 1);
	}
	set_top(L, S_keys);
	set_int(L, S_epos, close->epos);
	m.epos = close->epos;
	return m;
}

static struct node parse_name(struct parser *ps, const struct ltrace_token *t)
{
	lua_State *L = ps->L;
	const struct ltrace_token *close;
	struct node n;

	if (accept(ps, OP_LPAREN)) {
		parse_args(ps, OP_RPAREN, &close);
		n = new_node(L, S_call, t->pos, close->epos, 3);
		set_token_value(ps, S_name, t);
		lua_pushvalue(L, -2);
		set_top(L, S_args);
		set_int(L, S_name_epos, t->epos);
		lua_replace(L, -2);
		return n;
	}
	if (text_is(t, "sizeof") || text_is(t, "offsetof")) {
		lua_pushliteral(L, "`");
		ltrace_push_token_value(L, ps->tt, t);
		lua_pushliteral(L, "` is not supported");
		raise_at(ps, t->pos, t->epos, 3);
	}
	n = new_node(L, S_ident, t->pos, t->epos, 1);
	set_token_value(ps, S_name, t);
	return n;
}

/* ( expr ): the inner node, marked with the parentheses' span. */
static struct node parse_paren(struct parser *ps, const struct ltrace_token *open)
{
	lua_State *L = ps->L;
	struct node e = parse_expr(ps);
	const struct ltrace_token *close;

	if (is_op(peek(ps), OP_COMMA))
		raise_tok(ps, peek(ps), "tuples are not supported");
	close = expect(ps, OP_RPAREN, "to close '('");
	set_bool(L, S_paren, true);
	set_int(L, S_ppos, open->pos);
	set_int(L, S_pepos, close->epos);
	return e;
}

static struct node parse_primary(struct parser *ps)
{
	lua_State *L = ps->L;
	const struct ltrace_token *t = next(ps);
	struct node n;

	switch (t->type) {
	case TK_INT:
	case TK_STR:
		n = new_node(L, t->type == TK_INT ? S_int : S_str, t->pos, t->epos, 1);
		set_token_value(ps, S_value, t);
		return n;
	case TK_VAR:
		n = new_node(L, S_var, t->pos, t->epos, 1);
		set_token_value(ps, S_name, t);
		n.cls = N_VAR;
		return n;
	case TK_PARAM:
		n = new_node(L, S_param, t->pos, t->epos, 1);
		set_token_value(ps, S_n, t);
		return n;
	case TK_MAP:
		return parse_map(ps, t);
	case TK_IDENT:
		return parse_name(ps, t);
	case TK_OP:
		if (t->op == OP_LPAREN)
			return parse_paren(ps, t);
		break;
	default:
		break;
	}
	raise_found(ps, t, "expected an expression, found ");
}

/* ---- statements ------------------------------------------------------------------------- */

static struct node parse_statement(struct parser *ps);

static struct node parse_block(struct parser *ps, const char *what)
{
	lua_State *L = ps->L;
	const struct ltrace_token *open = expect(ps, OP_LBRACE, what), *t;
	struct node s, n;
	int count = 0;

	enter(ps, open, "blocks");
	lua_newtable(L);
	for (;;) {
		t = peek(ps);
		if (is_op(t, OP_RBRACE))
			break;
		if (t->type == TK_EOF)
			raise_tok(ps, open, "unterminated block: '}' expected");
		if (accept(ps, OP_SEMI))
			continue;
		s = parse_statement(ps);
		lua_rawseti(L, -2, ++count);
		if (!s.block_like && !is_op(peek(ps), OP_RBRACE) && !accept(ps, OP_SEMI))
			raise_found(ps, peek(ps), "expected ';' or '}' after a statement, found ");
	}
	t = next(ps);
	ps->depth--;
	n = new_node(L, S_block, open->pos, t->epos, 1);
	lua_pushvalue(L, -2);
	set_top(L, S_stmts);
	lua_replace(L, -2);
	return n;
}

/* The `else` block that holds the nested `if` of an `else if` (it spans that `if`). */
static void set_else_if(lua_State *L, int chain, int j, struct node nested)
{
	lua_rawgeti(L, chain, j);
	new_node(L, S_block, nested.pos, nested.epos, 1);
	lua_createtable(L, 1, 0);
	lua_rawgeti(L, chain, j + 1);
	lua_rawseti(L, -2, 1);
	set_top(L, S_stmts);
	set_top(L, S_else_);
	set_int(L, S_epos, nested.epos);
	lua_pop(L, 1);
}

/* if (...) {...} [else if (...) {...}]... [else {...}]: the `else if` chain is read in a loop
 * (any length, no recursion), its nodes kept in a table and linked from the last one back. */
static struct node parse_if(struct parser *ps, const struct ltrace_token *tok)
{
	lua_State *L = ps->L;
	int chain = lua_gettop(L) + 1, k = 0;
	struct node cond, then_, last = { 0 };

	lua_newtable(L);
	for (;;) {
		expect(ps, OP_LPAREN, "after 'if'");
		cond = parse_expr(ps);
		expect(ps, OP_RPAREN, "after the condition");
		then_ = parse_block(ps, "after 'if (...)'");
		new_node(L, S_if, tok->pos, then_.epos, 6);
		set_from(L, S_cond, chain + 1);
		set_from(L, S_then_, chain + 2);
		set_bool(L, S_block_like, true);
		set_int(L, S_cond_epos, cond.epos);
		lua_rawseti(L, chain, ++k);
		lua_settop(L, chain);
		last = (struct node){ .pos = tok->pos, .epos = then_.epos };
		if (!is_ident(peek(ps), "else"))
			break;
		next(ps);
		if (!is_ident(peek(ps), "if")) {
			last.epos = parse_block(ps, "after 'else'").epos;
			lua_rawgeti(L, chain, k);
			set_from(L, S_else_, chain + 1);
			set_int(L, S_epos, last.epos);
			lua_settop(L, chain);
			break;
		}
		tok = next(ps);
	}
	/* every `if` of the chain ends where the last one does */
	for (int j = k - 1; j >= 1; j--) {
		lua_rawgeti(L, chain, j + 1);
		lua_pushvalue(L, S_pos);
		lua_rawget(L, -2);
		last.pos = (size_t)lua_tointeger(L, -1);
		lua_pop(L, 2);
		set_else_if(L, chain, j, last);
	}
	lua_rawgeti(L, chain, 1);
	lua_pushvalue(L, S_pos);
	lua_rawget(L, -2);
	last.pos = (size_t)lua_tointeger(L, -1);
	lua_pop(L, 1);
	collapse(L, chain);
	last.block_like = true;
	return last;
}

static struct node parse_unroll(struct parser *ps, const struct ltrace_token *tok)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1;
	struct node body, n;

	expect(ps, OP_LPAREN, "after 'unroll'");
	parse_expr(ps);
	expect(ps, OP_RPAREN, "after the unroll count");
	body = parse_block(ps, "after 'unroll (...)'");
	n = new_node(L, S_unroll, tok->pos, body.epos, 3);
	set_from(L, S_count, base);
	set_from(L, S_body, base + 1);
	set_bool(L, S_block_like, true);
	collapse(L, base);
	n.block_like = true;
	return n;
}

/* What `while`, `for`, ... say: nil when the word may start an ordinary statement. */
static const char *unsupported_statement(const struct parser *ps, const struct ltrace_token *t)
{
	static const char *const words[][2] = {
		{ "while", "`while` loops are not supported (use `unroll`)" },
		{ "for", "`for` loops are not supported (use `unroll`)" },
		{ "return", "`return` is not supported" },
		{ "break", "`break` is not supported" },
		{ "continue", "`continue` is not supported" },
		{ "let", "`let` declarations are not supported" },
		{ "macro", "macros are not supported" },
		{ "import", "`import` is not supported" },
	};
	for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
		if (!text_is(t, words[k][0]))
			continue;
		/* return(...) and the like parse as calls (and are refused later, by name) */
		if (k >= 2 && is_op(peek2(ps), OP_LPAREN))
			return NULL;
		return words[k][1];
	}
	return NULL;
}

/* The string of an assignment's compound operator ("" for '='), or 0 for another token. */
static int assign_op(const struct ltrace_token *t)
{
	if (t->type != TK_OP)
		return 0;
	switch (t->op) {
	case OP_ASSIGN: return S_EMPTY;
	case OP_ADD_ASSIGN: return op_string(OP_PLUS);
	case OP_SUB_ASSIGN: return op_string(OP_MINUS);
	case OP_MUL_ASSIGN: return op_string(OP_STAR);
	case OP_DIV_ASSIGN: return op_string(OP_SLASH);
	case OP_MOD_ASSIGN: return op_string(OP_PERCENT);
	case OP_AND_ASSIGN: return op_string(OP_AMP);
	case OP_OR_ASSIGN: return op_string(OP_PIPE);
	case OP_XOR_ASSIGN: return op_string(OP_CARET);
	case OP_SHL_ASSIGN: return op_string(OP_SHL);
	case OP_SHR_ASSIGN: return op_string(OP_SHR);
	default: return 0;
	}
}

static struct node parse_simple_statement(struct parser *ps)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1;
	struct node e = parse_expr(ps), value, n;
	int op = assign_op(peek(ps));

	if (!op) {
		n = new_node(L, S_expr_stmt, e.pos, e.epos, 1);
		set_from(L, S_expr, base);
		collapse(L, base);
		return n;
	}
	if (e.cls != N_MAP && e.cls != N_VAR) {
		lua_pushliteral(L, "only maps (@x) and variables ($x) can be assigned to");
		raise_at(ps, e.pos, e.epos, 1);
	}
	next(ps);
	value = parse_expr(ps);
	n = new_node(L, S_assign, e.pos, value.epos, 3);
	set_from(L, S_target, base);
	set_from(L, S_op, op);
	set_from(L, S_value, base + 1);
	collapse(L, base);
	return n;
}

static struct node parse_statement(struct parser *ps)
{
	const struct ltrace_token *t = peek(ps);
	const char *refusal;
	struct node b;

	if (t->type == TK_IDENT) {
		if (text_is(t, "if"))
			return parse_if(ps, next(ps));
		if (text_is(t, "unroll"))
			return parse_unroll(ps, next(ps));
		refusal = unsupported_statement(ps, t);
		if (refusal)
			raise_tok(ps, t, refusal);
	} else if (is_op(t, OP_LBRACE)) {
		b = parse_block(ps, NULL);
		set_bool(ps->L, S_block_like, true);
		b.block_like = true;
		return b;
	}
	return parse_simple_statement(ps);
}

/* ---- probes ----------------------------------------------------------------------------- */

/* spec[, spec]...: leaves the array of spec nodes on top; *last: the last spec token. */
static size_t parse_specs(struct parser *ps, const struct ltrace_token **last)
{
	static const char *const top_level_types[] = { "config", "struct", "union", "enum", NULL };
	lua_State *L = ps->L;
	const struct ltrace_token *s;
	size_t first_pos = 0;
	int n = 0;

	lua_newtable(L);
	do {
		s = peek(ps);
		if (s->type != TK_SPEC)
			raise_found(ps, s, "expected an attach point, found ");
		next(ps);
		if (in_list(s, top_level_types)) {
			lua_pushliteral(L, "`");
			ltrace_push_token_value(L, ps->tt, s);
			lua_pushliteral(L, "` definitions at the top level are not supported");
			raise_at(ps, s->pos, s->epos, 3);
		}
		new_node(L, S_spec, s->pos, s->epos, 1);
		set_token_value(ps, S_text, s);
		lua_rawseti(L, -2, ++n);
		if (n == 1)
			first_pos = s->pos;
	} while (accept(ps, OP_COMMA));
	*last = s;
	return first_pos;
}

/* /filter/: leaves the expression on top (with filter_pos, the opening '/'). */
static void parse_filter(struct parser *ps)
{
	const struct ltrace_token *open = next(ps), *close;

	parse_expr(ps);
	close = peek(ps);
	if (!is_op(close, OP_SLASH))
		raise_found(ps, close, "expected '/' to end the filter, found ");
	next(ps);
	set_int(ps->L, S_filter_pos, open->pos);
}

static void parse_probe(struct parser *ps)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1;
	const struct ltrace_token *last;
	size_t pos = parse_specs(ps, &last);
	bool has_pred = is_op(peek(ps), OP_SLASH);
	struct node body;

	luaL_checkstack(L, STACK_ROOM, "bpf.trace: parse");
	if (has_pred)
		parse_filter(ps);
	if (!is_op(peek(ps), OP_LBRACE)) {
		lua_pushliteral(L, "expected '{' to start the action of '");
		ltrace_push_token_value(L, ps->tt, last);
		lua_pushliteral(L, "', found ");
		push_describe(ps, peek(ps));
		raise_at(ps, peek(ps)->pos, peek(ps)->epos, 4);
	}
	body = parse_block(ps, NULL);
	new_node(L, S_probe, pos, body.epos, 3);
	set_from(L, S_specs, base);
	if (has_pred)
		set_from(L, S_pred, base + 1);
	set_from(L, S_body, has_pred ? base + 2 : base + 1);
	collapse(L, base);
}

/* The whole program, under lua_pcall: arguments the parser state and the macros table (or
 * nil). A syntax error is raised, with ps->failed set. */
static int parse_program(lua_State *L)
{
	struct parser *ps = lua_touserdata(L, 1);
	int n = 0, probes = N_STRINGS + 1;

	if (ltrace_tokenize(L, ps->tt, ps->text, ps->src_len, lua_isnil(L, 2) ? 0 : 2,
			    &ps->err_pos, &ps->err_epos) < 0) {
		ps->failed = true;
		return lua_error(L);
	}
	ps->toks = ps->tt->toks;
	ps->n = ps->tt->n;
	lua_settop(L, 0);
	push_strings(L); /* at 1 .. N_STRINGS */
	lua_newtable(L);
	while (peek(ps)->type != TK_EOF) {
		parse_probe(ps);
		lua_rawseti(L, probes, ++n);
	}
	if (n == 0) {
		lua_pushliteral(L, "no probes: a program is `probe { action }`");
		raise_at(ps, 1, 1, 1);
	}
	new_node(L, S_program, 1, ps->src_len, 1);
	set_from(L, S_probes, probes);
	return 1;
}

/* syntax.parse(text [, macros]) -> the AST, or nil, pos, epos, message for a syntax error.
 * text is the preprocessed source (as long as the source); macros: name -> {body = text}.
 * Upvalue 1: the token store kept from parse to parse. */
static int l_parse(lua_State *L)
{
	struct parser ps = { .L = L };
	int status;

	ps.text = luaL_checklstring(L, 1, &ps.src_len);
	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	ps.tt = lua_touserdata(L, lua_upvalueindex(1));
	if (ps.tt->in_use)
		ps.tt = ltrace_new_tokens(L);
	ps.tt->in_use = true;
	lua_pushcfunction(L, parse_program);
	lua_pushlightuserdata(L, &ps);
	lua_pushvalue(L, 2);
	status = lua_pcall(L, 2, 1, 0);
	ltrace_trim_tokens(ps.tt);
	ps.tt->in_use = false;
	if (status == LUA_OK)
		return 1;
	if (!ps.failed)
		return lua_error(L);
	lua_pushnil(L);
	lua_pushinteger(L, (lua_Integer)ps.err_pos);
	lua_pushinteger(L, (lua_Integer)ps.err_epos);
	lua_pushvalue(L, -4);
	return 4;
}

static int open_syntax(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "parse", l_parse },
		{ NULL, NULL },
	};
	lua_newtable(L);
	ltrace_new_tokens(L);
	luaL_setfuncs(L, funcs, 1);
	return 1;
}

void lbpf_lua_open_trace_syntax(lua_State *L)
{
	lua_getglobal(L, "package");
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "preload");
		if (lua_istable(L, -1)) {
			lua_pushcfunction(L, open_syntax);
			lua_setfield(L, -2, "bpf.trace.syntax");
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}
