# bpf.asm's helper table (lua/bpf/asm_helpers.lua) is generated from the UAPI header by
# bpf/gen_helper_defs.lua --lua and kept in the tree (the pure-Lua module needs it at run time,
# also in the static binary). `make asm-helpers` regenerates it; spec/asm_spec.lua checks it is
# current against the installed header.
.PHONY: asm-helpers
asm-helpers:
	$(LUA54) $(HELPER_GEN) --lua $(UAPI_BPF_H) > lua/bpf/asm_helpers.lua.tmp
	mv lua/bpf/asm_helpers.lua.tmp lua/bpf/asm_helpers.lua
