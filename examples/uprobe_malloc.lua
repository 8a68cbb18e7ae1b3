#!/usr/bin/env lua5.4
--[[
uprobe_malloc: libc malloc() calls of one process, by requested size.

  lua5.4 examples/uprobe_malloc.lua -p PID [-d SECONDS] [--json]

Finds the libc PID has mapped, attaches bpf/uprobe_malloc.bpf.o's uprobe to its malloc for that
process only, prints "attached", waits SECONDS (default 5) and prints a log2 histogram of the
sizes asked for (@bytes), then the number of calls and bytes. Needs root.
]]
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("uprobe_malloc", "uprobe_malloc.lua -p PID [-d SECONDS] [--json]",
	"A process's libc malloc calls by requested size (Ctrl-C prints them early).")

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

local opts = app:parse(arg or {}, {
	defaults = { seconds = 5 },
	flags = { ["--json"] = "json" },
	numbers = { ["-p"] = "pid", ["-d"] = "seconds" },
})
if not opts.pid then app:usage("no -p PID given") end
local libc = libc_of(opts.pid)
if not libc then
	app:die("process " .. opts.pid .. " does not exist or has no libc mapped")
end
local obj = assert(bpf.load(cli.object_path("uprobe_malloc")))
local link = app:check(obj.programs.on_malloc:attach_uprobe(libc, "malloc", { pid = opts.pid }))
if not opts.json then
	print(string.format("attached to malloc in %s for pid %d", libc, opts.pid))
	io.stdout:flush()
end
app:run(bpf.sleep, opts.seconds)
link:detach()
bpf.hist(obj.maps.sizes, { title = "@bytes", json = opts.json })
if not opts.json then
	print(string.format("calls %d, bytes %d", obj.maps.totals[0], obj.maps.totals[1]))
end
obj:close()
