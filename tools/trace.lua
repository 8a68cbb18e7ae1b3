-- `luabpf trace` without the static binary: bpftrace programs from a checkout, under the Lua 5.4
-- or LuaJIT build of the module (run as root, after `make`):
--
--   lua5.4 tools/trace.lua -e 'tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }'
--   luajit tools/trace.lua FILE.bt -d 5
--
-- The work is done by bpf.trace.cli (lua/bpf/trace/cli.lua), as in `build/luabpf trace`.
local dir = (arg and arg[0] or ""):match("^(.*)/tools/[^/]*$") or "."
local build = jit and "luajit" or "lua5.4"
package.path = dir .. "/lua/?.lua;" .. package.path
package.cpath = dir .. "/build/" .. build .. "/?.so;" .. package.cpath
os.exit(require("bpf.trace.cli").main(arg))
