-- map:dump() (per-entry tables and columns) and map:pairs() against maps a program filled
-- (bpf/maps_dump.bpf.c): every form must read the same entries, field by field, for every key
-- and value shape. Under LuaJIT the flat maps go through the generated decoders, elsewhere
-- through the C ones: the same assertions hold for both.
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("maps_dump")
local FILL = 100

local function fill(obj, n)
	local ctx = support.u64(n) .. support.u64(0) .. support.u64(0) .. support.u64(0)
	local r = assert(obj.programs.fill:test_run { ctx = ctx })
	assert.equal(0, r.retval)
end

-- Every entry through the iterator: an array of {key, value}.
local function entries_of(map, opts)
	local out = {}
	for k, v in map:pairs(opts) do out[#out + 1] = { k, v } end
	return out
end

-- Entry i of a tree of columns (nested tables of columns become nested tables).
local function row(cols, i)
	if cols[i] ~= nil or next(cols) == nil then return cols[i] end
	local r = {}
	for name, col in pairs(cols) do r[name] = row(col, i) end
	return r
end

-- Every column of a tree holds exactly n entries.
local function assert_column_lengths(cols, n, path)
	if cols[1] ~= nil then
		assert.equal(n, #cols, path)
		return
	end
	for name, col in pairs(cols) do assert_column_lengths(col, n, path .. "." .. name) end
end

-- The entries (as entries_of gives) keyed by a printable key, for order-free comparison.
local function by_key(list)
	local out = {}
	for _, e in ipairs(list) do
		local k = e[1]
		if type(k) == "table" then
			local parts = {}
			for name, v in pairs(k) do parts[#parts + 1] = name .. "=" .. tostring(v) end
			table.sort(parts)
			k = table.concat(parts, ",")
		end
		out[tostring(k)] = e
	end
	return out
end

-- 16 hex digits of a 64-bit value (an integer on Lua 5.4, a number or uint64_t cdata on LuaJIT).
local function u64_hex(v)
	if type(v) ~= "cdata" then return ("%016x"):format(v) end
	local s = ""
	for _ = 1, 16 do
		local d = tonumber(v % 16)
		s = ("0123456789abcdef"):sub(d + 1, d + 1) .. s
		v = v / 16
	end
	return s
end

-- A deep copy (what a caller of pairs{reuse = true} keeps of an entry).
local function copy(v)
	if type(v) ~= "table" then return v end
	local out = {}
	for k, x in pairs(v) do out[k] = copy(x) end
	return out
end

-- Every entry of a reuse iterator, copied at its step; asserts that the key and value tables
-- (and, for nested ones, every nested table) are the very same at every step.
local function reused_entries(map, opts)
	local out, first = {}, nil
	local function tables(v, acc)
		if type(v) == "table" then
			acc[#acc + 1] = v
			local names = {}
			for name in pairs(v) do names[#names + 1] = tostring(name) end
			table.sort(names)
			for _, name in ipairs(names) do tables(v[name] or v[tonumber(name)], acc) end
		end
		return acc
	end
	for k, v in map:pairs(opts) do
		local seen = tables(v, tables(k, {}))
		if first then
			assert.equal(#first, #seen, "the same tables at every step")
			for i = 1, #first do assert.is_true(rawequal(first[i], seen[i]), "table " .. i .. " reused") end
		else
			first = seen
		end
		out[#out + 1] = { copy(k), copy(v) }
	end
	return out, first
end

local function same_entries(expected, keys, values, n)
	assert.equal(#expected, n)
	local want = by_key(expected)
	local got = {}
	for i = 1, n do got[#got + 1] = { row(keys, i), row(values, i) } end
	assert.same(want, by_key(got))
end

describe("map:dump", function()
	local obj, maps

	before_each(function()
		obj = assert(bpf.load(OBJ))
		maps = obj.maps
		fill(obj, FILL)
	end)
	after_each(function() obj:close() end)

	describe("per-entry tables", function()
		it("hold what pairs() reads: flat structs of every field kind, 64-bit values", function()
			local expected = entries_of(maps.flows)
			assert.equal(FILL, #expected)
			local keys, values, n = maps.flows:dump()
			assert.equal(FILL, n)
			local got = {}
			for i = 1, n do got[i] = { keys[i], values[i] } end
			assert.same(by_key(expected), by_key(got))
			-- decoded as a single lookup decodes them (lvalue.c's codec), and as the program wrote
			for i = 1, n do
				assert.same(maps.flows[keys[i]], values[i])
				local k, v = keys[i], values[i]
				local e = k.saddr - 0x0a000000
				assert.same({ saddr = 0x0a000000 + e, daddr = 0xc0a80001, sport = 1024 + e, dport = 443,
					proto = 6, v6 = e % 2 == 1, zone = -e }, k)
				assert.equal(e * 3 + 1, v.packets)
				assert.equal(e % 2 == 1 and -e or e, v.delta)
				assert.equal(e % 2 == 1, v.seen)
				assert.equal("t" .. e % 10, v.tag)
				assert.equal(("fff00000000000%02x"):format(e), u64_hex(v.first_ns))
			end
		end)

		it("hold what pairs() reads for nested structs, integers and per-CPU values", function()
			for _, name in ipairs { "nested", "counts", "per_cpu" } do
				local keys, values, n = maps[name]:dump()
				assert.equal(FILL, n, name)
				local got = {}
				for i = 1, n do got[i] = { keys[i], values[i] } end
				assert.same(by_key(entries_of(maps[name])), by_key(got), name)
			end
			assert.same({ pos = { x = 5, y = 65530 }, arr = { 5, 10, 15 }, total = 5 * 2 ^ 40 },
				maps.nested[5])
		end)

		it("read an empty map as two empty arrays", function()
			maps.counts:clear()
			local keys, values, n = maps.counts:dump()
			assert.equal(0, n)
			assert.same({}, keys)
			assert.same({}, values)
		end)
	end)

	describe("{columns = true}", function()
		it("holds the same data as pairs() for a flat struct map: one array per field", function()
			local keys, values, n = maps.flows:dump { columns = true }
			assert.equal(FILL, n)
			local names = {}
			for name in pairs(keys) do names[#names + 1] = name end
			table.sort(names)
			assert.same({ "daddr", "dport", "proto", "saddr", "sport", "v6", "zone" }, names)
			assert_column_lengths(keys, n, "keys")
			assert_column_lengths(values, n, "values")
			same_entries(entries_of(maps.flows), keys, values, n)
			assert.is_true(type(values.packets[1]) == "number")
		end)

		it("gives plain arrays for integer keys and values, as dump() does", function()
			local keys, values, n = maps.counts:dump { columns = true }
			local dk, dv = maps.counts:dump()
			assert.equal(FILL, n)
			assert.same(dk, keys)
			assert.same(dv, values)
			for i = 1, n do assert.equal(-keys[i] * 1000, values[i]) end
		end)

		it("nests the columns of nested structs; arrays stay one value per entry", function()
			local keys, values, n = maps.nested:dump { columns = true }
			assert.equal(FILL, n)
			assert.is_table(values.pos.x)
			assert.is_table(values.pos.y)
			assert.is_table(values.total)
			assert.equal(n, #values.pos.x)
			assert.equal(n, #values.arr)
			for i = 1, n do
				local e = keys[i]
				assert.equal(e, values.pos.x[i])
				assert.equal(65535 - e, values.pos.y[i])
				assert.same({ e, e * 2, e * 3 }, values.arr[i])
			end
			same_entries(entries_of(maps.nested), keys, values, n)
		end)

		it("keeps per-CPU values as one array of per-CPU values per entry", function()
			local keys, values, n = maps.per_cpu:dump { columns = true }
			assert.equal(FILL, n)
			for i = 1, n do
				assert.equal(bpf.num_possible_cpus(), #values[i])
				local sum = 0
				for _, v in ipairs(values[i]) do sum = sum + v end
				assert.equal(keys[i] + 7, sum) -- written once, on one CPU
			end
			same_entries(entries_of(maps.per_cpu), keys, values, n)
		end)

		it("gives byte strings with raw = true", function()
			local keys, values, n = maps.flows:dump { columns = true, raw = true }
			assert.equal(FILL, n)
			for i = 1, n do
				assert.equal(16, #keys[i])
				assert.equal(32, #values[i])
			end
			same_entries(entries_of(maps.flows, { raw = true }), keys, values, n)
		end)

		it("reads an empty map as empty columns", function()
			maps.flows:clear()
			local keys, values, n = maps.flows:dump { columns = true }
			assert.equal(0, n)
			assert.same({}, keys.saddr)
			assert.same({}, values.packets)
		end)

		it("works in next_key mode and with small batches", function()
			local expected = entries_of(maps.flows)
			for _, opts in ipairs { { columns = true, batch = false }, { columns = true, batch_size = 7 } } do
				local keys, values, n = maps.flows:dump(opts)
				same_entries(expected, keys, values, n)
			end
		end)

		it("leaves the garbage collector as it found it", function()
			maps.nested:dump { columns = true }
			maps.flows:dump { columns = true }
			assert.is_true(collectgarbage("isrunning"))
			collectgarbage("stop")
			maps.flows:dump { columns = true }
			maps.flows:dump()
			assert.is_false(collectgarbage("isrunning"))
			collectgarbage("restart")
		end)

		it("keeps special key shapes: CIDR strings of an LPM trie as one column", function()
			local types = assert(bpf.load(support.obj("maps_types")))
			types.maps.fw_v4["10.0.0.0/8"] = 1
			assert(types.programs.lpm_write:test_run { data = support.packet() })
			local keys, values, n = types.maps.fw_v4:dump { columns = true }
			local seen = {}
			for i = 1, n do seen[keys[i]] = values[i] end
			assert.same({ ["10.0.0.0/8"] = 1, ["192.168.0.0/16"] = 7 }, seen)
			types:close()
		end)

		it("refuses map types without iteration", function()
			assert.has_error(function() maps.queue:dump { columns = true } end,
				"iteration is not supported on a queue map ('queue') (use push, pop and peek)")
		end)
	end)

	describe("on a large map", function()
		it("reads the same entries in every form across many batches and chunks", function()
			-- 200,000 entries of 48 bytes: 49 batches of 4096, three 4 MB collection chunks
			local big = assert(bpf.load(support.obj("maps_bench")))
			local flows, N = big.maps.flows, 200000
			local chunk, n = {}, 0
			for i = 1, N do
				chunk[{ saddr = i, daddr = i + 1, sport = i % 65536, dport = 80, proto = 6 }] =
					{ packets = i, bytes = i * 100, first_ns = i * 7, last_cpu = i % 2, flags = 2 }
				n = n + 1
				if n == 50000 then assert(flows:update_batch(chunk)); chunk, n = {}, 0 end
			end
			local function digest(k, v)
				return k.saddr * 3 + k.daddr + k.sport + k.dport + k.proto + v.packets + v.bytes
					+ v.first_ns + v.last_cpu + v.flags
			end
			local want, count = 0, 0
			for k, v in flows:pairs() do
				assert.equal(k.saddr, v.packets)
				want, count = want + digest(k, v), count + 1
			end
			assert.equal(N, count)
			local keys, values, dn = flows:dump()
			assert.equal(N, dn)
			local got = 0
			for i = 1, dn do got = got + digest(keys[i], values[i]) end
			assert.equal(want, got)
			local ck, cv, cn = flows:dump { columns = true }
			assert.equal(N, cn)
			got = 0
			for i = 1, cn do
				got = got + ck.saddr[i] * 3 + ck.daddr[i] + ck.sport[i] + ck.dport[i] + ck.proto[i]
					+ cv.packets[i] + cv.bytes[i] + cv.first_ns[i] + cv.last_cpu[i] + cv.flags[i]
			end
			assert.equal(want, got)
			big:close()
		end)
	end)

	describe("pairs()", function()
		it("refuses to go on once the object is closed, even within a batch", function()
			local it = maps.flows:pairs()
			local k = it()
			assert.is_table(k)
			obj:close()
			assert.has_error(function() it() end, "map 'flows' used after its object was closed")
		end)

		it("survives deleting the entries it returned", function()
			local n = 0
			for k in maps.flows:pairs() do
				maps.flows[k] = nil
				n = n + 1
			end
			assert.equal(FILL, n)
			assert.equal(0, maps.flows:count())
		end)
	end)

	describe("pairs{reuse = true}", function()
		it("reads what pairs() reads, in the same key and value tables at every step", function()
			local got, tables = reused_entries(maps.flows, { reuse = true })
			assert.equal(FILL, #got)
			assert.equal(2, #tables) -- one key table, one value table, for every entry
			assert.same(by_key(entries_of(maps.flows)), by_key(got))
			for _, e in ipairs(got) do
				local k, v = e[1], e[2]
				local n = k.saddr - 0x0a000000
				assert.equal(n * 3 + 1, v.packets)
				assert.equal("t" .. n % 10, v.tag)
				assert.equal(("fff00000000000%02x"):format(n), u64_hex(v.first_ns))
				assert.same(maps.flows[k], v)
			end
		end)

		it("refills nested structs and arrays in place; per-CPU arrays too", function()
			for _, name in ipairs { "nested", "per_cpu" } do
				local got, tables = reused_entries(maps[name], { reuse = true })
				assert.equal(FILL, #got, name)
				assert.same(by_key(entries_of(maps[name])), by_key(got), name)
				-- nested: the value, its pos and its arr; per_cpu: the array of per-CPU values
				assert.equal(name == "nested" and 3 or 1, #tables, name)
			end
			local seen = 0
			for k, v in maps.nested:pairs { reuse = true } do
				assert.same({ pos = { x = k, y = 65535 - k }, arr = { k, k * 2, k * 3 }, total = k * 2 ^ 40 }, v)
				seen = seen + 1
			end
			assert.equal(FILL, seen)
		end)

		it("leaves integer keys and values as numbers", function()
			local got = reused_entries(maps.counts, { reuse = true })
			assert.same(by_key(entries_of(maps.counts)), by_key(got))
			for _, e in ipairs(got) do assert.equal(-e[1] * 1000, e[2]) end
		end)

		it("works in next_key mode and with small batches, and with it:next()", function()
			for _, name in ipairs { "flows", "nested" } do
				local expected = by_key(entries_of(maps[name]))
				for _, opts in ipairs { { reuse = true, batch = false }, { reuse = true, batch_size = 3 },
					{ reuse = true, batch_size = 1 } } do
					local got, tables = reused_entries(maps[name], opts)
					assert.same(expected, by_key(got), name)
					assert.equal(name == "flows" and 2 or 3, #tables, name)
				end
			end
			local it = maps.flows:pairs { reuse = true, batch_size = 7 }
			local k1, v1 = it:next()
			local k2, v2 = it()
			assert.is_true(rawequal(k1, k2) and rawequal(v1, v2))
			assert.equal("bpf.map_iterator(flows, batch)", tostring(it))
			assert.is_function(it.help)
		end)

		it("refuses to go on once the object is closed, even within a batch", function()
			for _, opts in ipairs { { reuse = true }, { reuse = true, batch = false } } do
				local o = assert(bpf.load(OBJ))
				fill(o, FILL)
				local it = o.maps.flows:pairs(opts)
				assert.is_table(it())
				o:close()
				assert.has_error(function() it() end, "map 'flows' used after its object was closed")
			end
		end)

		it("does not change map:dump() or pairs() without it", function()
			local keys, values, n = maps.flows:dump { reuse = true }
			assert.equal(FILL, n)
			assert.is_false(rawequal(keys[1], keys[2]))
			assert.is_false(rawequal(values[1], values[2]))
			local it = maps.flows:pairs()
			local k1, v1 = it()
			local k2, v2 = it()
			assert.is_false(rawequal(k1, k2) or rawequal(v1, v2))
			assert.has_error(function() maps.flows:pairs { reuse = 1 } end)
		end)
	end)
end)
