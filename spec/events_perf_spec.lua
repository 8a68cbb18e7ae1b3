-- Perf buffer reader (issue 6): samples sent with bpf_perf_event_output from a tracepoint fired by
-- this process arrive decoded; samples the kernel could not store are reported as lost.
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("events_perf")

describe("perf buffer reader", function()
	local obj, g, link

	local function fire(n)
		g.count = n
		g.armed = 1
		support.do_syscalls(3)
	end

	before_each(function()
		obj = assert(bpf.load(OBJ))
		g = obj.globals
		g.target_tgid = support.getpid()
		link = assert(obj.programs.on_syscall:attach())
	end)

	after_each(function()
		link:detach()
		obj:close()
	end)

	it("delivers samples decoded, in order", function()
		local r = assert(obj.maps.samples:reader { type = "struct sample" })
		fire(20)
		local got = {}
		support.wait_until(function()
			r:poll(100, function(s) got[#got + 1] = s end)
			return #got >= 20
		end, 3)
		assert.equal(20, #got)
		for i, s in ipairs(got) do
			assert.equal(i - 1, s.seq)
			assert.equal(support.getpid(), s.pid)
		end
		assert.equal(0, r:lost())
		r:close()
	end)

	it("reports lost samples when a ring overflows", function()
		local r = assert(obj.maps.samples:reader { type = "struct sample", pages = 1 })
		fire(500) -- 500 samples of 76 bytes cannot fit in one page
		local n = r:consume(function() end)
		assert.is_true(n > 0 and n < 500)
		assert.is_true(g.failed > 0)
		-- The kernel emits PERF_RECORD_LOST with its next sample once there is room again.
		fire(1)
		r:consume(function() end)
		assert.equal(g.failed, r:lost())
	end)

	it("has an epoll fd and says why a ring size is refused", function()
		local r = assert(obj.maps.samples:reader { raw = true })
		assert.is_number(r:fd())
		assert.equal("r", r:events())
		r:close()
		local bad, err = obj.maps.samples:reader { pages = 3 }
		assert.is_nil(bad)
		assert.matches("pages per CPU must be a power of two", err)
	end)
end)
