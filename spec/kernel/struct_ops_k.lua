-- struct_ops: a TCP congestion control written in BPF (bpf/kern_tcp_cc.h), registered from Lua,
-- chosen by a loopback TCP connection through TCP_CONGESTION; its programs count their calls.
-- .struct_ops registers with a map update (every kernel here), .struct_ops.link through a
-- bpf_link (6.4+); detaching unregisters it.
local bpf = bpf or require "bpf"
local NETFIX = "build/kernels/fixtures/netfix"

local function available()
	local f = assert(io.open("/proc/sys/net/ipv4/tcp_available_congestion_control"))
	local s = f:read("a")
	f:close()
	return s
end

local function connect_with(cc)
	return sh(("%s tcpcc %s 200000"):format(NETFIX, cc))
end

local function check(path, map_name, cc)
	local obj, err = bpf.load(path)
	if not obj and err:find("struct_ops .* failed: Invalid argument") and
			not bpf.features().attach.fentry then
		skip("this kernel refuses struct_ops maps as it refuses trampolines: " .. err:sub(1, 120))
	end
	ok(obj, err)
	local before = available()
	eq(before:find(cc, 1, true), nil, cc .. " registered before attach")
	local link = ok(obj.maps[map_name]:attach_struct_ops())
	matches(available(), "%f[%w_]" .. cc .. "%f[^%w_]", "tcp_available_congestion_control")
	local done, out = connect_with(cc)
	ok(done, out)
	matches(out, "cc " .. cc .. "\nbytes 200000\n", "the connection's congestion control")
	local g = obj.globals
	ge(g.init_calls, 1, "init() calls")
	ge(g.cong_avoid_calls + g.ssthresh_calls, 1, "cong_avoid()/ssthresh() calls")
	link:detach()
	eq(available():find(cc, 1, true), nil, cc .. " registered after detach")
	done, out = connect_with(cc)
	eq(not done, true, "TCP_CONGESTION fails after detach")
	matches(out, "No such file", "error")
	obj:close()
end

describe("struct_ops", function()
	it("a BPF tcp_congestion_ops registered by a map update is chosen by TCP_CONGESTION", function()
		check("bpf/kern_tcp_cc.bpf.o", "lbpf_cc", "lbpf_cc")
	end)

	it("the same through a bpf_link (.struct_ops.link)", function()
		if kernel_version() < 6004000 then
			local obj = ok(bpf.open("bpf/kern_tcp_cc_link.bpf.o"))
			local loaded, err = obj:load()
			eq(loaded, nil, "load on a kernel without struct_ops links")
			obj:close()
			skip("struct_ops links need 6.4+; this kernel refuses the map: " .. tostring(err):sub(1, 100))
		end
		check("bpf/kern_tcp_cc_link.bpf.o", "lbpf_cc_link", "lbpf_cc_link")
	end)
end)
