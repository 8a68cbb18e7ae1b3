#!/usr/bin/env lua5.4
--[[
uprobe_malloc: libc malloc() calls of one process, by requested size.

  lua5.4 examples/uprobe_malloc.lua -p PID [-d SECONDS] [--json]

Finds the libc PID has mapped, attaches bpf/uprobe_malloc.bpf.o's uprobe to its malloc for that
process only, prints "attached", waits SECONDS (default 5) and prints a log2 histogram of the
sizes asked for (@bytes), then the number of calls and bytes. Needs root.
]]
local bpf = require "bpf"

local function usage(msg)
	io.stderr:write("uprobe_malloc: ", msg,
		"\nusage: uprobe_malloc.lua -p PID [-d SECONDS] [--json]\n")
	os.exit(2)
end

local function parse_args(argv)
	local opts = { seconds = 5 }
	local i = 1
	while i <= #argv do
		local a = argv[i]
		if a == "--json" then
			opts.json = true
			i = i + 1
		elseif a == "-p" or a == "-d" then
			local n = tonumber(argv[i + 1])
			if not n or n < 0 then usage(a .. " needs a non-negative number") end
			opts[a == "-p" and "pid" or "seconds"] = n
			i = i + 2
		else
			usage("unknown argument '" .. a .. "'")
		end
	end
	if not opts.pid then usage("no -p PID given") end
	return opts
end

local function object_path(name)
	local dir = ((arg and arg[0]) or ""):match("^(.*)/examples/[^/]*$") or "."
	return dir .. "/bpf/" .. name .. ".bpf.o"
end

-- The libc the process really uses: the path of its mapping (through /proc/PID/root, so a
-- process in another mount namespace works too).
local function libc_of(pid)
	local f = io.open("/proc/" .. pid .. "/maps", "r")
	if not f then return nil end
	for line in f:lines() do
		local path = line:match("%s(/%S*/libc[.-][%w.-]*%.so[%w.]*)$") or
			line:match("%s(/%S*/libc%.so%.6)$")
		if path then
			f:close()
			return "/proc/" .. pid .. "/root" .. path
		end
	end
	f:close()
end

local opts = parse_args(arg or {})
local libc = libc_of(opts.pid)
if not libc then
	io.stderr:write("uprobe_malloc: process ", opts.pid, " does not exist or has no libc mapped\n")
	os.exit(1)
end
local obj = assert(bpf.load(object_path("uprobe_malloc")))
local link, err = obj.programs.on_malloc:attach_uprobe(libc, "malloc", { pid = opts.pid })
if not link then
	io.stderr:write("uprobe_malloc: ", err, "\n")
	os.exit(1)
end
if not opts.json then
	print(string.format("attached to malloc in %s for pid %d", libc, opts.pid))
	io.stdout:flush()
end
bpf.sleep(opts.seconds)
link:detach()
bpf.hist(obj.maps.sizes, { title = "@bytes", json = opts.json })
if not opts.json then
	print(string.format("calls %d, bytes %d", obj.maps.totals[0], obj.maps.totals[1]))
end
obj:close()
