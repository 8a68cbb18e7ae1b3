-- Tracing attachments on real events: uprobe/uretprobe on a test binary, a USDT probe with its
-- semaphore and one whose arguments the program reads, tp_btf typed arguments, perf_event
-- sampling, an iterator, and the specific errors of what this kernel refuses (kprobes absent,
-- BPF trampolines refused).
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

describe("USDT arguments", function()
	local UA_HITS, UA_CNT, UA_CONST, UA_S16, UA_U64, UA_MEM, UA_SUM_MEM, UA_ERR, UA_COOKIE =
		0, 1, 2, 3, 4, 5, 6, 7, 8

	-- What the fixture says it passed: one {c, s16, u64, mem} per line "args C S U M".
	local function fired(out)
		local calls = {}
		for c, s, u, m in out:gmatch("args (%S+) (%S+) (%S+) (%S+)") do
			calls[#calls + 1] = { tonumber(c), tonumber(s), tonumber(u), tonumber(m) }
		end
		return calls
	end

	it("the note describes a constant, registers and a memory operand", function()
		local sites = assert(bpf.usdt_probes(TARGET, "lbpf_fixture", "args"))
		assert.equal(1, #sites)
		assert.equal(0, sites[1].semaphore_offset)
		local args = assert(bpf.usdt_args(sites[1].args))
		assert.equal(4, #args)
		assert.same({ kind = "const", size = 4, signed = true, value = -17 }, args[1])
		assert.same({ "reg", "rsi", 2, true }, { args[2].kind, args[2].reg, args[2].size, args[2].signed })
		assert.same({ "reg", "rax", 8, false }, { args[3].kind, args[3].reg, args[3].size, args[3].signed })
		assert.same({ "deref", 4, true }, { args[4].kind, args[4].size, args[4].signed })
		assert.equal(80, args[3].reg_offset) -- ax in the x86-64 struct pt_regs
	end)

	it("reach the program: BPF_USDT parameters and bpf_usdt_arg(), two programs at once", function()
		local obj = assert(bpf.load(PROBE))
		local ok, err = pcall(function()
			local vals, auto = obj.maps.usdt_vals, obj.maps.usdt_auto_vals
			local specs = obj.maps.__lbpf_usdt_specs
			local typed = assert(obj.programs.on_usdt_args:attach_usdt(TARGET, "lbpf_fixture", "args"))
			-- usdt/build/fixtures/probe_target:lbpf_fixture:args, relative to the repository
			local looped = assert(obj.programs.on_usdt_args_auto:attach())
			local calls = fired(run_target("args 5"))
			assert.equal(5, #calls)
			local last, sum = calls[5], 0
			for _, c in ipairs(calls) do sum = sum + c[4] end
			for _, m in ipairs({ vals, auto }) do
				assert.equal(5, m[UA_HITS])
				assert.equal(4, m[UA_CNT])
				assert.equal(last[1], m[UA_CONST])
				assert.equal(last[2], m[UA_S16])
				assert.equal(last[3], m[UA_U64])
				assert.equal(last[4], m[UA_MEM])
				assert.equal(sum, m[UA_SUM_MEM])
			end
			assert.equal(-2, auto[UA_ERR]) -- -ENOENT past the last argument
			-- each attachment has its own spec slot, given to the program as the cookie
			local c1, c2 = vals[UA_COOKIE], auto[UA_COOKIE]
			assert.are_not.equal(c1, c2)
			assert.equal(1, specs[c1].in_use)
			assert.equal(4, specs[c2].arg_cnt)
			typed:detach()
			assert.equal(0, specs[c1].in_use)
			assert.equal(1, specs[c2].in_use)
			looped:detach()
			assert.equal(0, specs[c2].in_use)
			run_target("args 2")
			assert.equal(5, vals[UA_HITS])
		end)
		obj:close()
		assert(ok, err)
	end)

	it("attach names the site and operand it cannot translate, and keeps no slot", function()
		local obj = assert(bpf.load(PROBE))
		local l, err = obj.programs.on_usdt_args:attach_usdt(TARGET, "lbpf_fixture", "global")
		local specs = obj.maps.__lbpf_usdt_specs
		local used = 0
		for i = 0, 255 do used = used + specs[i].in_use end
		obj:close()
		assert.is_nil(l)
		assert.matches("USDT lbpf_fixture:global site 0 %(\"%-4@lbpf_fixture_global%(%%rip%)\"%)", err)
		assert.matches("symbolic %(global variable%) displacements are not supported", err)
		assert.equal(0, used)
	end)

	it("parses x86-64 operands of every width and names what it cannot read", function()
		local args = assert(bpf.usdt_args("-1@%dil 2@%r9w -4@%r12d 8@%rbp 1@%al -8@(%rsp) 4@0x10(%r15) %ecx"))
		local got = {}
		for i, a in ipairs(args) do
			got[i] = ("%s %s %d %s %s"):format(a.kind, a.reg, a.size, a.signed, a.offset or "-")
		end
		assert.same({ "reg rdi 1 true -", "reg r9 2 false -", "reg r12 4 true -",
			"reg rbp 8 false -", "reg rax 1 false -", "deref rsp 8 true 0",
			"deref r15 4 false 16", "reg rcx 4 false -" }, got)
		assert.same({}, assert(bpf.usdt_args("")))
		local bad = {
			["4@foo(%rip)"] = "symbolic", ["8@%rip"] = "RIP%-relative", ["1@%ah"] = "high%-byte",
			["4@(%rax,%rbx,8)"] = "indexed", ["3@%eax"] = "size 3", ["4@%xyz"] = "unknown x86%-64 register",
			["4@%eax 8@junk"] = "argument 1 'junk'",
			[("1@$1 "):rep(13)] = "more than 12 arguments",
		}
		for text, pattern in pairs(bad) do
			local r, err = bpf.usdt_args(text)
			assert.is_nil(r, text)
			assert.matches(pattern, err)
		end
	end)
end)

describe("tp_btf", function()
	it("reads typed arguments: sys_enter's regs and id for a child's close(2) calls", function()
		local fd = 900000 + support.getpid() % 10000 -- not open anywhere: close fails, harmlessly
		local obj = assert(bpf.load(support.obj("attach_tpbtf"), { globals = { wanted_fd = fd } }))
		local ok, err = pcall(function()
			local link = assert(obj.programs.on_sys_enter:attach())
			assert.equal("raw_tracepoint", link:info().type)
			local out = run_target(("close 6 %d"):format(fd))
			local pid = tonumber(out:match("pid (%d+)"))
			local stats = obj.maps.tpbtf_stats
			assert.equal(6, stats[0])
			assert.equal(3, stats[1]) -- __NR_close on x86-64
			assert.equal(fd, stats[2])
			assert.equal(pid, stats[3])
			link:detach()
			run_target(("close 2 %d"):format(fd))
			assert.equal(6, stats[0])
		end)
		obj:close()
		assert(ok, err)
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

	-- The tracefs fallback runs against stand-ins for tracefs, mounted in a private mount
	-- namespace (unshare -m) so nobody else sees them: an empty tracing directory (tracefs not
	-- mounted), then one with a kprobe_events file that accepts writes but creates no event.
	local function in_fake_tracefs(setup, code)
		local script = support.tmpname()
		support.write_file(script, code)
		local ok, out = support.sh(("unshare -m sh -c 'mount -t tmpfs none /sys/kernel/tracing && "
			.. "mount -t tmpfs none /sys/kernel/debug && cd /sys/kernel/tracing && %s && cd %s && "
			.. "%s %s; cat /sys/kernel/tracing/kprobe_events 2>/dev/null; true' 2>&1"):format(setup,
			support.root, netns.interpreter(), script))
		os.remove(script)
		assert(ok, out)
		return out
	end

	it("kprobes: the kprobe_events fallback says precisely what failed", function()
		local code = ([[
			local bpf = require "bpf"
			local obj = assert(bpf.load(%q))
			local l, err = obj.programs.on_kprobe:attach_kretprobe("do_nanosleep")
			print("result", l, err)
			obj:close()
		]]):format(PROBE)
		local out = in_fake_tracefs("true", code)
		assert.matches("result\tnil\t.*kernel built without kprobes %(no kprobe PMU; tracefs is not "
			.. "mounted", out)
		out = in_fake_tracefs("touch available_events kprobe_events", code)
		-- the event was written, its id could not be found, and the event was removed again
		assert.matches("result\tnil\t.*kretprobe do_nanosleep%+0: opening the kprobe event "
			.. "/sys/kernel/tracing/events/kprobes/lbpf_%d+_1: No such file", out)
		assert.matches("r:kprobes/lbpf_%d+_1 do_nanosleep%+0\n%-:kprobes/lbpf_%d+_1\n", out)
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
