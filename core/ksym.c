/* Kernel symbols for __ksym externs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_reloc.h"
#include "error.h"
#include "ksym.h"
#include "sys.h"

struct ksym_entry {
	uint32_t name_off; /* into names */
	uint64_t addr;
};

struct lbpf_ksyms {
	char *names;
	struct ksym_entry *entries; /* sorted by name */
	size_t count;
	int all_zero; /* kallsyms hides addresses from us */
};

void lbpf_ksyms_free(struct lbpf_ksyms *ks)
{
	if (!ks)
		return;
	free(ks->names);
	free(ks->entries);
	free(ks);
}

static int read_all(const char *path, char **out, size_t *len)
{
	size_t cap = 1 << 22, used = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !buf) {
		int err = fd < 0 ? -errno : -ENOMEM;

		free(buf);
		if (fd >= 0)
			close(fd);
		return err;
	}
	for (;;) {
		if (cap - used < 4096) {
			char *nbuf = realloc(buf, cap * 2);

			if (!nbuf)
				break;
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}

/* "ffffffff81000000 T _text\t[module]": cuts the name in place; returns 0 when parsed. */
static int parse_kallsyms_line(char *line, uint64_t *addr, char **name)
{
	char *end, *p;

	*addr = strtoull(line, &end, 16);
	if (end == line || *end != ' ' || !end[1] || end[2] != ' ')
		return -1;
	p = end + 3;
	*name = p;
	while (*p && *p != '\t' && *p != ' ' && *p != '\n')
		p++;
	*p = '\0';
	return **name ? 0 : -1;
}

static const char *entry_name(const struct lbpf_ksyms *ks, const struct ksym_entry *e)
{
	return ks->names + e->name_off;
}

static const struct lbpf_ksyms *sort_ctx;

static int cmp_entries(const void *a, const void *b)
{
	return strcmp(entry_name(sort_ctx, a), entry_name(sort_ctx, b));
}

static int index_lines(struct lbpf_ksyms *ks, size_t len)
{
	size_t cap = len / 40 + 16, pos = 0;
	int any_nonzero = 0;

	ks->entries = malloc(cap * sizeof(*ks->entries));
	if (!ks->entries)
		return -ENOMEM;
	while (pos < len) {
		char *line = ks->names + pos, *nl = strchr(line, '\n'), *name;
		uint64_t addr;

		if (nl)
			*nl = '\0';
		pos = nl ? (size_t)(nl - ks->names) + 1 : len;
		if (parse_kallsyms_line(line, &addr, &name))
			continue;
		if (ks->count == cap) {
			struct ksym_entry *e = realloc(ks->entries, cap * 2 * sizeof(*e));

			if (!e)
				return -ENOMEM;
			ks->entries = e;
			cap *= 2;
		}
		ks->entries[ks->count++] = (struct ksym_entry){ (uint32_t)(name - ks->names), addr };
		any_nonzero |= addr != 0;
	}
	ks->all_zero = ks->count && !any_nonzero;
	sort_ctx = ks;
	qsort(ks->entries, ks->count, sizeof(*ks->entries), cmp_entries);
	return 0;
}

int lbpf_ksyms_load(struct lbpf_ksyms **out)
{
	struct lbpf_ksyms *ks = calloc(1, sizeof(*ks));
	size_t len = 0;
	int err;

	if (!ks)
		return lbpf_err(ENOMEM, "out of memory reading /proc/kallsyms");
	err = read_all("/proc/kallsyms", &ks->names, &len);
	if (err) {
		free(ks);
		return lbpf_err(err, "cannot read /proc/kallsyms");
	}
	err = index_lines(ks, len);
	if (err) {
		lbpf_ksyms_free(ks);
		return lbpf_err(err, "out of memory indexing /proc/kallsyms");
	}
	*out = ks;
	return 0;
}

static long first_named(const struct lbpf_ksyms *ks, const char *name)
{
	size_t lo = 0, hi = ks->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(entry_name(ks, &ks->entries[mid]), name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ks->count && strcmp(entry_name(ks, &ks->entries[lo]), name) == 0)
		return (long)lo;
	return -1;
}

int lbpf_ksyms_lookup(const struct lbpf_ksyms *ks, const char *name, uint64_t *addr)
{
	long i = ks && name ? first_named(ks, name) : -1;
	size_t j;

	if (i < 0)
		return lbpf_err(ENOENT, "kernel symbol '%s' not found in /proc/kallsyms",
				name ? name : "?");
	if (ks->all_zero)
		return lbpf_err(EPERM, "kernel symbol '%s': /proc/kallsyms hides addresses "
				"(kptr_restrict; CAP_SYSLOG needed)", name);
	for (j = (size_t)i + 1; j < ks->count && !strcmp(entry_name(ks, &ks->entries[j]), name);
	     j++) {
		if (ks->entries[j].addr != ks->entries[i].addr)
			return lbpf_err(EINVAL, "kernel symbol '%s' is ambiguous: several symbols "
					"of that name have different addresses", name);
	}
	*addr = ks->entries[i].addr;
	return 0;
}

/* ---- BTF ids ---------------------------------------------------------------------------- */

static int find_in(const lbpf_btf *btf, uint32_t first, const char *name, int kind,
		   uint32_t *type_id)
{
	int32_t id = lbpf_btf_find(btf, name, kind);
	uint32_t n, i;

	if (id > 0 && (uint32_t)id >= first) {
		*type_id = (uint32_t)id;
		return 0;
	}
	if (first <= 1)
		return -ENOENT;
	/* Split BTF: the name index may answer with a base type first; scan the module's own. */
	n = lbpf_btf_type_count(btf);
	for (i = first; i < n; i++) {
		const struct btf_type *t = lbpf_btf_type(btf, i);

		if (t && lbpf_btf_kind(t) == kind && !strcmp(lbpf_btf_type_name(btf, i), name)) {
			*type_id = i;
			return 0;
		}
	}
	return -ENOENT;
}

int lbpf_ksym_find_btf(const lbpf_btf *const *targets, size_t ntargets, const char *name,
		       int kind, size_t *target_idx, uint32_t *type_id)
{
	uint32_t base_count;
	size_t i;

	if (!ntargets || !name)
		return -ENOENT;
	if (!find_in(targets[0], 1, name, kind, type_id)) {
		*target_idx = 0;
		return 0;
	}
	base_count = lbpf_btf_type_count(targets[0]);
	for (i = 1; i < ntargets; i++) {
		if (!find_in(targets[i], base_count, name, kind, type_id)) {
			*target_idx = i;
			return 0;
		}
	}
	return -ENOENT;
}

int lbpf_ksym_check_var(const lbpf_btf *local, uint32_t local_var_id, const lbpf_btf *target,
			uint32_t target_var_id)
{
	const struct btf_type *lv = lbpf_btf_type(local, local_var_id);
	const struct btf_type *tv = lbpf_btf_type(target, target_var_id);
	const char *name = lbpf_btf_type_name(local, local_var_id);
	uint32_t lid, tid;

	if (!lv || !tv || lbpf_btf_kind(lv) != BTF_KIND_VAR || lbpf_btf_kind(tv) != BTF_KIND_VAR)
		return lbpf_err(EINVAL, "ksym '%s': not a variable", name);
	lid = lbpf_btf_resolve(local, lv->type);
	tid = lbpf_btf_resolve(target, tv->type);
	if (lbpf_core_types_compat(local, lid, target, tid) <= 0)
		return lbpf_err(EINVAL, "ksym '%s': declared type '%s' does not match the kernel's "
				"'%s'", name, lbpf_btf_type_name(local, lid),
				lbpf_btf_type_name(target, tid));
	return 0;
}

int lbpf_ksym_check_func(const lbpf_btf *local, uint32_t local_func_id, const lbpf_btf *target,
			 uint32_t target_func_id)
{
	const struct btf_type *lf = lbpf_btf_type(local, local_func_id);
	const struct btf_type *tf = lbpf_btf_type(target, target_func_id);
	const char *name = lbpf_btf_type_name(local, local_func_id);

	if (!lf || !tf || lbpf_btf_kind(lf) != BTF_KIND_FUNC || lbpf_btf_kind(tf) != BTF_KIND_FUNC)
		return lbpf_err(EINVAL, "kfunc '%s': not a function", name);
	if (lbpf_core_types_compat(local, lf->type, target, tf->type) <= 0)
		return lbpf_err(EINVAL, "kfunc '%s': declared prototype does not match the "
				"kernel's", name);
	return 0;
}

static int btf_fd_named(uint32_t id, const char *module_name)
{
	union bpf_attr attr;
	struct bpf_btf_info info;
	char name[64];
	int fd, err;

	memset(&attr, 0, sizeof(attr));
	attr.btf_id = id;
	fd = lbpf_sys_bpf(BPF_BTF_GET_FD_BY_ID, &attr, sizeof(attr));
	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	memset(name, 0, sizeof(name));
	info.name = lbpf_ptr(name);
	info.name_len = sizeof(name);
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = lbpf_ptr(&info);
	err = lbpf_sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr));
	if (err || !info.kernel_btf || strcmp(name, module_name) != 0) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

int lbpf_ksym_module_btf_fd(const char *module_name)
{
	union bpf_attr attr;
	uint32_t id = 0;
	int fd;

	for (;;) {
		memset(&attr, 0, sizeof(attr));
		attr.start_id = id;
		if (lbpf_sys_bpf(BPF_BTF_GET_NEXT_ID, &attr, sizeof(attr)) < 0)
			break;
		id = attr.next_id;
		fd = btf_fd_named(id, module_name);
		if (fd >= 0)
			return fd;
	}
	return lbpf_err(ENOENT, "kernel BTF object '%s' not found (module not loaded?)",
			module_name);
}
