/* ELF reading: turns an object file image into sections and symbols, validating as it goes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "error.h"
#include "internal.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

static int check_header(Elf *elf, size_t size)
{
	GElf_Ehdr ehdr;

	if (elf_kind(elf) != ELF_K_ELF)
		return lbpf_err(EINVAL, "not an ELF file");
	if (!gelf_getehdr(elf, &ehdr))
		return lbpf_err(EINVAL, "malformed ELF header: %s", elf_errmsg(-1));
	if (ehdr.e_ident[EI_CLASS] != ELFCLASS64)
		return lbpf_err(EINVAL, "not a 64-bit ELF object (BPF objects are ELF64)");
	if (ehdr.e_machine != EM_BPF)
		return lbpf_err(EINVAL, "not a BPF object: ELF machine is %u, expected %u (EM_BPF)",
				ehdr.e_machine, EM_BPF);
	if (ehdr.e_ident[EI_DATA] != ELFDATA2LSB)
		return lbpf_err(EINVAL, "big-endian BPF objects are not supported on this host");
	if (ehdr.e_type != ET_REL)
		return lbpf_err(EINVAL, "not a relocatable BPF object (ELF type %u)", ehdr.e_type);
	if (ehdr.e_shentsize != sizeof(Elf64_Shdr) ||
	    !lbpf_array_ok(ehdr.e_shoff, ehdr.e_shnum, ehdr.e_shentsize, size))
		return lbpf_err(EINVAL, "truncated ELF file: section headers end beyond its %zu bytes",
				size);
	return 0;
}

static int read_section(struct lbpf_elf *e, Elf_Scn *scn, size_t idx)
{
	struct lbpf_elf_sec *sec = &e->secs[idx];
	Elf_Data *data;

	if (!gelf_getshdr(scn, &sec->shdr))
		return lbpf_err(EINVAL, "malformed section header %zu: %s", idx, elf_errmsg(-1));
	sec->name = elf_strptr(e->elf, e->shstrndx, sec->shdr.sh_name);
	if (!sec->name)
		return lbpf_err(EINVAL, "section %zu has a name outside the string table", idx);
	if (sec->shdr.sh_type == SHT_NOBITS) {
		sec->size = sec->shdr.sh_size;
		return 0;
	}
	data = elf_getdata(scn, NULL);
	if (!data && sec->shdr.sh_size)
		return lbpf_err(EINVAL, "section '%s' cannot be read (truncated file?): %s", sec->name,
				elf_errmsg(-1));
	if (data) {
		sec->data = data->d_buf;
		sec->size = data->d_size;
	}
	if (sec->shdr.sh_type == SHT_SYMTAB) {
		if (e->symtab)
			return lbpf_err(EINVAL, "more than one symbol table");
		if (!data || sec->shdr.sh_entsize != sizeof(Elf64_Sym))
			return lbpf_err(EINVAL, "malformed symbol table");
		e->symtab = data;
		e->nsyms = data->d_size / sizeof(Elf64_Sym);
		e->strtab_idx = sec->shdr.sh_link;
	}
	return 0;
}

static void classify_section(struct lbpf_elf *e, size_t idx)
{
	const char *name = e->secs[idx].name;

	if (!strcmp(name, ".maps"))
		e->maps_shndx = (int)idx;
	else if (!strcmp(name, "maps"))
		e->legacy_maps_shndx = (int)idx;
	else if (!strcmp(name, ".text"))
		e->text_shndx = (int)idx;
	else if (!strcmp(name, ".BTF"))
		e->btf_shndx = (int)idx;
	else if (!strcmp(name, ".BTF.ext"))
		e->btf_ext_shndx = (int)idx;
}

static int read_sections(struct lbpf_elf *e)
{
	Elf_Scn *scn = NULL;
	size_t n;

	if (elf_getshdrnum(e->elf, &n) || elf_getshdrstrndx(e->elf, &e->shstrndx))
		return lbpf_err(EINVAL, "malformed ELF section table: %s", elf_errmsg(-1));
	if (n == 0)
		return lbpf_err(EINVAL, "ELF object has no sections");
	e->secs = calloc(n, sizeof(*e->secs));
	if (!e->secs)
		return lbpf_err(ENOMEM, "out of memory reading sections");
	e->nsecs = n;
	while ((scn = elf_nextscn(e->elf, scn))) {
		size_t idx = elf_ndxscn(scn);
		int ret;

		if (idx >= n)
			return lbpf_err(EINVAL, "section index %zu out of range", idx);
		ret = read_section(e, scn, idx);
		if (ret)
			return ret;
		classify_section(e, idx);
	}
	if (!e->symtab)
		return lbpf_err(EINVAL, "BPF object has no symbol table (was it stripped?)");
	if (e->strtab_idx >= n)
		return lbpf_err(EINVAL, "symbol string table index out of range");
	return 0;
}

int lbpf_elf_open(const void *data, size_t size, struct lbpf_elf *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	e->maps_shndx = e->legacy_maps_shndx = e->text_shndx = -1;
	e->btf_shndx = e->btf_ext_shndx = -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return lbpf_err(EINVAL, "libelf initialisation failed: %s", elf_errmsg(-1));
	if (size < EI_NIDENT || memcmp(data, ELFMAG, SELFMAG))
		return lbpf_err(EINVAL, "not an ELF file (bad magic)");
	/* libelf may write through the buffer (e.g. byte-swapping), so keep our own copy. */
	e->image = malloc(size);
	if (!e->image)
		return lbpf_err(ENOMEM, "out of memory copying the object");
	memcpy(e->image, data, size);
	e->image_size = size;
	e->elf = elf_memory(e->image, size);
	if (!e->elf) {
		ret = lbpf_err(EINVAL, "cannot parse ELF: %s", elf_errmsg(-1));
		lbpf_elf_close(e);
		return ret;
	}
	ret = check_header(e->elf, size);
	if (!ret)
		ret = read_sections(e);
	if (ret)
		lbpf_elf_close(e);
	return ret;
}

void lbpf_elf_close(struct lbpf_elf *e)
{
	if (e->elf)
		elf_end(e->elf);
	free(e->secs);
	free(e->image);
	memset(e, 0, sizeof(*e));
}

bool lbpf_elf_sym(const struct lbpf_elf *e, size_t idx, GElf_Sym *sym)
{
	if (idx >= e->nsyms)
		return false;
	return gelf_getsym(e->symtab, (int)idx, sym) != NULL;
}

const char *lbpf_elf_sym_name(const struct lbpf_elf *e, const GElf_Sym *sym)
{
	const char *name = elf_strptr(e->elf, e->strtab_idx, sym->st_name);

	return name ? name : "";
}

int lbpf_elf_find_sym(const struct lbpf_elf *e, const char *name, int shndx, int type,
		      GElf_Sym *out)
{
	for (size_t i = 1; i < e->nsyms; i++) {
		if (!lbpf_elf_sym(e, i, out))
			continue;
		if ((shndx >= 0 && out->st_shndx != (size_t)shndx) ||
		    (type >= 0 && GELF_ST_TYPE(out->st_info) != type))
			continue;
		if (!strcmp(lbpf_elf_sym_name(e, out), name))
			return 0;
	}
	return -ENOENT;
}
