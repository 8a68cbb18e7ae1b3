-- The trace compiler's fuzz entry points (mk/fuzz.mk: trace_compile, trace_parse,
-- trace_builders) and the fuzz spec's: compiles (or only parses) any bytes and insists the answer is a plan (an AST) or an
-- error message with a position. Anything else (an internal error) ends the process so
-- libFuzzer keeps the input.
local compile = require "bpf.trace.compile"
local parser = require "bpf.trace.parser"
local diag = require "bpf.trace.diag"

local M = {}

-- The entry point of a fuzz target: a verdict, and the process ended when it finds something
-- wrong (libFuzzer then keeps the input).
local function target(name, verdict)
	return function(src)
		local bad = verdict(src)
		if bad then
			io.stderr:write(name, ": ", bad, "\n")
			os.exit(1)
		end
	end
end

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


-- A compile's answer as text: the plan text and each program's checked helper calls, or the
-- error.
local function outcome(src)
	local ok, plan, err = pcall(compile, src, { name = "fuzz" })
	if not ok then return "raised: " .. tostring(plan) end
	if not plan then return "error: " .. tostring(err) end
	local parts = { plan.text }
	for _, pp in ipairs(plan.programs) do
		local b = pp.asm
		b:insns() -- (the C builder's record is read from the Lua builder it becomes)
		parts[#parts + 1] = pp.bpf_name .. ": " .. table.concat(b.helper_calls, ",", 1, b.ncalls)
	end
	return table.concat(parts, "\n")
end

-- nil when the builder in C (PUC Lua) and bpf.asm_fast's Lua builder give the same answer for
-- src, else what differs.
function M.builders_verdict(src)
	local fast = require "bpf.asm_fast"
	if not fast.has_c then return nil end
	local c = outcome(src)
	fast.lua_only = true
	local ok, l = pcall(outcome, src)
	fast.lua_only = false
	if not ok then return "the Lua builder raised: " .. tostring(l) end
	if c ~= l then return "the builders differ:\n--- C\n" .. c .. "\n--- Lua\n" .. l end
	return nil
end


-- The first node (a table with `kind`) of the AST without numeric pos and epos, or nil.
local function node_without_position(t)
	if t.kind and (type(t.pos) ~= "number" or type(t.epos) ~= "number") then return t end
	for _, v in pairs(t) do
		if type(v) == "table" then
			local bad = node_without_position(v)
			if bad then return bad end
		end
	end
	return nil
end

-- nil when the parser's answer is clean: an AST whose nodes all have positions, or a
-- positioned error inside the source (a macro body's error points into the body, also inside).
function M.parse_verdict(src)
	local ok, res = pcall(parser.parse, src)
	if ok then
		if type(res) ~= "table" or res.kind ~= "program" then return "an AST that is not a program" end
		local bad = node_without_position(res)
		return bad and ("a '" .. tostring(bad.kind) .. "' node without a position") or nil
	end
	if not diag.is_error(res) then return "parse raised: " .. tostring(res) end
	if type(res.pos) ~= "number" or res.pos < 1 or res.pos > #src + 1 then
		return "an error outside the source: " .. tostring(res.pos) .. ": " .. tostring(res.message)
	end
	return nil
end


M.compile = target("trace compile", M.verdict)
M.builders = target("trace builders", M.builders_verdict)
M.parse = target("trace parse", M.parse_verdict)

return M
