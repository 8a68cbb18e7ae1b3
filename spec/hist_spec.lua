-- Tracing output (lua/bpf/hist.lua, top.lua, json.lua, pp.lua): bpftrace-style histograms of
-- Lua tables and of a real map filled by a BPF program, top-N tables with a fixed number of
-- rounds, JSON for other tools, and readable printing of nested values.
local bpf = require "bpf"
local support = require "support.init"

-- A file to give as opts.out; returns it and a function reading what was written.
local function capture()
	local path = support.tmpname()
	local f = assert(io.open(path, "w+"))
	return f, function()
		f:flush()
		f:close()
		local s = support.read_file(path)
		os.remove(path)
		return s
	end
end

describe("bpf.json", function()
	local json = bpf.json
	it("encodes scalars, arrays and objects with sorted keys", function()
		assert.equal('{"a":[1,2,3],"b":{"c":true},"e":"x\\"y\\n"}',
			json.encode({ b = { c = true }, a = { 1, 2, 3 }, e = 'x"y\n' }))
		assert.equal("[]", json.encode(json.array()))
		assert.equal("{}", json.encode({}))
		assert.equal("1.5", json.encode(1.5))
		assert.equal("null", json.encode(0 / 0))
		assert.equal('"\\u0001"', json.encode("\1"))
		assert.equal('{"1":"a","x":"b"}', json.encode({ [1] = "a", x = "b" }))
	end)
	it("refuses what JSON cannot hold", function()
		local t = {}
		t.self = t
		assert.has_error(function() json.encode(t) end, "bpf.json: cannot encode a table that contains itself")
		assert.has_error(function() json.encode(print) end, "bpf.json: cannot encode a function")
	end)
end)

describe("bpf.hist", function()
	it("prints a log2 histogram with bpftrace's labels and bars", function()
		local text = bpf.hist.format({ [0] = 1, [1] = 2, [3] = 12, [4] = 6, [11] = 3 },
			{ title = "@usecs" })
		local lines = {}
		for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
		assert.equal("@usecs:", lines[1])
		assert.matches("^%[0%]%s+1 |@+%s*|$", lines[2])
		assert.matches("^%[1%]%s+2 |", lines[3])
		assert.matches("^%[2, 4%)%s+0 | +|$", lines[4])
		assert.matches("^%[4, 8%)%s+12 |@+|$", lines[5])
		assert.matches("^%[1K, 2K%)%s+3 |@+ +|$", lines[#lines])
		-- the largest bucket has the full bar, the others in proportion
		assert.equal(52, #lines[5]:match("|(@+)|"))
		assert.equal(26, #lines[6]:match("|(@+)"))
		assert.equal(13, #lines) -- title + slots 0..11
		-- every bar column lines up
		local col = lines[2]:find("|", 1, true)
		for i = 3, #lines do assert.equal(col, lines[i]:find("|", 1, true)) end
	end)

	it("prints linear histograms", function()
		local out, read = capture()
		bpf.hist.linear({ [0] = 4, [2] = 8 }, { min = 10, step = 5, title = "@ms", out = out })
		local text = read()
		assert.matches("^@ms:\n%[10, 15%)%s+4 |@+ +|\n%[15, 20%)%s+0 | +|\n%[20, 25%)%s+8 |@+|\n$", text)
	end)

	it("emits bpftrace-shaped JSON", function()
		local j = bpf.hist.format({ [1] = 5, [3] = 7 }, { title = "@x", json = true })
		assert.equal('{"data":{"@x":[{"count":5,"max":1,"min":1},{"count":0,"max":3,"min":2},' ..
			'{"count":7,"max":7,"min":4}]},"type":"hist"}\n', j)
		assert.equal('{"data":{"@":[]},"type":"hist"}\n', bpf.hist.format({}, { json = true }))
	end)

	it("computes slots like the BPF side", function()
		assert.equal(0, bpf.hist.slot(0))
		assert.equal(1, bpf.hist.slot(1))
		assert.equal(2, bpf.hist.slot(3))
		assert.equal(3, bpf.hist.slot(4))
		assert.equal(11, bpf.hist.slot(1024))
	end)

	it("gives clear errors for bad input", function()
		assert.has_error(function() bpf.hist.format("x") end,
			"bpf.hist: a map handle or a table expected, got string")
		assert.has_error(function() bpf.hist.format({ a = 1 }) end,
			"bpf.hist: bucket keys must be numbers, got string")
		assert.has_error(function() bpf.hist.format({}, { kind = "log10" }) end)
	end)

	it("reads a map a BPF program filled (run queue latency)", function()
		local obj = assert(bpf.load(support.obj("runqlat")))
		local links = {}
		for _, n in ipairs { "on_wakeup", "on_wakeup_new", "on_switch" } do
			links[#links + 1] = assert(obj.programs[n]:attach())
		end
		local total = support.wait_until(function()
			local n = 0
			for _, v in obj.maps.hist_us:pairs() do n = n + tonumber(v) end
			return n > 0 and n
		end, 5, function() support.sleep(0.01) end)
		for _, l in ipairs(links) do l:detach() end
		assert.is_truthy(total)
		local text = bpf.hist.format(obj.maps.hist_us)
		assert.matches("^@hist_us:\n", text)
		local sum = 0
		for count in text:gmatch("\n%[[^]%)]*[]%)]%s+(%d+) |") do sum = sum + tonumber(count) end
		local now = 0
		for _, v in obj.maps.hist_us:pairs() do now = now + tonumber(v) end
		assert.equal(now, sum)
		local j = bpf.hist.format(obj.maps.hist_us, { json = true })
		assert.matches('^{"data":{"@hist_us":%[{"count":', j)
		obj:close()
	end)
end)

describe("bpf.top", function()
	it("sorts, limits and formats rows", function()
		local rows = bpf.top.rows({ a = 3, b = 10, c = 1, d = 7 }, { n = 3 })
		assert.same({ "b", "d", "a" }, { rows[1].key, rows[2].key, rows[3].key })
		assert.equal(10, rows[1].value)
		local text = bpf.top.format(rows, { columns = { "NAME", "CALLS" }, timestamp = false })
		assert.matches("^NAME%s+CALLS\nb%s+10\nd%s+7\na%s+3\n", text)
	end)

	it("runs a fixed number of rounds over a live map, and clears it between rounds", function()
		-- Only this process is counted: on a busy machine others would crowd it out of the top 5.
		local obj = assert(bpf.load(support.obj("syscount"),
			{ globals = { target_tgid = support.getpid() } }))
		local link = assert(obj.programs.count_syscalls:attach())
		local out, read = capture()
		support.do_syscalls(50)
		bpf.top(obj.maps.pid_counts, { n = 5, interval = 0.2, iterations = 2, out = out,
			columns = { "PID", "SYSCALLS" }, clear = true, title = "syscalls" })
		link:detach()
		obj:close()
		local text = read()
		local rounds = 0
		for _ in text:gmatch("PID%s+SYSCALLS\n") do rounds = rounds + 1 end
		assert.equal(2, rounds)
		assert.matches("%d%d:%d%d:%d%d  syscalls\n", text)
		assert.matches("\n" .. support.getpid() .. "%s+%d+\n", text)
	end)

	it("emits one JSON line per round", function()
		local out, read = capture()
		local calls = 0
		bpf.top(function() calls = calls + 1; return { x = calls, y = 5 } end,
			{ iterations = 3, interval = 0, json = true, out = out })
		local lines = {}
		for l in read():gmatch("[^\n]+") do lines[#lines + 1] = l end
		assert.equal(3, #lines)
		assert.matches('^{"data":%[{"key":"y","value":5},{"key":"x","value":1}%],"time":%d+,"type":"top"}$', lines[1])
		-- third round: x = 3 < y = 5 still; the function is called once a round
		assert.matches('^{"data":%[{"key":"y","value":5},{"key":"x","value":3}%]', lines[3])
		assert.equal(3, calls)
	end)

	it("refuses a bad source", function()
		assert.has_error(function() bpf.top.rows(42) end,
			"bpf.top: a map handle, a table or a function expected, got number")
	end)
end)

describe("bpf.pp", function()
	it("formats nested tables with sorted keys", function()
		assert.equal('{ 1, 2, a = "x", b = { c = true } }',
			bpf.pp.format({ 1, 2, b = { c = true }, a = "x" }))
		assert.equal('{ [3] = 1, [10] = 2, ["not id"] = 3 }',
			bpf.pp.format({ [10] = 2, [3] = 1, ["not id"] = 3 }))
		local long = {}
		for i = 1, 30 do long["key" .. i] = i end
		local text = bpf.pp.format(long)
		assert.matches("^{\n  key1 = 1,\n  key10 = 10,\n", text)
		local t = {}
		t.t = t
		assert.equal("{ t = <cycle> }", bpf.pp.format(t))
	end)

	it("prints a map handle as its contents and other handles as their summary", function()
		local obj = assert(bpf.load(support.obj("syscount")))
		obj.maps.syscall_counts[7] = 70
		obj.maps.syscall_counts[3] = 30
		assert.equal("{ [3] = 30, [7] = 70 }", bpf.pp.format(obj.maps.syscall_counts))
		assert.equal(tostring(obj), bpf.pp.format(obj))
		obj:close()
	end)
end)
