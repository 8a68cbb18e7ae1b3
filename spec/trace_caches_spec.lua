-- The trace compiler's per-process caches give what a fresh read would: tracepoint formats (read
-- once, each tracepoint still its own fields), kernel function wildcards matched in kallsyms' text
-- (the same functions, in the same order, as a walk over every line; filtered by
-- available_filter_functions), kaddr() addresses, and kernel object names made in one step.
local compile = require "bpf.trace.compile"
local resources = require "bpf.trace.resources"

local function read(path)
	local f = assert(io.open(path, "rb"))
	local data = f:read("*a")
	f:close()
	return data
end

-- The text symbols of /proc/kallsyms matching a Lua pattern, each once, in file order: the walk
-- the cache replaces, written out here.
local function kallsyms_functions(pattern)
	local out, seen = {}, {}
	for line in read("/proc/kallsyms"):gmatch("[^\n]+") do
		local t, name = line:match("^%x+ ([tT]) ([%w_%.]+)")
		if t and not seen[name] and name:match(pattern) then
			seen[name] = true
			out[#out + 1] = name
		end
	end
	return out
end

local function probes_of(plan)
	local out = {}
	for i, p in ipairs(plan.programs) do out[i] = p.probe end
	return out
end

local function prefixed(prefix, names)
	local out = {}
	for i, n in ipairs(names) do out[i] = prefix .. n end
	return out
end

describe("trace caches", function()
	it("a tracepoint format read once per process still gives each tracepoint its own fields", function()
		local read1 = assert(compile("tracepoint:syscalls:sys_enter_read { @ = sum(args->count); }"))
		assert(compile("tracepoint:syscalls:sys_enter_openat { @[str(args->filename)] = count(); }"))
		-- read's format (cached) has no filename; openat's (cached) has no count
		local _, err = compile("tracepoint:syscalls:sys_enter_read { @[str(args->filename)] = count(); }")
		assert.matches("tracepoint syscalls:sys_enter_read has no field 'filename'", err, 1, true)
		_, err = compile("tracepoint:syscalls:sys_enter_openat { @ = sum(args->count); }")
		assert.matches("tracepoint syscalls:sys_enter_openat has no field 'count'", err, 1, true)
		-- the field's offset is the one in the format file, on a second compile as on the first
		local offset = tonumber(read("/sys/kernel/tracing/events/syscalls/sys_enter_read/format")
			:match("field:size_t count;%s*offset:(%d+);"))
		assert.is_number(offset)
		local read2 = assert(compile("tracepoint:syscalls:sys_enter_read { @ = sum(args->count); }"))
		assert.equal(read1.text, read2.text)
		assert.matches("%*%(u64 %*%)%(r6 %+" .. offset .. "%)", read2.text)
		-- several tracepoints in one program, each typed with its own format
		local plan = assert(compile("tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_write " ..
			"{ @[probe] = sum(args->count); } tracepoint:syscalls:sys_enter_openat { @o = count(); }"))
		assert.same({ "tracepoint:syscalls:sys_enter_read", "tracepoint:syscalls:sys_enter_write",
			"tracepoint:syscalls:sys_enter_openat" }, probes_of(plan))
	end)

	it("kernel function wildcards match what a walk over every kallsyms line finds, in its order", function()
		local plan = assert(compile("kprobe:vfs_* { @[probe] = count(); }"))
		local want = kallsyms_functions("^vfs_.*$")
		assert.is_true(#want > 10)
		assert.same(prefixed("kprobe:", want), probes_of(plan))
		-- a glob with its literal part in the middle, and one with no literal part at all
		plan = assert(compile("kretprobe:*vfs_rea* { @[probe] = count(); }"))
		assert.same(prefixed("kretprobe:", kallsyms_functions("^.*vfs_rea.*$")), probes_of(plan))
		plan = assert(compile("kprobe:?? { @[probe] = count(); }"))
		assert.same(prefixed("kprobe:", kallsyms_functions("^..$")), probes_of(plan))
		-- a character no function name has matches nothing, as in the walk
		local _, err = compile("kprobe:vfs-read* { @ = count(); }")
		assert.matches("no kernel function matches 'vfs-read*'", err, 1, true)
		-- the second compile (cached text) gives the same
		assert.same(prefixed("kprobe:", want), probes_of(assert(compile("kprobe:vfs_* { @[probe] = count(); }"))))
	end)

	it("tracepoint wildcards match what a walk over available_events finds, in its order", function()
		local function events(pattern)
			local out = {}
			for ev in read("/sys/kernel/tracing/available_events"):gmatch("[^\n]+") do
				if ev:match(pattern) then out[#out + 1] = "tracepoint:" .. ev end
			end
			return out
		end
		local plan = assert(compile("tracepoint:syscalls:sys_enter_* { @[probe] = count(); }"))
		local want = events("^syscalls:sys_enter_.*$")
		assert.is_true(#want > 100)
		assert.same(want, probes_of(plan))
		plan = assert(compile("tracepoint:*:sys_exit_rea? { @[probe] = count(); }"))
		assert.same(events("^.*:sys_exit_rea.$"), probes_of(plan))
		plan = assert(compile("tracepoint:sched:* { @[probe] = count(); }"))
		assert.same(events("^sched:.*$"), probes_of(plan))
	end)

	it("kfunc wildcards keep only the matches with BTF; unknown functions are still told apart", function()
		local btf = require("bpf").btf.kernel()
		local want = {}
		for _, name in ipairs(kallsyms_functions("^vfs_.*$")) do
			if pcall(btf.find, btf, name, "func") and btf:find(name, "func") then
				want[#want + 1] = "kfunc:" .. name
			end
		end
		local plan = assert(compile("kfunc:vfs_* { @[probe] = count(); }"))
		assert.same(want, probes_of(plan))
		-- a text symbol without BTF, and a name that is no symbol at all
		local _, err = compile("kfunc:syscall_return_via_sysret { @ = count(); }")
		assert.matches("has no BTF in vmlinux", err, 1, true)
		_, err = compile("kprobe:no_such_fn_xyz { @ = count(); }")
		assert.matches("unknown kernel function 'no_such_fn_xyz'", err, 1, true)
		assert(compile("kprobe:syscall_return_via_sysret { @ = count(); }"))
	end)

	it("wildcards keep only what available_filter_functions lists when tracefs has it", function()
		local root = os.tmpname() -- the tracefs root given in opts: a directory of our own
		os.remove(root)
		root = "/tmp/sem_tracefs_" .. root:match("[^/]*$")
		assert(os.execute("mkdir -p " .. root))
		local all = kallsyms_functions("^vfs_.*$")
		local f = assert(io.open(root .. "/available_filter_functions", "w"))
		-- two of the matches, one as a module's function is listed, plus a non-match
		f:write(all[3], "\n", "do_sys_open\n", all[1], " [some_module]\n")
		f:close()
		local plan = assert(compile("kprobe:vfs_* { @[probe] = count(); }", { tracefs = root }))
		os.execute("rm -rf " .. root)
		assert.same({ "kprobe:" .. all[1], "kprobe:" .. all[3] }, probes_of(plan))
	end)

	it("kaddr() gives the address kallsyms lists", function()
		local addr = read("/proc/kallsyms"):match("\n(%x+) %a vfs_read\n")
		assert.is_string(addr)
		local plan = assert(compile('BEGIN { @a = kaddr("vfs_read"); }'))
		-- the address's low 32 bits appear in the program as an immediate
		local low = tonumber(addr:sub(-8), 16)
		local imm = low >= 0x80000000 and low - 0x100000000 or low
		local hex = string.format("0x%x", low)
		assert.is_true(plan.text:find(tostring(imm), 1, true) ~= nil or plan.text:find(hex, 1, true) ~= nil)
		local _, err = compile('BEGIN { @a = kaddr("vfs_rea"); }')
		assert.matches("unknown kernel symbol 'vfs_rea'", err, 1, true)
	end)

	it("kernel object names: unique, at most 15 characters, the lowest free suffix", function()
		-- the names the one-step naming gives are those of trying every suffix from 2
		local function walk(base, used)
			base = base:gsub("[^%w_]", "_")
			local name, n = base:sub(1, 15), 1
			while used[name] do
				n = n + 1
				name = base:sub(1, 15 - #("_" .. n)) .. "_" .. n
			end
			used[name] = true
			return name
		end
		local bases = {}
		for i = 1, 150 do bases[#bases + 1] = "tp_sys_enter_" .. string.rep("x", i % 7) .. i end
		for _ = 1, 120 do bases[#bases + 1] = "tp_sys_enter_re" end -- into 3-digit suffixes
		for i = 1, 30 do bases[#bases + 1] = "tp_sys_enter_re_" .. i end
		for i = 1, 40 do bases[#bases + 1] = "tp_sys_enter_" .. string.char(96 + i % 26) .. "xyz" end
		bases[#bases + 1] = "kp_a.b-c"
		bases[#bases + 1] = "kp_a_b_c"
		local used_fast, used_walk = {}, {}
		for _, b in ipairs(bases) do
			local name = resources.kernel_name(b, used_fast)
			assert.equal(walk(b, used_walk), name)
			assert.is_true(#name <= 15)
		end
		local plan = assert(compile("tracepoint:syscalls:sys_enter_* { @[probe] = count(); }"))
		local names = {}
		for _, p in ipairs(plan.programs) do
			assert.is_nil(names[p.bpf_name])
			names[p.bpf_name] = true
		end
	end)
end)
