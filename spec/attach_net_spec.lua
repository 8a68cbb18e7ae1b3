-- Networking attachments with real packets: an XDP blocklist firewall, a tc filter (tcx and
-- netlink cls_bpf), a cgroup_skb counter on a child cgroup, a socket filter on a UDP socket,
-- and an XDP link pinned by one process and removed by another. Traffic stays on private
-- addresses of namespaces and veths the specs create and always delete.
local bpf = require "bpf"
local support = require "support.init"
local netns = require "support.netns"

local NET = support.obj("attach_net")
local NETFIX = netns.fixture("netfix")
local PASSED, DROPPED, SEEN = 0, 1, 2

local function send(net, src, dst, port, msg, count)
	net:send(src, dst, port, msg, count)
end

describe("XDP", function()
	local obj, net
	before_each(function()
		obj = assert(bpf.load(NET))
		net = netns.create(1)
	end)
	after_each(function()
		if net then net:destroy() end
		obj:close()
	end)

	it("firewall drops packets from a blocked address and passes the others", function()
		local prog = obj.programs.xdp_firewall
		local link = assert(prog:attach_xdp(net.host_if))
		local id = bpf.xdp_query(net.host_if)
		assert.equal(link:info().prog_id, id)
		local blocked = net.extra[1]
		local port = netns.port()
		obj.maps.blocklist[netns.ip_key(blocked)] = 0

		local rx = netns.receiver(net.host_ip, port)
		send(net, net.ns_ip, net.host_ip, port, "hello", 5)
		send(net, blocked, net.host_ip, port, "blocked", 4)
		local from, total = rx.finish()

		assert.equal(5, from[net.ns_ip])
		assert.is_nil(from[blocked])
		assert.equal(5, total)
		assert.equal(4, obj.maps.blocklist[netns.ip_key(blocked)])
		assert.equal(4, obj.maps.xdp_stats[DROPPED])
		assert.is_true(obj.maps.xdp_stats[PASSED] >= 5)

		link:detach()
		assert.equal(0, (bpf.xdp_query(net.host_if)))
	end)

	it("attaches in skb mode through netlink and refuses a second program", function()
		local prog = obj.programs.xdp_firewall
		local link = assert(prog:attach_xdp(net.host_if, { mode = "skb", netlink = true }))
		local id, mode = bpf.xdp_query(net.host_if)
		assert.is_true(id > 0)
		assert.equal("skb", mode)
		local again, err = prog:attach_xdp(net.host_if, { mode = "skb" })
		assert.is_nil(again)
		assert.matches("already attached", err)
		-- replace takes over through netlink
		local repl = assert(prog:attach_xdp(net.host_if, { mode = "skb", replace = true }))
		repl:close()
		link:close()
		assert.equal(0, (bpf.xdp_query(net.host_if)))
	end)

	it("link:update swaps the program of a live link", function()
		local link = assert(obj.programs.xdp_firewall:attach_xdp(net.host_if))
		local port = netns.port()
		obj.maps.blocklist[netns.ip_key(net.ns_ip)] = 0
		assert(link:update(obj.programs.xdp_count))
		assert.equal(obj.programs.xdp_count:info().id, link:info().prog_id)
		assert.equal(obj.programs.xdp_count:info().id, (bpf.xdp_query(net.host_if)))
		-- the firewall would drop these: the new program passes and counts them
		local rx = netns.receiver(net.host_ip, port)
		send(net, net.ns_ip, net.host_ip, port, "hello", 3)
		local _, total = rx.finish()
		assert.equal(3, total)
		assert.is_true(obj.maps.xdp_count_stats[0] >= 3)
		assert.equal(0, obj.maps.xdp_stats[DROPPED])
		link:detach()
		local ok, err = link:update(obj.programs.xdp_firewall)
		assert.is_nil(ok)
		assert.matches("detached", err)
		-- links without a bpf_link underneath say they cannot change program
		local sock_link = assert(obj.programs.tc_filter:attach_tc(net.host_if, { netlink = true }))
		ok, err = sock_link:update(obj.programs.tc_rewrite)
		assert.is_nil(ok)
		assert.matches("cannot change program: it is not a bpf_link", err)
		sock_link:detach()
	end)

	it("gives clear errors for bad input", function()
		local prog = obj.programs.xdp_firewall
		local l, err = prog:attach()
		assert.is_nil(l)
		assert.matches("needs an interface: use attach_xdp", err)
		l, err = prog:attach_xdp("no_such_if0")
		assert.is_nil(l)
		assert.matches("no network interface", err)
		assert.has_error(function() prog:attach_xdp(net.host_if, { mode = "warp" }) end)
		assert.has_error(function() prog:attach_xdp(net.host_if, { netlink = "yes" }) end)
	end)
end)

describe("tc", function()
	local obj, net
	before_each(function()
		obj = assert(bpf.load(NET))
		net = netns.create()
	end)
	after_each(function()
		if net then net:destroy() end
		obj:close()
	end)

	for _, how in ipairs({ "tcx", "netlink" }) do
		it("counts and drops UDP datagrams on ingress (" .. how .. ")", function()
			local prog = obj.programs.tc_filter
			local port = netns.port()
			local link = assert(prog:attach_tc(net.host_if, { netlink = how == "netlink" }))
			assert.matches(how == "tcx" and "tcx" or "cls_bpf", tostring(link))
			local rx = netns.receiver(net.host_ip, port)
			send(net, net.ns_ip, net.host_ip, port, "hello", 3)
			send(net, net.ns_ip, net.host_ip, port, "xdrop", 2)
			local from, total = rx.finish()
			assert.equal(3, total)
			assert.equal(3, from[net.ns_ip])
			assert.equal(5, obj.maps.tc_stats[SEEN])
			assert.equal(2, obj.maps.tc_stats[DROPPED])
			link:detach()
			-- detached: nothing is dropped any more
			rx = netns.receiver(net.host_ip, port)
			send(net, net.ns_ip, net.host_ip, port, "xagain", 2)
			local _, total2 = rx.finish()
			assert.equal(2, total2)
			assert.equal(5, obj.maps.tc_stats[SEEN])
		end)
	end
end)

describe("tc rewrite", function()
	local obj, net
	before_each(function()
		obj = assert(bpf.load(NET))
		net = netns.create()
	end)
	after_each(function()
		if net then net:destroy() end
		obj:close()
	end)

	it("rewrites a payload byte with bpf_skb_store_bytes and the receiver sees it", function()
		local link = assert(obj.programs.tc_rewrite:attach_tc(net.host_if))
		local port = netns.port()
		local rx = netns.receiver(net.host_ip, port)
		send(net, net.ns_ip, net.host_ip, port, "rwhello", 2)
		send(net, net.ns_ip, net.host_ip, port, "plain", 1)
		local _, total, payloads = rx.finish()
		link:detach()
		assert.equal(3, total)
		assert.equal(2, payloads["RWhello"])
		assert.equal(1, payloads["plain"])
		assert.is_nil(payloads["rwhello"])
		assert.equal(2, obj.maps.tc_stats[SEEN])
	end)
end)

describe("cgroup_skb", function()
	local CGROOT = "/sys/fs/cgroup/unified"
	local obj, cg
	before_each(function()
		obj = assert(bpf.load(NET))
		cg = ("%s/lbpf_spec_%d"):format(CGROOT, support.getpid())
		assert(support.sh("mkdir -p " .. cg))
	end)
	after_each(function()
		obj:close()
		-- the receiver has exited by now, so the cgroup is empty
		support.wait_until(function() return support.sh("rmdir " .. cg .. " 2>/dev/null") end, 3)
	end)

	it("counts the packets delivered to a process of a child cgroup", function()
		local link = assert(obj.programs.cgroup_count:attach_cgroup(cg))
		local port = netns.port()
		assert.equal("cgroup", link:info().type)
		local rx = netns.receiver("127.0.0.1", port, 500, nil, cg)
		local ok, out = support.sh(("%s send 127.0.0.1 127.0.0.1 %d hi 4 2>&1"):format(NETFIX, port))
		assert(ok, out)
		local _, total = rx.finish()
		assert.equal(4, total)
		assert.equal(4, obj.maps.cgroup_packets[0])
		link:detach()
	end)

	it("attaches with the older BPF_PROG_ATTACH too", function()
		local link = assert(obj.programs.cgroup_count:attach_cgroup(cg, { prog_attach = true }))
		local port = netns.port()
		local rx = netns.receiver("127.0.0.1", port, 500, nil, cg)
		assert(support.sh(("%s send 127.0.0.1 127.0.0.1 %d hi 2"):format(NETFIX, port)))
		rx.finish()
		assert.equal(2, obj.maps.cgroup_packets[0])
		link:detach()
	end)

	it("says what is wrong with a bad cgroup", function()
		local l, err = obj.programs.cgroup_count:attach_cgroup("/nonexistent/cg")
		assert.is_nil(l)
		assert.matches("opening cgroup /nonexistent/cg", err)
	end)
end)

describe("socket filter", function()
	it("drops datagrams on a UDP socket given as a file descriptor", function()
		local script = support.tmpname()
		support.write_file(script, ([[
			local bpf = require "bpf"
			local obj = assert(bpf.load(%q))
			local link = assert(obj.programs.sock_filter:attach_socket(tonumber(os.getenv("LBPF_SOCK_FD"))))
			local port = os.getenv("LBPF_SOCK_PORT")
			assert(os.execute(%q .. " send 127.0.0.1 127.0.0.1 " .. port .. " hello 3"))
			assert(os.execute(%q .. " send 127.0.0.1 127.0.0.1 " .. port .. " xdrop 2"))
			print("stats", obj.maps.sock_stats[0], obj.maps.sock_stats[1], obj.maps.sock_stats[2])
			link:detach()
			obj:close()
		]]):format(NET, NETFIX, NETFIX))
		local ok, out = support.sh(("%s sockhost -- %s %s 2>&1"):format(NETFIX, netns.interpreter(),
			script))
		os.remove(script)
		assert(ok, out)
		assert.matches("stats\t3\t2\t5", out)
		local _, hellos = out:gsub("got hello", "")
		assert.equal(3, hellos)
		assert.is_nil(out:find("got xdrop"))
		assert.matches("total 3", out)
	end)

	it("rejects something that is not a socket", function()
		local obj = assert(bpf.load(NET))
		local l, err = obj.programs.sock_filter:attach_socket(0)
		obj:close()
		assert.is_nil(l)
		assert.matches("not a socket", err)
	end)
end)

describe("pinned links", function()
	local net, pin
	before_each(function()
		net = netns.create()
		pin = ("/sys/fs/bpf/lbpf_spec_xdp_%d"):format(support.getpid())
	end)
	after_each(function()
		os.remove(pin)
		if net then net:destroy() end
	end)

	it("keep XDP attached after the process exits until a second process removes it", function()
		local ok, out = netns.run_lua(([[
			local bpf = require "bpf"
			local obj = assert(bpf.load(%q))
			local link = assert(obj.programs.xdp_firewall:attach_xdp(%q))
			assert(link:pin(%q))
			print("pinned")
		]]):format(NET, net.host_if, pin))
		assert(ok, out)
		assert.matches("pinned", out)
		local id = bpf.xdp_query(net.host_if)
		assert.is_true(id > 0, "XDP program still attached after the first process exited")

		ok, out = netns.run_lua(([[
			local bpf = require "bpf"
			local link = assert(bpf.open_link(%q))
			local info = link:info()
			print("type", info.type, "prog", info.prog_id)
			assert(link:detach())
			assert(link:unpin(%q))
		]]):format(pin, pin))
		assert(ok, out)
		assert.matches("type\txdp\tprog\t" .. id, out)
		assert.equal(0, (bpf.xdp_query(net.host_if)))
		assert.is_nil(io.open(pin))
	end)

	it("open_link refuses a path that is not a link", function()
		local l, err = bpf.open_link("/sys/fs/bpf/lbpf_no_such_pin")
		assert.is_nil(l)
		assert.matches("opening pinned link", err)
	end)
end)
