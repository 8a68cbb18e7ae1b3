-- Scaffolding: `make new NAME=... DIR=...` and `luabpf new NAME DIR` write a project (NAME.bpf.c,
-- NAME.lua, Makefile, include/) that builds with its own Makefile and runs as generated: it
-- loads and attaches its program and prints the per-process syscall counts it collected.
local support = require "support.init"

local root = support.root
local is_luajit = rawget(_G, "jit") ~= nil

local q = support.quote

-- Checks what a generated NAME.lua printed after counting for a while.
local function check_run_output(name, out)
	assert.truthy(out:match(name .. ": counting syscalls for [%d.]+ s %(bpf%.link%(tracepoint raw_syscalls:sys_enter"), out)
	assert.truthy(out:match("\n%s+PID%s+COMM%s+SYSCALLS\n"), out)
	local rows = 0
	for pid, calls in out:gmatch("\n%s*(%d+)  %S+%s+(%d+)") do
		assert.is_true(tonumber(pid) > 0 and tonumber(calls) > 0, out)
		rows = rows + 1
	end
	assert.is_true(rows >= 1, out)
	local total, procs = out:match("\ntotal: (%d+) syscalls by (%d+) processes")
	assert.truthy(total, out)
	assert.is_true(tonumber(total) > 0 and tonumber(procs) >= rows, out)
end

describe("project scaffolding", function()
	local tmp

	lazy_setup(function()
		local ok, out = support.sh("mktemp -d /tmp/luabpf-new.XXXXXX")
		assert(ok, out)
		tmp = out:gsub("%s+$", "")
	end)

	lazy_teardown(function()
		if tmp and tmp:match("^/tmp/luabpf%-new%.") then os.execute("rm -rf " .. q(tmp)) end
	end)

	it("make new writes a project that builds and runs with this tree's module", function()
		local dir = tmp .. "/from_make"
		local ok, out = support.sh("make -s --no-print-directory -C " .. q(root) ..
			" new NAME=sysprobe DIR=" .. q(dir) .. " 2>&1")
		assert(ok, out)
		assert.truthy(out:match("created " .. dir:gsub("%p", "%%%0")), out)
		-- The project compiles with its own Makefile and headers only.
		ok, out = support.sh("make -C " .. q(dir) .. " 2>&1")
		assert(ok, out)
		local obj = io.open(dir .. "/sysprobe.bpf.o", "rb")
		assert.truthy(obj, "sysprobe.bpf.o not built")
		obj:close()
		assert.falsy(out:find(root .. "/bpf/include", 1, true), "uses the tree's headers:\n" .. out)
		ok, out = support.sh("env -u LUA_CPATH -u LUA_PATH make -s -C " .. q(dir) .. " run ARGS=0.5" ..
			(is_luajit and " LUA=luajit" or "") .. " 2>&1")
		assert(ok, out)
		check_run_output("sysprobe", out)
	end)

	it("make new writes no absolute path of the checkout and a script that sleeps with bpf.sleep", function()
		local dir = tmp .. "/portable"
		local ok, out = support.sh("make -s --no-print-directory -C " .. q(root) ..
			" new NAME=portable DIR=" .. q(dir) .. " 2>&1")
		assert(ok, out)
		local makefile = support.read_file(dir .. "/Makefile")
		-- (the relative path may end with the same directory names: no absolute path starts it)
		assert.falsy(makefile:match("[%s=\"';:]" .. root:gsub("%p", "%%%0")), makefile)
		assert.truthy(makefile:match("\nLUABPF %?= [%.%w/_-]+\n"), makefile)
		local script = support.read_file(dir .. "/portable.lua")
		assert.falsy(script:find("os.execute", 1, true), script)
		assert.truthy(script:find("bpf.sleep", 1, true), script)
		-- moved elsewhere, the project runs once told where the module is
		local moved = tmp .. "/elsewhere/deeper/portable"
		assert(support.sh("mkdir -p " .. q(tmp .. "/elsewhere/deeper") .. " && mv " .. q(dir) .. " " .. q(moved)))
		ok, out = support.sh("env -u LUA_CPATH -u LUA_PATH make -s -C " .. q(moved) .. " run ARGS=0.5 LUABPF=" ..
			q(root) .. (is_luajit and " LUA=luajit" or "") .. " 2>&1")
		assert(ok, out)
		check_run_output("portable", out)
	end)

	it("luabpf new writes a project that builds and runs with the static binary", function()
		local dir = tmp .. "/from_binary"
		local ok, out = support.sh("cd " .. q(tmp) .. " && " .. q(root .. "/build/luabpf") ..
			" new tracer " .. q(dir) .. " 2>&1")
		assert(ok, out)
		ok, out = support.sh("env -i PATH=/usr/bin:/bin make -C " .. q(dir) .. " 2>&1")
		assert(ok, out)
		ok, out = support.sh("env -i PATH=/usr/bin:/bin make -s -C " .. q(dir) .. " run ARGS=0.5 2>&1")
		assert(ok, out)
		check_run_output("tracer", out)
		-- make clean removes the object; the project builds again.
		assert(support.sh("make -s -C " .. q(dir) .. " clean"))
		assert.is_nil(io.open(dir .. "/tracer.bpf.o", "rb"))
	end)

	it("refuses bad names and existing projects", function()
		local ok, out = support.sh("make -s --no-print-directory -C " .. q(root) ..
			" new NAME='a-b' DIR=" .. q(tmp .. "/bad") .. " 2>&1")
		assert.is_false(ok)
		assert.truthy(out:match("not a valid project name"), out)
		ok, out = support.sh("make -s --no-print-directory -C " .. q(root) .. " new 2>&1")
		assert.is_false(ok)
		assert.truthy(out:match("usage: make new NAME="), out)
		ok, out = support.sh("make -s --no-print-directory -C " .. q(root) ..
			" new NAME=sysprobe DIR=" .. q(tmp .. "/from_make") .. " 2>&1")
		assert.is_false(ok)
		assert.truthy(out:match("exists already"), out)
	end)
end)
