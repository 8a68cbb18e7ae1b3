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

local function usage(msg)
	io.stderr:write("cgroup_ingress: ", msg,
		"\nusage: cgroup_ingress.lua CGROUP_DIR [--deny] [-d SECONDS]\n")
	os.exit(2)
end

local function parse_args(argv)
	local opts = { seconds = 10, deny = false }
	local i = 1
	while i <= #argv do
		local a = argv[i]
		if a == "--deny" then
			opts.deny = true
			i = i + 1
		elseif a == "-d" then
			opts.seconds = tonumber(argv[i + 1]) or usage("-d needs a number of seconds")
			i = i + 2
		elseif a:sub(1, 1) == "-" or opts.cgroup then
			usage("unexpected argument '" .. a .. "'")
		else
			opts.cgroup = a
			i = i + 1
		end
	end
	if not opts.cgroup then usage("no cgroup directory given") end
	return opts
end

local function object_path(name)
	local dir = ((arg and arg[0]) or ""):match("^(.*)/examples/[^/]*$") or "."
	return dir .. "/bpf/" .. name .. ".bpf.o"
end

local PACKETS, BYTES, DENIED = 0, 1, 2
local opts = parse_args(arg or {})
local obj = assert(bpf.open(object_path("cgroup_ingress"),
	{ globals = { deny = opts.deny and 1 or 0 } }))
assert(obj:load())
local link, err = obj.programs.cgroup_ingress:attach_cgroup(opts.cgroup)
if not link then
	io.stderr:write("cgroup_ingress: ", err, "\n")
	os.exit(1)
end
print(string.format("attached to %s%s", opts.cgroup, opts.deny and " (denying)" or ""))
io.stdout:flush()

local stats = obj.maps.ingress_stats
local elapsed = 0
while elapsed < opts.seconds do
	local step = math.min(1, opts.seconds - elapsed)
	bpf.sleep(step)
	elapsed = elapsed + step
	print(string.format("%6.1fs  packets %d  bytes %d  denied %d", elapsed, stats[PACKETS],
		stats[BYTES], stats[DENIED]))
	io.stdout:flush()
end
link:detach()
print(string.format("total: packets %d bytes %d denied %d", stats[PACKETS], stats[BYTES],
	stats[DENIED]))
obj:close()
