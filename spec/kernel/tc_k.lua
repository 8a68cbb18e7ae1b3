-- tc on loopback ingress: a tcx link where the kernel has tcx (6.6+), the clsact qdisc with a
-- cls_bpf filter over netlink where it does not (6.1: the fallback path). The program must
-- count the datagrams sent to its port.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_net.bpf.o"
local NETFIX = "build/kernels/fixtures/netfix"
local PORT = 47613

local function send(n)
	local done, out = sh(("%s send 127.0.0.1 127.0.0.1 %d kernels-tc %d"):format(NETFIX, PORT, n))
	assert(done, "netfix send: " .. out)
end

local function load()
	need("tc")
	return ok(bpf.load(OBJ, { globals = { port = PORT } }))
end

describe("tc", function()
	it("attach_tc on lo counts the datagrams (tcx on 6.6+, netlink cls_bpf before)", function()
		local obj = load()
		local link = ok(obj.programs.count_tc:attach_tc("lo"))
		send(5)
		wait_for(function() return obj.globals.tc_seen.hits >= 5 end)
		local seen = obj.globals.tc_seen
		link:detach()
		ge(seen.hits, 5, "datagrams counted")
		eq(seen.ifindex, 1, "ifindex (lo)")
		ge(seen.len, 14 + 20 + 8 + #"kernels-tc", "packet length")
		local tcx = kernel_version() >= 6006000
		matches(link.description, tcx and "^tcx lo ingress" or "^tc lo ingress %(cls_bpf", "link kind")
		local hits = obj.globals.tc_seen.hits
		send(2)
		bpf.sleep(0.2)
		eq(obj.globals.tc_seen.hits, hits, "hits after detach")
		obj:close()
	end)

	-- The netlink path adds a clsact qdisc to lo and leaves it (as libbpf's hook does): on the
	-- host, where other work shares lo, it is removed again when it was not there before.
	local function has_clsact()
		local _, out = sh("tc qdisc show dev lo 2>/dev/null")
		return out:find("clsact") ~= nil
	end

	it("attach_tc{netlink = true} takes the cls_bpf path on every kernel", function()
		local obj = load()
		local had_clsact = has_clsact()
		local link = ok(obj.programs.count_tc:attach_tc("lo", { netlink = true }))
		send(3)
		wait_for(function() return obj.globals.tc_seen.hits >= 3 end)
		link:detach()
		matches(link.description, "^tc lo ingress %(cls_bpf", "link kind")
		ge(obj.globals.tc_seen.hits, 3, "datagrams counted")
		obj:close()
		if not had_clsact then sh("tc qdisc del dev lo clsact 2>/dev/null") end
	end)
end)
