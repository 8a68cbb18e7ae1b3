-- What the bpftrace kernel specs (trace_k.lua, trace_multi_k.lua) share: running a program over
-- the controlled workload (build/kernels/fixtures/trace_workload, a static program that makes
-- exactly the system calls it is told to) and showing a map read back. Loaded by those files
-- with their runner environment: loadfile("spec/kernel/trace_support.lua", "t", _ENV)().
local bpf = bpf or require "bpf"
local cli = require "bpf.trace.cli"

local M = {}

M.WORKLOAD = "build/kernels/fixtures/trace_workload"

-- Runs source over the workload `args` started held as `-c` does (cpid = its pid): compiles and
-- attaches, releases it, waits for its end, handles every record left. opts are added to the
-- bpf.trace options. Returns the trace (finished, maps not printed) and what happened:
-- { out = the printf text, warnings = {...}, links = links while attached, pid = the child's }.
function M.run(source, args, opts)
	local seen = { warnings = {} }
	local out = {}
	local child = ok(cli.spawn(M.WORKLOAD .. " " .. args))
	local o = { cpid = child.pid, print = false,
		on_printf = function(text) out[#out + 1] = text end,
		on_warning = function(w) seen.warnings[#seen.warnings + 1] = w end }
	for k, v in pairs(opts or {}) do o[k] = v end
	local t, err = bpf.trace(source, o)
	if not t then
		child:kill()
		child:release()
		error(err, 3)
	end
	seen.links = M.size(t.state.links)
	child:release()
	local done = child:wait(20)
	t:finish("done")
	if not done then
		child:kill()
		t:close()
		error("the workload did not finish within 20 s", 3)
	end
	seen.out, seen.pid = table.concat(out), child.pid
	return t, seen
end

-- The number of entries of a table.
function M.size(tbl)
	local n = 0
	for _ in pairs(tbl) do n = n + 1 end
	return n
end

-- A one-key map read back, as "{k=v,k=v}" sorted (for messages that show what was there).
function M.show(tbl)
	local parts = {}
	for k, v in pairs(tbl) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(v) end
	table.sort(parts)
	return "{" .. table.concat(parts, ",") .. "}"
end

return M
