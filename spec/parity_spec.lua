-- Parity with libbpf on objects written for libbpf (issue 11, item 2). Each class has its own
-- objects (bpf/parity_*.bpf.c); libbpf itself is the yardstick where one is needed: the
-- parity_dump tool (tools/parity_dump.c, linked with libbpf for specs only) loads an object with
-- libbpf or with luabpf and prints the kernel's translated instructions and map names.
local bpf = require "bpf"
local support = require "support.init"

local DUMP = support.root .. "/build/tools/parity_dump"
local PIN_ROOT = "/sys/fs/bpf/parity_spec"

-- The tool's output as {ok, reason, maps = {names in order}, progs = {name = lines}}.
local function dump(loader, path)
	support.sh("mkdir -p " .. PIN_ROOT)
	local _, out = support.sh(DUMP .. " " .. loader .. " " .. support.quote(path) .. " " ..
		PIN_ROOT .. " 2>/dev/null")
	support.sh("rm -f " .. PIN_ROOT .. "/*")
	local d = { maps = {}, progs = {}, order = {} }
	local prog
	for line in out:gmatch("[^\n]+") do
		if line == "ok" then
			d.ok = true
		elseif line:match("^failed ") then
			d.ok, d.reason = false, line:sub(8)
		elseif line:match("^map ") then
			d.maps[#d.maps + 1] = line:sub(5)
		elseif line:match("^prog ") then
			prog = line:match("^prog (%S+)")
			d.progs[prog] = {}
			d.order[#d.order + 1] = prog
		elseif prog then
			local lines = d.progs[prog]
			lines[#lines + 1] = line
		end
	end
	assert(d.ok ~= nil, "parity_dump printed nothing for " .. path .. ": " .. out)
	return d
end

-- The first instruction where two programs differ, as a message (nil when identical).
local function first_difference(a, b)
	for i = 1, math.max(#a, #b) do
		if a[i] ~= b[i] then
			return string.format("instruction line %d: libbpf '%s', luabpf '%s' (of %d and %d)",
				i, tostring(a[i]), tostring(b[i]), #a, #b)
		end
	end
	return nil
end

local function sorted(list)
	local copy = {}
	for i, v in ipairs(list) do copy[i] = v end
	table.sort(copy)
	return copy
end

-- The object's bytes with every occurrence of a string replaced by one of the same length.
local function patched(name, from, to)
	local data, n = support.read_file(support.obj(name)):gsub(from, to)
	assert(n >= 1 and #from == #to)
	return data
end

local function kernel_at_least(major, minor)
	local _, rel = support.sh("uname -r")
	local a, b = rel:match("^(%d+)%.(%d+)")
	a, b = tonumber(a), tonumber(b)
	return a > major or (a == major and b >= minor)
end

local function file_exists(path)
	local f = io.open(path, "r")
	if f then f:close() end
	return f ~= nil
end

-- What libbpf computes for LINUX_HAS_SYSCALL_WRAPPER: a kprobe on __x64_sys_bpf can be made.
local function expected_syscall_wrapper()
	local kprobes = file_exists("/sys/bus/event_source/devices/kprobe/type") or
		file_exists("/sys/kernel/tracing/kprobe_events") or
		file_exists("/sys/kernel/debug/tracing/kprobe_events")
	local _, syms = support.sh("grep -c ' __x64_sys_bpf$' /proc/kallsyms")
	return (kprobes and tonumber(syms) > 0) and 1 or 0
end

-- Makes sh run (it calls getppid, which the parity tracepoints watch) until cond() holds.
local function until_getppid(cond)
	return support.wait_until(cond, 5, function() support.sh("true") end)
end

describe("kconfig values libbpf provides itself", function()
	local obj, link
	after_each(function()
		if link then link:detach() end
		if obj then obj:close() end
		obj, link = nil, nil
	end)

	it("loads usdt.bpf.h and BPF_KSYSCALL programs; the tracepoint reads the values", function()
		obj = assert(bpf.load(support.obj("parity_kconfig")))
		assert.is_true(obj.programs.on_usdt.loaded)
		assert.is_true(obj.programs.ksys_getppid.loaded)
		link = assert(obj.programs.on_getppid:attach())
		assert(until_getppid(function() return obj.globals.hits > 0 end), "no getppid seen")
		assert.equal(kernel_at_least(5, 15) and 1 or 0, obj.globals.has_cookie)
		assert.equal(expected_syscall_wrapper(), obj.globals.has_wrapper)
		assert.equal(obj.kernel_version, obj.globals.kernel_version)
		assert.equal(0, obj.globals.unknown) -- an unknown LINUX_ value, __weak: zero
	end)

	it("runs a program built on libbpf's usdt.bpf.h at a real USDT probe", function()
		local target = require("support.netns").fixture("probe_target")
		obj = assert(bpf.load(support.obj("parity_kconfig")))
		link = assert(obj.programs.on_usdt:attach_usdt(target, "lbpf_fixture", "args"))
		local ran, out = support.sh(target .. " args 2 2>&1")
		assert(ran, out)
		assert.equal(4, obj.globals.usdt_argc) -- bpf_usdt_arg_cnt() through libbpf's spec map
		assert.equal(-17, obj.globals.usdt_arg0) -- the probe's first argument, a constant
	end)

	it("gives the values libbpf gives: the kconfig-dependent code is translated the same", function()
		local lib, ours = dump("libbpf", support.obj("parity_kconfig")),
			dump("luabpf", support.obj("parity_kconfig"))
		assert(lib.ok, lib.reason)
		assert(ours.ok, ours.reason)
		-- BPF_KSYSCALL branches on LINUX_HAS_SYSCALL_WRAPPER, read from a frozen map: the
		-- verifier drops the branch not taken, so the value shows in the instructions.
		for _, name in ipairs { "ksys_getppid", "on_getppid", "on_usdt" } do
			assert.is_nil(first_difference(lib.progs[name], ours.progs[name]), name)
		end
	end)
end)

describe("kfunc addresses (bpf_ksym_exists)", function()
	it("relocates a present and a missing __weak kfunc as libbpf does; the right branches run", function()
		local obj = assert(bpf.load(support.obj("parity_ksym")))
		assert(obj.programs.probe_kfuncs:test_run {})
		assert.equal(1, obj.maps.branches[0]) -- bpf_rcu_read_lock: exists
		assert.equal(2, obj.maps.branches[1]) -- parity_no_such_kfunc: missing
		obj:close()
		local lib, ours = dump("libbpf", support.obj("parity_ksym")),
			dump("luabpf", support.obj("parity_ksym"))
		assert.is_nil(first_difference(lib.progs.probe_kfuncs, ours.progs.probe_kfuncs))
	end)
end)

describe("kfunc calls", function()
	it("call conntrack's lookup and take its address (vmlinux here; a module elsewhere)", function()
		-- spec/kernel/kfunc_module_k.lua runs the same object where nf_conntrack is a module.
		local obj = assert(bpf.load(support.obj("parity_kfunc_ct")))
		for _, name in ipairs { "ct_call", "ct_probe" } do
			obj.globals.ran, obj.globals.ct_error = 0, 99
			assert.equal(2, obj.programs[name]:test_run { data = support.packet() }.retval)
			assert.equal(1, obj.globals.ran)
			assert.equal(0, obj.globals.found)
			assert.equal(-2, obj.globals.ct_error) -- ENOENT: no such connection
		end
		assert.equal(1, obj.globals.has_lookup)
		obj:close()
	end)
end)

describe("BTF of objects with __kconfig and __ksym externs", function()
	it("loads with the object: line info stays, a spin lock and a bpf_timer work", function()
		local obj = assert(bpf.load(support.obj("parity_btf")))
		local prog = obj.programs.locked_count
		assert.equal(2, prog:test_run { data = support.packet() }.retval)
		assert.equal(2, prog:test_run { data = support.packet() }.retval)
		assert.equal(2, obj.maps.locked[0].count)
		assert.equal(-16, obj.globals.timer_init_ret) -- the second init: -EBUSY, the timer is set
		assert.is_true(obj.globals.hz > 0)
		assert.equal(1, obj.globals.has_rcu)
		assert.are_not.equal("0", support.int_text(obj.globals.prog_put_addr))
		local info = prog:info()
		assert.is_true(info.btf_id > 0)
		assert.is_true(info.line_info > 0)
		assert.same({}, obj:warnings())
		obj:close()
	end)

	it("keeps the BTF of usdt.bpf.h, BPF_KSYSCALL and kfunc-address objects", function()
		for _, name in ipairs { "parity_kconfig", "parity_ksym", "core_externs" } do
			local obj = assert(bpf.load(support.obj(name)))
			for pname, prog in pairs(obj.programs) do
				assert.is_true(prog:info().line_info > 0, name .. ": " .. pname)
			end
			assert.same({}, obj:warnings())
			obj:close()
		end
	end)

	it("goes on without BTF the kernel refuses when nothing needs it, and says so", function()
		local bytes = patched("parity_btfwarn", "parity_marker_b", "parity-marker-b")
		local obj = assert(bpf.load(bytes))
		local warnings = obj:warnings()
		assert.equal(1, #warnings)
		assert.matches("object BTF not loaded", warnings[1], 1, true)
		assert.matches("parity-marker-b size=4 vlen=1 Invalid name", warnings[1], 1, true)
		local prog = obj.programs.count_packets
		assert.equal(2, prog:test_run { data = support.packet() }.retval)
		assert.equal(0, prog:info().line_info)
		obj:close()
	end)

	it("fails with the kernel's reason when what failed needed that BTF", function()
		local bytes = patched("parity_btf", "parity_marker_a", "parity-marker-a")
		local obj, err = bpf.load(bytes)
		assert.is_nil(obj)
		assert.matches("map 'locked' has to have BTF in order to use bpf_spin_lock", err, 1, true)
		assert.matches("refused this object's BTF", err, 1, true)
		assert.matches("parity-marker-a size=4 vlen=1 Invalid name", err, 1, true)
	end)
end)

describe("pre-load setters", function()
	local obj, link
	after_each(function()
		if link then link:detach() end
		if obj then obj:close() end
		obj, link = nil, nil
	end)

	it("sizes a stack-trace map from Lua, skips a program and a map, retypes a program", function()
		obj = assert(bpf.open(support.obj("parity_setters")))
		local stacks = obj.maps.stacks
		assert.equal(8, stacks.value_size)
		assert.equal(stacks, stacks:set { value_size = 8 * 64 })
		assert.equal(512, stacks.value_size)
		obj.programs.skipped:set { autoload = false }
		obj.maps.only_for_skipped:set { autocreate = false }
		obj.programs.retyped:set { type = "xdp", expected_attach_type = "xdp" }
		obj.maps[".data"]:set { initial_value = string.rep("\255", 8) .. support.u64(8) }
		assert(obj:load())

		assert.equal(512, stacks:info().value_size)
		assert.is_false(obj.programs.skipped.loaded)
		assert.is_false(obj.maps.only_for_skipped.loaded)
		assert.is_false(obj.maps.only_for_skipped.autocreate)
		assert.equal("xdp", obj.programs.retyped:info().type)
		assert.equal(3, obj.programs.retyped:test_run { data = support.packet() }.retval)
		assert.equal(-1, obj.globals.stack_id) -- the initial value set from Lua

		link = assert(obj.programs.take_stack:attach())
		assert(until_getppid(function() return obj.globals.stack_id >= 0 end), "no stack taken")
		assert.is_true(#stacks:stack(obj.globals.stack_id) > 1) -- more than the declared frame
	end)

	it("refuses changes after load and unknown fields, naming them", function()
		obj = assert(bpf.load(support.obj("parity_setters")))
		local stacks, prog = obj.maps.stacks, obj.programs.retyped
		assert.has_error(function() stacks:set { value_size = 16 } end,
			"map 'stacks': value size can only be set before load (the map already exists in the kernel)")
		assert.has_error(function() prog:set { type = "xdp" } end, "program 'retyped' is already loaded")
		assert.has_error(function() stacks:set { valu_size = 16 } end, "map:set: unknown field 'valu_size'")
		assert.has_error(function() obj.maps[".bss"]:set { value_size = 16 } end)
	end)

	it("refuses a wrong-typed or global-data setting before load", function()
		obj = assert(bpf.open(support.obj("parity_setters")))
		assert.has_error(function() obj.maps.stacks:set { value_size = "big" } end,
			"map:set: value_size: integer expected, got string")
		assert.has_error(function() obj.maps.stacks:set { max_entries = -1 } end,
			"map:set: max_entries: -1 out of range (0 to 4294967295)")
		assert.has_error(function() obj.maps[".bss"]:set { value_size = 16 } end,
			"map '.bss' holds global data: its value size is fixed by the object")
		assert.has_error(function() obj.programs.retyped:set { type = "no_such_type" } end,
			"prog:set: type: unknown name 'no_such_type'")
		assert.has_error(function() obj.maps[".data"]:set { initial_value = "short" } end,
			"map '.data': initial value of 5 bytes, the section has 16")
	end)

	it("gives a map of maps another inner map template", function()
		local other = assert(bpf.load(support.obj("parity_ksym"))) -- branches: u64 values, 2 slots
		obj = assert(bpf.open(support.obj("parity_setters")))
		obj.maps.outer:set { inner_map = other.maps.branches }
		assert(obj:load())
		obj.maps.outer[0] = other.maps.branches -- the new template's shape: accepted
		assert.equal(other.maps.branches:info().id, obj.maps.outer[0])
		assert.has_error(function() obj.maps.outer[1] = obj.maps.small_inner end)
		other:close()
	end)

	it("names the uncreated map a loaded program still uses", function()
		obj = assert(bpf.open(support.obj("parity_setters")))
		obj.maps.only_for_skipped:set { autocreate = false }
		local ok, err = obj:load()
		assert.is_nil(ok)
		assert.matches("uses map 'only_for_skipped', which was not created", err, 1, true)
	end)

	it("keeps the verifier log when a log level is set", function()
		obj = assert(bpf.open(support.obj("parity_setters")))
		local prog = obj.programs.retyped
		prog:set { log_level = 2 }
		assert.is_nil(prog.log)
		assert(obj:load())
		assert.equal(2, prog.log_level)
		assert.matches("processed %d+ insns", prog.log)
	end)

	it("attaches the programs whose autoattach is on with obj:attach()", function()
		obj = assert(bpf.open(support.obj("parity_setters")))
		obj.programs.retyped:set { autoattach = false } -- xdp: it needs an interface
		obj.programs.skipped:set { autoload = false }
		assert(obj:load())
		local links = assert(obj:attach())
		assert.is_truthy(links.take_stack)
		assert.is_nil(links.retyped)
		assert(until_getppid(function() return obj.globals.hits > 0 end), "no getppid seen")
		links.take_stack:detach()
	end)

	it("sets an freplace target by program fd (function found in its BTF before load)", function()
		local target = assert(bpf.open(support.obj("parity_freplace")))
		target.programs.replace_func:set { autoload = false }
		assert(target:load())
		local missing = assert(bpf.open(support.obj("parity_freplace")))
		missing.programs.target_xdp:set { autoload = false }
		missing.programs.replace_func:set {
			attach_target = { prog = target.programs.target_xdp, func = "no_such_func" } }
		local ok, err = missing:load()
		assert.is_nil(ok)
		assert.matches("the target program 'target_xdp' has no function 'no_such_func'", err, 1, true)
		missing:close()

		obj = assert(bpf.open(support.obj("parity_freplace")))
		obj.programs.target_xdp:set { autoload = false }
		obj.programs.replace_func:set {
			attach_target = { prog = target.programs.target_xdp, func = "global_func" } }
		ok, err = obj:load()
		if ok then -- kernels that allow trampolines: the replacement runs
			link = assert(obj.programs.replace_func:attach())
			assert.equal(1, target.programs.target_xdp:test_run { data = support.packet() }.retval)
			link:detach()
			link = nil
		else -- this 6.18 kernel refuses BPF trampolines, freplace included
			assert.matches("EPERM (BPF trampolines are not permitted on this kernel)", err, 1, true)
		end
		target:close()
	end)

	it("sets a fentry target by kernel function name", function()
		obj = assert(bpf.open(support.obj("attach_fentry")))
		local name, prog = next(obj.programs)
		for n, p in pairs(obj.programs) do
			if n ~= name then p:set { autoload = false } end
		end
		prog:set { attach_target = "parity_no_such_kernel_function" }
		local ok, err = obj:load()
		assert.is_nil(ok)
		assert.matches("attach target 'parity_no_such_kernel_function' not found in kernel BTF", err, 1, true)
	end)
end)

describe("data-section map names", function()
	it("are the names libbpf gives, as the kernel (and bpftool) shows them", function()
		for _, name in ipairs { "parity_kconfig", "globals", "syscount", "parity_setters" } do
			local lib, ours = dump("libbpf", support.obj(name)), dump("luabpf", support.obj(name))
			assert(lib.ok, lib.reason)
			assert(ours.ok, ours.reason)
			assert.same(sorted(lib.maps), sorted(ours.maps))
		end
		local d = dump("luabpf", support.obj("parity_kconfig"))
		table.sort(d.maps)
		assert.same({ "__bpf_usdt_ip_t", "__bpf_usdt_spec", "parity_.kconfig", "parity_k.bss",
			"parity_k.data" }, d.maps)
	end)
end)

describe("data-section map names in bpftool", function()
	it("are the same for an object loaded by luabpf as for libbpf", function()
		local have = support.sh("command -v bpftool >/dev/null")
		if not have then pending("bpftool is not installed (apt install bpftool)") return end
		local obj = assert(bpf.load(support.obj("parity_kconfig")))
		local names = {}
		for _, map in pairs(obj.maps) do
			local ran, out = support.sh("bpftool -j map show id " .. map:info().id)
			assert(ran, out)
			names[#names + 1] = assert(out:match('"name":"([^"]*)"'), out)
		end
		obj:close()
		assert.same(sorted(dump("libbpf", support.obj("parity_kconfig")).maps), sorted(names))
	end)
end)

-- Objects one loader cannot load by nature: the reason is printed as the test's pending note.
local BY_NATURE = {
	legacy_maps = "libbpf 1.x no longer reads the legacy 'maps' section (luabpf still does)",
	attach_nf = "libbpf 1.1 predates the netfilter program type (SEC(\"netfilter\"))",
	kern_uprobe = "libbpf 1.1 predates uprobe.multi sections (libbpf 1.3)",
	kern_tcp_cc_link = "libbpf 1.1 predates .struct_ops.link sections (libbpf 1.2)",
}

describe("every object in bpf/, loaded by luabpf and by libbpf", function()
	local _, list = support.sh("ls " .. support.root .. "/bpf/*.bpf.o")
	for path in list:gmatch("[^\n]+") do
		local name = path:match("([^/]+)%.bpf%.o$")
		it(name .. ": the same maps and translated instructions", function()
			local lib, ours = dump("libbpf", path), dump("luabpf", path)
			if not (lib.ok and ours.ok) then
				if BY_NATURE[name] then
					assert.is_true(ours.ok, ours.reason)
					pending(name .. ": " .. BY_NATURE[name])
					return
				end
				-- Neither loads (kernel refusals, deliberately broken objects): say why.
				assert.is_false(ours.ok, name .. " loads with luabpf but not with libbpf: " ..
					tostring(lib.reason))
				assert.is_false(lib.ok, name .. " loads with libbpf but not with luabpf: " ..
					tostring(ours.reason))
				pending(name .. " loads with neither: " .. ours.reason:sub(1, 200))
				return
			end
			assert.same(sorted(lib.maps), sorted(ours.maps))
			assert.same(sorted(lib.order), sorted(ours.order))
			for _, prog in ipairs(lib.order) do
				assert.is_nil(first_difference(lib.progs[prog], ours.progs[prog]), prog)
			end
		end)
	end
end)
