/*
 * The C side of the map benchmark (bench/maps_bench.lua): what libbpf does with the same maps.
 *   maps_c SMALL_ID FLOWS_ID LOOKUPS [ROUNDS [dump|lookup]]
 * Dumps both maps with bpf_map_lookup_batch (4096 entries per call, the batch the Lua iterator
 * uses for these maps) into C arrays (the whole map in memory, as the Lua side ends with every
 * entry as Lua values), then reads every field of every entry once (what a C user does at the
 * least with a dump; the Lua side decodes every field), then times LOOKUPS single
 * bpf_map_lookup_elem calls on SMALL (keys 1..LOOKUPS): the raw syscall cost a Lua lookup is
 * compared with. Prints "name seconds entries checksum" lines (CPU seconds), ROUNDS rounds
 * (default 3) of both parts or of the one named; the Lua side runs one part at a time right
 * before its own measurement of the same thing. libbpf is linked here
 * only, never into the product.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 4096

/* The maps' types, as in bpf/maps_bench.bpf.c. */
struct flow {
	uint32_t saddr;
	uint32_t daddr;
	uint16_t sport;
	uint16_t dport;
	uint32_t proto;
};

struct flow_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t first_ns;
	uint32_t last_cpu;
	uint32_t flags;
};

/* Every field of every entry, summed (so that none of the reads can be optimised away). */
static uint64_t touch(const uint8_t *keys, const uint8_t *values, long n, int flows)
{
	uint64_t sum = 0;
	for (long i = 0; i < n; i++) {
		if (!flows) {
			uint32_t k;
			uint64_t v;
			memcpy(&k, keys + i * sizeof(k), sizeof(k));
			memcpy(&v, values + i * sizeof(v), sizeof(v));
			sum += k + v;
			continue;
		}
		const struct flow *k = (const struct flow *)keys + i;
		const struct flow_stats *v = (const struct flow_stats *)values + i;
		sum += k->saddr + k->daddr + k->sport + k->dport + k->proto;
		sum += v->packets + v->bytes + v->first_ns + v->last_cpu + v->flags;
	}
	return sum;
}

/* CPU time of the process (user + system): the Lua side measures the same with os.clock(), and
 * neither is disturbed by other load on the machine. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Dumps the whole map and reads every field; returns the number of entries or -1. */
static long dump(int fd, uint32_t key_size, uint32_t value_size, uint32_t max_entries, int flows,
		 uint64_t *checksum)
{
	uint8_t *keys = malloc((size_t)max_entries * key_size + (size_t)BATCH * key_size);
	uint8_t *values = malloc((size_t)max_entries * value_size + (size_t)BATCH * value_size);
	uint64_t in = 0, out = 0;
	long total = 0;
	int first = 1;

	if (!keys || !values)
		return -1;
	for (;;) {
		uint32_t count = BATCH;
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys + (size_t)total * key_size,
					       values + (size_t)total * value_size, &count, NULL);
		first = 0;
		total += count;
		if (err < 0 && errno == ENOENT)
			break;
		if (err < 0) {
			perror("bpf_map_lookup_batch");
			total = -1;
			break;
		}
		in = out;
	}
	if (total > 0)
		*checksum = touch(keys, values, total, flows);
	free(keys);
	free(values);
	return total;
}

/* One timed dump of each map. */
static void dump_both(int sfd, const struct bpf_map_info *small, int ffd, const struct bpf_map_info *flows)
{
	uint64_t checksum = 0;
	double t = now();
	long n = dump(sfd, small->key_size, small->value_size, small->max_entries, 0, &checksum);
	printf("c_dump_small %.6f %ld %llu\n", now() - t, n, (unsigned long long)checksum);
	t = now();
	n = dump(ffd, flows->key_size, flows->value_size, flows->max_entries, 1, &checksum);
	printf("c_dump_flows %.6f %ld %llu\n", now() - t, n, (unsigned long long)checksum);
}

/* Keys 1..lookups of the small map, one bpf_map_lookup_elem each. */
static void lookup_small(int sfd, long lookups)
{
	uint64_t value, sum = 0;
	double t = now();
	for (uint32_t k = 1; k <= (uint32_t)lookups; k++)
		if (bpf_map_lookup_elem(sfd, &k, &value) == 0)
			sum += value;
	printf("c_lookup %.6f %ld %llu\n", now() - t, lookups, (unsigned long long)sum);
}

static int map_fd(uint32_t id, struct bpf_map_info *info)
{
	uint32_t len = sizeof(*info);
	int fd = bpf_map_get_fd_by_id(id);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, info, &len) < 0) {
		perror("map by id");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct bpf_map_info small, flows;
	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: %s SMALL_ID FLOWS_ID LOOKUPS [ROUNDS [dump|lookup]]\n", argv[0]);
		return 2;
	}
	int rounds = argc >= 5 ? atoi(argv[4]) : 3;
	const char *part = argc == 6 ? argv[5] : "all";
	int do_dump = strcmp(part, "lookup") != 0, do_lookup = strcmp(part, "dump") != 0;
	memset(&small, 0, sizeof(small));
	memset(&flows, 0, sizeof(flows));
	int sfd = map_fd((uint32_t)atoi(argv[1]), &small), ffd = map_fd((uint32_t)atoi(argv[2]), &flows);
	long lookups = atol(argv[3]);
	if (small.key_size != 4 || small.value_size != 8 || flows.key_size != sizeof(struct flow) ||
	    flows.value_size != sizeof(struct flow_stats)) {
		fprintf(stderr, "maps_c: unexpected key/value sizes\n");
		return 1;
	}
	for (int round = 0; round < rounds; round++) {
		if (do_dump)
			dump_both(sfd, &small, ffd, &flows);
		if (do_lookup)
			lookup_small(sfd, lookups);
	}
	close(sfd);
	close(ffd);
	return 0;
}
