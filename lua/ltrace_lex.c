/* The bpftrace lexer: preprocessed source text to an array of tokens with byte positions. It
 * follows the program's shape itself: attach-point specs are read as raw text at the top level,
 * a filter's closing '/' is marked, braces are counted. Errors are returned, never raised, so
 * that a macro's body can be tried and its error replaced (as the Lua lexer did with pcall). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ltrace_syntax.h"

/* Three-byte punctuators, then two-byte ones, then single bytes (scan_op relies on it). */
const char *const ltrace_op_names[OP_COUNT] = {
	"<<=", ">>=", "...", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "++", "--", "+=", "-=",
	"*=", "/=", "%=", "&=", "|=", "^=", "->", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~",
	"<", ">", "=", "?", ":", ";", ",", ".", "(", ")", "{", "}", "[", "]",
};

struct lexer {
	lua_State *L;
	struct ltrace_tokens *tt;
	const char *src;
	size_t len;
	size_t pos;       /* 0-based cursor */
	int macros;       /* absolute stack index of the macros table, 0 when there is none */
	bool expanding;   /* scanning a macro's body */
	size_t err_pos, err_epos;
};

/* Byte tests as single unsigned compares (c may be -1, past the end: false for all). */
static bool is_blank(int c) { return c == ' ' || (unsigned)(c - 9) < 5u; }
static bool is_alpha(int c) { return (unsigned)((c | 32) - 'a') < 26u; }
static bool is_digit(int c) { return (unsigned)(c - '0') < 10u; }
static bool is_ident_start(int c) { return is_alpha(c) || c == '_'; }
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }
static bool is_octal(int c) { return c >= '0' && c <= '7'; }

/* The same classes in a table, for the loops that run over every byte (blanks, names) and the
 * choice of a token's scanner: one load instead of a chain of compares. */
enum { CL_BLANK = 1, CL_NAME_START = 2, CL_DIGIT = 4 };
#define CLASS_OF(c) (((c) == ' ' || ((c) >= 9 && (c) <= 13)) ? CL_BLANK : \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_') ? CL_NAME_START : \
	((c) >= '0' && (c) <= '9') ? CL_DIGIT : 0)
#define CLASS4(c) CLASS_OF(c), CLASS_OF((c) + 1), CLASS_OF((c) + 2), CLASS_OF((c) + 3)
#define CLASS16(c) CLASS4(c), CLASS4((c) + 4), CLASS4((c) + 8), CLASS4((c) + 12)
#define CLASS64(c) CLASS16(c), CLASS16((c) + 16), CLASS16((c) + 32), CLASS16((c) + 48)
static const uint8_t BYTE_CLASS[256] = { CLASS64(0), CLASS64(64), CLASS64(128), CLASS64(192) };

static bool blank_byte(unsigned char c) { return BYTE_CLASS[c] & CL_BLANK; }
static bool name_byte(unsigned char c) { return BYTE_CLASS[c] & (CL_NAME_START | CL_DIGIT); }

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The byte at i, or -1 past the end. */
static int at(const struct lexer *lx, size_t i)
{
	return i < lx->len ? (unsigned char)lx->src[i] : -1;
}

/* Records an error at [pos, epos] (1-based) whose message is the n strings on top of the stack
 * (concatenated: they may hold any byte, NUL included); returns -1 for the caller to pass up. */
static int fail(struct lexer *lx, size_t pos, size_t epos, int n)
{
	lua_concat(lx->L, n);
	lx->err_pos = pos;
	lx->err_epos = epos;
	return -1;
}

static int fail_msg(struct lexer *lx, size_t pos, size_t epos, const char *msg)
{
	lua_pushstring(lx->L, msg);
	return fail(lx, pos, epos, 1);
}

/* Grows an array held by the token userdata; on failure the old array stays owned by it. */
static void *grow(lua_State *L, void *p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return p;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 4 / elem)
			luaL_error(L, "bpf.trace: source too large");
		ncap *= 2;
	}
	np = realloc(p, ncap * elem);
	if (!np)
		luaL_error(L, "bpf.trace: not enough memory for the tokens");
	*cap = ncap;
	return np;
}

static void store_bytes(struct lexer *lx, const char *p, size_t n)
{
	struct ltrace_tokens *tt = lx->tt;

	tt->strs = grow(lx->L, tt->strs, &tt->scap, tt->slen + n, 1);
	memcpy(tt->strs + tt->slen, p, n);
	tt->slen += n;
}

static void store_byte(struct lexer *lx, unsigned v)
{
	char c = (char)v;

	store_bytes(lx, &c, 1);
}

/* Skips blanks and comments. The text ends with Lua's '\0' (not a blank, not '/'): the
 * scan stops there without a bounds test, and s[p + 1] is readable after a '/' at p. */
static int skip_space(struct lexer *lx)
{
	const char *s = lx->src;

	for (;;) {
		size_t p = lx->pos;
		while (blank_byte((unsigned char)s[p]))
			p++;
		lx->pos = p;
		if (s[p] != '/' || (s[p + 1] != '/' && s[p + 1] != '*'))
			return 0;
		if (s[p + 1] == '/') {
			const char *nl = memchr(s + p, '\n', lx->len - p);
			lx->pos = nl ? (size_t)(nl - s) + 1 : lx->len;
		} else {
			const char *e = memmem(s + p + 2, lx->len - p - 2, "*/", 2);
			if (!e)
				return fail_msg(lx, p + 1, p + 2, "unterminated comment");
			lx->pos = (size_t)(e - s) + 2;
		}
	}
}

/* ---- string literals -------------------------------------------------------------------- */

static int simple_escape(int c)
{
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	case '\\': return '\\';
	case '"': return '"';
	case 'a': return '\a';
	case 'b': return '\b';
	case 'f': return '\f';
	case 'v': return '\v';
	case '\'': return '\'';
	case '?': return '?';
	case 'e': return 27;
	default: return -1;
	}
}

/* The escape whose backslash is at *i: its byte goes to the store, *i moves past it. */
static int read_escape(struct lexer *lx, size_t *i)
{
	size_t b = *i;
	int n = at(lx, b + 1), e = n >= 0 ? simple_escape(n) : -1;
	unsigned v = 0;
	size_t d = 0;

	if (e >= 0) {
		store_byte(lx, (unsigned)e);
		*i = b + 2;
	} else if (n == 'x') {
		while (d < 2 && hex_value(at(lx, b + 2 + d)) >= 0)
			v = v * 16 + (unsigned)hex_value(at(lx, b + 2 + d++));
		if (d == 0)
			return fail_msg(lx, b + 1, b + 2, "bad escape '\\x' (hex digits expected)");
		store_byte(lx, v);
		*i = b + 2 + d;
	} else if (is_octal(n)) {
		while (d < 3 && is_octal(at(lx, b + 1 + d)))
			v = v * 8 + (unsigned)(at(lx, b + 1 + d++) - '0');
		if (v > 255)
			return fail_msg(lx, b + 1, b + 1 + d, "octal escape out of range");
		store_byte(lx, v);
		*i = b + 1 + d;
	} else {
		lua_pushliteral(lx->L, "unknown escape '\\");
		lua_pushlstring(lx->L, lx->src + b + 1, n >= 0 ? 1 : 0);
		lua_pushliteral(lx->L, "'");
		return fail(lx, b + 1, b + 2, 3);
	}
	return 0;
}

/* Decodes the literal whose opening quote is at start into the store; *end: its closing quote. */
static int read_string(struct lexer *lx, size_t start, size_t *end)
{
	const char *s = lx->src;
	size_t i = start + 1;

	for (;;) {
		if (i >= lx->len || s[i] == '\n')
			return fail_msg(lx, start + 1, i, "unterminated string");
		if (s[i] == '"')
			break;
		if (s[i] == '\\') {
			if (read_escape(lx, &i) < 0)
				return -1;
		} else {
			size_t j = i;
			while (j < lx->len && s[j] != '\\' && s[j] != '"' && s[j] != '\n')
				j++;
			store_bytes(lx, s + i, j - i);
			i = j;
		}
	}
	*end = i;
	return 0;
}

/* ---- integer literals ------------------------------------------------------------------- */

/* Length of the literal at p: 0x hex, a 1e6 form, or decimal/octal digits ('_' separators). */
static size_t int_text_len(const struct lexer *lx, size_t p)
{
	size_t k = p + 1;

	if (at(lx, p) == '0' && (at(lx, p + 1) == 'x' || at(lx, p + 1) == 'X') &&
	    (hex_value(at(lx, p + 2)) >= 0 || at(lx, p + 2) == '_')) {
		k = p + 2;
		while (hex_value(at(lx, k)) >= 0 || at(lx, k) == '_')
			k++;
		return k - p;
	}
	while (is_digit(at(lx, k)) || at(lx, k) == '_')
		k++;
	if ((at(lx, k) == 'e' || at(lx, k) == 'E') && is_digit(at(lx, k + 1))) {
		k += 2;
		while (is_digit(at(lx, k)))
			k++;
	}
	return k - p;
}

/* Digits in base, already checked to fit 64 bits: with Lua 5.3+ integers they wrap like a
 * u64; with doubles, a value beyond 2^53 is refused rather than rounded. */
static int accumulate(struct lexer *lx, const char *d, size_t n, int base, size_t pos,
		      size_t epos, ltrace_int *out)
{
	ltrace_int v = 0;

	for (size_t k = 0; k < n; k++) {
		v = v * (ltrace_int)base + (ltrace_int)hex_value((unsigned char)d[k]);
#if !LBPF_LUA_INTEGERS
		if (v > 9007199254740992.0)
			return fail_msg(lx, pos, epos, "integer literal out of range on this Lua "
					"(beyond 2^53; use Lua 5.4)");
#else
		(void)lx, (void)pos, (void)epos;
#endif
	}
	*out = v;
	return 0;
}

static size_t count_leading_zeros(const char *d, size_t n)
{
	size_t z = 0;

	while (z < n && d[z] == '0')
		z++;
	return z;
}

static bool all_of(const char *d, size_t n, bool (*pred)(int))
{
	for (size_t k = 0; k < n; k++)
		if (!pred((unsigned char)d[k]))
			return false;
	return n > 0;
}

static bool is_hex(int c) { return hex_value(c) >= 0; }

static int out_of_range(struct lexer *lx, size_t pos, size_t epos)
{
	return fail_msg(lx, pos, epos, "integer literal out of range");
}

/* m * 10^e (the 1e6 form), refused past 2^63. Once the value is 0 (or wraps to 0, as
 * m * 10^64 does on 64 bits) more steps change nothing: at most 70 are taken. */
static int scale_exponent(struct lexer *lx, ltrace_int v, size_t e, size_t pos, size_t epos,
			  ltrace_int *out)
{
	for (size_t k = 0; k < e && k < 70; k++) {
#if LBPF_LUA_INTEGERS
		if ((int64_t)v > 922337203685477580)
#else
		if (v > 922337203685477580.0)
#endif
			return out_of_range(lx, pos, epos);
		v = v * 10;
	}
	*out = v;
	return 0;
}

static int parse_exponent_form(struct lexer *lx, const char *c, size_t m, size_t pos, size_t epos,
			       ltrace_int *out)
{
	size_t k = 0, e = 0;
	ltrace_int v;

	while (k < m && is_digit((unsigned char)c[k]))
		k++;
	if (k == 0 || k + 1 >= m || (c[k] != 'e' && c[k] != 'E') ||
	    !all_of(c + k + 1, m - k - 1, is_digit))
		return 1;
	for (size_t j = k + 1; j < m; j++)
		e = e < 1000 ? e * 10 + (size_t)(c[j] - '0') : e;
	if (accumulate(lx, c, k, 10, pos, epos, &v) < 0)
		return -1;
	return scale_exponent(lx, v, e, pos, epos, out);
}

/* The value of the literal c (m bytes, '_' removed): hex, octal, decimal or the 1e6 form.
 * Returns 1 when it is none of them. */
static int parse_clean_int(struct lexer *lx, const char *c, size_t m, size_t pos, size_t epos,
			   ltrace_int *out)
{
	size_t z;

	if (m >= 3 && c[0] == '0' && (c[1] == 'x' || c[1] == 'X') && all_of(c + 2, m - 2, is_hex)) {
		z = count_leading_zeros(c + 2, m - 2);
		if (m - 2 - z > 16)
			return out_of_range(lx, pos, epos);
		return accumulate(lx, c + 2 + z, m - 2 - z, 16, pos, epos, out);
	}
	if (m >= 2 && c[0] == '0' && all_of(c + 1, m - 1, is_octal)) {
		z = count_leading_zeros(c, m);
		if (m - z > 22 || (m - z == 22 && c[z] != '1'))
			return out_of_range(lx, pos, epos);
		return accumulate(lx, c + z, m - z, 8, pos, epos, out);
	}
	if (all_of(c, m, is_digit)) {
		z = count_leading_zeros(c, m);
		if (m - z > 20 || (m - z == 20 && memcmp(c + z, "18446744073709551615", 20) > 0))
			return out_of_range(lx, pos, epos);
		return accumulate(lx, c + z, m - z, 10, pos, epos, out);
	}
	return parse_exponent_form(lx, c, m, pos, epos, out);
}

/* The common literal, a plain decimal (a lone 0, or 1 to 15 digits without a leading 0: below
 * 2^53, exact on every Lua) that no name character follows: its length, with *out its value;
 * 0 for any other literal (hex, octal, '_', 1e6, too long, followed by a letter), which
 * scan_number reads the long way. */
static size_t plain_decimal(const struct lexer *lx, size_t p, ltrace_int *out)
{
	const unsigned char *s = (const unsigned char *)lx->src;
	ltrace_int v = 0;
	size_t k = p;

	while (is_digit(s[k]) && k - p < 16) /* stops at Lua's '\0' after the text */
		v = v * 10 + (ltrace_int)(s[k++] - '0');
	if (k - p > 15 || (s[p] == '0' && k - p > 1) || name_byte(s[k]))
		return 0;
	*out = v;
	return k - p;
}

static int scan_number(struct lexer *lx, size_t p, struct ltrace_token *tok)
{
	size_t n = plain_decimal(lx, p, &tok->v.num), off = lx->tt->slen;
	int rc;

	if (n) {
		tok->type = TK_INT;
		tok->pos = p + 1;
		tok->epos = p + n;
		return 0;
	}
	n = int_text_len(lx, p);

	if (is_ident_char(at(lx, p + n))) {
		size_t k = p;
		while (is_ident_char(at(lx, k)))
			k++;
		lua_pushliteral(lx->L, "bad integer literal '");
		lua_pushlstring(lx->L, lx->src + p, k - p);
		lua_pushliteral(lx->L, "'");
		return fail(lx, p + 1, k, 3);
	}
	tok->type = TK_INT;
	tok->pos = p + 1;
	tok->epos = p + n;
	/* the digits without '_', in the store for a moment */
	for (size_t k = p; k < p + n; k++)
		if (lx->src[k] != '_')
			store_byte(lx, (unsigned char)lx->src[k]);
	rc = parse_clean_int(lx, lx->tt->strs + off, lx->tt->slen - off, tok->pos, tok->epos, &tok->v.num);
	lx->tt->slen = off;
	if (rc <= 0)
		return rc;
	lua_pushliteral(lx->L, "bad integer literal '");
	lua_pushlstring(lx->L, lx->src + p, n);
	lua_pushliteral(lx->L, "'");
	return fail(lx, tok->pos, tok->epos, 3);
}

/* ---- other tokens ----------------------------------------------------------------------- */

static inline size_t ident_len(const struct lexer *lx, size_t p)
{
	const unsigned char *s = (const unsigned char *)lx->src;
	size_t e = p;

	if (!is_ident_start(at(lx, p)))
		return 0;
	while (name_byte(s[e])) /* stops at Lua's '\0' after the text */
		e++;
	return e - p;
}

static void set_named(struct ltrace_token *tok, int type, const char *text, size_t len,
		      size_t pos, size_t epos)
{
	tok->type = (uint8_t)type;
	tok->text = text;
	tok->len = len;
	tok->pos = pos;
	tok->epos = epos;
}

static int scan(struct lexer *lx, struct ltrace_token *tok);

/* A macro use: its body must be one token, which takes the use's position. An error in the
 * body's first token becomes "not a single ..."; one in what follows it stands as it is. */
static int expand(struct lexer *lx, struct ltrace_token *tok)
{
	lua_State *L = lx->L;
	struct lexer sub = *lx;
	struct ltrace_token first, after;
	bool bad;

	if (lx->expanding) {
		lua_pop(L, 1);
		lua_pushliteral(L, "macro '");
		lua_pushlstring(L, tok->text, tok->len);
		lua_pushliteral(L, "' refers to itself");
		return fail(lx, tok->pos, tok->epos, 3);
	}
	lua_getfield(L, -1, "body");
	sub.src = lua_tolstring(L, -1, &sub.len); /* kept alive by the macros table */
	if (!sub.src)
		luaL_error(L, "bpf.trace.syntax: a macro without a body");
	lua_pop(L, 2);
	sub.pos = 0;
	sub.expanding = true;
	bad = scan(&sub, &first) < 0;
	if (bad)
		lua_pop(L, 1);
	else if (scan(&sub, &after) < 0)
		return fail(lx, sub.err_pos, sub.err_epos, 1);
	if (bad || first.type == TK_EOF || after.type != TK_EOF) {
		lua_pushliteral(L, "macro '");
		lua_pushlstring(L, tok->text, tok->len);
		lua_pushliteral(L, "' (");
		lua_pushlstring(L, sub.src, sub.len);
		lua_pushliteral(L, ") is not a single number, string or name: not supported");
		return fail(lx, tok->pos, tok->epos, 5);
	}
	first.pos = tok->pos;
	first.epos = tok->epos;
	*tok = first;
	return 0;
}

static int scan_ident(struct lexer *lx, size_t p, struct ltrace_token *tok)
{
	size_t n = ident_len(lx, p);

	set_named(tok, TK_IDENT, lx->src + p, n, p + 1, p + n);
	if (!lx->macros)
		return 0;
	lua_pushlstring(lx->L, tok->text, tok->len);
	lua_rawget(lx->L, lx->macros);
	if (lua_isnil(lx->L, -1)) {
		lua_pop(lx->L, 1);
		return 0;
	}
	return expand(lx, tok);
}

/* $name, $1, $# */
static int scan_dollar(struct lexer *lx, size_t p, struct ltrace_token *tok)
{
	size_t n = ident_len(lx, p + 1);

	if (n) {
		set_named(tok, TK_VAR, lx->src + p + 1, n, p + 1, p + 1 + n);
		return 0;
	}
	while (is_digit(at(lx, p + 1 + n)))
		n++;
	if (n || at(lx, p + 1) == '#') {
		set_named(tok, TK_PARAM, lx->src + p + 1, n ? n : 1, p + 1, p + 1 + (n ? n : 1));
		return 0;
	}
	return fail_msg(lx, p + 1, p + 1,
			"'$' must start a variable name ($x) or a positional parameter ($1)");
}

/* The longest punctuator starting with bytes c, c1, c2 (-1 past the end), or -1. */
static int match_op(int c, int c1, int c2)
{
	switch (c) {
	case '<': return c1 == '<' ? (c2 == '=' ? OP_SHL_ASSIGN : OP_SHL) : c1 == '=' ? OP_LE : OP_LT;
	case '>': return c1 == '>' ? (c2 == '=' ? OP_SHR_ASSIGN : OP_SHR) : c1 == '=' ? OP_GE : OP_GT;
	case '.': return c1 == '.' && c2 == '.' ? OP_ELLIPSIS : OP_DOT;
	case '=': return c1 == '=' ? OP_EQ : OP_ASSIGN;
	case '!': return c1 == '=' ? OP_NE : OP_NOT;
	case '&': return c1 == '&' ? OP_AND : c1 == '=' ? OP_AND_ASSIGN : OP_AMP;
	case '|': return c1 == '|' ? OP_OR : c1 == '=' ? OP_OR_ASSIGN : OP_PIPE;
	case '+': return c1 == '+' ? OP_INC : c1 == '=' ? OP_ADD_ASSIGN : OP_PLUS;
	case '-': return c1 == '-' ? OP_DEC : c1 == '=' ? OP_SUB_ASSIGN : c1 == '>' ? OP_ARROW : OP_MINUS;
	case '*': return c1 == '=' ? OP_MUL_ASSIGN : OP_STAR;
	case '/': return c1 == '=' ? OP_DIV_ASSIGN : OP_SLASH;
	case '%': return c1 == '=' ? OP_MOD_ASSIGN : OP_PERCENT;
	case '^': return c1 == '=' ? OP_XOR_ASSIGN : OP_CARET;
	case '~': return OP_TILDE;
	case '?': return OP_QUESTION;
	case ':': return OP_COLON;
	case ';': return OP_SEMI;
	case ',': return OP_COMMA;
	case '(': return OP_LPAREN;
	case ')': return OP_RPAREN;
	case '{': return OP_LBRACE;
	case '}': return OP_RBRACE;
	case '[': return OP_LBRACKET;
	case ']': return OP_RBRACKET;
	default: return -1;
	}
}

static int scan_op(struct lexer *lx, size_t p, struct ltrace_token *tok)
{
	/* p < len: the byte after it is readable (Lua's '\0' at the end), and the one after that
	 * when that byte is not the '\0' (match_op needs the third only after '<', '>' or '.') */
	int c = (unsigned char)lx->src[p], c1 = (unsigned char)lx->src[p + 1];
	int op = match_op(c, c1, c1 ? (unsigned char)lx->src[p + 2] : -1);
	char shown[8];

	if (op >= 0) {
		tok->type = TK_OP;
		tok->op = (uint8_t)op;
		tok->pos = p + 1;
		/* ltrace_op_names' order: three-byte punctuators, then two-byte ones, then bytes */
		tok->epos = p + (op < OP_EQ ? 3 : op < OP_PLUS ? 2 : 1);
		return 0;
	}
	if (c == '\'')
		return fail_msg(lx, p + 1, p + 1, "character literals are not supported "
				"(use a string \"...\" or a number)");
	if (c < 32 || c > 126)
		snprintf(shown, sizeof shown, "\\x%02x", (unsigned)c);
	else
		snprintf(shown, sizeof shown, "%c", c);
	lua_pushliteral(lx->L, "unexpected character '");
	lua_pushstring(lx->L, shown);
	lua_pushliteral(lx->L, "'");
	return fail(lx, p + 1, p + 1, 3);
}

/* The next ordinary token. */
static int scan(struct lexer *lx, struct ltrace_token *tok)
{
	size_t p, end, off;
	int c, rc;

	/* (the blanks before a token, most often one space or none, skipped here; comments by
	 * skip_space) */
	p = lx->pos;
	while (blank_byte((unsigned char)lx->src[p]))
		p++;
	lx->pos = p;
	if (lx->src[p] == '/' && (lx->src[p + 1] == '/' || lx->src[p + 1] == '*')) {
		if (skip_space(lx) < 0)
			return -1;
		p = lx->pos;
	}
	memset(tok, 0, sizeof *tok);
	c = at(lx, p);
	if (c < 0) {
		tok->type = TK_EOF;
		tok->pos = tok->epos = p + 1;
		return 0;
	}
	if (BYTE_CLASS[c] == CL_NAME_START) {
		rc = scan_ident(lx, p, tok);
	} else if (BYTE_CLASS[c] == CL_DIGIT) {
		rc = scan_number(lx, p, tok);
	} else if (c == '"') {
		off = lx->tt->slen;
		rc = read_string(lx, p, &end);
		tok->type = TK_STR;
		tok->v.str_off = off;
		tok->len = lx->tt->slen - off;
		tok->pos = p + 1;
		tok->epos = end + 1;
	} else if (c == '$') {
		rc = scan_dollar(lx, p, tok);
	} else if (c == '@') {
		size_t n = ident_len(lx, p + 1);
		set_named(tok, TK_MAP, lx->src + p + 1, n, p + 1, p + 1 + n);
		rc = 0;
	} else {
		rc = scan_op(lx, p, tok);
	}
	if (rc < 0)
		return -1;
	lx->pos = tok->epos; /* 0-based: just past the token */
	return 0;
}

/* ---- attach-point specs and the program's shape ----------------------------------------- */

/* Whether the spec at p names a probe type whose attach points may hold file paths (so '/'
 * belongs to the spec). */
static bool path_kind(const struct lexer *lx, size_t p)
{
	static const char *const kinds[] = { "uprobe", "uretprobe", "usdt", "u", "ur", "U" };
	size_t n = ident_len(lx, p);

	if (!n || at(lx, p + n) != ':')
		return false;
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		if (strlen(kinds[k]) == n && memcmp(kinds[k], lx->src + p, n) == 0)
			return true;
	return false;
}

/* One attach-point spec as raw text (`uprobe:/bin/bash:readline`, `tracepoint:syscalls:*`),
 * ending before blanks, ',', '{', '}' or a filter's '/'. Returns 1 with *tok set, 0 when no
 * spec starts here, -1 on an error. */
static int scan_spec(struct lexer *lx, struct ltrace_token *tok)
{
	size_t p, i, end;
	bool allow_slash;

	if (skip_space(lx) < 0)
		return -1;
	p = i = lx->pos;
	if (p >= lx->len)
		return 0;
	allow_slash = path_kind(lx, p);
	while (i < lx->len) {
		int c = (unsigned char)lx->src[i];
		if (is_blank(c) || c == ',' || c == '{' || c == '}')
			break;
		if (c == '"') {
			size_t off = lx->tt->slen;
			if (read_string(lx, i, &end) < 0)
				return -1;
			lx->tt->slen = off;
			i = end + 1;
		} else {
			if (c == '/' && !allow_slash)
				break;
			i++;
		}
	}
	if (i == p)
		return 0;
	memset(tok, 0, sizeof *tok);
	set_named(tok, TK_SPEC, lx->src + p, i - p, p + 1, i);
	lx->pos = i;
	return 1;
}

struct shape {
	long depth;
	bool want_spec, in_filter;
};

/* Braces, the ',' between specs and the filter's slashes: what the next token may be. */
static void follow_shape(const struct lexer *lx, struct shape *sh, struct ltrace_token *tok)
{
	size_t after;

	if (tok->op == OP_LBRACE) {
		sh->depth++;
		sh->in_filter = false;
	} else if (tok->op == OP_RBRACE) {
		if (--sh->depth <= 0) {
			sh->depth = 0;
			sh->want_spec = true;
		}
	} else if (sh->depth == 0 && tok->op == OP_COMMA && !sh->in_filter) {
		sh->want_spec = true;
	} else if (sh->depth == 0 && tok->op == OP_SLASH) {
		if (!sh->in_filter) {
			sh->in_filter = true;
			return;
		}
		after = tok->epos; /* 0-based: the byte after the '/' */
		while (after < lx->len && is_blank((unsigned char)lx->src[after]))
			after++;
		if (after >= lx->len || lx->src[after] == '{') { /* it closes the filter */
			tok->close_filter = true;
			sh->in_filter = false;
		}
	}
}

static int tokens_gc(lua_State *L)
{
	struct ltrace_tokens *tt = lua_touserdata(L, 1);

	free(tt->toks);
	free(tt->strs);
	tt->toks = NULL;
	tt->strs = NULL;
	return 0;
}

struct ltrace_tokens *ltrace_new_tokens(lua_State *L)
{
	struct ltrace_tokens *tt = lua_newuserdata(L, sizeof *tt);

	memset(tt, 0, sizeof *tt);
	if (luaL_newmetatable(L, "bpf.trace.syntax.tokens")) {
		lua_pushcfunction(L, tokens_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return tt;
}

void ltrace_trim_tokens(struct ltrace_tokens *tt)
{
	if (tt->cap > 65536) {
		free(tt->toks);
		tt->toks = NULL;
		tt->cap = 0;
	}
	if (tt->scap > (1u << 20)) {
		free(tt->strs);
		tt->strs = NULL;
		tt->scap = 0;
	}
	tt->n = tt->slen = 0;
}

int ltrace_tokenize(lua_State *L, struct ltrace_tokens *tt, const char *text, size_t len,
		    int macros_idx, size_t *pos, size_t *epos)
{
	struct lexer lx = { .L = L, .src = text, .len = len, .macros = macros_idx };
	struct shape sh = { .want_spec = true };
	struct ltrace_token *tok;
	int rc;

	luaL_checkstack(L, 16, "bpf.trace: tokenize");
	lx.tt = tt;
	tt->n = tt->slen = 0;
	do {
		if (lx.tt->n == lx.tt->cap)
			lx.tt->toks = grow(L, lx.tt->toks, &lx.tt->cap, lx.tt->n + 1, sizeof *tok);
		tok = &lx.tt->toks[lx.tt->n];
		rc = 0;
		if (sh.depth == 0 && sh.want_spec && !sh.in_filter) {
			rc = scan_spec(&lx, tok);
			if (rc > 0)
				sh.want_spec = false;
		}
		if (rc == 0)
			rc = scan(&lx, tok);
		if (rc < 0) {
			*pos = lx.err_pos;
			*epos = lx.err_epos;
			return -1;
		}
		lx.tt->n++;
		if (tok->type == TK_OP)
			follow_shape(&lx, &sh, tok);
	} while (tok->type != TK_EOF);
	return 0;
}

static void push_int(lua_State *L, ltrace_int v)
{
#if LBPF_LUA_INTEGERS
	lua_pushinteger(L, (lua_Integer)v);
#else
	lua_pushnumber(L, v);
#endif
}

/* $1: the number as tonumber("1") gives it (a float past 64 bits on 5.3+). */
static void push_param(lua_State *L, const struct ltrace_token *t)
{
	if (t->text[0] == '#') {
		lua_pushliteral(L, "#");
		return;
	}
	lua_pushlstring(L, t->text, t->len);
#if LUA_VERSION_NUM >= 503
	if (lua_stringtonumber(L, lua_tostring(L, -1)) == 0)
		lua_pushnil(L); /* digits always convert (to inf at worst); nil as tonumber() would */
	lua_remove(L, -2);
#else
	lua_Number n = lua_tonumber(L, -1);
	lua_pop(L, 1);
	lua_pushnumber(L, n);
#endif
}

void ltrace_push_token_value(lua_State *L, const struct ltrace_tokens *tt,
			     const struct ltrace_token *t)
{
	switch (t->type) {
	case TK_EOF:
		lua_pushliteral(L, "end of input");
		break;
	case TK_INT:
		push_int(L, t->v.num);
		break;
	case TK_STR:
		lua_pushlstring(L, tt->strs ? tt->strs + t->v.str_off : "", t->len);
		break;
	case TK_PARAM:
		push_param(L, t);
		break;
	case TK_OP:
		lua_pushstring(L, ltrace_op_names[t->op]);
		break;
	default:
		lua_pushlstring(L, t->text, t->len);
		break;
	}
}
