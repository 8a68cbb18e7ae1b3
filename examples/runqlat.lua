#!/usr/bin/env lua5.4
--[[
runqlat: run queue latency as a histogram, the way bcc's runqlat and bpftrace show it.

  lua5.4 examples/runqlat.lua [-d SECONDS] [-p TID] [--json]

Loads bpf/runqlat.bpf.o, attaches its tp_btf programs to sched_wakeup, sched_wakeup_new and
sched_switch, waits SECONDS (default 5), then prints how long tasks waited for a CPU after
becoming runnable, as a log2 histogram of microseconds (or bpftrace-style JSON with --json).
-p limits it to one thread. Needs root.
]]
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("runqlat", "runqlat.lua [-d SECONDS] [-p TID] [--json]",
	"Run-queue latency as a log2 histogram (Ctrl-C prints it early).")
local opts = app:parse(arg or {}, {
	defaults = { seconds = 5, pid = 0 },
	flags = { ["--json"] = "json" },
	numbers = { ["-d"] = "seconds", ["-p"] = "pid" },
})
local obj = assert(bpf.open(cli.object_path("runqlat"), { globals = { target_pid = opts.pid } }))
assert(obj:load())
local links = {}
for _, name in ipairs { "on_wakeup", "on_wakeup_new", "on_switch" } do
	links[#links + 1] = assert(obj.programs[name]:attach())
end
if not opts.json then
	print(string.format("Tracing run queue latency for %g s...", opts.seconds))
	io.stdout:flush()
end
app:run(bpf.sleep, opts.seconds)
for _, link in ipairs(links) do
	link:detach()
end
bpf.hist(obj.maps.hist_us, { title = "@usecs", json = opts.json })
obj:close()
