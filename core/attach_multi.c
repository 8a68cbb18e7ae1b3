/* kprobe.multi (fprobe, 5.18+) and uprobe.multi (6.6+): one bpf_link on many functions, chosen
 * by a glob pattern as libbpf does (kernel functions from tracefs available_filter_functions,
 * user functions from the binary's symbol tables). */
#include <errno.h>
#include <fnmatch.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"
#include "sys.h"

#define MULTI_RETURN 1u /* BPF_F_KPROBE_MULTI_RETURN, BPF_F_UPROBE_MULTI_RETURN */

/* A growing array of names or offsets. */
struct multi_targets {
	char **names;
	uint64_t *offsets;
	size_t count, cap;
};

static int targets_grow(struct multi_targets *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	char **names = realloc(t->names, cap * sizeof(*names));
	uint64_t *offsets;

	if (!names)
		return -ENOMEM;
	t->names = names;
	offsets = realloc(t->offsets, cap * sizeof(*offsets));
	if (!offsets)
		return -ENOMEM;
	t->offsets = offsets;
	t->cap = cap;
	return 0;
}

static int targets_add(struct multi_targets *t, const char *name, uint64_t offset)
{
	for (size_t i = 0; i < t->count; i++)
		if (t->offsets[i] == offset && !strcmp(t->names[i], name))
			return 0; /* listed twice (kernel functions of two modules, aliases) */
	if (t->count == t->cap && targets_grow(t) < 0)
		return -ENOMEM;
	if (!(t->names[t->count] = strdup(name)))
		return -ENOMEM;
	t->offsets[t->count++] = offset;
	return 0;
}

static void targets_free(struct multi_targets *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->names[i]);
	free(t->names);
	free(t->offsets);
}

/* ---- kprobe.multi ------------------------------------------------------------------------- */

static FILE *open_filter_functions(void)
{
	static const char *const paths[] = { "/sys/kernel/tracing/available_filter_functions",
					     "/sys/kernel/debug/tracing/available_filter_functions" };

	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(paths[i], "re");

		if (f)
			return f;
	}
	return NULL;
}

/* Kernel functions matching pattern that ftrace can attach to (what fprobe needs). */
static int kernel_functions_matching(const char *pattern, struct multi_targets *t)
{
	FILE *f = open_filter_functions();
	char line[512];
	int ret = 0;

	if (!f)
		return -errno ? -errno : -ENOENT;
	while (ret == 0 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\n")] = '\0'; /* "func [module]" */
		if (line[0] && !fnmatch(pattern, line, 0))
			ret = targets_add(t, line, 0);
	}
	fclose(f);
	return ret;
}

/* One kprobe.multi link on the functions of t; what names them in messages and the link's
 * description ("vfs_*", "3 functions"). */
static int attach_kprobe_targets(lbpf_program *prog, int prog_fd, struct multi_targets *t,
				 const char *what, bool retprobe, lbpf_link **out)
{
	struct {
		uint32_t flags, cnt;
		uint64_t syms, addrs, cookies;
	} multi = { 0 };
	int fd;

	multi.flags = retprobe ? MULTI_RETURN : 0;
	multi.cnt = (uint32_t)t->count;
	multi.syms = lbpf_ptr(t->names);
	fd = attach_link_create(prog_fd, 0, BPF_TRACE_KPROBE_MULTI, 0, &multi, sizeof(multi));
	if (fd < 0)
		return lbpf_err(fd, "program '%s': %s.multi '%s' (%zu functions): %s",
				lbpf_program_name(prog), retprobe ? "kretprobe" : "kprobe", what,
				t->count, fd == -EOPNOTSUPP || fd == -EINVAL
				? "this kernel has no kprobe_multi links (needs 5.18+ with CONFIG_FPROBE)"
				: strerror(-fd));
	*out = attach_bpf_link_new(fd, "%s.multi %s (%zu functions) program %s",
				   retprobe ? "kretprobe" : "kprobe", what, t->count,
				   lbpf_program_name(prog));
	return *out ? 0 : -ENOMEM;
}

int lbpf_program_attach_kprobe_multi(lbpf_program *prog, const char *pattern, bool retprobe,
				     lbpf_link **out)
{
	struct multi_targets t = { 0 };
	int prog_fd = attach_prog_fd(prog), ret;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (!pattern || !*pattern)
		return lbpf_err(EINVAL, "program '%s': kprobe.multi needs a function pattern",
				lbpf_program_name(prog));
	ret = kernel_functions_matching(pattern, &t);
	if (ret == -ENOENT || ret == -EACCES)
		ret = lbpf_err(ret, "program '%s': kprobe.multi: cannot read available_filter_functions "
			       "(is tracefs mounted at /sys/kernel/tracing?)", lbpf_program_name(prog));
	else if (ret < 0)
		ret = lbpf_err(ret, "out of memory");
	else if (t.count == 0)
		ret = lbpf_err(ENOENT, "program '%s': kprobe.multi: no kernel function matches '%s'",
			       lbpf_program_name(prog), pattern);
	if (ret == 0)
		ret = attach_kprobe_targets(prog, prog_fd, &t, pattern, retprobe, out);
	targets_free(&t);
	return ret;
}

int lbpf_program_attach_kprobe_multi_syms(lbpf_program *prog, const char *const *funcs,
					  size_t count, bool retprobe, lbpf_link **out)
{
	struct multi_targets t = { 0 };
	char what[32];
	int prog_fd = attach_prog_fd(prog), ret = 0;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (count == 0)
		return lbpf_err(EINVAL, "program '%s': kprobe.multi needs at least one function",
				lbpf_program_name(prog));
	for (size_t i = 0; i < count && ret == 0; i++)
		ret = funcs[i] && *funcs[i] ? targets_add(&t, funcs[i], 0)
		      : lbpf_err(EINVAL, "program '%s': kprobe.multi: function %zu is empty",
				 lbpf_program_name(prog), i + 1);
	if (ret == -ENOMEM)
		ret = lbpf_err(ret, "out of memory");
	snprintf(what, sizeof(what), "%zu listed", count);
	if (ret == 0)
		ret = attach_kprobe_targets(prog, prog_fd, &t, count == 1 ? funcs[0] : what, retprobe, out);
	targets_free(&t);
	return ret;
}

/* ---- uprobe.multi -------------------------------------------------------------------------- */

/* Defined functions of one symbol table matching pattern, as file offsets. */
static int scan_symtab(Elf *elf, Elf_Scn *scn, const char *pattern, struct multi_targets *t)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	GElf_Shdr shdr;
	GElf_Sym sym;

	if (!data || !gelf_getshdr(scn, &shdr) || !shdr.sh_entsize)
		return 0;
	for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
		const char *name;
		uint64_t offset;

		if (!gelf_getsym(data, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		name = elf_strptr(elf, shdr.sh_link, sym.st_name);
		if (!name || fnmatch(pattern, name, 0))
			continue;
		if (lbpf_elf_vaddr_to_offset(elf, sym.st_value, true, &offset) < 0)
			continue;
		if (targets_add(t, name, offset) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int user_functions_matching(const char *path, const char *pattern,
				   struct multi_targets *t)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr shdr;
	Elf *elf;
	int fd, ret = lbpf_elf_open_for_read(path, &fd, &elf);

	if (ret < 0)
		return ret;
	while (ret == 0 && (scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &shdr) &&
		    (shdr.sh_type == SHT_SYMTAB || shdr.sh_type == SHT_DYNSYM))
			ret = scan_symtab(elf, scn, pattern, t);
	elf_end(elf);
	close(fd);
	return ret < 0 ? lbpf_err(ret, "out of memory") : 0;
}

int lbpf_program_attach_uprobe_multi(lbpf_program *prog, const char *binary, const char *pattern,
				     const struct lbpf_uprobe_multi_opts *opts, lbpf_link **out)
{
	struct multi_targets t = { 0 };
	struct {
		uint64_t path, offsets, ref_ctr_offsets, cookies;
		uint32_t cnt, flags, pid;
	} multi = { 0 };
	char path[4096];
	bool ret_probe = opts && opts->retprobe;
	int prog_fd = attach_prog_fd(prog), ret, fd;

	*out = NULL;
	if (prog_fd < 0)
		return prog_fd;
	if (!binary || !pattern || !*pattern)
		return lbpf_err(EINVAL, "program '%s': uprobe.multi needs a binary and a function "
				"pattern", lbpf_program_name(prog));
	if ((ret = lbpf_resolve_binary_path(binary, path, sizeof(path))) < 0)
		return ret;
	if ((ret = user_functions_matching(path, pattern, &t)) < 0) {
		targets_free(&t);
		return ret;
	}
	if (t.count == 0) {
		targets_free(&t);
		return lbpf_err(ENOENT, "program '%s': uprobe.multi: no function of %s matches '%s'",
				lbpf_program_name(prog), path, pattern);
	}
	multi.path = lbpf_ptr(path);
	multi.offsets = lbpf_ptr(t.offsets);
	multi.cnt = (uint32_t)t.count;
	multi.flags = ret_probe ? MULTI_RETURN : 0;
	multi.pid = opts ? (uint32_t)opts->pid : 0;
	fd = attach_link_create(prog_fd, 0, LBPF_ATTACH_TRACE_UPROBE_MULTI, 0, &multi, sizeof(multi));
	if (fd < 0) {
		ret = lbpf_err(fd, "program '%s': %s.multi %s:%s (%zu functions): %s",
			       lbpf_program_name(prog), ret_probe ? "uretprobe" : "uprobe", path,
			       pattern, t.count, fd == -EOPNOTSUPP || fd == -EINVAL
			       ? "this kernel has no uprobe_multi links (needs 6.6+)" : strerror(-fd));
		targets_free(&t);
		return ret;
	}
	*out = attach_bpf_link_new(fd, "%s.multi %s:%s (%zu functions) program %s",
				   ret_probe ? "uretprobe" : "uprobe", path, pattern, t.count,
				   lbpf_program_name(prog));
	targets_free(&t);
	return *out ? 0 : -ENOMEM;
}
