#!/usr/bin/env lua5.4
--[[
cgroup_ingress: count (or deny) the packets a cgroup's processes receive.

  lua5.4 examples/cgroup_ingress.lua CGROUP_DIR [--deny] [-d SECONDS]

Attaches bpf/cgroup_ingress.bpf.o as cgroup_skb/ingress to CGROUP_DIR (a cgroup v2 directory,
e.g. /sys/fs/cgroup/unified/mygroup), prints "attached", then once a second the packets and
bytes delivered so far. With --deny they are dropped instead (and counted as denied). After
SECONDS (default 10) it detaches and prints the totals. Needs root.
]]
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("cgroup_ingress", "cgroup_ingress.lua CGROUP_DIR [--deny] [-d SECONDS]",
	"Counts (or denies) the packets a cgroup's processes receive (Ctrl-C stops it).")

-- A positional argument besides options: not the shape app:parse handles.

local function parse_args(argv)
	app:help(argv)
	local opts = { seconds = 10, deny = false }
	local i = 1
	while i <= #argv do
		local a = argv[i]
		if a == "--deny" then
			opts.deny = true
			i = i + 1
		elseif a == "-d" then
			opts.seconds = tonumber(argv[i + 1]) or app:usage("-d needs a number of seconds")
			i = i + 2
		elseif a:sub(1, 1) == "-" or opts.cgroup then
			app:usage("unexpected argument '" .. a .. "'")
		else
			opts.cgroup = a
			i = i + 1
		end
	end
	if not opts.cgroup then app:usage("no cgroup directory given") end
	return opts
end

local PACKETS, BYTES, DENIED = 0, 1, 2
local opts = parse_args(arg or {})
local obj = assert(bpf.open(cli.object_path("cgroup_ingress"),
	{ globals = { deny = opts.deny and 1 or 0 } }))
assert(obj:load())
local link = app:check(obj.programs.cgroup_ingress:attach_cgroup(opts.cgroup))
print(string.format("attached to %s%s", opts.cgroup, opts.deny and " (denying)" or ""))
io.stdout:flush()

local stats = obj.maps.ingress_stats
app:run(cli.every_second, opts.seconds, function(elapsed)
	print(string.format("%6.1fs  packets %d  bytes %d  denied %d", elapsed, stats[PACKETS],
		stats[BYTES], stats[DENIED]))
end)
link:detach()
print(string.format("total: packets %d bytes %d denied %d", stats[PACKETS], stats[BYTES],
	stats[DENIED]))
obj:close()
