-- Misuse gets a message that says what is wrong and what would be right: a mistyped map or
-- program name lists the object's names, a mistyped tracepoint names the program and the nearest
-- tracepoints (from tracefs), and errors carry the caller's file:line on both interpreters, also
-- from the Lua code LuaJIT's iterators are generated as. (EPERM messages: unprivileged_spec.lua.)
local bpf = require "bpf"
local support = require "support.init"

local THIS_FILE = "misuse_spec%.lua:%d+: "

local function error_of(f)
	local ok, err = pcall(f)
	assert.is_false(ok)
	return tostring(err)
end

describe("misuse messages", function()
	local obj

	before_each(function()
		obj = assert(bpf.load(support.obj("syscount")))
	end)

	after_each(function()
		obj:close()
	end)

	it("a mistyped map name lists the object's maps", function()
		local err = error_of(function() return obj.maps.countz end)
		assert.matches(THIS_FILE .. "object 'syscount' has no map 'countz' %(its maps: %.bss, %.rodata, "
			.. "pid_comm, pid_counts, syscall_counts%)", err)
		err = error_of(function() return obj.maps[1] end)
		assert.matches("object 'syscount' has no map named by a number", err)
	end)

	it("a mistyped program name lists the object's programs", function()
		local err = error_of(function() return obj.programs.count end)
		assert.matches(THIS_FILE .. "object 'syscount' has no program 'count' %(its programs: count_raw, "
			.. "count_syscalls%)", err)
		-- obj:program(name) stays the way to ask without an error
		assert.is_nil(obj:program("count"))
		-- iterating is untouched
		local n = 0
		for _ in pairs(obj.programs) do n = n + 1 end
		assert.equal(2, n)
	end)

	it("a mistyped tracepoint names the program and the nearest tracepoints", function()
		local link, msg, errno = obj.programs.count_syscalls:attach_tracepoint("raw_syscalls", "sys_entr")
		assert.is_nil(link)
		assert.equal(2, errno)
		assert.equal("program 'count_syscalls': tracepoint raw_syscalls:sys_entr does not exist "
			.. "(nearest: raw_syscalls:sys_enter, raw_syscalls:sys_exit)", msg)
		link, msg = obj.programs.count_syscalls:attach_tracepoint("sched", "sched_proces_exec")
		assert.is_nil(link)
		assert.matches("nearest: sched:sched_process_exec", msg, 1, true)
		link, msg = obj.programs.count_raw:attach_raw_tracepoint("sys_entr")
		assert.is_nil(link)
		assert.equal("program 'count_raw': raw tracepoint 'sys_entr' does not exist (nearest: sys_enter)", msg)
		-- nothing near: no suggestion
		link, msg = obj.programs.count_syscalls:attach_tracepoint("zzzzzzzzzzzz", "qqqqqqqqqqqqqqq")
		assert.is_nil(link)
		assert.equal("program 'count_syscalls': tracepoint zzzzzzzzzzzz:qqqqqqqqqqqqqqq does not exist", msg)
	end)

	it("an iterator used after its object closed names the caller's line", function()
		local m = obj.maps.pid_counts
		m[1] = 1
		m[2] = 2
		local it = m:pairs()
		obj:close()
		local err = error_of(function()
			for _ in it do end
		end)
		assert.matches(THIS_FILE .. "map 'pid_counts' used after its object was closed", err)
	end)

	it("method errors name the caller's line", function()
		local err = error_of(function() obj.maps.pid_counts:update(1) end)
		assert.matches(THIS_FILE .. "bad argument #2 to 'update'", err)
		err = error_of(function() obj.maps.pid_counts:lookup("x") end)
		assert.matches(THIS_FILE .. "key: integer expected, got string", err)
	end)
end)
