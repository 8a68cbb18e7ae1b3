/* Kernel symbols for __ksym externs: kallsyms addresses (typeless variables) and BTF ids (typed
 * variables and kfuncs).
 *
 * Loader call sequence, per .ksyms extern (vmlinux BTF as targets[0], module BTFs after it):
 *   - function (kfunc):  lbpf_ksym_find_btf(targets, n, name, BTF_KIND_FUNC, &t, &id), then
 *       lbpf_ksym_check_func(local_btf, ext->btf_id, targets[t], id); the call instruction gets
 *       src_reg = BPF_PSEUDO_KFUNC_CALL, imm = id, off = 0 for vmlinux or the fd_array slot of
 *       the module BTF fd (lbpf_ksym_module_btf_fd(module name)).
 *   - typed variable:    lbpf_ksym_find_btf(..., BTF_KIND_VAR, ...) then
 *       lbpf_ksym_check_var(local_btf, ext->btf_id, targets[t], id); ld_imm64 gets
 *       src_reg = BPF_PSEUDO_BTF_ID, imm = id, insn[1].imm = module BTF fd or 0.
 *   - typeless variable (`extern const void x __ksym`): lbpf_ksyms_load once, then
 *       lbpf_ksyms_lookup(ks, name, &addr); ld_imm64 gets the address (src_reg 0).
 *   Not found: 0 for __weak externs (for a kfunc: imm 0, which the verifier accepts in dead code),
 *   otherwise an error naming the extern.
 */
#ifndef LBPF_KSYM_H
#define LBPF_KSYM_H

#include <stddef.h>
#include <stdint.h>

#include "luabpf.h"

struct lbpf_ksyms;

/* Reads /proc/kallsyms once into a sorted index. */
int lbpf_ksyms_load(struct lbpf_ksyms **out);
void lbpf_ksyms_free(struct lbpf_ksyms *ks);
/* 0 and *addr, -ENOENT when absent, -EINVAL when the name has several different addresses,
 * -EPERM when kallsyms hides addresses (all zero: kptr_restrict). Sets lbpf_err. */
int lbpf_ksyms_lookup(const struct lbpf_ksyms *ks, const char *name, uint64_t *addr);

/* Finds a type named name of kind (BTF_KIND_VAR / BTF_KIND_FUNC) in targets[0], else in the
 * module BTFs (their own ids only). 0 with *target_idx, *type_id; -ENOENT (no message). */
int lbpf_ksym_find_btf(const lbpf_btf *const *targets, size_t ntargets, const char *name,
		       int kind, size_t *target_idx, uint32_t *type_id);
/* The extern's declared type (local VAR / FUNC id) must be compatible with the kernel's.
 * 0 or -EINVAL with a message naming the symbol. */
int lbpf_ksym_check_var(const lbpf_btf *local, uint32_t local_var_id, const lbpf_btf *target,
			uint32_t target_var_id);
int lbpf_ksym_check_func(const lbpf_btf *local, uint32_t local_func_id, const lbpf_btf *target,
			 uint32_t target_func_id);
/* fd of the loaded kernel BTF object named module_name ("vmlinux" or a module), caller closes;
 * negative errno with a message when not found. */
int lbpf_ksym_module_btf_fd(const char *module_name);

#endif
