/* Fuzz target: a USDT argument spec as written in a probe's note ("-4@%edi 8@-8(%rbp) 4@$5"),
 * parsed into what the BPF side reads (bpf.usdt_args). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "luabpf.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lbpf_usdt_spec spec;
	char *text = strndup((const char *)data, size);

	if (!text)
		return 0;
	memset(&spec, 0, sizeof(spec));
	lbpf_usdt_parse_args(text, &spec);
	free(text);
	return 0;
}
