# `make test-kernels` (issue 13): the kernel suite (spec/kernel/*_k.lua) on Debian's 6.1 and 6.12
# cloud kernels under qemu (TCG) and on the host, one table of results (scripts/kernels/).
#
#   make test-kernels                          every kernel, every kernel spec
#   make test-kernels KSPEC=spec/kernel/x_k.lua KERNELS="6.1" KERNELS_TIMEOUT=300

KERNEL_FIXTURES := $(BUILD)/kernels/fixtures/probe_target $(BUILD)/kernels/fixtures/netfix
# spec/kernel/trace_k.lua's controlled workload (exactly the system calls it names).
KERNEL_FIXTURES += $(BUILD)/kernels/fixtures/trace_workload
KERNELS ?= 6.1 6.12
# spec/kernels_spec.lua boots 6.1 with these inside `make test`.
TEST_DEPS += $(KERNEL_FIXTURES)
KSPEC ?=

.PHONY: test-kernels

# The VM's fixtures are the spec fixtures linked statically (the initramfs has no libc).
$(BUILD)/kernels/fixtures/%: spec/fixtures/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fno-inline -static -Wall -Wextra -o $@ $<

test-kernels: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) bpf $(STATIC_BIN) $(KERNEL_FIXTURES)
	$(LUA54) scripts/kernels/matrix.lua $(foreach k,$(KERNELS),--kernel $(k)) $(KSPEC)
