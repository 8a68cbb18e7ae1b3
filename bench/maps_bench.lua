-- Map benchmark (`make bench-maps`): dumps a 1,000,000-entry u32 -> u64 hash and a 1,000,000-entry
-- 16-byte struct key -> 32-byte struct value hash into Lua values, and times single lookups,
-- side by side in one run with bench/maps_c (libbpf's bpf_map_lookup_batch and raw
-- bpf_map_lookup_elem on the very same maps, same batch size, every field read once).
--
--   lua5.4|luajit bench/maps_bench.lua OBJECT MAPS_C [ENTRIES [LOOKUPS [ROUNDS]]]
--
-- Times are CPU seconds (user + system) of each process, the best of ROUNDS rounds. Each round
-- runs the C dumps and then the Lua ones, then three times the C lookups and then the Lua ones,
-- so that both sides see the same load on the machine. Three Lua forms of a dump:
--   map:dump()                     keys[i], values[i]: one Lua table per struct key and value
--   for k, v in map:pairs()        the same through the iterator, one entry per call
--   map:dump{columns = true}       keys.saddr[i], values.packets[i]: one array per field, no
--                                  table per entry (a different result shape, reported as such)
-- and two loops that read every field of every entry once, as the C side does, keeping nothing:
--   for k, v in map:pairs()              fresh key and value tables per entry (garbage at once)
--   for k, v in map:pairs{reuse = true}  the same two tables refilled in place at every step
-- Two interpreter floors, with no map and no kernel involved, show what a form costs at least:
--   tables  the same 2M key and value tables built by Lua table constructors into two arrays
--           (the collector handled as map:dump() handles it): the least a per-entry dump costs
--           on top of the kernel's copy, whoever builds the tables
--   reads   the reading loop's body (ten field reads and sums) over two fixed tables handed out
--           by a Lua function: the least a loop that reads every field adds, whatever it reads
local bpf = require "bpf"

local OBJ, MAPS_C = arg[1] or "bpf/maps_bench.bpf.o", arg[2] or "build/bench/maps_c"
local N = tonumber(arg[3]) or 1000000
local LOOKUPS = tonumber(arg[4]) or 200000
local ROUNDS = tonumber(arg[5]) or 5
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
-- map:dump() pauses the collector while it runs; the allocation of the message below (evaluated
-- eagerly) is the first one after it, where Lua 5.4 does the deferred collector step (most of a
-- mark over the new tables): it is deliberately inside the timing.
local function dump(map)
	local keys, values, n = map:dump()
	assert(n == N, map.name .. ": " .. n .. " entries")
	return keys, values
end

-- The same followed by a full collection with the result alive: what the collector must do at
-- some point for the tables a dump creates (LuaJIT does it incrementally over later allocations).
local function dump_then_collect(map)
	local keys, values = dump(map)
	collectgarbage()
	return keys, values
end

local function dump_columns(map)
	local keys, values, n = map:dump { columns = true }
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

-- Every field of every entry summed, nothing kept (what C does with its arrays). The sums are
-- checked against C's below.
local field_sums = {}
local function sum_pairs(map, opts, name)
	local sum, n = 0, 0
	for k, v in map:pairs(opts) do
		sum = sum + k.saddr + k.daddr + k.sport + k.dport + k.proto
			+ v.packets + v.bytes + v.first_ns + v.last_cpu + v.flags
		n = n + 1
	end
	assert(n == N, map.name .. ": " .. n .. " entries")
	field_sums[name] = sum
end

-- Floor "tables": N keys and N values as Lua constructors build them, nothing read from a map.
local function floor_tables()
	local keys, values = {}, {}
	collectgarbage("stop")
	for i = 1, N do
		keys[i] = { saddr = i, daddr = i + 1, sport = i % 65536, dport = 80, proto = 6 }
		values[i] = { packets = i, bytes = i * 100, first_ns = i * 7, last_cpu = i % 2, flags = 2 }
	end
	collectgarbage("restart")
	assert(#keys == N, "floor: " .. #keys .. " keys")
	return keys, values
end

-- Floor "reads": the body of sum_pairs over two fixed tables, N times.
local function floor_reads()
	local fk = { saddr = 1, daddr = 2, sport = 3, dport = 80, proto = 6 }
	local fv = { packets = 1, bytes = 100, first_ns = 7, last_cpu = 1, flags = 2 }
	local function step() return fk, fv end
	local sum = 0
	for _ = 1, N do
		local k, v = step()
		sum = sum + k.saddr + k.daddr + k.sport + k.dport + k.proto
			+ v.packets + v.bytes + v.first_ns + v.last_cpu + v.flags
	end
	assert(sum == N * 203, "floor: reads")
end

local function lookups_index()
	for k = 1, LOOKUPS do
		local _ = small[k]
	end
end

local function lookups_method()
	for k = 1, LOOKUPS do
		local _ = small:lookup(k)
	end
end

local best = {}
local function time(name, f, ...)
	collectgarbage()
	collectgarbage()
	local c = clock()
	f(...)
	local t = clock() - c
	best[name] = math.min(best[name] or math.huge, t)
end

-- One round of the C program (part "dump" or "lookup"): its figures go into best[] too.
local c_sums = {}
local function run_c(part)
	local cmd = ("%s %d %d %d 1 %s"):format(MAPS_C, small:info().id, flows:info().id, LOOKUPS, part)
	local p = assert(io.popen(cmd))
	for line in p:lines() do
		local name, secs, _, sum = line:match("^(%S+) (%S+) (%S+) ?(%S*)")
		if name then
			best[name] = math.min(best[name] or math.huge, tonumber(secs))
			c_sums[name] = tonumber(sum)
		end
	end
	p:close()
	assert(best[part == "dump" and "c_dump_flows" or "c_lookup"], "maps_c produced no figures")
end

io.stderr:write(("filling %d + %d entries...\n"):format(N, N))
fill()
for round = 1, ROUNDS do
	io.stderr:write(("round %d/%d\n"):format(round, ROUNDS))
	run_c("dump")
	time("dump_small", dump, small)
	time("dump_flows", dump, flows)
	time("dumpgc_flows", dump_then_collect, flows)
	time("pairs_small", dump_pairs, small)
	time("pairs_flows", dump_pairs, flows)
	time("cols_small", dump_columns, small)
	time("cols_flows", dump_columns, flows)
	time("sum_flows", sum_pairs, flows, nil, "sum_flows")
	time("reuse_flows", sum_pairs, flows, { reuse = true }, "reuse_flows")
	time("floor_tables", floor_tables)
	time("floor_reads", floor_reads)
	-- Lookups are short (about 0.3 s) and dominated by the syscall, whose cost moves with the
	-- load of the machine: the C and Lua loops alternate three times per round.
	for _ = 1, 3 do
		run_c("lookup")
		time("lookup_index", lookups_index)
		time("lookup_method", lookups_method)
	end
end

-- The Lua dumps hold the same data as C's: the same checksum over every field (not timed).
do
	local keys, values = dump(flows)
	local sum = 0
	for i = 1, N do
		local k, v = keys[i], values[i]
		sum = sum + k.saddr + k.daddr + k.sport + k.dport + k.proto
		sum = sum + v.packets + v.bytes + v.first_ns + v.last_cpu + v.flags
	end
	assert(sum == c_sums.c_dump_flows, "flows: Lua and C checksums differ")
	assert(field_sums.sum_flows == sum and field_sums.reuse_flows == sum,
		"flows: pairs() / pairs{reuse = true} and C checksums differ")
	local ck, cv = dump_columns(flows)
	local csum = 0
	for _, col in pairs(ck) do for i = 1, N do csum = csum + col[i] end end
	for _, col in pairs(cv) do for i = 1, N do csum = csum + col[i] end end
	assert(csum == sum, "flows: columns and per-entry dump differ")
	local sk, sv = dump(small)
	local ssum = 0
	for i = 1, N do ssum = ssum + sk[i] + sv[i] end
	assert(ssum == c_sums.c_dump_small, "small: Lua and C checksums differ")
end

local function row(what, lua_t, c_t, target)
	local verdict = target and (lua_t / c_t <= target and "ok" or "MISSED") or "(for information)"
	print(("%-46s Lua %7.3f s  C %7.3f s  ratio %5.2f  %s%s"):format(what, lua_t, c_t, lua_t / c_t,
		target and ("target <= %.1f "):format(target) or "", verdict))
end
local b = best
print(("== %s, %d entries, %d lookups, CPU seconds (best of %d rounds, C and Lua interleaved)"):format(
	interp, N, LOOKUPS, ROUNDS))
row("u32 -> u64: map:dump()", b.dump_small, b.c_dump_small, 1.5)
row("u32 -> u64: for k, v in map:pairs()", b.pairs_small, b.c_dump_small, 1.5)
row("u32 -> u64: map:dump{columns = true}", b.cols_small, b.c_dump_small, 1.5)
row("struct16 -> struct32: map:dump()", b.dump_flows, b.c_dump_flows, 1.5)
row("  ... then a full collection (result alive)", b.dumpgc_flows, b.c_dump_flows, nil)
row("struct16 -> struct32: for k, v in map:pairs()", b.pairs_flows, b.c_dump_flows, 1.5)
row("struct16 -> struct32: pairs(), fields read, none kept", b.sum_flows, b.c_dump_flows, 1.5)
row("struct16 -> struct32: pairs{reuse = true}", b.reuse_flows, b.c_dump_flows, 1.5)
row("struct16 -> struct32: dump{columns = true}", b.cols_flows, b.c_dump_flows, nil)
-- The least each struct form can cost, from the floors: C's time (the kernel's copy, which Lua
-- pays as well) plus what the interpreter needs for the form's own Lua work.
local floor_dump = b.c_dump_flows + b.floor_tables
local floor_reading = b.c_dump_flows + b.floor_reads
row("floor: Lua builds the same 2M tables (no map)", b.floor_tables, b.c_dump_flows, nil)
row("floor: Lua reads ten fields 1M times (no map)", b.floor_reads, b.c_dump_flows, nil)
print(("  => least reachable: map:dump() %.2f, loops reading every field %.2f "
	.. "(C + floor, over C)"):format(floor_dump / b.c_dump_flows, floor_reading / b.c_dump_flows))
row("single lookups: map[k] vs bpf_map_lookup_elem", b.lookup_index, b.c_lookup, 1.2)
row("single lookups: map:lookup(k)", b.lookup_method, b.c_lookup, 1.2)
print(("per entry (u32 / struct): C %.0f / %.0f ns, map:dump() %.0f / %.0f ns, pairs %.0f / %.0f ns, "
	.. "columns %.0f / %.0f ns; struct pairs reading fields: fresh %.0f ns, reuse %.0f ns; "
	.. "per lookup: C %.0f ns, map[k] %.0f ns"):format(
	b.c_dump_small / N * 1e9, b.c_dump_flows / N * 1e9, b.dump_small / N * 1e9, b.dump_flows / N * 1e9,
	b.pairs_small / N * 1e9, b.pairs_flows / N * 1e9, b.cols_small / N * 1e9, b.cols_flows / N * 1e9,
	b.sum_flows / N * 1e9, b.reuse_flows / N * 1e9, b.c_lookup / LOOKUPS * 1e9,
	b.lookup_index / LOOKUPS * 1e9))
obj:close()
