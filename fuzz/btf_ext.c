/* Fuzz target: .BTF.ext (func_info, line_info, CO-RE records) against the BTF it refers to.
 * Input: [u32 n][n bytes of raw BTF][.BTF.ext bytes]; every section name the records use is
 * taken to exist with a size drawn from the name, so the deeper checks run too. */
#include <stdint.h>
#include <string.h>

#include "btf_internal.h"
#include "fuzz_util.h"
#include "luabpf.h"

static int sec_size(void *ctx, const char *sec, uint32_t *size)
{
	(void)ctx;
	if (!strcmp(sec, "missing"))
		return -1;
	*size = (uint32_t)strlen(sec) * 64;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *btf_bytes;
	size_t btf_size;
	struct lbpf_btf_ext *ext;
	lbpf_btf *btf;

	if (!fuzz_take_part(&data, &size, &btf_bytes, &btf_size) ||
	    lbpf_btf_open_mem(btf_bytes, btf_size, &btf))
		return 0;
	if (!lbpf_btf_ext_parse(data, size, btf, &ext)) {
		lbpf_btf_ext_check(ext, btf, sec_size, NULL);
		lbpf_btf_ext_find(&ext->func_info, "socket");
		lbpf_btf_ext_free(ext);
	}
	lbpf_btf_free(btf);
	return 0;
}
