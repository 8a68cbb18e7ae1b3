-- The bpf.trace handle against the real kernel: programs compiled in-process, loaded, attached
-- to tracepoints fired by a controlled workload (spec/fixtures/trace_workload.c), the output
-- delivered in order, maps read as plain values and printed as bpftrace prints them, exit(),
-- durations, interval probes, clear/zero/print, errors and the handle's life cycle.
local bpf = require "bpf"
local support = require "support.init"
local tw = require "support.trace"
local format = require "bpf.trace.format"

-- A trace whose output is collected in an array of texts.
local function traced(src, opts)
	local out = {}
	opts = opts or {}
	opts.on_printf = function(text) out[#out + 1] = text end
	local t, err = bpf.trace(src, opts)
	assert(t, err)
	return t, out
end

describe("bpf.trace", function()
	it("counts a workload's system calls by comm, exactly", function()
		local w = tw.start("getppid 37")
		local t = traced([[tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[comm] = count(); @n = count(); }]],
			{ cpid = w.pid })
		w:go()
		t:poll(0)
		assert.are.equal(37, t:read("@n"))
		assert.are.same({ trace_workload = 37 }, t:read("@"))
		assert.are.equal("@[trace_workload]: 37\n", t:format("@"))
		assert.are.equal(t.maps["@n"], t.maps.n)
		t:close()
	end)

	it("delivers printf lines in order, with the tracepoint's fields", function()
		local w = tw.start("read 1 22 333 4444")
		local t, out = traced([[tracepoint:syscalls:sys_enter_read /pid == cpid/ {
			printf("read %d bytes, fd %d, %s\n", args->count, args->fd, comm); }]], { cpid = w.pid })
		w:go()
		t:poll(0)
		assert.are.same({ "read 1 bytes, fd 42, trace_workload\n", "read 22 bytes, fd 42, trace_workload\n",
			"read 333 bytes, fd 42, trace_workload\n", "read 4444 bytes, fd 42, trace_workload\n" }, out)
		t:close()
	end)

	it("builds histograms, sums, stats, min and max of a field that bpftrace would print", function()
		local sizes = { 0, 1, 2, 3, 5, 8, 100, 1000, 1000, 65536 }
		local w = tw.start("read " .. table.concat(sizes, " "))
		local t = traced([[tracepoint:syscalls:sys_enter_read /pid == cpid/ {
			@h = hist(args->count); @l = lhist(args->count, 0, 1000, 100); @s = sum(args->count);
			@st = stats(args->count); @mn = min(args->count); @mx = max(args->count);
			@a = avg(args->count); @k[args->count] = count(); }]], { cpid = w.pid })
		w:go()
		local log2, linear, sum = {}, {}, 0
		for _, v in ipairs(sizes) do
			local s = format.hist_slot(v)
			log2[s] = (log2[s] or 0) + 1
			local l = format.lhist_slot(v, 0, 1000, 100)
			linear[l] = (linear[l] or 0) + 1
			sum = sum + v
		end
		assert.are.equal(sum, t:read("@s"))
		assert.are.same({ count = #sizes, total = sum, average = math.floor(sum / #sizes) }, t:read("@st"))
		assert.are.equal(math.floor(sum / #sizes), t:read("@a"))
		assert.are.equal(0, t:read("@mn"))
		assert.are.equal(65536, t:read("@mx"))
		assert.are.equal(2, t:read("@k")[1000])
		local buckets = t:read("@h")
		assert.are.same({ min = 0, max = 0, count = 1 }, buckets[1])
		assert.are.same({ min = 65536, max = 131071, count = 1 }, buckets[#buckets])
		local scalar = function(kind, v, extra)
			local m = { name = "@" .. kind, kind = kind, keys = {}, entries = { { key = {}, value = v } } }
			for k, x in pairs(extra or {}) do m[k] = x end
			return m
		end
		assert.are.equal(format.map(scalar("hist", log2)):gsub("^@hist", "@h"), t:format("@h"))
		assert.are.equal(format.map(scalar("lhist", linear, { lhist = { min = 0, max = 1000, step = 100 } }))
			:gsub("^@lhist", "@l"), t:format("@l"))
		t:close()
	end)

	it("buckets lhist bounds beyond 32 bits exactly (bpftrace 0.17 truncates them)", function()
		local values = { 3, 5000000000, 7999999999, 9000000000 }
		local src = {}
		for _, v in ipairs(values) do src[#src + 1] = "@l = lhist(" .. v .. ", 0, 8000000000, 1000000000);" end
		local t = traced("BEGIN { " .. table.concat(src, " ") .. " exit(); }", { print = false })
		t:run()
		local got = {}
		for _, b in ipairs(t:read("@l")) do
			if b.count > 0 then got[#got + 1] = { min = b.min, count = b.count } end
		end
		assert.are.same({ { min = 0, count = 1 }, { min = 5000000000, count = 1 },
			{ min = 7000000000, count = 1 }, { min = 8000000000, count = 1 } }, got)
		t:close()
	end)

	it("runs BEGIN, stops at exit(), runs END, then prints the maps after two blank lines", function()
		local t, out = traced([[BEGIN { @x = 5; @c[7] = count(); printf("begin %d\n", @x); exit(); }
			END { printf("end\n"); }]])
		assert.are.equal("exit", t:run(10))
		assert.are.equal("begin 5\nend\n\n\n@c[7]: 1\n@x: 5\n", table.concat(out))
		t:close()
	end)

	it("stops after a duration, and prints nothing more when opts.print is false", function()
		local t, out = traced("tracepoint:syscalls:sys_enter_getppid { @ = count(); }", { print = false })
		assert.are.equal("timeout", t:run(0.3))
		assert.are.same({}, out)
		t:close()
	end)

	it("runs interval probes, print(), clear() and zero() as bpftrace does", function()
		-- the filter keeps later firings (before the detach) from changing the maps
		local t, out = traced([[interval:ms:50 /@i < 3/ { @i++; @a[@i] = @i * 10; @c = count();
			if (@i == 3) { print(@a); clear(@a); print(@a); zero(@c); print(@c); exit(); } }]])
		assert.are.equal("exit", t:run(10))
		assert.are.equal("@a[1]: 10\n@a[2]: 20\n@a[3]: 30\n" .. "\n" .. "@c: 0\n" ..
			"\n\n" .. "\n" .. "@c: 0\n@i: 3\n", table.concat(out))
		t:close()
	end)

	it("prints time() through strftime", function()
		local t, out = traced([[BEGIN { time("%Y "); time(); exit(); }]], { print = false })
		t:run(5)
		assert.matches("^%d%d%d%d %d%d:%d%d:%d%d\n$", table.concat(out))
		t:close()
	end)

	it("returns bpftrace-style errors, and raises on misuse", function()
		local t, err = bpf.trace("tracepoint:syscalls:sys_enter_getppid { @ = cuont(); }")
		assert.is_nil(t)
		assert.matches("^stdin:1:%d+", err)
		assert.matches("ERROR", err)
		assert.has_error(function() bpf.trace(5) end)
		assert.has_error(function() bpf.trace("BEGIN { exit(); }", "x") end)
		assert.has_error(function() bpf.trace("BEGIN { exit(); }", { on_printf = 5 }) end)
	end)

	it("reads maps with two keys as nested tables", function()
		local w = tw.start("read 5 5 7 -- getppid 2")
		local t = traced([[tracepoint:syscalls:sys_enter_read /pid == cpid/ { @[comm, args->count] = count(); }]],
			{ cpid = w.pid })
		w:go()
		assert.are.same({ trace_workload = { [5] = 2, [7] = 1 } }, t:read("@"))
		assert.are.equal("@[trace_workload, 7]: 1\n@[trace_workload, 5]: 2\n", t:format())
		t:close()
	end)

	it("gives its fd to event loops, prints a summary, and frees everything on close", function()
		local before = support.fd_count()
		local t = traced("tracepoint:syscalls:sys_enter_getppid { @calls = count(); }")
		assert.is_number(t:pollfd())
		assert.are.equal("r", t:events())
		assert.matches("^bpf%.trace%(1 probe, maps: @calls count; running%)$", tostring(t))
		t:close()
		assert.are.equal("bpf.trace(closed)", tostring(t))
		assert.has_error(function() t:read("@calls") end, "bpf.trace: the trace is closed")
		t:close() -- twice is fine
		t = nil -- luacheck: ignore (program handles of bpf.asm go with the garbage collector)
		assert.are.equal(before, support.fd_count())
	end)

	it("runs inside a luv loop through t:pollfd(), printf lines in order", function()
		local uv = support.luv()
		if not uv then
			pending("luv is not installed (lua-luv)")
			return
		end
		local w = tw.start("read 3 2 1")
		local t, out = traced([[tracepoint:syscalls:sys_enter_read /pid == cpid && args->fd == 42/ {
			printf("%d\n", args->count); if (args->count == 1) { exit(); } }]], { cpid = w.pid, print = false })
		local poll = assert(uv.new_poll(t:pollfd()))
		-- An error raised inside a luv callback ends the process (luv's default handler): it is
		-- caught and checked after the loop; a timer bounds the wait.
		local failure
		local timer = assert(uv.new_timer())
		local function stop()
			if not poll:is_closing() then poll:close() end
			if not timer:is_closing() then timer:close() end
		end
		poll:start("r", function()
			local ok, n, running = pcall(t.poll, t)
			if not ok or not n then failure = tostring(running or n) end
			if failure or not running then stop() end
		end)
		-- luv's clock is the loop's cached time, stale since the loop last ran (another spec
		-- file, minutes ago): without update_time the 10 s would already be over.
		uv.update_time()
		timer:start(10000, 0, function() failure = "no exit() within 10 s"; stop() end)
		w:go()
		uv.run()
		assert.is_nil(failure)
		assert.are.same({ "3\n", "2\n", "1\n" }, out)
		t:close()
	end)

	it("runs under cqueues with the handle itself polled", function()
		local ok, cqueues = pcall(require, "cqueues")
		if not ok or jit then
			pending("cqueues (lua-cqueues) is there for Lua 5.4 only")
			return
		end
		local w = tw.start("getppid 4")
		local t, out = traced([[tracepoint:syscalls:sys_enter_getppid /pid == cpid/ {
			@n++; if (@n == 4) { printf("four\n"); exit(); } }]], { cpid = w.pid, print = false })
		local cq = cqueues.new()
		cq:wrap(function()
			while true do
				cqueues.poll(t)
				local _, running = t:poll()
				if not running then break end
			end
		end)
		w:go()
		assert(cq:loop(10))
		assert.are.same({ "four\n" }, out)
		t:close()
	end)

	it("writes to opts.output, and t:print() writes one map or all of them there", function()
		local path = os.tmpname()
		local f = assert(io.open(path, "w"))
		local t = assert(bpf.trace([[BEGIN { printf("hello\n"); @a = 1; @b[2] = 3; exit(); }]], { output = f }))
		assert.are.equal("exit", t:run(10))
		t:print("b")
		t:print()
		t:close()
		f:close()
		assert.are.equal("hello\n\n\n@a: 1\n@b[2]: 3\n" .. "@b[2]: 3\n" .. "@a: 1\n@b[2]: 3\n", support.read_file(path))
		os.remove(path)
	end)

	it("is closed by the garbage collector when dropped (LuaJIT too)", function()
		local t = traced("tracepoint:syscalls:sys_enter_getppid { @calls = count(); }")
		local calls = t.maps.calls
		t = nil -- luacheck: ignore
		collectgarbage()
		collectgarbage()
		local ok, err = pcall(calls.items, calls)
		assert.is_false(ok)
		assert.matches("used after its object was closed", err)
	end)

	it("speaks bpftrace's -f json with opts.format = \"json\"", function()
		local t, out = traced([[BEGIN { printf("a\"b\n"); @c[1] = count(); @h = hist(3); print(@c); exit(); }]],
			{ format = "json" })
		assert.are.equal("exit", t:run(10))
		assert.are.equal('{"type": "printf", "data": "a\\"b\\n"}\n' ..
			'{"type": "map", "data": {"@c": {"1": 1}}}\n' .. "\n\n" ..
			'{"type": "map", "data": {"@c": {"1": 1}}}\n' ..
			'{"type": "hist", "data": {"@h": [{"min": 2, "max": 3, "count": 1}]}}\n', table.concat(out))
		assert.are.equal('{"type": "map", "data": {"@c": {"1": 1}}}\n', t:format("@c"))
		t:close()
		assert.has_error(function() bpf.trace("BEGIN { exit(); }", { format = "xml" }) end,
			'bpf.trace: opts.format must be "text" or "json", got xml')
	end)

	it("refuses unknown map names with the names it has", function()
		local t = traced("BEGIN { @a = 1; @b = count(); }", { print = false })
		assert.has_error(function() t:read("@zz") end, "bpf.trace: no map @zz in this program (maps: @a, @b)")
		t:close()
	end)
end)
