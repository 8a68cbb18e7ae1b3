-- Helpers of the trace specs: the controlled workload (spec/fixtures/trace_workload.c) started
-- so that a trace sees exactly the system calls it is asked to make.
--
--   local tw = require "support.trace"
--   local w = tw.start("read 1 2 3")     -- started, waiting; w.pid known, nothing counted yet
--   ... bpf.trace(src, { cpid = w.pid }) ...
--   w:go()                               -- does its work and exits (waited for)
local support = require "support.init"
local spawn = require("bpf.trace.cli").spawn

local M = {}

M.WORKLOAD = support.root .. "/build/fixtures/trace_workload"
M.LUABPF = support.root .. "/build/luabpf"

local Work = {}
Work.__index = Work

--- Starts `trace_workload wait GO -- CMD`: the process exists (w.pid) and has finished starting
-- (the dynamic loader's reads are behind it) before anything is traced; CMD runs on w:go().
function M.start(cmd)
	local go = os.tmpname()
	os.remove(go)
	local child = assert(spawn(M.WORKLOAD .. " wait " .. go .. " -- " .. cmd))
	child:release()
	assert(support.wait_until(function()
		local f = io.open(go .. ".ready")
		if f then f:close() end
		return f ~= nil
	end, 10), "the workload did not start")
	return setmetatable({ pid = child.pid, child = child, go_path = go }, Work)
end

--- Lets the workload run and waits until it has exited.
function Work:go()
	support.write_file(self.go_path, "")
	assert(self.child:wait(20), "the workload did not finish")
	os.remove(self.go_path)
	os.remove(self.go_path .. ".ready")
end

--- Ends the workload if it still runs (after a failure).
function Work:kill()
	self.child:kill()
	os.remove(self.go_path)
	os.remove(self.go_path .. ".ready")
end

--- Whether Debian's bpftrace runs here.
function M.have_bpftrace()
	return (support.sh("command -v bpftrace >/dev/null 2>&1"))
end

return M
