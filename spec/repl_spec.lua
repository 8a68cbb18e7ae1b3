-- The REPL (`lua5.4 -i -l bpf`; LuaJIT: `luajit -i -e "bpf = require 'bpf'"`) driven through a
-- pipe: load an object, print a map, a program, a BTF type and decoded values, ask for help,
-- and check the text the interpreter wrote.
local support = require "support.init"

-- Runs lines in an interactive interpreter of the kind running this spec; returns its output.
-- Lines starting with "=" are expressions whose value the REPL prints (5.4 prints any bare
-- expression; LuaJIT needs the "=").
local function repl(lines)
	local script = support.tmpname()
	local body = {}
	for i, l in ipairs(lines) do
		body[i] = jit and l or l:gsub("^=", "")
	end
	support.write_file(script, table.concat(body, "\n") .. "\n")
	local cmd = jit and "luajit -i -e \"bpf = require 'bpf'\"" or "lua5.4 -i -l bpf"
	local ok, out = support.sh(("cd %s && %s < %s 2>&1"):format(support.root, cmd, script))
	os.remove(script)
	return out, ok
end

describe("the REPL", function()
	it("prints handles, BTF types and decoded values readably", function()
		local out = repl {
			'obj = bpf.load("bpf/syscount.bpf.o")',
			'=obj',
			'=obj.maps.syscall_counts',
			'=obj.programs.count_syscalls',
			'=bpf.btf.open("bpf/syscount.bpf.o"):type("sys_enter_record")',
			'obj.maps.syscall_counts[2] = 20',
			'obj.maps.syscall_counts[1] = 10',
			'bpf.pp(obj.maps.syscall_counts)',
			'bpf.pp({ b = { 1, 2 }, a = "x" })',
			'link = obj.programs.count_syscalls:attach()',
			'=link',
			'link:detach()',
			'obj:close()',
			'=obj',
		}
		assert.matches("bpf%.object%(syscount, loaded, 2 programs, %d+ maps%)", out)
		assert.matches("bpf%.map%(syscall_counts, hash, key 4[^\n]*max 1024[^\n]*%)", out)
		assert.matches("bpf%.program%(count_syscalls, tracepoint/raw_syscalls/sys_enter, type tracepoint, fd %d+%)", out)
		assert.matches("struct sys_enter_record {\n[^}]*long id;[^}]*unsigned long args%[6%];", out)
		assert.matches("{ %[1%] = 10, %[2%] = 20 }", out)
		assert.matches('{ a = "x", b = { 1, 2 } }', out)
		assert.matches("bpf%.link%(tracepoint raw_syscalls:sys_enter, fd %d+%)", out)
		assert.matches("bpf%.object%(syscount, closed%)", out)
		assert.not_matches("error", out)
	end)

	it("lists what the module and each handle can do", function()
		local out = repl {
			'bpf.help()',
			'obj = bpf.load("bpf/syscount.bpf.o")',
			'obj.maps.pid_counts:help()',
			'bpf.help(obj.programs.count_raw)',
			'bpf.help("bpf.open")',
			'bpf.help("map:lookup")',
		}
		assert.matches("bpf%.programs%(", out)
		assert.matches("bpf%.open%(", out)
		assert.matches("bpf%.hist", out)
		assert.matches("bpf%.map methods:\n", out)
		assert.matches("\n  map:lookup%(key[^\n]*%)%s+The value under", out) -- with a description
		assert.matches("bpf%.program methods:\n", out)
		assert.matches("\n  prog:xlated%(%)%s+The kernel's translated instructions", out)
		assert.matches("\n  prog:attach_xdp%(", out)
		assert.not_matches("\nnil\n", out)
		assert.not_matches("no help for", out)
		assert.not_matches("error", out)
	end)
end)
