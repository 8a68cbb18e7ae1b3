-- The fuzz entry point of the trace compiler's builder (mk/fuzz.mk: asm_fast_calls): the input's
-- bytes choose builder calls and their arguments, run on a builder in C (lua/lasm_gen.c) and on
-- bpf.asm_fast's Lua builder. Each call must give both the same result or the same error, and
-- the finished programs the same text; anything else ends the process so libFuzzer keeps the
-- input. Under LuaJIT (no C builder) there is nothing to compare.
local fast = require "bpf.asm_fast"

local M = {}
local unpack = table.unpack or unpack

local REF, LOST = { id = 1000001, name = "m" }, { id = 1000002, name = "lost" }
-- What arguments are drawn from: well-formed values, their edges and mistakes.
local POOLS = {
	reg = { "r0", "r1", "r2", "r3", "r6", "r7", "r10", "w0", "w2", "r11", "x", 5 },
	src = { "r0", "r1", "r2", "r7", "r10", "w1", 0, 1, -1, 100, 2147483647, 2147483648, -2147483649,
		4294967295, 0.5, "3" },
	off = { 0, 8, -8, -16, -24, -512, 32767, -32768, 32768, 1.5 },
	size = { "u8", "u16", "u32", "u64", "u128", 8 },
	int = { 0, 1, 2, 8, 16, 40, -1, 512, 600, 65536, 2.5 },
	imm = { 0, 1, -1, 255, 4294967295, 2147483648, 1e10, 0.25 },
	label = { 1, 2, 3, 0, 99, "l" },
	ref = { REF, LOST, {}, 3 },
	helper = { "map_lookup_elem", "map_update_elem", "ktime_get_ns", "get_current_comm",
		"ringbuf_output", "probe_read", "no_such", 7 },
	kind = { "inc", "sum", "avg", "min", "max", "x" },
	flag = { true, false, nil },
	text = { "==", "!=", "s<", ">=", "&", "??" },
}

-- name, then the pools of its arguments.
local CALLS = {
	{ "mov", "reg", "src" }, { "add", "reg", "src" }, { "sub", "reg", "src" }, { "mul", "reg", "src" },
	{ "rsh", "reg", "src" }, { "and_", "reg", "src" }, { "neg", "reg" }, { "be", "reg", "int" },
	{ "stack_ptr", "reg", "off" }, { "ldx", "size", "reg", "reg", "off" },
	{ "stx", "size", "reg", "off", "reg" }, { "st", "size", "reg", "off", "imm" },
	{ "ld_imm64", "reg", "imm" }, { "ld_map", "reg", "ref" }, { "ld_map_value", "reg", "ref", "off" },
	{ "atomic", "text", "size", "reg", "off", "reg" },
	{ "new_label", "text" }, { "label", "label" }, { "ja", "label" }, { "jeq", "reg", "src", "label" },
	{ "jcond", "text", "reg", "src", "label" }, { "exit" }, { "call", "helper", "int" },
	{ "map_lookup", "ref", "off" }, { "map_update", "ref", "off", "off", "imm" },
	{ "aggregate_update", "kind", "ref", "off", "off", "int", "flag" }, { "log2_slot", "off" },
	{ "linear_slot", "int", "imm", "int", "flag", "off" }, { "zero", "off", "int" },
	{ "current_comm", "off", "int" }, { "ringbuf_output", "ref", "ref", "off", "int" },
	{ "stack", "int", "int" }, { "stack_used" }, { "stack_reset", "int" },
	{ "line", "text", "int", "int", "text" }, { "count" }, { "finish" },
}

-- The calls the bytes spell: each byte picks a call, the next ones its arguments.
local function decode(bytes)
	local calls, i = {}, 1
	while i <= #bytes and #calls < 64 do
		local c = CALLS[bytes:byte(i) % #CALLS + 1]
		i = i + 1
		local args = { n = #c - 1 }
		for a = 2, #c do
			local pool = POOLS[c[a]]
			args[a - 1] = pool[((bytes:byte(i) or 0) % #pool) + 1]
			i = i + 1
		end
		calls[#calls + 1] = { name = c[1], args = args }
	end
	return calls
end

-- A result as text: integral numbers without a fraction (the C path gives integers where the
-- Lua one may keep a float), errors without the position of the Lua line that raised them.
local function show(ok, ...)
	if not ok then
		local msg = tostring((...))
		repeat
			local rest = msg:match("^[^:\n]+:%d+: (.*)$")
			if rest then msg = rest end
		until not rest
		-- a method the finished builder lacks: Lua names the call site, a call from C cannot
		msg = msg:gsub("^(attempt to call a nil value).*$", "%1")
		return "error: " .. msg
	end
	local out = {}
	for i = 1, select("#", ...) do
		local v = select(i, ...)
		if type(v) == "number" and v % 1 == 0 then v = string.format("%d", v)
		elseif type(v) == "table" then v = "table" end
		out[i] = tostring(v)
	end
	return table.concat(out, ",")
end

local function run(calls, lua_only)
	fast.lua_only = lua_only
	local b = fast.new({ name = "f", file = "f.bt" }, 16)
	fast.lua_only = false
	local results = {}
	for k, c in ipairs(calls) do
		local args = c.args
		results[k] = show(pcall(function() return b[c.name](b, unpack(args, 1, args.n)) end))
	end
	results[#results + 1] = show(pcall(function() return b:finish() and b:text({ lines = true, labels = true }) end))
	return results
end

-- nil when both builders agree on every call, else where they part.
function M.verdict(bytes)
	if not fast.has_c then return nil end
	local calls = decode(bytes)
	local c, l = run(calls, false), run(calls, true)
	for k = 1, #l do
		if c[k] ~= l[k] then
			local call = calls[k] and calls[k].name or "finish/text"
			return string.format("call %d (%s): C gave %q, Lua %q", k, call, c[k] or "nothing", l[k])
		end
	end
	return nil
end

function M.calls(bytes)
	local bad = M.verdict(bytes)
	if bad then
		io.stderr:write("asm_fast calls: ", bad, "\n")
		os.exit(1)
	end
end

return M
