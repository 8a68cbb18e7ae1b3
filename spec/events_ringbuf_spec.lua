-- Ring buffer readers (issue 6): records produced by real programs (a `syscall` program run with
-- test_run, and a tracepoint fired by this process) arrive decoded and in order; drops are
-- counted; the fd works in event loops; bad input gives clear errors.
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("events_ringbuf")
local TWO60 = 1152921504606846976 -- 2^60, exactly representable as a double

local function u64_at(s, i)
	local v = 0
	for k = i + 7, i, -1 do v = v * 256 + s:byte(k) end
	return v
end

describe("ring buffer reader", function()
	local obj, g

	local function emit(n, opts)
		opts = opts or {}
		g.count = n
		g.target = opts.target or 0
		g.raw_size = opts.raw_size or 0
		assert(obj.programs.emit:test_run { ["repeat"] = 0 })
	end

	before_each(function()
		obj = assert(bpf.load(OBJ))
		g = obj.globals
	end)

	after_each(function()
		obj:close()
	end)

	it("delivers struct records decoded through BTF, in order", function()
		local r = assert(obj.maps.events:reader { type = "struct event" })
		emit(100)
		local got = {}
		assert.equal(100, r:consume(function(ev) got[#got + 1] = ev end))
		assert.equal(100, #got)
		for i, ev in ipairs(got) do
			local seq = i - 1
			assert.equal(seq, ev.seq)
			assert.equal(-seq, ev.neg)
			assert.equal((seq * 3) % 65536, ev.half)
			assert.equal(seq % 256, ev.byte)
			assert.equal(seq % 2 == 1, ev.odd)
			assert.equal(support.getpid(), ev.pid)
			assert.is_string(ev.comm)
			assert.is_true(#ev.comm > 0)
			assert.is_true(ev.big - ev.seq == TWO60, "64-bit field beyond 2^53 keeps its value")
			assert.same({ seq, seq + 1 }, ev.pair)
		end
		assert.equal(0, r:consume(function() end), "drained")
		r:close()
	end)

	it("hands raw records over as byte strings", function()
		local r = assert(obj.maps.events:reader { raw = true })
		emit(10, { raw_size = 20 })
		local seqs = {}
		r:consume(function(s)
			assert.equal(20, #s)
			seqs[#seqs + 1] = u64_at(s, 1)
		end)
		assert.same({ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, seqs)
	end)

	it("counts the records a full ring buffer drops", function()
		local r = assert(obj.maps.small_events:reader { type = "struct event" })
		emit(500, { target = 1 })
		assert.is_true(g.dropped > 0, "a one-page ring buffer cannot hold 500 records")
		assert.equal(500, g.produced + g.dropped)
		local n, last = 0, -1
		r:consume(function(ev)
			assert.is_true(ev.seq > last)
			last = ev.seq
			n = n + 1
		end)
		assert.equal(g.produced, n)
		assert.is_nil(r:lost()) -- ring buffers report no drops themselves
	end)

	it("receives events from a tracepoint fired by this process", function()
		local r = assert(obj.maps.events:reader { type = "struct event" })
		local link = assert(obj.programs.on_syscall:attach())
		g.count = 3
		g.target_tgid = support.getpid()
		g.armed = 1
		support.do_syscalls(5)
		local got = {}
		r:poll(1000, function(ev) got[#got + 1] = ev end)
		link:detach()
		assert.equal(3, #got)
		for i, ev in ipairs(got) do
			assert.equal(i - 1, ev.seq)
			assert.equal(support.getpid(), ev.pid)
		end
	end)

	it("poll waits for records and returns 0 on timeout", function()
		local r = assert(obj.maps.events:reader { raw = true })
		assert.equal(0, r:poll(10, function() end))
		emit(3)
		assert.equal(3, r:poll(1000, function() end))
	end)

	it("stops when a callback returns false and resumes after that record", function()
		local r = assert(obj.maps.events:reader { type = "struct event" })
		emit(5)
		local seen = {}
		assert.equal(1, r:consume(function(ev) seen[#seen + 1] = ev.seq; return false end))
		assert.equal(4, r:consume(function(ev) seen[#seen + 1] = ev.seq end))
		assert.same({ 0, 1, 2, 3, 4 }, seen)
	end)

	it("survives an error raised by a callback without repeating records", function()
		local r = assert(obj.maps.events:reader { type = "struct event" })
		emit(4)
		local ok, err = pcall(r.consume, r, function(ev)
			if ev.seq == 1 then error("boom at 1") end
		end)
		assert.is_false(ok)
		assert.matches("boom at 1", err)
		local rest = {}
		r:consume(function(ev) rest[#rest + 1] = ev.seq end)
		assert.same({ 2, 3 }, rest)
	end)

	it("hands records over in batches", function()
		local r = assert(obj.maps.events:reader { type = "struct event", batch = 16 })
		emit(40)
		local sizes, seqs = {}, {}
		assert.equal(40, r:consume(function(batch, n)
			sizes[#sizes + 1] = n
			for i = 1, n do seqs[#seqs + 1] = batch[i].seq end
		end))
		assert.same({ 16, 16, 8 }, sizes)
		assert.equal(40, #seqs)
		for i = 1, 40 do assert.equal(i - 1, seqs[i]) end
	end)

	it("reads several ring buffers through one reader and one fd", function()
		local r = assert(bpf.reader { obj.maps.events, obj.maps.other_events, type = "struct event" })
		emit(2, { target = 0 })
		emit(3, { target = 2 })
		local from = { 0, 0 }
		assert.equal(5, r:consume(function(ev, i) from[i] = from[i] + 1 end))
		assert.same({ 2, 3 }, from)
		assert.is_number(r:fd())
	end)

	it("has an fd that becomes readable when records wait (luv), and consume drains it", function()
		local uv = support.luv()
		if not uv then
			pending("luv is not installed (apt install lua-luv)")
			return
		end
		local r = assert(obj.maps.events:reader { type = "struct event" })
		local got = {}
		local poll = assert(uv.new_poll(r:fd()))
		poll:start("r", function()
			r:consume(function(ev) got[#got + 1] = ev.seq end)
			if #got >= 6 then poll:stop() end
		end)
		uv.update_time() -- timers count from the loop's cached time, stale since it last ran
		local timer = uv.new_timer()
		timer:start(2000, 0, function() poll:stop(); timer:stop() end)
		-- Produce from inside the loop, once it waits.
		local idle = uv.new_timer()
		idle:start(10, 0, function() emit(6); idle:close() end)
		uv.run()
		poll:close(); timer:close()
		uv.run("nowait")
		assert.same({ 0, 1, 2, 3, 4, 5 }, got)
		assert.equal(0, r:poll(0, function() end), "nothing left after consume")
		r:close() -- not left to the collector: its fd number must not be reused under luv's feet
	end)

	it("keeps luv's loop working when a second spec file requires luv (support.luv)", function()
		-- What busted's insulation does between spec files: package.loaded.luv forgotten, luv
		-- required again. luv's loop is referenced by the first module table only; were that
		-- table collected, its __gc would close and free the loop the second one still uses
		-- (uv.new_poll returned nil, or the process died in uv_poll_init).
		if not support.luv() then
			pending("luv is not installed (apt install lua-luv)")
			return
		end
		package.loaded.luv = nil
		local uv = assert(support.luv())
		package.loaded.luv = uv -- the first module table is now referenced by no one but support
		collectgarbage()
		collectgarbage()
		local r = assert(obj.maps.events:reader { type = "struct event" })
		local poll = assert(uv.new_poll(r:fd()))
		local got = {}
		poll:start("r", function()
			r:consume(function(ev) got[#got + 1] = ev.seq end)
			if #got >= 2 then poll:close() end
		end)
		uv.update_time() -- timers count from the loop's cached time, stale since it last ran
		local timer = assert(uv.new_timer())
		timer:start(10, 0, function() emit(2); timer:close() end)
		local guard = assert(uv.new_timer())
		guard:start(5000, 0, function() if not poll:is_closing() then poll:close() end; guard:close() end)
		uv.run()
		if not guard:is_closing() then guard:close() end
		uv.run("nowait")
		assert.same({ 0, 1 }, got)
		r:close()
	end)

	it("works as a cqueues pollable", function()
		local ok, cqueues = pcall(require, "cqueues")
		if not ok then
			pending("cqueues is not installed (apt install lua-cqueues)")
			return
		end
		local r = assert(obj.maps.events:reader { type = "struct event" })
		local got = {}
		local cq = cqueues.new()
		cq:wrap(function()
			while #got < 4 do
				cqueues.poll(r, 2)
				r:consume(function(ev) got[#got + 1] = ev.seq end)
			end
		end)
		cq:wrap(function()
			cqueues.sleep(0.01)
			emit(4)
		end)
		assert(cq:loop(3))
		assert.same({ 0, 1, 2, 3 }, got)
	end)

	describe("bad input", function()
		it("rejects a record shorter than the named type", function()
			local r = assert(obj.maps.events:reader { type = "struct event" })
			emit(1, { raw_size = 4 })
			local ok, err = pcall(r.consume, r, function() end)
			assert.is_false(ok)
			assert.matches("record of 4 bytes is shorter than struct event %(%d+ bytes%)", err)
		end)

		it("rejects an unknown type name", function()
			local ok, err = pcall(obj.maps.events.reader, obj.maps.events, { type = "struct nope" })
			assert.is_false(ok)
			assert.matches("unknown type 'struct nope'", err)
		end)

		it("rejects a map that is not a ring buffer", function()
			local ok, err = pcall(obj.maps.not_a_ring.reader, obj.maps.not_a_ring)
			assert.is_false(ok)
			assert.matches("map 'not_a_ring' is a hash map, not a ring buffer", err)
			ok, err = pcall(obj.maps.events.writer, obj.maps.events)
			assert.is_false(ok)
			assert.matches("not a user ring buffer", err)
		end)

		it("refuses use after close, and after its object closed", function()
			local r = assert(obj.maps.events:reader { raw = true })
			r:close()
			local ok, err = pcall(r.consume, r, function() end)
			assert.is_false(ok)
			assert.matches("used after close", err)
			local o2 = assert(bpf.load(OBJ))
			local r2 = assert(o2.maps.events:reader { type = "struct event" })
			o2:close()
			ok, err = pcall(r2.consume, r2, function() end)
			assert.is_false(ok)
			assert.matches("closed", err)
		end)

		it("refuses a callback that is not a function", function()
			local r = assert(obj.maps.events:reader { raw = true })
			assert.has_error(function() r:consume(42) end)
		end)
	end)
end)

describe("user ring buffer writer", function()
	it("sends records a program drains", function()
		local obj = assert(bpf.load(OBJ))
		local w = assert(obj.maps.to_kernel:writer { type = "__u64" })
		for i = 1, 10 do assert(w:write(i)) end
		assert(w:write("\7\0\0\0\0\0\0\0"))
		assert(obj.programs.drain_user:test_run { ["repeat"] = 0 })
		assert.equal(62, obj.globals.user_sum)
		assert.equal(11, obj.globals.user_records)
		-- fill it up: a full ring is a failure return, not an error
		local ok, err, errno
		repeat ok, err, errno = w:write(1) until not ok
		assert.matches("is full", err)
		assert.equal(28, errno) -- ENOSPC
		w:close()
		obj:close()
	end)
end)
