/* Opening BTF from files: raw BTF (mmapped: vmlinux, module split BTF) or an ELF's .BTF. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "btf_internal.h"
#include "error.h"

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

/* Whole file into malloc'ed memory (sysfs files report no useful size: read until EOF). */
static int read_all(int fd, const char *path, uint8_t **out, size_t *size)
{
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return lbpf_err(ENOMEM, "BTF: out of memory reading %s", path);
	for (;;) {
		if (len == cap) {
			uint8_t *bigger = realloc(buf, cap *= 2);
			if (!bigger) {
				free(buf);
				return lbpf_err(ENOMEM, "BTF: out of memory reading %s", path);
			}
			buf = bigger;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			free(buf);
			return lbpf_err(err, "BTF: reading %s: %s", path, strerror(err));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*size = len;
	return 0;
}

/* mmap when the file allows it (vmlinux BTF does on recent kernels), else read. */
static int load_file(const char *path, uint8_t **out, size_t *size, bool *mapped)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		return lbpf_err(err, "BTF: cannot open %s: %s", path, strerror(err));
	}
	struct stat st;
	*mapped = false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			       0);
		if (p != MAP_FAILED) {
			close(fd);
			*out = p;
			*size = (size_t)st.st_size;
			*mapped = true;
			return 0;
		}
	}
	int err = read_all(fd, path, out, size);
	close(fd);
	return err;
}

/* ---- ELF objects ---------------------------------------------------------------------------- */

struct elf_view {
	Elf *elf;
	size_t shstrndx;
	Elf_Data *symtab;
	size_t nsyms;
	size_t sym_strndx;
};

static Elf_Scn *find_section(const struct elf_view *v, const char *name)
{
	for (Elf_Scn *scn = elf_nextscn(v->elf, NULL); scn; scn = elf_nextscn(v->elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		const char *n = elf_strptr(v->elf, v->shstrndx, sh.sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

static int elf_sec_size(void *ctx, const char *sec, uint32_t *size)
{
	Elf_Scn *scn = find_section(ctx, sec);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh))
		return -ENOENT;
	*size = (uint32_t)sh.sh_size;
	return 0;
}

static int elf_var_offset(void *ctx, const char *var, uint32_t *off)
{
	const struct elf_view *v = ctx;
	for (size_t i = 0; v->symtab && i < v->nsyms; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(v->symtab, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
			continue;
		const char *n = elf_strptr(v->elf, v->sym_strndx, sym.st_name);
		if (n && strcmp(n, var) == 0) {
			*off = (uint32_t)sym.st_value;
			return 0;
		}
	}
	return -ENOENT;
}

static void find_symtab(struct elf_view *v)
{
	for (Elf_Scn *scn = elf_nextscn(v->elf, NULL); scn; scn = elf_nextscn(v->elf, scn)) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB && sh.sh_entsize) {
			v->symtab = elf_getdata(scn, NULL);
			v->nsyms = sh.sh_size / sh.sh_entsize;
			v->sym_strndx = sh.sh_link;
			return;
		}
	}
}

/* Remember every section's size so .BTF.ext records can later be checked against them. */
static int keep_sections(lbpf_btf *btf, const struct elf_view *v)
{
	size_t n = 0;
	if (elf_getshdrnum(v->elf, &n) || n == 0)
		return 0;
	btf->elf_secs = calloc(n, sizeof(*btf->elf_secs));
	if (!btf->elf_secs)
		return lbpf_err(ENOMEM, "BTF: out of memory");
	for (Elf_Scn *scn = elf_nextscn(v->elf, NULL); scn; scn = elf_nextscn(v->elf, scn)) {
		GElf_Shdr sh;
		const char *name;
		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(v->elf, v->shstrndx, sh.sh_name)))
			continue;
		struct lbpf_btf_elf_sec *s = &btf->elf_secs[btf->elf_nsecs];
		if (!(s->name = strdup(name)))
			return lbpf_err(ENOMEM, "BTF: out of memory");
		s->size = (uint32_t)sh.sh_size;
		btf->elf_nsecs++;
	}
	return 0;
}

static int keep_ext(lbpf_btf *btf, const struct elf_view *v)
{
	Elf_Scn *scn = find_section(v, ".BTF.ext");
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf || !d->d_size)
		return 0;
	if (!(btf->ext_data = malloc(d->d_size)))
		return lbpf_err(ENOMEM, "BTF: out of memory");
	memcpy(btf->ext_data, d->d_buf, d->d_size);
	btf->ext_size = d->d_size;
	return 0;
}

static int open_elf_btf(const char *path, struct elf_view *v, lbpf_btf **out)
{
	if (elf_getshdrstrndx(v->elf, &v->shstrndx))
		return lbpf_err(EINVAL, "BTF: %s: bad ELF: %s", path, elf_errmsg(-1));
	Elf_Scn *scn = find_section(v, ".BTF");
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf)
		return lbpf_err(ENOENT, "BTF: %s has no .BTF section", path);
	int err = lbpf_btf_open_mem(d->d_buf, d->d_size, out);
	if (err)
		return lbpf_err_prefix(err, "%s: ", path);
	find_symtab(v);
	err = lbpf_btf_fixup_datasecs(*out, elf_sec_size, elf_var_offset, v);
	if (!err)
		err = keep_sections(*out, v);
	if (!err)
		err = keep_ext(*out, v);
	if (err) {
		lbpf_btf_free(*out);
		*out = NULL;
		return lbpf_err_prefix(err, "%s: ", path);
	}
	return 0;
}

static int open_elf(const char *path, uint8_t *data, size_t size, lbpf_btf **out)
{
	elf_version(EV_CURRENT);
	struct elf_view v = { .elf = elf_memory((char *)data, size) };
	if (!v.elf)
		return lbpf_err(EINVAL, "BTF: %s: not a valid ELF file: %s", path, elf_errmsg(-1));
	int err = open_elf_btf(path, &v, out);
	elf_end(v.elf);
	return err;
}

/* ---- public entry points -------------------------------------------------------------------- */

static int open_path(const char *path, const lbpf_btf *base, lbpf_btf **out)
{
	uint8_t *data = NULL;
	size_t size = 0;
	bool mapped = false;
	*out = NULL;
	int err = load_file(path, &data, &size, &mapped);
	if (err)
		return err;
	if (!base && size >= 4 && memcmp(data, ELFMAG, SELFMAG) == 0) {
		err = open_elf(path, data, size, out);
		if (mapped)
			munmap(data, size);
		else
			free(data);
		return err;
	}
	bool kernel_checked = strncmp(path, "/sys/kernel/btf/", 16) == 0;
	err = lbpf_btf_parse_owned_ex(data, size, mapped, base, kernel_checked, out);
	return err ? lbpf_err_prefix(err, "%s: ", path) : 0;
}

int lbpf_btf_open_file(const char *path, lbpf_btf **out)
{
	return open_path(path, NULL, out);
}

int lbpf_btf_open_kernel(lbpf_btf **out)
{
	return open_path(VMLINUX_BTF, NULL, out);
}

int lbpf_btf_open_split_file(const char *path, const lbpf_btf *base, lbpf_btf **out)
{
	if (!base) {
		*out = NULL;
		return lbpf_err(EINVAL, "BTF: split BTF %s needs a base BTF", path);
	}
	return open_path(path, base, out);
}

/* ---- the process-wide kernel BTF ------------------------------------------------------------ */
/* Every object load relocates against the same vmlinux BTF: parse and index it once per process
 * instead of once per load. It is immutable once published (name index built up front, so no
 * lazy mutation races between threads) and lives until the library is unloaded. */

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static lbpf_btf *shared_kernel;

int lbpf_btf_kernel_shared(const lbpf_btf **out)
{
	int err = 0;

	pthread_mutex_lock(&shared_lock);
	if (!shared_kernel) {
		lbpf_btf *btf;
		err = open_path(VMLINUX_BTF, NULL, &btf);
		if (!err && (err = lbpf_btf_build_name_index(btf)))
			lbpf_btf_free(btf);
		if (!err)
			shared_kernel = btf;
	}
	pthread_mutex_unlock(&shared_lock);
	*out = err ? NULL : shared_kernel;
	return err;
}

/* On dlclose of the module (or exit): give back the mapping and the index. */
__attribute__((destructor)) static void free_shared_kernel(void)
{
	lbpf_btf_free(shared_kernel);
	shared_kernel = NULL;
}
