/* CO-RE: rewrite instructions compiled against the object's own types so they use the offsets,
 * sizes and values of a target BTF (the running kernel's, or the one given with opts.btf_path).
 *
 * Call sequence inside one object load:
 *   cache = lbpf_core_cache_new();
 *   for each program section, for each .BTF.ext core_relo record of it:
 *       lbpf_core_apply(cache, obj_btf, targets, ntargets, &rec, sec_insns, sec_insn_cnt, name);
 *   ... append subprograms, load programs; when a load fails with a verifier log:
 *       lbpf_core_explain_log(cache, name, log, buf, sizeof buf) → append buf to the error
 *   lbpf_core_cache_free(cache);
 */
#ifndef LBPF_CORE_RELOC_H
#define LBPF_CORE_RELOC_H

#include <stddef.h>
#include <stdint.h>

#include "luabpf.h"

/* Call instruction immediate that marks an unresolvable relocation (libbpf's convention): the
 * verifier reports "invalid func unknown#195896080" only when the instruction is reachable. */
#define LBPF_CORE_POISON_IMM 0xbad2310

/* Memoises candidate target types per local type and remembers poisoned instructions, for the
 * relocations of one object load (one local BTF, one set of targets). */
struct lbpf_core_cand_cache;

struct lbpf_core_cand_cache *lbpf_core_cache_new(void);
void lbpf_core_cache_free(struct lbpf_core_cand_cache *cache);

/* Applies one relocation to insns[relo->insn_off / 8].
 * local: the object's BTF. targets[0]: vmlinux (or opts.btf); targets[1..]: module BTFs split
 * over targets[0] (only their own ids are searched, and only when targets[0] has no candidate).
 * Returns 0 when applied, and also 0 when the relocation could not be resolved but the
 * instruction was poisoned (the verifier refuses it only if reachable); negative errno with an
 * lbpf_err() message naming prog_name, the instruction, the access string and the local type
 * for malformed input (bad access string, instruction not patchable, ambiguous candidates). */
int lbpf_core_apply(struct lbpf_core_cand_cache *cache, const lbpf_btf *local,
		    const lbpf_btf *const *targets, size_t ntargets,
		    const struct bpf_core_relo *relo, struct bpf_insn *insns, size_t insn_cnt,
		    const char *prog_name);

/* Given the verifier log of a failed load of prog_name, recognises a reached poisoned
 * instruction and writes into buf a readable explanation naming the relocation(s) poisoned in
 * that program. Returns 1 when the log shows a poisoned instruction (buf filled), 0 otherwise.
 * cache may be NULL (then only the generic explanation is given). */
int lbpf_core_explain_log(const struct lbpf_core_cand_cache *cache, const char *prog_name,
			  const char *log, char *buf, size_t size);

/* "field_byte_offset", "type_exists", ... ("unknown" otherwise). */
const char *lbpf_core_relo_kind_name(uint32_t kind);

/* libbpf-compatible type compatibility (used for kfunc prototypes and typed ksyms too):
 * 1 compatible, 0 not, negative errno on malformed BTF. */
int lbpf_core_types_compat(const lbpf_btf *local, uint32_t local_id, const lbpf_btf *target,
			   uint32_t target_id);

/* Length of name without its "___flavour" suffix. */
size_t lbpf_core_essential_name_len(const char *name);

#endif
