-- Map benchmark (`make bench-maps`): dumps a 1,000,000-entry u32 -> u64 hash and a 1,000,000-entry
-- 16-byte struct key -> 32-byte struct value hash into Lua values, and times single lookups,
-- side by side in one run with bench/maps_c (libbpf's bpf_map_lookup_batch and raw
-- bpf_map_lookup_elem on the very same maps).
--
--   lua5.4|luajit bench/maps_bench.lua OBJECT MAPS_C [ENTRIES [LOOKUPS]]
--
-- Times are CPU seconds (user + system) of each process, the best of three rounds.
local bpf = require "bpf"

local OBJ, MAPS_C = arg[1] or "bpf/maps_bench.bpf.o", arg[2] or "build/bench/maps_c"
local N = tonumber(arg[3]) or 1000000
local LOOKUPS = tonumber(arg[4]) or 200000
local ROUNDS = 3
local clock = os.clock
local interp = jit and jit.version or _VERSION

local obj = assert(bpf.load(OBJ))
local small, flows = obj.maps.small, obj.maps.flows

local function fill()
	local chunk, n = {}, 0
	for i = 1, N do
		chunk[i] = i * 3
		if i % 50000 == 0 or i == N then
			assert(small:update_batch(chunk)); chunk = {}
		end
	end
	for i = 1, N do
		chunk[{ saddr = i, daddr = i + 1, sport = i % 65536, dport = 80, proto = 6 }] =
			{ packets = i, bytes = i * 100, first_ns = i * 7, last_cpu = i % 2, flags = 2 }
		n = n + 1
		if n == 50000 or i == N then
			assert(flows:update_batch(chunk)); chunk, n = {}, 0
		end
	end
	assert(small:count() == N and flows:count() == N, "maps not filled")
end

-- Every entry into Lua values: keys[i], values[i] (what the C side does with arrays).
local function dump(map)
	local keys, values, n = map:dump()
	assert(n == N, map.name .. ": " .. n .. " entries")
	return keys, values
end

-- The same through the iterator, one entry per call.
local function dump_pairs(map)
	local keys, values, n = {}, {}, 0
	for k, v in map:pairs() do
		n = n + 1
		keys[n], values[n] = k, v
	end
	assert(n == N, map.name .. ": " .. n .. " entries")
	return keys, values
end

local function best(f)
	local t = math.huge
	for _ = 1, ROUNDS do
		collectgarbage()
		local c = clock()
		f()
		t = math.min(t, clock() - c)
	end
	return t
end

io.stderr:write(("filling %d + %d entries...\n"):format(N, N))
fill()

-- The C side first, on the same maps.
local c = { c_dump_small = math.huge, c_dump_flows = math.huge, c_lookup = math.huge }
local p = assert(io.popen(("%s %d %d %d"):format(MAPS_C, small:info().id, flows:info().id, LOOKUPS)))
for line in p:lines() do
	local name, secs = line:match("^(%S+) (%S+)")
	if c[name] then c[name] = math.min(c[name], tonumber(secs)) end
end
p:close()
assert(c.c_dump_small < math.huge, "maps_c produced no figures")

local lua_small = best(function() dump(small) end)
local lua_flows = best(function() dump(flows) end)
local pairs_small = best(function() dump_pairs(small) end)
local pairs_flows = best(function() dump_pairs(flows) end)
local lua_lookup = best(function()
	for k = 1, LOOKUPS do
		local v = small[k]
	end
end)
local lua_lookup_method = best(function()
	for k = 1, LOOKUPS do
		local v = small:lookup(k)
	end
end)
local check = dump(flows)
assert(type(check[1]) == "table" and check[1].saddr, "flows keys decode to tables")

local function row(what, lua_t, c_t, target)
	print(("%-44s Lua %8.3f s   C %8.3f s   ratio %5.2f  (target <= %.1f) %s"):format(what, lua_t, c_t,
		lua_t / c_t, target, lua_t / c_t <= target and "ok" or "MISSED"))
end
print(("== %s, %d entries, %d lookups, CPU seconds (best of %d)"):format(interp, N, LOOKUPS, ROUNDS))
row("dump u32 -> u64, map:dump() vs lookup_batch", lua_small, c.c_dump_small, 1.5)
row("dump struct16 -> struct32, map:dump()", lua_flows, c.c_dump_flows, 1.5)
row("dump u32 -> u64, for k, v in map:pairs()", pairs_small, c.c_dump_small, 1.5)
row("dump struct16 -> struct32, map:pairs()", pairs_flows, c.c_dump_flows, 1.5)
row("single lookups map[k] vs bpf_map_lookup_elem", lua_lookup, c.c_lookup, 1.2)
row("single lookups map:lookup(k)", lua_lookup_method, c.c_lookup, 1.2)
print(("per entry: Lua %.0f ns / %.0f ns, C %.0f ns / %.0f ns; per lookup: Lua %.0f ns, C %.0f ns"):format(
	lua_small / N * 1e9, lua_flows / N * 1e9, c.c_dump_small / N * 1e9, c.c_dump_flows / N * 1e9,
	lua_lookup / LOOKUPS * 1e9, c.c_lookup / LOOKUPS * 1e9))
obj:close()
