/* btf_tool: the build's BTF helper, linked against the core library.
 *   btf_tool dump [file]        C header (vmlinux.h) of a BTF file (default: the running kernel)
 *   btf_tool time [file] [n]    milliseconds to open + index the BTF, best of n (default 20)
 *   btf_tool check [file]       open, look up a few kernel types, report counts; exit 1 on error */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btf_internal.h"

static int open_btf(const char *path, lbpf_btf **btf)
{
	int err = path ? lbpf_btf_open_file(path, btf) : lbpf_btf_open_kernel(btf);
	if (err)
		fprintf(stderr, "btf_tool: %s\n", lbpf_errmsg());
	return err;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmd_dump(const char *path)
{
	lbpf_btf *btf;
	if (open_btf(path, &btf))
		return 1;
	int err = lbpf_btf_dump_c(btf, stdout);
	if (err)
		fprintf(stderr, "btf_tool: %s\n", lbpf_errmsg());
	lbpf_btf_free(btf);
	return err ? 1 : 0;
}

static int cmd_time(const char *path, int n)
{
	double best = 1e9, best_find = 1e9;
	for (int i = 0; i < n; i++) {
		lbpf_btf *btf;
		double t0 = now_ms();
		if (open_btf(path, &btf))
			return 1;
		double t1 = now_ms();
		lbpf_btf_find(btf, "task_struct", BTF_KIND_STRUCT);
		double t2 = now_ms();
		lbpf_btf_free(btf);
		if (t1 - t0 < best)
			best = t1 - t0;
		if (t2 - t1 < best_find)
			best_find = t2 - t1;
	}
	printf("open %.3f ms, first find (builds the name index) %.3f ms, best of %d\n", best,
	       best_find, n);
	return 0;
}

static int cmd_check(const char *path)
{
	lbpf_btf *btf;
	if (open_btf(path, &btf))
		return 1;
	static const char *const names[] = { "task_struct", "list_head", "sock_common" };
	int rc = 0;
	for (size_t i = 0; i < 3; i++) {
		int32_t id = lbpf_btf_find(btf, names[i], BTF_KIND_STRUCT);
		if (id < 0) {
			printf("struct %s: missing\n", names[i]);
			rc = 1;
			continue;
		}
		printf("struct %s: id %d, %lld bytes\n", names[i], id,
		       (long long)lbpf_btf_type_size(btf, (uint32_t)id));
	}
	printf("%u types\n", lbpf_btf_type_count(btf));
	lbpf_btf_free(btf);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *path = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
	if (strcmp(cmd, "dump") == 0)
		return cmd_dump(path);
	if (strcmp(cmd, "time") == 0)
		return cmd_time(path, argc > 3 ? atoi(argv[3]) : 20);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(path);
	fprintf(stderr, "usage: btf_tool dump|time|check [btf-file|-] [n]\n");
	return 2;
}
