-- @NAME@: loads @NAME@.bpf.o, attaches it, and after SECONDS (default 2) prints the processes
-- that made the most system calls.
--
--   make run ARGS=5        or        luabpf @NAME@.lua 5
local bpf = require "bpf"
local cli = require "bpf.cli"

local seconds = tonumber(arg and arg[1]) or 2
-- The object sits next to this script.
local dir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."

local obj = assert(bpf.load(dir .. "/@NAME@.bpf.o"))
local link = assert(obj.programs.count_syscalls:attach())
print(("@NAME@: counting syscalls for %g s (%s)"):format(seconds, tostring(link)))
cli.run(bpf.sleep, seconds) -- Ctrl-C ends the wait early, quietly

local rows = {}
for pid, c in obj.maps.counts:pairs() do
	rows[#rows + 1] = { pid = pid, calls = c.calls, comm = tostring(c.comm):gsub("%z.*$", "") }
end
table.sort(rows, function(a, b) return a.calls > b.calls end)
print(("%8s  %-16s %10s"):format("PID", "COMM", "SYSCALLS"))
for i = 1, math.min(10, #rows) do
	local r = rows[i]
	print(("%8d  %-16s %10d"):format(r.pid, r.comm, r.calls))
end
print(("total: %s syscalls by %d processes"):format(tostring(obj.globals.total_calls), #rows))

link:detach()
obj:close()
