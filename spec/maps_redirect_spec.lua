-- devmap, cpumap and xskmap carrying real packets: UDP datagrams sent from a test namespace
-- reach an XDP program on the host end of its veth, which redirects them through the map set
-- from Lua; the programs the map entries run and the receiving side count what arrived.
local bpf = require "bpf"
local support = require "support.init"
local netns = require "support.netns"

local REDIRECT = support.obj("maps_redirect")
local NETFIX = netns.fixture("netfix")
local REDIRECTED, DEV_EGRESS, CPU_RAN, RECEIVED, CPU_SEEN = 0, 1, 2, 3, 4

local function send(net, port, count)
	net:send(net.ns_ip, net.host_ip, port, "redirect", count)
end

-- The highest online CPU (the cpumap's kthread for it runs there).
local function last_online_cpu()
	local online = support.read_file("/sys/devices/system/cpu/online") or "0"
	local last = 0
	for n in online:gmatch("%d+") do last = math.max(last, tonumber(n)) end
	return last
end

-- Attaches a pinned program to an interface of another namespace with iproute2. nsenter, not
-- `ip netns exec`: the latter remounts /sys for the namespace, hiding the bpffs pin.
local function attach_in_namespace(net, prog)
	local pin = ("/sys/fs/bpf/lbpf_spec_redirect_%d"):format(support.getpid())
	os.remove(pin)
	assert(prog:pin(pin))
	local ok, out = support.sh(("nsenter --net=/run/netns/%s ip link set dev %s xdp pinned %s 2>&1")
		:format(net.ns, net.ns_if, pin))
	os.remove(pin)
	assert(ok, out)
end

describe("XDP redirects through maps set from Lua", function()
	local obj, nets

	before_each(function()
		obj = assert(bpf.load(REDIRECT))
		nets = {}
	end)
	after_each(function()
		obj:close()
		for _, net in ipairs(nets) do net:destroy() end
	end)

	local function new_net()
		local net = netns.create()
		nets[#nets + 1] = net
		return net
	end

	it("devmap: datagrams leave by the device in the map, through the entry's egress program", function()
		local from, to = new_net(), new_net()
		local port = netns.port()
		obj.maps.config[0] = port
		obj.maps.tx_port[0] = { ifindex = to.host_if, prog = obj.programs.dev_egress }
		assert.equal(obj.programs.dev_egress:info().id, obj.maps.tx_port[0].prog_id)
		-- A veth transmits redirected frames only when its peer runs XDP: the counter there.
		attach_in_namespace(to, obj.programs.arrived)
		local link = assert(obj.programs.to_device:attach_xdp(from.host_if))
		local host = netns.receiver(from.host_ip, port, 500)
		send(from, port, 6)
		local _, host_got = host:finish()
		link:detach()
		assert.equal(6, obj.maps.counts[REDIRECTED])
		assert.equal(6, obj.maps.counts[DEV_EGRESS])
		assert.equal(6, obj.maps.counts[RECEIVED])
		assert.equal(0, host_got) -- redirected away from the host's own stack
	end)

	it("devmap: an entry removed from Lua stops the redirect (the frames are dropped)", function()
		local from, to = new_net(), new_net()
		local port = netns.port()
		obj.maps.config[0] = port
		obj.maps.tx_port[0] = to.host_if
		attach_in_namespace(to, obj.programs.arrived)
		local link = assert(obj.programs.to_device:attach_xdp(from.host_if))
		send(from, port, 3)
		obj.maps.tx_port[0] = nil
		assert.is_nil(obj.maps.tx_port[0])
		-- No entry: bpf_redirect_map returns its flags' action (XDP_PASS), the host gets them.
		local host = netns.receiver(from.host_ip, port, 500)
		send(from, port, 4)
		local _, host_got = host:finish()
		link:detach()
		assert.equal(3, obj.maps.counts[RECEIVED])
		assert.equal(0, obj.maps.counts[DEV_EGRESS]) -- the entry had no program
		assert.equal(4, host_got)
	end)

	it("xskmap: an AF_XDP socket set from Lua receives the datagrams", function()
		local net = new_net()
		local port = netns.port()
		obj.maps.config[0] = port
		local pin = ("/sys/fs/bpf/lbpf_spec_xsk_%d"):format(support.getpid())
		os.remove(pin)
		assert(obj.maps.xsks:pin(pin))
		local link = assert(obj.programs.to_socket:attach_xdp(net.host_if))
		-- The socket lives in the fixture (fd 3, inherited by the Lua child that sets it).
		local script = support.tmpname()
		support.write_file(script, ([[
			local bpf = require "bpf"
			local xsks = assert(bpf.open_map(%q))
			assert(xsks:update(0, tonumber(os.getenv("LBPF_XSK_FD"))))
			local ok, err = xsks:lookup(0) -- not readable from user space: the kernel says so
			assert(ok == nil and err:match("Operation not supported"), err)
		]]):format(pin))
		local p = assert(io.popen(("%s xsk %s 0 700 -- %s %s 2>&1"):format(NETFIX, net.host_if,
			netns.interpreter(), script)))
		local first = p:read("l")
		if first ~= "ready" then
			local rest = p:read("a")
			p:close(); os.remove(script); os.remove(pin); link:detach()
			error("netfix xsk: " .. tostring(first) .. "\n" .. tostring(rest))
		end
		send(net, port, 5)
		local out = p:read("a")
		p:close()
		os.remove(script)
		os.remove(pin)
		link:detach()
		-- whole frames: Ethernet, IPv4 and UDP headers (14 + 20 + 8 bytes) and "redirect"
		local frames = select(2, out:gsub("frame 50\n", ""))
		assert.equal(5, frames, out)
		assert.matches("total 5", out)
		assert.equal(5, obj.maps.counts[REDIRECTED])
		-- a socket that is not AF_XDP is refused, naming the map
		local okx, err = obj.maps.xsks:update(1, 0)
		assert.is_nil(okx)
		assert.matches("xsks", err)
	end)

	it("cpumap: datagrams are handed to another CPU, run its program and reach the stack", function()
		local net = new_net()
		local port, cpu = netns.port(), last_online_cpu()
		obj.maps.config[0] = port
		obj.maps.config[1] = cpu
		obj.maps.cpus[cpu] = { qsize = 192, prog = obj.programs.cpu_run }
		assert.equal(192, obj.maps.cpus[cpu].qsize)
		local link = assert(obj.programs.to_cpu:attach_xdp(net.host_if))
		local host = netns.receiver(net.host_ip, port, 500)
		send(net, port, 5)
		local _, host_got = host:finish()
		link:detach()
		assert.equal(5, obj.maps.counts[REDIRECTED])
		assert.equal(5, obj.maps.counts[CPU_RAN])
		assert.equal(cpu + 1, obj.maps.counts[CPU_SEEN])
		assert.equal(5, host_got)
	end)
end)
