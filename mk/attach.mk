# Test binaries of the attach specs (spec/attach_*_spec.lua): a uprobe/USDT target and a small
# UDP helper (Lua has no sockets); an AF_XDP socket for the xskmap spec.
ATTACH_FIXTURES := $(BUILD)/fixtures/probe_target $(BUILD)/fixtures/netfix $(BUILD)/fixtures/xskfix
TEST_DEPS += $(ATTACH_FIXTURES)

# -O1 and no inlining keep lbpf_fixture_add a real function the uprobe can hit.
$(BUILD)/fixtures/%: spec/fixtures/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fno-inline -Wall -Wextra -o $@ $<
