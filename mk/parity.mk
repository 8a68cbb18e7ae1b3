# Parity with libbpf (spec/parity_spec.lua): parity_dump loads an object with libbpf or with
# luabpf and prints the kernel's view of it; libbpf is linked here only, never into the module.
PARITY_DUMP := $(BUILD)/tools/parity_dump

$(PARITY_DUMP): tools/parity_dump.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CORE_CPPFLAGS) -o $@ $< $(CORE_LIB) -lbpf $(LDLIBS)

TEST_DEPS += $(PARITY_DUMP)
