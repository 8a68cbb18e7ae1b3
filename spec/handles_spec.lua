-- The handle userdata of the binding: how they print, close, keep their owners alive, survive
-- the garbage collector in any order, and refuse wrong arguments and use after close.
local bpf = require "bpf"
local support = require "support.init"

local VALUES = support.obj("value_types")
local SYSCOUNT = support.obj("syscount")
local LUAJIT = rawget(_G, "jit") ~= nil

local function full_gc()
	collectgarbage()
	collectgarbage()
end

local function fails_with(pattern, f, ...)
	local ok, err = pcall(f, ...)
	assert.is_false(ok)
	assert.matches(pattern, tostring(err))
end

describe("handles", function()
	describe("__tostring", function()
		it("describes objects, programs and maps before and after load and close", function()
			local obj = assert(bpf.open(VALUES))
			assert.equal("bpf.object(value_types, not loaded, 2 programs, 13 maps)", tostring(obj))
			assert.matches("^bpf%.program%(write_values, socket, type socket_filter, not loaded%)$",
				tostring(obj.programs.write_values))
			assert.equal("bpf.map(values, hash, key 4, value 96, max 16, not created)",
				tostring(obj.maps.values))
			assert(obj:load())
			assert.equal("bpf.object(value_types, loaded, 2 programs, 13 maps)", tostring(obj))
			assert.matches("^bpf%.map%(values, hash, key 4 __u32, value 96 struct value, max 16, 0 entries, fd %d+%)$",
				tostring(obj.maps.values))
			assert.matches("^bpf%.program%(write_values, socket, type socket_filter, fd %d+%)$",
				tostring(obj.programs.write_values))
			assert.matches("^bpf%.map_iterator%(values, batch%)$", tostring(obj.maps.values:pairs()))
			local prog, map = obj.programs.write_values, obj.maps.values
			obj:close()
			assert.equal("bpf.object(value_types, closed)", tostring(obj))
			assert.equal("bpf.program(write_values, closed)", tostring(prog))
			assert.equal("bpf.map(values, closed)", tostring(map))
		end)

		it("describes links, attached and detached", function()
			local obj = assert(bpf.load(SYSCOUNT))
			local link = assert(obj.programs.count_raw:attach())
			assert.matches("^bpf%.link%(.*sys_enter.*, fd %d+%)$", tostring(link))
			assert(link:detach())
			assert.matches("detached", tostring(link))
			link:close()
			assert.equal("bpf.link(closed)", tostring(link))
			obj:close()
		end)
	end)

	describe("properties", function()
		it("expose names, types and sizes; methods win over map keys", function()
			local obj = assert(bpf.load(VALUES))
			local m, p = obj.maps.pcpu_counts, obj.programs.check_values
			assert.equal("pcpu_counts", m.name)
			assert.equal("percpu_array", m.type)
			assert.equal(4, m.key_size)
			assert.equal(8, m.value_size)
			assert.equal(4, m.max_entries)
			assert.is_true(m.percpu)
			assert.is_true(m:fd() >= 0)
			assert.equal("check_values", p.name)
			assert.equal("socket", p.section)
			assert.equal("socket_filter", p.type)
			assert.is_true(p:fd() >= 0)
			assert.equal(obj, p.object)
			assert.equal("value_types", obj.name)
			-- a string key naming a method or property needs map:lookup
			local by_name = obj.maps.by_name
			by_name:update("name", 3)
			assert.equal("by_name", by_name.name)
			assert.equal(3, by_name:lookup("name"))
			obj:close()
		end)

		it("hands out the same handle for the same program or map", function()
			local obj = assert(bpf.open(VALUES))
			assert.equal(obj.maps.values, obj:map("values"))
			assert.equal(obj.programs.write_values, obj:program("write_values"))
			local none, err, errno = obj:map("nope")
			assert.is_nil(none)
			assert.matches("no map 'nope'", err)
			assert.equal(2, errno)
			obj:close()
		end)
	end)

	describe("close", function()
		it("is idempotent and makes every child handle refuse use", function()
			local obj = assert(bpf.load(VALUES))
			local map, prog = obj.maps.many, obj.programs.write_values
			map[1] = 1
			local it = map:pairs()
			obj:close()
			obj:close()
			fails_with("map 'many' used after its object was closed", function() return map[1] end)
			fails_with("map 'many' used after its object was closed", function() map[1] = 2 end)
			fails_with("map 'many' used after its object was closed", function() return map:count() end)
			fails_with("map 'many' used after its object was closed", function() return map.type end)
			fails_with("map 'many' used after its object was closed", function() return it() end)
			fails_with("program 'write_values' used after its object was closed",
				function() return prog:test_run {} end)
			fails_with("program 'write_values' used after its object was closed",
				function() return prog.section end)
			fails_with("object 'value_types' used after it was closed", function() return obj:load() end)
			assert.equal("many", map.name) -- names stay readable
			assert.is_true(map.closed)
			assert.is_true(obj.closed)
		end)

		it("stops an iteration when the object closes in the middle of it", function()
			local obj = assert(bpf.load(VALUES))
			for i = 1, 10 do obj.maps.many[i] = i end
			fails_with("used after its object was closed", function()
				for _ in obj.maps.many:pairs { batch = false } do obj:close() end
			end)
		end)

		if not LUAJIT then
			it("honours to-be-closed variables on Lua 5.4", function()
				local chunk = assert(load([[
					local bpf, path = ...
					local outer
					do
						local obj <close> = assert(bpf.load(path))
						outer = obj
					end
					return outer
				]]))
				local obj = chunk(bpf, VALUES)
				assert.is_true(obj.closed)
			end)
		end

		it("keeps a link working after its object is closed, until it is closed", function()
			local obj = assert(bpf.load(SYSCOUNT))
			local link = assert(obj.programs.count_raw:attach())
			obj:close()
			assert.is_true(link.attached)
			link:close()
			assert(link:detach()) -- harmless once closed
		end)
	end)

	describe("garbage collection", function()
		it("keeps the object alive while a map or program handle is reachable", function()
			local map, prog
			do
				local obj = assert(bpf.load(VALUES))
				map, prog = obj.maps.many, obj.programs.write_values
			end
			full_gc()
			map[5] = 50
			assert.equal(50, map[5])
			assert(prog:test_run { data = string.rep("\0", 64) })
			assert.equal(1, map:count())
		end)

		it("keeps program and object alive through a link", function()
			local link
			do
				local obj = assert(bpf.load(SYSCOUNT))
				link = assert(obj.programs.count_raw:attach())
			end
			full_gc()
			assert.is_true(link.attached)
			assert.equal("count_raw", link.program.name)
			local counts = link.program.object.globals
			support.do_syscalls(10)
			assert.is_true(counts.raw_hits > 0)
			link = nil -- luacheck: ignore
			full_gc()
		end)

		it("survives dropping handles in any order", function()
			for order = 1, 4 do
				local obj = assert(bpf.load(VALUES))
				local map, prog, it = obj.maps.many, obj.programs.write_values, nil
				map[1] = 1
				it = map:pairs()
				if order == 1 then obj = nil elseif order == 2 then map = nil
				elseif order == 3 then it = nil else prog = nil end
				full_gc()
				if obj then obj:close() end
				obj, map, prog, it = nil, nil, nil, nil -- luacheck: ignore
				full_gc()
			end
			-- many objects left for the collector alone
			for _ = 1, 20 do
				local obj = assert(bpf.load(VALUES))
				local _ = obj.maps.many:pairs()
			end
			full_gc()
		end)
	end)

	describe("wrong arguments", function()
		it("raise clear errors", function()
			fails_with("string %(path or ELF image%) expected, got number", bpf.open, 42)
			fails_with("table expected", bpf.open, VALUES, "opts")
			fails_with("unknown option 'bogus'", bpf.open, VALUES, { bogus = 1 })
			fails_with("opts%.name: string expected", bpf.open, VALUES, { name = 5 })
			local obj = assert(bpf.load(VALUES))
			local map, prog = obj.maps.many, obj.programs.write_values
			fails_with("bpf%.program expected", prog.test_run, map)
			fails_with("bpf%.map expected", map.lookup, prog, 1)
			fails_with("bpf%.object expected", obj.load, map)
			fails_with("invalid option 'sometimes'", function() return map:update(1, 1, "sometimes") end)
			fails_with("key: integer expected, got table", function() return map[{}] end)
			fails_with("test_run: repeat must be a non%-negative integer",
				function() return prog:test_run { ["repeat"] = "x" } end)
			fails_with("bad argument #%d .*string expected, got no value", function() return prog:attach_tracepoint() end)
			fails_with("has no global variable 'nope'", function() return obj.globals.nope end)
			obj:close()
		end)

		it("return nil, message, errno for system failures", function()
			local obj, err, errno = bpf.open("/nonexistent/x.bpf.o")
			assert.is_nil(obj)
			assert.is_string(err)
			assert.equal(2, errno)
			obj = assert(bpf.load(VALUES))
			local v, msg, code = obj.maps.many:lookup(12345)
			assert.is_nil(v)
			assert.is_string(msg)
			assert.equal(2, code)
			local ok, emsg, ecode = obj.maps.many:update(1, 1, "exist")
			assert.is_nil(ok)
			assert.is_string(emsg)
			assert.equal(2, ecode)
			obj:close()
		end)
	end)

	it("opens an object from bytes", function()
		local obj = assert(bpf.open(support.read_file(VALUES), { name = "from_bytes" }))
		assert.equal("from_bytes", obj.name)
		assert(obj:load())
		obj.maps.many[1] = 2
		assert.equal(2, obj.maps.many[1])
		obj:close()
	end)
end)
