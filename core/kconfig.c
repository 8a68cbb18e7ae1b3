/* Kernel configuration values for .kconfig externs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

#include "error.h"
#include "kconfig.h"

struct kconfig_entry {
	char *name;
	char *value;
};

struct lbpf_kconfig {
	struct kconfig_entry *entries; /* sorted by name */
	size_t count, cap;
};

void lbpf_kconfig_free(struct lbpf_kconfig *kc)
{
	size_t i;

	if (!kc)
		return;
	for (i = 0; i < kc->count; i++) {
		free(kc->entries[i].name);
		free(kc->entries[i].value);
	}
	free(kc->entries);
	free(kc);
}

static int add_entry(struct lbpf_kconfig *kc, const char *name, size_t nlen, const char *value,
		     size_t vlen)
{
	struct kconfig_entry *e;

	if (kc->count == kc->cap) {
		size_t ncap = kc->cap ? kc->cap * 2 : 256;

		e = realloc(kc->entries, ncap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		kc->entries = e;
		kc->cap = ncap;
	}
	e = &kc->entries[kc->count];
	e->name = strndup(name, nlen);
	e->value = strndup(value, vlen);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return -ENOMEM;
	}
	kc->count++;
	return 0;
}

/* One "CONFIG_X=value" line; comments and blank lines are skipped. */
static int parse_line(struct lbpf_kconfig *kc, const char *line, size_t len)
{
	const char *eq;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len || line[0] == '#')
		return 0;
	eq = memchr(line, '=', len);
	if (!eq || eq == line || strncmp(line, "CONFIG_", 7) != 0)
		return 0; /* not a setting: tolerate, as the kernel's own scripts do */
	return add_entry(kc, line, (size_t)(eq - line), eq + 1, len - (size_t)(eq - line) - 1);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct kconfig_entry *)a)->name,
		      ((const struct kconfig_entry *)b)->name);
}

static int add_kernel_version(struct lbpf_kconfig *kc)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%u", lbpf_kernel_version());
	return add_entry(kc, "LINUX_KERNEL_VERSION", strlen("LINUX_KERNEL_VERSION"), buf,
			 strlen(buf));
}

int lbpf_kconfig_parse(const char *text, size_t len, struct lbpf_kconfig **out)
{
	struct lbpf_kconfig *kc = calloc(1, sizeof(*kc));
	size_t pos = 0;
	int err = 0;

	if (!kc)
		return lbpf_err(ENOMEM, "out of memory reading the kernel config");
	while (!err && pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		err = parse_line(kc, text + pos, end - pos);
		pos = end + 1;
	}
	if (!err)
		err = add_kernel_version(kc);
	if (err) {
		lbpf_kconfig_free(kc);
		return lbpf_err(err, "out of memory reading the kernel config");
	}
	qsort(kc->entries, kc->count, sizeof(*kc->entries), cmp_entry);
	*out = kc;
	return 0;
}

/* Whole file through zlib (which also reads uncompressed files transparently). */
static int read_config_file(const char *path, char **text, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	size_t cap = 1 << 18, used = 0;
	char *buf;
	int n;

	if (!f)
		return -errno ? -errno : -ENOENT;
	buf = malloc(cap);
	while (buf) {
		if (used == cap) {
			char *nbuf = realloc(buf, cap * 2);

			if (!nbuf) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = gzread(f, buf + used, (unsigned)(cap - used));
		if (n < 0) {
			free(buf);
			gzclose(f);
			return -EIO;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	gzclose(f);
	if (!buf)
		return -ENOMEM;
	*text = buf;
	*len = used;
	return 0;
}

int lbpf_kconfig_load(struct lbpf_kconfig **out)
{
	struct utsname u;
	char path[320];
	char *text = NULL;
	size_t len = 0;
	int err;

	err = read_config_file("/proc/config.gz", &text, &len);
	if (err && uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		err = read_config_file(path, &text, &len);
	}
	if (err)
		return lbpf_err(err, "kernel config not found: neither /proc/config.gz nor "
				"/boot/config-$(uname -r) can be read");
	err = lbpf_kconfig_parse(text, len, out);
	free(text);
	return err;
}

const char *lbpf_kconfig_get(const struct lbpf_kconfig *kc, const char *name)
{
	struct kconfig_entry key = { (char *)name, NULL }, *e;

	if (!kc || !name)
		return NULL;
	e = bsearch(&key, kc->entries, kc->count, sizeof(key), cmp_entry);
	return e ? e->value : NULL;
}

uint32_t lbpf_kernel_version(void)
{
	unsigned int a = 0, b = 0, c = 0;
	struct utsname u;

	if (uname(&u) != 0 || sscanf(u.release, "%u.%u.%u", &a, &b, &c) < 2)
		return 0;
	return (a << 16) + (b << 8) + (c > 255 ? 255 : c);
}

/* ---- storing values --------------------------------------------------------------------- */

enum kcfg_kind { KCFG_BOOL, KCFG_CHAR, KCFG_TRISTATE, KCFG_INT, KCFG_CHAR_ARRAY, KCFG_BAD };

static enum kcfg_kind classify(const lbpf_btf *btf, uint32_t type_id, bool *is_signed)
{
	const struct btf_type *t = lbpf_btf_type(btf, lbpf_btf_resolve(btf, type_id));
	uint32_t enc;

	*is_signed = false;
	if (!t)
		return KCFG_BAD;
	switch (lbpf_btf_kind(t)) {
	case BTF_KIND_INT:
		enc = BTF_INT_ENCODING(*(const uint32_t *)(t + 1));
		*is_signed = enc & BTF_INT_SIGNED;
		if (enc & BTF_INT_BOOL)
			return t->size == 1 ? KCFG_BOOL : KCFG_BAD;
		if (enc & BTF_INT_CHAR)
			return t->size == 1 ? KCFG_CHAR : KCFG_BAD;
		return KCFG_INT;
	case BTF_KIND_ENUM:
		return t->size == 4 ? KCFG_TRISTATE : KCFG_BAD;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = (const struct btf_array *)(t + 1);
		const struct btf_type *e = lbpf_btf_type(btf, lbpf_btf_resolve(btf, a->type));

		if (e && lbpf_btf_kind(e) == BTF_KIND_INT && e->size == 1 && a->nelems > 0)
			return KCFG_CHAR_ARRAY;
		return KCFG_BAD;
	}
	default:
		return KCFG_BAD;
	}
}

static int store_letter(enum kcfg_kind kind, const char *name, char v, void *dst, size_t size)
{
	if (kind == KCFG_CHAR) {
		*(char *)dst = v;
		return 0;
	}
	if (kind == KCFG_BOOL) {
		if (v == 'm')
			return lbpf_err(EINVAL, "kconfig extern '%s': value 'm' (module) cannot be "
					"a bool; declare it as enum libbpf_tristate", name);
		*(uint8_t *)dst = v == 'y';
		return 0;
	}
	if (kind == KCFG_TRISTATE && size == 4) {
		uint32_t tri = v == 'y' ? 1 : v == 'm' ? 2 : 0;

		memcpy(dst, &tri, 4);
		return 0;
	}
	return lbpf_err(EINVAL, "kconfig extern '%s': value '%c' needs a bool, char or tristate "
			"variable", name, v);
}

static int store_string(const char *name, const char *raw, void *dst, size_t size)
{
	size_t len = strlen(raw);

	if (len < 2 || raw[0] != '"' || raw[len - 1] != '"')
		return lbpf_err(EINVAL, "kconfig extern '%s': value %s is not a string", name, raw);
	len -= 2;
	if (len >= size)
		len = size - 1; /* truncated, like the compiler would for an initialiser */
	memset(dst, 0, size);
	memcpy(dst, raw + 1, len);
	return 0;
}

static bool fits(uint64_t v, bool is_signed, size_t size)
{
	if (size >= 8)
		return true;
	if (is_signed) {
		int64_t s = (int64_t)v, lim = (int64_t)1 << (size * 8 - 1);

		return s >= -lim && s < lim;
	}
	return v < ((uint64_t)1 << (size * 8));
}

static int store_int(const char *name, const char *raw, bool is_signed, void *dst, size_t size)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = is_signed ? (uint64_t)strtoll(raw, &end, 0) : strtoull(raw, &end, 0);
	if (errno || end == raw || *end)
		return lbpf_err(EINVAL, "kconfig extern '%s': value '%s' is not a number", name, raw);
	if (!fits(v, is_signed, size))
		return lbpf_err(ERANGE, "kconfig extern '%s': value %s does not fit %zu bytes", name,
				raw, size);
	memcpy(dst, &v, size); /* little endian: the low bytes come first */
	return 0;
}

int lbpf_kconfig_store(const lbpf_btf *btf, uint32_t type_id, const char *name, const char *raw,
		       void *dst, size_t size)
{
	bool is_signed;
	enum kcfg_kind kind = classify(btf, type_id, &is_signed);
	int64_t tsize = lbpf_btf_type_size(btf, type_id);

	if (!raw || !dst)
		return lbpf_err(EINVAL, "kconfig extern '%s': no value", name ? name : "?");
	if (kind == KCFG_BAD || tsize <= 0 || (size_t)tsize != size)
		return lbpf_err(EINVAL, "kconfig extern '%s': unsupported type (use bool, char, "
				"an integer, enum libbpf_tristate or a char array)", name);
	if ((raw[0] == 'y' || raw[0] == 'n' || raw[0] == 'm') && raw[1] == '\0')
		return store_letter(kind, name, raw[0], dst, size);
	if (kind == KCFG_CHAR_ARRAY)
		return store_string(name, raw, dst, size);
	if (kind == KCFG_INT)
		return store_int(name, raw, is_signed, dst, size);
	return lbpf_err(EINVAL, "kconfig extern '%s': value %s does not suit its type", name, raw);
}
