-- bpf_log (bpf/include/bpf_log.h) round trip and the trace_pipe reader (issue 6).
local bpf = require "bpf"
local support = require "support.init"

local OBJ = support.obj("events_log")

describe("bpf_log", function()
	it("formats integers, strings and a pointer logged by a program", function()
		local obj = assert(bpf.load(OBJ))
		assert(obj.programs.say:test_run { ["repeat"] = 0 })
		local got = {}
		local n = obj:logs():consume(function(msg, level) got[#got + 1] = { level, msg } end)
		assert.equal(3, n)
		assert.same({ "info",
			"hello world from stack: n=-42 u=4294967254 x=0xff big=1099511627776 c=A p=0x0" },
			got[1])
		assert.same({ "warn", "no arguments" }, got[2])
		assert.same({ "debug", "width [   42] [world ] [000ab] %" }, got[3])
		-- The reader is cached per object; the record counter of drops stays at zero.
		assert.equal(obj:logs(), obj:logs())
		assert.equal(0, obj.globals.lbpf_log_dropped)
		obj:close()
	end)

	it("says clearly when an object has no log map", function()
		local obj = assert(bpf.load(support.obj("events_ringbuf")))
		local ok, err = pcall(obj.logs, obj)
		assert.is_false(ok)
		assert.matches("no lbpf_log map", err)
		obj:close()
	end)
end)

describe("trace_pipe reader", function()
	it("reads bpf_printk output", function()
		local tp, err = bpf.trace_pipe()
		if not tp then
			pending("trace_pipe unavailable: " .. tostring(err))
			return
		end
		local obj = assert(bpf.load(OBJ))
		local found = false
		-- trace_pipe is shared by the whole system: retry rather than expect the first line.
		support.wait_until(function()
			assert(obj.programs.shout:test_run { ["repeat"] = 0 })
			tp:poll(200, function(line)
				if line:find("luabpf trace_pipe marker 1234", 1, true) then found = true end
			end)
			return found
		end, 5)
		assert.is_true(found)
		tp:close()
		obj:close()
	end)
end)
