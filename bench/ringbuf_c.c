/*
 * C consumers of the ring buffer benchmark (bench/ringbuf_bench.lua runs the Lua ones):
 *   libbpf  libbpf's ring_buffer__consume with a trivial callback (the ceiling)
 *   luabpf  our lbpf_ringbuf_consume with the same callback
 * The object is loaded with luabpf; only consumption is timed. Linked with -lbpf: bench only.
 *
 * usage: ringbuf_c OBJECT SIZE(16|256) RECORDS_PER_ROUND ROUNDS
 * prints: "<consumer> <size> <records> <seconds> <Mrec/s>" lines
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "luabpf.h"

static unsigned long long seen, expect_seq;
static int out_of_order;

static int on_record(void *ctx, void *data, size_t size)
{
	unsigned long long s;

	(void)ctx;
	(void)size;
	memcpy(&s, data, sizeof(s));
	if (seen == 0)
		expect_seq = s;
	out_of_order |= s != expect_seq;
	expect_seq = s + 1;
	seen++;
	return 0;
}

static int on_record_lbpf(void *ctx, const void *data, size_t size)
{
	return on_record(ctx, (void *)data, size);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fill(lbpf_object *obj, lbpf_program *prog, unsigned count)
{
	struct lbpf_global g;
	struct lbpf_test_run run = { 0 };

	if (lbpf_object_global_by_name(obj, "count", &g) < 0)
		return -1;
	memcpy(lbpf_global_data(&g), &count, sizeof(count));
	return lbpf_program_test_run(prog, &run);
}

int main(int argc, char **argv)
{
	lbpf_object *obj;
	lbpf_map *map;
	lbpf_program *prog;
	struct ring_buffer *lrb;
	lbpf_ringbuf *rb;
	unsigned size, per_round, rounds;

	if (argc != 5) {
		fprintf(stderr, "usage: %s OBJECT SIZE RECORDS_PER_ROUND ROUNDS\n", argv[0]);
		return 2;
	}
	size = (unsigned)atoi(argv[2]);
	per_round = (unsigned)atoi(argv[3]);
	rounds = (unsigned)atoi(argv[4]);
	if (lbpf_object_open_file(argv[1], NULL, &obj) < 0 || lbpf_object_load(obj) < 0) {
		fprintf(stderr, "load: %s\n", lbpf_errmsg());
		return 1;
	}
	map = lbpf_object_map_by_name(obj, "bench_rb");
	prog = lbpf_object_program_by_name(obj, size == 16 ? "fill16" : "fill256");
	lrb = ring_buffer__new(lbpf_map_fd(map), on_record, NULL, NULL);
	if (!lrb || lbpf_ringbuf_new(map, on_record_lbpf, NULL, &rb) < 0) {
		fprintf(stderr, "reader: %s\n", lbpf_errmsg());
		return 1;
	}
	for (int which = 0; which < 2; which++) {
		double spent = 0;

		seen = 0;
		for (unsigned r = 0; r < rounds; r++) {
			double t0;

			if (fill(obj, prog, per_round) < 0) {
				fprintf(stderr, "fill: %s\n", lbpf_errmsg());
				return 1;
			}
			t0 = now();
			if (which == 0)
				ring_buffer__consume(lrb);
			else
				lbpf_ringbuf_consume(rb);
			spent += now() - t0;
		}
		printf("%s %u %llu %.6f %.1f%s\n", which == 0 ? "c-libbpf" : "c-luabpf", size, seen,
		       spent, seen / spent / 1e6, out_of_order ? " OUT-OF-ORDER" : "");
	}
	ring_buffer__free(lrb);
	lbpf_ringbuf_free(rb);
	lbpf_object_close(obj);
	return 0;
}
