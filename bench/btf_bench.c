/*
 * Case 1 of the load benchmark: parse the kernel's vmlinux BTF and free it again.
 * Both sides go through their "open a BTF file" entry point with the explicit path, so no
 * per-process cache can answer for either: every iteration really reads, validates and indexes
 * the ~5.5 MB of types.
 */
#include <bpf/btf.h>
#include <errno.h>

#include "load_bench.h"
#include "luabpf.h"

int bench_btf_luabpf(const void *path)
{
	lbpf_btf *btf;
	int err = lbpf_btf_open_file(path, &btf);

	if (err)
		return err;
	/* Touch the result so the work cannot be skipped: the number of types. */
	err = lbpf_btf_type_count(btf) > 1 ? 0 : -EINVAL;
	lbpf_btf_free(btf);
	return err;
}

int bench_btf_libbpf(const void *path)
{
	struct btf *btf = btf__parse(path, NULL);
	int err;

	if (!btf)
		return -errno;
	err = btf__type_cnt(btf) > 1 ? 0 : -EINVAL;
	btf__free(btf);
	return err;
}
