-- Ring buffer consumption benchmark, Lua side (run by `make bench-events` under lua5.4 and
-- luajit). bpf/events_bench.bpf.o's fill16/fill256 programs (run with test_run) produce the
-- records; only consumption is timed. Prints "<name> <size> <records> <seconds> <Mrec/s>".
--
--   floor-call      C calling an empty Lua function once per record (no argument): the floor
--                   of the issue, the denominator of every ratio
--   floor-ring      C walking the same ring records (the core's consumer) and calling the empty
--                   function once per record: the call floor plus the memory a record costs
--                   any consumer, measured exactly like the readers
--   floor-call-args the same with a pointer reader's calling protocol: (light userdata, size)
--                   and the result checked (what any callback with two arguments costs)
--   floor-call-str  the same with a fresh record-sized string argument (lua_pushlstring)
--   raw             reader{raw = true}: an empty callback per record, given the record string
--   raw-batch       reader{raw = true, batch = 1024}: one callback per 1024 records, looping
--                   over them (batch callbacks below all read each entry in a Lua loop)
--   decoded         reader{type = "struct recN"}: one table per record
--   decoded-batch   the same, batch = 1024
--   reuse           reader{type = "struct recN", reuse = true}: one table refilled per record
--   reuse-batch     the same, batch = 1024: 1024 tables refilled in place per call
--   view            reader{type = "struct recN", view = true}: an empty callback per record,
--                   given the reused record view (fields decode through BTF on access)
--   view-read       the same, the callback reads two fields (seq, pid)
--   pointer         reader{pointer = true}: an empty callback per record, given (pointer, size)
--   pointer-peek    the same, the callback reads the record's seq with bpf.peek
--   pointer-batch   reader{pointer = true, batch = 1024}: fn(ptrs, sizes, n) per run of up to
--                   1024 records held in the ring; the loop reads each ptrs[i] and sizes[i]
--   pointer-batch-peek  the same loop reading each seq with bpf.peek and checking the order
--   records         reader{pointer = true}, `for p, size in r:records() do end` (LuaJIT on
--                   x86-64: the FFI ring walk, compiled with the loop; Lua 5.4: a C iterator)
--   records-read    the same loop reading each seq and checking the order (LuaJIT: ffi.cast
--                   to the record struct; Lua 5.4: bpf.peek)
-- Per-record callbacks are empty; the record count comes from what consume() returns. Floors
-- and readers are measured the same way: the same rounds of per_round records (calls), the time
-- of each round summed, the best of BEST_OF runs (the machine is shared and noisy).
local bpf = require "bpf"
local floor = require "ringbuf_floor"

local object = arg[1] or "bpf/events_bench.bpf.o"
local total = tonumber(arg[2]) or 6000000 -- records per measurement of 16-byte records
local best_of = tonumber(os.getenv("BEST_OF") or 3)

local obj = assert(bpf.open(object))
assert(obj:load())
local g = obj.globals
local rb = obj.maps.bench_rb

-- Records per round: what fits in the 64 MiB ring with room to spare.
local per_round = { [16] = 2000000, [256] = 200000 }

local function fill(size, n)
	g.count = n
	assert(obj.programs["fill" .. size]:test_run { ["repeat"] = 0 })
	assert(g.dropped == 0, "ring buffer overflowed while filling")
end

local peek = bpf.peek

local function report(name, size, n, secs)
	print(string.format("%s %d %d %.6f %.2f", name, size, n, secs, n / secs / 1e6))
	io.stdout:flush()
end

-- fn is a callback for consume, or (when loop is set) a function draining the reader itself and
-- returning the count.
local function measure_reader_once(name, size, n, opts, fn, loop)
	local r = assert(rb:reader(opts))
	local rounds = math.max(1, math.floor(n / per_round[size] + 0.5))
	local got, secs = 0, 0
	for _ = 1, rounds do
		fill(size, per_round[size])
		local t0 = floor.now()
		got = got + (loop and fn(r) or r:consume(fn))
		secs = secs + floor.now() - t0
	end
	r:close()
	assert(got == rounds * per_round[size], name .. ": got " .. got .. " records")
	return got, secs
end

local function measure_reader(name, size, n, opts, fn, loop)
	local best_n, best
	for _ = 1, best_of do
		local got, secs = measure_reader_once(name, size, n, opts, fn, loop)
		if not best or secs / got < best / best_n then best_n, best = got, secs end
	end
	report(name, size, best_n, best)
end

-- run(count) makes count calls and returns the seconds they took.
local function measure_floor(name, size, n, run)
	local rounds = math.max(1, math.floor(n / per_round[size] + 0.5))
	local best
	for _ = 1, best_of do
		local secs = 0
		for _ = 1, rounds do secs = secs + run(per_round[size]) end
		if not best or secs < best then best = secs end
	end
	report(name, size, rounds * per_round[size], best)
end

local function empty() end

-- Batch callbacks touch every entry they are given, as any real consumer would.
local function batch_loop(records, n)
	for i = 1, n do local _ = records[i] end
end

local function pointer_batch_loop(ptrs, sizes, n)
	for i = 1, n do local _, _ = ptrs[i], sizes[i] end
end

local last_seq = -1
local function pointer_batch_peek(ptrs, _, n)
	local last = last_seq
	for i = 1, n do
		local seq = peek(ptrs[i], 0, "u64")
		if seq ~= last + 1 and last >= 0 then error("out of order: " .. seq .. " after " .. last) end
		last = seq
	end
	last_seq = last
end

local function view_read(v) local _, _ = v.seq, v.pid end

local function peek_seq(p) local _ = peek(p, 0, "u64") end

local function records_empty(r)
	local n = 0
	for _ in r:records() do n = n + 1 end
	return n
end

-- Reads each record's seq and checks that they come in order.
local records_read
if jit then
	local ffi = require "ffi"
	ffi.cdef [[
	struct bench_rec_head { uint64_t seq; uint32_t pid; uint32_t value; };
	]]
	local head_ptr = ffi.typeof("const struct bench_rec_head *")
	records_read = function(r)
		local n, last = 0, -1
		for p in r:records() do
			local seq = tonumber(ffi.cast(head_ptr, p).seq)
			if seq ~= last + 1 and last >= 0 then error("out of order: " .. seq .. " after " .. last) end
			last = seq
			n = n + 1
		end
		return n
	end
else
	records_read = function(r)
		local n, last = 0, -1
		for p in r:records() do
			local seq = peek(p, 0, "u64")
			if seq ~= last + 1 and last >= 0 then error("out of order: " .. seq .. " after " .. last) end
			last = seq
			n = n + 1
		end
		return n
	end
end

-- The floor over the ring itself: C walks the same records with the core's consumer and calls
-- the empty function once per record (no argument, no result), timed like a reader.
local function measure_ring_floor(name, size, n)
	local rounds = math.max(1, math.floor(n / per_round[size] + 0.5))
	local best, best_n
	for _ = 1, best_of do
		local got, secs = 0, 0
		for _ = 1, rounds do
			fill(size, per_round[size])
			local c, s = floor.ring_calls(rb:fd(), empty)
			got, secs = got + c, secs + s
		end
		assert(got == rounds * per_round[size], name .. ": got " .. got .. " records")
		if not best or secs < best then best, best_n = secs, got end
	end
	report(name, size, best_n, best)
end

for _, size in ipairs { 16, 256 } do
	local n = size == 16 and total or math.floor(total / 10)
	local rtype = "struct rec" .. size
	measure_floor("floor-call", size, n, function(c) return floor.calls(empty, c) end)
	measure_ring_floor("floor-ring", size, n)
	measure_floor("floor-call-args", size, n, function(c) return (floor.calls_args(empty, c, size)) end)
	measure_floor("floor-call-str", size, n, function(c) return floor.calls_str(empty, c, size) end)
	measure_reader("raw", size, n, { raw = true }, empty)
	measure_reader("raw-batch", size, n, { raw = true, batch = 1024 }, batch_loop)
	measure_reader("decoded", size, n, { type = rtype }, empty)
	measure_reader("decoded-batch", size, n, { type = rtype, batch = 1024 }, batch_loop)
	measure_reader("reuse", size, n, { type = rtype, reuse = true }, empty)
	measure_reader("reuse-batch", size, n, { type = rtype, reuse = true, batch = 1024 }, batch_loop)
	measure_reader("view", size, n, { type = rtype, view = true }, empty)
	measure_reader("view-read", size, n, { type = rtype, view = true }, view_read)
	measure_reader("pointer", size, n, { pointer = true }, empty)
	measure_reader("pointer-peek", size, n, { pointer = true }, peek_seq)
	measure_reader("pointer-batch", size, n, { pointer = true, batch = 1024 }, pointer_batch_loop)
	last_seq = -1
	measure_reader("pointer-batch-peek", size, n, { pointer = true, batch = 1024 },
		pointer_batch_peek)
	measure_reader("records", size, n, { pointer = true }, records_empty, true)
	measure_reader("records-read", size, n, { pointer = true }, records_read, true)
end
