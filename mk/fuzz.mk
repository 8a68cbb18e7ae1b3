# Fuzzing (issue 11): libFuzzer + ASan + UBSan targets in fuzz/, one per parser of untrusted
# bytes, built with clang from the core sources as they are; the BPF object without BTF that
# the -g0 spec loads; the regression inputs the specs replay.
#
#   make fuzz                   build every target, seed its corpus, run each FUZZ_SECONDS
#   make fuzz FUZZ_TARGET=btf   one target only
#   make fuzz-build             build only (build/fuzz/fuzz_<target>)
#   make fuzz-seeds             the seed corpora (build/fuzz/seeds/<target>/)
#   make fuzz FUZZ_FLAGS='-fork=1 -ignore_timeouts=1'
#                               on a busy machine: a wall-clock timeout is saved and the run
#                               goes on (replay it alone: build/fuzz/fuzz_<target> FILE)
#
# A finding (crash, hang over 1 s, leak) is written to build/fuzz/findings/<target>/; fix it and
# keep the input under fuzz/regressions/<target>/ (spec/fuzz_regressions_spec.lua replays them).
#
# Parsers written in Lua get a target by adding "name:module:function" to LUA_FUZZ_TARGETS:
# fuzz/lua_target.c calls require(module)[function](input) in an embedded Lua 5.4 (bpf module
# built in); Lua errors are answers, crashes and hangs are findings. Seeds go in fuzz/seeds/name/.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 30
FUZZ_TARGET   ?=
FUZZ_FLAGS    ?=
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# clang flags NLMSG_OK (a <linux/netlink.h> macro) under -Wsign-compare where gcc does not.
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra -Werror -Wno-sign-compare $(FUZZ_SAN)
FUZZ_C_TARGETS := object btf btf_elf btf_ext core_access usdt_args usdt_notes
# name:module:function, one per line (spec/fuzz_regressions_spec.lua reads this list too)
LUA_FUZZ_TARGETS := \
	lua_help_parse:bpf.help:parse \
	asm_assemble:bpf.asm:assemble \
	trace_compile:bpf.trace.check:compile \
	trace_parse:bpf.trace.check:parse \
	trace_builders:bpf.trace.check:builders \
	asm_fast_calls:bpf.asm_fast_check:calls \
	tracefs_format:bpf.trace.tracefs:parse_format \


lua_fuzz_name = $(word 1,$(subst :, ,$(1)))
FUZZ_LUA_NAMES := $(foreach t,$(LUA_FUZZ_TARGETS),$(call lua_fuzz_name,$(t)))
FUZZ_ALL      := $(FUZZ_C_TARGETS) $(FUZZ_LUA_NAMES)
FUZZ_RUN      := $(if $(FUZZ_TARGET),$(FUZZ_TARGET),$(FUZZ_ALL))
FUZZ_BINS     := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_ALL))

FUZZ_CORE_OBJS := $(patsubst core/%.c,$(FUZZ_DIR)/core/%.o,$(CORE_SRCS))
FUZZ_LUA_OBJS  := $(patsubst lua/%.c,$(FUZZ_DIR)/lua/%.o,$(LUA_SRCS))

.PHONY: fuzz fuzz-build fuzz-seeds

$(FUZZ_CORE_OBJS): $(FUZZ_DIR)/core/%.o: core/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(CORE_CPPFLAGS) -MMD -MP -c -o $@ $<
$(FUZZ_LUA_OBJS): $(FUZZ_DIR)/lua/%.o: lua/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(LUA_CPPFLAGS) $(LUA54_INC) -MMD -MP -c -o $@ $<
-include $(FUZZ_CORE_OBJS:.o=.d) $(FUZZ_LUA_OBJS:.o=.d)

$(FUZZ_DIR)/fuzz_%: fuzz/%.c fuzz/fuzz_util.h $(FUZZ_CORE_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(CORE_CPPFLAGS) -Ifuzz -o $@ $< \
		$(FUZZ_CORE_OBJS) $(LDLIBS) -lpthread

define LUA_FUZZ_RULE
$(FUZZ_DIR)/fuzz_$(call lua_fuzz_name,$(1)): fuzz/lua_target.c $(FUZZ_CORE_OBJS) $(FUZZ_LUA_OBJS)
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(LUA54_INC) \
		-DFUZZ_LUA_MODULE='"$(word 2,$(subst :, ,$(1)))"' \
		-DFUZZ_LUA_FUNCTION='"$(word 3,$(subst :, ,$(1)))"' \
		-DFUZZ_LUA_PATH='"$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua"' -o $$@ $$< \
		$(FUZZ_LUA_OBJS) $(FUZZ_CORE_OBJS) -llua5.4 $(LDLIBS) -lpthread -lm -ldl
endef
$(foreach t,$(LUA_FUZZ_TARGETS),$(eval $(call LUA_FUZZ_RULE,$(t))))

fuzz-build: $(FUZZ_BINS)

# Seeds: every bpf/*.bpf.o (and the BTF, .BTF.ext, CO-RE access strings and code as assembler
# text inside them), the kernel's BTF, the USDT fixture, fuzz/seeds/<target>/ (small
# hand-written inputs) and the regression inputs.
fuzz-seeds: bpf $(BUILD)/fixtures/probe_target bpf/nobtf_globals.bpf.o $(LUA54_MODULE)
	LUA_CPATH="$(BUILD)/lua5.4/?.so;;" LUA_PATH="lua/?.lua;;" $(LUA54) fuzz/seeds.lua $(FUZZ_DIR)/seeds $(VMLINUX_BTF) $(BUILD)/fixtures/probe_target \
		$(BPF_OBJS)

# Each target runs for FUZZ_SECONDS on its corpus (build/fuzz/corpus/<target>, grown from the
# seeds); findings land in build/fuzz/findings/<target>/. Each run's log is kept in
# build/fuzz/logs/<target>.log and summed up in one line (fuzz/summary.sh: seconds,
# executions, cov:, ft:, findings).
fuzz: fuzz-build fuzz-seeds
	@set -e; for t in $(FUZZ_RUN); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/findings/$$t $(FUZZ_DIR)/logs; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=1 -rss_limit_mb=2048 \
			-print_final_stats=1 $(FUZZ_FLAGS) \
			-artifact_prefix=$(FUZZ_DIR)/findings/$$t/ $(FUZZ_DIR)/corpus/$$t \
			$(FUZZ_DIR)/seeds/$$t > $(FUZZ_DIR)/logs/$$t.log 2>&1 \
			|| { tail -40 $(FUZZ_DIR)/logs/$$t.log; echo "fuzz: $$t FOUND something"; exit 1; }; \
		bash fuzz/summary.sh $(FUZZ_DIR)/logs/$$t.log; \
	done

# ---- the -g0 object: global variables without BTF (loaded as libbpf loads it) --------------
bpf/nobtf_globals.bpf.o: bpf/nobtf_globals.bpf.c $(BPF_GEN_DEPS)
	@mkdir -p $(BUILD)/deps/bpf
	$(CLANG) $(filter-out -g,$(BPF_CFLAGS)) -g0 -MMD -MP -MF $(BUILD)/deps/bpf/nobtf_globals.bpf.d \
		-c $< -o $@

TEST_DEPS += bpf/nobtf_globals.bpf.o
