-- Throw-away network set-ups for the attach specs: a network namespace joined to the root
-- namespace by a veth pair, on private test addresses (10.200.N.0/24) only.
--
--   local netns = require "support.netns"
--   local net = netns.create()        -- net.ns, net.host_if, net.ns_if, net.host_ip, net.ns_ip
--   net:send(src, dst, port, msg, n)  -- UDP datagrams from inside the namespace
--   ... finally(function() net:destroy() end)
--
-- destroy() removes the namespace and the veth (deleting one end deletes both) and is safe to
-- call twice or after a partial create.
local support = require "support.init"

local M = {}
local counter = 0

local function run(cmd)
	local ok, out = support.sh(cmd .. " 2>&1")
	if not ok then
		error("command failed: " .. cmd .. "\n" .. out, 2)
	end
	return out
end

local Net = {}
Net.__index = Net

function Net:destroy()
	if self.destroyed then return end
	self.destroyed = true
	support.sh("ip link del " .. self.host_if .. " 2>/dev/null")
	support.sh("ip netns del " .. self.ns .. " 2>/dev/null")
end

-- Runs a shell command inside the namespace.
function Net:exec(cmd)
	return support.sh("ip netns exec " .. self.ns .. " " .. cmd)
end

-- Sends count UDP datagrams of msg from address src inside the namespace to dst:port (netfix
-- send); a failure is an error carrying its output.
function Net:send(src, dst, port, msg, count)
	local ok, out = self:exec(("%s send %s %s %d %s %d 2>&1"):format(M.fixture("netfix"), src, dst,
		port, msg, count))
	if not ok then error("netfix send failed: " .. out, 2) end
end

-- extra_ips: more addresses for the namespace side (host byte 3, 4, ...).
function M.create(extra_ips)
	counter = counter + 1
	local pid = support.getpid()
	local subnet = 200 + (pid + counter) % 50 -- spread parallel runs a little
	local id = string.format("%d_%d", pid % 100000, counter)
	local net = setmetatable({
		ns = "lbpf_ns_" .. id,
		host_if = "lbh" .. id,
		ns_if = "lbn" .. id,
		host_ip = "10.200." .. subnet .. ".1",
		ns_ip = "10.200." .. subnet .. ".2",
		extra = {},
	}, Net)
	-- Interface names are limited to 15 characters.
	net.host_if = net.host_if:sub(1, 15)
	net.ns_if = net.ns_if:sub(1, 15)
	local ok, err = pcall(function()
		run("ip netns add " .. net.ns)
		run(("ip link add %s type veth peer name %s"):format(net.host_if, net.ns_if))
		run(("ip link set %s netns %s"):format(net.ns_if, net.ns))
		run(("ip addr add %s/24 dev %s"):format(net.host_ip, net.host_if))
		run(("ip link set %s up"):format(net.host_if))
		run(("ip -n %s addr add %s/24 dev %s"):format(net.ns, net.ns_ip, net.ns_if))
		for i = 1, extra_ips or 0 do
			local ip = "10.200." .. subnet .. "." .. (2 + i)
			run(("ip -n %s addr add %s/24 dev %s"):format(net.ns, ip, net.ns_if))
			net.extra[i] = ip
		end
		run(("ip -n %s link set %s up"):format(net.ns, net.ns_if))
		run(("ip -n %s link set lo up"):format(net.ns))
	end)
	if not ok then
		net:destroy()
		error(err, 2)
	end
	return net
end

-- An IPv4 address as the u32 a BPF program reads from a packet (network byte order), as the
-- map key integer on this little-endian machine.
function M.ip_key(ip)
	local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
	return tonumber(a) + tonumber(b) * 256 + tonumber(c) * 65536 + tonumber(d) * 16777216
end

-- Path of a test binary built by mk/attach.mk.
function M.fixture(name)
	return support.root .. "/build/fixtures/" .. name
end

-- Starts a UDP receiver (netfix recv) and waits until it is bound. Returns an object whose
-- :finish() waits for it to go quiet and returns { [source] = count }, total,
-- { [payload] = count }.
function M.receiver(addr, port, quiet_ms, prefix_cmd, cgroup)
	local cmd = ("%s%s recv %s %d %d %s"):format(prefix_cmd or "", M.fixture("netfix"), addr,
		port, quiet_ms or 700, cgroup or "")
	local p = assert(io.popen(cmd, "r"))
	local first = p:read("l")
	if first ~= "ready" then
		p:close()
		error("receiver did not start: " .. tostring(first))
	end
	return {
		finish = function()
			local from, total, payloads = {}, nil, {}
			for line in p:lines() do
				local src, payload = line:match("^from (%S+) (.*)$")
				if src then
					from[src] = (from[src] or 0) + 1
					payloads[payload] = (payloads[payload] or 0) + 1
				end
				total = tonumber(line:match("^total (%d+)")) or total
			end
			p:close()
			return from, total or 0, payloads
		end,
	}
end

-- A UDP port for one test, different across tests and concurrent runs.
local port_counter = 0
function M.port()
	port_counter = port_counter + 1
	return 20000 + (support.getpid() * 37 + port_counter) % 20000
end

-- The interpreter running this spec, for helper scripts run as separate processes.
function M.interpreter()
	if os.getenv("LBPF_TEST_LUA") then return os.getenv("LBPF_TEST_LUA") end
	return jit and "luajit" or "lua5.4"
end

-- Runs Lua code in a fresh interpreter of the same kind (LUA_CPATH finds the module); returns
-- success and the combined output.
function M.run_lua(code)
	local script = support.tmpname()
	support.write_file(script, code)
	local ok, out = support.sh(("%s %s 2>&1"):format(M.interpreter(), script))
	os.remove(script)
	return ok, out
end

return M
