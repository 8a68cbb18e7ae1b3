# luabpf build.
#
#   make                 core library, bpf.so for Lua 5.4 and LuaJIT, every bpf/*.bpf.o
#   make LUA=luajit      the same but only the LuaJIT module (LUA=lua5.4: only the Lua 5.4 one)
#   make test            install missing packages, mount bpffs/tracefs, build, run the busted
#                        suite under Lua 5.4 then LuaJIT, and its smoke subset under PUC Lua
#                        5.1, 5.2, 5.3 (SPEC=spec/x_spec.lua for a subset)
#   make demo            the same set-up, then examples/syscount.lua
#   make help            every target
#
# Fragments in mk/*.mk are included at the end: they may add rules and append to TEST_DEPS
# (built by `make test` before the specs run). See the variables below.

# Everything that probes the machine is a recursive (=) variable, so nothing runs at parse time:
# `make test` installs packages first and then builds in a sub-make that sees them.
BUILD      := build
CC         ?= gcc
AR         ?= ar
CLANG      ?= clang
LUA54      ?= lua5.4
LUAJIT     ?= luajit
UAPI_BPF_H ?= /usr/include/linux/bpf.h

# Parallel jobs for the builds that test/demo/check-* start themselves.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# Which Lua module(s) `make`/`make all` builds: empty = both.
LUA ?=
ifneq ($(filter-out lua5.4 luajit,$(LUA)),)
$(error LUA must be lua5.4 or luajit (or unset for both), not '$(LUA)')
endif

# `override` so that a CFLAGS from the command line (luarocks passes one) cannot drop -Werror or
# -std; add flags with EXTRA_CFLAGS=... instead.
override CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -fPIC -Wall -Wextra -Werror $(EXTRA_CFLAGS)
CORE_CPPFLAGS = -Icore/include -Icore
LUA_CPPFLAGS  = -Ilua -Icore/include
LDLIBS        = -lelf -lz
# The module never links liblua: the interpreter that loads it provides the Lua C API.
# --exclude-libs keeps the core's lbpf_* symbols out of bpf.so's dynamic symbol table.
MODULE_LDFLAGS = -shared -Wl,--exclude-libs,ALL
SAN_FLAGS      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LUA54_INC  = $(or $(shell pkg-config --cflags lua5.4 2>/dev/null),-I/usr/include/lua5.4)
LUAJIT_INC = $(or $(shell pkg-config --cflags luajit 2>/dev/null),-I/usr/include/luajit-2.1)

CORE_SRCS := $(sort $(wildcard core/*.c))
LUA_SRCS  := $(sort $(wildcard lua/*.c))
BPF_SRCS  := $(sort $(wildcard bpf/*.bpf.c))

CORE_LIB      := $(BUILD)/libluabpf.a
LUA54_MODULE  := $(BUILD)/lua5.4/bpf.so
LUAJIT_MODULE := $(BUILD)/luajit/bpf.so
ASAN_MODULE   := $(BUILD)/asan-lua5.4/bpf.so
ASAN_CORE_LIB := $(BUILD)/asan-lua5.4/libluabpf.a
BPF_OBJS      := $(BPF_SRCS:.c=.o)

MODULES := $(if $(LUA),$(BUILD)/$(LUA)/bpf.so,$(LUA54_MODULE) $(LUAJIT_MODULE))

# ---- BPF programs ---------------------------------------------------------------------------
# x86_64 -> x86, aarch64 -> arm64, ...: the arch name the PT_REGS macros expect.
BPF_ARCH = $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/i.86/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/' -e 's/loongarch64/loongarch/')
MULTIARCH = $(shell $(CC) -dumpmachine 2>/dev/null)
BPF_CFLAGS = -target bpf -O2 -g -Wall -D__TARGET_ARCH_$(BPF_ARCH) -Ibpf/include -I$(BUILD)/gen \
	-I/usr/include/$(MULTIARCH)

# Helper declarations generated from the installed UAPI header (by bpf/gen_helper_defs.lua, when
# that script exists).
HELPER_GEN  := bpf/gen_helper_defs.lua
HELPER_DEFS := $(BUILD)/gen/bpf_helper_defs.h
BPF_GEN_DEPS := $(if $(wildcard $(HELPER_GEN)),$(HELPER_DEFS))

# ---- top-level targets ----------------------------------------------------------------------
.PHONY: all core modules bpf test test-lua54 test-luajit test-deps demo check-asan \
	check-valgrind ldd-check deps mount clean help
.DEFAULT_GOAL := all

all: core modules bpf
core: $(CORE_LIB)
modules: $(MODULES)
bpf: $(BPF_OBJS)

# ---- core static library (one per flavour) --------------------------------------------------
# $(1): output dir, $(2): name of a variable holding extra compile flags
define CORE_RULES
$(1)_CORE_OBJS := $(patsubst core/%.c,$(1)/core/%.o,$(CORE_SRCS))
$(1)/libluabpf.a: $$($(1)_CORE_OBJS)
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
$$($(1)_CORE_OBJS): $(1)/core/%.o: core/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$($(2)) $$(CORE_CPPFLAGS) -MMD -MP -c -o $$@ $$<
-include $$($(1)_CORE_OBJS:.o=.d)
endef

# ---- Lua module (one per interpreter/flavour) -----------------------------------------------
# $(1): output dir, $(2): name of the Lua include-flags variable, $(3): name of a variable
# holding extra flags, $(4): core library
define MODULE_RULES
$(1)_LUA_OBJS := $(patsubst lua/%.c,$(1)/lua/%.o,$(LUA_SRCS))
$(1)/bpf.so: $$($(1)_LUA_OBJS) $(4)
	@mkdir -p $$(@D)
	$$(CC) $$(MODULE_LDFLAGS) $$($(3)) -o $$@ $$($(1)_LUA_OBJS) $(4) $$(LDLIBS)
$$($(1)_LUA_OBJS): $(1)/lua/%.o: lua/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$($(3)) $$(LUA_CPPFLAGS) $$($(2)) -MMD -MP -c -o $$@ $$<
-include $$($(1)_LUA_OBJS:.o=.d)
endef

NO_FLAGS :=
$(eval $(call CORE_RULES,$(BUILD),NO_FLAGS))
$(eval $(call CORE_RULES,$(BUILD)/asan-lua5.4,SAN_FLAGS))
$(eval $(call MODULE_RULES,$(BUILD)/lua5.4,LUA54_INC,NO_FLAGS,$(CORE_LIB)))
$(eval $(call MODULE_RULES,$(BUILD)/luajit,LUAJIT_INC,NO_FLAGS,$(CORE_LIB)))
$(eval $(call MODULE_RULES,$(BUILD)/asan-lua5.4,LUA54_INC,SAN_FLAGS,$(ASAN_CORE_LIB)))

# ---- LuaRocks (rockspec/luabpf-scm-1.rockspec, build type "make") ---------------------------
# luarocks passes LUA_INCDIR (headers of the Lua it installs for), INST_LIBDIR and INST_LUADIR.
LUA_INCDIR ?= /usr/include/lua5.4
ROCK_INC = -I$(LUA_INCDIR)
$(eval $(call MODULE_RULES,$(BUILD)/rock,ROCK_INC,NO_FLAGS,$(CORE_LIB)))
.PHONY: rock-module rock-install
rock-module: $(BUILD)/rock/bpf.so
rock-install: $(BUILD)/rock/bpf.so
	install -d $(INST_LIBDIR) $(INST_LUADIR)/bpf
	install -m 755 $(BUILD)/rock/bpf.so $(INST_LIBDIR)/bpf.so
	$(if $(wildcard lua/bpf/*.lua),install -m 644 $(wildcard lua/bpf/*.lua) $(INST_LUADIR)/bpf/)
	$(if $(wildcard lua/bpf/trace/*.lua),install -d $(INST_LUADIR)/bpf/trace && install -m 644 $(wildcard lua/bpf/trace/*.lua) $(INST_LUADIR)/bpf/trace/)

# Preloaded into the interpreter by check-asan and check-valgrind (see the source for why).
TEST_PRELOAD := $(BUILD)/test-preload.so
$(TEST_PRELOAD): scripts/test_preload.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -o $@ $<

# ---- BPF objects, next to their sources -----------------------------------------------------
$(HELPER_DEFS): $(HELPER_GEN) $(UAPI_BPF_H)
	@mkdir -p $(@D)
	$(LUA54) $(HELPER_GEN) $(UAPI_BPF_H) > $@.tmp
	@mv $@.tmp $@

bpf/%.bpf.o: bpf/%.bpf.c $(BPF_GEN_DEPS)
	@mkdir -p $(BUILD)/deps/bpf
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(BUILD)/deps/bpf/$*.bpf.d -c $< -o $@

-include $(patsubst bpf/%.o,$(BUILD)/deps/bpf/%.d,$(BPF_OBJS))

# ---- set-up, tests, demo ----------------------------------------------------------------------
# Set-up runs first; the build then happens in a sub-make, which sees freshly installed tools.
deps:
	bash scripts/install-deps.sh
mount:
	bash scripts/mount-fs.sh

test: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) core bpf $(LUA54_MODULE) $(LUAJIT_MODULE) test-deps
	bash scripts/ldd-check.sh $(LUA54_MODULE) $(LUAJIT_MODULE)
	bash scripts/run-tests.sh lua5.4 luajit lua5.1 lua5.2 lua5.3 -- $(SPEC)

test-lua54: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) core bpf test-deps $(LUA54_MODULE)
	bash scripts/run-tests.sh lua5.4 -- $(SPEC)

test-luajit: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) core bpf test-deps $(LUAJIT_MODULE)
	bash scripts/run-tests.sh luajit -- $(SPEC)

# Both modules: the README's REPL lines use either interpreter.
demo: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) core bpf $(LUA54_MODULE) $(LUAJIT_MODULE)
	LUA_CPATH="$(CURDIR)/$(BUILD)/lua5.4/?.so;;" \
	LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;" \
	$(LUA54) examples/syscount.lua

# AddressSanitizer + UBSan build of core and binding, preloaded into the stock lua5.4. Lua
# interpreters that specs start themselves get the plain build (LUA_CPATH), not the ASan one.
check-asan: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) core bpf test-deps $(ASAN_MODULE) $(LUA54_MODULE) \
		$(LUAJIT_MODULE) $(TEST_PRELOAD)
	bash scripts/run-tests.sh asan-lua5.4 -- $(SPEC)

# The suite (or SPEC=...) under valgrind's memcheck, with the plain Lua 5.4 build.
VALGRIND_SPEC ?= $(SPEC)
check-valgrind: deps mount
	$(MAKE) --no-print-directory -j$(JOBS) core bpf test-deps $(LUA54_MODULE) $(LUAJIT_MODULE) \
		$(TEST_PRELOAD)
	bash scripts/run-tests.sh valgrind-lua5.4 -- $(VALGRIND_SPEC)

# The module must pull in libelf, libz and libc only: no libbpf, no bcc, no LLVM.
ldd-check: $(MODULES)
	bash scripts/ldd-check.sh $^

clean:
	rm -rf $(BUILD) bpf/*.bpf.o

help:
	@echo "targets: all core modules bpf test test-lua54 test-luajit demo check-asan"
	@echo "         check-valgrind ldd-check deps mount clean"
	@echo "         modules-all static cc bpf-headers new (mk/*.mk: more)"
	@echo "variables: LUA=lua5.4|luajit  SPEC='spec/a_spec.lua ...'  EXTRA_CFLAGS=..."

# ---- fragments by other parts of the project --------------------------------------------------
# A fragment may append build products that specs need: TEST_DEPS += $(BUILD)/fixtures/foo
TEST_DEPS ?=
-include $(sort $(wildcard mk/*.mk))

# Defined after the fragments so that their TEST_DEPS additions count.
test-deps: $(TEST_DEPS)
