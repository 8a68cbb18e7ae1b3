-- Socket-level and namespace-level attachments with real traffic, each inside a network
-- namespace the spec creates and always deletes: sk_lookup steering datagrams to a socket held
-- in a sockmap, a flow dissector attached to the namespace, sk_msg / sk_skb verdict programs on
-- a connected TCP pair through a sockmap, and a netfilter link counting packets to a test
-- address. The helper processes run inside the namespace (netns links and netfilter hooks
-- belong to the namespace of whoever creates them).
local bpf = require "bpf"
local support = require "support.init"
local netns = require "support.netns"

local SOCK = support.obj("attach_sock")
local FLOW = support.obj("attach_flow")
local NF = support.obj("attach_nf")
local NETFIX = netns.fixture("netfix")

-- Runs Lua code in a separate interpreter inside net, optionally wrapped by a netfix mode
-- ("sockhost", "tcppair") that hands it sockets. Returns the combined output.
local function run_lua_in(net, code, wrapper)
	local script = support.tmpname()
	support.write_file(script, code)
	local cmd = ("%s %s 2>&1"):format(netns.interpreter(), script)
	if wrapper then cmd = ("%s %s -- %s"):format(NETFIX, wrapper, cmd) end
	local ok, out = net:exec(cmd)
	os.remove(script)
	assert(ok, out)
	return out
end

-- Inode of a namespace file: what netns link info reports.
local function inode(path)
	local ok, out = support.sh("stat -L -c %i " .. path)
	assert(ok, out)
	return tonumber(out)
end

describe("network namespace links", function()
	local net
	before_each(function() net = netns.create() end)
	after_each(function() if net then net:destroy() end end)

	it("sk_lookup steers datagrams for an unbound port to a socket in a sockmap", function()
		local port = netns.port()
		local out = run_lua_in(net, ([[
			local bpf = require "bpf"
			local netfix, port = %q, %d
			local obj = assert(bpf.load(%q))
			obj.maps.lookup_cfg[0] = port
			obj.maps.lookup_socks[0] = tonumber(os.getenv("LBPF_SOCK_FD"))
			local link = assert(obj.programs.steer_udp:attach_sk_lookup())
			local info = link:info()
			print("info", info.type, info.netns_ino)
			assert(os.execute(netfix .. " send 127.0.0.1 127.0.0.1 " .. port .. " steered 3"))
			print("stats", obj.maps.lookup_cfg[1], obj.maps.lookup_cfg[2])
			link:detach()
			assert(os.execute(netfix .. " send 127.0.0.1 127.0.0.1 " .. port .. " lost 2"))
			print("after", obj.maps.lookup_cfg[1])
			obj:close()
		]]):format(NETFIX, port, SOCK), "sockhost")
		assert.matches("info\tnetns\t" .. inode("/var/run/netns/" .. net.ns), out)
		assert.matches("stats\t3\t0", out)
		assert.matches("after\t3", out)
		local _, steered = out:gsub("got steered", "")
		assert.equal(3, steered)
		assert.is_nil(out:find("got lost"))
	end)

	it("a flow dissector attached to the namespace dissects its packets", function()
		-- Receive packet steering needs every packet's flow hash: the dissector runs for each.
		assert(net:exec(("sh -c 'echo 3 > /sys/class/net/%s/queues/rx-0/rps_cpus'"):format(net.ns_if)))
		local obj = assert(bpf.load(FLOW))
		local ok, err = pcall(function()
			local link = assert(obj.programs.dissect_udp:attach_flow_dissector("/var/run/netns/" .. net.ns))
			local info = link:info()
			assert.equal("netns", info.type)
			assert.equal(inode("/var/run/netns/" .. net.ns), info.netns_ino)
			local port = netns.port()
			local rx = netns.receiver(net.ns_ip, port, nil, "ip netns exec " .. net.ns .. " ")
			assert(support.sh(("%s send %s %s %d hi 4"):format(NETFIX, net.host_ip, net.ns_ip, port)))
			local _, total = rx.finish()
			assert.equal(4, total)
			local seen = obj.maps.flow_ports[port]
			assert.is_true(seen ~= nil and seen >= 4, "dissected " .. tostring(seen))
			link:detach()
			rx = netns.receiver(net.ns_ip, port, nil, "ip netns exec " .. net.ns .. " ")
			assert(support.sh(("%s send %s %s %d hi 2"):format(NETFIX, net.host_ip, net.ns_ip, port)))
			rx.finish()
			assert.equal(seen, obj.maps.flow_ports[port])
		end)
		obj:close()
		assert(ok, err)
	end)

	it("says what is wrong with a bad namespace", function()
		local obj = assert(bpf.load(FLOW))
		local l, err = obj.programs.dissect_udp:attach_flow_dissector("/nonexistent/ns")
		assert.is_nil(l)
		assert.matches("opening network namespace /nonexistent/ns", err)
		l, err = obj.programs.dissect_udp:attach_flow_dissector("/etc/hostname")
		assert.is_nil(l)
		assert.matches("not a network namespace", err)
		obj:close()
	end)
end)

describe("sockmap programs", function()
	local net
	before_each(function() net = netns.create() end)
	after_each(function() if net then net:destroy() end end)

	it("sk_msg and sk_skb verdicts see a TCP pair's traffic; sk_msg refuses some", function()
		local out = run_lua_in(net, ([[
			local bpf = require "bpf"
			local netfix = %q
			local function sh(c) local p = io.popen(c) local o = p:read("a") p:close() io.write(o) end
			local obj = assert(bpf.load(%q))
			local socks, stats = obj.maps.pair_socks, obj.maps.pair_stats
			local msg = assert(obj.programs.msg_verdict:attach_sockmap(socks))
			local skb = assert(obj.programs.skb_verdict:attach_sockmap(socks))
			socks[0] = tonumber(os.getenv("LBPF_TCP_A"))
			socks[1] = tonumber(os.getenv("LBPF_TCP_B"))
			sh(netfix .. " fdsend 3 hello 4")
			sh(netfix .. " fdsend 3 xnope 1")
			sh(netfix .. " fdrecv 4 300")
			print("stats", stats[0], stats[1], stats[2], stats[3], stats[4])
			socks[0], socks[1] = nil, nil
			msg:detach()
			skb:detach()
			sh(netfix .. " fdsend 3 xfree 1")
			sh(netfix .. " fdrecv 4 300")
			print("after", stats[0])
			obj:close()
		]]):format(NETFIX, SOCK), "tcppair")
		assert.matches("sent 4 failed 0\n", out)
		assert.matches("sent 0 failed 1 Permission denied", out)
		assert.matches("bytes 20 hellohellohellohello\n", out)
		-- 5 messages of 5 bytes, 1 refused; the receiving side saw the 20 bytes that passed. (After
		-- a refusal this kernel fails the socket's later sends without asking the program again,
		-- so the refused message comes last.)
		local msgs, bytes, dropped, skbs, skb_bytes = out:match("stats\t(%d+)\t(%d+)\t(%d+)\t(%d+)\t(%d+)")
		assert.same({ 5, 25, 1, 20 }, { tonumber(msgs), tonumber(bytes), tonumber(dropped),
			tonumber(skb_bytes) })
		assert.is_true(tonumber(skbs) >= 1)
		assert.matches("bytes 5 xfree", out)
		assert.matches("after\t5", out)
	end)

	it("refuses a map that is not a sockmap", function()
		local obj = assert(bpf.load(SOCK))
		local l, err = obj.programs.msg_verdict:attach_sockmap(obj.maps.pair_stats)
		assert.is_nil(l)
		assert.matches("msg_verdict", err)
		obj:close()
	end)
end)

describe("netfilter", function()
	local net
	before_each(function() net = netns.create() end)
	after_each(function() if net then net:destroy() end end)

	it("a netfilter link on LOCAL_IN counts the packets to a test address", function()
		local port = netns.port()
		local out = run_lua_in(net, ([[
			local bpf = require "bpf"
			local netfix, ip, port = %q, %q, %d
			local obj = assert(bpf.load(%q, { globals = { target_addr = %d } }))
			local link = assert(obj.programs.nf_count:attach_netfilter({ hook = "local_in" }))
			local info = link:info()
			print("link", info.type, info.pf, info.hook, info.priority, info.description)
			assert(os.execute(("%%s send %%s %%s %%d hit 5"):format(netfix, ip, ip, port)))
			assert(os.execute(("%%s send 127.0.0.1 127.0.0.1 %%d other 3"):format(netfix, port)))
			print("stats", obj.maps.nf_stats[0], obj.maps.nf_stats[1])
			link:detach()
			assert(os.execute(("%%s send %%s %%s %%d late 2"):format(netfix, ip, ip, port)))
			print("after", obj.maps.nf_stats[0])
			local l, err = obj.programs.nf_count:attach_netfilter({ hook = 9 })
			print("bad", l, err)
			obj:close()
		]]):format(NETFIX, net.ns_ip, port, NF, netns.ip_key(net.ns_ip)))
		assert.matches("link\tnetfilter\t2\t1\t1\tnetfilter pf 2 hook 1 priority 1\n", out)
		local hits, seen = out:match("stats\t(%d+)\t(%d+)")
		assert.equal(5, tonumber(hits))
		assert.is_true(tonumber(seen) >= 8)
		assert.matches("after\t5", out)
		assert.matches("bad\tnil\t.*attaching netfilter hook %(pf 2 hook 9", out)
		local obj = assert(bpf.load(NF))
		local ok, err = pcall(obj.programs.nf_count.attach_netfilter, obj.programs.nf_count,
			{ hook = "sideways" })
		obj:close()
		assert.is_false(ok)
		assert.matches("unknown hook 'sideways'", err)
	end)
end)
