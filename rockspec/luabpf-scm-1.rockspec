-- Build from a checkout, for the Lua luarocks is set up for (Debian: PUC Lua 5.1; 5.1 to 5.4
-- and LuaJIT all build, spec/luarocks_spec.lua installs each into a private tree):
--   luarocks make rockspec/luabpf-scm-1.rockspec                     (system tree; or --local)
--   luarocks --lua-version 5.4 make rockspec/luabpf-scm-1.rockspec   (or 5.2, 5.3)
--   luarocks --tree DIR make rockspec/luabpf-scm-1.rockspec          (a private tree)
--   luarocks --lua-version 5.1 make rockspec/luabpf-scm-1.rockspec LUA_INCDIR=/usr/include/luajit-2.1
--                                                                    (LuaJIT 2.1)
-- The "make" build type runs the project's Makefile: target rock-module (the C module, built
-- against LUA_INCDIR), then rock-install (bpf.so into the tree's lib/lua/V, lua/bpf/*.lua and
-- lua/bpf/trace/*.lua into share/lua/V/bpf). Needs gcc, make and libelf (with zlib): Debian/Ubuntu libelf-dev zlib1g-dev.
-- Running needs root (CAP_BPF + CAP_PERFMON) like any BPF loader.
rockspec_format = "3.0"
package = "luabpf"
version = "scm-1"
source = {
	url = "git+file://.",
}
description = {
	summary = "eBPF loader for Lua: libc + libelf only, no libbpf",
	detailed = [[
A from-scratch eBPF loader in C (libelf only) wrapped as the Lua module "bpf": open a
clang-compiled BPF object, load its programs, attach them, and read and write its maps
and global variables from Lua 5.1 to 5.4 or LuaJIT 2.1. The API reference is built in
(bpf.help).
]],
	labels = { "bpf", "ebpf", "linux", "tracing" },
}
supported_platforms = { "linux" }
dependencies = {
	"lua >= 5.1, < 5.5",
}
external_dependencies = {
	LIBELF = { header = "libelf.h", library = "elf" },
	ZLIB = { header = "zlib.h", library = "z" },
}
build = {
	type = "make",
	build_target = "rock-module",
	build_variables = {
		LUA_INCDIR = "$(LUA_INCDIR)",
		-- A build directory per Lua (keyed by its headers): a LuaJIT build never reuses objects
		-- compiled for 5.4, and a rock build never touches a developer's build/ products.
		BUILD = "build/luarocks$(LUA_INCDIR)",
	},
	install_target = "rock-install",
	install_variables = {
		LUA_INCDIR = "$(LUA_INCDIR)",
		BUILD = "build/luarocks$(LUA_INCDIR)",
		INST_LIBDIR = "$(LIBDIR)",
		INST_LUADIR = "$(LUADIR)",
	},
}
