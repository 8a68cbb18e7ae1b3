# The API reference compiled into every build of the module (lua/lapidoc.c): doc/API.md as a C
# byte list, made with od (coreutils) so that a LuaRocks build needs no Lua at build time.
API_DOC_INC = $(BUILD)/gen/api_doc.inc
LUA_CPPFLAGS += -I$(BUILD)/gen

$(API_DOC_INC): doc/API.md
	@mkdir -p $(@D)
	{ od -An -v -tx1 $< | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo 0x00; } > $@.tmp
	@mv $@.tmp $@

# Every flavour's lapidoc.o waits for it (the dependency files only know it after a build).
$(foreach d,lua5.4 luajit asan-lua5.4 rock lua5.1 lua5.2 lua5.3,$(BUILD)/$(d)/lua/lapidoc.o): \
	$(API_DOC_INC)
