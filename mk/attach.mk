# Test binaries of the attach specs (spec/attach_*_spec.lua): a uprobe/USDT target and a small
# UDP and AF_XDP helper (Lua has no sockets).
ATTACH_FIXTURES := $(BUILD)/fixtures/probe_target $(BUILD)/fixtures/netfix
TEST_DEPS += $(ATTACH_FIXTURES)

# -O1 and no inlining keep lbpf_fixture_add a real function the uprobe can hit.
$(BUILD)/fixtures/%: spec/fixtures/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -g -fno-inline -Wall -Wextra -o $@ $<
