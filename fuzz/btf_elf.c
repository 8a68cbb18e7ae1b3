/* Fuzz target: BTF inside an ELF file (bpf.btf.open on an object): the .BTF section found
 * through libelf, its DATASEC sizes and offsets fixed up from the section headers and symbols,
 * the .BTF.ext bytes and section sizes kept. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "btf_internal.h"
#include "fuzz_util.h"
#include "luabpf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], buf[256];
	lbpf_btf *btf;
	int fd;

	if (size < 4 || memcmp(data, "\177ELF", 4)) /* raw BTF is the btf target's job */
		return 0;
	if ((fd = fuzz_memfd(data, size, path, sizeof(path))) < 0)
		return 0;
	if (!lbpf_btf_open_file(path, &btf)) {
		for (uint32_t id = 0; id < lbpf_btf_type_count(btf) && id < 1024; id++)
			lbpf_btf_type_to_c(btf, id, buf, sizeof(buf));
		lbpf_btf_free(btf);
	}
	close(fd);
	return 0;
}
