/* Fuzz target: the .note.stapsdt notes of an ELF binary (bpf.usdt_probes): every site of probe
 * lbpf_fixture:tick (the seed is spec/fixtures/probe_target), its addresses mapped to file
 * offsets through the program headers, and its argument spec parsed as attach_usdt would. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "luabpf.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lbpf_usdt_probe sites[8];
	char path[64];
	int fd, n;

	if (size < 4 || memcmp(data, "\177ELF", 4))
		return 0;
	if ((fd = fuzz_memfd(data, size, path, sizeof(path))) < 0)
		return 0;
	n = lbpf_usdt_find(path, "lbpf_fixture", "tick", sites, 8);
	for (int i = 0; i < n && i < 8; i++) {
		struct lbpf_usdt_spec spec;

		memset(&spec, 0, sizeof(spec));
		lbpf_usdt_parse_args(sites[i].args, &spec);
	}
	close(fd);
	return 0;
}
