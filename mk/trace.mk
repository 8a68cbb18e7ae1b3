# bpf.trace (issue 12): the controlled workload of the trace specs and `make bench-trace`
# (spec/fixtures/trace_workload.c, built by the fixture rule of mk/attach.mk), and the benchmark
# against Debian's bpftrace 0.17 (bench/trace_bench.lua; figures in bench/README.md).
TRACE_WORKLOAD := $(BUILD)/fixtures/trace_workload
TEST_DEPS += $(TRACE_WORKLOAD)

.PHONY: bench-trace
bench-trace: all $(TRACE_WORKLOAD) $(STATIC_BIN)
	@bash scripts/mount-fs.sh >/dev/null
	$(LUA54) bench/trace_bench.lua
