# `make static`: build/luabpf, one statically linked executable to deploy (issue 7): the Lua 5.4
# interpreter (Debian's liblua5.4.a) + the bpf module + libelf + zlib, and built in with them the
# pure-Lua submodules (lua/bpf/*.lua), our BPF headers and the project templates of `luabpf new`.
#
# glibc static rather than musl: Debian's libelf.a is built against glibc (it calls dcgettext and
# rawmemchr, which musl lacks), and there is no musl build of libelf or liblua5.4 to link. glibc's
# static link warns that dlopen needs shared libraries at run time: that only concerns `require`
# of C modules from disk, which the binary never needs (bpf is built in).
#
#   make static                 build/luabpf
#   build/luabpf script.lua ... | build/luabpf -e 'print(bpf.version)' | build/luabpf  (REPL)

STATIC_BIN  := $(BUILD)/luabpf
STATIC_DIR  := $(BUILD)/static
STATIC_LUA_OBJS := $(patsubst lua/%.c,$(BUILD)/lua5.4/lua/%.o,$(LUA_SRCS))

# What the binary carries (NAME=PATH pairs for tools/embed.lua).
STATIC_EMBED := new/new.lua=tools/new-project/new.lua cc/cc.lua=tools/cc/cc.lua \
	repl/complete.lua=tools/repl/complete.lua \
	$(foreach t,$(notdir $(wildcard tools/new-project/templates/*)),new/templates/$(t)=tools/new-project/templates/$(t)) \
	$(foreach h,$(wildcard bpf/include/*.h),include/$(notdir $(h))=$(h)) \
	include/bpf_helper_defs.h=$(HELPER_DEFS) \
	$(foreach m,$(wildcard lua/bpf/*.lua),$(m)=$(m)) \
	$(foreach m,$(wildcard lua/bpf/trace/*.lua),$(m)=$(m))
STATIC_EMBED_FILES = $(foreach e,$(STATIC_EMBED),$(lastword $(subst =, ,$(e))))

.PHONY: static
static: $(STATIC_BIN)

$(STATIC_DIR)/embedded.c: tools/embed.lua $(STATIC_EMBED_FILES) mk/static.mk
	@mkdir -p $(@D)
	$(LUA54) tools/embed.lua $@ $(STATIC_EMBED)

$(STATIC_DIR)/embedded.o: $(STATIC_DIR)/embedded.c tools/luabpf_embedded.h
	$(CC) $(CFLAGS) -Itools -c -o $@ $<

$(STATIC_DIR)/luabpf_main.o: tools/luabpf_main.c tools/luabpf_embedded.h tools/luabpf_readline.h \
		tools/luabpf_alloc.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools $(LUA54_INC) -c -o $@ $<

# The Lua allocator of the binary (size classes: start-up makes some 40,000 small blocks).
$(STATIC_DIR)/luabpf_alloc.o: tools/luabpf_alloc.c tools/luabpf_alloc.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools -c -o $@ $<

# The REPL's line editing: Debian's libedit (BSD-licensed), linked statically with what it
# needs (terminfo from ncurses, libbsd and libmd).
$(STATIC_DIR)/luabpf_readline.o: tools/luabpf_readline.c tools/luabpf_readline.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools $(LUA54_INC) -c -o $@ $<
STATIC_EDIT_LIBS := -l:libedit.a -l:libtinfo.a -l:libbsd.a -l:libmd.a

# The module's objects are linked one by one (not from an archive): luaopen_bpf reaches some
# parts through weak references, which would not pull archive members in.
$(STATIC_BIN): $(STATIC_DIR)/luabpf_main.o $(STATIC_DIR)/luabpf_alloc.o $(STATIC_DIR)/luabpf_readline.o \
		$(STATIC_DIR)/embedded.o \
		$(STATIC_LUA_OBJS) $(CORE_LIB)
	$(CC) -static -o $@.tmp $^ -l:liblua5.4.a -lelf -lz $(STATIC_EDIT_LIBS) -lm -ldl \
		2>$(STATIC_DIR)/link.log || \
		{ cat $(STATIC_DIR)/link.log >&2; exit 1; }
	@grep -v 'statically linked applications requires at runtime\|(loadlib.o): in function\|(readline.o): in function\|(filecomplete.o): in function' \
		$(STATIC_DIR)/link.log >&2 || true
	@! ldd $@.tmp >/dev/null 2>&1 || { echo "static: $@ is not a static executable" >&2; exit 1; }
	@mv $@.tmp $@

TEST_DEPS += $(STATIC_BIN)
