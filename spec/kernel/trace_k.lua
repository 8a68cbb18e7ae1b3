-- bpftrace programs (bpf.trace) with kprobe, kretprobe, kfunc/fentry and kretfunc/fexit probes,
-- for real: each runs against a controlled workload (build/kernels/fixtures/trace_workload, a
-- static program that makes exactly the system calls it is told to) started held as `-c` does,
-- filtered on its pid (cpid) or comm, and the counts, sums, buckets, arguments, return values,
-- stacks and printf lines must be exactly those of the workload.
local bpf = bpf or require "bpf"
local support = loadfile("spec/kernel/trace_support.lua", "t", _ENV)()
local size, show = support.size, support.show
local WORKLOAD = support.WORKLOAD

-- Runs source over the workload `args` (trace_workload's command line) with cpid = its pid.
-- Returns the trace (finished, maps not printed), the printf output, and the workload's pid.
local function trace_workload(source, args, kind)
	need(kind)
	local t, seen = support.run(source, args)
	return t, seen.out, seen.pid
end

-- Asserts that text holds part (plain text, no pattern).
local function contains(text, part, what)
	if not text:find(part, 1, true) then
		error(("%s: %q not in %q"):format(what, part, text), 2)
	end
end

describe("bpf.trace kprobe", function()
	it("kprobe:do_sys_openat2 /pid == cpid/ counts exactly the child's 7 opens, comm and path from arg1", function()
		local t = trace_workload([[
kprobe:do_sys_openat2 /pid == cpid/ { @n = count(); @comm[comm] = count(); @path[str(arg1)] = count(); @dfd = min((int32)arg0); }
]], "openat 7 /dev/null", "kprobe")
		eq(t:read("@n"), 7, "@n")
		local c = t:read("@comm")
		eq(size(c), 1, "@comm entries " .. show(c))
		eq(c.trace_workload, 7, "@comm[trace_workload]")
		local p = t:read("@path")
		eq(size(p), 1, "@path entries " .. show(p))
		eq(p["/dev/null"], 7, "@path[/dev/null]")
		eq(t:read("@dfd"), -100, "@dfd (AT_FDCWD)")
		t:close()
	end)

	it("kprobe filtered by comm counts only the workload's opens", function()
		local t = trace_workload([[
k:do_sys_openat2 /comm == "trace_workload"/ { @[str(arg1)] = count(); }
]], "openat 3 /dev/null -- open 5 /tmp/tracevm-k-missing", "kprobe")
		local m = t:read("@")
		eq(size(m), 2, "paths " .. show(m))
		eq(m["/dev/null"], 3, "opens of /dev/null")
		eq(m["/tmp/tracevm-k-missing"], 5, "opens of the missing file")
		t:close()
	end)

	it("kretprobe:do_sys_openat2 retval: the fd for each success, -ENOENT for each failure", function()
		local t = trace_workload([[
kretprobe:do_sys_openat2 /pid == cpid/ { @ret[retval] = count(); @n = count(); }
]], "openat 4 /dev/null -- open 3 /tmp/tracevm-k-missing", "kprobe")
		local r = t:read("@ret")
		eq(size(r), 2, "return values " .. show(r))
		eq(r[3], 4, "opens returning fd 3")
		eq(r[-2], 3, "opens returning -ENOENT")
		eq(t:read("@n"), 7, "@n")
		t:close()
	end)

	it("kprobe:vfs_read arg2 and kretprobe:vfs_read retval: requested and read sizes summed", function()
		local t = trace_workload([[
kprobe:vfs_read /pid == cpid/ { @req = sum(arg2); @calls = count(); }
kretprobe:vfs_read /pid == cpid/ { @got = sum(retval); @max = max(retval); @rets = count(); }
]], "read 1 2 3 100 1000 4096", "kprobe")
		eq(t:read("@calls"), 6, "vfs_read calls")
		eq(t:read("@req"), 5202, "requested bytes (sum of arg2)")
		eq(t:read("@rets"), 6, "vfs_read returns")
		eq(t:read("@got"), 5202, "bytes read (sum of retval)")
		eq(t:read("@max"), 4096, "largest read")
		t:close()
	end)

	it("hist() over a kprobe argument: the buckets of the read sizes, printed with bars", function()
		local t = trace_workload([[
kprobe:vfs_read /pid == cpid/ { @bytes = hist(arg2); @l = lhist(arg2, 0, 4000, 1000); }
]], "read 1 2 3 100 1000 1000 4096", "kprobe")
		local want = { { 1, 1, 1 }, { 2, 3, 2 }, { 64, 127, 1 }, { 512, 1023, 2 }, { 4096, 8191, 1 } }
		local got = {}
		for _, b in ipairs(t:read("@bytes")) do
			if b.count > 0 then got[#got + 1] = b end
		end
		eq(#got, #want, "non-empty buckets")
		for i, w in ipairs(want) do
			eq(got[i].min, w[1], "bucket " .. i .. " min")
			eq(got[i].max, w[2], "bucket " .. i .. " max")
			eq(got[i].count, w[3], "bucket " .. i .. " count")
		end
		local text = t:format("@bytes")
		matches(text, "^@bytes: \n", "hist header")
		-- bars as bpftrace draws them: 52 columns for the largest bucket, the others in proportion
		local function bar(n) return "|" .. ("@"):rep(n) .. (" "):rep(52 - n) .. "|" end
		contains(text, "\n[1]                    1 " .. bar(26) .. "\n", "hist line [1]")
		contains(text, "\n[2, 4)                 2 " .. bar(52) .. "\n", "hist line [2, 4)")
		contains(text, "\n[4, 8)                 0 " .. bar(0) .. "\n", "hist line [4, 8)")
		matches(text, "\n%[512, 1K%)%s+2 |@+%s*|\n", "hist line [512, 1K)")
		matches(text, "\n%[4K, 8K%)%s+1 |@+%s*|\n", "hist line [4K, 8K)")
		local l = t:format("@l")
		matches(l, "\n%[0, 1000%)%s+4 |@+|\n", "lhist [0, 1000)")
		matches(l, "\n%[1000, 2000%)%s+2 |@+%s*|\n", "lhist [1000, 2000)")
		matches(l, "\n%[4000, %.%.%.%)%s+1 |@+%s*|\n", "lhist overflow")
		t:close()
	end)

	it("wildcards and the probe/func builtins: one attach point per match, each named", function()
		local t = trace_workload([[
kprobe:vfs_rea* /pid == cpid/ { @p[probe] = count(); @f[func] = count(); }
kretprobe:vfs_read /pid == cpid/ { @r[func] = count(); }
]], "read 1 2 3 4", "kprobe")
		local p, f, r = t:read("@p"), t:read("@f"), t:read("@r")
		-- the static workload's start-up also calls readlink (vfs_readlink) once: other matches
		-- may fire, each under its own name
		eq(p["kprobe:vfs_read"], 4, "@p[kprobe:vfs_read] " .. show(p))
		eq(f.vfs_read, 4, "@f[vfs_read] " .. show(f))
		eq(size(p), size(f), "@p and @f entries")
		for name, n in pairs(f) do
			matches(name, "^vfs_rea", "@f key")
			eq(p["kprobe:" .. name], n, "@p[kprobe:" .. name .. "]")
		end
		eq(size(r), 1, "@r " .. show(r))
		eq(r.vfs_read, 4, "@r[vfs_read] (func in a kretprobe)")
		ge(#t.plan.programs, 3, "programs for vfs_rea* + the kretprobe")
		t:close()
	end)

	it("kprobe:FUNC+OFFSET: the offset on an instruction counts, one inside an instruction is a clear error", function()
		need("kprobe")
		-- after the 5-byte ftrace call (+5), or after endbr64 and the call with IBT (+9)
		local counted, refused = {}, {}
		for _, off in ipairs({ 5, 9 }) do
			local src = ("kprobe:do_sys_openat2+%d /pid == cpid/ { @n = count(); }"):format(off)
			local ok_run, t = pcall(trace_workload, src, "openat 3 /dev/null", "kprobe")
			if ok_run then
				eq(t:read("@n"), 3, "opens counted at +" .. off)
				counted[#counted + 1] = off
				t:close()
			else
				matches(t, "cannot attach probe 'kprobe:do_sys_openat2%+" .. off .. "'.*not at an instruction boundary",
					"error at +" .. off)
				refused[#refused + 1] = off
			end
		end
		print("trace_k: kprobe offsets counted " .. table.concat(counted, ",") .. ", refused " .. table.concat(refused, ","))
		eq(#counted, 1, "offsets that count")
		eq(#refused, 1, "offsets refused")
	end)

	it("latency with a keyed map: kprobe stores nsecs by tid, kretprobe takes the difference", function()
		local t = trace_workload([[
kprobe:vfs_read /pid == cpid/ { @start[tid] = nsecs; }
kretprobe:vfs_read /@start[tid]/ { @ns = hist(nsecs - @start[tid]); @n = count(); @tid[tid] = count(); delete(@start[tid]); }
]], "read 1 10 100 1000 10000", "kprobe")
		eq(t:read("@n"), 5, "reads timed")
		local tids = t:read("@tid")
		eq(size(tids), 1, "threads " .. show(tids))
		eq(size(t:read("@start")), 0, "@start entries left (each deleted at return)")
		local total = 0
		for _, b in ipairs(t:read("@ns")) do
			total = total + b.count
			if b.count > 0 then ge(b.min, 1, "a read's duration (ns) bucket") end
		end
		eq(total, 5, "durations in the histogram")
		t:close()
	end)

	it("kstack as a key: one symbolised stack from do_sys_openat2 up to the syscall entry", function()
		local t = trace_workload([[
kprobe:do_sys_openat2 /pid == cpid/ { @[kstack] = count(); @s[kstack(3)] = count(); }
]], "openat 5 /dev/null", "kprobe")
		local text = t:format("@")
		-- @[
		--     do_sys_openat2+5
		--     __x64_sys_openat+85
		--     ...
		--     entry_SYSCALL_64_after_hwframe+N
		-- ]: 5
		local body = matches(text, "^@%[\n.-\n%]: 5\n$", "one stack, 5 hits"):match("^@%[\n(.-)\n%]")
		local frames = {}
		for line in body:gmatch("[^\n]+") do
			matches(line, "^    [%w_%.]+%+%d+$", "frame")
			frames[#frames + 1] = line:match("^    ([%w_%.]+)")
		end
		print("trace_k: kprobe kstack: " .. body:gsub("\n%s*", " "))
		eq(frames[1], "do_sys_openat2", "first frame")
		matches(table.concat(frames, " "), "__x64_sys_openat .*do_syscall_64 entry_SYSCALL_64", "frames")
		local short = t:format("@s")
		local n = 0
		for _ in short:gmatch("\n    [%w_%.]+%+%d+") do n = n + 1 end
		eq(n, 3, "frames of kstack(3)")
		t:close()
	end)

	it("kstack in a kretprobe: the callers of the returning function, no trampoline frame", function()
		local t = trace_workload([[
kretprobe:do_sys_openat2 /pid == cpid/ { @[kstack] = count(); }
]], "openat 4 /dev/null", "kprobe")
		local text = t:format("@")
		local body = matches(text, "^@%[\n.-\n%]: 4\n$", "one stack, 4 hits"):match("^@%[\n(.-)\n%]")
		print("trace_k: kretprobe kstack: " .. body:gsub("\n%s*", " "))
		local frames = {}
		for line in body:gmatch("[^\n]+") do
			matches(line, "^    [%w_%.]+%+%d+$", "frame")
			frames[#frames + 1] = line:match("^    ([%w_%.]+)")
		end
		local all = table.concat(frames, " ")
		eq(all:find("trampoline", 1, true), nil, "a trampoline frame in " .. all)
		matches(all, "__x64_sys_openat .*do_syscall_64 entry_SYSCALL_64", "frames")
		t:close()
	end)

	it("printf from a kprobe: one line per open, in order, as C formats them", function()
		local _, out, pid = trace_workload([[
kprobe:do_sys_openat2 /pid == cpid/ { printf("%-16s|%d|%s|%x\n", comm, pid, str(arg1), (int32)arg0 & 0xfff); }
]], "openat 3 /dev/null -- open 2 /tmp/tracevm-k-missing", "kprobe")
		local line1 = ("trace_workload  |%d|/dev/null|f9c\n"):format(pid)
		local line2 = ("trace_workload  |%d|/tmp/tracevm-k-missing|f9c\n"):format(pid)
		eq(out, line1:rep(3) .. line2:rep(2), "printf output")
	end)

	it("BEGIN and END around a kprobe: their printf lines first and last, END reads the map", function()
		local t, out = trace_workload([[
BEGIN { printf("start\n"); }
kprobe:do_sys_openat2 /pid == cpid/ { @n++; printf("open %d\n", @n); }
END { printf("opens %d\n", @n); }
]], "openat 3 /dev/null", "kprobe")
		eq(out, "start\nopen 1\nopen 2\nopen 3\nopens 3\n", "output")
		t:close()
	end)

	it("`luabpf trace -e ... -c CMD`: the command line's output, printf lines then the maps", function()
		need("kprobe")
		local _, path = sh("readlink /proc/" .. tgid() .. "/exe") -- this luabpf
		local exe = path:gsub("%s+$", "")
		local prog = 'kprobe:do_sys_openat2 /pid == cpid/ { printf("open %s\\n", str(arg1)); @opens[comm] = count(); }'
		local done, out = sh(("%s trace -e '%s' -c '%s openat 2 /dev/null'"):format(exe, prog, WORKLOAD))
		ok(done, out)
		eq(out, "Attaching 1 probe...\nopen /dev/null\nopen /dev/null\n\n\n@opens[trace_workload]: 2\n",
			"luabpf trace output")
	end)
end)

describe("bpf.trace kfunc", function()
	it("kfunc: and fentry: read arguments from BTF, as args->x and args.x", function()
		local t = trace_workload([[
kfunc:vfs_read /pid == cpid/ { @arrow[args->count] = count(); }
fentry:vfs_read /pid == cpid/ { @dot = sum(args.count); }
fentry:do_sys_openat2 /pid == cpid/ { @path[str(args->filename)] = count(); @dfd = min(args.dfd); @flags = max(args->how->flags & 3); }
]], "read 10 20 20 -- openat 2 /dev/null", "fentry")
		local a = t:read("@arrow")
		eq(size(a), 2, "@arrow " .. show(a))
		eq(a[10], 1, "reads of 10")
		eq(a[20], 2, "reads of 20")
		eq(t:read("@dot"), 50, "@dot (sum of args.count)")
		local p = t:read("@path")
		eq(size(p), 2, "@path " .. show(p))
		eq(p["/dev/zero"], 1, "open of /dev/zero (the read command's)")
		eq(p["/dev/null"], 2, "opens of /dev/null")
		eq(t:read("@dfd"), -100, "@dfd (AT_FDCWD, an int from BTF)")
		eq(t:read("@flags"), 0, "@flags & O_ACCMODE (O_RDONLY), through args->how->flags")
		t:close()
	end)

	it("kretfunc: and fexit: see retval and the arguments", function()
		local t = trace_workload([[
kretfunc:vfs_read /pid == cpid/ { @got = sum(retval); @asked = sum(args->count); }
fexit:do_sys_openat2 /pid == cpid/ { @ret[retval] = count(); @path[str(args.filename)] = count(); }
]], "read 7 9 -- openat 2 /dev/null -- open 3 /tmp/tracevm-k-missing", "fexit")
		eq(t:read("@got"), 16, "bytes read (retval)")
		eq(t:read("@asked"), 16, "bytes asked (args->count at exit)")
		local r = t:read("@ret")
		eq(size(r), 2, "@ret " .. show(r))
		eq(r[3], 3, "opens returning fd 3 (/dev/zero once, /dev/null twice)")
		eq(r[-2], 3, "opens returning -ENOENT")
		local p = t:read("@path")
		eq(p["/tmp/tracevm-k-missing"], 3, "failed opens by path")
		t:close()
	end)

	it("kfunc wildcards attach to each traceable match and name it in probe", function()
		local t = trace_workload([[
kfunc:vfs_rea* /pid == cpid/ { @[probe] = count(); }
]], "read 5 6 7", "fentry")
		local p = t:read("@")
		eq(p["kfunc:vfs_read"], 3, "@[kfunc:vfs_read] " .. show(p))
		t:close()
	end)

	it("kprobe:vfs_* and kfunc:vfs_* attach everywhere: only traceable functions match", function()
		-- kallsyms and BTF also list vfs_caches_init_early (__init, freed after boot) and functions
		-- ftrace cannot patch: matching those made the whole program fail to load or attach
		need("kprobe")
		local t = trace_workload([[
kprobe:vfs_* /pid == cpid/ { @k[probe] = count(); }
kfunc:vfs_* /pid == cpid/ { @f[probe] = count(); }
]], "read 3 4", "fentry")
		eq(t:read("@k")["kprobe:vfs_read"], 2, "@k[kprobe:vfs_read]")
		eq(t:read("@f")["kfunc:vfs_read"], 2, "@f[kfunc:vfs_read]")
		local n = 0
		for _, p in ipairs(t.plan.programs) do
			n = n + 1
			eq(p.attach.func ~= "vfs_caches_init_early", true, "an __init function matched")
		end
		ge(n, 100, "programs (kprobe and kfunc on each vfs_* function)")
		print("trace_k: vfs_* wildcards: " .. n .. " programs")
		t:close()
	end)

	it("kfunc on a module's function is refused with a message that says so", function()
		need("fentry")
		local _, mods = sh("cat /proc/modules")
		if not mods:find("^veth ") and not mods:find("\nveth ") then skip("the veth module is not loaded") end
		for _, src in ipairs({ "kfunc:veth:veth_open { @ = count(); }", "kfunc:veth_open { @ = count(); }" }) do
			local t, err = bpf.trace(src)
			eq(t, nil, src)
			matches(err, "only vmlinux's BTF is read.*kprobe:veth_open works", src)
		end
		local t = ok(bpf.trace("kprobe:veth_open { @ = count(); }", { print = false }))
		t:close()
	end)

	it("kstack in kfunc: the traced function's callers, symbolised", function()
		local t = trace_workload([[
kfunc:vfs_read /pid == cpid/ { @[kstack] = count(); }
]], "read 1 1 1", "fentry")
		local text = t:format("@")
		local body = matches(text, "^@%[\n.-\n%]: 3\n$", "one stack, 3 hits"):match("^@%[\n(.-)\n%]")
		local frames = {}
		for line in body:gmatch("[^\n]+") do
			matches(line, "^    [%w_%.%[%]]+%+%d+$", "frame")
			frames[#frames + 1] = line:match("^    (%S+)%+")
		end
		print("trace_k: kfunc kstack: " .. body:gsub("\n%s*", " "))
		-- the frames above vfs_read are the kfunc program itself and the BPF trampoline that
		-- called it: they must be named after this trace's program, not a stale symbol
		local i = 1
		while frames[i] and frames[i] ~= "vfs_read" do
			local name = frames[i]
			if name:match("^bpf_prog_") then
				matches(name, "^bpf_prog_%x+_kf_vfs_read$", "frame " .. i .. " (the program)")
			else
				matches(name, "^bpf_trampoline_%d+$", "frame " .. i .. " (the trampoline)")
			end
			i = i + 1
		end
		ge(i, 2, "frames above vfs_read (program, trampoline)")
		matches(table.concat(frames, " ", i), "^vfs_read ksys_read .*do_syscall_64 entry_SYSCALL_64", "frames")
		t:close()
	end)
end)
