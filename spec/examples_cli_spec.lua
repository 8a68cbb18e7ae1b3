-- The example scripts as command-line tools (issue 14): every one answers -h and --help with its
-- usage on stdout and exit status 0, and Ctrl-C (a real SIGINT while it runs) stops the long-
-- running ones cleanly through bpf.cli's app:run: exit status 0, what they print at the end
-- (totals, histograms) printed, no traceback and no "interrupted!" on stderr — under the
-- interpreters and under the static binary, which handles SIGINT as they do.
local support = require "support.init"

local root, q = support.root, support.quote
local interp = rawget(_G, "jit") and "luajit" or "lua5.4"

local scripts = { "syscount", "runqlat", "execsnoop", "xdp_firewall", "cgroup_ingress",
	"uprobe_malloc", "events_luv", "events_cqueues" }

local function has_module(name)
	return (support.sh(interp .. " -e 'require \"" .. name .. "\"' 2>/dev/null"))
end

describe("example scripts", function()
	for _, name in ipairs(scripts) do
		it(name .. ".lua -h and --help print its usage and exit 0", function()
			for _, flag in ipairs({ "-h", "--help" }) do
				local ok, out = support.sh(("cd %s && %s examples/%s.lua %s 2>&1"):format(q(root), interp,
					name, flag))
				assert(ok, out)
				assert.truthy(out:match("^usage: " .. name .. "%.lua"), out)
				assert.falsy(out:match("unknown"), out)
			end
		end)
	end

	-- Runs the script in the background, waits for ready on its stdout, sends SIGINT, waits
	-- for the end; returns exit status, stdout, stderr.
	local dirs = {}
	lazy_teardown(function()
		for _, d in ipairs(dirs) do os.execute("rm -rf " .. q(d)) end
	end)

	local function interrupt(name, args, ready, runner)
		local ok, dir = support.sh("mktemp -d /tmp/firsthour_int.XXXXXX")
		assert(ok, dir)
		dir = dir:gsub("%s+$", "")
		dirs[#dirs + 1] = dir
		-- the whole background job off the pipe support.sh reads, or it waits for the job
		local cmd = ("(cd %s && { %s examples/%s.lua %s >%s/out 2>%s/err & echo $! >%s/pid; wait $!; " ..
			"echo $? >%s/status; }) >/dev/null 2>&1 </dev/null &"):format(q(root), runner or interp, name, args,
			dir, dir, dir, dir)
		assert(support.sh(cmd))
		local function file(f)
			local h = io.open(dir .. "/" .. f, "rb")
			if not h then return nil end
			local s = h:read("*a")
			h:close()
			return s
		end
		local started = support.wait_until(function()
			local out = file("out")
			return out and out:match(ready) and file("pid")
		end, 10)
		assert.truthy(started, "never ready: " .. tostring(file("out")) .. tostring(file("err")))
		support.sleep(0.3)
		assert(support.sh("kill -INT " .. file("pid"):gsub("%s+$", "")))
		-- the shell creates the file before it writes the number: wait for the number
		local status = support.wait_until(function() return (file("status") or ""):match("%d+") end, 10)
		return tonumber(status), file("out"), file("err")
	end

	local function clean(status, out, err)
		assert.are.equal(0, status, "exit status; stderr: " .. tostring(err))
		assert.falsy(err:match("traceback"), err)
		assert.falsy(err:match("interrupted!"), err)
		return out
	end

	it("syscount: Ctrl-C stops it cleanly", function()
		local out = clean(interrupt("syscount", "-d 30", "counting syscalls"))
		assert.truthy(out:match("counting syscalls for 30 s"), out)
	end)

	it("runqlat: Ctrl-C prints the histogram so far", function()
		local out = clean(interrupt("runqlat", "-d 30", "Tracing run queue latency"))
		assert.truthy(out:match("@usecs"), out)
	end)

	it("runqlat under the static binary: Ctrl-C prints the histogram so far", function()
		local out = clean(interrupt("runqlat", "-d 30", "Tracing run queue latency",
			q(root .. "/build/luabpf")))
		assert.truthy(out:match("@usecs"), out)
	end)

	it("execsnoop: Ctrl-C stops it cleanly", function()
		local out = clean(interrupt("execsnoop", "", "PID%s+PPID"))
		assert.truthy(out:match("FILENAME"), out)
	end)

	it("uprobe_malloc: Ctrl-C prints the sizes so far", function()
		local ok, pid = support.sh("sleep 60 >/dev/null 2>&1 & echo $!")
		assert(ok, pid)
		pid = pid:gsub("%s+$", "")
		local status, out, err = interrupt("uprobe_malloc", "-p " .. pid .. " -d 30", "attached to malloc")
		os.execute("kill " .. pid)
		out = clean(status, out, err)
		assert.truthy(out:match("calls %d+, bytes %d+"), out)
	end)

	it("events_luv: Ctrl-C ends the loop", function()
		if not has_module("luv") then pending("luv is not installed") return end
		-- the loop prints execs as they come: a tick runs /bin/true twice a second
		clean(interrupt("events_luv", "30", "true"))
	end)

	it("events_cqueues: Ctrl-C ends the loop", function()
		if not has_module("cqueues") then pending("cqueues is not installed") return end
		-- any exec line (the script's own os.execute starts a shell now and then)
		clean(interrupt("events_cqueues", "30", "%d+%s+%d+%s+%S+%s+/"))
	end)
end)
