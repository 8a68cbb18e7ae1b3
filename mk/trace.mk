# The bpftrace compiler's specs (spec/trace_*_spec.lua): a workload binary that makes exactly
# the system calls a spec counts (built by attach.mk's $(BUILD)/fixtures/% rule).
TRACE_FIXTURES := $(BUILD)/fixtures/trace_workload
TEST_DEPS += $(TRACE_FIXTURES)
