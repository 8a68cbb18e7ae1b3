# Every Lua the rockspec accepts (issue 14): the module for PUC Lua 5.1, 5.2 and 5.3, next to
# the 5.4 and LuaJIT ones that `make` builds. `make test` runs a smoke subset of the suite on
# them (spec/smoke_spec.lua: open, load, attach, map read, reader); 5.4 and LuaJIT run it all.
#
#   make modules-all     build/lua5.{1,2,3}/bpf.so as well as the two of `make`

LUA51_INC = $(or $(shell pkg-config --cflags lua5.1 2>/dev/null),-I/usr/include/lua5.1)
LUA52_INC = $(or $(shell pkg-config --cflags lua5.2 2>/dev/null),-I/usr/include/lua5.2)
LUA53_INC = $(or $(shell pkg-config --cflags lua5.3 2>/dev/null),-I/usr/include/lua5.3)

$(eval $(call MODULE_RULES,$(BUILD)/lua5.1,LUA51_INC,NO_FLAGS,$(CORE_LIB)))
$(eval $(call MODULE_RULES,$(BUILD)/lua5.2,LUA52_INC,NO_FLAGS,$(CORE_LIB)))
$(eval $(call MODULE_RULES,$(BUILD)/lua5.3,LUA53_INC,NO_FLAGS,$(CORE_LIB)))

SMOKE_MODULES := $(BUILD)/lua5.1/bpf.so $(BUILD)/lua5.2/bpf.so $(BUILD)/lua5.3/bpf.so

.PHONY: modules-all
modules-all: $(LUA54_MODULE) $(LUAJIT_MODULE) $(SMOKE_MODULES)

TEST_DEPS += $(SMOKE_MODULES)
