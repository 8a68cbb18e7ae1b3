# bpf.trace (issue 12): the controlled workload of the trace specs (compiler and runtime) and of
# `make bench-trace` (spec/fixtures/trace_workload.c, built by the fixture rule of mk/attach.mk),
# and the benchmark against Debian's bpftrace 0.17 (bench/trace_bench.lua; figures in
# bench/README.md).
#
#   make bench-trace                              11 rounds of start-up, both tools alternating
#   make bench-trace BENCH_TRACE_ARGS="--rounds 21 --only hist"
#   make bench-trace BENCH_TRACE_ARGS="--rounds 31 --startup-only"   start-up alone
TRACE_WORKLOAD := $(BUILD)/fixtures/trace_workload
TRACE_FIXTURES := $(TRACE_WORKLOAD)
TEST_DEPS += $(TRACE_WORKLOAD)
BENCH_TRACE_ARGS ?=
TRACE_START := $(BUILD)/bench/trace_start

$(TRACE_START): bench/trace_start.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

.PHONY: bench-trace
bench-trace: mount
	$(MAKE) --no-print-directory -j$(JOBS) all static $(TRACE_WORKLOAD) $(TRACE_START)
	LUA_CPATH="$(CURDIR)/$(BUILD)/lua5.4/?.so;;" LUA_PATH="$(CURDIR)/lua/?.lua;;" \
		$(LUA54) bench/trace_bench.lua $(BENCH_TRACE_ARGS)
	LUA_CPATH="$(CURDIR)/$(BUILD)/luajit/?.so;;" LUA_PATH="$(CURDIR)/lua/?.lua;;" \
		$(LUAJIT) bench/trace_bench.lua --compile-only
	$(BUILD)/luabpf bench/trace_bench.lua --compile-only --label "static luabpf, Lua 5.4"
