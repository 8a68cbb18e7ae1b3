#!/usr/bin/env lua5.4
--[[
syscount: a live top of system calls per process.

  lua5.4 examples/syscount.lua [-d SECONDS] [-p PID] [-n ROWS]

Loads bpf/syscount.bpf.o, attaches count_syscalls to the raw_syscalls/sys_enter tracepoint and
once a second prints the processes that entered the kernel most often during that second, and
the busiest syscall numbers. Runs for SECONDS (default 3), then detaches and exits.
Needs root (CAP_BPF + CAP_PERFMON) and `make` having built the module and the object.
]]
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("syscount", "syscount.lua [-d SECONDS] [-p PID] [-n ROWS]",
	"A live top of system calls per process (Ctrl-C stops it).")

-- The process's current name, or the one the program recorded (it may have exited since).
local function comm(obj, pid)
	local f = io.open("/proc/" .. tostring(pid) .. "/comm", "r")
	local name = f and f:read("l")
	if f then f:close() end
	if not name then
		local recorded = obj.maps.pid_comm[pid]
		name = recorded and tostring(recorded):gsub("%z.*$", "")
	end
	return name or "?"
end

-- Syscall names from the installed kernel headers (x86_64: asm/unistd_64.h); numbers otherwise.
local function syscall_names()
	local names = {}
	for _, path in ipairs { "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
		"/usr/include/asm/unistd_64.h", "/usr/include/asm-generic/unistd.h" } do
		local f = io.open(path, "r")
		if f then
			for name, nr in f:read("a"):gmatch("#define __NR_([%w_]+)%s+(%d+)") do
				names[tonumber(nr)] = names[tonumber(nr)] or name
			end
			f:close()
			return names
		end
	end
	return names
end

-- Reads and empties a counting map; returns rows {key, count} sorted by count, largest first.
local function drain(map)
	local rows = {}
	for k, n in map:pairs() do rows[#rows + 1] = { key = k, count = n } end
	for _, row in ipairs(rows) do map[row.key] = nil end
	table.sort(rows, function(a, b) return a.count > b.count end)
	return rows
end

local function report(obj, second, rows, names)
	local procs, calls = drain(obj.maps.pid_counts), drain(obj.maps.syscall_counts)
	local total = 0
	for _, r in ipairs(procs) do total = total + r.count end
	print(string.format("\n-- second %d: %d syscalls, %d processes", second, total, #procs))
	print(string.format("%8s  %-16s %10s", "PID", "COMM", "SYSCALLS"))
	for i = 1, math.min(rows, #procs) do
		local r = procs[i]
		print(string.format("%8d  %-16s %10d", r.key, comm(obj, r.key), r.count))
	end
	for _, r in ipairs(procs) do obj.maps.pid_comm[r.key] = nil end
	local top = {}
	for i = 1, math.min(5, #calls) do
		local nr = calls[i].key
		top[#top + 1] = string.format("%s %d", names[nr] or ("#" .. nr), calls[i].count)
	end
	print("busiest syscalls: " .. table.concat(top, ", "))
end

local function main(argv)
	local opts = app:parse(argv, {
		defaults = { seconds = 3, pid = 0, rows = 10 },
		integers = { ["-d"] = "seconds", ["-p"] = "pid", ["-n"] = "rows" },
	})
	local path = cli.object_path("syscount")
	local obj, err = bpf.load(path, { globals = { target_tgid = opts.pid } })
	if not obj then
		io.stderr:write("syscount: cannot load ", path, ": ", err, "\n")
		return 1
	end
	local link
	link, err = obj.programs.count_syscalls:attach()
	if not link then
		io.stderr:write("syscount: cannot attach: ", err, "\n")
		obj:close()
		return 1
	end
	print(string.format("counting syscalls for %d s (%s)... ", opts.seconds, tostring(link)))
	local names = syscall_names()
	app:run(function()
		for second = 1, opts.seconds do
			bpf.sleep(1)
			report(obj, second, opts.rows, names)
			io.stdout:flush()
		end
	end)
	link:detach()
	obj:close()
	return 0
end

os.exit(main(arg or {}))
