-- No silent value changes: every Lua value that the binding would have to bend to fit a key, a
-- value, a global or an option is an error naming the field (or map) and what it expects, and
-- nothing reaches the kernel. Against maps of real loaded objects (bpf/value_types.bpf.c,
-- bpf/globals.bpf.c, bpf/events_perf.bpf.c, bpf/strict_sizes.bpf.c).
local bpf = require "bpf"
local support = require "support.init"

-- f() must raise an error containing text (plain).
local function refuses(text, f)
	local ok, err = pcall(f)
	assert.is_false(ok, "accepted, expected an error mentioning " .. text)
	err = tostring(err)
	if not err:find(text, 1, true) then
		error(("error %q does not mention %q"):format(err, text), 2)
	end
end

describe("no silent value changes", function()
	local obj, maps

	before_each(function()
		obj = assert(bpf.load(support.obj("value_types")))
		maps = obj.maps
	end)

	after_each(function()
		obj:close()
	end)

	describe("strings stand for bytes only with raw = true", function()
		it("a string key or value of an integer map is an error naming the type", function()
			refuses("key: integer expected, got string (byte strings need {raw = true})",
				function() maps.unsigned64["1234"] = 1 end)
			refuses("key: integer expected, got string", function() maps.many["1234"] = 1 end)
			refuses("key: integer expected, got string", function() maps.many["3"] = 1 end)
			refuses("value: integer expected, got string", function() maps.many[1] = "1234" end)
			refuses("value: integer expected, got string",
				function() maps.unsigned64[1] = "12345678" end)
			refuses("key: integer expected, got string", function() return maps.many["1234"] end)
			refuses("key: integer expected, got string", function() return maps.many:lookup("1234") end)
			assert.is_nil(maps.many:next_key(), "nothing was written")
			assert.is_nil(maps.unsigned64:next_key(), "nothing was written")
		end)

		it("a string for a struct key or value is an error naming the struct", function()
			refuses("key: table expected for struct flow_key, got string",
				function() maps.flows[string.rep("\0", 8)] = 1 end)
			refuses("value: table expected for struct value, got string",
				function() maps.values[1] = string.rep("x", 96) end)
			assert.is_nil(maps.values[1])
		end)

		it("raw = true still takes and gives byte strings", function()
			local key, value = support.u32(5), support.u32(1234)
			assert(maps.many:update(key, value, nil, { raw = true }))
			assert.equal(1234, maps.many[5])
			assert.equal(value, maps.many:lookup(key, { raw = true }))
		end)
	end)

	describe("numbers must fit their field", function()
		it("a number for a struct is an error", function()
			refuses("value: table expected for struct value, got number", function() maps.values[1] = 5 end)
		end)

		it("a float with a fraction is no integer; an integral float is", function()
			refuses("value: integer expected, got the non-integral number 1.5",
				function() maps.many[1] = 1.5 end)
			refuses("value.u32v: integer expected, got the non-integral number 2.5",
				function() maps.values[1] = { u32v = 2.5 } end)
			maps.many[2] = 2.0
			assert.equal(2, maps.many[2])
		end)

		it("an out-of-range integer names the field and the range", function()
			refuses("value.u8v: 300 out of range for unsigned 8-bit integer (0..255)",
				function() maps.values[1] = { u8v = 300 } end)
			refuses("value.u32v: -1 out of range for unsigned 32-bit integer (0..4294967295)",
				function() maps.values[1] = { u32v = -1 } end)
			refuses("value.s16v: 40000 out of range for signed 16-bit integer (-32768..32767)",
				function() maps.values[1] = { s16v = 40000 } end)
			refuses("key: -1 out of range for unsigned 32-bit integer", function() maps.many[-1] = 1 end)
			assert.is_nil(maps.values[1])
		end)

		it("a bool field takes booleans (and 0/1); an integer field takes no boolean", function()
			refuses("value.ok: boolean expected, got 2", function() maps.values[1] = { ok = 2 } end)
			refuses("value.u32v: integer expected, got boolean",
				function() maps.values[1] = { u32v = true } end)
			refuses("value: integer expected, got boolean", function() maps.many[1] = true end)
			maps.values[1] = { ok = true }
			assert.is_true(maps.values[1].ok)
			maps.values[1] = { ok = 0 }
			assert.is_false(maps.values[1].ok)
		end)

		it("a finite number too large for a float is an error; infinity given is kept", function()
			refuses("value.f: 1e+300 out of range for a 4-byte float",
				function() maps.values[1] = { f = 1e300 } end)
			maps.values[1] = { f = math.huge, d = 1e300 }
			assert.equal(math.huge, maps.values[1].f)
			assert.equal(1e300, maps.values[1].d)
		end)
	end)

	describe("strings and arrays must fit their declared length", function()
		it("a string too long for char[N]", function()
			refuses("value.name: string of 17 bytes too long for char[16]",
				function() maps.values[1] = { name = string.rep("a", 17) } end)
			refuses("key: string of 17 bytes too long for char[16]",
				function() maps.by_name[string.rep("a", 17)] = 1 end)
		end)

		it("an array element beyond the declared length, however the table is built", function()
			refuses("value.arr: index 5 beyond an array of 4 elements (1..4)",
				function() maps.values[1] = { arr = { 1, 2, 3, 4, 5 } } end)
			refuses("value.arr: index 6 beyond an array of 4 elements (1..4)",
				function() maps.values[1] = { arr = { [6] = 1 } } end)
			refuses("value.arr: index 6 beyond an array of 4 elements (1..4)",
				function() maps.values[1] = { arr = { 1, nil, 3, nil, nil, 9 } } end)
			refuses("value.arr: index 0 beyond an array of 4 elements",
				function() maps.values[1] = { arr = { [0] = 1 } } end)
			refuses("value.arr: array indices must be integers, got the key 'x'",
				function() maps.values[1] = { arr = { x = 1 } } end)
			assert.is_nil(maps.values[1])
			-- holes inside the length are zero elements
			maps.values[1] = { arr = { [2] = 7, [4] = 9 } }
			assert.same({ 0, 7, 0, 9 }, maps.values[1].arr)
		end)
	end)

	describe("per-CPU values", function()
		it("an index beyond the possible CPUs or a key of another kind is an error", function()
			local n = bpf.num_possible_cpus()
			refuses(("value: %d per-CPU values given, but the machine has %d possible CPUs"):format(n + 5, n),
				function() maps.pcpu_counts[1] = { [1] = 5, [n + 5] = 7 } end)
			refuses("value: per-CPU values are an array indexed by CPU, got a string key",
				function() maps.pcpu_counts[1] = { 5, x = 7 } end)
			assert.same(0, maps.pcpu_counts[1][1])
		end)
	end)

	it("an integral number beyond 64 bits is out of range, not 'non-integral'", function()
		refuses("value: 1.844674407371e+19 out of range for a 64-bit integer",
			function() maps.unsigned64[1] = 2 ^ 64 end)
	end)

	describe("array maps: one rule for an index beyond max_entries", function()
		it("reads, writes and lookups raise the same error", function()
			local text = "key 100 out of range for array map 'digest' (max_entries 4)"
			refuses(text, function() return maps.digest[100] end)
			refuses(text, function() maps.digest[100] = 1 end)
			refuses(text, function() return maps.digest:lookup(100) end)
			refuses(text, function() return maps.digest:update(100, 1) end)
			refuses(text, function() return maps.digest:lookup(support.u32(100), { raw = true }) end)
			assert.equal(0, maps.digest[3])
		end)
	end)
end)

describe("no silent value changes outside maps", function()
	it("a global takes no string for an integer and no out-of-range value", function()
		local obj = assert(bpf.load(support.obj("globals")))
		refuses("globals.data_var: integer expected, got string", function() obj.globals.data_var = "42" end)
		refuses("globals.data_var: 2147483648 out of range for signed 32-bit integer",
			function() obj.globals.data_var = 2 ^ 31 end)
		refuses("globals.greeting: string of 9 bytes too long for char[8]",
			function() obj.globals.greeting = "123456789" end)
		assert.equal(42, obj.globals.data_var)
		obj:close()
		-- initial values given to bpf.open name the global the same way
		refuses("globals.big_constant: 1e+20 out of range for a 64-bit integer",
			function() bpf.open(support.obj("globals"), { globals = { big_constant = 1e20 } }) end)
		refuses("globals.data_var: integer expected, got string",
			function() bpf.open(support.obj("globals"), { globals = { data_var = "42" } }) end)
	end)

	it("kernel_version must be a u32", function()
		refuses("option 'kernel_version' must be an integer in 0..4294967295, got -1",
			function() bpf.open(support.obj("globals"), { kernel_version = -1 }) end)
		refuses("option 'kernel_version' must be an integer in 0..4294967295, got 4294967296",
			function() bpf.open(support.obj("globals"), { kernel_version = 2 ^ 32 }) end)
		refuses("option 'kernel_version' must be an integer", function()
			bpf.open(support.obj("globals"), { kernel_version = 1.5 })
		end)
		assert(bpf.open(support.obj("globals"), { kernel_version = 0x060c00 })):close()
	end)

	it("reader sizes must be non-negative integers", function()
		local obj = assert(bpf.load(support.obj("events_perf")))
		refuses("option 'pages' must be an integer in 0..", function() obj.maps.samples:reader { pages = -1 } end)
		refuses("option 'wakeup' must be an integer in 0..4294967295, got -1",
			function() obj.maps.samples:reader { wakeup = -1 } end)
		refuses("option 'batch' must be an integer in 0..1048576, got 1.5",
			function() obj.maps.samples:reader { batch = 1.5 } end)
		obj:close()
	end)

	it("a devmap or cpumap value takes no negative or fractional number", function()
		local obj = assert(bpf.load(support.obj("maps_net")))
		refuses("value for cpumap map 'cpu_map': qsize must be an integer in 0..4294967295, got -1",
			function() obj.maps.cpu_map[0] = -1 end)
		refuses("value for cpumap map 'cpu_map': qsize must be an integer in 0..4294967295, got 1.5",
			function() obj.maps.cpu_map[0] = { qsize = 1.5 } end)
		refuses("value for devmap map 'dev_map': ifindex must be an integer in 0..4294967295, got -1",
			function() obj.maps.dev_map[0] = -1 end)
		obj:close()
	end)

	it("a map whose value_size disagrees with its BTF value type is an error naming the map", function()
		local obj, err = bpf.open(support.obj("strict_sizes"))
		assert.is_nil(obj)
		assert.matches("map 'mismatched': value_size 4 conflicts with its BTF value type of 8 bytes", err)
	end)
end)
