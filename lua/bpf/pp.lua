--- bpf.pp: readable printing of decoded values (nested tables, sorted keys) and handles.
--
--   bpf.pp(x, ...)            prints each argument
--   bpf.pp.format(x [, opts]) the text, opts = { width = 80, indent = "  ", limit = 1000,
--                             maps = "contents" | "summary" }
--
-- Keys print in a stable order (numbers ascending, then strings, then the rest), short tables
-- on one line, longer ones one entry a line. A map handle prints as its contents (up to
-- opts.limit entries; maps = "summary": its tostring, as the REPL shows it); other handles and
-- tables with a __tostring print as their tostring;
-- LuaJIT 64-bit cdata numbers print as plain integers.
local M = {}

local DEFAULTS = { width = 80, indent = "  ", limit = 1000, maps = "contents" }

local function quote(s)
	return '"' .. s:gsub('[%c"\\\128-\255]', function(c)
		if c == "\n" then return "\\n" end
		if c == "\t" then return "\\t" end
		if c == '"' or c == "\\" then return "\\" .. c end
		return string.format("\\x%02x", c:byte())
	end) .. '"'
end

local type_order = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
	local ta, tb = type(a), type(b)
	if ta ~= tb then
		return (type_order[ta] or 9) < (type_order[tb] or 9) or
			((type_order[ta] or 9) == (type_order[tb] or 9) and ta < tb)
	end
	if ta == "number" or ta == "string" then
		return a < b
	end
	return tostring(a) < tostring(b)
end

local function metaname(x)
	local mt = getmetatable(x)
	return type(mt) == "table" and rawget(mt, "__name") or nil
end

local function has_tostring(x)
	local mt = getmetatable(x)
	return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

-- A map handle's contents as a plain table (at most limit entries; the rest is counted).
local function map_contents(m, limit)
	local t, n = {}, 0
	for k, v in m:pairs() do
		n = n + 1
		if n <= limit then
			t[k] = v
		end
	end
	if n > limit then
		t["..."] = (n - limit) .. " more entries"
	end
	return t
end

local format

local function format_key(k, opts, seen)
	if type(k) == "string" and k:match("^[%a_][%w_]*$") then
		return k
	end
	return "[" .. format(k, opts, seen, "") .. "]"
end

local function format_table(t, opts, seen, indent, all_keyed)
	if seen[t] then
		return "<cycle>"
	end
	seen[t] = true
	local keys, n = {}, all_keyed and 0 or #t
	for k in pairs(t) do
		if not (math.type and math.type(k) == "integer" or type(k) == "number" and k % 1 == 0)
			or k < 1 or k > n then
			keys[#keys + 1] = k
		end
	end
	table.sort(keys, key_less)
	local inner = indent .. opts.indent
	local items = {}
	for i = 1, n do
		items[#items + 1] = format(t[i], opts, seen, inner)
	end
	for _, k in ipairs(keys) do
		items[#items + 1] = format_key(k, opts, seen) .. " = " .. format(t[k], opts, seen, inner)
	end
	seen[t] = nil
	if #items == 0 then
		return "{}"
	end
	local line = "{ " .. table.concat(items, ", ") .. " }"
	if #line + #indent <= opts.width and not line:find("\n", 1, true) then
		return line
	end
	return "{\n" .. inner .. table.concat(items, ",\n" .. inner) .. "\n" .. indent .. "}"
end

function format(x, opts, seen, indent)
	local tx = type(x)
	if tx == "string" then
		return quote(x)
	elseif tx == "table" then
		if has_tostring(x) then
			return tostring(x)
		end
		return format_table(x, opts, seen, indent)
	elseif tx == "userdata" and metaname(x) == "bpf.map" and opts.maps ~= "summary" then
		local ok, t = pcall(map_contents, x, opts.limit)
		if ok then -- map keys always show: key 1 of a hash is not an array index
			return format_table(t, opts, seen, indent, true)
		end
		return tostring(x)
	elseif tx == "cdata" then
		return (tostring(x):gsub("U?LL$", ""))
	elseif tx == "number" and x ~= x then
		return "nan"
	end
	return tostring(x)
end

--- The text bpf.pp would print for x.
function M.format(x, opts)
	local o = {}
	for k, v in pairs(DEFAULTS) do
		o[k] = (opts and opts[k] ~= nil) and opts[k] or v
	end
	return format(x, o, {}, "")
end

return setmetatable(M, {
	__call = function(_, ...)
		for i = 1, select("#", ...) do
			print(M.format((select(i, ...))))
		end
	end,
})
