-- examples/nginx in a real nginx (Debian's nginx + libnginx-mod-http-lua, LuaJIT 2.1): the master
-- loads bpf/nginx_metrics.bpf.o and attaches it; /metrics and /events serve what the programs
-- count and emit; reload and worker restarts neither attach twice nor leak links; stopping nginx
-- detaches everything. nginx always runs the LuaJIT build (build/luajit/bpf.so), whichever
-- interpreter runs this spec.
local support = require "support.init"

local root = support.root
local run_sh = root .. "/examples/nginx/run.sh"

local q = support.quote

local function must(cmd)
	local ok, out = support.sh(cmd .. " 2>&1")
	assert(ok, "command failed: " .. cmd .. "\n" .. out)
	return out
end

-- A TCP port nobody listens on (ss lists the listening sockets).
local function free_port()
	local base = 20000 + support.getpid() % 20000
	for i = 0, 200 do
		local port = 20000 + (base + i * 7) % 40000
		local _, out = support.sh("ss -Htln 'sport = :" .. port .. "'")
		if not out:match("%S") then return port end
	end
	error("no free port found")
end

local function get(url)
	local ok, out = support.sh("curl -sS --max-time 5 " .. q(url) .. " 2>&1")
	assert(ok, "curl " .. url .. ": " .. out)
	return out
end

-- Every link id held by any process (from /proc/*/fdinfo), as a set id -> number of holders.
local function system_link_ids()
	local _, out = support.sh("grep -h '^link_id:' /proc/[0-9]*/fdinfo/* 2>/dev/null")
	local ids = {}
	for id in out:gmatch("link_id:%s*(%d+)") do ids[id] = (ids[id] or 0) + 1 end
	return ids
end

local function pids_of(cmd)
	local _, out = support.sh(cmd)
	local pids = {}
	for pid in out:gmatch("%d+") do pids[#pids + 1] = pid end
	return pids
end

local function alive(pid)
	return support.sh("kill -0 " .. pid .. " 2>/dev/null")
end

-- Sample lines of a /metrics body: name -> list of { labels = "k=v,...", value = number }.
-- Asserts the exposition format on the way: every sample's family has HELP and TYPE first.
local function parse_metrics(body)
	local samples, typed, helped = {}, {}, {}
	for line in body:gmatch("[^\n]+") do
		local kind, name, rest = line:match("^# (%u+) ([%w_:]+) (.*)$")
		if kind == "HELP" then
			helped[name] = true
		elseif kind == "TYPE" then
			assert(rest == "counter" or rest == "gauge", "bad TYPE line: " .. line)
			assert(helped[name], "TYPE before HELP for " .. name)
			typed[name] = rest
		else
			local sname, labels, value = line:match("^([%a_:][%w_:]*)(%b{}) (%S+)$")
			if not sname then
				sname, value = line:match("^([%a_:][%w_:]*) (%S+)$")
				labels = "{}"
			end
			assert(sname, "not a sample line: " .. line)
			assert(typed[sname], "sample before its TYPE line: " .. line)
			assert(tonumber(value), "value is not a number: " .. line)
			samples[sname] = samples[sname] or {}
			table.insert(samples[sname], { labels = labels, value = tonumber(value) })
		end
	end
	return samples
end

local function sample(samples, name, labels_pattern)
	for _, s in ipairs(samples[name] or {}) do
		if s.labels:match(labels_pattern) then return s.value end
	end
	return nil
end

local function link_ids(samples)
	local ids = {}
	for _, s in ipairs(samples.luabpf_link_info or {}) do
		ids[#ids + 1] = assert(s.labels:match('link_id="(%d+)"'))
	end
	table.sort(ids)
	return ids
end

describe("examples/nginx", function()
	local prefix, port, base, master

	local function metrics()
		return parse_metrics(get(base .. "/metrics"))
	end

	local function workers()
		return pids_of("ps -o pid= --ppid " .. master)
	end

	local function stop()
		if prefix then support.sh("bash " .. q(run_sh) .. " stop " .. q(prefix) .. " 2>&1") end
	end

	lazy_setup(function()
		local ok, err = pcall(function()
			prefix = must("mktemp -d /tmp/luabpf-nginx.XXXXXX"):gsub("%s+$", "")
			port = free_port()
			base = "http://127.0.0.1:" .. port
			must("bash " .. q(run_sh) .. " start " .. q(prefix) .. " " .. port)
			master = support.read_file(prefix .. "/logs/nginx.pid"):match("%d+")
			assert(master, "no pid file")
			assert(support.wait_until(function() return #workers() == 2 end, 10),
				"nginx workers did not start")
		end)
		if not ok then
			local _, log = support.sh("tail -n 30 " .. q((prefix or "/nonexistent") .. "/logs/error.log"))
			stop()
			error(tostring(err) .. "\nerror.log:\n" .. log, 0)
		end
	end)

	lazy_teardown(function()
		stop()
		if prefix and prefix:match("^/tmp/luabpf%-nginx%.") then os.execute("rm -rf " .. q(prefix)) end
	end)

	it("serves /metrics in the Prometheus text format with every family", function()
		local s = metrics()
		for _, name in ipairs { "luabpf_syscalls_total", "luabpf_net_packets_total",
			"luabpf_net_bytes_total", "luabpf_exec_events_total", "luabpf_exec_events_dropped_total",
			"luabpf_link_info", "luabpf_object_loaded_timestamp_seconds" } do
			assert.is_truthy(s[name], "no samples of " .. name)
		end
		assert.are.equal(4, #link_ids(s))
		-- nginx's own processes (the ones answering) are counted.
		assert.truthy(sample(s, "luabpf_syscalls_total", 'comm="nginx"'))
	end)

	it("counts this process's syscalls and loopback packets as they happen", function()
		local me = tostring(support.getpid())
		local pid_pat = 'pid="' .. me .. '"'
		local before = metrics()
		local calls0 = sample(before, "luabpf_syscalls_total", pid_pat) or 0
		local rx0 = sample(before, "luabpf_net_packets_total", 'device="lo",direction="rx"') or 0
		local tx0 = sample(before, "luabpf_net_packets_total", 'device="lo",direction="tx"') or 0
		support.do_syscalls(500) -- open + read + close each: at least 1500 syscalls
		for _ = 1, 5 do get(base .. "/metrics") end -- 5 more TCP connections over lo
		local after = metrics()
		local calls1 = sample(after, "luabpf_syscalls_total", pid_pat)
		assert.truthy(calls1, "no counter for this process (pid " .. me .. ")")
		assert.is_true(calls1 - calls0 >= 1500, ("syscalls moved by %d only"):format(calls1 - calls0))
		local rx1 = sample(after, "luabpf_net_packets_total", 'device="lo",direction="rx"')
		local tx1 = sample(after, "luabpf_net_packets_total", 'device="lo",direction="tx"')
		-- Each connection is at least SYN, SYN-ACK, ACK, request, response, FINs over lo.
		assert.is_true(rx1 - rx0 >= 5 * 5, ("lo rx moved by %d"):format(rx1 - rx0))
		assert.is_true(tx1 - tx0 >= 5 * 5, ("lo tx moved by %d"):format(tx1 - tx0))
	end)

	-- Runs a copy of /bin/true under a name of its own; returns that name.
	local exec_count = 0
	local function exec_marker()
		exec_count = exec_count + 1
		local name = ("lbpfev%d_%d"):format(support.getpid() % 100000, exec_count)
		must("cp /bin/true " .. q(prefix .. "/" .. name) .. " && " .. q(prefix .. "/" .. name))
		return name
	end

	local function wait_event(name)
		local found
		support.wait_until(function()
			found = get(base .. "/events?limit=500"):match('{[^{}]*"filename":"[^"]*/' .. name .. '"[^{}]*}')
			return found
		end, 10)
		return found
	end

	it("serves exec events drained from the ring buffer by a timer", function()
		local name = exec_marker()
		local ev = wait_event(name)
		assert.truthy(ev, "event for " .. name .. " never appeared in /events")
		assert.truthy(ev:match('"comm":"' .. name:sub(1, 15) .. '"'), ev)
		assert.truthy(ev:match('"pid":%d+'), ev)
		assert.truthy(ev:match('"seq":%d+'), ev)
		local body = get(base .. "/events?limit=1")
		assert.truthy(body:match('^{"next":%d+,"events":%[{.*}%]}'), body)
		assert.truthy(tonumber(sample(metrics(), "luabpf_exec_events_total", "{}")) >= 1)
	end)

	it("keeps one attachment when workers are killed and respawned", function()
		local ids = link_ids(metrics())
		local old = workers()
		for _, pid in ipairs(old) do os.execute("kill -KILL " .. pid) end
		assert.truthy(support.wait_until(function()
			local now = workers()
			if #now ~= 2 then return false end
			for _, p in ipairs(now) do
				for _, o in ipairs(old) do if p == o then return false end end
			end
			return true
		end, 10), "the master did not respawn its workers")
		assert.are.same(ids, link_ids(metrics()))
		-- The new worker 0 consumes the same ring buffer.
		assert.truthy(wait_event(exec_marker()), "no events after the workers were replaced")
	end)

	it("replaces the attachment on reload without leaking the old links", function()
		local old_ids = link_ids(metrics())
		local old_workers = workers()
		must("bash " .. q(run_sh) .. " reload " .. q(prefix))
		local new_ids
		assert.truthy(support.wait_until(function()
			local ok, body = pcall(get, base .. "/metrics")
			new_ids = ok and link_ids(parse_metrics(body)) or {}
			return #new_ids == 4 and new_ids[1] ~= old_ids[1]
		end, 10), "metrics still show the old links after reload")
		assert.truthy(support.wait_until(function()
			for _, pid in ipairs(old_workers) do
				if alive(pid) then return false end
			end
			return true
		end, 15), "old workers did not exit")
		local held = system_link_ids()
		for _, id in ipairs(old_ids) do
			assert.is_nil(held[id], "old link " .. id .. " is still held by a process")
		end
		-- Each new link is held by the master and its two workers, nobody else.
		for _, id in ipairs(new_ids) do
			assert.are.equal(3, held[id], "link " .. id .. " holders")
		end
		assert.truthy(wait_event(exec_marker()), "no events after reload")
	end)

	it("detaches everything when nginx stops", function()
		local ids = link_ids(metrics())
		stop()
		assert.is_false(alive(master))
		local held = system_link_ids()
		for _, id in ipairs(ids) do
			assert.is_nil(held[id], "link " .. id .. " survived nginx")
		end
	end)
end)
