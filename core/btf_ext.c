/* .BTF.ext (func_info, line_info, core_relo per ELF section) and DATASEC fix-ups of objects. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "btf_internal.h"
#include "error.h"

struct ext_header {
	uint16_t magic;
	uint8_t version;
	uint8_t flags;
	uint32_t hdr_len;
	uint32_t func_info_off, func_info_len;
	uint32_t line_info_off, line_info_len;
	uint32_t core_relo_off, core_relo_len; /* only when hdr_len covers them */
};

#define EXT_MIN_HDR offsetof(struct ext_header, core_relo_off)

/* Walks one info block: [rec_size] then { sec_name_off, count, records } until the end.
 * With t NULL only counts sections; otherwise fills t->secs. */
static int walk_info(const uint8_t *p, uint32_t len, uint32_t min_rec, const char *what,
		     const lbpf_btf *btf, struct lbpf_btf_ext_table *t, size_t *nsecs)
{
	if (len < sizeof(uint32_t))
		return lbpf_err(EINVAL, ".BTF.ext: %s block of %u bytes has no record size", what, len);
	uint32_t rec_size;
	memcpy(&rec_size, p, sizeof(rec_size));
	if (rec_size < min_rec || rec_size % 4 || rec_size > 1024)
		return lbpf_err(EINVAL, ".BTF.ext: %s record size %u invalid (at least %u, multiple "
				"of 4)", what, rec_size, min_rec);
	uint32_t pos = sizeof(uint32_t);
	size_t n = 0;
	while (pos < len) {
		uint32_t hdr[2];
		if (len - pos < sizeof(hdr))
			return lbpf_err(EINVAL, ".BTF.ext: %s section header truncated at byte %u",
					what, pos);
		memcpy(hdr, p + pos, sizeof(hdr));
		pos += sizeof(hdr);
		const char *name = lbpf_btf_str(btf, hdr[0]);
		if (!*name)
			return lbpf_err(EINVAL, ".BTF.ext: %s section name offset %u is not a string of "
					"the BTF", what, hdr[0]);
		if (hdr[1] == 0 || !lbpf_array_ok(pos, hdr[1], rec_size, len))
			return lbpf_err(EINVAL, ".BTF.ext: %s of section '%s': %u records of %u bytes "
					"run past the end of the block", what, name, hdr[1], rec_size);
		if (t) {
			t->secs[n] = (struct lbpf_btf_ext_sec){ .sec_name = name, .rec_size = rec_size,
								 .count = hdr[1], .recs = p + pos };
		}
		n++;
		pos += hdr[1] * rec_size;
	}
	*nsecs = n;
	return 0;
}

static int parse_info(const uint8_t *body, size_t body_len, uint32_t off, uint32_t len,
		      uint32_t min_rec, const char *what, const lbpf_btf *btf,
		      struct lbpf_btf_ext_table *t)
{
	if (len == 0)
		return 0;
	if (!lbpf_range_ok(off, len, body_len) || off % 4)
		return lbpf_err(EINVAL, ".BTF.ext: %s block [%u, +%u) outside the %zu-byte body",
				what, off, len, body_len);
	size_t n;
	int err = walk_info(body + off, len, min_rec, what, btf, NULL, &n);
	if (err)
		return err;
	if (!(t->secs = calloc(n ? n : 1, sizeof(*t->secs))))
		return lbpf_err(ENOMEM, ".BTF.ext: out of memory");
	t->count = n;
	return walk_info(body + off, len, min_rec, what, btf, t, &n);
}

static int parse_ext(struct lbpf_btf_ext *ext, const lbpf_btf *btf)
{
	struct ext_header h = { 0 };
	const uint8_t *d = ext->data;
	if (ext->size < EXT_MIN_HDR)
		return lbpf_err(EINVAL, ".BTF.ext: %zu bytes is too short for a header", ext->size);
	memcpy(&h, d, EXT_MIN_HDR);
	if (h.magic == 0x9FeB)
		return lbpf_err(EINVAL, ".BTF.ext: big-endian data is not supported");
	if (h.magic != LBPF_BTF_MAGIC)
		return lbpf_err(EINVAL, ".BTF.ext: bad magic 0x%04x (expected 0xeb9f)", h.magic);
	if (h.version != BTF_VERSION)
		return lbpf_err(EINVAL, ".BTF.ext: unsupported version %u", h.version);
	if (h.hdr_len < EXT_MIN_HDR || h.hdr_len > ext->size || h.hdr_len % 4)
		return lbpf_err(EINVAL, ".BTF.ext: header length %u invalid (data %zu bytes)",
				h.hdr_len, ext->size);
	if (h.hdr_len >= sizeof(h))
		memcpy(&h, d, sizeof(h));
	const uint8_t *body = d + h.hdr_len;
	size_t body_len = ext->size - h.hdr_len;
	int err = parse_info(body, body_len, h.func_info_off, h.func_info_len,
			     sizeof(struct bpf_func_info), "func_info", btf, &ext->func_info);
	if (!err)
		err = parse_info(body, body_len, h.line_info_off, h.line_info_len,
				 sizeof(struct bpf_line_info), "line_info", btf, &ext->line_info);
	if (!err)
		err = parse_info(body, body_len, h.core_relo_off, h.core_relo_len,
				 sizeof(struct bpf_core_relo), "core_relo", btf, &ext->core_relo);
	return err;
}

int lbpf_btf_ext_parse(const void *data, size_t size, const lbpf_btf *btf,
		       struct lbpf_btf_ext **out)
{
	*out = NULL;
	struct lbpf_btf_ext *ext = calloc(1, sizeof(*ext));
	if (!ext || !(ext->data = malloc(size ? size : 1))) {
		free(ext);
		return lbpf_err(ENOMEM, ".BTF.ext: out of memory");
	}
	memcpy(ext->data, data, size);
	ext->size = size;
	int err = parse_ext(ext, btf);
	if (err) {
		lbpf_btf_ext_free(ext);
		return err;
	}
	*out = ext;
	return 0;
}

void lbpf_btf_ext_free(struct lbpf_btf_ext *ext)
{
	if (!ext)
		return;
	free(ext->func_info.secs);
	free(ext->line_info.secs);
	free(ext->core_relo.secs);
	free(ext->data);
	free(ext);
}

const struct lbpf_btf_ext_sec *lbpf_btf_ext_find(const struct lbpf_btf_ext_table *t,
						 const char *sec_name)
{
	for (size_t i = 0; i < t->count; i++)
		if (strcmp(t->secs[i].sec_name, sec_name) == 0)
			return &t->secs[i];
	return NULL;
}

/* ---- checks against the ELF and the BTF ------------------------------------------------------ */

static int check_record(const lbpf_btf *btf, const char *what, const struct lbpf_btf_ext_sec *s,
			uint32_t i, uint32_t sec_size)
{
	uint32_t r[4];
	memcpy(r, (const uint8_t *)s->recs + (size_t)i * s->rec_size, sizeof(uint32_t) * 2);
	if (r[0] % 8 || r[0] >= sec_size)
		return lbpf_err(EINVAL, ".BTF.ext: %s record %u of section '%s' points at byte %u, "
				"outside the %u-byte section", what, i, s->sec_name, r[0], sec_size);
	if (strcmp(what, "func_info") == 0) {
		const struct btf_type *t = lbpf_btf_type(btf, r[1]);
		if (!t || BTF_INFO_KIND(t->info) != BTF_KIND_FUNC)
			return lbpf_err(EINVAL, ".BTF.ext: func_info record %u of '%s': type id %u is "
					"not a FUNC", i, s->sec_name, r[1]);
	} else if (strcmp(what, "line_info") == 0) {
		memcpy(r, (const uint8_t *)s->recs + (size_t)i * s->rec_size, sizeof(uint32_t) * 3);
		if (!*lbpf_btf_str(btf, r[1]) && r[1])
			return lbpf_err(EINVAL, ".BTF.ext: line_info record %u of '%s': file name "
					"offset %u out of range", i, s->sec_name, r[1]);
		if (!*lbpf_btf_str(btf, r[2]) && r[2])
			return lbpf_err(EINVAL, ".BTF.ext: line_info record %u of '%s': line offset "
					"%u out of range", i, s->sec_name, r[2]);
	} else {
		memcpy(r, (const uint8_t *)s->recs + (size_t)i * s->rec_size, sizeof(uint32_t) * 4);
		if (r[1] == 0 || !lbpf_btf_type(btf, r[1]))
			return lbpf_err(EINVAL, ".BTF.ext: core_relo record %u of '%s': type id %u "
					"out of range", i, s->sec_name, r[1]);
		if (!*lbpf_btf_str(btf, r[2]))
			return lbpf_err(EINVAL, ".BTF.ext: core_relo record %u of '%s': access "
					"string offset %u invalid", i, s->sec_name, r[2]);
	}
	return 0;
}

static int check_table(const lbpf_btf *btf, const char *what, const struct lbpf_btf_ext_table *t,
		       int (*sec_size)(void *ctx, const char *sec, uint32_t *size), void *ctx)
{
	for (size_t s = 0; s < t->count; s++) {
		uint32_t size;
		if (sec_size(ctx, t->secs[s].sec_name, &size) < 0)
			return lbpf_err(EINVAL, ".BTF.ext: %s names section '%s', which the object "
					"does not have", what, t->secs[s].sec_name);
		for (uint32_t i = 0; i < t->secs[s].count; i++) {
			int err = check_record(btf, what, &t->secs[s], i, size);
			if (err)
				return err;
		}
	}
	return 0;
}

int lbpf_btf_ext_check(const struct lbpf_btf_ext *ext, const lbpf_btf *btf,
		       int (*sec_size)(void *ctx, const char *sec, uint32_t *size), void *ctx)
{
	int err = check_table(btf, "func_info", &ext->func_info, sec_size, ctx);
	if (!err)
		err = check_table(btf, "line_info", &ext->line_info, sec_size, ctx);
	if (!err)
		err = check_table(btf, "core_relo", &ext->core_relo, sec_size, ctx);
	return err;
}

/* ---- DATASEC fix-ups -------------------------------------------------------------------------- */

static int cmp_secinfo(const void *a, const void *b)
{
	const struct btf_var_secinfo *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int fixup_datasec(lbpf_btf *btf, uint32_t id, struct btf_type *t,
			 int (*sec_size)(void *ctx, const char *sec, uint32_t *size),
			 int (*var_offset)(void *ctx, const char *var, uint32_t *off), void *ctx)
{
	const char *sec = lbpf_btf_str(btf, t->name_off);
	uint32_t size;
	if (sec_size(ctx, sec, &size) < 0)
		return 0; /* .kconfig/.ksyms and friends: externs, not ELF sections */
	t->size = size;
	struct btf_var_secinfo *v = (struct btf_var_secinfo *)(t + 1);
	unsigned int vlen = BTF_INFO_VLEN(t->info);
	for (unsigned int i = 0; i < vlen; i++) {
		const struct btf_type *var = lbpf_btf_type(btf, v[i].type);
		if (!var || BTF_INFO_KIND(var->info) != BTF_KIND_VAR)
			return lbpf_err(EINVAL, "BTF: DATASEC [%u] '%s' entry %u is not a VAR", id, sec, i);
		const char *name = lbpf_btf_str(btf, var->name_off);
		uint32_t off;
		if (var_offset(ctx, name, &off) == 0)
			v[i].offset = off;
		if (!lbpf_range_ok(v[i].offset, v[i].size, size))
			return lbpf_err(EINVAL, "BTF: variable '%s' [%u, +%u) lies outside section '%s' "
					"(%u bytes)", name, v[i].offset, v[i].size, sec, size);
	}
	/* The kernel wants the variables in offset order. */
	qsort(v, vlen, sizeof(*v), cmp_secinfo);
	return 0;
}

int lbpf_btf_fixup_datasecs(lbpf_btf *btf,
			    int (*sec_size)(void *ctx, const char *sec, uint32_t *size),
			    int (*var_offset)(void *ctx, const char *var, uint32_t *off), void *ctx)
{
	int err = lbpf_btf_make_writable(btf);
	if (err)
		return err;
	for (uint32_t id = btf->start_id; id < lbpf_btf_type_count(btf); id++) {
		struct btf_type *t = lbpf_btf_type_mut(btf, id);
		if (BTF_INFO_KIND(t->info) != BTF_KIND_DATASEC)
			continue;
		err = fixup_datasec(btf, id, t, sec_size, var_offset, ctx);
		if (err)
			return err;
	}
	return 0;
}
