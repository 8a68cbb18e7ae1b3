-- Keys and values through BTF, against maps of a real loaded object (bpf/value_types.bpf.c):
-- what a program wrote is decoded in Lua, what Lua wrote is seen by a program, and bad shapes
-- raise errors naming the field without writing anything.
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("value_types")
local LUAJIT = rawget(_G, "jit") ~= nil
local ffi = LUAJIT and require "ffi" or nil

-- LuaJIT's 64-bit literals (1LL, 1ULL) would not even parse under Lua 5.4.
local function lit(text)
	return assert((loadstring or load)("return " .. text))()
end

local function packet()
	return string.rep("\0", 64)
end

describe("BTF-decoded values", function()
	local obj, maps

	before_each(function()
		obj = assert(bpf.load(OBJ))
		maps = obj.maps
	end)

	after_each(function()
		obj:close()
	end)

	describe("written by a program", function()
		before_each(function()
			assert(obj.programs.write_values:test_run { data = packet() })
		end)

		it("decodes integers of every width and signedness", function()
			local v = maps.values[1]
			assert.equal(200, v.u8v)
			assert.equal(-1234, v.s16v)
			assert.equal(4000000000, v.u32v)
			assert.equal(-5000000000000, v.s64v)
		end)

		it("keeps unsigned 64-bit values exact", function()
			local v = maps.values[1].u64v
			if LUAJIT then
				assert.equal("cdata", type(v))
				assert.is_true(ffi.istype("uint64_t", v))
				assert.equal("0xfedcba9876543210", string.format("0x%x", tonumber(v / 2 ^ 32)) ..
					string.format("%08x", tonumber(v % 2 ^ 32)))
			else
				-- >= 2^63: the negative integer with the same bits
				assert.equal(math.type(v), "integer")
				assert.equal("fedcba9876543210", string.format("%x", v))
			end
		end)

		it("decodes char arrays as strings, arrays as Lua arrays, nested structs as tables", function()
			local v = maps.values[1]
			assert.equal("kernel", v.name)
			assert.same({ 10, 0, 0, 40 }, v.arr)
			assert.same({ x = 65535, y = 7 }, v.pos)
			assert.same({ { x = 0, y = 0 }, { x = 3, y = 0 } }, v.ins)
		end)

		it("decodes bitfields, bool, enums, unions and anonymous members", function()
			local v = maps.values[1]
			assert.equal(1, v.flag)
			assert.equal(5, v.mode)
			assert.equal(-9, v.sfield)
			assert.is_true(v.ok)
			assert.equal(300, v.col)
			assert.equal(0x04030201, v.un.word)
			assert.same({ 1, 2, 3, 4 }, v.un.bytes)
			assert.equal(11, v.anon_a)
			assert.equal(12, v.anon_b)
		end)

		it("decodes struct keys", function()
			local k, n = nil, 0
			for key, value in maps.flows:pairs() do
				k, n = key, n + 1
				assert.equal(77, value)
			end
			assert.equal(1, n)
			assert.same({ addr = 0x0100007f, port = 8080, proto = 6 }, k)
			assert.equal(77, maps.flows[{ addr = 0x0100007f, port = 8080, proto = 6 }])
			assert.is_nil(maps.flows[{ addr = 1, port = 2, proto = 3 }])
		end)

		it("reads per-CPU values as an array with one value per possible CPU", function()
			local per_cpu = maps.pcpu_counts[0]
			assert.equal(bpf.num_possible_cpus(), #per_cpu)
			local sum = 0
			for _, c in ipairs(per_cpu) do sum = sum + c end
			assert.equal(1, sum) -- one test run, on one CPU
		end)
	end)

	describe("written from Lua", function()
		it("are seen by a program field by field", function()
			maps.values[2] = {
				u8v = 1, s16v = -2, u32v = 3, s64v = -4, u64v = 5, name = "ab",
				arr = { 6, nil, nil, 7 }, pos = { x = 8, y = 9 }, ins = { {}, { x = 10 } },
				flag = 1, mode = 7, sfield = -16, ok = true, col = "GREEN", un = { word = 11 },
				anon_a = 12, anon_b = 13,
			}
			assert(obj.programs.check_values:test_run { data = packet() })
			local expected = 1 - 2 + 3 - 4 + 5 + string.byte("a") + string.byte("b") + 6 + 7 + 8 + 9
				+ 10 + 1 + 7 - 16 + 1 + 2 + 11 + 12 + 13
			assert.equal(expected, maps.digest[0])
		end)

		it("round-trip: a decoded value written back reads the same", function()
			assert(obj.programs.write_values:test_run { data = packet() })
			local v = maps.values[1]
			v.name, v.mode, v.f, v.d = "again", 2, 1.5, 2.25
			maps.values[5] = v
			assert.same(v, maps.values[5])
		end)

		it("zeroes missing fields and array elements", function()
			maps.values[3] = { arr = { 1 } }
			local v = maps.values[3]
			assert.same({ 1, 0, 0, 0 }, v.arr)
			assert.equal(0, v.u32v)
			assert.equal("", v.name)
			assert.is_false(v.ok)
		end)

		it("fills char[N] exactly and cuts strings at the first NUL", function()
			maps.values[3] = { name = string.rep("n", 16) }
			assert.equal(string.rep("n", 16), maps.values[3].name)
			maps.values[3] = { name = "ab\0cd" }
			assert.equal("ab", maps.values[3].name)
		end)

		it("takes enum values by number or by name", function()
			maps.values[3] = { col = 300 }
			assert.equal(300, maps.values[3].col)
			maps.values[3] = { col = "RED" }
			assert.equal(1, maps.values[3].col)
			maps.small_enum[1] = "NEG"
			assert.equal(-3, maps.small_enum[1])
		end)

		it("names enum values with bpf.enum_name (map, object, bpf.btf or kernel BTF)", function()
			maps.values[3] = { col = "BLUE" }
			local col = maps.values[3].col
			assert.equal(300, col)
			assert.equal("BLUE", bpf.enum_name(maps.values, "color", col))
			assert.equal("BLUE", bpf.enum_name(obj, "enum color", col))
			assert.is_nil(bpf.enum_name(obj, "color", 4)) -- no enumerator: nil
			maps.small_enum[1] = "NEG" -- a signed 1-byte enum: decoded -3, named back
			assert.equal("NEG", bpf.enum_name(maps.small_enum, "small_signed", maps.small_enum[1]))
			-- a signed 32-bit enum from a bpf.btf handle
			local btf = assert(bpf.btf.open(support.obj("btf_kinds")))
			assert.equal("SMALL_A", bpf.enum_name(btf, "small_values", -1))
			btf:close()
			-- the running kernel's BTF when the source is nil; ENUM64 (clang 14 emits none)
			assert.equal("BPF_MAP_TYPE_ARRAY", bpf.enum_name(nil, "bpf_map_type", 2))
			assert.equal("ENUM64", bpf.btf.kernel():type("perf_callchain_context").kind:upper())
			assert.equal("PERF_CONTEXT_MAX", bpf.enum_name(nil, "perf_callchain_context", -4095))
			-- a typedef of an anonymous enum, and of a named one
			assert.equal("SS_FREE", bpf.enum_name(nil, "socket_state", 0))
			assert.equal("IRQ_HANDLED", bpf.enum_name(nil, "irqreturn_t", 1))
		end)

		it("refuses an unknown enum, a bad source or value, and a closed handle", function()
			assert.has_error(function() bpf.enum_name(obj, "no_such_enum", 1) end,
				"bpf.enum_name: no enum named 'no_such_enum' in this BTF")
			assert.has_error(function() bpf.enum_name(obj, "value", 1) end) -- a struct, not an enum
			assert.has_error(function() bpf.enum_name("obj", "color", 1) end)
			assert.has_error(function() bpf.enum_name(obj, "color", "BLUE") end)
			assert.has_error(function() bpf.enum_name(obj, "color", 1.5) end)
			local map = maps.values
			obj:close()
			assert.has_error(function() bpf.enum_name(map, "color", 1) end)
			obj = assert(bpf.load(OBJ)) -- for after_each
		end)

		it("takes string keys for char[N] keys", function()
			maps.by_name["hello"] = 5
			assert.equal(5, maps.by_name["hello"])
			assert.is_nil(maps.by_name["other"])
			assert.same({ "hello" }, maps.by_name:keys())
		end)

		it("writes per-CPU values from one value (replicated) or from an array", function()
			local ncpu = bpf.num_possible_cpus()
			maps.pcpu_counts[1] = 9
			for _, c in ipairs(maps.pcpu_counts[1]) do assert.equal(9, c) end
			local arr = {}
			for i = 1, ncpu do arr[i] = i * 10 end
			maps.pcpu_counts[2] = arr
			assert.same(arr, maps.pcpu_counts[2])
			maps.pcpu_small[4] = { a = 1, b = 2 }
			local got = maps.pcpu_small[4]
			assert.equal(ncpu, #got)
			for _, s in ipairs(got) do assert.same({ a = 1, b = 2 }, s) end
			arr[ncpu + 1] = 1
			assert.has_error(function() maps.pcpu_counts[3] = arr end)
		end)

		it("gives and takes byte strings with raw = true", function()
			maps.values[4] = { u8v = 65 }
			local raw = maps.values:lookup(4, { raw = true })
			assert.equal(96, #raw)
			assert.equal("A", raw:sub(1, 1))
			assert(maps.values:update(6, raw, "any", { raw = true }))
			assert.equal(65, maps.values[6].u8v)
		end)

		it("falls back to integers and byte strings without BTF types", function()
			maps.untyped[1] = "abc"
			assert.equal("abc", maps.untyped[1])
			assert.has_error(function() maps.untyped[2] = "abcd" end)
			assert.has_error(function() maps.untyped[2] = 5 end)
			assert.is_nil(maps.untyped[2])
		end)
	end)

	describe("64-bit extremes", function()
		it("keeps signed 64-bit minimum and maximum exact", function()
			if LUAJIT then
				maps.signed64[0] = ffi.new("int64_t", lit("-9223372036854775807LL") - 1)
				maps.signed64[1] = lit("9223372036854775807LL")
				assert.is_true(maps.signed64[0] == lit("-9223372036854775807LL") - 1)
				assert.is_true(maps.signed64[1] == lit("9223372036854775807LL"))
				maps.signed64[2] = 2 ^ 53 - 1
				assert.equal("number", type(maps.signed64[2]))
				maps.signed64[3] = 2 ^ 53 + 2
				assert.is_true(maps.signed64[3] == lit("9007199254740994LL"))
			else
				maps.signed64[0] = math.mininteger
				maps.signed64[1] = math.maxinteger
				assert.equal(math.mininteger, maps.signed64[0])
				assert.equal(math.maxinteger, maps.signed64[1])
			end
			assert.equal(0, maps.signed64[4])
		end)

		it("keeps unsigned 64-bit keys and values exact", function()
			if LUAJIT then
				local max = lit("18446744073709551615ULL")
				maps.unsigned64[max] = max - 1
				assert.is_true(maps.unsigned64[max] == max - 1)
				local k = maps.unsigned64:next_key()
				assert.is_true(k == max)
			else
				maps.unsigned64[-1] = -2 -- 2^64 - 1 and 2^64 - 2
				assert.equal(-2, maps.unsigned64[-1])
				assert.equal("fffffffffffffffe", string.format("%x", maps.unsigned64[-1]))
				maps.unsigned64[1] = 2 ^ 63 -- a float at 2^63 is exact
				assert.equal(math.mininteger, maps.unsigned64[1])
			end
		end)

		it("refuses integers out of the field's range", function()
			assert.has_error(function() maps.signed64[0] = 2 ^ 63 end)
			assert.has_error(function() maps.values[1] = { u8v = 256 } end)
			assert.has_error(function() maps.values[1] = { u8v = -1 } end)
			assert.has_error(function() maps.values[1] = { s16v = 32768 } end)
			assert.has_error(function() maps.values[1] = { u32v = 2 ^ 32 } end)
			assert.has_error(function() maps.values[1] = { u32v = 1.5 } end)
			assert.has_error(function() maps.values[1] = { mode = 8 } end)   -- 3-bit field
			assert.has_error(function() maps.values[1] = { sfield = 16 } end) -- signed 5-bit
			assert.is_nil(maps.values[1])
		end)
	end)

	describe("bad shapes", function()
		local function refused(pattern, value)
			maps.values[7] = { u32v = 1 }
			local ok, err = pcall(function() maps.values[7] = value end)
			assert.is_false(ok)
			assert.matches(pattern, tostring(err))
			-- nothing was written: the old value is intact
			assert.equal(1, maps.values[7].u32v)
		end

		it("name the unknown field", function()
			refused("unknown field 'bogus'", { u32v = 2, bogus = 1 })
		end)

		it("name the field of the wrong type", function()
			refused("value%.ins%[1%]%.x: integer expected, got string", { ins = { { x = "a" } } })
			refused("value%.pos: table expected", { pos = 5 })
			refused("value%.name: string expected", { name = {} })
			refused("table expected", 5)
		end)

		it("refuse a string too long for char[N] and too many array elements", function()
			refused("too long for char%[16%]", { name = string.rep("x", 17) })
			refused("value%.arr: index 5 beyond an array of 4 elements %(1%.%.4%)", { arr = { 1, 2, 3, 4, 5 } })
		end)

		it("refuse an unknown enumerator and an out-of-range bitfield", function()
			refused("'PURPLE' is not a value of enum color", { col = "PURPLE" })
			refused("value%.mode: 9 out of range", { mode = 9 })
		end)

		it("refuse a key into an array map out of range, writing nothing", function()
			local ok, err = pcall(function() maps.digest[4] = 1 end)
			assert.is_false(ok)
			assert.matches("key 4 out of range for array map 'digest' %(max_entries 4%)", err)
			assert.has_error(function() return maps.digest[4] end,
				"key 4 out of range for array map 'digest' (max_entries 4)")
			assert.has_error(function() maps.digest[-1] = 1 end)
			assert.has_error(function() maps.digest["x"] = 1 end)
		end)
	end)

	describe("iteration", function()
		local function fill(n)
			for i = 1, n do maps.many[i] = i * 2 end
		end

		it("reads every entry in batches and key by key alike", function()
			fill(1000)
			for _, opts in ipairs { {}, { batch = false }, { batch_size = 7 } } do
				local seen, n = {}, 0
				for k, v in maps.many:pairs(opts) do
					assert.equal(k * 2, v)
					assert.is_nil(seen[k])
					seen[k], n = true, n + 1
				end
				assert.equal(1000, n)
			end
			assert.equal(1000, maps.many:count())
			assert.equal(1000, #maps.many:keys())
		end)

		it("allows deleting the current entry while iterating", function()
			fill(300)
			for _, opts in ipairs { {}, { batch = false } } do
				local n = 0
				for k in maps.many:pairs(opts) do
					maps.many[k] = nil
					n = n + 1
				end
				assert.equal(300, n)
				assert.equal(0, maps.many:count())
				fill(300)
			end
		end)

		it("clears a hash map and zeroes an array map", function()
			fill(50)
			assert.equal(50, maps.many:clear())
			assert.equal(0, maps.many:count())
			maps.digest[1] = 5
			maps.digest:clear()
			assert.equal(0, maps.digest[1])
		end)

		it("iterates an empty map without a single entry", function()
			for _ in maps.many:pairs() do error("entry in an empty map") end
			assert.same({}, maps.many:keys())
		end)

		if not LUAJIT then
			it("honours __pairs on Lua 5.4", function()
				fill(10)
				local n = 0
				for k, v in pairs(maps.many) do
					assert.equal(k * 2, v)
					n = n + 1
				end
				assert.equal(10, n)
			end)
		end

		it("batch update and delete from Lua tables", function()
			assert.equal(3, maps.many:update_batch { [1] = 10, [2] = 20, [3] = 30 })
			assert.equal(20, maps.many[2])
			assert.equal(2, maps.many:delete_batch { 1, 3, 99 })
			assert.same({ 2 }, maps.many:keys())
		end)
	end)

	it("pushes and peeks a queue", function()
		assert(maps.queue:push(5))
		assert(maps.queue:push(6))
		assert.equal(5, maps.queue:peek())
		assert.has_error(function() return maps.queue:pairs() end)
	end)
end)
