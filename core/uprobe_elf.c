/* Where a uprobe goes: binaries found like ld.so and $PATH would, and symbol → file offset. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"

static int try_dir(const char *dir, size_t dir_len, const char *name, char *buf, size_t size)
{
	if (dir_len == 0)
		return 0;
	if ((size_t)snprintf(buf, size, "%.*s/%s", (int)dir_len, dir, name) >= size)
		return 0;
	return access(buf, R_OK) == 0;
}

/* Each entry of a ':'-separated list. */
static int try_path_list(const char *list, const char *name, char *buf, size_t size)
{
	while (list && *list) {
		const char *end = strchrnul(list, ':');

		if (try_dir(list, (size_t)(end - list), name, buf, size))
			return 1;
		list = *end ? end + 1 : end;
	}
	return 0;
}

/* Directories of /etc/ld.so.conf and the files it includes (one level of include). */
static int try_ld_so_conf(const char *conf, const char *name, char *buf, size_t size, int depth)
{
	FILE *f = fopen(conf, "re");
	char line[512];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");

		s[strcspn(s, "#\r\n")] = '\0';
		if (strncmp(s, "include", 7) == 0 && depth == 0) {
			glob_t g;

			s += 7 + strspn(s + 7, " \t");
			if (glob(s, 0, NULL, &g) == 0) {
				for (size_t i = 0; !found && i < g.gl_pathc; i++)
					found = try_ld_so_conf(g.gl_pathv[i], name, buf, size, 1);
				globfree(&g);
			}
		} else if (*s == '/') {
			found = try_dir(s, strcspn(s, " \t"), name, buf, size);
		}
	}
	fclose(f);
	return found;
}

int lbpf_resolve_binary_path(const char *binary, char *buf, size_t size)
{
	static const char *std_dirs =
		"/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib/aarch64-linux-gnu:"
		"/usr/lib/aarch64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib:/usr/local/lib";
	int found;

	if (!binary || !*binary)
		return lbpf_err(EINVAL, "no binary given for the uprobe");
	if (strchr(binary, '/')) {
		if ((size_t)snprintf(buf, size, "%s", binary) >= size)
			return lbpf_err(ENAMETOOLONG, "path too long: %s", binary);
		if (access(buf, R_OK) < 0)
			return lbpf_err(errno, "uprobe binary %s: %s", binary, strerror(errno));
		return 0;
	}
	/* A shared library name ("libc.so.6") goes through the dynamic loader's search order,
	 * anything else through $PATH. */
	if (strstr(binary, ".so"))
		found = try_path_list(getenv("LD_LIBRARY_PATH"), binary, buf, size) ||
			try_ld_so_conf("/etc/ld.so.conf", binary, buf, size, 0) ||
			try_path_list(std_dirs, binary, buf, size);
	else
		found = try_path_list(getenv("PATH"), binary, buf, size) ||
			try_path_list("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				      binary, buf, size);
	if (!found)
		return lbpf_err(ENOENT, "uprobe binary '%s' not found in the %s search path", binary,
				strstr(binary, ".so") ? "library" : "$PATH");
	return 0;
}

/* Symbol names may carry a version ("malloc@@GLIBC_2.2.5"): match the part before '@'. */
static int symbol_matches(const char *sym, const char *func)
{
	size_t len = strlen(func);

	return strncmp(sym, func, len) == 0 && (sym[len] == '\0' || sym[len] == '@');
}

static int find_symbol(Elf *elf, const char *func, uint64_t *addr)
{
	Elf_Scn *scn = NULL;
	int found = 0;

	/* .symtab first (complete, with local functions), then .dynsym. */
	for (int pass = 0; pass < 2 && !found; pass++) {
		uint32_t want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;

		scn = NULL;
		while (!found && (scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *data;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != want || !sh.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Sym sym;
				const char *name;
				int type;

				if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
					continue;
				type = GELF_ST_TYPE(sym.st_info);
				if (type != STT_FUNC && type != STT_GNU_IFUNC)
					continue;
				name = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (name && symbol_matches(name, func)) {
					*addr = sym.st_value;
					found = 1;
					break;
				}
			}
		}
	}
	return found;
}

int lbpf_elf_vaddr_to_offset(Elf *elf, uint64_t addr, bool exec_only, uint64_t *offset)
{
	size_t n;

	if (elf_getphdrnum(elf, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
		    (exec_only && !(ph.p_flags & PF_X)))
			continue;
		if (addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_memsz) { /* no wrap at 2^64 */
			*offset = addr - ph.p_vaddr + ph.p_offset;
			return 1;
		}
	}
	return 0;
}

int lbpf_elf_open_for_read(const char *path, int *fd, Elf **elf)
{
	elf_version(EV_CURRENT);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return lbpf_err(errno, "opening %s: %s", path, strerror(errno));
	*elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!*elf || elf_kind(*elf) != ELF_K_ELF) {
		if (*elf)
			elf_end(*elf);
		close(*fd);
		return lbpf_err(ENOEXEC, "%s is not an ELF file", path);
	}
	return 0;
}

int lbpf_elf_symbol_offset(const char *path, const char *func, uint64_t *offset)
{
	uint64_t addr = 0;
	Elf *elf;
	int fd, ret;

	ret = lbpf_elf_open_for_read(path, &fd, &elf);
	if (ret < 0)
		return ret;
	if (!find_symbol(elf, func, &addr))
		ret = lbpf_err(ENOENT, "function '%s' not found in the symbols of %s", func, path);
	else if (!lbpf_elf_vaddr_to_offset(elf, addr, true, offset))
		ret = lbpf_err(ENOENT, "function '%s' at %#llx in %s is in no executable segment",
			       func, (unsigned long long)addr, path);
	elf_end(elf);
	close(fd);
	return ret;
}
