-- An object compiled without BTF (-g0) that has global variables: it opens, loads and runs as
-- under libbpf (data sections become array maps without BTF), and Lua reads and writes its
-- globals by their ELF symbols: integers of 1, 2, 4 or 8 bytes read as unsigned integers, other
-- sizes as byte strings.
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("nobtf_globals")

describe("globals of an object without BTF", function()
	local obj

	after_each(function()
		if obj then obj:close() end
		obj = nil
	end)

	it("has no BTF and still lists its data maps and globals", function()
		obj = assert(bpf.open(OBJ))
		local maps = {}
		for name in pairs(obj.maps) do maps[#maps + 1] = name end
		table.sort(maps)
		assert.same({ ".bss", ".data", ".rodata" }, maps)
		assert.equal(6, obj.globals.base)
		assert.equal(7, obj.globals.factor)
		assert.equal(0, obj.globals.hits)
	end)

	it("loads, runs with a .rodata value set before load, and reads the result back", function()
		obj = assert(bpf.open(OBJ))
		obj.globals.factor = 9
		assert(obj:load())
		local run = assert(obj.programs.compute:test_run { data = support.packet() })
		assert.equal(54, run.retval)
		assert.equal(54, obj.globals.last_result)
		obj.globals.base = 5 -- .data written after load is what the program reads next
		assert.equal(45, assert(obj.programs.compute:test_run { data = support.packet() }).retval)
		assert.has_error(function() obj.globals.factor = 1 end)
	end)

	it("counts syscalls of this process in .bss while its tracepoint is attached", function()
		obj = assert(bpf.open(OBJ, { globals = { target_tgid = support.getpid() } }))
		assert(obj:load())
		local link = assert(obj.programs.count_enter:attach())
		for _ = 1, 20 do io.open("/proc/self/stat"):close() end
		link:detach()
		assert.truthy(obj.globals.hits >= 20, "hits: " .. tostring(obj.globals.hits))
	end)
end)
