-- Tracepoints and raw tracepoints: attach (from the section name or explicitly), counts move,
-- detach (explicitly, by closing, or by the garbage collector), counts stop.
local bpf = require "bpf"
local support = require "support.init"

local SYSCOUNT = support.obj("syscount")

local function count_of(map, key)
	return map[key] or 0
end

-- Waits until read() grows while this process makes syscalls; returns the last value seen.
local function grows(read)
	local start = read()
	return support.wait_until(function()
		local now = read()
		return now > start and now
	end, 5, function() support.do_syscalls(5) end)
end

-- After a detach nothing may count any more, however many syscalls happen.
local function stays(read)
	local frozen = read()
	support.do_syscalls(50)
	support.sleep(0.05)
	return read() == frozen
end

describe("tracepoint programs", function()
	local obj, pid

	before_each(function()
		pid = support.getpid()
		obj = assert(bpf.load(SYSCOUNT, { globals = { target_tgid = pid } }))
	end)

	after_each(function()
		obj:close()
	end)

	local function my_count()
		return count_of(obj.maps.pid_counts, pid)
	end

	it("attaches from the section name, counts, and stops after detach", function()
		local link = assert(obj.programs.count_syscalls:attach())
		assert.truthy(grows(my_count))
		assert.matches("sys_enter", tostring(link))
		assert.is_nil(select(2, link:detach()))
		assert.is_true(stays(my_count))
		-- The program counted only this process (target_tgid set from Lua before load).
		local others = 0
		for k in obj.maps.pid_counts:pairs() do
			if k ~= pid then others = others + 1 end
		end
		assert.equal(0, others)
	end)

	it("counts per syscall number as well", function()
		local link = assert(obj.programs.count_syscalls:attach())
		assert.truthy(grows(my_count))
		link:detach()
		local total = 0
		for _, n in obj.maps.syscall_counts:pairs() do total = total + n end
		-- Both maps were bumped by the same events.
		assert.equal(my_count(), total)
	end)

	it("records the command name the kernel knows for the process", function()
		local link = assert(obj.programs.count_syscalls:attach())
		assert.truthy(grows(my_count))
		link:detach()
		assert.equal(support.comm(pid), support.cstring(obj.maps.pid_comm[pid]))
	end)

	it("attaches to an explicitly named tracepoint", function()
		local link = assert(obj.programs.count_syscalls:attach_tracepoint("raw_syscalls", "sys_enter"))
		assert.truthy(grows(my_count))
		link:detach()
		assert.is_true(stays(my_count))
	end)

	it("detach twice is harmless", function()
		local link = assert(obj.programs.count_syscalls:attach())
		link:detach()
		link:detach()
	end)

	it("detaches a link the program no longer references when it is collected", function()
		local link = assert(obj.programs.count_syscalls:attach())
		assert.truthy(grows(my_count))
		link = nil -- luacheck: ignore
		collectgarbage()
		collectgarbage()
		assert.is_true(stays(my_count))
	end)

	it("fails with a clear message for a tracepoint that does not exist", function()
		local link, msg, errno = obj.programs.count_syscalls:attach_tracepoint("no_such_category",
			"no_such_event")
		assert.is_nil(link)
		assert.is_string(msg)
		assert.matches("no_such_category", msg)
		assert.is_number(errno)
	end)
end)

describe("raw tracepoint programs", function()
	local obj, pid

	before_each(function()
		pid = support.getpid()
		obj = assert(bpf.load(SYSCOUNT, { globals = { target_tgid = pid } }))
	end)

	after_each(function()
		obj:close()
	end)

	local function hits()
		return obj.globals.raw_hits
	end

	it("attaches from the section name (raw_tp/sys_enter), counts, stops after detach", function()
		assert.equal(0, hits())
		local link = assert(obj.programs.count_raw:attach())
		assert.truthy(grows(hits))
		assert.is_nil(select(2, link:detach()))
		assert.is_true(stays(hits))
	end)

	it("attaches to an explicitly named raw tracepoint", function()
		local link = assert(obj.programs.count_raw:attach_raw_tracepoint("sys_enter"))
		assert.truthy(grows(hits))
		link:detach()
		assert.is_true(stays(hits))
	end)

	it("fails with a clear message for a raw tracepoint that does not exist", function()
		local link, msg, errno = obj.programs.count_raw:attach_raw_tracepoint("no_such_raw_tp")
		assert.is_nil(link)
		assert.matches("no_such_raw_tp", msg)
		assert.is_number(errno)
	end)

	it("runs a tracepoint and a raw tracepoint program of one object at once", function()
		local l1 = assert(obj.programs.count_syscalls:attach())
		local l2 = assert(obj.programs.count_raw:attach())
		assert.truthy(grows(hits))
		assert.truthy(grows(function() return count_of(obj.maps.pid_counts, pid) end))
		l1:detach()
		l2:detach()
	end)
end)
