# BTF: the btf_tool helper, vmlinux.h generated from the running kernel's BTF (our own BTF-to-C
# writer, no bpftool), and the BTF specs' fixtures.
BTF_TOOL    := $(BUILD)/tools/btf_tool
VMLINUX_H   := $(BUILD)/gen/vmlinux.h
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

.PHONY: vmlinux.h btf-time
vmlinux.h: $(VMLINUX_H)

$(BTF_TOOL): tools/btf_tool.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CORE_CPPFLAGS) -o $@ $< $(CORE_LIB) $(LDLIBS)

$(VMLINUX_H): $(BTF_TOOL) $(wildcard $(VMLINUX_BTF))
	@mkdir -p $(@D)
	$(BTF_TOOL) dump $(VMLINUX_BTF) > $@.tmp
	@mv $@.tmp $@

# Quick C-level check: how long opening the kernel's BTF takes.
btf-time: $(BTF_TOOL)
	$(BTF_TOOL) time $(VMLINUX_BTF)

# Every BPF object whose source includes vmlinux.h waits for it.
VMLINUX_USERS := $(patsubst %.c,%.o,$(shell grep -l '"vmlinux.h"\|<vmlinux.h>' $(BPF_SRCS) /dev/null 2>/dev/null))
$(VMLINUX_USERS): $(VMLINUX_H)

TEST_DEPS += $(VMLINUX_H) $(BTF_TOOL) bpf/btf_kinds.bpf.o bpf/btf_vmlinux.bpf.o
