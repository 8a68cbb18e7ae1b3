#!/usr/bin/env lua5.4
-- Ring buffer events inside a luv (libuv) loop: the reader's fd becomes readable when records
-- wait; the poll callback drains them with consume(). Prints execs for a few seconds.
--
--   sudo lua5.4 examples/events_luv.lua [seconds]        (apt install lua-luv)
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("events_luv", "events_luv.lua [SECONDS]",
	"Execs printed from a ring buffer inside a luv loop (Ctrl-C stops it).")
app:help(arg)
local seconds = tonumber(arg and arg[1] or 5) or app:usage("not a number of seconds: " .. arg[1])
local uv = require "luv"

local obj = assert(bpf.load(cli.object_path("execsnoop")))
local link = assert(obj.programs.on_exec:attach())
local reader = assert(obj.maps.exec_events:reader { type = "struct exec_event" })

local poll = uv.new_poll(reader:fd())
poll:start("r", function(err)
	assert(not err, err)
	reader:consume(function(e)
		print(string.format("%-8d %-8d %-16s %s", e.pid, e.ppid, e.comm, e.filename))
	end)
end)

local stop = uv.new_timer()
local sigint = uv.new_signal()
local function finish()
	if poll:is_closing() then return end
	poll:stop(); poll:close(); stop:close(); sigint:close()
end
stop:start(seconds * 1000, 0, finish)
-- Ctrl-C inside the loop: libuv takes SIGINT over and the loop ends like the timer ends it.
sigint:start("sigint", finish)

-- Something to see even on an idle machine: run a command now and then.
local tick = uv.new_timer()
tick:start(200, 500, function()
	if stop:is_closing() then tick:close() return end
	local child
	child = uv.spawn("/bin/true", { args = {} }, function() child:close() end)
end)

uv.run()
reader:close()
link:detach()
obj:close()
