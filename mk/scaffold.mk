# `make new NAME=project [DIR=path]`: a ready project (issue 7) written by tools/new-project/new.lua
# — NAME.bpf.c (counts syscalls per process), NAME.lua (loads, attaches, prints the map), a
# Makefile, and include/ with our BPF headers so that it builds on its own. The project's
# `make run` uses lua5.4 with this tree's build of the module, found through LUABPF, the path
# from the project to this tree (relative: no absolute path of the checkout is written; set
# LUABPF=... when the project moves) (LUA=luajit works too); projects
# written by the static binary (`build/luabpf new NAME DIR`) run with that binary instead.
# DIR defaults to NAME (relative to this directory).

.PHONY: new
new: $(HELPER_DEFS) $(LUA54_MODULE) $(LUAJIT_MODULE)
	@test -n "$(NAME)" || { echo "usage: make new NAME=project [DIR=path]" >&2; exit 2; }
	LUABPF_CHECKOUT="$(CURDIR)" $(LUA54) tools/new-project/new.lua $(NAME) $(or $(DIR),$(NAME)) lua5.4 \
		'LUA_CPATH="$$(LUABPF)/$(BUILD)/$$(notdir $$(LUA))/?.so;;" LUA_PATH="$$(LUABPF)/lua/?.lua;$$(LUABPF)/lua/?/init.lua;;" ' \
		$(wildcard bpf/include/*.h) $(HELPER_DEFS)
