#!/usr/bin/env lua5.4
--[[
xdp_firewall: the classic XDP blocklist firewall.

  lua5.4 examples/xdp_firewall.lua IFACE ADDR... [-d SECONDS] [-m skb|drv]

Attaches bpf/xdp_firewall.bpf.o to IFACE, drops every IPv4 packet whose source is one of the
ADDRs, prints "attached" and then, once a second, the packets passed and dropped. After SECONDS
(default 10) it detaches and prints the drops per blocked address. Needs root.
]]
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("xdp_firewall", "xdp_firewall.lua IFACE ADDR... [-d SECONDS] [-m skb|drv]",
	"An XDP blocklist firewall with per-address drop counts (Ctrl-C stops it).")

-- "10.0.0.1" → the u32 a packet's saddr holds (network byte order read on a little-endian host).
local function ip_key(ip)
	local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
	a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
	if not a or a > 255 or b > 255 or c > 255 or d > 255 then
		app:usage("not an IPv4 address: '" .. ip .. "'")
	end
	-- string.pack is Lua 5.3+; LuaJIT runs on little-endian machines here.
	if not string.pack or string.pack("=I4", 1):byte(1) == 1 then
		return a + b * 256 + c * 65536 + d * 16777216
	end
	return d + c * 256 + b * 65536 + a * 16777216
end

-- Positional arguments besides options: not the shape app:parse handles.
local function parse_args(argv)
	app:help(argv)
	local opts = { seconds = 10, addrs = {} }
	local i = 1
	while i <= #argv do
		local a = argv[i]
		if a == "-d" then
			opts.seconds = tonumber(argv[i + 1]) or app:usage("-d needs a number of seconds")
			i = i + 2
		elseif a == "-m" then
			opts.mode = argv[i + 1] or app:usage("-m needs skb or drv")
			i = i + 2
		elseif a:sub(1, 1) == "-" then
			app:usage("unknown option '" .. a .. "'")
		elseif not opts.iface then
			opts.iface = a
			i = i + 1
		else
			opts.addrs[#opts.addrs + 1] = a
			i = i + 1
		end
	end
	if not opts.iface then app:usage("no interface given") end
	if #opts.addrs == 0 then app:usage("no address to block given") end
	return opts
end

local function sum(percpu)
	local n = 0
	for _, v in ipairs(percpu) do n = n + v end
	return n
end

local opts = parse_args(arg or {})
local obj = assert(bpf.load(cli.object_path("xdp_firewall")))
for _, ip in ipairs(opts.addrs) do
	obj.maps.blocklist[ip_key(ip)] = 0
end
local link = app:check(obj.programs.xdp_firewall:attach_xdp(opts.iface, { mode = opts.mode }))
print(string.format("attached to %s, blocking %s", opts.iface, table.concat(opts.addrs, " ")))
io.stdout:flush()

app:run(cli.every_second, opts.seconds, function(elapsed)
	print(string.format("%6.1fs  passed %d  dropped %d", elapsed, sum(obj.maps.stats[0]),
		sum(obj.maps.stats[1])))
end)
link:detach()
print("dropped per blocked address:")
for _, ip in ipairs(opts.addrs) do
	print(string.format("  %-15s %d", ip, obj.maps.blocklist[ip_key(ip)] or 0))
end
obj:close()
