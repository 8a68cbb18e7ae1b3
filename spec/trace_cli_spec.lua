-- `luabpf trace` (the static binary) and tools/trace.lua (the same under lua5.4 and luajit from
-- the checkout): -e, FILE.bt with arguments, -c with cpid, -d, --dump, exit statuses, errors on
-- stderr, and Ctrl-C printing the maps and exiting cleanly.
local support = require "support.init"
local tw = require "support.trace"

local q = support.quote

local RUNNERS = {
	{ name = "build/luabpf trace", cmd = q(tw.LUABPF) .. " trace" },
	{ name = "lua5.4 tools/trace.lua", cmd = "lua5.4 " .. q(support.root .. "/tools/trace.lua") },
	{ name = "luajit tools/trace.lua", cmd = "luajit " .. q(support.root .. "/tools/trace.lua") },
}

-- Runs a command; returns its exit status, stdout and stderr.
local function run(cmd)
	local err = os.tmpname()
	local _, out = support.sh(cmd .. " 2>" .. err .. "; echo \"rc=$?\"")
	local stderr = support.read_file(err)
	os.remove(err)
	local body, rc = out:match("^(.-)rc=(%d+)\n$")
	return tonumber(rc), body, stderr
end

for _, runner in ipairs(RUNNERS) do
	describe(runner.name, function()
		it("runs -e programs: BEGIN, printf, exit(), END, maps", function()
			local rc, out, err = run(runner.cmd .. " -e " ..
				q('BEGIN { @n = 3; printf("hello %s %d\\n", "world", 42); exit(); } END { printf("bye\\n"); }'))
			assert.are.equal(0, rc, err)
			assert.are.equal("Attaching 2 probes...\nhello world 42\nbye\n\n\n@n: 3\n", out)
			assert.are.equal("", err)
		end)

		it("traces a command given with -c (its pid is cpid) and stops when it exits", function()
			local rc, out, err = run(runner.cmd .. " -e " ..
				q("tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @calls = count(); }") ..
				" -c " .. q(tw.WORKLOAD .. " getppid 23"))
			assert.are.equal(0, rc, err)
			assert.are.equal("Attaching 1 probe...\n\n\n@calls: 23\n", out)
		end)

		it("stops when the process given with -p exits", function()
			local _, pid = support.sh(q(tw.WORKLOAD) .. " sleep 700 >/dev/null 2>&1 & echo $!")
			pid = tonumber(pid)
			local rc, out, err = run(runner.cmd .. " -p " .. pid .. " -e " ..
				q("tracepoint:syscalls:sys_enter_getppid { @calls = count(); } END { printf(\"end\\n\"); }"))
			assert.are.equal(0, rc, err)
			assert.matches("^Attaching 2 probes%.%.%.\nend\n\n\n", out)
		end)

		it("runs a FILE.bt with positional arguments for -d seconds", function()
			local path = os.tmpname()
			support.write_file(path, "BEGIN { printf(\"%s %d\\n\", str($1), $2); }\n" ..
				"interval:ms:100 { @ticks = count(); }\n")
			local rc, out, err = run(runner.cmd .. " " .. q(path) .. " abc -d 0.5 7")
			os.remove(path)
			assert.are.equal(0, rc, err)
			local ticks = tonumber(out:match("^Attaching 2 probes%.%.%.\nabc 7\n\n\n@ticks: (%d+)\n$"))
			assert.truthy(ticks and ticks >= 1 and ticks <= 8, out) -- every 100 ms for 0.5 s, on a loaded machine
		end)

		it("lists tracepoints with -l as bpftrace does, and writes to a file with -o", function()
			local rc, out, err = run(runner.cmd .. " -l " .. q("tracepoint:syscalls:sys_enter_getp*"))
			assert.are.equal(0, rc, err)
			if tw.have_bpftrace() then
				local _, expected = support.sh("bpftrace -l " .. q("tracepoint:syscalls:sys_enter_getp*"))
				local lines = {} -- its probe lines (other helpers' warnings on a shared machine aside)
				for l in expected:gmatch("tracepoint:[^\n]+") do lines[#lines + 1] = l end
				assert.are.equal(table.concat(lines, "\n") .. "\n", out)
			end
			assert.matches("\ntracepoint:syscalls:sys_enter_getppid\n", "\n" .. out)
			local path = os.tmpname()
			rc, out, err = run(runner.cmd .. " -o " .. q(path) .. " -e " .. q('BEGIN { printf("hi\\n"); exit(); }'))
			assert.are.equal(0, rc, err)
			assert.are.equal("", out)
			assert.are.equal("Attaching 1 probe...\nhi\n\n\n", support.read_file(path))
			os.remove(path)
		end)

		it("prints the generated programs with --dump and loads nothing", function()
			local rc, out, err = run(runner.cmd .. " --dump -e " .. q("tracepoint:syscalls:sys_enter_getppid { @ = count(); }"))
			assert.are.equal(0, rc, err)
			assert.matches("exit", out)
			assert.is_nil(out:find("Attaching", 1, true))
		end)

		it("reports compile errors on stderr with status 1, bad usage with status 2", function()
			local rc, out, err = run(runner.cmd .. " -e " .. q("BEGIN { @ = cuont(); }"))
			assert.are.equal(1, rc)
			assert.are.equal("", out)
			assert.matches("^stdin:1:%d+.*ERROR", err)
			assert.is_nil(err:find("traceback", 1, true))
			rc, _, err = run(runner.cmd .. " --frobnicate")
			assert.are.equal(2, rc)
			assert.matches("unknown option '%-%-frobnicate'", err)
			rc = run(runner.cmd .. " -d")
			assert.are.equal(2, rc)
			rc, _, err = run(runner.cmd .. " /nonexistent/x.bt")
			assert.are.equal(1, rc)
			assert.matches("cannot read", err)
		end)

		it("prints the maps and exits cleanly on Ctrl-C", function()
			local out = os.tmpname()
			local _, pid = support.sh(runner.cmd .. " -e " ..
				q("tracepoint:syscalls:sys_enter_getppid { @calls = count(); } END { printf(\"end\\n\"); }") ..
				" >" .. out .. " 2>&1 & echo $!")
			pid = tonumber(pid)
			assert(support.wait_until(function() return support.read_file(out):find("Attaching", 1, true) end, 10))
			support.sleep(0.2)
			support.sh(tw.WORKLOAD .. " getppid 10")
			support.sh("kill -INT " .. pid)
			assert(support.wait_until(function() return not io.open("/proc/" .. pid .. "/stat") end, 10),
				"still running after SIGINT")
			local text = support.read_file(out)
			os.remove(out)
			assert.matches("^Attaching 2 probes%.%.%.\nend\n\n\n@calls: %d+\n$", text) -- END counts, as in bpftrace
			assert.is_nil(text:find("interrupted", 1, true))
		end)
	end)
end

describe("bpf.trace at the REPL of build/luabpf", function()
	it("compiles and runs a program, prints handles as summaries and reads maps", function()
		local input = os.tmpname()
		support.write_file(input, 't = bpf.trace("BEGIN { @x = 41 + 1; @c = count(); }", { print = false })\n' ..
			't\nt:read("@x")\nt:format()\nt:close()\nt\n')
		local rc, out = run(q(tw.LUABPF) .. " < " .. input)
		os.remove(input)
		assert.are.equal(0, rc)
		assert.matches("bpf%.trace%(1 probe, maps: @x scalar, @c count; running%)", out)
		assert.matches("luabpf> 42\n", out)
		assert.truthy(out:find("@c: 1", 1, true) and out:find("@x: 42", 1, true), out) -- quoted or not
		assert.matches("bpf%.trace%(closed%)", out)
	end)
end)
