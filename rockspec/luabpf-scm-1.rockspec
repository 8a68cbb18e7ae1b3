-- Build from a checkout: luarocks make rockspec/luabpf-scm-1.rockspec
-- (the "make" build type runs the project's Makefile: target rock-module, then rock-install).
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
and global variables from Lua 5.4 or LuaJIT 2.1.
]],
}
supported_platforms = { "linux" }
dependencies = {
	"lua >= 5.1, < 5.5",
}
external_dependencies = {
	LIBELF = { header = "libelf.h", library = "elf" },
}
build = {
	type = "make",
	build_target = "rock-module",
	build_variables = {
		LUA_INCDIR = "$(LUA_INCDIR)",
	},
	install_target = "rock-install",
	install_variables = {
		INST_LIBDIR = "$(LIBDIR)",
		INST_LUADIR = "$(LUADIR)",
	},
}
