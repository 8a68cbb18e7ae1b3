-- Wildcard kprobes in bpf.trace as bpftrace 0.16+ runs them: one program for every function a
-- kprobe/kretprobe wildcard matches, attached by one kprobe.multi link where the kernel has them
-- (6.12) and once per function where it does not (Debian's 6.1, no CONFIG_FPROBE; on 6.12 too
-- with kprobe_multi = false), func named from bpf_get_func_ip under both; the probe builtin
-- keeps one program per function. Counts are those of a controlled workload filtered on its pid.
local bpf = bpf or require "bpf"
local support = loadfile("spec/kernel/trace_support.lua", "t", _ENV)()
local size, show = support.size, support.show

-- Runs source over the workload `args` with cpid = its pid; returns the trace (finished, maps
-- not printed), the warnings it gave and the links it had while attached.
local function trace_workload(source, args, opts)
	need("kprobe")
	local t, seen = support.run(source, args, opts)
	return t, seen.warnings, seen.links
end

-- The programs loaded in the kernel under the name `name`.
local function loaded(name)
	local n = 0
	for _, p in ipairs(bpf.programs({ pids = false })) do
		if p.name == name then n = n + 1 end
	end
	return n
end

-- The ways this kernel attaches a wildcard: kprobe.multi where it has them, and per function
-- (the path of kernels without CONFIG_FPROBE, taken on purpose).
local function paths()
	if bpf.features().attach.kprobe_multi then return { true, false } end
	return { false }
end

local function path_name(multi) return multi and "kprobe.multi" or "a link per function" end

describe("bpf.trace wildcard kprobes", function()
	it("kprobe:vfs_rea* { @[func] = count() }: one program, exact counts per function on every path", function()
		for _, multi in ipairs(paths()) do
			local t, warnings, links = trace_workload("kprobe:vfs_rea* /pid == cpid/ { @[func] = count(); }",
				"read 1 2 3 4", { kprobe_multi = multi })
			local what = path_name(multi)
			local plan = t.plan
			eq(#plan.programs, 1, what .. ": programs in the plan")
			eq(plan.kprobe_multi, multi, what .. ": plan.kprobe_multi")
			local funcs = #plan.programs[1].attach.funcs
			ge(funcs, 2, what .. ": functions matching vfs_rea*")
			eq(loaded(plan.programs[1].bpf_name), 1, what .. ": programs loaded in the kernel")
			eq(links, multi and 1 or funcs - #warnings, what .. ": links")
			eq(bpf.trace.probe_count(plan), multi and 1 or funcs, what .. ": Attaching N probes")
			local f = t:read("@")
			eq(f.vfs_read, 4, what .. ": @[vfs_read] " .. show(f))
			for name in pairs(f) do matches(name, "^vfs_rea", what .. ": @ key") end
			t:close()
			eq(loaded(plan.programs[1].bpf_name), 0, what .. ": programs left after close")
		end
	end)

	it("kretprobe:vfs_rea* with retval: one program, bytes read summed by func on every path", function()
		for _, multi in ipairs(paths()) do
			local t = trace_workload([[
kretprobe:vfs_rea* /pid == cpid/ { @bytes[func] = sum(retval); @n[func] = count(); }
]], "read 1 2 3 100", { kprobe_multi = multi })
			local what = path_name(multi)
			eq(#t.plan.programs, 1, what .. ": programs")
			eq(t.plan.programs[1].kind, "kretprobe", what .. ": kind")
			local b, n = t:read("@bytes"), t:read("@n")
			eq(n.vfs_read, 4, what .. ": @n[vfs_read] " .. show(n))
			eq(b.vfs_read, 106, what .. ": @bytes[vfs_read] " .. show(b))
			t:close()
		end
	end)

	it("the probe builtin: one program per function, each named, as bpftrace's need_expansion", function()
		local t = trace_workload("kprobe:vfs_rea* /pid == cpid/ { @[probe] = count(); }", "read 1 2 3")
		local p = t:read("@")
		eq(p["kprobe:vfs_read"], 3, "@[kprobe:vfs_read] " .. show(p))
		ge(#t.plan.programs, 2, "programs")
		local names = 0
		for _, prog in ipairs(t.plan.programs) do
			eq(prog.attach.funcs, nil, "a program per function")
			names = names + loaded(prog.bpf_name)
		end
		eq(names, #t.plan.programs, "programs loaded in the kernel")
		eq(bpf.trace.probe_count(t.plan), #t.plan.programs, "Attaching N probes")
		t:close()
	end)

	it("kprobe:vfs_*: load and attach time, a program per function against one program", function()
		need("kprobe")
		-- CPU time (user + system: the verifier and the kprobe registrations run in the
		-- syscalls) of compiling, then of loading and attaching; the median of 3 runs
		local function timed(src, opts)
			local compile, attach, progs, links = {}, {}, 0, 0
			for run = 1, 3 do
				local c0, c1 = os.clock(), nil
				local o = { print = false, on_warning = function() end,
					on_start = function() c1 = os.clock() end }
				for k, v in pairs(opts or {}) do o[k] = v end
				local t = ok(bpf.trace(src, o))
				attach[run] = os.clock() - c1
				compile[run] = c1 - c0
				progs, links = #t.plan.programs, size(t.state.links)
				t:close()
			end
			table.sort(compile)
			table.sort(attach)
			return compile[2], attach[2], progs, links
		end
		local rows = {}
		local function row(what, src, opts)
			local c, a, progs, links = timed(src, opts)
			rows[#rows + 1] = ("%s: %d programs, %d links, compile %.0f ms, load+attach %.0f ms CPU"):format(what,
				progs, links, c * 1000, a * 1000)
			return progs, a
		end
		local _, before = row("a program per function (probe builtin)", "kprobe:vfs_* { @[probe] = count(); }")
		for _, multi in ipairs(paths()) do
			local progs, after = row("one program, " .. path_name(multi), "kprobe:vfs_* { @[func] = count(); }",
				{ kprobe_multi = multi })
			eq(progs, 1, path_name(multi) .. ": programs")
			rows[#rows] = rows[#rows] .. (" (%.1fx less)"):format(before / math.max(after, 1e-6))
		end
		print("trace_multi_k: vfs_*: " .. table.concat(rows, "; "))
	end)
end)
