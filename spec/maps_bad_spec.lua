-- Bad input to maps: every mistake raises a clear error naming the map, the field and what was
-- expected, and nothing reaches the kernel (the entry keeps its previous value).
local bpf = require "bpf"
local support = require "support.init"

local TYPES = support.obj("maps_types")

describe("bad input to maps", function()
	local obj, maps, GOOD

	before_each(function()
		obj = assert(bpf.load(TYPES))
		maps = obj.maps
		GOOD = { count = 1, last = 2, tag = "ok" }
		maps.t_hash[1] = GOOD
		maps.t_array[1] = GOOD
	end)
	after_each(function() obj:close() end)

	-- f must raise an error matching pattern (plain text), and both maps keep GOOD at key 1.
	local function refused(f, text)
		local ok, err = pcall(f)
		assert.is_false(ok)
		assert.is_string(err)
		if not err:find(text, 1, true) then
			error(("error %q does not mention %q"):format(err, text), 2)
		end
		assert.same(GOOD, maps.t_hash[1])
		assert.same(GOOD, maps.t_array[1])
	end

	it("a value of the wrong shape", function()
		refused(function() maps.t_hash[1] = 5 end, "value: table expected for struct pair, got number")
		refused(function() maps.t_array[1] = "x" end, "value: table expected for struct pair, got string")
		refused(function() maps.t_hash[1] = { count = "many" } end, "value.count: integer expected, got string")
		refused(function() maps.t_hash[1] = { count = 1, colour = "red" } end,
			"value: unknown field 'colour' for struct pair")
		refused(function() maps.t_hash[1] = { tag = { 1, 2 } } end, "value.tag: string expected, got table")
		refused(function() maps.t_hash:update(1, true) end, "value: table expected for struct pair, got boolean")
		refused(function() maps.t_hash["one"] = GOOD end, "key")
	end)

	it("an integer out of range for its field", function()
		refused(function() maps.t_hash[1] = { last = 2 ^ 32 } end, "value.last")
		refused(function() maps.t_hash[1] = { last = -1 } end, "value.last")
		refused(function() maps.t_hash[1] = { count = 1.5 } end, "value.count")
		refused(function() maps.t_hash[2 ^ 32] = GOOD end, "key")
		refused(function() maps.io[0] = 2 ^ 64 end, "value")
	end)

	it("a string too long for char[N]", function()
		refused(function() maps.t_hash[1] = { tag = "123456789" } end,
			"value.tag: string of 9 bytes too long for char[8]")
		-- exactly N bytes fits (no NUL needed)
		maps.t_hash[3] = { tag = "12345678" }
		assert.equal("12345678", maps.t_hash[3].tag)
	end)

	it("a key into an array map out of range", function()
		refused(function() maps.t_array[4] = GOOD end,
			"key 4 out of range for array map 't_array' (max_entries 4)")
		refused(function() maps.t_array:update(100, GOOD) end, "key 100 out of range for array map 't_array'")
		refused(function() maps.t_array:update_batch { [1] = { count = 9 }, [7] = GOOD } end,
			"key 7 out of range")
		-- reading past the end is the same error (doc/API.md, "Array maps")
		refused(function() return maps.t_array[4] end, "key 4 out of range for array map 't_array'")
		refused(function() return maps.t_array:lookup(4) end, "key 4 out of range for array map 't_array'")
	end)

	it("per-CPU values: too many, or of the wrong shape", function()
		local n = bpf.num_possible_cpus()
		maps.t_percpu_array[1] = 5
		local too_many = {}
		for i = 1, n + 1 do too_many[i] = i end
		local ok, err = pcall(function() maps.t_percpu_array[1] = too_many end)
		assert.is_false(ok)
		assert.matches(n + 1 .. " per%-CPU values given, but the machine has " .. n .. " possible CPUs", err)
		ok, err = pcall(function() maps.t_percpu_array[1] = { "x" } end)
		assert.is_false(ok)
		assert.matches("value: integer expected, got string %(byte strings need {raw = true}%)", err)
		for _, v in ipairs(maps.t_percpu_array[1]) do assert.equal(5, v) end
	end)

	it("keys and values of special map types", function()
		assert.has_error(function() maps.fw_v4["300.0.0.1/8"] = 1 end,
			"key for lpm_trie map 'fw_v4': '300.0.0.1/8' is not an IPv4 address or CIDR prefix")
		assert.has_error(function() maps.fw_v4[{ prefixlen = 40, data = "10.0.0.0" }] = 1 end,
			"key for lpm_trie map 'fw_v4': prefixlen 40 out of range 0..32")
		assert.has_error(function() maps.jmp_table[1] = maps.t_hash end)
		assert.has_error(function() maps.jmp_table[1] = {} end,
			"value for prog_array map 'jmp_table': program handle or fd expected, got table")
		assert.has_error(function() maps.outer_array[0] = -3 end,
			"value for array_of_maps map 'outer_array': map handle or fd expected, got number -3")
		assert.has_error(function() maps.t_queue:push({}) end, "value: integer expected, got table")
		assert.is_nil(maps.t_queue:peek())
		-- the kernel's refusal (an fd that is no program) comes back as nil, message, errno
		local ok, msg, errno = maps.jmp_table:update(1, maps.t_hash:fd())
		assert.is_nil(ok)
		assert.matches("jmp_table", msg)
		assert.equal(22, errno)
	end)

	it("map handles used after their object closed", function()
		local m = maps.t_hash
		obj:close()
		assert.has_error(function() return m[1] end, "map 't_hash' used after its object was closed")
		assert.has_error(function() m:info() end, "map 't_hash' used after its object was closed")
		assert.equal("bpf.map(t_hash, closed)", tostring(m))
		obj = assert(bpf.load(TYPES)) -- for after_each
	end)
end)
