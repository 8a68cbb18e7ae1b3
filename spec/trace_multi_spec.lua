-- Wildcard kprobes as bpftrace 0.16+ builds them, checked at compile time (this kernel has no
-- kprobes; spec/kernel/trace_multi_k.lua runs them on 6.1 and 6.12): one program for every
-- function a kprobe/kretprobe wildcard matches, `func` from bpf_get_func_ip, the `probe`
-- builtin keeping one program per function, "Attaching N probes" counted as bpftrace does.
local bpf = require "bpf"
local compile = require "bpf.trace.compile"

local function plan_of(src, opts) return assert(compile(src, opts)) end

-- The functions a glob matches that ftrace can attach to and kallsyms lists as text, read
-- here independently of the compiler.
local function traceable(prefix)
	local text, names = {}, {}
	for line in io.lines("/proc/kallsyms") do
		local name = line:match("^%x+ [tT] ([%w_%.]+)")
		if name then text[name] = true end
	end
	-- where tracefs refuses the list (here, a container), kallsyms alone, as the compiler does
	local f = io.open("/sys/kernel/tracing/available_filter_functions")
	local filter = f and {}
	if f then
		for line in f:lines() do filter[line:match("^(%S+)") or ""] = true end
		f:close()
	end
	for name in pairs(text) do
		if name:sub(1, #prefix) == prefix and (not filter or filter[name]) then names[#names + 1] = name end
	end
	table.sort(names)
	return names
end

local function sorted(list)
	local copy = {}
	for i, v in ipairs(list) do copy[i] = v end
	table.sort(copy)
	return copy
end

describe("trace wildcard kprobes", function()
	it("kprobe:vfs_* is one program whose plan lists every matching function", function()
		local want = traceable("vfs_")
		assert.is_true(#want > 10, "vfs_ functions: " .. #want)
		local plan = plan_of("kprobe:vfs_* { @[func] = count(); }", { kprobe_multi = true })
		assert.equal(1, #plan.programs)
		local p = plan.programs[1]
		assert.equal("kprobe", p.kind)
		assert.equal("kprobe:vfs_*", p.probe)
		assert.equal("vfs_*", p.attach.pattern)
		assert.same(want, sorted(p.attach.funcs))
		-- func: the address of the function that fired, named in user space (a ksym key)
		assert.truthy(p.text:find("call bpf_get_func_ip#", 1, true))
		assert.equal("ksym", plan.maps["@"].keys[1].type)
		assert.truthy(plan.text:find(("%d functions by one kprobe.multi link"):format(#want), 1, true))
	end)

	it("counts one probe with kprobe.multi links and one per function without, as bpftrace 0.17 says", function()
		local src = "kprobe:vfs_* { @[func] = count(); } kretprobe:vfs_read { @r = count(); } BEGIN { }"
		local n = #traceable("vfs_")
		local multi = plan_of(src, { kprobe_multi = true })
		assert.is_true(multi.kprobe_multi)
		assert.equal(3, bpf.trace.probe_count(multi))
		local each = plan_of(src, { kprobe_multi = false })
		assert.is_false(each.kprobe_multi)
		assert.equal(3, #each.programs)
		assert.equal(n + 2, bpf.trace.probe_count(each))
		assert.truthy(each.text:find(("%d functions by one link each"):format(n), 1, true))
	end)

	it("follows the kernel when not told: kprobe_multi is bpf.features().attach.kprobe_multi", function()
		local plan = plan_of("kprobe:vfs_read* { @ = count(); }")
		assert.equal(bpf.features().attach.kprobe_multi == true, plan.kprobe_multi)
	end)

	it("kretprobe:vfs_read* with retval: one kretprobe program reading pt_regs->ax", function()
		local plan = plan_of("kretprobe:vfs_read* { @[func] = sum(retval); }", { kprobe_multi = true })
		assert.equal(1, #plan.programs)
		local p = plan.programs[1]
		assert.equal("kretprobe", p.kind)
		assert.same(traceable("vfs_read"), sorted(p.attach.funcs))
		assert.truthy(p.text:find("= *(u64 *)(r6 +80)", 1, true))
		assert.truthy(p.text:find("call bpf_get_func_ip#", 1, true))
	end)

	it("the probe builtin (in the action or the filter) keeps one program per function, each named", function()
		local want = traceable("vfs_read")
		for _, src in ipairs({ "kprobe:vfs_read* { @[probe] = count(); }",
			'kprobe:vfs_read* /probe == "kprobe:vfs_read"/ { @ = count(); }' }) do
			local plan = plan_of(src, { kprobe_multi = true })
			assert.equal(#want, #plan.programs, src)
			for i, p in ipairs(plan.programs) do
				assert.is_nil(p.attach.funcs)
				assert.equal("kprobe:" .. p.attach.func, p.probe)
				if i == 1 then assert.is_nil(p.text:find("bpf_get_func_ip", 1, true)) end
			end
			assert.equal(#want, bpf.trace.probe_count(plan))
		end
	end)

	it("a single function, an offset or a lone match keeps func a constant string", function()
		for _, src in ipairs({ "kprobe:vfs_read { @[func] = count(); }",
			"kprobe:vfs_read+4 { @[func] = count(); }", "kprobe:vfs_rea? { @[func] = count(); }" }) do
			local plan = plan_of(src, { kprobe_multi = true })
			assert.equal(1, #plan.programs)
			assert.is_nil(plan.programs[1].attach.funcs, src)
			assert.is_nil(plan.programs[1].text:find("bpf_get_func_ip", 1, true), src)
			assert.equal("str", plan.maps["@"].keys[1].type, src)
		end
	end)

	it("refuses to load on a kernel without kprobes with a clear message", function()
		if bpf.features().attach.kprobe then
			pending("this kernel has kprobes (spec/kernel/trace_multi_k.lua runs them)")
			return
		end
		local t, err = bpf.trace("kprobe:vfs_read* { @ = count(); }", { print = false })
		assert.is_nil(t)
		assert.truthy(err:find("probe 'kprobe:vfs_read*'", 1, true), err)
	end)
end)
