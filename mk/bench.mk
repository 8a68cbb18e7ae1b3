# Load benchmark (issue 3): luabpf against libbpf on the same work in one run.
#
#   make bench-load              btf-parse (vmlinux BTF) and core-load (open + load + close of
#                                bpf/bench_core.bpf.o); one line per case with both medians, the
#                                ratio and whether the target (<= 0.5x libbpf) is met
#   make bench-load BENCH_LOAD_ITERS=101
#
# libbpf is linked into build/bench/load_bench only (the comparison); the product never uses it.

BENCH_LOAD      := $(BUILD)/bench/load_bench
BENCH_LOAD_SRCS := bench/load_bench.c bench/btf_bench.c
BENCH_LOAD_ITERS ?= 41

.PHONY: bench-load

$(BENCH_LOAD): $(BENCH_LOAD_SRCS) bench/load_bench.h $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Icore/include -Ibench -o $@ $(BENCH_LOAD_SRCS) $(CORE_LIB) -lbpf $(LDLIBS)

bench-load: mount
	$(MAKE) --no-print-directory -j$(JOBS) $(BENCH_LOAD) bpf/bench_core.bpf.o
	$(BENCH_LOAD) -n $(BENCH_LOAD_ITERS) bpf/bench_core.bpf.o
