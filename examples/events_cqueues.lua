#!/usr/bin/env lua5.4
-- Ring buffer events under cqueues: a reader is a pollable (pollfd/events/timeout), so
-- cqueues.poll(reader) suspends the coroutine until records wait. Prints execs for a while.
--
--   sudo lua5.4 examples/events_cqueues.lua [seconds]    (apt install lua-cqueues)
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("events_cqueues", "events_cqueues.lua [SECONDS]",
	"Execs printed from a ring buffer under cqueues (Ctrl-C stops it).")
app:help(arg)
local seconds = tonumber(arg and arg[1] or 5) or app:usage("not a number of seconds: " .. arg[1])
local cqueues = require "cqueues"
local signal = require "cqueues.signal"

-- Ctrl-C: SIGINT is blocked and read from a signalfd-backed listener that cqueues polls.
signal.block(signal.SIGINT)
local sigint = signal.listen(signal.SIGINT)
local interrupted = false

local obj = assert(bpf.load(cli.object_path("execsnoop")))
local link = assert(obj.programs.on_exec:attach())
local reader = assert(obj.maps.exec_events:reader { type = "struct exec_event" })

local cq = cqueues.new()
local deadline = cqueues.monotime() + seconds

cq:wrap(function()
	while not interrupted and cqueues.monotime() < deadline do
		cqueues.poll(reader, sigint, deadline - cqueues.monotime())
		if sigint:wait(0) then interrupted = true end
		reader:consume(function(e)
			print(string.format("%-8d %-8d %-16s %s", e.pid, e.ppid, e.comm, e.filename))
		end)
	end
end)

-- Something to see even on an idle machine.
cq:wrap(function()
	while not interrupted and cqueues.monotime() < deadline do
		os.execute("true")
		cqueues.sleep(0.5)
	end
end)

assert(cq:loop())
reader:close()
link:detach()
obj:close()
