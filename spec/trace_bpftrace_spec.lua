-- The same one-liners under Debian's bpftrace 0.17 and under `luabpf trace`, each tracing the
-- same controlled workload given with -c (a child making exactly the calls named): the counts,
-- sums and histogram buckets agree exactly and the printed text is the same, line for line.
-- Both tools see the same process from its exec on (the dynamic loader's reads included), so
-- nothing differs by nature here but where a line says so (pids).
local support = require "support.init"
local tw = require "support.trace"

local q = support.quote

-- A tool's stdout for PROGRAM tracing CMD; stderr must be empty apart from bpftrace's memlock
-- warning.
local function run(tool, program, cmd)
	local err = os.tmpname()
	local ok, out = support.sh(tool .. " -e " .. q(program) .. " -c " .. q(cmd) .. " 2>" .. err)
	local stderr = support.read_file(err):gsub("[^\n]*RLIMIT_MEMLOCK[^\n]*\n", "")
	os.remove(err)
	assert(ok, tool .. " failed: " .. stderr .. out)
	assert.are.equal("", stderr)
	return out
end

local function both(program, cmd)
	return run("bpftrace", program, cmd), run(q(tw.LUABPF) .. " trace", program, cmd)
end

local W = tw.WORKLOAD

local CASES = {
	{ "count by comm, count, sum", "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[comm] = count(); @n = count(); @s = sum(pid > 0); }",
		W .. " getppid 41" },
	{ "hist, lhist, sum, count, avg, stats, min, max of a tracepoint field",
		"tracepoint:syscalls:sys_enter_read /pid == cpid/ { @h = hist(args->count); @l = lhist(args->count, 0, 2000, 250); " ..
		"@s = sum(args->count); @c = count(); @a = avg(args->count); @st = stats(args->count); @mn = min(args->count); @mx = max(args->count); }",
		W .. " read 0 1 2 3 4 5 100 1000 1500 1999 2000 5000 65536 65536" },
	{ "keyed maps with one and two keys",
		"tracepoint:syscalls:sys_enter_read /pid == cpid/ { @bytes[args->count] = sum(args->count); @pair[comm, args->count] = count(); }",
		W .. " read 7 7 7 300 300 5 5 5 5" }, -- no equal counts: bpftrace orders ties by hash
	{ "printf per event, in order",
		"tracepoint:syscalls:sys_enter_read /pid == cpid/ { printf(\"%-16s %6d|%x|%5s|\\n\", comm, args->count, args->count, \"ab\"); }",
		W .. " read 1 31 512 70000" },
	{ "printf per exec with the file name",
		"tracepoint:syscalls:sys_enter_execve /pid == cpid/ { printf(\"exec %s\\n\", str(args->filename)); }",
		W .. " exec /bin/true" },
	{ "join() of an exec's arguments",
		"tracepoint:syscalls:sys_enter_execve /pid == cpid/ { join(args->argv); join(args->argv, \",\"); }",
		W .. " exec /bin/true one two three" },
	{ "user stacks and usym() symbolised while the process lives, hex once it is gone",
		"tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf(\"%s|%s\\n\", ustack, usym(0)); " ..
		"printf(\"%s\\n\", ustack(perf)); @[ustack] = count(); print(@); }",
		W .. " getppid 1 -- sleep 1000", -- alive while both tools print the event
		-- ASLR: differs by nature (a user address: 12 hex digits from 7, 0x7e... as well as 0x7f...)
		function(text) return (text:gsub("%f[%x]7" .. ("%x"):rep(11) .. "%f[^%x]", "ADDR")) end },
	{ "elapsed: the BEGIN the compiler adds to start it is not counted among the probes",
		"tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @ = elapsed > 0; exit(); }", W .. " getppid 1" },
	{ "latency between enter and exit with a keyed map",
		"tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @start[tid] = nsecs; } " ..
		"tracepoint:syscalls:sys_exit_getppid /@start[tid]/ { @calls = count(); delete(@start[tid]); }",
		W .. " getppid 12" },
	{ "BEGIN, END, if/else, ternary, arithmetic",
		"BEGIN { @x = 7 * 6 - 2; @y = @x > 40 ? 1 : 2; if ((@x & 1) == 0) { @even = 1; } else { @odd = 1; } } " ..
		"tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n++; } END { printf(\"n=%d\\n\", @n); }",
		W .. " getppid 3" },
}

-- Programs that run in BEGIN alone: nothing differs by nature, the whole output must be equal.
local BEGIN_ONLY = {
	'BEGIN { print(5); print("strv"); print(-3); @x = 1; print(@x); exit(); }',
	"BEGIN { @h = hist(-5); @h = hist(0); @h = hist(1); @h = hist(1023); @h = hist(1024); exit(); }",
	'BEGIN { @s["a"] = "x"; @s["b"] = "y"; @i[1, "a"] = 5; @i[1, "b"] = 6; @i[2, "a"] = 7; exit(); }',
	"BEGIN { @a = avg(-10); @a = avg(3); @st = stats(-10); @st = stats(3); @mn = min(-5); @mx = max(5); exit(); }",
	'BEGIN { printf("%5d|%-5d|%05d|%x|%X|%o|%c|%s|%10s|%-10s|%%\\n", 42, 42, 42, 255, 255, 8, 65, "ab", "cd", "ef"); exit(); }',
	"BEGIN { @c[1] = count(); @c[2] = count(); @c[2] = count(); print(@c, 1); print(@c, 0, 2); clear(@c); print(@c); exit(); }",
	"BEGIN { @c = count(); @c = count(); @s = sum(5); @s = sum(-2); print(@s); exit(); }",
	'BEGIN { $i = 0; unroll(3) { $i++; printf("i=%d\\n", $i); } exit(); }',
	"BEGIN { @m[1] = 1; @m[2] = 2; delete(@m[1]); @z = 5; zero(@z); print(@z); exit(); }",
	'BEGIN { printf("%lu %ld %llx\\n", -1, -1, 255); printf("%10lu|\\n", 12); exit(); }',
	"BEGIN { @h[1] = hist(5); @h[2] = hist(5); @h[2] = hist(600); print(@h, 1); exit(); }",
	'BEGIN { @x = 3; @x += 4; @x -= 1; @x *= 2; @y = @x == 12 ? "yes" : "no"; exit(); }',
	'BEGIN { if (1 > 2 || 3 > 2 && !(0)) { printf("ok\\n"); } else { printf("no\\n"); } exit(); }',
	"BEGIN { @a[1] = avg(5); @a[2] = avg(7); @a[3] = avg(9); print(@a, 2); print(@a, 0, 2); exit(); }",
	"BEGIN { @m[1] = min(5); @m[2] = min(7); print(@m, 1); print(@m, 0, 2); @x[1] = max(9); @x[2] = max(3); print(@x, 1, 2); exit(); }",
	"BEGIN { @l[1] = lhist(5, 0, 10, 1); @l[2] = lhist(3, 0, 10, 1); @l[2] = lhist(4, 0, 10, 1); print(@l, 1); print(@l, 0, 2); exit(); }",
	'BEGIN { @s["b"] = "x"; @s["a"] = "y"; print(@s, 1); @i[3] = 7; @i[1] = 9; print(@i, 1, 2); exit(); }',
	"BEGIN { @a[1] = ntop(0x0100007f); @a[2] = ntop(0x0200007f); @k[1] = ksym(0); exit(); }",
	"BEGIN { @s[1] = stats(5); @s[2] = stats(7); print(@s, 1); print(@s, 0, 2); exit(); }",
	"BEGIN { @ = hist(0); @ = hist(1); @ = hist(4); @ = hist(4); @ = hist(8); @ = hist(9); @ = hist(9); exit(); }",
	'BEGIN { printf("a%%b\\n"); printf("%%%d %%|%d %%\\n", 5, 6); exit(); } END { printf("end\\n"); }',
	"BEGIN { @c = count(); clear(@c); print(@c); delete(@c); @d = count(); zero(@d); exit(); } END { @e = count(); clear(@e); }",
}

-- The same under -f json, and a few programs for what only JSON shows (empty maps, quoting).
local JSON_ONLY = {
	'BEGIN { @a = count(); @b[1, "x"] = sum(5); @b[2, "y"] = sum(3); @h = hist(5); @h = hist(0); ' ..
		'@hk[1] = hist(100); @l = lhist(5, 0, 10, 2); @l = lhist(-1, 0, 10, 2); @l = lhist(11, 0, 10, 2); ' ..
		'@s = stats(5); @av[1] = avg(3); @str["k"] = "v\\"q\\t"; @e[1] = count(); clear(@e); ' ..
		'printf("hello \\"%s\\"\\n", "w"); print(5); print("s"); print(@b); print(-5); exit(); }',
}

local function same_output(prog, flags)
	if not tw.have_bpftrace() then
		pending("bpftrace is not installed")
		return
	end
	local err = os.tmpname()
	local _, expected = support.sh("bpftrace " .. flags .. " -e " .. q(prog) .. " 2>" .. err)
	local expected_err = support.read_file(err):gsub("[^\n]*RLIMIT_MEMLOCK[^\n]*\n", "")
	local ok, got = support.sh(q(tw.LUABPF) .. " trace " .. flags .. " -e " .. q(prog) .. " 2>" .. err)
	local got_err = support.read_file(err)
	os.remove(err)
	assert(ok, got .. got_err)
	assert.are.equal(expected, got)
	assert.are.equal(expected_err, got_err) -- warnings included
end

describe("luabpf trace against bpftrace 0.17 on BEGIN-only programs", function()
	for _, prog in ipairs(BEGIN_ONLY) do
		it(prog, function() same_output(prog, "") end)
	end
	for _, prog in ipairs(BEGIN_ONLY) do
		it("-f json " .. prog, function() same_output(prog, "-f json") end)
	end
	for _, prog in ipairs(JSON_ONLY) do
		it("-f json " .. prog, function() same_output(prog, "-f json") end)
	end
end)

describe("luabpf trace against bpftrace 0.17", function()
	for _, case in ipairs(CASES) do
		it(case[1], function()
			if not tw.have_bpftrace() then
				pending("bpftrace is not installed (scripts/install-deps.sh installs it)")
				return
			end
			local expected, got = both(case[2], case[3])
			local same = case[4] or function(text) return text end
			assert.are.equal(same(expected), same(got))
		end)
	end

	it("prints kernel stacks as keys the way bpftrace does (frames differ by nature: their shape only)", function()
		if not tw.have_bpftrace() then
			pending("bpftrace is not installed")
			return
		end
		local prog = "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[kstack] = count(); }"
		local expected, got = both(prog, W .. " getppid 9")
		-- frames come and go with other tracers of the same tracepoint (__traceiter_*): the
		-- number of frames differs by nature too
		local function shape(s) return (s:gsub("(@%w*)%[\n[^%]]*%]", "%1[STACK]")) end
		assert.matches("@%[\n    [%w_.]+%+%d+\n", got)
		assert.are.equal(shape(expected), shape(got))
		-- perf mode and a frame limit: the same frames, as "<hex> sym+off" under a tab
		prog = "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[kstack(perf, 3)] = count(); @k[kstack(2)] = count(); }"
		expected, got = both(prog, W .. " getppid 4")
		assert.matches("@%[\n\t%x+ [%w_.]+%+%d+\n\t%x+ [%w_.]+%+%d+\n\t%x+ [%w_.]+%+%d+\n%]: 4\n", got)
		assert.matches("@k%[\n    [%w_.]+%+%d+\n    [%w_.]+%+%d+\n%]: 4\n", got)
		assert.are.equal(shape(expected), shape(got))
		-- stacks as values: printf's %s, map values, print(): indented by 8
		prog = "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf(\"%s|\\n\", kstack(2)); @s = kstack(2); " ..
			"@k[1] = kstack(perf, 2); print(@s); print(kstack(2)); exit(); }"
		expected, got = both(prog, W .. " getppid 1")
		assert.matches("^Attaching 1 probe%.%.%.\n\n        [%w_.]+%+%d+\n", got)
		local function frames(s)
			return (s:gsub("\t%x+ [%w_.]+%+%d+", "\tADDR FRAME"):gsub("\n( +)[%w_.]+%+%d+", "\n%1FRAME"))
		end
		assert.are.equal(frames(expected), frames(got))
	end)
end)
