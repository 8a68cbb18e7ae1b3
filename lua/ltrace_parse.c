/* The bpftrace parser, expressions: the lexer's tokens to AST nodes, Lua tables that
 * lua/bpf/trace/semantic.lua reads (statements, probes and the module: ltrace_stmt.c). Every
 * node has `kind`, `pos` and `epos` (1-based byte offsets into the source). */
#include <stdlib.h>

#include "ltrace_parse.h"

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
void ltrace_push_describe(struct parser *ps, const struct ltrace_token *t)
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
_Noreturn void ltrace_raise_at(struct parser *ps, size_t pos, size_t epos, int n)
{
	lua_concat(ps->L, n);
	ps->failed = true;
	ps->err_pos = pos;
	ps->err_epos = epos;
	lua_error(ps->L);
	abort(); /* not reached: lua_error does not return */
}

_Noreturn void ltrace_raise_tok(struct parser *ps, const struct ltrace_token *t, const char *msg)
{
	lua_pushstring(ps->L, msg);
	ltrace_raise_at(ps, t->pos, t->epos, 1);
}

/* "<before><token described>" at the token. */
_Noreturn void ltrace_raise_found(struct parser *ps, const struct ltrace_token *t,
				  const char *before)
{
	lua_pushstring(ps->L, before);
	ltrace_push_describe(ps, t);
	ltrace_raise_at(ps, t->pos, t->epos, 2);
}

const struct ltrace_token *ltrace_expect(struct parser *ps, int op, const char *what)
{
	const struct ltrace_token *t = peek(ps);

	if (is_op(t, op))
		return next(ps);
	lua_pushfstring(ps->L, "expected '%s'%s%s, found ", ltrace_op_names[op], what ? " " : "",
			what ? what : "");
	ltrace_push_describe(ps, t);
	ltrace_raise_at(ps, t->pos, t->epos, 2);
}

void ltrace_enter(struct parser *ps, const struct ltrace_token *at, const char *what)
{
	if (++ps->depth > MAX_DEPTH) {
		lua_pushfstring(ps->L, "%s nested too deeply (more than %d levels)", what, MAX_DEPTH);
		ltrace_raise_at(ps, at->pos, at->epos, 1);
	}
	ensure_room(ps);
}

static const char *const AST_STRING_TEXTS[] = { AST_STRINGS(AST_STRING_TEXT) "" };
void ltrace_push_ast_strings(lua_State *L)
{
	lua_createtable(L, N_STRINGS, 0);
	for (int k = S_NONE + 1; k < S_OPS; k++) {
		lua_pushstring(L, AST_STRING_TEXTS[k - 1]);
		lua_rawseti(L, -2, k);
	}
	for (int op = 0; op < OP_COUNT; op++) {
		lua_pushstring(L, ltrace_op_names[op]);
		lua_rawseti(L, -2, op_string(op));
	}
}

/* ---- expressions, by precedence (C's, as bpftrace's grammar has them) ------------------- */

static struct node parse_ternary(struct parser *ps);
static struct node parse_unary(struct parser *ps);
static struct node parse_primary(struct parser *ps);
static struct node parse_postfix(struct parser *ps, struct node e);

/* Every nested expression (parentheses, arguments, indexes) comes through here. */
struct node ltrace_parse_expr(struct parser *ps)
{
	struct node e;

	ltrace_enter(ps, peek(ps), "expression");
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

	ensure_room(ps);
	for (;;) {
		const struct ltrace_token *t = peek(ps);
		int level = binary_level(t);
		/* in a filter, the '/' just before the action's '{' closes the filter */
		if (!level || level < min_level || t->close_filter)
			break;
		size_t op_pos = t->pos;
		int op = t->op;
		ps->i++;
		right = parse_binary(ps, level + 1);
		n = new_node(L, S_binop, left.pos, right.epos, 16); /* 7, 8-12 at the end */
		set_from(L, S_op, op_string(op));
		set_int(L, S_op_pos, op_pos); /* where a warning about the operator points */
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
		ltrace_parse_expr(ps);
		ltrace_expect(ps, OP_COLON, "in a ternary expression");
		new_node(L, S_ternary, cond.pos, 0, 8);
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

	lua_createtable(L, 2, 0);
	ltrace_push_token_value(L, ps->tt, t);
	lua_rawseti(L, -2, ++n);
	if (in_list(t, TYPE_WORDS)) {
		name = next(ps);
		if (name->type != TK_IDENT) {
			lua_pushliteral(L, "expected a type name after '");
			ltrace_push_token_value(L, ps->tt, t);
			lua_pushliteral(L, "'");
			ltrace_raise_at(ps, name->pos, name->epos, 3);
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
	close = ltrace_expect(ps, OP_RPAREN, "after the type of a cast");
	n = new_node(L, S_ctype, start, close->epos - 1, 8);
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
		n = new_node(L, S_unop, t->pos, operand.epos, 8);
		set_from(L, S_op, op_string(t->op));
		set_from(L, S_operand, base);
		collapse(L, base);
		return n;
	case OP_INC: case OP_DEC:
		next(ps);
		operand = parse_unary(ps);
		n = new_node(L, S_incdec, t->pos, operand.epos, 8);
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
		n = new_node(L, S_cast, t->pos, operand.epos, 8);
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
	ltrace_enter(ps, t, "expression");
	e = parse_unary_op(ps, t);
	ps->depth--;
	return e;
}

/* Moves the n values on top of the stack into an array of their size, left in their place. */
static void make_array(lua_State *L, int n)
{
	int at = lua_gettop(L) - n + 1; /* the first value's index: the array's */

	lua_createtable(L, n, 0);
	lua_insert(L, at);
	for (int j = n; j >= 1; j--)
		lua_rawseti(L, at, j);
}

/* Comma-separated expressions up to the close token: leaves the array on top, returns the
 * count and the closing token. (The nodes wait on the stack: the array is made of their
 * number, most often 0 or 1.) */
static int parse_args(struct parser *ps, int close_op, const struct ltrace_token **close)
{
	int n = 0;

	if (!is_op(peek(ps), close_op)) {
		do {
			ensure_room(ps);
			ltrace_parse_expr(ps);
			n++;
		} while (accept(ps, OP_COMMA));
	}
	*close = ltrace_expect(ps, close_op, "to close the argument list");
	make_array(ps->L, n);
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
				ltrace_push_describe(ps, f);
				ltrace_raise_at(ps, f->pos, f->epos, 2);
			}
			e = new_node(L, S_field, e.pos, f->epos, 16); /* 7, 9 */
			set_from(L, S_base, base);
			ltrace_push_token_value(L, ps->tt, f);
			lua_tolstring(L, -1, NULL); /* tostring(): a field named by a number */
			set_top(L, S_field);
			set_bool(L, S_arrow, t->op == OP_ARROW);
			set_int(L, S_field_pos, f->pos);
		} else if (t->op == OP_LBRACKET) {
			next(ps);
			ltrace_parse_expr(ps);
			close = ltrace_expect(ps, OP_RBRACKET, "after an index");
			e = new_node(L, S_index, e.pos, close->epos, 8);
			set_from(L, S_base, base);
			set_from(L, S_index, base + 1);
		} else if (t->op == OP_INC || t->op == OP_DEC) {
			next(ps);
			e = new_node(L, S_incdec, e.pos, t->epos, 8);
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
	struct node m = new_node(L, S_map, t->pos, t->epos, 8);

	m.cls = N_MAP;
	set_token_value(ps, S_name, t);
	if (!accept(ps, OP_LBRACKET))
		return m;
	if (parse_args(ps, OP_RBRACKET, &close) == 0) {
		lua_pushliteral(L, "a map key is expected inside '[]'");
		ltrace_raise_at(ps, close->pos, close->epos, 1);
	}
	set_top(L, S_keys);
	set_int(L, S_epos, close->epos);
	m.epos = close->epos;
	return m;
}

/* A call's room (new_node): printf() and print() get an event and their arguments' types too. */
static int call_room(const struct ltrace_token *name)
{
	return text_is(name, "printf") || text_is(name, "print") ? 16 : 8;
}

static struct node parse_name(struct parser *ps, const struct ltrace_token *t)
{
	lua_State *L = ps->L;
	const struct ltrace_token *close;
	struct node n;

	if (accept(ps, OP_LPAREN)) {
		parse_args(ps, OP_RPAREN, &close);
		n = new_node(L, S_call, t->pos, close->epos, call_room(t));
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
		ltrace_raise_at(ps, t->pos, t->epos, 3);
	}
	n = new_node(L, S_ident, t->pos, t->epos, 8);
	set_token_value(ps, S_name, t);
	return n;
}

/* ( expr ): the inner node (the passes need no mark of the parentheses). */
static struct node parse_paren(struct parser *ps)
{
	struct node e = ltrace_parse_expr(ps);

	if (is_op(peek(ps), OP_COMMA))
		ltrace_raise_tok(ps, peek(ps), "tuples are not supported");
	ltrace_expect(ps, OP_RPAREN, "to close '('");
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
		n = new_node(L, t->type == TK_INT ? S_int : S_str, t->pos, t->epos, 8);
		set_token_value(ps, S_value, t);
		return n;
	case TK_VAR:
		n = new_node(L, S_var, t->pos, t->epos, 8);
		set_token_value(ps, S_name, t);
		n.cls = N_VAR;
		return n;
	case TK_PARAM:
		n = new_node(L, S_param, t->pos, t->epos, 8);
		set_token_value(ps, S_n, t);
		return n;
	case TK_MAP:
		return parse_map(ps, t);
	case TK_IDENT:
		return parse_name(ps, t);
	case TK_OP:
		if (t->op == OP_LPAREN)
			return parse_paren(ps);
		break;
	default:
		break;
	}
	ltrace_raise_found(ps, t, "expected an expression, found ");
}
