/*
 * luabpf against libbpf on the same work, in one run (issue 3, `make bench-load`):
 *   btf-parse   open + index + free /sys/kernel/btf/vmlinux           (bench/btf_bench.c)
 *   core-load   open + load + close bpf/bench_core.bpf.o: CO-RE relocations against the running
 *               kernel, four maps, .data/.rodata/.bss, static and global subprograms
 *   cold-load   the same, but as the first load of a fresh process (this program re-executed
 *               with --once): no per-process cache (luabpf's kernel BTF, either library's
 *               feature probes) is warm yet. The child times itself, so exec costs don't count.
 * The two libraries alternate iteration by iteration (and which goes first alternates too), so
 * drift in the machine hits both alike. Each line gives the medians, the ratio luabpf/libbpf and
 * whether the target (luabpf at most 0.5x libbpf's time) is met. Linked with -lbpf: bench only.
 *
 * usage: load_bench [-n ITERATIONS] [-w WARMUP] [OBJECT [BTF]]
 *        load_bench --once luabpf|libbpf OBJECT     (one timed load; prints its seconds)
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "load_bench.h"
#include "luabpf.h"

#define TARGET_RATIO 0.5

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- case 2: open + load + close a CO-RE object ------------------------------------------- */

static int load_luabpf(const void *path)
{
	lbpf_object *obj;
	int err = lbpf_object_open_file(path, NULL, &obj);

	if (err)
		return err;
	err = lbpf_object_load(obj);
	lbpf_object_close(obj);
	return err;
}

static int load_libbpf(const void *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int err;

	if (!obj)
		return -errno;
	err = bpf_object__load(obj);
	bpf_object__close(obj);
	return err;
}

/* ---- case 3: the first load of a fresh process ---------------------------------------------- */

/* Re-executes this program with --once and reads the time the child measured. */
static int load_in_child(const char *who, const char *path, double *seconds)
{
	char cmd[4096];
	FILE *p;
	int ok, status;

	snprintf(cmd, sizeof(cmd), "exec /proc/%d/exe --once %s '%s'", (int)getpid(), who, path);
	if (!(p = popen(cmd, "r")))
		return -errno;
	ok = fscanf(p, "%lf", seconds) == 1;
	status = pclose(p);
	return ok && status == 0 ? 0 : -EIO;
}

static int cold_luabpf(const void *path, double *seconds)
{
	return load_in_child("luabpf", path, seconds);
}

static int cold_libbpf(const void *path, double *seconds)
{
	return load_in_child("libbpf", path, seconds);
}

static int run_once(const char *who, const char *path)
{
	bool ours = !strcmp(who, "luabpf");
	double t0 = bench_now();
	int err = ours ? load_luabpf(path) : load_libbpf(path);

	if (err) {
		fprintf(stderr, "load_bench --once %s: %s\n", who, ours ? lbpf_errmsg() : strerror(-err));
		return 1;
	}
	printf("%.9f\n", bench_now() - t0);
	return 0;
}

/* Both loaders must end up with the same programs of the same size: proof of the same work. */
static int check_same_work(const char *path)
{
	lbpf_object *ours = NULL;
	struct bpf_object *theirs = bpf_object__open_file(path, NULL);
	struct bpf_program *p;
	int err = theirs ? bpf_object__load(theirs) : -errno;

	if (!err)
		err = lbpf_object_open_file(path, NULL, &ours);
	if (!err)
		err = lbpf_object_load(ours);
	if (err) {
		fprintf(stderr, "load_bench: %s does not load: %s\n", path,
			ours ? lbpf_errmsg() : strerror(-err));
		goto out;
	}
	bpf_object__for_each_program(p, theirs) {
		lbpf_program *q = lbpf_object_program_by_name(ours, bpf_program__name(p));
		size_t n = q ? lbpf_program_insn_count(q) : 0;

		printf("  program %-12s instructions: luabpf %zu, libbpf %zu\n",
		       bpf_program__name(p), n, bpf_program__insn_cnt(p));
	}
	printf("  maps: luabpf %zu\n", lbpf_object_map_count(ours));
out:
	lbpf_object_close(ours);
	bpf_object__close(theirs);
	return err;
}

/* ---- measurement ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int timed(const struct bench_case *c, bool ours, double *seconds)
{
	bench_timed_fn self = ours ? c->luabpf_timed : c->libbpf_timed;
	double t0;
	int err;

	if (self)
		return self(c->ctx, seconds);
	t0 = bench_now();
	err = (ours ? c->luabpf : c->libbpf)(c->ctx);
	*seconds = bench_now() - t0;
	return err;
}

static int fail(const struct bench_case *c, bool ours, int err)
{
	fprintf(stderr, "load_bench: %s with %s failed: %s\n", c->name, ours ? "luabpf" : "libbpf",
		ours ? lbpf_errmsg() : strerror(-err));
	return 1;
}

static int run_case(const struct bench_case *c, int iters, int warmup)
{
	double *ours = calloc(iters, sizeof(double)), *theirs = calloc(iters, sizeof(double));
	int rc = 0;

	if (!ours || !theirs)
		return 1;
	for (int i = -warmup; i < iters && !rc; i++) {
		double a, b;
		int ea, eb;

		if (i & 1) {
			eb = timed(c, false, &b);
			ea = timed(c, true, &a);
		} else {
			ea = timed(c, true, &a);
			eb = timed(c, false, &b);
		}
		if (ea)
			rc = fail(c, true, ea);
		else if (eb)
			rc = fail(c, false, eb);
		else if (i >= 0) {
			ours[i] = a;
			theirs[i] = b;
		}
	}
	if (!rc) {
		double mo = median(ours, iters), mt = median(theirs, iters);

		printf("%-9s  luabpf %8.3f ms   libbpf %8.3f ms   ratio %.3f   target <= %.1f met: %s\n",
		       c->name, mo * 1e3, mt * 1e3, mo / mt, TARGET_RATIO,
		       mo / mt <= TARGET_RATIO ? "yes" : "no");
	}
	free(ours);
	free(theirs);
	return rc;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int main(int argc, char **argv)
{
	const char *obj = "bpf/bench_core.bpf.o", *btf = "/sys/kernel/btf/vmlinux";
	int iters = 41, warmup = 3, opt, rc;

	libbpf_set_print(quiet);
	if (argc == 4 && !strcmp(argv[1], "--once"))
		return run_once(argv[2], argv[3]);
	while ((opt = getopt(argc, argv, "n:w:")) != -1) {
		if (opt == 'n')
			iters = atoi(optarg);
		else if (opt == 'w')
			warmup = atoi(optarg);
		else
			return fprintf(stderr, "usage: %s [-n ITERATIONS] [-w WARMUP] [OBJECT [BTF]]\n",
				       argv[0]), 2;
	}
	if (iters < 1)
		iters = 1;
	if (optind < argc)
		obj = argv[optind++];
	if (optind < argc)
		btf = argv[optind++];

	struct bench_case cases[] = {
		{ "btf-parse", .luabpf = bench_btf_luabpf, .libbpf = bench_btf_libbpf, .ctx = btf },
		{ "core-load", .luabpf = load_luabpf, .libbpf = load_libbpf, .ctx = obj },
		{ "cold-load", .luabpf_timed = cold_luabpf, .libbpf_timed = cold_libbpf, .ctx = obj },
	};
	printf("load_bench: %d iterations per case (medians), %s, %s\n", iters, btf, obj);
	if (check_same_work(obj))
		return 1;
	rc = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		rc |= run_case(&cases[i], iters, warmup);
	return rc;
}
