-- The smoke subset (issue 14): what every Lua the rockspec accepts must do — PUC 5.1, 5.2, 5.3,
-- 5.4 and LuaJIT. `make test` runs the whole suite under 5.4 and LuaJIT and this file under
-- 5.1, 5.2 and 5.3 too: open with options, load, attach a tracepoint, read a map and globals,
-- write a map, read a ring buffer through BTF. Kept to 5.1 syntax and library.
local bpf = require "bpf"
local support = require "support.init"

-- PUC 5.1 and 5.2 have doubles only: integers beyond 2^53 come back rounded (doc/API.md).
local exact64 = math.type ~= nil or rawget(_G, "jit") ~= nil
local TWO60 = 1152921504606846976

describe("smoke (" .. _VERSION .. (rawget(_G, "jit") and ", LuaJIT" or "") .. ")", function()
	it("opens with options, loads, attaches and counts this process's syscalls", function()
		local me = support.getpid()
		local obj = assert(bpf.open(support.obj("syscount"), { globals = { target_tgid = me } }))
		assert.equal("bpf.object", (tostring(obj):match("^(bpf%.object)")))
		assert(obj:load())
		local link = assert(obj.programs.count_syscalls:attach())
		local raw = assert(obj.programs.count_raw:attach())
		for _ = 1, 300 do io.open("/proc/self/stat"):close() end
		local counts = obj.maps.pid_counts
		local n = counts[me]
		assert.is_number(n)
		assert.is_true(n >= 600, "300 opens and closes at least: " .. tostring(n))
		assert.is_true(counts:lookup(me) >= n, "the count only grows")
		local seen = 0
		for pid, c in counts:pairs() do
			assert.equal(me, pid)
			assert.is_true(c >= n)
			seen = seen + 1
		end
		assert.equal(1, seen)
		assert.is_true(obj.globals.raw_hits >= 600)
		assert.equal(me, obj.globals.target_tgid)
		assert.equal("string", type(obj.maps.pid_comm[me]))
		link:detach()
		raw:detach()
		obj:close()
	end)

	it("writes and deletes map entries", function()
		local obj = assert(bpf.load(support.obj("syscount")))
		local m = obj.maps.syscall_counts
		m[7] = 123456789
		m[8] = 2 ^ 40
		assert.equal(123456789, m[7])
		assert.equal(2 ^ 40, m[8])
		assert.equal(2, m:count())
		m[7] = nil
		assert.is_nil(m[7])
		assert.has_error(function() m[9] = "text" end)
		obj:close()
	end)

	it("reads ring buffer records decoded through BTF", function()
		local obj = assert(bpf.load(support.obj("events_ringbuf")))
		local r = assert(obj.maps.events:reader { type = "struct event" })
		obj.globals.count = 50
		assert(obj.programs.emit:test_run { ["repeat"] = 0 })
		local got = {}
		assert.equal(50, r:consume(function(ev) got[#got + 1] = ev end))
		for i, ev in ipairs(got) do
			local seq = i - 1
			assert.equal(seq, ev.seq)
			assert.equal(-seq, ev.neg)
			assert.equal(seq % 2 == 1, ev.odd)
			assert.same({ seq, seq + 1 }, ev.pair)
			if exact64 then
				assert.is_true(ev.big - seq == TWO60)
			else
				assert.is_true(math.abs(ev.big - TWO60 - seq) <= 256, "rounded to a double")
			end
		end
		r:close()
		obj:close()
	end)
end)
