/* The bpftrace parser, statements and probes, and the module "bpf.trace.syntax" (preloaded by
 * luaopen_bpf) whose parse() returns the AST of a preprocessed source (ltrace_parse.c:
 * expressions). */
#include "lbpf_lua.h"
#include "ltrace_parse.h"

/* ---- statements ------------------------------------------------------------------------- */

static struct node parse_statement(struct parser *ps);

/* { statements }; room: the node's (new_node). */
static struct node parse_block(struct parser *ps, const char *what, int room)
{
	lua_State *L = ps->L;
	const struct ltrace_token *open = ltrace_expect(ps, OP_LBRACE, what), *t;
	struct node s, n;
	int count = 0;

	ltrace_enter(ps, open, "blocks");
	lua_createtable(L, 4, 0);
	for (;;) {
		t = peek(ps);
		if (is_op(t, OP_RBRACE))
			break;
		if (t->type == TK_EOF)
			ltrace_raise_tok(ps, open, "unterminated block: '}' expected");
		if (accept(ps, OP_SEMI))
			continue;
		s = parse_statement(ps);
		lua_rawseti(L, -2, ++count);
		if (!s.block_like && !is_op(peek(ps), OP_RBRACE) && !accept(ps, OP_SEMI))
			ltrace_raise_found(ps, peek(ps), "expected ';' or '}' after a statement, found ");
	}
	t = next(ps);
	ps->depth--;
	n = new_node(L, S_block, open->pos, t->epos, room);
	lua_pushvalue(L, -2);
	set_top(L, S_stmts);
	lua_replace(L, -2);
	return n;
}

/* The `else` block that holds the nested `if` of an `else if` (it spans that `if`). */
static void set_else_if(lua_State *L, int chain, int j, struct node nested)
{
	lua_rawgeti(L, chain, j);
	new_node(L, S_block, nested.pos, nested.epos, 4);
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
		ltrace_expect(ps, OP_LPAREN, "after 'if'");
		cond = ltrace_parse_expr(ps);
		ltrace_expect(ps, OP_RPAREN, "after the condition");
		then_ = parse_block(ps, "after 'if (...)'", 4);
		new_node(L, S_if, tok->pos, then_.epos, 8);
		set_from(L, S_cond, chain + 1);
		set_from(L, S_then_, chain + 2);
		set_int(L, S_cond_epos, cond.epos);
		lua_rawseti(L, chain, ++k);
		lua_settop(L, chain);
		last = (struct node){ .pos = tok->pos, .epos = then_.epos };
		if (!is_ident(peek(ps), "else"))
			break;
		next(ps);
		if (!is_ident(peek(ps), "if")) {
			last.epos = parse_block(ps, "after 'else'", 4).epos;
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

	ltrace_expect(ps, OP_LPAREN, "after 'unroll'");
	ltrace_parse_expr(ps);
	ltrace_expect(ps, OP_RPAREN, "after the unroll count");
	body = parse_block(ps, "after 'unroll (...)'", 4);
	n = new_node(L, S_unroll, tok->pos, body.epos, 8);
	set_from(L, S_count, base);
	set_from(L, S_body, base + 1);
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
	struct node e = ltrace_parse_expr(ps), value, n;
	int op = assign_op(peek(ps));

	if (!op) {
		n = new_node(L, S_expr_stmt, e.pos, e.epos, 4);
		set_from(L, S_expr, base);
		collapse(L, base);
		return n;
	}
	if (e.cls != N_MAP && e.cls != N_VAR) {
		lua_pushliteral(L, "only maps (@x) and variables ($x) can be assigned to");
		ltrace_raise_at(ps, e.pos, e.epos, 1);
	}
	next(ps);
	value = ltrace_parse_expr(ps);
	n = new_node(L, S_assign, e.pos, value.epos, 8);
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
			ltrace_raise_tok(ps, t, refusal);
	} else if (is_op(t, OP_LBRACE)) {
		b = parse_block(ps, NULL, 4);
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

	lua_createtable(L, 1, 0);
	do {
		s = peek(ps);
		if (s->type != TK_SPEC)
			ltrace_raise_found(ps, s, "expected an attach point, found ");
		next(ps);
		if (in_list(s, top_level_types)) {
			lua_pushliteral(L, "`");
			ltrace_push_token_value(L, ps->tt, s);
			lua_pushliteral(L, "` definitions at the top level are not supported");
			ltrace_raise_at(ps, s->pos, s->epos, 3);
		}
		new_node(L, S_spec, s->pos, s->epos, 4);
		set_token_value(ps, S_text, s);
		lua_rawseti(L, -2, ++n);
		if (n == 1)
			first_pos = s->pos;
	} while (accept(ps, OP_COMMA));
	*last = s;
	return first_pos;
}

/* /filter/: leaves the expression on top. */
static void parse_filter(struct parser *ps)
{
	const struct ltrace_token *close;

	next(ps);
	ltrace_parse_expr(ps);
	close = peek(ps);
	if (!is_op(close, OP_SLASH))
		ltrace_raise_found(ps, close, "expected '/' to end the filter, found ");
	next(ps);
}

static void parse_probe(struct parser *ps)
{
	lua_State *L = ps->L;
	int base = lua_gettop(L) + 1;
	const struct ltrace_token *last;
	size_t pos = parse_specs(ps, &last);
	bool has_pred = is_op(peek(ps), OP_SLASH);
	struct node body;

	ensure_room(ps);
	if (has_pred)
		parse_filter(ps);
	if (!is_op(peek(ps), OP_LBRACE)) {
		lua_pushliteral(L, "expected '{' to start the action of '");
		ltrace_push_token_value(L, ps->tt, last);
		lua_pushliteral(L, "', found ");
		ltrace_push_describe(ps, peek(ps));
		ltrace_raise_at(ps, peek(ps)->pos, peek(ps)->epos, 4);
	}
	body = parse_block(ps, NULL, 4);
	new_node(L, S_probe, pos, body.epos, 8);
	set_from(L, S_specs, base);
	if (has_pred)
		set_from(L, S_pred, base + 1);
	set_from(L, S_body, has_pred ? base + 2 : base + 1);
	collapse(L, base);
}

/* Copies the AST strings (the array at index 1, made once by open_syntax: pushing them from
 * C strings, interned again, was 0.4% of a parse) to stack indices 1 .. N_STRINGS. */
static void push_ast_strings(lua_State *L)
{
	luaL_checkstack(L, N_STRINGS + STACK_ROOM, "bpf.trace: parse");
	for (int k = 1; k <= N_STRINGS; k++)
		lua_rawgeti(L, 1, k);
	lua_remove(L, 1);
}

/* The whole program, under lua_pcall: arguments the parser state, the macros table (or nil)
 * and the AST strings. A syntax error is raised, with ps->failed set. */
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
	lua_pushvalue(L, 3);
	lua_replace(L, 1);
	lua_settop(L, 1);
	push_ast_strings(L); /* at 1 .. N_STRINGS */
	lua_createtable(L, 8, 0);
	while (peek(ps)->type != TK_EOF) {
		parse_probe(ps);
		lua_rawseti(L, probes, ++n);
	}
	if (n == 0) {
		lua_pushliteral(L, "no probes: a program is `probe { action }`");
		ltrace_raise_at(ps, 1, 1, 1);
	}
	new_node(L, S_program, 1, ps->src_len, 4);
	set_from(L, S_probes, probes);
	return 1;
}

/* syntax.parse(text [, macros]) -> the AST, or nil, pos, epos, message for a syntax error.
 * text is the preprocessed source (as long as the source); macros: name -> {body = text}.
 * Upvalue 1: the token store kept from parse to parse; upvalue 2: the AST strings. */
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
	lua_pushvalue(L, lua_upvalueindex(2));
	status = lua_pcall(L, 3, 1, 0);
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
		{ "locator", ltrace_locator },
		{ NULL, NULL },
	};
	lua_newtable(L);
	ltrace_new_tokens(L);
	ltrace_push_ast_strings(L);
	luaL_setfuncs(L, funcs, 2);
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
