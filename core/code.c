/* Code sections, the functions in them, and which of those functions are entry programs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btf_internal.h"
#include "error.h"
#include "internal.h"

void *lbpf_array_push(void **array, size_t *count, size_t elem_size)
{
	/* Grow by doubling: counts are small, but objects with hundreds of programs exist. */
	size_t n = *count;
	char *grown;

	if ((n & (n - 1)) == 0) {
		grown = realloc(*array, (n ? n * 2 : 1) * elem_size);
		if (!grown)
			return NULL;
		*array = grown;
	}
	grown = (char *)*array + n * elem_size;
	memset(grown, 0, elem_size);
	(*count)++;
	return grown;
}

static bool is_code_section(const struct lbpf_elf_sec *sec)
{
	return sec->shdr.sh_type == SHT_PROGBITS && (sec->shdr.sh_flags & SHF_EXECINSTR) &&
	       sec->size > 0;
}

static int add_code_section(lbpf_object *obj, size_t sec_idx)
{
	const struct lbpf_elf_sec *sec = &obj->elf.secs[sec_idx];
	struct lbpf_code *code;

	if (sec->size % LBPF_INSN_SIZE)
		return lbpf_err(EINVAL, "code section '%s' size %zu is not a multiple of %d",
				sec->name, sec->size, LBPF_INSN_SIZE);
	code = lbpf_array_push((void **)&obj->code, &obj->ncode, sizeof(*code));
	if (!code)
		return lbpf_err(ENOMEM, "out of memory");
	code->sec_idx = sec_idx;
	code->name = sec->name;
	code->insn_cnt = sec->size / LBPF_INSN_SIZE;
	code->insns = malloc(sec->size);
	if (!code->insns)
		return lbpf_err(ENOMEM, "out of memory");
	memcpy(code->insns, sec->data, sec->size);
	return 0;
}

int lbpf_code_of_section(const lbpf_object *obj, size_t sec_idx)
{
	for (size_t i = 0; i < obj->ncode; i++)
		if (obj->code[i].sec_idx == sec_idx)
			return (int)i;
	return -1;
}

int lbpf_func_containing(const lbpf_object *obj, size_t code_idx, size_t insn)
{
	for (size_t i = 0; i < obj->nfuncs; i++) {
		const struct lbpf_func *fn = &obj->funcs[i];

		if (fn->code_idx == code_idx && insn >= fn->insn_off &&
		    insn < fn->insn_off + fn->insn_cnt)
			return (int)i;
	}
	return -1;
}

const char *lbpf_func_name_at(const lbpf_object *obj, size_t code_idx, size_t insn)
{
	int func = lbpf_func_containing(obj, code_idx, insn);

	return func >= 0 ? obj->funcs[func].name : obj->code[code_idx].name;
}

static int add_func(lbpf_object *obj, const char *name, size_t code_idx, const GElf_Sym *sym)
{
	const struct lbpf_code *code = &obj->code[code_idx];
	struct lbpf_func *fn;

	if (sym->st_value % LBPF_INSN_SIZE || sym->st_size % LBPF_INSN_SIZE ||
	    sym->st_value / LBPF_INSN_SIZE + sym->st_size / LBPF_INSN_SIZE > code->insn_cnt ||
	    sym->st_size == 0)
		return lbpf_err(EINVAL, "function '%s' lies outside its section '%s'", name,
				code->name);
	fn = lbpf_array_push((void **)&obj->funcs, &obj->nfuncs, sizeof(*fn));
	if (!fn)
		return lbpf_err(ENOMEM, "out of memory");
	fn->name = name;
	fn->code_idx = code_idx;
	fn->insn_off = sym->st_value / LBPF_INSN_SIZE;
	fn->insn_cnt = sym->st_size / LBPF_INSN_SIZE;
	fn->global = GELF_ST_BIND(sym->st_info) != STB_LOCAL;
	return 0;
}

/* A global function of hidden visibility (libbpf's __hidden, as in its usdt.bpf.h) is static
 * to the object: as libbpf does, its BTF says so, and the verifier then checks it in its
 * callers' context rather than alone against its declared prototype. */
static void mark_hidden_static(lbpf_object *obj, const GElf_Sym *sym, const char *name)
{
	int vis = GELF_ST_VISIBILITY(sym->st_other), bind = GELF_ST_BIND(sym->st_info);
	int32_t id;
	struct btf_type *t;

	if (!obj->btf || (vis != STV_HIDDEN && vis != STV_INTERNAL) ||
	    (bind != STB_GLOBAL && bind != STB_WEAK))
		return;
	id = lbpf_btf_find(obj->btf, name, BTF_KIND_FUNC);
	t = id > 0 ? lbpf_btf_type_mut(obj->btf, (uint32_t)id) : NULL;
	if (t)
		t->info = (uint32_t)BTF_KIND_FUNC << 24 | BTF_FUNC_STATIC; /* vlen: the linkage */
}

static int collect_funcs(lbpf_object *obj)
{
	for (size_t i = 1; i < obj->elf.nsyms; i++) {
		GElf_Sym sym;
		int code_idx, ret;

		if (!lbpf_elf_sym(&obj->elf, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		code_idx = lbpf_code_of_section(obj, sym.st_shndx);
		if (code_idx < 0)
			continue;
		ret = add_func(obj, lbpf_elf_sym_name(&obj->elf, &sym), (size_t)code_idx, &sym);
		if (ret)
			return ret;
		mark_hidden_static(obj, &sym, lbpf_elf_sym_name(&obj->elf, &sym));
	}
	return 0;
}

void lbpf_program_apply_sec_def(lbpf_program *prog)
{
	const struct lbpf_sec_def *def = lbpf_sec_def_find(prog->sec_name);
	const char *slash;

	if (!def)
		return;
	prog->type = def->type;
	prog->expected_attach_type = def->attach;
	if (def->flags & LBPF_SEC_SLEEPABLE)
		prog->prog_flags |= BPF_F_SLEEPABLE;
	if (def->flags & LBPF_SEC_XDP_FRAGS)
		prog->prog_flags |= BPF_F_XDP_HAS_FRAGS;
	prog->attach_btf_kind = (def->flags & LBPF_SEC_BTF_ID) ? 1 : 0;
	slash = strchr(prog->sec_name + strlen(def->prefix), '/');
	prog->attach_name = slash ? slash + 1 : NULL;
}

static int add_program(lbpf_object *obj, size_t func_idx)
{
	const struct lbpf_func *fn = &obj->funcs[func_idx];
	lbpf_program *prog;

	prog = lbpf_array_push((void **)&obj->progs, &obj->nprogs, sizeof(*prog));
	if (!prog)
		return lbpf_err(ENOMEM, "out of memory");
	prog->name = strdup(fn->name);
	if (!prog->name)
		return lbpf_err(ENOMEM, "out of memory");
	prog->sec_name = obj->code[fn->code_idx].name;
	prog->func_idx = func_idx;
	prog->autoload = true;
	prog->autoattach = true;
	prog->fd = -1;
	lbpf_program_apply_sec_def(prog);
	return 0;
}

int lbpf_collect_code(lbpf_object *obj)
{
	int ret;

	for (size_t i = 1; i < obj->elf.nsecs; i++) {
		if (!is_code_section(&obj->elf.secs[i]))
			continue;
		ret = add_code_section(obj, i);
		if (ret)
			return ret;
	}
	ret = collect_funcs(obj);
	if (ret)
		return ret;
	/* Every function outside .text is an entry point; .text holds subprograms only. */
	for (size_t i = 0; i < obj->nfuncs; i++) {
		if (obj->code[obj->funcs[i].code_idx].sec_idx == (size_t)obj->elf.text_shndx)
			continue;
		ret = add_program(obj, i);
		if (ret)
			return ret;
	}
	/* progs point into funcs by index; set obj back-pointers once the array is final. */
	for (size_t i = 0; i < obj->nprogs; i++)
		obj->progs[i].obj = obj;
	return 0;
}
