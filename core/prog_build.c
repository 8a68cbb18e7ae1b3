/*
 * Programs built from raw instructions (bpf.asm): a one-program object with the caller's BTF,
 * func info and line info, loaded through the same path (and verifier log handling) as an
 * object's programs, so the result attaches and runs like any other program.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "btf_internal.h"
#include "error.h"
#include "internal.h"

#define FUNC_INFO_SIZE 8  /* struct bpf_func_info */
#define LINE_INFO_SIZE 16 /* struct bpf_line_info */

static void *copy_bytes(const void *src, size_t size)
{
	void *dst;

	if (!src || !size)
		return NULL;
	dst = malloc(size);
	if (dst)
		memcpy(dst, src, size);
	return dst;
}

static int check_spec(const struct lbpf_prog_build *spec)
{
	if (!spec->name || !*spec->name)
		return lbpf_err(EINVAL, "a built program needs a name");
	if (!spec->section || !*spec->section)
		return lbpf_err(EINVAL, "program '%s': no section or type given", spec->name);
	if (!spec->insns || !spec->insn_cnt)
		return lbpf_err(EINVAL, "program '%s' has no instructions", spec->name);
	if ((spec->func_info_cnt || spec->line_info_cnt) && !spec->btf)
		return lbpf_err(EINVAL, "program '%s': func/line info needs BTF", spec->name);
	return 0;
}

/* Type and attach type: the section's, then the explicit names over them. */
static int set_type(lbpf_program *prog, const struct lbpf_prog_build *spec)
{
	int t;

	lbpf_program_apply_sec_def(prog);
	if (spec->prog_type) {
		t = lbpf_prog_type_by_name(spec->prog_type);
		if (t > 0)
			prog->type = (enum bpf_prog_type)t;
		else if (prog->type == BPF_PROG_TYPE_UNSPEC)
			return lbpf_err(EINVAL, "program '%s': unknown program type '%s'", prog->name,
					spec->prog_type);
	}
	if (prog->type == BPF_PROG_TYPE_UNSPEC)
		return lbpf_err(EINVAL, "program '%s': section '%s' does not name a program type",
				prog->name, prog->sec_name);
	if (spec->attach_type) {
		t = lbpf_attach_type_by_name(spec->attach_type);
		if (t < 0)
			return lbpf_err(EINVAL, "program '%s': unknown attach type '%s'", prog->name,
					spec->attach_type);
		prog->expected_attach_type = (enum bpf_attach_type)t;
	}
	if (spec->sleepable)
		prog->prog_flags |= BPF_F_SLEEPABLE;
	prog->prog_flags |= spec->prog_flags;
	return 0;
}

static int copy_code(lbpf_program *prog, const struct lbpf_prog_build *spec)
{
	prog->insns = copy_bytes(spec->insns, spec->insn_cnt * sizeof(*spec->insns));
	prog->insn_cnt = spec->insn_cnt;
	if (spec->func_info_cnt) {
		prog->func_info = copy_bytes(spec->func_info, spec->func_info_cnt * FUNC_INFO_SIZE);
		prog->func_info_cnt = spec->func_info_cnt;
		prog->func_info_rec_size = FUNC_INFO_SIZE;
	}
	if (spec->line_info_cnt) {
		prog->line_info = copy_bytes(spec->line_info, spec->line_info_cnt * LINE_INFO_SIZE);
		prog->line_info_cnt = spec->line_info_cnt;
		prog->line_info_rec_size = LINE_INFO_SIZE;
	}
	if (!prog->insns || (spec->func_info_cnt && !prog->func_info) ||
	    (spec->line_info_cnt && !prog->line_info))
		return lbpf_err(ENOMEM, "out of memory");
	return 0;
}

/* The generated BTF, loaded into the kernel: func/line info refer to it. */
static int load_btf(lbpf_object *obj, const struct lbpf_prog_build *spec)
{
	int ret;

	if (!spec->btf)
		return 0;
	ret = lbpf_btf_open_mem(spec->btf, spec->btf_size, &obj->btf);
	if (ret)
		return lbpf_err_prefix(ret, "program '%s': generated BTF: ", spec->name);
	ret = lbpf_btf_load(obj->btf, 0);
	if (ret < 0)
		return lbpf_err_prefix(ret, "program '%s': loading its generated BTF: ", spec->name);
	return 0;
}

static int new_object(const struct lbpf_prog_build *spec, lbpf_object **out)
{
	lbpf_object *obj = calloc(1, sizeof(*obj));
	lbpf_program *prog;

	*out = obj;
	if (!obj)
		return lbpf_err(ENOMEM, "out of memory");
	obj->elf.maps_shndx = obj->elf.legacy_maps_shndx = obj->elf.text_shndx = -1;
	obj->elf.btf_shndx = obj->elf.btf_ext_shndx = -1;
	obj->name = strdup(spec->name);
	obj->built_sec_name = strdup(spec->section);
	snprintf(obj->license, sizeof(obj->license), "%s", spec->license ? spec->license : "GPL");
	obj->kversion = spec->kern_version ? spec->kern_version : lbpf_running_kversion();
	prog = lbpf_array_push((void **)&obj->progs, &obj->nprogs, sizeof(*prog));
	if (!obj->name || !obj->built_sec_name || !prog)
		return lbpf_err(ENOMEM, "out of memory");
	prog->obj = obj;
	prog->name = strdup(spec->name);
	prog->sec_name = obj->built_sec_name;
	prog->autoload = true;
	prog->fd = -1;
	if (!prog->name)
		return lbpf_err(ENOMEM, "out of memory");
	return 0;
}

int lbpf_program_build(const struct lbpf_prog_build *spec, lbpf_object **out)
{
	lbpf_object *obj = NULL;
	lbpf_program *prog;
	int ret;

	*out = NULL;
	lbpf_err_clear();
	ret = check_spec(spec);
	if (!ret)
		ret = new_object(spec, &obj);
	prog = obj && obj->nprogs ? &obj->progs[0] : NULL;
	if (!ret)
		ret = set_type(prog, spec);
	if (!ret && spec->log_level)
		ret = lbpf_program_set_log_level(prog, spec->log_level);
	if (!ret)
		ret = copy_code(prog, spec);
	if (!ret)
		ret = load_btf(obj, spec);
	if (!ret)
		ret = lbpf_program_resolve_attach_btf(obj, prog);
	if (!ret)
		ret = lbpf_program_load(prog);
	if (ret) {
		lbpf_object_close(obj);
		return ret;
	}
	obj->loaded = true;
	*out = obj;
	return 0;
}

const struct bpf_insn *lbpf_program_insns(const lbpf_program *prog, size_t *count)
{
	*count = prog->insns ? prog->insn_cnt : 0;
	return prog->insns;
}

int lbpf_program_elf_insns(const lbpf_program *prog, const struct bpf_insn **insns,
			   size_t *count)
{
	const lbpf_object *obj = prog->obj;
	const struct lbpf_func *fn;

	*insns = NULL;
	*count = 0;
	if (!obj || prog->func_idx >= obj->nfuncs || !obj->nfuncs)
		return lbpf_err(ENOENT, "program '%s' has no ELF instructions (it was built, not "
				"read from an object)", prog->name);
	fn = &obj->funcs[prog->func_idx];
	*insns = obj->code[fn->code_idx].insns + fn->insn_off;
	*count = fn->insn_cnt;
	return 0;
}
