/* Fuzz target: raw BTF bytes (bpf.btf.from_string), then every query a caller can make: each
 * type's name, resolution, size, alignment and C text, lookups by name, and the whole header
 * as C (the vmlinux.h writer). */
#include <stdint.h>
#include <stdlib.h>

#include "btf_internal.h"
#include "luabpf.h"

/* Each C text is bounded by the library (1 MB); the harness bounds their sum so that a BTF of
 * many large types is not reported as a hang of the writer. */
#define C_TEXT_BUDGET (256u << 10)

static void query_types(const lbpf_btf *btf)
{
	char buf[512];
	uint32_t n = lbpf_btf_type_count(btf);
	size_t written = 0;

	for (uint32_t id = 0; id < n && id < 2048; id++) {
		const char *name = lbpf_btf_type_name(btf, id);
		int len;

		lbpf_btf_resolve(btf, id);
		lbpf_btf_type_size(btf, id);
		lbpf_btf_type_align(btf, id);
		if (*name)
			lbpf_btf_find(btf, name, 0);
		if (written > C_TEXT_BUDGET)
			continue;
		if ((len = lbpf_btf_type_to_c(btf, id, buf, sizeof(buf))) > 0)
			written += (size_t)len;
		if ((len = lbpf_btf_decl_to_c(btf, id, "x", buf, sizeof(buf))) > 0)
			written += (size_t)len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lbpf_btf *btf;
	char *text;
	size_t len;

	if (lbpf_btf_open_mem(data, size, &btf))
		return 0;
	query_types(btf);
	lbpf_btf_find(btf, "task_struct", 4);
	/* The whole header is bounded by the writer (64 MB of C), which takes seconds under ASan
	 * on a loaded machine: it is fuzzed on inputs up to 32 KB (most objects' BTF), where
	 * corrupt layouts come from anyway; the kernel's BTF is covered by the specs. */
	if (size < (32u << 10) && !lbpf_btf_dump_c_str(btf, &text, &len))
		free(text);
	lbpf_btf_free(btf);
	return 0;
}
