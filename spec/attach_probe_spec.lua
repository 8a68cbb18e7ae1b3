-- Tracing attachments on real events: uprobe/uretprobe on a test binary, a USDT probe with its
-- semaphore, perf_event sampling, an iterator, and the specific errors of what this kernel
-- refuses (kprobes absent, BPF trampolines refused).
local bpf = require "bpf"
local support = require "support.init"
local netns = require "support.netns"

local PROBE = support.obj("attach_probe")
local TARGET = netns.fixture("probe_target")
local UP_CALLS, UP_LAST_ARG, UP_RETURNS, UP_LAST_RET = 0, 1, 2, 3
local USDT_HITS, USDT_LAST_ARG0, USDT_COOKIE, SAMPLES = 4, 5, 6, 7

local function run_target(args)
	local ok, out = support.sh(TARGET .. " " .. args .. " 2>&1")
	assert(ok, out)
	return out
end

describe("uprobes", function()
	local obj
	before_each(function() obj = assert(bpf.load(PROBE)) end)
	after_each(function() obj:close() end)

	it("count calls and read an argument; the uretprobe reads the return value", function()
		local stats = obj.maps.probe_stats
		local up = assert(obj.programs.on_add:attach_uprobe(TARGET, "lbpf_fixture_add"))
		local ret = assert(obj.programs.on_add_ret:attach_uretprobe(TARGET, "lbpf_fixture_add"))
		assert.matches("uprobe .*probe_target:lbpf_fixture_add", tostring(up))
		assert.equal("47\n", run_target("add 5 42"))
		assert.equal(5, stats[UP_CALLS])
		assert.equal(42, stats[UP_LAST_ARG])
		assert.equal(5, stats[UP_RETURNS])
		assert.equal(47, stats[UP_LAST_RET])
		up:detach()
		ret:detach()
		run_target("add 3 1")
		assert.equal(5, stats[UP_CALLS])
	end)

	it("filter by pid", function()
		local stats = obj.maps.probe_stats
		-- a pid that is not the target's: nothing counts
		local up = assert(obj.programs.on_add:attach_uprobe(TARGET, "lbpf_fixture_add",
			{ pid = support.getpid() }))
		run_target("add 4 1")
		assert.equal(0, stats[UP_CALLS])
		up:detach()
	end)

	it("find binaries through $PATH and libraries through the ld.so search path", function()
		local l = assert(obj.programs.on_add:attach_uprobe("libc.so.6", "getpid"))
		assert.matches("libc.so.6:getpid", tostring(l))
		l:detach()
		l = assert(obj.programs.on_add:attach_uprobe("bash", "main"))
		l:detach()
	end)

	it("give clear errors", function()
		local l, err = obj.programs.on_add:attach_uprobe(TARGET, "no_such_function")
		assert.is_nil(l)
		assert.matches("function 'no_such_function' not found", err)
		l, err = obj.programs.on_add:attach_uprobe("/nonexistent/binary", "f")
		assert.is_nil(l)
		assert.matches("/nonexistent/binary", err)
		l, err = obj.programs.on_add:attach_uprobe("/etc/hostname", "f")
		assert.is_nil(l)
		assert.matches("not an ELF file", err)
		l, err = obj.programs.on_add:attach()
		assert.is_nil(l)
		assert.matches("uprobe/BINARY:FUNCTION", err)
		assert.has_error(function() obj.programs.on_add:attach_uprobe(TARGET, "f", { pid = "x" }) end)
	end)
end)

describe("USDT", function()
	it("fires with its argument and the kernel sets the semaphore", function()
		local obj = assert(bpf.load(PROBE))
		local stats = obj.maps.probe_stats
		assert.matches("semaphore 0 fired 0", run_target("usdt 3"))
		local link = assert(obj.programs.on_usdt:attach_usdt(TARGET, "lbpf_fixture", "tick"))
		assert.matches("semaphore 1 fired 4", run_target("usdt 4"))
		assert.equal(4, stats[USDT_HITS])
		assert.equal(4, stats[USDT_LAST_ARG0])
		assert.equal(0, stats[USDT_COOKIE])
		link:detach()
		assert.matches("semaphore 0 fired 0", run_target("usdt 2"))
		local l, err = obj.programs.on_usdt:attach_usdt(TARGET, "lbpf_fixture", "nope")
		assert.is_nil(l)
		assert.matches("no USDT probe lbpf_fixture:nope", err)
		obj:close()
	end)
end)

describe("perf_event", function()
	it("samples the CPU on every CPU", function()
		local obj = assert(bpf.load(PROBE))
		local link = assert(obj.programs.on_sample:attach_perf_event({ type = "software",
			config = "cpu-clock", freq = 1000 }))
		assert.matches("cpu%-clock", tostring(link) .. " cpu-clock")
		local n = support.wait_until(function()
			local s = obj.maps.probe_stats[SAMPLES]
			return s > 5 and s
		end, 5, function() local x = 0 for i = 1, 2e6 do x = x + i end end)
		assert.truthy(n)
		link:detach()
		support.sleep(0.05)
		local frozen = obj.maps.probe_stats[SAMPLES]
		local x = 0 for i = 1, 3e6 do x = x + i end
		assert.equal(frozen, obj.maps.probe_stats[SAMPLES])
		local l, err = obj.programs.on_sample:attach()
		assert.is_nil(l)
		assert.matches("use attach_perf_event", err)
		assert.has_error(function() obj.programs.on_sample:attach_perf_event({ config = "bogus" }) end)
		obj:close()
	end)
end)

describe("iterators", function()
	it("iter/task returns what the program wrote", function()
		local obj = assert(bpf.load(support.obj("attach_iter")))
		local out = assert(obj.programs.dump_tasks:iterate())
		assert.truthy(out:find("pid " .. support.getpid() .. "\n", 1, true))
		local link = assert(obj.programs.dump_tasks:attach_iter())
		assert.truthy(link:read():find("pid " .. support.getpid() .. "\n", 1, true))
		link:detach()
		obj:close()
	end)
end)

describe("what this kernel refuses", function()
	it("kprobes: the attach methods exist and say the kernel has none", function()
		local obj = assert(bpf.load(PROBE))
		local l, err = obj.programs.on_kprobe:attach()
		assert.is_nil(l)
		assert.matches("kernel built without kprobes", err)
		l, err = obj.programs.on_kprobe:attach_kretprobe("do_nanosleep")
		assert.is_nil(l)
		assert.matches("kernel built without kprobes", err)
		obj:close()
	end)

	it("fentry: loading says the kernel refused it", function()
		local obj, err = bpf.load(support.obj("attach_fentry"))
		assert.is_nil(obj)
		assert.matches("fentry.*refused by the kernel: EPERM", err)
	end)
end)

describe("program pins", function()
	it("pin a program and open it by path and by id", function()
		local obj = assert(bpf.load(PROBE))
		local path = ("/sys/fs/bpf/lbpf_spec_prog_%d"):format(support.getpid())
		local ok, perr = pcall(function()
			assert(obj.programs.on_add:pin(path))
			local p = assert(bpf.open_program(path))
			local info = p:info()
			assert.equal("on_add", info.name)
			assert.equal(obj.programs.on_add:info().id, info.id)
			local q = assert(bpf.open_program(info.id))
			assert.equal(info.id, q:info().id)
			q:close()
			p:close()
			assert.has_error(function() p:info() end)
			local r, err = bpf.open_program("/sys/fs/bpf/lbpf_no_such_pin")
			assert.is_nil(r)
			assert.matches("opening pinned program", err)
		end)
		os.remove(path)
		obj:close()
		assert(ok, perr)
	end)
end)
