/* USDT probes (systemtap SDT notes): find provider:name in .note.stapsdt, attach a uprobe at
 * each site with the semaphore handled by the kernel (ref_ctr_offset). */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_int.h"
#include "error.h"

#define STAPSDT_NOTE_TYPE 3
#define USDT_MAX_SITES 64

static Elf_Scn *find_section(Elf *elf, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (name && strcmp(name, want) == 0)
			return scn;
	}
	return NULL;
}

/* One note: pc, base, semaphore (3 addresses), then provider, name, args strings. */
static int parse_note(Elf *elf, const char *desc, size_t len, int addr_size, uint64_t base_addr,
		      const char *provider, const char *name, struct lbpf_usdt_probe *site)
{
	uint64_t pc = 0, base = 0, sema = 0;
	const char *prov, *nm, *args, *end = desc + len;

	if (len < 3u * (size_t)addr_size)
		return 0;
	memcpy(&pc, desc, (size_t)addr_size);
	memcpy(&base, desc + addr_size, (size_t)addr_size);
	memcpy(&sema, desc + 2 * addr_size, (size_t)addr_size);
	prov = desc + 3 * addr_size;
	/* Each string must end inside the note (no pointer arithmetic on a NULL from memchr). */
	nm = memchr(prov, 0, (size_t)(end - prov));
	if (!nm || ++nm >= end)
		return 0;
	args = memchr(nm, 0, (size_t)(end - nm));
	if (!args)
		return 0;
	args++;
	if (strcmp(prov, provider) != 0 || strcmp(nm, name) != 0)
		return 0;
	/* Prelinked or relocated files: shift by how far .stapsdt.base moved. */
	if (base_addr && base)
		pc += base_addr - base;
	memset(site, 0, sizeof(*site));
	if (!lbpf_elf_vaddr_to_offset(elf, pc, false, &site->pc_offset))
		return 0;
	/* Any PT_LOAD segment, not only executable ones: semaphores live in data. */
	if (sema && !lbpf_elf_vaddr_to_offset(elf, sema, false, &site->semaphore_offset))
		return 0;
	if (args < end)
		snprintf(site->args, sizeof(site->args), "%.*s", (int)strnlen(args, (size_t)(end - args)), args);
	return 1;
}

static int find_sites(Elf *elf, const char *provider, const char *name,
		      struct lbpf_usdt_probe *sites, int max)
{
	GElf_Shdr sh, base_sh;
	Elf_Scn *scn = find_section(elf, ".note.stapsdt", &sh);
	uint64_t base_addr = find_section(elf, ".stapsdt.base", &base_sh) ? base_sh.sh_addr : 0;
	int addr_size = gelf_getclass(elf) == ELFCLASS32 ? 4 : 8, count = 0;
	Elf_Data *data;
	GElf_Nhdr nh;
	size_t off = 0, name_off, desc_off;

	if (!scn || !(data = elf_getdata(scn, NULL)))
		return 0;
	while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		struct lbpf_usdt_probe site;

		/* The 8 name bytes include the NUL: a name without one must not be read past. */
		if (nh.n_type != STAPSDT_NOTE_TYPE || nh.n_namesz != 8 ||
		    memcmp((const char *)data->d_buf + name_off, "stapsdt", 8) != 0)
			continue;
		if (!parse_note(elf, (const char *)data->d_buf + desc_off, nh.n_descsz, addr_size,
				base_addr, provider, name, &site))
			continue;
		if (count < max)
			sites[count] = site;
		count++;
	}
	return count;
}

int lbpf_usdt_find(const char *binary, const char *provider, const char *name,
		   struct lbpf_usdt_probe *sites, int max)
{
	char path[4096];
	Elf *elf;
	int fd, ret;

	if (!provider || !name)
		return lbpf_err(EINVAL, "a USDT probe needs a provider and a name");
	if ((ret = lbpf_resolve_binary_path(binary, path, sizeof(path))) < 0)
		return ret;
	if ((ret = lbpf_elf_open_for_read(path, &fd, &elf)) < 0)
		return ret;
	ret = find_sites(elf, provider, name, sites, max);
	elf_end(elf);
	close(fd);
	return ret;
}

/* What a USDT link holds: one uprobe link per site and the spec slots it claimed. */
struct usdt_group {
	int count;
	int specs_fd; /* the object's __lbpf_usdt_specs map (our duplicate), or -1 */
	int nspecs;
	int spec_ids[USDT_MAX_SITES];
	lbpf_link *links[];
};

static int usdt_detach(lbpf_link *link)
{
	struct usdt_group *g = link->priv;

	for (int i = 0; i < g->count; i++)
		lbpf_link_free(g->links[i]);
	g->count = 0;
	/* Slots are released only once no uprobe can read them any more. */
	for (int i = 0; i < g->nspecs; i++)
		usdt_specs_release(g->specs_fd, g->spec_ids[i]);
	g->nspecs = 0;
	if (g->specs_fd >= 0)
		close(g->specs_fd);
	g->specs_fd = -1;
	return 0;
}

/* Cookie of site i: a spec slot shared by the sites with the same argument string, or, when
 * the object does not read arguments (no specs map), the site index. cookies[0..i-1] are the
 * earlier sites'. */
static int site_cookie(lbpf_program *prog, struct usdt_group *g, uint32_t max_entries,
		       const struct lbpf_usdt_probe *sites, int i, const char *probe,
		       uint64_t *cookies)
{
	struct lbpf_usdt_spec spec;
	int id, ret;

	cookies[i] = (uint64_t)i;
	if (g->specs_fd < 0)
		return 0;
	for (int j = 0; j < i; j++)
		if (strcmp(sites[j].args, sites[i].args) == 0) {
			cookies[i] = cookies[j];
			return 0;
		}
	if ((ret = lbpf_usdt_parse_args(sites[i].args, &spec)) < 0)
		return lbpf_err_prefix(ret, "program '%s': USDT %s site %d (\"%s\"): ",
				       lbpf_program_name(prog), probe, i, sites[i].args);
	if ((id = usdt_specs_claim(g->specs_fd, max_entries, &spec)) < 0)
		return lbpf_err_prefix(id, "program '%s': USDT %s: ", lbpf_program_name(prog), probe);
	g->spec_ids[g->nspecs++] = id;
	cookies[i] = (uint64_t)id;
	return 0;
}

static int attach_sites(lbpf_program *prog, const char *path, const char *probe,
			const struct lbpf_usdt_probe *sites, int n, pid_t pid, struct usdt_group *g)
{
	uint64_t cookies[USDT_MAX_SITES];
	uint32_t max_entries = 0;
	int ret = usdt_specs_open(prog, &g->specs_fd, &max_entries);

	if (ret < 0 && ret != -ENOENT)
		return ret;
	for (int i = 0; i < n; i++) {
		struct lbpf_uprobe_opts opts = { .pid = pid, .offset = sites[i].pc_offset,
						 .ref_ctr_offset = sites[i].semaphore_offset };

		if ((ret = site_cookie(prog, g, max_entries, sites, i, probe, cookies)) < 0)
			return ret;
		opts.cookie = cookies[i];
		if ((ret = lbpf_program_attach_uprobe(prog, path, NULL, &opts, &g->links[i])) < 0)
			return ret;
		g->count++;
	}
	return 0;
}

int lbpf_program_attach_usdt(lbpf_program *prog, const char *binary, const char *provider,
			     const char *name, pid_t pid, lbpf_link **out)
{
	struct lbpf_usdt_probe sites[USDT_MAX_SITES];
	struct usdt_group *g;
	char path[4096], probe[300];
	lbpf_link *link;
	int n, ret = 0;

	*out = NULL;
	if ((ret = attach_prog_fd(prog)) < 0)
		return ret;
	if ((ret = lbpf_resolve_binary_path(binary, path, sizeof(path))) < 0)
		return lbpf_err_prefix(ret, "program '%s': ", lbpf_program_name(prog));
	n = lbpf_usdt_find(path, provider, name, sites, USDT_MAX_SITES);
	if (n < 0)
		return lbpf_err_prefix(n, "program '%s': ", lbpf_program_name(prog));
	if (n == 0)
		return lbpf_err(ENOENT, "program '%s': no USDT probe %s:%s in %s",
				lbpf_program_name(prog), provider, name, path);
	if (n > USDT_MAX_SITES)
		n = USDT_MAX_SITES;
	snprintf(probe, sizeof(probe), "%s:%s", provider, name);
	g = calloc(1, sizeof(*g) + (size_t)n * sizeof(g->links[0]));
	if (!g)
		return lbpf_err(ENOMEM, "out of memory");
	g->specs_fd = -1;
	ret = attach_sites(prog, path, probe, sites, n, pid, g);
	link = ret == 0 ? lbpf_link_new(-1, "usdt %s:%s (%d site%s) program %s", path, probe, n,
					n == 1 ? "" : "s", lbpf_program_name(prog)) : NULL;
	if (!link) {
		lbpf_link tmp = { .priv = g };

		usdt_detach(&tmp);
		free(g);
		return ret ? ret : -ENOMEM;
	}
	link->priv = g;
	link->detach = usdt_detach;
	*out = link;
	return 0;
}
