-- Where luabpf trace follows bpftrace 0.17 beyond the language: lost events when the ring buffer
-- is full, -l listings, -v/-k/--unsafe, warnings; against the real kernel and, where it runs
-- here, Debian's bpftrace itself.
local bpf = require "bpf"
local support = require "support.init"
local tw = require "support.trace"

local q = support.quote

local GETPPID_PRINTF = "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { printf(\"%d\\n\", tid); }"

describe("lost events", function()
	it("counts the records the ring buffer had no room for: printed + lost = fired", function()
		local n = 100000 -- the 256 KiB ring buffer holds about 11,000 of these records
		local w = tw.start("getppid " .. n)
		local out = {}
		local t = assert(bpf.trace(GETPPID_PRINTF, { cpid = w.pid,
			on_printf = function(text) out[#out + 1] = text end }))
		w:go() -- nothing read while it runs: the buffer fills up
		repeat local got = t:poll(0) until got == 0
		local lost = t:lost()
		local printed, reported = 0, 0
		for _, text in ipairs(out) do
			local l = text:match("^Lost (%d+) events\n$")
			if l then reported = reported + tonumber(l)
			else
				assert.are.equal(tostring(w.pid) .. "\n", text)
				printed = printed + 1
			end
		end
		assert.is_true(lost > 0 and printed > 0)
		assert.are.equal(n, printed + lost)
		assert.are.equal(lost, reported) -- "Lost N events" lines, as bpftrace prints them
		t:close()
	end)

	it("prints bpftrace's 'Lost N events' lines from luabpf trace, -f json too", function()
		local n = 400000
		for _, flags in ipairs({ "", "-f json" }) do
			local ok, out = support.sh(q(tw.LUABPF) .. " trace " .. flags .. " -e " .. q(GETPPID_PRINTF) ..
				" -c " .. q(tw.WORKLOAD .. " getppid " .. n) .. " 2>&1")
			assert(ok, out)
			local printed, lost = 0, 0
			for line in out:gmatch("[^\n]+") do
				local l = line:match("^Lost (%d+) events$") or
					line:match('^{"type": "lost_events", "data": {"events": (%d+)}}$')
				if l then lost = lost + tonumber(l)
				elseif line:match("^%d+$") or line:match('^{"type": "printf", "data": "%d+\\n"}$') then
					printed = printed + 1
				end
			end
			assert.are.equal(n, printed + lost)
		end
	end)

	it("is 0 for a trace that kept up, and nothing is printed", function()
		local w = tw.start("getppid 50")
		local out = {}
		local t = assert(bpf.trace(GETPPID_PRINTF, { cpid = w.pid,
			on_printf = function(text) out[#out + 1] = text end }))
		w:go()
		t:poll(0)
		assert.are.equal(0, t:lost())
		assert.are.equal(50, #out)
		t:close()
	end)
end)

-- stderr of a tool for PROGRAM (BEGIN-only programs: nothing differs by nature), without
-- bpftrace's memlock warning.
local function stderr_of(tool, prog)
	local err = os.tmpname()
	support.sh(tool .. " -e " .. q(prog) .. " >/dev/null 2>" .. err)
	local text = support.read_file(err):gsub("[^\n]*RLIMIT_MEMLOCK[^\n]*\n", "")
	os.remove(err)
	return text
end

describe("compiler warnings", function()
	local PROG = 'BEGIN { $a = -5; $b = 2; $c = $a % $b; @s = stats(1); print(@s, 1, 2); @d = $a / $b; ' ..
		'@e = 10 / 3; @f = (uint64)$a / 2; @g = -7 / 2; exit(); }'

	it("warns of signed division and print(@stats, top, div) as bpftrace 0.17, on stderr", function()
		local got = stderr_of(q(tw.LUABPF) .. " trace", PROG)
		assert.matches("stdin:1:34%-35: WARNING: signed operands for '%%' can lead to undefined behavior " ..
			"%(cast to unsigned to silence warning%)\n", got)
		assert.matches("stdin:1:55%-70: WARNING: print%(%)'s top and div arguments are ignored when used on stats%(%) maps%.\n" ..
			"[^\n]*\n" .. string.rep(" ", 54) .. string.rep("~", 15) .. "\n", got)
		assert.matches("stdin:1:80%-81: WARNING: signed operands for '/'", got)
		assert.not_matches("stdin:1:95", got) -- 10 / 3: literals >= 0 count as unsigned
		assert.not_matches("stdin:1:113", got) -- a cast to unsigned silences it
		if tw.have_bpftrace() then assert.are.equal(stderr_of("bpftrace", PROG), got) end
	end)

	it("warns of integers of different signs as bpftrace 0.17, literals and constants >= 0 unsigned", function()
		local prog = 'tracepoint:syscalls:sys_enter_read { $x = -1; if (args->count > $x) { @a = 1; } ' ..
			'@c = args->fd + args->count; @d = pid - $x; if (pid > -5) { @e = 1; } if (cpu < 2) { @g = 1; } ' ..
			'@h = $x / pid; $p = (int32)args->fd; if ($p < (uint8)2) { @i = 1; } }'
		local err = os.tmpname()
		support.sh(q(tw.LUABPF) .. " trace --dump -e " .. q(prog) .. " >/dev/null 2>" .. err)
		local got = support.read_file(err)
		os.remove(err)
		assert.matches("stdin:1:63%-64: WARNING: comparison of integers of different signs: 'unsigned int64' and " ..
			"'int64' can lead to undefined behavior\n", got)
		assert.matches("WARNING: arithmetic on integers of different signs: 'unsigned int64' and 'int64'", got)
		assert.matches("'int32' and 'unsigned int8'", got)
		local _, n = got:gsub("WARNING", "")
		assert.are.equal(6, n) -- 2 counts as unsigned; $x / pid warns twice
		-- constants from headers and BTF count as literals too
		assert.are.same({}, assert(bpf.trace.compile("BEGIN { if (cpu < AF_INET) { exit(); } }")).warnings)
		if tw.have_bpftrace() then
			support.sh("bpftrace -d -e " .. q(prog) .. " >/dev/null 2>" .. err)
			-- its warnings, after its own complaints (memlock, available_filter_functions)
			local expected = support.read_file(err):match("stdin:1:.*$")
			os.remove(err)
			assert.are.equal(expected, got)
		end
	end)

	it("warns of a comparison with a literal longer than the string, as bpftrace 0.17", function()
		local prog = 'BEGIN { if (comm == "abcdefghijklmnopqrstuvwxyz") { exit(); } @b = comm == "abcdefghijklmnopqrstuvwxyz"; ' ..
			'@c = comm != "abcdefghijklmnopqrstuvwxyz"; @d = comm == "abcdefghijklmnop"; exit(); }'
		local got = stderr_of(q(tw.LUABPF) .. " trace", prog)
		assert.matches("^stdin:1:12%-49: WARNING: The literal is longer than the variable string %(size=16%), " ..
			"condition will always be false\n[^\n]*\n           ~+\nstdin:1:68%-104: WARNING", got)
		local _, n = got:gsub("WARNING", "")
		assert.are.equal(2, n) -- only ==, and only a literal longer than 16
		if tw.have_bpftrace() then assert.are.equal(stderr_of("bpftrace", prog), got) end
	end)

	it("hands warnings to opts.on_warning from Lua, once each, and the program still runs", function()
		local warnings = {}
		local t = assert(bpf.trace("tracepoint:syscalls:sys_enter_read,tracepoint:syscalls:sys_enter_write " ..
			"{ $x = (int64)args->count; @[$x / 2] = count(); }",
			{ on_warning = function(w) warnings[#warnings + 1] = w end, attach = false }))
		assert.are.equal(1, #warnings) -- one action, two attach points: one warning
		assert.matches("^stdin:1:%d+%-%d+: WARNING: signed operands for '/'", warnings[1])
		assert.are.same(t.plan.warnings, warnings)
		t:close()
	end)
end)

-- stdout of a command line (stderr dropped).
local function stdout_of(cmd)
	local _, out = support.sh(cmd .. " 2>/dev/null")
	return out
end

describe("luabpf trace -l", function()
	local target = support.root .. "/build/fixtures/probe_target"
	local PATTERNS = { "tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:*open*", "tracepoint:*sleep*",
		"t:sched:*", "uprobe:/bin/bash:read*", "usdt:" .. target .. ":*", "iter:*", "kprobe:vfs_*" }

	it("lists what bpftrace 0.17 lists, in its order, with -lv's arguments", function()
		for _, pat in ipairs(PATTERNS) do
			for _, flag in ipairs({ "-l", "-lv" }) do
				local got = stdout_of(q(tw.LUABPF) .. " trace " .. flag .. " " .. q(pat))
				if tw.have_bpftrace() then
					assert.are.equal(stdout_of("bpftrace " .. flag .. " " .. q(pat)), got, flag .. " " .. pat)
				end
			end
		end
		local out = stdout_of(q(tw.LUABPF) .. " trace -lv tracepoint:syscalls:sys_enter_openat")
		assert.are.equal("tracepoint:syscalls:sys_enter_openat\n    int __syscall_nr\n    int dfd\n" ..
			"    const char * filename\n    int flags\n    umode_t mode\n", out)
	end)

	it("shows a kfunc's arguments from BTF as bpftrace's -lv (libbpf's declarations)", function()
		-- listing kfuncs needs fentry, which this kernel refuses: the argument lines alone
		local list = require "bpf.trace.list"
		assert.are.same({ "struct file * file", "const char * buf", "size_t count", "loff_t * pos", "ssize_t retval" },
			list.kfunc_args("vmlinux:vfs_write"))
		assert.are.same({ "const void * object" }, list.kfunc_args("vmlinux:kfree"))
	end)

	it("lists a binary's uprobes from its ELF symbols and its USDT probes from its notes", function()
		local out = stdout_of(q(tw.LUABPF) .. " trace -l " .. q("uprobe:" .. target .. ":*"))
		assert.matches("\nuprobe:" .. target:gsub("%p", "%%%0") .. ":lbpf_fixture_add\n", out)
		out = stdout_of(q(tw.LUABPF) .. " trace -l " .. q("usdt:" .. target .. ":*"))
		assert.matches("^usdt:" .. target:gsub("%p", "%%%0") .. ":lbpf_fixture:args\n", out)
	end)

	it("lists every kind of probe the kernel offers with no pattern, software and hardware events by name", function()
		local out = stdout_of(q(tw.LUABPF) .. " trace -l")
		for _, line in ipairs({ "hardware:cpu-cycles:", "iter:task", "iter:task_file", "software:cpu-clock:",
			"tracepoint:syscalls:sys_enter_getppid" }) do
			assert.matches("\n" .. line:gsub("%p", "%%%0") .. "\n", "\n" .. out)
		end
		local ok, err = support.sh(q(tw.LUABPF) .. " trace -l 'bogus:*' 2>&1")
		assert.is_false(ok)
		assert.matches("Invalid probe type: bogus", err)
	end)
end)

describe("luabpf trace -v, -k, --unsafe", function()
	local PROG = 'BEGIN { printf("hi\\n"); exit(); } END { printf("x\\n"); }'

	it("-v prints each program's id and verifier log, and 'Attaching PROBE' on stderr, as bpftrace", function()
		local err = os.tmpname()
		local ok, out = support.sh(q(tw.LUABPF) .. " trace -v -e " .. q(PROG) .. " 2>" .. err)
		local stderr = support.read_file(err)
		os.remove(err)
		assert(ok, out .. stderr)
		assert.matches("^Attaching 2 probes%.%.%.\n\nProgram ID: %d+\n\nThe verifier log: \nprocessed %d+ insns", out)
		local _, n = out:gsub("Program ID: %d+\n", "")
		assert.are.equal(2, n)
		assert.matches("\nhi\nx\n\n\n$", out)
		assert.are.equal("Attaching BEGIN\nAttaching END\n", stderr)
	end)

	-- a full map, a missing key deleted, a string read from address 0, a missing key read
	local KPROG = 'BEGIN { @x[1] = 1; @x[2] = 2; delete(@x[5]); $s = str(0); printf("%s|\\n", $s); ' ..
		'@y[1] = 1; $v = @y[3]; @x[7] += 3; if (@y[4]) { exit(); } exit(); }'

	it("-k and -kk report failed helpers on the output as bpftrace 0.17 (text and JSON)", function()
		for _, flags in ipairs({ "-k", "-kk", "-f json -kk" }) do
			local cmd = " trace " .. flags .. " -e " .. q(KPROG) .. " 2>/dev/null"
			local ok, got = support.sh("BPFTRACE_MAP_KEYS_MAX=1 " .. q(tw.LUABPF) .. cmd)
			assert(ok, got)
			if flags == "-k" then
				assert.matches("\nstdin:1:26%-27: WARNING: Failed to map_update_elem: Argument list too long %(%-7%)\n" ..
					"[^\n]+\n" .. string.rep(" ", 25) .. "~\n", got)
				assert.matches("stdin:1:31%-44: WARNING: Failed to map_delete_elem: No such file or directory %(%-2%)", got)
				assert.not_matches("probe_read", got)
			elseif flags == "-kk" then
				assert.matches("stdin:1:51%-57: WARNING: Failed to probe_read_str: Bad address %(%-14%)", got)
				assert.matches("WARNING: Failed to map_lookup_elem: 0\n", got)
			end
			if tw.have_bpftrace() then
				local _, expected = support.sh("BPFTRACE_MAP_KEYS_MAX=1 bpftrace" .. cmd)
				assert.are.equal(expected, got)
			end
		end
	end)

	it("-k from Lua: opts.helper_check; programs without it are unchanged", function()
		local plain = assert(bpf.trace.compile(KPROG)).text
		local checked = assert(bpf.trace.compile(KPROG, { helper_check = 2 })).text
		assert.is_true(#checked > #plain)
		local out = {}
		local t = assert(bpf.trace(KPROG, { helper_check = 1, max_entries = 1,
			on_printf = function(text) out[#out + 1] = text end }))
		t:run()
		t:close()
		out = table.concat(out)
		assert.matches("Failed to map_update_elem: Argument list too long %(%-7%)", out)
		assert.matches("Failed to map_delete_elem: No such file or directory %(%-2%)", out)
	end)

	it("--unsafe is accepted", function()
		local ok, out = support.sh(q(tw.LUABPF) .. " trace --unsafe -e " .. q(PROG) .. " 2>&1")
		assert(ok, out)
		assert.are.equal("Attaching 2 probes...\nhi\nx\n\n\n", out)
		ok, out = support.sh(q(tw.LUABPF) .. " trace -kkk -e " .. q(PROG) .. " 2>&1")
		assert.is_false(ok)
		assert.matches("%-k is given at most twice", out)
	end)
end)

describe("messages", function()
	it("show the source line with tabs as 4 spaces and tildes under the place, as bpftrace", function()
		local plan, err = bpf.trace.compile("BEGIN {\n\t@x = cuont();\n}")
		assert.is_nil(plan)
		assert.matches("^stdin:2:7%-12: ERROR: [^\n]*\n    @x = cuont%(%);\n         ~~~~~$", err)
		plan = assert(bpf.trace.compile("BEGIN {\n\t$a = -1; $b = $a\t/ 2;\n}"))
		assert.are.same({ "stdin:2:19-20: WARNING: signed operands for '/' can lead to undefined behavior " ..
			"(cast to unsigned to silence warning)\n    $a = -1; $b = $a    / 2;\n" .. string.rep(" ", 24) .. "~" }, plan.warnings)
	end)
end)

describe("printf's fast path", function()
	local format = require "bpf.trace.format"

	it("prints what the general path prints, for every flag, width, precision, length and conversion", function()
		local vals = { 0, 1, -1, 7, -7, 255, 65535, 65536, 2147483647, -2147483648, 4294967295, 4294967301,
			1234567890123 }
		if math.type then vals[#vals + 1] = math.maxinteger; vals[#vals + 1] = math.mininteger end
		local n = 0
		for _, f in ipairs({ "", "-", "0", "+", " ", "-0", "+0", "- ", "#", "0#" }) do
			for _, w in ipairs({ "", "5", "12", "120" }) do
				for _, p in ipairs({ "", ".0", ".3" }) do
					for _, l in ipairs({ "", "l", "ll", "h", "hh", "z", "j" }) do
						for _, c in ipairs({ "d", "i", "u", "x", "X", "o" }) do
							local fmt = "%" .. f .. w .. p .. l .. c .. "|%%"
							for _, v in ipairs(vals) do
								assert.are.equal(format.printf(fmt, { v }, true), format.printf(fmt, { v }), fmt)
								n = n + 1
							end
						end
					end
				end
			end
		end
		for _, f in ipairs({ "", "-", "0" }) do
			for _, w in ipairs({ "", "3", "16", "120" }) do
				for _, p in ipairs({ "", ".0", ".2", ".30" }) do
					for _, v in ipairs({ "", "a", "trace_workload", "abc\0def", string.rep("x", 40) }) do
						local fmt = "<%" .. f .. w .. p .. "s>"
						assert.are.equal(format.printf(fmt, { v }, true), format.printf(fmt, { v }), fmt)
						n = n + 1
					end
				end
			end
		end
		assert.is_true(n > 50000)
		assert.are.equal("a%%b\n", format.printf("a%%b\n", {})) -- no conversion: the text as it is
	end)
end)
