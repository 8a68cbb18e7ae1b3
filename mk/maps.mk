# Maps (issue 4): the map benchmark.
#
#   make bench-maps   dumps a 1,000,000-entry u32 -> u64 hash and a 16-byte -> 32-byte struct hash
#                     into Lua values under lua5.4 and luajit, next to a C program using libbpf's
#                     batch lookup on the same maps, and compares single lookups with the raw
#                     syscall; prints the figures and the ratios (BENCH_MAPS_ENTRIES=... to shrink,
#                     BENCH_MAPS_ROUNDS=... rounds, C and Lua interleaved, best of each kept).
#                     Also times map:dump{columns = true} (one array per field, no table per entry).
#
# libbpf is linked into build/bench/maps_c only (the comparison); the product never uses it.

BENCH_MAPS_ENTRIES ?= 1000000
BENCH_MAPS_LOOKUPS ?= 200000
BENCH_MAPS_ROUNDS ?= 5

.PHONY: bench-maps

$(BUILD)/bench/maps_c: bench/maps_c.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lbpf

bench-maps: mount
	$(MAKE) --no-print-directory -j$(JOBS) bpf/maps_bench.bpf.o $(LUA54_MODULE) $(LUAJIT_MODULE) \
		$(BUILD)/bench/maps_c
	for lua in $(LUA54) $(LUAJIT); do \
		LUA_CPATH="$(CURDIR)/$(BUILD)/$$lua/?.so;;" $$lua bench/maps_bench.lua bpf/maps_bench.bpf.o \
			$(BUILD)/bench/maps_c $(BENCH_MAPS_ENTRIES) $(BENCH_MAPS_LOOKUPS) $(BENCH_MAPS_ROUNDS) || exit 1; \
	done
