/* Fuzz target: CO-RE access strings ("0:1:2") parsed against a BTF and matched against a
 * candidate of the same BTF. Input: [u32 n][n bytes of raw BTF][u32 type id][u32 relocation
 * kind][access string]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "btf_internal.h"
#include "core_spec.h"
#include "fuzz_util.h"
#include "luabpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *btf_bytes;
	size_t btf_size;
	lbpf_btf *btf;
	uint32_t type_id, kind;
	struct core_spec *local, *targ;
	const char *why = NULL;
	char *access, text[256];

	if (!fuzz_take_part(&data, &size, &btf_bytes, &btf_size))
		return 0;
	type_id = fuzz_take_u32(&data, &size);
	kind = fuzz_take_u32(&data, &size) % 16;
	if (lbpf_btf_open_mem(btf_bytes, btf_size, &btf))
		return 0;
	access = strndup((const char *)data, size);
	local = calloc(1, sizeof(*local));
	targ = calloc(1, sizeof(*targ));
	if (access && local && targ && !core_spec_parse(btf, type_id, access, kind, local, &why)) {
		core_spec_describe(local, text, sizeof(text));
		core_spec_match(local, btf, local->root_id, targ);
		core_types_match(btf, type_id, btf, type_id);
	}
	free(access);
	free(local);
	free(targ);
	lbpf_btf_free(btf);
	return 0;
}
