-- Global data: .data, .rodata, .bss and custom .data.* / .rodata.* sections become array maps.
-- Initial values are visible from Lua, .rodata constants set before load change what the program
-- does, .data written from Lua after load is what the program reads, and a .bss counter moves
-- while a tracepoint fires.
local bpf = require "bpf"
local support = require "support.init"

local GLOBALS = support.obj("globals")

local function run_compute(obj)
	return assert(obj.programs.compute:test_run { data = support.packet() }).retval
end

describe("global data sections", function()
	local obj

	after_each(function()
		if obj then obj:close() end
		obj = nil
	end)

	it("shows every section's initial values before load", function()
		obj = assert(bpf.open(GLOBALS))
		assert.equal(42, obj.globals.data_var)            -- .data
		assert.equal(1, obj.globals.multiplier)           -- .rodata
		assert.equal(0, obj.globals.enter_count)          -- .bss
		assert.equal(5, obj.globals.custom_data)          -- .data.custom
		assert.equal(9, obj.globals.custom_ro)            -- .rodata.custom
		assert.equal("hello", support.cstring(obj.globals.greeting))
	end)

	it("shows the same values after load, read from the kernel's maps", function()
		obj = assert(bpf.load(GLOBALS))
		assert.equal(42, obj.globals.data_var)
		assert.equal(1, obj.globals.multiplier)
		assert.equal(0, obj.globals.enter_count)
		assert.equal(0, obj.globals.last_result)
		assert.equal(5, obj.globals.custom_data)
		assert.equal(9, obj.globals.custom_ro)
		assert.equal("hello", support.cstring(obj.globals.greeting))
	end)

	it("keeps 64-bit constants exact", function()
		obj = assert(bpf.load(GLOBALS))
		assert.equal("1234605616436508552", support.int_text(obj.globals.big_constant))
	end)

	it("runs the program on the initial values", function()
		obj = assert(bpf.load(GLOBALS))
		assert.equal(42 * 1 + 5 * 9, run_compute(obj))
		assert.equal(87, obj.globals.last_result) -- written by the program into .bss
	end)

	it("changes program behaviour through a .rodata constant set from Lua", function()
		obj = assert(bpf.load(GLOBALS, { globals = { multiplier = 3 } }))
		assert.equal(3, obj.globals.multiplier)
		assert.equal(42 * 3 + 5 * 9, run_compute(obj))
	end)

	it("lets Lua set .rodata between open and load", function()
		obj = assert(bpf.open(GLOBALS))
		obj.globals.multiplier = 2
		obj.globals.custom_ro = 10
		assert(obj:load())
		assert.equal(42 * 2 + 5 * 10, run_compute(obj))
	end)

	it("refuses to write .rodata once loaded (it is frozen)", function()
		obj = assert(bpf.load(GLOBALS))
		assert.has_error(function() obj.globals.multiplier = 7 end)
		assert.equal(1, obj.globals.multiplier)
		assert.equal(87, run_compute(obj))
	end)

	it("shares .data and .data.custom with running programs", function()
		obj = assert(bpf.load(GLOBALS))
		obj.globals.data_var = 100
		obj.globals.custom_data = 6
		assert.equal(100, obj.globals.data_var)
		assert.equal(100 + 6 * 9, run_compute(obj))
		-- and the other way round: the program's .bss write is visible at once
		assert.equal(154, obj.globals.last_result)
	end)

	it("counts in .bss while a tracepoint fires, and stops after detach", function()
		local pid = support.getpid()
		obj = assert(bpf.load(GLOBALS, { globals = { target_tgid = pid } }))
		assert.equal(pid, obj.globals.target_tgid)
		assert.equal(0, obj.globals.enter_count)

		local link = assert(obj.programs.count_enter:attach())
		local moved = support.wait_until(function()
			return obj.globals.enter_count > 0
		end, 5, function() support.do_syscalls(5) end)
		assert.is_true(moved == true)

		local before = obj.globals.enter_count
		support.do_syscalls(20)
		assert.is_true(obj.globals.enter_count >= before + 20)

		assert.is_nil(select(2, link:detach()))
		local stopped = obj.globals.enter_count
		support.do_syscalls(20)
		assert.equal(stopped, obj.globals.enter_count)
	end)

	it("can reset a .bss counter from Lua", function()
		obj = assert(bpf.load(GLOBALS))
		run_compute(obj)
		assert.equal(87, obj.globals.last_result)
		obj.globals.last_result = 0
		assert.equal(0, obj.globals.last_result)
	end)
end)
