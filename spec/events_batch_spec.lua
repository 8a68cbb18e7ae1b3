-- Batch modes of the event readers (issue 6 speed work): pointer readers with batch = N hand one
-- call a run of records held in the ring (fn(ptrs, sizes, n[, ring]), bpf.peek checks each
-- pointer against its own record), and reuse = true refills decoded tables in place (one table
-- per source, or with batch an array of tables, all reused by every call). Records come from the
-- real `emit` program of events_ringbuf run with test_run.
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("events_ringbuf")
local TWO60 = 1152921504606846976 -- 2^60

describe("batch readers", function()
	local obj, g

	local function emit(n, raw_size, target)
		g.count = n
		g.target = target or 0
		g.raw_size = raw_size or 0
		assert(obj.programs.emit:test_run { ["repeat"] = 0 })
	end

	before_each(function()
		obj = assert(bpf.load(OBJ))
		g = obj.globals
	end)

	after_each(function()
		obj:close()
	end)

	describe("pointer = true, batch = n", function()
		it("hands runs of at most n records to one call, intact and in order", function()
			local r = assert(obj.maps.events:reader { pointer = true, batch = 64 })
			emit(1000)
			local seqs, calls = {}, 0
			assert.equal(1000, r:consume(function(ptrs, sizes, n)
				calls = calls + 1
				assert.is_true(n >= 1 and n <= 64)
				for i = 1, n do
					local p = ptrs[i]
					assert.equal("userdata", type(p))
					assert.equal(56, sizes[i]) -- sizeof(struct event)
					local seq = bpf.peek(p, 0, "u64")
					seqs[#seqs + 1] = seq
					assert.equal(support.getpid(), bpf.peek(p, 8, "u32"))
					assert.equal(-seq, bpf.peek(p, 12, "i32"))
					assert.is_true(bpf.peek(p, 40, "u64") - seq == TWO60)
					assert.equal(bpf.string(ptrs[1], 20, 16), bpf.string(p, 20, 16))
				end
			end))
			assert.equal(1000, #seqs)
			for i = 1, 1000 do assert.equal(i - 1, seqs[i]) end
			assert.is_true(calls >= 16, "at most 64 records a call")
			assert.equal(0, r:consume(function() error("nothing should be left") end))
		end)

		it("checks every pointer of the run against its own record, in any order", function()
			local r = assert(obj.maps.events:reader { pointer = true, batch = 100 })
			emit(100, 24)
			r:consume(function(ptrs, sizes, n)
				for i = n, 1, -1 do -- backwards: every lookup searches the run
					local p = ptrs[i]
					assert.equal(24, sizes[i])
					assert.equal(i - 1, bpf.peek(p, 0, "u64"))
					assert.equal(8, #bpf.bytes(p, 8, 16))
					assert.matches("outside the record", select(2, pcall(bpf.peek, p, 20, "u64")))
					assert.matches("outside the record", select(2, pcall(bpf.bytes, p, 25)))
				end
			end)
		end)

		it("keeps the run in the ring until the call returns, then releases it", function()
			-- small_events is one page: 128 records of 24 (+8) bytes fill it; a run is at most
			-- a quarter of the ring.
			local r = assert(obj.maps.small_events:reader { pointer = true, batch = 1000 })
			emit(100, 24, 1)
			assert.equal(0, g.dropped)
			local seqs, first, dropped_in_call = {}, true, nil
			local total = r:consume(function(ptrs, _, n)
				if first then
					first = false
					-- The 100 records are all still in the ring (this run included): 40 more
					-- do not fit. Released before the call, the run would have made room.
					emit(40, 24, 1)
					dropped_in_call = g.dropped
					assert.equal(0, bpf.peek(ptrs[1], 0, "u64")) -- still readable
				end
				for i = 1, n do seqs[#seqs + 1] = bpf.peek(ptrs[i], 0, "u64") end
			end)
			assert.is_true(dropped_in_call > 0, "the run was released before its call returned")
			assert.equal(140 - dropped_in_call, total)
			for i = 1, total do assert.equal(i - 1, seqs[i]) end
			-- everything was released after the calls: a full ring's worth fits again
			emit(120, 24, 1)
			assert.equal(dropped_in_call, g.dropped)
			assert.equal(120, r:consume(function() end))
		end)

		it("follows a ring that wraps around, runs crossing its end", function()
			local r = assert(obj.maps.small_events:reader { pointer = true, batch = 100 })
			local expect = 0
			for _ = 1, 20 do
				emit(50, 24, 1)
				assert.equal(0, g.dropped)
				local base = expect
				r:consume(function(ptrs, _, n)
					for i = n, 1, -1 do assert.equal(base + i - 1, bpf.peek(ptrs[i], 0, "u64")) end
					base = base + n
				end)
				expect = expect + 50
				assert.equal(expect, base)
			end
		end)

		it("refuses a pointer of a run after its call, and after an error", function()
			local r = assert(obj.maps.events:reader { pointer = true, batch = 8 })
			emit(4, 24)
			local kept
			r:consume(function(ptrs) kept = ptrs[2] end)
			local ok, err = pcall(bpf.peek, kept, 0, "u64")
			assert.is_false(ok)
			assert.matches("outside its callback", err)
			emit(4, 24)
			ok, err = pcall(r.consume, r, function(ptrs) kept = ptrs[1]; error("boom") end)
			assert.is_false(ok)
			assert.matches("boom", err)
			assert.has_error(function() bpf.peek(kept, 0, "u64") end)
			-- the run of the failed call counts as consumed: nothing is handed over twice
			emit(2, 24)
			local seqs = {}
			r:consume(function(ptrs, _, n)
				for i = 1, n do seqs[#seqs + 1] = bpf.peek(ptrs[i], 0, "u64") end
			end)
			assert.same({ 8, 9 }, seqs)
		end)

		it("stops after the run whose call returned false", function()
			local r = assert(obj.maps.events:reader { pointer = true, batch = 10 })
			emit(35, 24)
			local got = 0
			assert.equal(10, r:consume(function(_, _, n) got = got + n; return false end))
			assert.equal(25, r:consume(function(_, _, n) got = got + n end))
			assert.equal(35, got)
		end)

		it("polls, and says which ring a run came from", function()
			local r = assert(bpf.reader { obj.maps.events, obj.maps.other_events,
				pointer = true, batch = 16 })
			assert.equal(0, r:poll(0, function() error("nothing waits") end))
			emit(20, 24, 0)
			emit(3, 24, 2)
			local from = { 0, 0 }
			assert.equal(23, r:poll(100, function(ptrs, sizes, n, ring)
				assert.equal(24, sizes[n])
				assert.is_not_nil(ptrs[n])
				from[ring] = from[ring] + n
			end))
			assert.same({ 20, 3 }, from)
		end)

		it("stops when the reader is closed from its call", function()
			local r = assert(obj.maps.events:reader { pointer = true, batch = 4 })
			emit(10, 24)
			local calls = 0
			r:consume(function() calls = calls + 1; r:close() end)
			assert.equal(1, calls)
			assert.has_error(function() r:consume(function() end) end)
		end)

		it("keeps each reader's pointers apart when drains nest", function()
			local outer = assert(obj.maps.events:reader { pointer = true, batch = 8 })
			local inner = assert(obj.maps.other_events:reader { pointer = true })
			emit(3, 24, 0)
			emit(2, 24, 2)
			local inner_seqs = {}
			outer:consume(function(ptrs, _, n)
				inner:consume(function(p)
					inner_seqs[#inner_seqs + 1] = bpf.peek(p, 0, "u64")
					assert.has_error(function() bpf.peek(ptrs[1], 0, "u64") end)
				end)
				-- the run is readable again once the nested drain is over
				for i = 1, n do assert.equal(i - 1, bpf.peek(ptrs[i], 0, "u64")) end
			end)
			assert.same({ 3, 4 }, inner_seqs)
		end)

		it("takes ring buffers only", function()
			local perf = assert(bpf.load(support.obj("events_perf")))
			local ok, err = pcall(perf.maps.samples.reader, perf.maps.samples,
				{ pointer = true, batch = 8 })
			perf:close()
			assert.is_false(ok)
			assert.matches("ring buffers only", err)
		end)
	end)

	describe("reuse = true", function()
		local function check_event(ev, seq)
			assert.equal(seq, ev.seq)
			assert.equal(-seq, ev.neg)
			assert.equal((seq * 3) % 65536, ev.half)
			assert.equal(seq % 256, ev.byte)
			assert.equal(seq % 2 == 1, ev.odd)
			assert.equal(support.getpid(), ev.pid)
			assert.is_true(ev.big - ev.seq == TWO60)
			assert.same({ seq, seq + 1 }, ev.pair)
		end

		it("refills one table, array members included, for every record", function()
			local r = assert(obj.maps.events:reader { type = "struct event", reuse = true })
			local plain = assert(obj.maps.events:reader { type = "struct event" })
			emit(1)
			local expect
			plain:consume(function(ev) expect = ev end)
			emit(30)
			local tbl, pair, n = nil, nil, 0
			assert.equal(30, r:consume(function(ev)
				tbl = tbl or ev
				pair = pair or ev.pair
				assert.equal(tbl, ev) -- the same table every time...
				assert.equal(pair, ev.pair) -- ...and the same array table inside
				check_event(ev, n + 1)
				assert.equal(expect.comm, ev.comm)
				n = n + 1
			end))
			assert.equal(30, n)
		end)

		it("with batch, refills an array of tables reused across calls", function()
			local r = assert(obj.maps.events:reader { type = "struct event", reuse = true,
				batch = 8 })
			emit(20)
			local first_array, first_tables, seq = nil, {}, 0
			assert.equal(20, r:consume(function(recs, n)
				first_array = first_array or recs
				assert.equal(first_array, recs)
				assert.is_true(n <= 8)
				for i = 1, n do
					first_tables[i] = first_tables[i] or recs[i]
					assert.equal(first_tables[i], recs[i])
					check_event(recs[i], seq)
					seq = seq + 1
				end
			end))
			assert.equal(20, seq)
			-- a second drain refills the same tables
			emit(3)
			r:consume(function(recs, n)
				assert.equal(3, n)
				assert.equal(first_tables[1], recs[1])
				check_event(recs[3], 22)
			end)
		end)

		it("needs type and refuses raw, pointer and view", function()
			for _, opts in ipairs { { reuse = true }, { reuse = true, raw = true, type = "struct event" },
				{ reuse = true, pointer = true, type = "struct event" },
				{ reuse = true, view = true, type = "struct event" } } do
				local ok, err = pcall(obj.maps.events.reader, obj.maps.events, opts)
				assert.is_false(ok)
				assert.matches("reuse", err)
			end
		end)

		it("rejects a record shorter than the type", function()
			local r = assert(obj.maps.events:reader { type = "struct event", reuse = true })
			emit(1, 4)
			local ok, err = pcall(r.consume, r, function() end)
			assert.is_false(ok)
			assert.matches("record of 4 bytes is shorter than struct event", err)
		end)
	end)
end)
