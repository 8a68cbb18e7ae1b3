-- Closing frees at once, not at garbage collection: a program built by bpf.asm and a map made by
-- bpf.map_create close their fds on close(), and t:close() of a bpf.trace leaves the process with
-- the fds it had before (counted in /proc/<pid>/fd with the collector stopped).
local bpf = require "bpf"
local support = require "support.init"
local asm = bpf.asm

local function own_pid()
	local f = assert(io.open("/proc/self/stat"))
	local pid = f:read("*l"):match("^(%d+)")
	f:close()
	return pid
end
local PID = own_pid()

-- The number of kernel-object fds (BPF programs, maps, BTF, links, perf events, epoll: all
-- anon inodes) this process holds; unlike support.fd_count, without collecting garbage. (The
-- pipe of the count itself is left out: its write end may or may not be listed.)
local function fd_count()
	local p = assert(io.popen("ls -l /proc/" .. PID .. "/fd"))
	local n = 0
	for l in p:lines() do
		if l:find("anon_inode:", 1, true) then n = n + 1 end
	end
	p:close()
	return n
end

local function built()
	local b = asm.new()
	b:mov("r0", 7)
	b:exit()
	return assert(b:load{ type = "socket_filter", name = "tclose_p" })
end

describe("closing without the garbage collector", function()
	before_each(function()
		collectgarbage("collect")
		collectgarbage("stop")
	end)
	after_each(function() collectgarbage("restart") end)

	it("prog:close() frees a built program's fd now; later use raises, close twice is fine", function()
		local before = fd_count()
		local prog = built()
		assert.are.equal(7, prog:test_run{ data = support.packet(64) }.retval)
		assert.is_true(fd_count() > before)
		prog:close()
		assert.are.equal(before, fd_count())
		prog:close()
		local ok, err = pcall(prog.test_run, prog, { data = support.packet(64) })
		assert.is_false(ok)
		assert.matches("program 'tclose_p' used after its object was closed", err, 1, true)
		assert.has_error(function() return prog.type end)
		assert.matches("closed", tostring(prog))
		collectgarbage("restart")
		prog = nil
		collectgarbage("collect") -- the object's __gc after an explicit close: no double free
	end)

	it("<close> (Lua 5.4) closes a built program at the end of its scope", function()
		if _VERSION ~= "Lua 5.4" then return end
		local before = fd_count()
		local scoped = assert(load([[local prog <close> = ...; return prog:test_run{ data = select(2, ...) }.retval]]))
		local prog = built()
		assert.are.equal(7, scoped(prog, support.packet(64)))
		assert.are.equal(before, fd_count())
		assert.has_error(function() prog:test_run{ data = support.packet(64) } end)
	end)

	it("map:close() frees a map made by bpf.map_create", function()
		local before = fd_count()
		local m = assert(bpf.map_create{ type = "hash", name = "tclose_m", key_type = "u32",
			value_type = "u64", max_entries = 4 })
		m[1] = 2
		m:close()
		m:close()
		assert.are.equal(before, fd_count())
		assert.has_error(function() return m[1] end)
	end)

	it("an object's program cannot be closed alone", function()
		local obj = assert(bpf.open(support.obj("syscount")))
		local prog = obj.programs.count_syscalls
		local ok, err = pcall(prog.close, prog)
		assert.is_false(ok)
		assert.matches("close the object instead", err, 1, true)
		obj:close()
	end)

	it("t:close() of a bpf.trace gives back every fd: links, reader, programs, maps", function()
		local before = fd_count()
		local t = assert(bpf.trace([[
			BEGIN { @start = nsecs; }
			tracepoint:syscalls:sys_enter_getppid { @[comm] = count(); @h = hist(1); printf("x\n"); }
			interval:ms:100 { @i = count(); }
			END { @e = 1; }]], { on_printf = function() end }))
		assert.is_true(fd_count() > before + 5)
		t:poll(0)
		t:close()
		assert.are.equal(before, fd_count())
		t:close()
	end)

	it("finish() then close() gives back every fd too", function()
		local before = fd_count()
		local t = assert(bpf.trace([[tracepoint:syscalls:sys_enter_getppid { @n = count(); }
			END { @e = 1; }]], { on_printf = function() end, print = false }))
		t:finish()
		assert.are.equal(1, t:read("@e"))
		t:close()
		assert.are.equal(before, fd_count())
	end)
end)
