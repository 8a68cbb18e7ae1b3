-- Zero-copy event modes (issue 6 speed work): pointer readers (records stay in the ring, the
-- callback gets a pointer and the size; bpf.peek / bpf.bytes / bpf.string read them with bounds
-- checks), reader:records() loops (a C iterator, or the LuaJIT FFI ring walk), and record views
-- (one reused userdata whose fields decode through BTF on access). Records come from the real
-- `emit` program of events_ringbuf run with test_run.
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("events_ringbuf")
local TWO60 = 1152921504606846976 -- 2^60

-- The seq (first 8 bytes) of a record pointer, whichever kind of pointer records() yields.
local function seq_of(p)
	if type(p) == "userdata" then return bpf.peek(p, 0, "u64") end
	local ffi = require "ffi"
	return tonumber(ffi.cast("const uint64_t *", p)[0])
end

local function size_ok(n) return n == 24 end

describe("zero-copy readers", function()
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

	describe("pointer = true", function()
		it("hands every record over in place, intact and in order", function()
			local r = assert(obj.maps.events:reader { pointer = true })
			emit(50)
			local seqs = {}
			assert.equal(50, r:consume(function(p, size)
				assert.equal("userdata", type(p))
				assert.equal(56, size) -- sizeof(struct event)
				local seq = bpf.peek(p, 0, "u64")
				seqs[#seqs + 1] = seq
				assert.equal(support.getpid(), bpf.peek(p, 8, "u32"))
				assert.equal(-seq, bpf.peek(p, 12, "i32"))
				assert.equal(bpf.peek(p, 0, "u32"), bpf.peek(p, 0, "i32")) -- small, same bits
				assert.equal(8, #bpf.bytes(p, 8))
				assert.equal(bpf.bytes(p, 4, 8), bpf.bytes(p, 56):sub(9, 12))
			end))
			for i = 1, 50 do assert.equal(i - 1, seqs[i]) end
		end)

		it("refuses reads outside the record and after its callback", function()
			local r = assert(obj.maps.events:reader { pointer = true })
			emit(2, 24)
			local kept
			r:consume(function(p, size)
				kept = p
				assert.equal(24, size)
				assert.matches("outside the record", select(2, pcall(bpf.peek, p, 20, "u64")))
				assert.matches("outside the record", select(2, pcall(bpf.peek, p, -1, "u8")))
				assert.matches("outside the record", select(2, pcall(bpf.bytes, p, 25)))
				assert.matches("outside the record", select(2, pcall(bpf.string, p, 16, 9)))
				assert.has_error(function() bpf.peek(p, 0, "u24") end)
				assert.has_error(function() bpf.peek("x", 0, "u8") end)
				assert.equal(8, #bpf.bytes(p, 8, 16))
			end)
			local ok, err = pcall(bpf.peek, kept, 0, "u64")
			assert.is_false(ok)
			assert.matches("outside its callback", err)
		end)

		it("reads char arrays with bpf.string", function()
			local r = assert(obj.maps.events:reader { pointer = true })
			local dec = assert(obj.maps.events:reader { type = "struct event" })
			emit(1)
			local comm
			dec:consume(function(ev) comm = ev.comm end)
			-- struct event: seq@0 pid@8 neg@12 half@16 byte@18 odd@19 comm[16]@20
			r:consume(function(p) assert.equal(comm, bpf.string(p, 20, 16)) end)
		end)

		it("does not combine with type or raw", function()
			for _, opts in ipairs { { pointer = true, type = "struct event" },
				{ pointer = true, raw = true } } do
				local ok, err = pcall(obj.maps.events.reader, obj.maps.events, opts)
				assert.is_false(ok)
				assert.matches("does not combine", err)
			end
		end)
	end)

	describe("records()", function()
		it("yields every record in order, and nothing once drained", function()
			local r = assert(obj.maps.events:reader { pointer = true })
			emit(1000, 24)
			local n = 0
			for p, size in r:records() do
				assert.is_true(size_ok(size))
				assert.equal(n, seq_of(p))
				n = n + 1
			end
			assert.equal(1000, n)
			for _ in r:records() do error("nothing should be left") end
			assert.equal(0, r:consume(function() end))
		end)

		it("resumes after the record a loop broke at, with no repeat and no loss", function()
			local r = assert(obj.maps.events:reader { pointer = true })
			emit(10, 24)
			local seen = {}
			for p in r:records() do
				seen[#seen + 1] = seq_of(p)
				if #seen == 3 then break end
			end
			-- a callback drain picks up after the broken-at record...
			r:consume(function(p)
				seen[#seen + 1] = bpf.peek(p, 0, "u64")
				if #seen == 6 then return false end
			end)
			-- ...and a new loop after the stopped-at one
			for p in r:records() do seen[#seen + 1] = seq_of(p) end
			assert.same({ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, seen)
		end)

		it("keeps up with a ring that wraps around many times", function()
			local r = assert(obj.maps.small_events:reader { pointer = true })
			local expect = 0
			for _ = 1, 20 do
				emit(50, 24, 1) -- one page: 32 bytes a record, the producer wraps every 128
				assert.equal(0, g.dropped)
				for p in r:records() do
					assert.equal(expect, seq_of(p))
					expect = expect + 1
				end
			end
			assert.equal(1000, expect)
		end)

		it("walks several rings and says which one each record came from", function()
			local r = assert(bpf.reader { obj.maps.events, obj.maps.other_events, pointer = true })
			emit(2, 24, 0)
			emit(3, 24, 2)
			local from = { 0, 0 }
			for p, size, ring in r:records() do
				assert.is_true(size_ok(size))
				from[ring] = from[ring] + 1
			end
			assert.same({ 2, 3 }, from)
		end)

		it("yields strings and decoded tables for raw and typed readers", function()
			local raw = assert(obj.maps.events:reader { raw = true })
			emit(3, 24)
			local n = 0
			for s in raw:records() do
				assert.equal(24, #s)
				assert.equal(n, s:byte(1))
				n = n + 1
			end
			assert.equal(3, n)
			raw:close()
			local dec = assert(obj.maps.events:reader { type = "struct event" })
			emit(3)
			n = 0
			for ev in dec:records() do
				assert.equal(3 + n, ev.seq)
				assert.same({ ev.seq, ev.seq + 1 }, ev.pair)
				n = n + 1
			end
			assert.equal(3, n)
		end)

		it("raises an error when the reader is closed inside the loop", function()
			local r = assert(obj.maps.events:reader { pointer = true })
			emit(5, 24)
			local ok, err = pcall(function()
				for _ in r:records() do r:close() end
			end)
			assert.is_false(ok)
			assert.matches("closed during a records%(%) loop", err)
		end)

		it("is refused for perf buffers, log and view readers, and inside a callback", function()
			local r = assert(obj.maps.events:reader { pointer = true })
			emit(1, 24)
			r:consume(function()
				assert.has_error(function() r:records() end)
			end)
			local v = assert(obj.maps.events:reader { type = "struct event", view = true })
			assert.has_error(function() v:records() end)
		end)
	end)

	describe("view = true", function()
		it("decodes fields on access, the same values as decoded readers", function()
			local r = assert(obj.maps.events:reader { type = "struct event", view = true })
			emit(20)
			local n = 0
			assert.equal(20, r:consume(function(v)
				local seq = n
				assert.equal(seq, v.seq)
				assert.equal(-seq, v.neg)
				assert.equal((seq * 3) % 65536, v.half)
				assert.equal(seq % 256, v.byte)
				assert.equal(seq % 2 == 1, v.odd)
				assert.equal(support.getpid(), v.pid)
				assert.is_true(v.big - v.seq == TWO60)
				assert.same({ seq, seq + 1 }, v.pair)
				assert.equal(56, #v)
				n = n + 1
			end))
		end)

		it("expires when its callback returns or raises an error", function()
			local r = assert(obj.maps.events:reader { type = "struct event", view = true })
			emit(2)
			local kept
			r:consume(function(v) kept = v; return false end)
			local ok, err = pcall(function() return kept.seq end)
			assert.is_false(ok)
			assert.matches("record view used after its callback returned", err)
			assert.matches("expired", tostring(kept))
			ok = pcall(r.consume, r, function(v) kept = v; error("boom") end)
			assert.is_false(ok)
			assert.has_error(function() return kept.pid end)
		end)

		it("names an unknown field and needs a type", function()
			local r = assert(obj.maps.events:reader { type = "struct event", view = true })
			emit(1)
			local ok, err = pcall(r.consume, r, function(v) return v.nope end)
			assert.is_false(ok)
			assert.matches("struct event has no field 'nope'", err)
			ok, err = pcall(obj.maps.events.reader, obj.maps.events, { view = true })
			assert.is_false(ok)
			assert.matches("needs type", err)
		end)

		it("rejects a record shorter than the type", function()
			local r = assert(obj.maps.events:reader { type = "struct event", view = true })
			emit(1, 4)
			local ok, err = pcall(r.consume, r, function() end)
			assert.is_false(ok)
			assert.matches("record of 4 bytes is shorter than struct event", err)
		end)
	end)
end)
