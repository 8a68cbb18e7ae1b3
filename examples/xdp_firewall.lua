#!/usr/bin/env lua5.4
--[[
xdp_firewall: the classic XDP blocklist firewall.

  lua5.4 examples/xdp_firewall.lua IFACE ADDR... [-d SECONDS] [-m skb|drv]

Attaches bpf/xdp_firewall.bpf.o to IFACE, drops every IPv4 packet whose source is one of the
ADDRs, prints "attached" and then, once a second, the packets passed and dropped. After SECONDS
(default 10) it detaches and prints the drops per blocked address. Needs root.
]]
local bpf = require "bpf"

local function usage(msg)
	io.stderr:write("xdp_firewall: ", msg,
		"\nusage: xdp_firewall.lua IFACE ADDR... [-d SECONDS] [-m skb|drv]\n")
	os.exit(2)
end

-- "10.0.0.1" → the u32 a packet's saddr holds (network byte order read on a little-endian host).
local function ip_key(ip)
	local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
	a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
	if not a or a > 255 or b > 255 or c > 255 or d > 255 then
		usage("not an IPv4 address: '" .. ip .. "'")
	end
	-- string.pack is Lua 5.3+; LuaJIT runs on little-endian machines here.
	if not string.pack or string.pack("=I4", 1):byte(1) == 1 then
		return a + b * 256 + c * 65536 + d * 16777216
	end
	return d + c * 256 + b * 65536 + a * 16777216
end

local function parse_args(argv)
	local opts = { seconds = 10, addrs = {} }
	local i = 1
	while i <= #argv do
		local a = argv[i]
		if a == "-d" then
			opts.seconds = tonumber(argv[i + 1]) or usage("-d needs a number of seconds")
			i = i + 2
		elseif a == "-m" then
			opts.mode = argv[i + 1] or usage("-m needs skb or drv")
			i = i + 2
		elseif a:sub(1, 1) == "-" then
			usage("unknown option '" .. a .. "'")
		elseif not opts.iface then
			opts.iface = a
			i = i + 1
		else
			opts.addrs[#opts.addrs + 1] = a
			i = i + 1
		end
	end
	if not opts.iface then usage("no interface given") end
	if #opts.addrs == 0 then usage("no address to block given") end
	return opts
end

local function object_path(name)
	local dir = ((arg and arg[0]) or ""):match("^(.*)/examples/[^/]*$") or "."
	return dir .. "/bpf/" .. name .. ".bpf.o"
end

local function sum(percpu)
	local n = 0
	for _, v in ipairs(percpu) do n = n + v end
	return n
end

local opts = parse_args(arg or {})
local obj = assert(bpf.load(object_path("xdp_firewall")))
for _, ip in ipairs(opts.addrs) do
	obj.maps.blocklist[ip_key(ip)] = 0
end
local link, err = obj.programs.xdp_firewall:attach_xdp(opts.iface, { mode = opts.mode })
if not link then
	io.stderr:write("xdp_firewall: ", err, "\n")
	os.exit(1)
end
print(string.format("attached to %s, blocking %s", opts.iface, table.concat(opts.addrs, " ")))
io.stdout:flush()

local elapsed = 0
while elapsed < opts.seconds do
	local step = math.min(1, opts.seconds - elapsed)
	bpf.sleep(step)
	elapsed = elapsed + step
	print(string.format("%6.1fs  passed %d  dropped %d", elapsed, sum(obj.maps.stats[0]),
		sum(obj.maps.stats[1])))
	io.stdout:flush()
end
link:detach()
print("dropped per blocked address:")
for _, ip in ipairs(opts.addrs) do
	print(string.format("  %-15s %d", ip, obj.maps.blocklist[ip_key(ip)] or 0))
end
obj:close()
