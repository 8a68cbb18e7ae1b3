/* Shared by the two halves of the load benchmark (bench/load_bench.c, bench/btf_bench.c). */
#ifndef LOAD_BENCH_H
#define LOAD_BENCH_H

#include <stddef.h>

/* One timed unit of work; returns 0 or a negative errno. ctx is the case's argument. */
typedef int (*bench_fn)(const void *ctx);
/* The same, for work that times itself (e.g. in a child process): stores its seconds. */
typedef int (*bench_timed_fn)(const void *ctx, double *seconds);

/* One line of output: either the plain or the self-timed functions are set. */
struct bench_case {
	const char *name;
	bench_fn luabpf;
	bench_fn libbpf;
	const void *ctx;
	bench_timed_fn luabpf_timed;
	bench_timed_fn libbpf_timed;
};

/* Seconds on the monotonic clock. */
double bench_now(void);

/* BTF parse case: open + index + free the BTF file at path (the vmlinux BTF). */
int bench_btf_luabpf(const void *path);
int bench_btf_libbpf(const void *path);

#endif
