-- bpf/include/bpf_aggr.h (bpftrace's aggregations as C macros) from a real program:
-- bpf/aggr_demo.bpf.c counts, sums and buckets the read(2) sizes of one process; the workload
-- reads sizes chosen here, so every map holds values known in advance, and bpf.hist prints
-- the histograms.
local bpf = require "bpf"
local support = require "support.init"
local spawn = require("bpf.trace.cli").spawn

local WORKLOAD = support.root .. "/build/fixtures/trace_workload"
local SIZES = { 0, 1, 2, 3, 7, 100, 250, 999, 1000, 4096, 65536 }

describe("bpf_aggr.h", function()
	it("counts, sums and buckets read sizes exactly, in maps bpf.hist reads", function()
		local obj = assert(bpf.load(support.obj("aggr_demo")))
		local link = assert(obj.programs.on_read:attach())
		local go = os.tmpname()
		os.remove(go)
		local child = assert(spawn(WORKLOAD .. " wait " .. go .. " -- read " .. table.concat(SIZES, " ")))
		child:release()
		assert.truthy(support.wait_until(function() return io.open(go .. ".ready") end, 10))
		obj.globals.target_tgid = child.pid -- from here on: only the reads below
		support.write_file(go, "")
		assert.is_true(child:wait(10))
		os.remove(go)
		os.remove(go .. ".ready")
		link:detach()

		local sum, log2, linear = 0, {}, {}
		for _, s in ipairs(SIZES) do
			sum = sum + s
			local l = bpf.hist.slot(s)
			log2[l] = (log2[l] or 0) + 1
			local i = math.min(math.floor(s / 100), 9)
			linear[i] = (linear[i] or 0) + 1
		end
		assert.are.equal(#SIZES, obj.maps.calls[child.pid])
		assert.are.equal(sum, obj.maps.bytes[child.pid])
		assert.are.same(log2, obj.maps.log2_sizes:items())
		assert.are.same(linear, obj.maps.linear:items())

		local text = bpf.hist.format(obj.maps.log2_sizes, { title = "@sizes" })
		assert.matches("%[0%]%s+1 |", text)
		assert.matches("%[64K, 128K%)%s+1 |", text)
		local lin = bpf.hist.format(obj.maps.linear, { kind = "linear", min = 0, step = 100 })
		assert.matches("%[900, 1000%)%s+4 |@+ *|", lin) -- 999, and 1000, 4096, 65536 (clamped)
		obj:close()
	end)
end)
