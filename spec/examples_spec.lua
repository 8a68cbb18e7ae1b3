-- The examples (examples/*.lua) run as their own processes, briefly (a duration argument), on
-- real events: scheduler activity, packets through a veth into a test namespace, packets to a
-- process in a test cgroup, malloc calls of a child process.
local support = require "support.init"
local netns = require "support.netns"

local LUA = netns.interpreter()

local function example(name, args)
	return ("cd %s && %s examples/%s.lua %s 2>&1"):format(support.root, LUA, name, args)
end

-- Starts an example that prints one line once attached; returns that line and a function
-- returning the rest of its output once it exits.
local function start(name, args)
	local p = assert(io.popen(example(name, args), "r"))
	local first = p:read("l")
	return first, function()
		local rest = p:read("a")
		p:close()
		return rest
	end
end

describe("examples/runqlat.lua", function()
	it("prints a run queue latency histogram", function()
		local ok, out = support.sh(example("runqlat", "-d 1"))
		assert(ok, out)
		assert.matches("Tracing run queue latency", out)
		assert.matches("\n@usecs:\n", out)
		assert.matches("\n%[[%d, KM]+[%])]%s+%d+ |@+ *|\n", out)
	end)

	it("emits JSON", function()
		local ok, out = support.sh(example("runqlat", "-d 0.5 --json"))
		assert(ok, out)
		assert.matches('^{"data":{"@usecs":%[{"count":%d+,"max":%d+,"min":%d+}', out)
	end)

	it("explains bad arguments", function()
		local ok, out = support.sh(example("runqlat", "-x"))
		assert.is_false(ok)
		assert.matches("unknown argument '%-x'\nusage:", out)
	end)
end)

describe("examples/xdp_firewall.lua", function()
	local net
	before_each(function() net = netns.create(1) end)
	after_each(function() net:destroy() end)

	it("drops packets from the blocked address only", function()
		local blocked = net.extra[1]
		local first, finish = start("xdp_firewall", ("%s %s -d 2"):format(net.host_if, blocked))
		assert.equal("attached to " .. net.host_if .. ", blocking " .. blocked, first)
		local fix = netns.fixture("netfix")
		local port = netns.port()
		assert(net:exec(("%s send %s %s %d ok 5"):format(fix, net.ns_ip, net.host_ip, port)))
		assert(net:exec(("%s send %s %s %d no 4"):format(fix, blocked, net.host_ip, port)))
		local out = finish()
		assert.matches("dropped per blocked address:\n  " .. blocked:gsub("%.", "%%.") .. "%s+4\n", out)
		local passed = tonumber(out:match("passed (%d+)%s+dropped %d+\ndropped per"))
		assert.is_true(passed >= 5, out)
	end)

	it("explains a missing interface", function()
		local ok, out = support.sh(example("xdp_firewall", "lbpf_no_such0 10.0.0.1 -d 1"))
		assert.is_false(ok)
		assert.matches("no network interface 'lbpf_no_such0'", out)
	end)
end)

describe("examples/cgroup_ingress.lua", function()
	local cg
	before_each(function()
		cg = ("/sys/fs/cgroup/unified/lbpf_example_%d"):format(support.getpid())
		assert(support.sh("mkdir -p " .. cg))
	end)
	after_each(function()
		support.wait_until(function() return support.sh("rmdir " .. cg .. " 2>/dev/null") end, 3)
	end)

	for _, deny in ipairs { false, true } do
		it(deny and "denies the cgroup's packets" or "counts the cgroup's packets", function()
			local first, finish = start("cgroup_ingress", cg .. (deny and " --deny" or "") .. " -d 2")
			assert.matches("^attached to " .. cg:gsub("%p", "%%%0"), first)
			local port = netns.port()
			local rx = netns.receiver("127.0.0.1", port, 500, nil, cg)
			assert(support.sh(("%s send 127.0.0.1 127.0.0.1 %d hi 4"):format(netns.fixture("netfix"), port)))
			local _, received = rx.finish()
			local out = finish()
			local packets, bytes, denied = out:match("total: packets (%d+) bytes (%d+) denied (%d+)")
			assert.is_truthy(packets, out)
			assert.is_true(tonumber(packets) >= 4, out)
			assert.is_true(tonumber(bytes) >= 4 * 2, out)
			if deny then
				assert.equal(0, received)
				assert.is_true(tonumber(denied) >= 4, out)
			else
				assert.equal(4, received)
				assert.equal("0", denied)
			end
		end)
	end
end)

describe("examples/uprobe_malloc.lua", function()
	it("counts a child process's malloc calls by size", function()
		-- bash allocates with libc malloc for every new string of the loop
		local _, pid = support.sh("bash -c 'i=0; while [ $i -lt 3000000 ]; do s=\"abc$i\"; " ..
			"i=$((i+1)); done' >/dev/null 2>&1 & echo $!")
		pid = tonumber(pid)
		local ok, out = support.sh(example("uprobe_malloc", "-p " .. pid .. " -d 1"))
		local _, jout = support.sh(example("uprobe_malloc", "-p " .. pid .. " -d 0.5 --json"))
		support.sh("kill " .. pid)
		assert(ok, out)
		assert.matches("^attached to malloc in /proc/" .. pid .. "/root/%S*libc", out)
		assert.matches("\n@bytes:\n", out)
		local calls = tonumber(out:match("\ncalls (%d+), bytes %d+"))
		assert.is_true(calls > 0, out)
		assert.matches('^{"data":{"@bytes":%[{"count":%d+', jout)
	end)

	it("explains a process that does not exist", function()
		local ok, out = support.sh(example("uprobe_malloc", "-p 999999999 -d 1"))
		assert.is_false(ok)
		assert.matches("process 999999999 does not exist", out)
	end)
end)

describe("examples/trace_opens.lua", function()
	it("reports the files a process opened, from a bpftrace program compiled in-process", function()
		local path = os.tmpname() -- a file name nobody else opens
		local first, finish = start("trace_opens", "-d 2 -n 100000")
		assert.matches("^tracing openat for 2 s: bpf%.trace%(1 probe", first)
		assert(support.sh(support.root .. "/build/fixtures/trace_workload open 13 " .. path))
		local out = finish()
		os.remove(path)
		assert.matches("\n%s+13  trace_workload: " .. path:gsub("%p", "%%%0") .. "\n", out)
	end)
end)
