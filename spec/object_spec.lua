-- Objects end to end: several programs in one section, bpf-to-bpf calls to static and global
-- subprograms (nested), bpf_loop and bpf_for_each_map_elem callbacks, open from a path or from
-- bytes, bpf.load in one step. Programs run with BPF_PROG_TEST_RUN; results are checked both as
-- return values and as globals the programs wrote.
local bpf = require "bpf"
local support = require "support.init"

local MULTI = support.obj("multi")
local XDP_PASS = 2

describe("an object with several programs per section", function()
	local obj

	before_each(function()
		local err
		obj, err = bpf.open(MULTI)
		assert(obj, err)
	end)

	after_each(function()
		if obj then obj:close() end
		obj = nil
	end)

	it("lists every program before load, two of them from the same section", function()
		for _, name in ipairs { "sum_calls", "sum_loop", "sum_map", "pass_twice" } do
			assert.is_not_nil(obj.programs[name], name)
		end
		assert.is_nil(obj:program("no_such_program"))
		assert.has_error(function() return obj.programs.no_such_program end)
	end)

	it("loads, and each program of the shared section runs its own code", function()
		assert(obj:load())
		local r1 = assert(obj.programs.sum_calls:test_run { data = support.packet() })
		local r2 = assert(obj.programs.sum_loop:test_run { data = support.packet() })
		assert.equal(16, r1.retval)
		assert.equal(45, r2.retval)
		assert.is_not.equal(r1.retval, r2.retval)
	end)

	it("resolves a global subprogram calling a static one calling another", function()
		assert(obj:load())
		-- add_then_double(3, 4) = double_it(7) = plus_one(7) * 2 = 16
		local r = assert(obj.programs.sum_calls:test_run { data = support.packet() })
		assert.equal(16, r.retval)
		assert.equal(16, obj.globals.calls_result)
	end)

	it("runs a bpf_loop callback (function pointer relocation)", function()
		assert(obj:load())
		local r = assert(obj.programs.sum_loop:test_run { data = support.packet() })
		assert.equal(45, r.retval) -- 0 + 1 + ... + 9
		assert.equal(45, obj.globals.loop_result)
	end)

	it("runs the bpf_loop callback the number of times a .rodata constant set from Lua says",
		function()
			obj:close()
			obj = assert(bpf.open(MULTI, { globals = { loop_count = 5 } }))
			assert(obj:load())
			local r = assert(obj.programs.sum_loop:test_run { data = support.packet() })
			assert.equal(10, r.retval) -- 0 + 1 + 2 + 3 + 4
			assert.equal(10, obj.globals.loop_result)
		end)

	it("runs a bpf_for_each_map_elem callback over an array map", function()
		assert(obj:load())
		local r = assert(obj.programs.sum_map:test_run { data = support.packet() })
		assert.equal(XDP_PASS, r.retval)
		assert.equal(280, obj.globals.map_sum) -- 0 + 10 + ... + 70
		assert.equal(8, obj.globals.map_visits)
		-- The program filled the map; user space sees the same entries.
		assert.equal(70, obj.maps.numbers[7])
	end)

	it("runs a program repeatedly with test_run's repeat count", function()
		assert(obj:load())
		local r = assert(obj.programs.pass_twice:test_run { data = support.packet(), ["repeat"] = 3 })
		assert.equal(XDP_PASS, r.retval)
		assert.equal(3, obj.globals.pass_runs)
		assert.is_number(r.duration)
		assert.is_string(r.data)
	end)

	it("describes its handles with tostring", function()
		assert(obj:load())
		for _, h in ipairs { obj, obj.programs.sum_map, obj.maps.numbers } do
			local s = tostring(h)
			assert.is_string(s)
			assert.is_true(#s > 0)
		end
		assert.matches("sum_map", tostring(obj.programs.sum_map))
		assert.matches("numbers", tostring(obj.maps.numbers))
	end)
end)

describe("bpf.load and bpf.open", function()
	it("bpf.load opens and loads in one step", function()
		local obj = assert(bpf.load(MULTI))
		local r = assert(obj.programs.sum_calls:test_run { data = support.packet() })
		assert.equal(16, r.retval)
		obj:close()
	end)

	it("bpf.load passes options through", function()
		local obj = assert(bpf.load(MULTI, { globals = { loop_count = 3 } }))
		local r = assert(obj.programs.sum_loop:test_run { data = support.packet() })
		assert.equal(3, r.retval) -- 0 + 1 + 2
		obj:close()
	end)

	it("opens an object from its bytes", function()
		local bytes = support.read_file(MULTI)
		local obj = assert(bpf.open(bytes))
		assert(obj:load())
		local r = assert(obj.programs.sum_calls:test_run { data = support.packet() })
		assert.equal(16, r.retval)
		obj:close()
	end)

	it("keeps the object alive while a program handle is in use", function()
		local prog
		do
			local obj = assert(bpf.load(MULTI))
			prog = obj.programs.sum_calls
		end
		collectgarbage()
		collectgarbage()
		local r = assert(prog:test_run { data = support.packet() })
		assert.equal(16, r.retval)
	end)

	it("can load the same object twice side by side", function()
		local a = assert(bpf.load(MULTI, { globals = { loop_count = 4 } }))
		local b = assert(bpf.load(MULTI))
		assert.equal(6, assert(a.programs.sum_loop:test_run { data = support.packet() }).retval)
		assert.equal(45, assert(b.programs.sum_loop:test_run { data = support.packet() }).retval)
		a:close()
		b:close()
	end)
end)

describe("file descriptors", function()
	it("are all released by close, after loads, runs, attaches and failures", function()
		local before = support.fd_count()
		for _ = 1, 3 do
			local obj = assert(bpf.load(MULTI))
			assert(obj.programs.sum_map:test_run { data = support.packet() })
			obj:close()
			local sc = assert(bpf.load(support.obj("syscount")))
			local link = assert(sc.programs.count_syscalls:attach())
			local raw = assert(sc.programs.count_raw:attach())
			link:detach()
			raw = nil -- luacheck: ignore (collected below)
			sc:close()
			local bad = assert(bpf.open(support.obj("bad_verifier")))
			assert.is_nil((bad:load()))
			bad:close()
			assert.is_nil((bpf.open(support.obj("missing_sym"))))
			assert.is_nil((bpf.open("/bin/true")))
		end
		assert.equal(before, support.fd_count())
	end)
end)
