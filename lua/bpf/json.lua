--- bpf.json: a small JSON encoder for tracing output (bpf.hist, bpf.top, scripts).
--
--   local json = require "bpf.json"   -- or bpf.json
--   json.encode({ comm = "nginx", count = 3 })  --> {"comm":"nginx","count":3}
--
-- Tables with keys 1..n are arrays, other tables objects with keys in sorted order (so the
-- output is stable); json.array(t) marks a table (empty or not) as an array. 64-bit cdata
-- numbers of LuaJIT are written as plain integers; NaN and infinities as null. Cycles, functions
-- and other values that JSON cannot hold are errors.
local M = {}

local array_mt = { __name = "bpf.json.array" }

--- Marks t as a JSON array (so that an empty table encodes as [] rather than {}).
function M.array(t)
	return setmetatable(t or {}, array_mt)
end

local escapes = {
	['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
	["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
	return '"' .. s:gsub('[%c"\\]', function(c)
		return escapes[c] or string.format("\\u%04x", c:byte())
	end) .. '"'
end

local function encode_number(n)
	if n ~= n or n == math.huge or n == -math.huge then
		return "null"
	end
	if math.type and math.type(n) == "integer" then
		return string.format("%d", n)
	end
	if n == math.floor(n) and math.abs(n) < 2 ^ 53 then
		return string.format("%.0f", n)
	end
	return string.format("%.17g", n)
end

local function is_array(t)
	if getmetatable(t) == array_mt then
		return true
	end
	local n = #t
	if n == 0 then
		return false
	end
	local count = 0
	for _ in pairs(t) do
		count = count + 1
	end
	return count == n
end

local function key_string(k)
	if type(k) == "string" then
		return k
	elseif type(k) == "number" then
		return encode_number(k)
	end
	error("bpf.json: cannot use a " .. type(k) .. " as an object key", 0)
end

local encode_value

local function encode_table(t, seen)
	if seen[t] then
		error("bpf.json: cannot encode a table that contains itself", 0)
	end
	seen[t] = true
	local parts = {}
	if is_array(t) then
		for i = 1, #t do
			parts[i] = encode_value(t[i], seen)
		end
		seen[t] = nil
		return "[" .. table.concat(parts, ",") .. "]"
	end
	local keys = {}
	for k in pairs(t) do
		keys[#keys + 1] = key_string(k)
	end
	table.sort(keys)
	local by_string = {}
	for k, v in pairs(t) do
		by_string[key_string(k)] = v
	end
	for i, k in ipairs(keys) do
		parts[i] = encode_string(k) .. ":" .. encode_value(by_string[k], seen)
	end
	seen[t] = nil
	return "{" .. table.concat(parts, ",") .. "}"
end

function encode_value(v, seen)
	local tv = type(v)
	if tv == "nil" then
		return "null"
	elseif tv == "boolean" then
		return tostring(v)
	elseif tv == "number" then
		return encode_number(v)
	elseif tv == "string" then
		return encode_string(v)
	elseif tv == "table" then
		return encode_table(v, seen)
	elseif tv == "cdata" then -- LuaJIT int64_t / uint64_t: "123ULL"
		local digits = tostring(v):match("^(%-?%d+)U?LL$")
		if digits then
			return digits
		end
	end
	error("bpf.json: cannot encode a " .. tv, 0)
end

--- The JSON text of v.
function M.encode(v)
	return encode_value(v, {})
end

return M
