/*
 * The C side of the map benchmark (bench/maps_bench.lua): what libbpf does with the same maps.
 *   maps_c SMALL_ID FLOWS_ID LOOKUPS
 * Dumps both maps with bpf_map_lookup_batch into C arrays (the whole map in memory, as the Lua
 * side ends with every entry as Lua values), then times LOOKUPS single bpf_map_lookup_elem
 * calls on SMALL (keys 1..LOOKUPS): the raw syscall cost a Lua lookup is compared with.
 * Prints "name seconds entries" lines (CPU seconds), three rounds. libbpf is linked here only, never into the product.
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

/* CPU time of the process (user + system): the Lua side measures the same with os.clock(), and
 * neither is disturbed by other load on the machine. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Dumps the whole map; returns the number of entries or -1. */
static long dump(int fd, uint32_t key_size, uint32_t value_size, uint32_t max_entries)
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
	free(keys);
	free(values);
	return total;
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
	if (argc != 4) {
		fprintf(stderr, "usage: %s SMALL_ID FLOWS_ID LOOKUPS\n", argv[0]);
		return 2;
	}
	memset(&small, 0, sizeof(small));
	memset(&flows, 0, sizeof(flows));
	int sfd = map_fd((uint32_t)atoi(argv[1]), &small), ffd = map_fd((uint32_t)atoi(argv[2]), &flows);
	long lookups = atol(argv[3]);
	for (int round = 0; round < 3; round++) {
		double t = now();
		long n = dump(sfd, small.key_size, small.value_size, small.max_entries);
		printf("c_dump_small %.6f %ld\n", now() - t, n);
		t = now();
		n = dump(ffd, flows.key_size, flows.value_size, flows.max_entries);
		printf("c_dump_flows %.6f %ld\n", now() - t, n);
		uint64_t value, sum = 0;
		t = now();
		for (uint32_t k = 1; k <= (uint32_t)lookups; k++)
			if (bpf_map_lookup_elem(sfd, &k, &value) == 0)
				sum += value;
		printf("c_lookup %.6f %ld %llu\n", now() - t, lookups, (unsigned long long)sum);
	}
	close(sfd);
	close(ffd);
	return 0;
}
