-- Cost of bpf.asm for a compiler: a program of 200 statements (about 2,200 instructions: line
-- info, a helper call, a map lookup, a label and a jump each) built, finished, encoded, given its
-- BTF, loaded; and its text assembled back. Run by `make bench-asm` under lua5.4 and luajit.
local bpf = require "bpf"
local asm = bpf.asm
local abtf = require "bpf.asm_btf"

local clock = os.clock
local ROUNDS = 50
local map = assert(bpf.map_create{ type = "hash", key_type = "u32", value_type = "u64", max_entries = 16 })

local function build()
	local b = asm.new{ name = "bench" }
	local key = b:stack(4)
	for i = 1, 200 do
		b:line("bench.bt", i, 1, "@x[pid] = count()")
		b:call("get_current_pid_tgid")
		b:rsh("r0", 32)
		b:stx("u32", "r10", key, "r0")
		b:mov("r2", "r10"); b:add("r2", key)
		b:helper("map_lookup_elem", map, "r2")
		local skip = b:new_label("skip")
		b:jeq("r0", 0, skip)
		b:mov("r1", 1); b:xadd("u64", "r0", 0, "r1")
		b:label(skip)
	end
	b:mov("r0", 0); b:exit()
	return b
end

-- The fastest of ROUNDS runs (CPU time, ms): the machine is shared, and the minimum is what the
-- code costs when nothing else interferes.
local function per_round(f, setup)
	local best = math.huge
	for _ = 1, ROUNDS do
		local arg = setup and setup()
		local t0 = clock()
		f(arg)
		local t = clock() - t0
		if t < best then best = t end
	end
	return best * 1e3
end

local b
local t_build = per_round(function() b = build() end)
local t_finish = per_round(function(x) x:finish(); x:bytes(); b = x end, build)
local t_btf = per_round(function() abtf.program(b, "bench") end)
local t0 = clock()
local prog = assert(b:load{ type = "tracepoint", attach_target = "syscalls/sys_enter_openat" })
local t_load = (clock() - t0) * 1e3
local text = b:text()
local t_asm = per_round(function() asm.assemble(text) end)
print(string.format("%-8s %d instructions: build %.2f ms, + finish and encode %.2f ms, BTF + " ..
	"func/line info %.2f ms; load (verifier included) %.1f ms; assemble the text %.1f ms",
	jit and "luajit" or "lua5.4", b:count(), t_build, t_finish, t_btf, t_load, t_asm))
assert(prog:fd() >= 0)
