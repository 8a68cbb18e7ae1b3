/* CO-RE access specs: parsing an access string ("0:1:2") against the local BTF, and matching a
 * local spec against a candidate target type. Internal to core_reloc.c. */
#ifndef LBPF_CORE_SPEC_H
#define LBPF_CORE_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "luabpf.h"

#define CORE_SPEC_MAX_LEN 64

/* One step of an access: a named member (name set), an array element or the root index. */
struct core_access {
	uint32_t type_id; /* the struct/union/enum holding the member, or the element type */
	uint32_t idx;
	const char *name; /* NULL for array-like steps */
};

struct core_spec {
	const lbpf_btf *btf;
	uint32_t root_id;
	uint32_t kind;                              /* enum bpf_core_relo_kind */
	struct core_access acc[CORE_SPEC_MAX_LEN]; /* named steps and array steps */
	int len;
	uint32_t raw[CORE_SPEC_MAX_LEN];            /* every index, anonymous members included */
	int raw_len;
	uint64_t bit_offset;
};

bool core_kind_is_field(uint32_t kind);
bool core_kind_is_type(uint32_t kind);
bool core_kind_is_enumval(uint32_t kind);

/* The type behind modifiers and typedefs; *id_out gets its id. NULL for void/invalid. */
const struct btf_type *core_skip_mods(const lbpf_btf *btf, uint32_t id, uint32_t *id_out);
bool core_is_composite(const struct btf_type *t);
bool core_is_any_enum(const struct btf_type *t);
uint32_t core_member_bit_offset(const struct btf_type *t, uint32_t idx);
uint32_t core_member_bitfield_size(const struct btf_type *t, uint32_t idx);
/* Byte size of a type (pointers are 8 bytes); negative errno when sizeless. */
int64_t core_type_size(const lbpf_btf *btf, uint32_t id);

/* Parses spec_str for a relocation of kind on type_id. 0 or negative errno; *why explains. */
int core_spec_parse(const lbpf_btf *btf, uint32_t type_id, const char *spec_str, uint32_t kind,
		    struct core_spec *spec, const char **why);
/* Matches local against candidate target type targ_id: 1 match (targ filled), 0 no match,
 * negative errno on malformed BTF. */
int core_spec_match(const struct core_spec *local, const lbpf_btf *targ_btf, uint32_t targ_id,
		    struct core_spec *targ);
/* Type matching of TYPE_MATCHES (stricter than compatibility). */
int core_types_match(const lbpf_btf *local, uint32_t local_id, const lbpf_btf *targ,
		     uint32_t targ_id);
/* Writes a human form of the access ("struct task_struct.real_parent->tgid"-like) into buf. */
void core_spec_describe(const struct core_spec *spec, char *buf, size_t size);

#endif
