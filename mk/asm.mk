# bpf.asm's helper table (lua/bpf/asm_helpers.lua) is generated from the UAPI header by
# bpf/gen_helper_defs.lua --lua and kept in the tree (the pure-Lua module needs it at run time,
# also in the static binary). `make asm-helpers` regenerates it; spec/asm_spec.lua checks it is
# current against the installed header.
.PHONY: asm-helpers
asm-helpers:
	$(LUA54) $(HELPER_GEN) --lua $(UAPI_BPF_H) > lua/bpf/asm_helpers.lua.tmp
	mv lua/bpf/asm_helpers.lua.tmp lua/bpf/asm_helpers.lua

# `make bench-asm`: what building, encoding and loading a 2,200-instruction program costs.
.PHONY: bench-asm
bench-asm: $(LUA54_MODULE) $(LUAJIT_MODULE)
	LUA_CPATH="$(BUILD)/lua5.4/?.so;;" LUA_PATH="lua/?.lua;;" $(LUA54) bench/asm_build.lua
	LUA_CPATH="$(BUILD)/luajit/?.so;;" LUA_PATH="lua/?.lua;;" $(LUAJIT) bench/asm_build.lua
