#!/usr/bin/env lua5.4
--[[
trace_opens: the files each process opens, from a bpftrace program that bpf.trace compiles and
runs in-process (no clang, no .bpf.c), with the report written in Lua.

  lua5.4 examples/trace_opens.lua [-d SECONDS] [-n ROWS]

Each second: the ROWS processes (default 5) that opened the most files, with their three most
opened files; at the end, the ROWS (process, file) pairs opened most over the whole run. Runs
for SECONDS (default 3; Ctrl-C stops it sooner). Needs root and `make`.
]]
local bpf = require "bpf"
local cli = require "bpf.cli"

local app = cli.new("trace_opens", "trace_opens.lua [-d SECONDS] [-n ROWS]",
	"The files each process opens, each second (bpf.trace; Ctrl-C stops it).")

local PROGRAM = [[
tracepoint:syscalls:sys_enter_openat {
	@opens[comm] = count();
	@files[comm, str(args->filename)] = count();
}
]]

-- { {name, n}, ... } from { [name] = n }, largest first (names break ties).
local function ranked(t)
	local rows = {}
	for k, n in pairs(t) do rows[#rows + 1] = { k, n } end
	table.sort(rows, function(a, b)
		if a[2] ~= b[2] then return a[2] > b[2] end
		return a[1] < b[1]
	end)
	return rows
end

local function report(second, opens, files, rows)
	local procs = ranked(opens)
	print(string.format("-- second %d: %d processes opened files", second, #procs))
	for i = 1, math.min(rows, #procs) do
		local comm, n = procs[i][1], procs[i][2]
		local top = {}
		for j, f in ipairs(ranked(files[comm] or {})) do
			if j > 3 then break end
			top[#top + 1] = string.format("%s (%d)", f[1], f[2])
		end
		print(string.format("%6d  %-16s %s", n, comm, table.concat(top, ", ")))
	end
end

local function main(argv)
	local opts = app:parse(argv, {
		defaults = { seconds = 3, rows = 5 },
		integers = { ["-d"] = "seconds", ["-n"] = "rows" },
	})
	local t = app:check(bpf.trace(PROGRAM, { print = false }))
	print("tracing openat for " .. opts.seconds .. " s: " .. tostring(t))
	io.stdout:flush()
	local totals = {}
	app:run(function()
		for second = 1, opts.seconds do
			bpf.sleep(1)
			-- plain Lua tables: { [comm] = n } and { [comm] = { [file] = n } }
			local opens, files = t:read("@opens"), t:read("@files")
			t.maps.opens:clear()
			t.maps.files:clear()
			report(second, opens, files, opts.rows)
			for comm, byfile in pairs(files) do
				for file, n in pairs(byfile) do
					local k = comm .. ": " .. file
					totals[k] = (totals[k] or 0) + n
				end
			end
			io.stdout:flush()
		end
	end)
	t:close()
	print(string.format("-- the %d most opened (process: file) over the run:", opts.rows))
	for i, row in ipairs(ranked(totals)) do
		if i > opts.rows then break end
		print(string.format("%6d  %s", row[2], row[1]))
	end
	return 0
end

os.exit(main(arg))
