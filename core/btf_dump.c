/* BTF → C: one type as C text (lbpf_btf_type_to_c) and a whole vmlinux.h-style header. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "btf_internal.h"
#include "error.h"

#define MAX_DEPTH 64 /* declarators deeper than this only come from corrupt (looping) BTF */
#define MAX_OUTPUT (64u << 20) /* no real BTF needs more C; a hostile DAG of inline records could */
#define MAX_TYPE_OUTPUT (1u << 20) /* the same for one type (vmlinux's largest: 23 KB) */
#define MAX_INLINE_RECORDS 128 /* inline anonymous records in one definition (vmlinux: 45) */
#define PAD_LINES_MAX_BITS (8u * 4096) /* padding gaps up to this are written as bit-fields */

/* ---- a growable string -------------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	size_t limit; /* 0: MAX_OUTPUT */
	bool oom;     /* out of memory or over the limit: the text is abandoned */
};

static void sb_grow(struct sbuf *b, size_t more)
{
	if (b->oom || b->len + more + 1 <= b->cap)
		return;
	if (b->len + more + 1 > (b->limit ? b->limit : MAX_OUTPUT)) {
		b->oom = true;
		return;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	sb_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sb_putn(b, small, (size_t)n);
		return;
	}
	sb_grow(b, (size_t)n);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void sb_indent(struct sbuf *b, int n)
{
	while (n-- > 0)
		sb_putn(b, "\t", 1);
}

/* ---- a string set for unique names ---------------------------------------------------------- */

struct name_slot {
	const char *name; /* points into the BTF strings (stable) */
	uint32_t owner;   /* type id that claimed the name */
	uint32_t count;   /* how many claimants so far (for ___N suffixes) */
};

struct name_set {
	struct name_slot *slots;
	uint32_t mask;
};

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int name_set_init(struct name_set *s, uint32_t n)
{
	uint32_t cap = 64;
	while (cap < 2 * n)
		cap <<= 1;
	s->slots = calloc(cap, sizeof(*s->slots));
	s->mask = cap - 1;
	return s->slots ? 0 : -ENOMEM;
}

/* The slot for name (empty slot with name set when new). The set never fills: sized 2n. */
static struct name_slot *name_set_get(struct name_set *s, const char *name)
{
	for (uint32_t i = str_hash(name) & s->mask;; i = (i + 1) & s->mask) {
		struct name_slot *slot = &s->slots[i];
		if (!slot->name) {
			slot->name = name;
			return slot;
		}
		if (strcmp(slot->name, name) == 0)
			return slot;
	}
}

/* ---- the dumper --------------------------------------------------------------------------- */

enum { ST_NONE, ST_EMITTING, ST_DONE };

struct dump {
	const lbpf_btf *btf;
	struct sbuf *out;
	bool comments;       /* offsets as comments (single type) */
	bool full;           /* vmlinux.h mode: unique names, dependency order */
	uint8_t *state;      /* per type id (full mode) */
	char **names;        /* per type id: a renamed name, or NULL (full mode) */
	struct name_set tags, idents;
	uint32_t enum_slots; /* capacity left in idents for enumerators */
	uint32_t inline_stack[MAX_DEPTH + 2]; /* anonymous records being written inline */
	int inline_depth;
	uint32_t inline_count; /* anonymous records written inline in the current definition */
	uint8_t *align_memo; /* per type id, allocated on the first alignment asked for */
};

static void emit_decl(struct dump *d, struct sbuf *o, uint32_t id, const char *inner, int indent,
		      int depth);

static const char *type_name(const struct dump *d, uint32_t id)
{
	if (d->names && d->names[id])
		return d->names[id];
	return lbpf_btf_type_name(d->btf, id);
}

static void sep_inner(struct sbuf *o, const char *inner)
{
	if (*inner) {
		sb_putn(o, " ", 1);
		sb_puts(o, inner);
	}
}

/* Where a member would land with no explicit padding (bit positions). */
static uint64_t natural_pos(uint64_t pos, uint32_t bits, uint32_t align, bool packed)
{
	uint64_t unit = 8ull * align;
	if (packed)
		return bits ? pos : (pos + 7) / 8 * 8;
	if (!bits || pos / unit != (pos + bits - 1) / unit)
		return (pos + unit - 1) / unit * unit;
	return pos;
}

/* A member's bit offset and bitfield width, both BTF encodings (kflag and int-encoded). */
static void member_bits(const lbpf_btf *btf, const struct btf_type *t, const struct btf_member *m,
			uint64_t *off, uint32_t *bits)
{
	if (BTF_INFO_KFLAG(t->info)) {
		*off = BTF_MEMBER_BIT_OFFSET(m->offset);
		*bits = BTF_MEMBER_BITFIELD_SIZE(m->offset);
		return;
	}
	*off = m->offset;
	*bits = 0;
	const struct btf_type *mt = lbpf_btf_type(btf, lbpf_btf_resolve(btf, m->type));
	if (mt && BTF_INFO_KIND(mt->info) == BTF_KIND_INT) {
		uint32_t enc = *(const uint32_t *)(mt + 1);
		if (BTF_INT_BITS(enc) != mt->size * 8u) {
			*bits = BTF_INT_BITS(enc);
			*off += BTF_INT_OFFSET(enc);
		}
	}
}

static uint32_t member_size_bits(const lbpf_btf *btf, uint32_t type, uint32_t bits)
{
	if (bits)
		return bits;
	int64_t s = lbpf_btf_type_size(btf, type);
	return s > 0 && s < (1 << 28) ? (uint32_t)s * 8 : 0;
}

/* Alignment of a member's type, remembered per dump: nested records ask for the same types
 * again at every level they are written. Without memory for the memo, the walk is only slower. */
static uint32_t type_align(struct dump *d, uint32_t id)
{
	if (!d->align_memo)
		d->align_memo = calloc(lbpf_btf_type_count(d->btf), 1);
	return (uint32_t)lbpf_btf_type_align_memo(d->btf, id, d->align_memo);
}

static bool record_packed(struct dump *d, const struct btf_type *t, uint32_t *max_align)
{
	const lbpf_btf *btf = d->btf;
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	uint32_t max = 1;
	bool packed = false;
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		uint64_t off;
		uint32_t bits, a = type_align(d, m[i].type);
		member_bits(btf, t, &m[i], &off, &bits);
		if (!bits && off % (8ull * a))
			packed = true;
		if (bits && off / (8ull * a) != (off + bits - 1) / (8ull * a))
			packed = true;
		if (a > max)
			max = a;
	}
	if (t->size % max)
		packed = true;
	*max_align = packed ? 1 : max;
	return packed;
}

/* Anonymous bit-fields from bit pos to bit end: they fill without moving later members and,
 * unnamed, don't change the record's alignment. */
static void emit_padding(struct sbuf *o, uint64_t pos, uint64_t end, int indent)
{
	static const struct { uint32_t bits; const char *type; } chunks[] = {
		{ 64, "long" }, { 32, "int" }, { 16, "short" }, { 8, "char" },
	};
	while (pos < end && !o->oom) {
		uint32_t w = 0;
		const char *ty = "unsigned char";
		/* Real records never have gaps beyond a page (page-aligned members); a larger one
		 * (corrupt BTF: a 2 GB struct) is one byte array, not millions of lines. */
		if (pos % 8 == 0 && end - pos > PAD_LINES_MAX_BITS) {
			sb_indent(o, indent);
			sb_printf(o, "unsigned char __lbpf_pad_%" PRIu64 "[%" PRIu64 "];\n", pos / 8,
				  (end - pos) / 8);
			pos += (end - pos) / 8 * 8;
			continue;
		}
		if (pos % 8) {
			w = 8 - pos % 8;
		} else {
			for (size_t i = 0; i < 4 && !w; i++)
				if (pos % chunks[i].bits == 0 && end - pos >= chunks[i].bits) {
					w = chunks[i].bits;
					ty = chunks[i].type;
				}
		}
		if (!w || w > end - pos)
			w = (uint32_t)(end - pos < 8 ? end - pos : 8);
		sb_indent(o, indent);
		if (w == 64) /* the bulk of a large gap: no printf per line */
			sb_puts(o, "long: 64;\n");
		else
			sb_printf(o, "%s: %u;\n", ty, w);
		pos += w;
	}
}

static void emit_members(struct dump *d, struct sbuf *o, uint32_t id, int indent, int depth)
{
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	bool is_union = BTF_INFO_KIND(t->info) == BTF_KIND_UNION;
	uint32_t align;
	bool packed = record_packed(d, t, &align);
	uint64_t pos = 0;
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info) && !o->oom; i++) {
		uint64_t off;
		uint32_t bits;
		member_bits(d->btf, t, &m[i], &off, &bits);
		uint32_t a = type_align(d, m[i].type);
		if (!is_union && off > natural_pos(pos, bits, a, packed))
			emit_padding(o, pos, off, indent);
		sb_indent(o, indent);
		emit_decl(d, o, m[i].type, lbpf_btf_str(d->btf, m[i].name_off), indent, depth + 1);
		if (bits)
			sb_printf(o, ": %u", bits);
		sb_putn(o, ";", 1);
		if (d->comments) {
			if (bits)
				sb_printf(o, " /* bit %" PRIu64 " (byte %" PRIu64 "), %u bits */", off,
					  off / 8, bits);
			else
				sb_printf(o, " /* offset %" PRIu64 ", size %u */", off / 8,
					  member_size_bits(d->btf, m[i].type, 0) / 8);
		}
		sb_putn(o, "\n", 1);
		uint64_t end = off + member_size_bits(d->btf, m[i].type, bits);
		if (is_union)
			pos = end > pos ? end : pos;
		else
			pos = end;
	}
	uint64_t natural_end = (pos + 8ull * align - 1) / (8ull * align) * (8ull * align);
	if (!is_union && 8ull * t->size > natural_end)
		emit_padding(o, pos, 8ull * t->size, indent);
}

static void emit_record_body(struct dump *d, struct sbuf *o, uint32_t id, int indent, int depth)
{
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	uint32_t align;
	sb_puts(o, "{\n");
	emit_members(d, o, id, indent + 1, depth);
	sb_indent(o, indent);
	sb_putn(o, "}", 1);
	if (record_packed(d, t, &align) && BTF_INFO_VLEN(t->info))
		sb_puts(o, " __attribute__((packed))");
}

/* An anonymous record inside its own definition only comes from corrupt BTF: say so instead
 * of expanding forever. */
static void emit_inline_record(struct dump *d, struct sbuf *o, uint32_t id, int indent, int depth)
{
	for (int i = 0; i < d->inline_depth; i++)
		if (d->inline_stack[i] == id) {
			sb_puts(o, "{ /* contains itself: corrupt BTF */ }");
			return;
		}
	if (d->inline_depth > MAX_DEPTH) {
		sb_puts(o, "{ /* nested too deep */ }");
		return;
	}
	/* In C each anonymous record is written once, where it is used; BTF may share one among
	 * several users, but a DAG that multiplies them at every level only comes from corrupt
	 * BTF and would take exponential time, bounded only by the output limit. */
	if (++d->inline_count > MAX_INLINE_RECORDS) {
		sb_puts(o, "{ /* too many nested anonymous records: corrupt BTF? */ }");
		return;
	}
	d->inline_stack[d->inline_depth++] = id;
	emit_record_body(d, o, id, indent, depth);
	d->inline_depth--;
}

static const char *enum_value_name(struct dump *d, const char *name, char *buf, size_t size)
{
	if (!d->full || !d->enum_slots)
		return name;
	d->enum_slots--;
	struct name_slot *s = name_set_get(&d->idents, name);
	if (s->count++ == 0)
		return name;
	snprintf(buf, size, "%s___%u", name, s->count);
	return buf;
}

static void emit_enum_body(struct dump *d, struct sbuf *o, uint32_t id, int indent)
{
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	bool is64 = BTF_INFO_KIND(t->info) == BTF_KIND_ENUM64;
	bool is_signed = BTF_INFO_KFLAG(t->info);
	char buf[512];
	if (d->full)
		d->state[id] = ST_DONE; /* anonymous enums left over are written at the end */
	sb_puts(o, "{\n");
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
		const char *name;
		sb_indent(o, indent + 1);
		if (is64) {
			const struct btf_enum64 *e = (const struct btf_enum64 *)(t + 1) + i;
			uint64_t v = ((uint64_t)e->val_hi32 << 32) | e->val_lo32;
			name = enum_value_name(d, lbpf_btf_str(d->btf, e->name_off), buf, sizeof(buf));
			if (is_signed)
				sb_printf(o, "%s = %" PRId64 "LL,\n", name, (int64_t)v);
			else
				sb_printf(o, "%s = %" PRIu64 "ULL,\n", name, v);
		} else {
			const struct btf_enum *e = (const struct btf_enum *)(t + 1) + i;
			name = enum_value_name(d, lbpf_btf_str(d->btf, e->name_off), buf, sizeof(buf));
			if (is_signed || e->val <= INT32_MAX)
				sb_printf(o, "%s = %d,\n", name, (int32_t)e->val);
			else
				sb_printf(o, "%s = %uU,\n", name, (uint32_t)e->val);
		}
	}
	sb_indent(o, indent);
	sb_putn(o, "}", 1);
	if (t->size < 4)
		sb_puts(o, " __attribute__((packed))");
}

static const char *record_keyword(const struct btf_type *t)
{
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_UNION: return "union";
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64: return "enum";
	case BTF_KIND_FWD: return BTF_INFO_KFLAG(t->info) ? "union" : "struct";
	default: return "struct";
	}
}

/* "(int, char *)" of a function prototype. */
static void emit_params(struct dump *d, struct sbuf *o, const struct btf_type *t, int indent,
			int depth)
{
	const struct btf_param *p = (const struct btf_param *)(t + 1);
	unsigned int n = BTF_INFO_VLEN(t->info);
	sb_putn(o, "(", 1);
	if (n == 0)
		sb_puts(o, "void");
	for (unsigned int i = 0; i < n; i++) {
		if (i)
			sb_puts(o, ", ");
		if (i == n - 1 && p[i].type == 0) {
			sb_puts(o, "...");
			break;
		}
		emit_decl(d, o, p[i].type, lbpf_btf_str(d->btf, p[i].name_off), indent, depth + 1);
	}
	sb_putn(o, ")", 1);
}

/* Builds "prefix inner suffix" (parenthesised when a pointer meets an array or function). */
static char *wrap_inner(const char *prefix, const char *inner, const char *suffix, bool parens)
{
	size_t n = strlen(prefix) + strlen(inner) + strlen(suffix) + 3;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s%s%s", parens ? "(" : "", prefix, inner, parens ? ")" : "",
			 suffix);
	return s;
}

static void emit_decl_next(struct dump *d, struct sbuf *o, uint32_t next, char *inner,
			   int indent, int depth)
{
	if (!inner) {
		o->oom = true;
		return;
	}
	emit_decl(d, o, next, inner, indent, depth + 1);
	free(inner);
}

/* A declaration of type id whose declarator is inner ("x", "*p", "a[3]", or "" for none). */
static void emit_decl(struct dump *d, struct sbuf *o, uint32_t id, const char *inner, int indent,
		      int depth)
{
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	if (o->oom)
		return;
	if (depth > MAX_DEPTH) {
		sb_puts(o, "void /* type chain too deep */");
		return;
	}
	if (!t) {
		sb_puts(o, "void");
		sep_inner(o, inner);
		return;
	}
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT: case BTF_KIND_FLOAT: case BTF_KIND_TYPEDEF:
		sb_puts(o, type_name(d, id));
		sep_inner(o, inner);
		return;
	case BTF_KIND_STRUCT: case BTF_KIND_UNION: case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
	case BTF_KIND_FWD:
		sb_puts(o, record_keyword(t));
		sb_putn(o, " ", 1);
		if (*type_name(d, id))
			sb_puts(o, type_name(d, id));
		else if (BTF_INFO_KIND(t->info) == BTF_KIND_ENUM ||
			 BTF_INFO_KIND(t->info) == BTF_KIND_ENUM64)
			emit_enum_body(d, o, id, indent);
		else if (BTF_INFO_KIND(t->info) == BTF_KIND_FWD) /* no members follow a FWD */
			sb_puts(o, "/* anonymous forward declaration */");
		else
			emit_inline_record(d, o, id, indent, depth);
		sep_inner(o, inner);
		return;
	case BTF_KIND_PTR:
		emit_decl_next(d, o, t->type, wrap_inner("*", inner, "", false), indent, depth);
		return;
	case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT: {
		const char *q = BTF_INFO_KIND(t->info) == BTF_KIND_CONST ? "const"
				: BTF_INFO_KIND(t->info) == BTF_KIND_VOLATILE ? "volatile" : "restrict";
		size_t ql = strlen(q);
		/* const on an array of const: say it once (clang warns about "const const"). */
		if (strncmp(inner, q, ql) == 0 && (inner[ql] == ' ' || inner[ql] == '\0')) {
			emit_decl(d, o, t->type, inner, indent, depth + 1);
			return;
		}
		emit_decl_next(d, o, t->type, wrap_inner(q, *inner ? " " : "", inner, false), indent,
			       depth);
		return;
	}
	case BTF_KIND_TYPE_TAG: case BTF_KIND_DECL_TAG: case BTF_KIND_VAR:
		emit_decl(d, o, t->type, BTF_INFO_KIND(t->info) == BTF_KIND_VAR
				? lbpf_btf_str(d->btf, t->name_off) : inner, indent, depth + 1);
		return;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = (const struct btf_array *)(t + 1);
		char dim[24];
		snprintf(dim, sizeof(dim), "[%u]", a->nelems);
		emit_decl_next(d, o, a->type, wrap_inner("", inner, dim, inner[0] == '*'), indent,
			       depth);
		return;
	}
	case BTF_KIND_FUNC_PROTO: {
		struct sbuf params = { 0 };
		emit_params(d, &params, t, indent, depth);
		emit_decl_next(d, o, t->type, wrap_inner("", inner, params.p ? params.p : "()",
							 inner[0] == '*'), indent, depth);
		o->oom |= params.oom;
		free(params.p);
		return;
	}
	case BTF_KIND_FUNC: {
		const struct btf_type *proto = lbpf_btf_type(d->btf, t->type);
		if (!proto || BTF_INFO_KIND(proto->info) != BTF_KIND_FUNC_PROTO) {
			sb_printf(o, "/* func %s with a bad prototype */", type_name(d, id));
			return;
		}
		emit_decl(d, o, t->type, type_name(d, id), indent, depth + 1);
		return;
	}
	case BTF_KIND_DATASEC:
		sb_printf(o, "/* section %s, %u bytes */", type_name(d, id), t->size);
		return;
	default:
		sb_puts(o, "void /* unknown kind */");
		return;
	}
}

/* ---- one type --------------------------------------------------------------------------------- */

static void emit_definition(struct dump *d, struct sbuf *o, uint32_t id)
{
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	d->inline_count = 0;
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		sb_printf(o, "%s %s%s", record_keyword(t), type_name(d, id), *type_name(d, id) ? " " : "");
		emit_record_body(d, o, id, 0, 0);
		break;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		sb_printf(o, "enum %s%s", type_name(d, id), *type_name(d, id) ? " " : "");
		emit_enum_body(d, o, id, 0);
		break;
	case BTF_KIND_TYPEDEF:
		sb_puts(o, "typedef ");
		emit_decl(d, o, t->type, type_name(d, id), 0, 0);
		break;
	case BTF_KIND_DATASEC: {
		const struct btf_var_secinfo *v = (const struct btf_var_secinfo *)(t + 1);
		sb_printf(o, "/* section %s, %u bytes */\n", type_name(d, id), t->size);
		for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++) {
			emit_decl(d, o, v[i].type, "", 0, 0);
			sb_printf(o, "; /* offset %u, size %u */\n", v[i].offset, v[i].size);
		}
		return;
	}
	default:
		emit_decl(d, o, id, "", 0, 0);
		return;
	}
	sb_putn(o, ";", 1);
}

int lbpf_btf_type_to_c(const lbpf_btf *btf, uint32_t id, char *buf, size_t size)
{
	if (id >= lbpf_btf_type_count(btf))
		return lbpf_err(EINVAL, "BTF: type id %u out of range (%u types)", id,
				lbpf_btf_type_count(btf));
	struct sbuf o = { .limit = MAX_TYPE_OUTPUT };
	struct dump d = { .btf = btf, .out = &o, .comments = true };
	if (id == 0)
		sb_puts(&o, "void");
	else
		emit_definition(&d, &o, id);
	free(d.align_memo);
	if (o.oom) {
		free(o.p);
		return lbpf_err(E2BIG, "BTF: type %u as C is too large (over %u bytes: corrupt BTF?) or "
				"out of memory", id, MAX_TYPE_OUTPUT);
	}
	if (size)
		snprintf(buf, size, "%s", o.p ? o.p : "");
	int len = (int)o.len;
	free(o.p);
	return len;
}

int lbpf_btf_decl_to_c(const lbpf_btf *btf, uint32_t id, const char *name, char *buf,
		       size_t size)
{
	if (id >= lbpf_btf_type_count(btf))
		return lbpf_err(EINVAL, "BTF: type id %u out of range (%u types)", id,
				lbpf_btf_type_count(btf));
	struct sbuf o = { .limit = MAX_TYPE_OUTPUT };
	struct dump d = { .btf = btf, .out = &o };
	emit_decl(&d, &o, id, name ? name : "", 0, 0);
	free(d.align_memo);
	if (o.oom) {
		free(o.p);
		return lbpf_err(ENOMEM, "BTF: out of memory writing type %u as C", id);
	}
	if (size)
		snprintf(buf, size, "%s", o.p ? o.p : "");
	int len = (int)o.len;
	free(o.p);
	return len;
}

/* ---- whole header ----------------------------------------------------------------------------- */

static bool is_tag_kind(unsigned int kind)
{
	return kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION || kind == BTF_KIND_ENUM ||
	       kind == BTF_KIND_ENUM64;
}

static int rename_type(struct dump *d, uint32_t id, const char *name, uint32_t n)
{
	size_t len = strlen(name) + 16;
	if (!(d->names[id] = malloc(len)))
		return -ENOMEM;
	snprintf(d->names[id], len, "%s___%u", name, n);
	return 0;
}

/* Same-named but different types get name___2, name___3, ...: C needs distinct names. A FWD
 * shares the name of a struct/union of its kind. */
static int assign_names(struct dump *d)
{
	uint32_t n = lbpf_btf_type_count(d->btf);
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t id = 1; id < n; id++) {
			const struct btf_type *t = lbpf_btf_type(d->btf, id);
			unsigned int kind = BTF_INFO_KIND(t->info);
			const char *name = lbpf_btf_str(d->btf, t->name_off);
			bool fwd = kind == BTF_KIND_FWD;
			if (!*name || (pass == 0 && !is_tag_kind(kind) && kind != BTF_KIND_TYPEDEF) ||
			    (pass == 1 && !fwd))
				continue;
			/* The compiler owns __builtin_va_list & co. (with its own target's layout,
			 * not the kernel's): give the kernel's a name of ours. */
			if (kind == BTF_KIND_TYPEDEF && strncmp(name, "__builtin_", 10) == 0) {
				size_t len = strlen(name) + 8;
				if (!(d->names[id] = malloc(len)))
					return -ENOMEM;
				snprintf(d->names[id], len, "__lbpf%s", name);
				continue;
			}
			struct name_slot *s = name_set_get(kind == BTF_KIND_TYPEDEF ? &d->idents
										: &d->tags, name);
			if (s->count == 0) {
				s->owner = id;
				s->count = 1;
				continue;
			}
			const struct btf_type *owner = lbpf_btf_type(d->btf, s->owner);
			if (fwd && strcmp(record_keyword(owner), record_keyword(t)) == 0)
				continue;
			if (rename_type(d, id, name, ++s->count))
				return -ENOMEM;
		}
	}
	return 0;
}

static void need_decl(struct dump *d, uint32_t id, int depth);
static void need_complete(struct dump *d, uint32_t id, int depth);

static void emit_named(struct dump *d, uint32_t id, int depth)
{
	if (d->state[id] != ST_NONE)
		return;
	d->state[id] = ST_EMITTING;
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	unsigned int kind = BTF_INFO_KIND(t->info);
	if (kind == BTF_KIND_STRUCT || kind == BTF_KIND_UNION) {
		const struct btf_member *m = (const struct btf_member *)(t + 1);
		for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++)
			need_complete(d, m[i].type, depth + 1);
	} else if (kind == BTF_KIND_TYPEDEF) {
		need_decl(d, t->type, depth + 1);
	}
	emit_definition(d, d->out, id);
	sb_puts(d->out, "\n\n");
	d->state[id] = ST_DONE;
}

/* Members of an anonymous record (written inline): each such record is visited once. */
static void need_members(struct dump *d, uint32_t id, const struct btf_type *t, int depth)
{
	const struct btf_member *m = (const struct btf_member *)(t + 1);
	if (d->state[id] != ST_NONE)
		return;
	d->state[id] = ST_DONE;
	for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++)
		need_complete(d, m[i].type, depth + 1);
}

/* What must come first so that a declaration can name type id (pointers need no definition:
 * every struct/union is forward-declared at the top). */
static void need_decl(struct dump *d, uint32_t id, int depth)
{
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	if (!t || depth > MAX_DEPTH)
		return;
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		if (!t->name_off)
			need_members(d, id, t, depth);
		return;
	case BTF_KIND_ENUM: case BTF_KIND_ENUM64:
		if (t->name_off)
			emit_named(d, id, depth);
		return;
	case BTF_KIND_TYPEDEF:
		emit_named(d, id, depth);
		return;
	case BTF_KIND_PTR: case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG: case BTF_KIND_DECL_TAG:
		need_decl(d, t->type, depth + 1);
		return;
	case BTF_KIND_ARRAY:
		need_complete(d, ((const struct btf_array *)(t + 1))->type, depth + 1);
		return;
	case BTF_KIND_FUNC_PROTO: {
		const struct btf_param *p = (const struct btf_param *)(t + 1);
		need_decl(d, t->type, depth + 1);
		for (unsigned int i = 0; i < BTF_INFO_VLEN(t->info); i++)
			need_decl(d, p[i].type, depth + 1);
		return;
	}
	default:
		return;
	}
}

/* What must come first so that a member of type id can be declared by value. */
static void need_complete(struct dump *d, uint32_t id, int depth)
{
	const struct btf_type *t = lbpf_btf_type(d->btf, id);
	if (!t || depth > MAX_DEPTH)
		return;
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_STRUCT: case BTF_KIND_UNION:
		if (t->name_off)
			emit_named(d, id, depth);
		else
			need_members(d, id, t, depth);
		return;
	case BTF_KIND_TYPEDEF:
		emit_named(d, id, depth);
		need_complete(d, t->type, depth + 1);
		return;
	case BTF_KIND_CONST: case BTF_KIND_VOLATILE: case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG: case BTF_KIND_DECL_TAG:
		need_complete(d, t->type, depth + 1);
		return;
	case BTF_KIND_ARRAY:
		need_complete(d, ((const struct btf_array *)(t + 1))->type, depth + 1);
		return;
	default:
		need_decl(d, id, depth);
		return;
	}
}

static void emit_forward_decls(struct dump *d)
{
	uint32_t n = lbpf_btf_type_count(d->btf);
	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = lbpf_btf_type(d->btf, id);
		unsigned int kind = BTF_INFO_KIND(t->info);
		if (!t->name_off || (kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION &&
				     kind != BTF_KIND_FWD))
			continue;
		/* A FWD sharing its struct's name needs no second declaration. */
		if (kind == BTF_KIND_FWD && !d->names[id]) {
			struct name_slot *s = name_set_get(&d->tags, lbpf_btf_str(d->btf, t->name_off));
			if (s->owner != id)
				continue;
		}
		sb_printf(d->out, "%s %s;\n", record_keyword(t), type_name(d, id));
	}
	sb_putn(d->out, "\n", 1);
}

static void emit_enum_body_top(struct dump *d, uint32_t id)
{
	sb_puts(d->out, "enum ");
	emit_enum_body(d, d->out, id, 0);
	sb_puts(d->out, ";\n\n");
}

static void emit_all(struct dump *d)
{
	uint32_t n = lbpf_btf_type_count(d->btf);
	sb_puts(d->out, "/* Generated by luabpf from BTF. */\n#ifndef __VMLINUX_H__\n"
		"#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
		"#pragma clang attribute push (__attribute__((preserve_access_index)), "
		"apply_to = record)\n#endif\n\n");
	emit_forward_decls(d);
	for (uint32_t id = 1; id < n && !d->out->oom; id++) {
		const struct btf_type *t = lbpf_btf_type(d->btf, id);
		unsigned int kind = BTF_INFO_KIND(t->info);
		if (!is_tag_kind(kind) && kind != BTF_KIND_TYPEDEF)
			continue;
		if (t->name_off)
			emit_named(d, id, 0);
	}
	/* Anonymous enums nobody wrote inline still define constants programs use. */
	for (uint32_t id = 1; id < n && !d->out->oom; id++) {
		const struct btf_type *t = lbpf_btf_type(d->btf, id);
		unsigned int kind = BTF_INFO_KIND(t->info);
		if (!t->name_off && d->state[id] == ST_NONE &&
		    (kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64))
			emit_enum_body_top(d, id);
	}
	sb_puts(d->out, "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n"
		"#endif\n\n#endif /* __VMLINUX_H__ */\n");
}

/* Enumerators and typedefs share C's ordinary identifier namespace: size the set for both. */
static uint32_t count_idents(const lbpf_btf *btf)
{
	uint32_t n = 0, count = lbpf_btf_type_count(btf);
	for (uint32_t id = 1; id < count; id++) {
		const struct btf_type *t = lbpf_btf_type(btf, id);
		unsigned int kind = BTF_INFO_KIND(t->info);
		if (kind == BTF_KIND_ENUM || kind == BTF_KIND_ENUM64)
			n += BTF_INFO_VLEN(t->info);
		else if (kind == BTF_KIND_TYPEDEF)
			n++;
	}
	return n;
}

static void dump_free(struct dump *d)
{
	uint32_t n = lbpf_btf_type_count(d->btf);
	for (uint32_t id = 0; d->names && id < n; id++)
		free(d->names[id]);
	free(d->names);
	free(d->state);
	free(d->tags.slots);
	free(d->idents.slots);
	free(d->align_memo);
}

/* The whole header into a malloc'ed string. */
int lbpf_btf_dump_c_str(const lbpf_btf *btf, char **out, size_t *len)
{
	uint32_t n = lbpf_btf_type_count(btf), idents = count_idents(btf);
	struct sbuf o = { 0 };
	struct dump d = { .btf = btf, .out = &o, .full = true, .enum_slots = idents };
	*out = NULL;
	d.state = calloc(n, 1);
	d.names = calloc(n, sizeof(char *));
	int err = (!d.state || !d.names || name_set_init(&d.tags, n) ||
		   name_set_init(&d.idents, idents + 1)) ? -ENOMEM : 0;
	if (!err)
		err = assign_names(&d);
	if (!err)
		emit_all(&d);
	dump_free(&d);
	if (err || o.oom) {
		free(o.p);
		return lbpf_err(ENOMEM, "BTF: out of memory writing C");
	}
	*out = o.p;
	*len = o.len;
	return 0;
}

int lbpf_btf_dump_c(const lbpf_btf *btf, FILE *out)
{
	char *text;
	size_t len;
	int err = lbpf_btf_dump_c_str(btf, &text, &len);
	if (err)
		return err;
	size_t w = fwrite(text, 1, len, out);
	free(text);
	if (w != len || fflush(out))
		return lbpf_err(EIO, "BTF: writing C: short write");
	return 0;
}
