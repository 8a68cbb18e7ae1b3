-- CO-RE: programs compiled against their own (partial, reordered) type definitions read the
-- right data on the running kernel, and relocate correctly against synthetic "older kernel"
-- BTFs built by the test (moved/renamed/missing members, anonymous unions, a moved bitfield,
-- other enum values). Ground truth comes from /proc, chrt and host-compiled offsetof programs.
local bpf = require "bpf"
local support = require "support.init"
local targets = require "support.core_targets"

local TASK = support.obj("core_task")
local SYNTH = support.obj("core_synth")
local UNGUARDED = support.obj("core_unguarded")

local function stat_of_self()
	local stat = support.read_file("/proc/self/stat")
	-- pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
	local pid, rest = stat:match("^(%d+) %(.*%) (.*)$")
	local ppid = rest:match("^%S+ (%d+)")
	return tonumber(pid), tonumber(ppid)
end

describe("CO-RE against the running kernel", function()
	local obj, link

	after_each(function()
		if link then link:detach() end
		if obj then obj:close() end
		obj, link = nil, nil
	end)

	local function load_task()
		local pid = support.getpid()
		obj = assert(bpf.open(TASK, { globals = { target_tgid = pid } }))
		assert(obj:load())
		link = assert(obj.programs.core_task:attach())
		return pid
	end

	local function sample()
		local before = obj.globals.hits
		assert(support.wait_until(function()
			support.do_syscalls(5)
			return obj.globals.hits > before
		end), "the tracepoint never fired for this process")
	end

	it("reads pid, tgid, comm and real_parent->tgid of the current task", function()
		local pid = load_task()
		sample()
		local spid, ppid = stat_of_self()
		assert.equal(pid, spid)
		assert.equal(pid, obj.globals.seen_pid)
		assert.equal(pid, obj.globals.seen_tgid)
		assert.equal(ppid, obj.globals.seen_ppid)
		assert.equal(support.comm(pid), support.cstring(obj.globals.seen_comm))
		assert.equal(1, obj.globals.pid_exists)
		assert.equal(16, obj.globals.comm_size)
	end)

	it("loads guarded code for a member no kernel has, and skips it", function()
		load_task()
		sample()
		assert.equal(0, obj.globals.missing_exists)
		assert.equal(-1, obj.globals.missing_value)
	end)

	it("reads the sched_reset_on_fork bitfield as chrt sets it", function()
		local pid = load_task()
		local function flag_per_chrt()
			local ok, out = support.sh("chrt -p " .. pid)
			assert(ok, out)
			return out:find("RESET_ON_FORK") and 1 or 0
		end
		local function flag_per_bpf()
			sample()
			return obj.globals.seen_reset_on_fork
		end
		assert.equal(flag_per_chrt(), flag_per_bpf())
		assert(support.sh("chrt --other --reset-on-fork -p 0 " .. pid))
		finally(function() support.sh("chrt --other -p 0 " .. pid) end)
		assert.equal(1, flag_per_chrt())
		assert.equal(1, flag_per_bpf())
		assert(support.sh("chrt --other -p 0 " .. pid))
		assert.equal(0, flag_per_chrt())
		assert.equal(0, flag_per_bpf())
	end)
end)

describe("CO-RE against synthetic target BTFs", function()
	local dir
	local built = {}

	setup(function()
		dir = os.tmpname()
		os.remove(dir)
		assert(support.sh("mkdir -p " .. dir))
	end)

	teardown(function()
		if dir then support.sh("rm -rf " .. dir) end
	end)

	local function target(name)
		if not built[name] then
			local path, truth = targets.build(name, dir)
			built[name] = { path = path, truth = truth }
		end
		return built[name].path, built[name].truth
	end

	-- Loads core_synth against the variant, runs probe() on the variant's item image.
	local function probe(name)
		local path, truth = target(name)
		local obj = assert(bpf.open(SYNTH, { btf = path }))
		local ok, err = obj:load()
		if not ok then
			obj:close()
			error("loading against " .. name .. ": " .. tostring(err))
		end
		-- syscall programs: the kernel wants no repeat and no ctx_out.
		local run = assert(obj.programs.probe:test_run { ctx = truth.image, ["repeat"] = 0,
			ctx_size_out = 0 })
		assert.equal(0, run.retval)
		local g = {}
		for _, k in ipairs { "off_id", "off_value", "off_name", "off_arr2", "off_inner_y",
			"off_nested_x", "size_value", "size_name", "type_size", "type_exists",
			"type_id_target", "extra_exists", "id_exists", "old_id_exists", "old_exists",
			"green", "blue", "purple_exists", "blue_exists", "flag_a_signed", "flag_b_signed",
			"id", "value", "arr2", "inner_y", "nested_x", "extra", "flag_a", "flag_b",
			"flag_a_direct", "flag_b_direct" } do
			g[k] = obj.globals[k]
		end
		g.name = support.cstring(obj.globals.name)
		obj:close()
		return g, truth
	end

	local function assert_common(g, t)
		assert.equal(t.off_value, g.off_value)
		assert.equal(t.size_value, g.size_value)
		assert.equal(t.off_name, g.off_name)
		assert.equal(t.size_name, g.size_name)
		assert.equal(t.off_arr2, g.off_arr2)
		assert.equal(t.off_inner_y, g.off_inner_y)
		assert.equal(t.off_nested_x, g.off_nested_x)
		assert.equal(t.type_size, g.type_size)
		assert.equal(1, g.type_exists)
		assert.is_true(g.type_id_target > 0)
		assert.equal(t.green, g.green)
		assert.equal(1, g.blue_exists)
		assert.equal(t.blue, g.blue)
		assert.equal(0, g.flag_a_signed)
		assert.equal(1, g.flag_b_signed)
		-- Values read through the relocated offsets from an item laid out as the target says.
		assert.equal(-5, g.value)
		assert.equal(77, g.arr2)
		assert.equal(31, g.inner_y)
		assert.equal(4242, g.nested_x)
		assert.equal("abc", g.name)
		assert.equal(5, g.flag_a)
		assert.equal(-3, g.flag_b)
		assert.equal(5, g.flag_a_direct)
		assert.equal(-3, g.flag_b_direct)
	end

	it("relocates to the identical layout", function()
		local g, t = probe("same")
		assert_common(g, t)
		assert.equal(t.off_id, g.off_id)
		assert.equal(1234, g.id)
		assert.equal(1, g.extra_exists)
		assert.equal(99, g.extra)
		assert.equal(1, g.purple_exists)
	end)

	it("follows moved members, anonymous unions, a moved 64-bit bitfield and new enum values",
		function()
			local g, t = probe("moved")
			assert_common(g, t)
			assert.equal(t.off_id, g.off_id)
			assert.equal(1234, g.id)
			assert.equal(99, g.extra)
			assert.equal(8, t.green) -- the variant really changed the values
		end)

	it("answers 'does not exist' for a missing member and enumerator, and loads", function()
		local g, t = probe("missing")
		assert_common(g, t)
		assert.equal(0, g.extra_exists)
		assert.equal(-1, g.extra) -- the guarded read never ran
		assert.equal(0, g.purple_exists)
		assert.equal(1234, g.id)
	end)

	it("matches a ___flavour to the target type of its essential name (renamed member)",
		function()
			local g, t = probe("old")
			assert_common(g, t)
			assert.equal(0, g.id_exists)
			assert.equal(1, g.old_exists)
			assert.equal(1, g.old_id_exists)
			assert.equal(4321, g.id)
			assert.equal(-2, t.green)
		end)

	it("refuses an unguarded read of a missing member, naming program, insn and access",
		function()
			local path = target("missing")
			local obj = assert(bpf.open(UNGUARDED, { btf = path }))
			local ok, err = obj:load()
			obj:close()
			assert.is_nil(ok)
			assert.matches("read_extra", err, 1, true)
			assert.matches("CO-RE", err, 1, true)
			assert.matches("insn %d+", err)
			assert.matches('"0:1"', err, 1, true)
			assert.matches("extra", err, 1, true)
		end)

	it("loads the same unguarded read where the member exists", function()
		local path, truth = target("same")
		local obj = assert(bpf.open(UNGUARDED, { btf = path }))
		assert(obj:load())
		assert(obj.programs.read_extra:test_run { ctx = truth.image, ["repeat"] = 0,
			ctx_size_out = 0 })
		assert.equal(99, obj.globals.extra)
		obj:close()
	end)

	it("refuses candidates that disagree (ambiguous flavours)", function()
		local src = dir .. "/ambiguous.c"
		support.write_file(src, [[
struct lbpf_core_item___a { unsigned int extra; int id; };
struct lbpf_core_item___b { int id; unsigned int extra; };
struct lbpf_core_item___a a_instance;
struct lbpf_core_item___b b_instance;
]])
		local out = dir .. "/ambiguous.bpf.o"
		assert(support.sh("clang -target bpf -g -c " .. src .. " -o " .. out))
		local obj = assert(bpf.open(UNGUARDED, { btf = out }))
		local ok, err = obj:load()
		obj:close()
		assert.is_nil(ok)
		assert.matches("ambiguous", err, 1, true)
		assert.matches("read_extra", err, 1, true)
		assert.matches('"0:1"', err, 1, true)
	end)

	it("gives a clear error for a target BTF that does not exist", function()
		local obj = assert(bpf.open(SYNTH, { btf = dir .. "/no-such-file.o" }))
		local ok, err = obj:load()
		obj:close()
		assert.is_nil(ok)
		assert.matches("no%-such%-file", err)
	end)
end)

describe(".kconfig and __ksym externs", function()
	local function config_value(name)
		local ok, out = support.sh("zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)")
		assert(ok, "no kernel config to compare with")
		return out:match("\n" .. name .. "=([^\n]*)")
	end

	local function kernel_version()
		local _, rel = support.sh("uname -r")
		local a, b, c = rel:match("^(%d+)%.(%d+)%.?(%d*)")
		c = math.min(tonumber(c) or 0, 255)
		return tonumber(a) * 65536 + tonumber(b) * 256 + c
	end

	it("fills kernel version, bool, tristate, int, string and absent __weak options", function()
		local obj = assert(bpf.load(support.obj("core_externs")))
		assert(obj.programs.read_externs:test_run { ["repeat"] = 0 })
		local g = obj.globals
		assert.equal(kernel_version(), g.kernel_version)
		assert.equal(config_value("CONFIG_BPF") == "y" and 1 or 0, g.config_bpf)
		local tri = config_value("CONFIG_BPF_SYSCALL")
		assert.equal(tri == "y" and 1 or tri == "m" and 2 or 0, g.config_bpf_syscall)
		assert.equal(tonumber(config_value("CONFIG_HZ")), g.hz)
		assert.equal(config_value("CONFIG_LOCALVERSION"):match('^"(.*)"$'),
			support.cstring(g.localversion))
		assert.equal(0, g.absent)
		local _, line = support.sh("grep ' bpf_prog_put$' /proc/kallsyms")
		local addr = assert(line:match("^(%x+)"))
		assert.equal(addr, string.format("%x", g.prog_put_addr))
		obj:close()
	end)
end)
