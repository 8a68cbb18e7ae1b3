-- The trace compiler's fuzz entry point (mk/fuzz.mk: trace_compile) and the fuzz spec's:
-- compiles any bytes and insists the answer is a plan or an error message with a position.
-- Anything else (an internal error) ends the process so libFuzzer keeps the input.
local compile = require "bpf.trace.compile"

local M = {}

-- nil when the answer is clean (and the plan, if it compiled), else what is wrong with it.
function M.verdict(src)
	local ok, plan, err = pcall(compile, src, { name = "fuzz" })
	if not ok then return "compile raised: " .. tostring(plan) end
	if plan then
		if type(plan.programs) ~= "table" or #plan.programs == 0 then return "a plan without programs" end
		return nil, plan
	end
	if type(err) ~= "string" then return "no message" end
	if not err:match("^fuzz:%d+:%d+[-%d]*: ERROR: [^\n]+\n[^\n]*\n *~+$") then
		return "a message without a position: " .. err
	end
	return nil
end

function M.compile(src)
	local bad = M.verdict(src)
	if bad then
		io.stderr:write("trace compile: ", bad, "\n")
		os.exit(1)
	end
end

return M
