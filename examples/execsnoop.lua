#!/usr/bin/env lua5.4
-- execsnoop: prints every exec on the system as it happens (pid, ppid, uid, comm, filename).
--
--   sudo lua5.4 examples/execsnoop.lua [seconds]     (or luajit; Ctrl-C stops it cleanly)
--
-- The program (bpf/execsnoop.bpf.c) runs on the sched/sched_process_exec tracepoint and writes a
-- struct exec_event per exec into a ring buffer; it declares that record type with
-- BPF_RINGBUF_RECORD, so the reader decodes records through BTF without being told the type.
-- Ctrl-C ends the loop (app:run) and the script detaches, closes and reports drops as usual.
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("execsnoop", "execsnoop.lua [SECONDS]",
	"Every exec on the system as it happens (Ctrl-C stops it).")
app:help(arg)
local seconds = arg and arg[1] and (tonumber(arg[1]) or app:usage("not a number of seconds: " .. arg[1]))

local obj = assert(bpf.load(cli.object_path("execsnoop")))
local link = assert(obj.programs.on_exec:attach())
local reader = assert(obj.maps.exec_events:reader())

print(string.format("%-8s %-8s %-6s %-16s %s", "PID", "PPID", "UID", "COMM", "FILENAME"))
io.stdout:flush()

local function show(e)
	print(string.format("%-8d %-8d %-6d %-16s %s", e.pid, e.ppid, e.uid, e.comm, e.filename))
	io.stdout:flush()
end

local deadline = seconds and os.time() + seconds
app:run(function()
	while not deadline or os.time() < deadline do
		assert(reader:poll(250, show))
	end
end)

reader:close()
link:detach()
local dropped = obj.globals.dropped
obj:close()
if dropped > 0 then
	io.stderr:write(string.format("execsnoop: %d events dropped (ring buffer full)\n", dropped))
end
