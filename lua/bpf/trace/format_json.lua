--- bpf.trace.format_json: bpftrace 0.17's `-f json` output (one JSON object a line) from the
-- same plain data as bpf.trace.format, in the same order.
--
--   json.map(m [, opts])         {"type": "map"|"hist"|"stats", "data": {"@x": ...}} or "" (empty map)
--   json.maps(list)              every map in name order
--   json.message(type, text)     {"type": "printf"|"time"|"join", "data": "text"}
--   json.value(text, quoted)     {"type": "value", "data": ...} (print(expr))
--   json.attached(n)             {"type": "attached_probes", "data": {"probes": n}}
local format = require "bpf.trace.format"
local int64 = require "bpf.trace.int64"

local I = format.internal
local M = {}

-- C++ json_escape of bpftrace 0.17: quote, backslash, \n \r \t, other controls as \u00XX.
local function escape(s)
	return (s:gsub('[%c"\\]', function(c)
		if c == '"' then return '\\"' end
		if c == "\\" then return "\\\\" end
		if c == "\n" then return "\\n" end
		if c == "\r" then return "\\r" end
		if c == "\t" then return "\\t" end
		if c:byte() < 32 then return string.format("\\u%04x", c:byte()) end
		return c
	end))
end
M.escape = escape

local function quoted(s) return '"' .. escape(s) .. '"' end

local function hist_json(buckets)
	local lo, hi = nil, nil
	for i = 0, 64 do
		if (tonumber(buckets[i]) or 0) > 0 then
			lo = lo or i
			hi = i
		end
	end
	if not lo then return "[]" end
	local out = {}
	for i = lo, hi do
		local range
		if i == 0 then range = '"max": -1, '
		elseif i == 1 then range = '"min": 0, "max": 0, '
		elseif i == 2 then range = '"min": 1, "max": 1, '
		else range = string.format('"min": %d, "max": %d, ', 2 ^ (i - 2), 2 ^ (i - 1) - 1) end
		out[#out + 1] = "{" .. range .. '"count": ' .. int64.digits(buckets[i] or 0, 10) .. "}"
	end
	return "[" .. table.concat(out, ", ") .. "]"
end

local function lhist_json(buckets, min, max, step)
	local n = math.floor((max - min) / step)
	local first, last = nil, nil
	for i = 0, n + 1 do
		if (tonumber(buckets[i]) or 0) > 0 then
			first = first or i
			last = i
		end
	end
	if not first then return "[]" end
	local out = {}
	for i = first, last do
		local range
		if i == 0 then range = string.format('"max": %d, ', min - 1)
		elseif i == n + 1 then range = string.format('"min": %d, ', max)
		else range = string.format('"min": %d, "max": %d, ', (i - 1) * step + min, i * step + min - 1) end
		out[#out + 1] = "{" .. range .. '"count": ' .. int64.digits(buckets[i] or 0, 10) .. "}"
	end
	return "[" .. table.concat(out, ", ") .. "]"
end

local QUOTED = { string = true, ksym = true, usym = true, inet = true, kstack = true, ustack = true }

local function value_json(m, v, div)
	local kind = m.kind
	if I.SCALAR[kind] then
		if div and div > 1 then v = int64.div(v, div) end
		return I.int_text(v, I.SCALAR[kind] == "int" and m.signed ~= false)
	elseif kind == "avg" then
		local a = I.average(v)
		if div and div > 1 then a = int64.div(a, div) end
		return I.int_text(a, true)
	elseif kind == "stats" then
		return string.format('{"count": %s, "average": %s, "total": %s}', I.int_text(v.count or 0, true),
			I.int_text(I.average(v), true), I.int_text(v.total or 0, true))
	elseif kind == "hist" then
		return hist_json(v)
	elseif kind == "lhist" then
		return lhist_json(v, m.lhist.min, m.lhist.max, m.lhist.step)
	elseif I.STACK[kind] then
		return quoted(format.stack(v, true))
	elseif QUOTED[kind] or type(v) == "string" then
		return quoted(tostring(v))
	end
	return I.component_text(v, kind)
end

local TYPE = { hist = "hist", lhist = "hist", avg = "stats", stats = "stats" }

--- One map as bpftrace -f json prints it (a line), or "" when the map is empty.
function M.map(m, opts)
	opts = opts or {}
	local list = I.sorted(m)
	if #list == 0 then return "" end
	local top = opts.top or 0
	if m.kind == "stats" then top = 0 end
	local first = (top > 0 and #list > top) and (#list - top + 1) or 1
	local keyed = m.keys and #m.keys > 0
	local parts = {}
	for i = first, #list do
		local e = list[i]
		local val = value_json(m, e.value, opts.div)
		if keyed then
			local comps = {}
			for j, c in ipairs(e.key) do comps[j] = I.component_text(c, m.keys[j]) end
			parts[#parts + 1] = quoted(table.concat(comps, ",")) .. ": " .. val
		else
			parts[#parts + 1] = val
		end
	end
	local body = table.concat(parts, ", ")
	if keyed then body = "{" .. body .. "}" end
	return string.format('{"type": "%s", "data": {%s: %s}}\n', TYPE[m.kind] or "map", quoted(m.name), body)
end

--- Every map of the list in name order.
function M.maps(list)
	return format.each_map_by_name(list, M.map)
end

function M.message(kind, text)
	return string.format('{"type": "%s", "data": %s}\n', kind, quoted(text))
end

function M.value(text, is_quoted)
	return string.format('{"type": "value", "data": %s}\n', is_quoted and quoted(text) or text)
end

function M.attached(n)
	return string.format('{"type": "attached_probes", "data": {"probes": %d}}\n', n)
end

function M.lost_events(n)
	return string.format('{"type": "lost_events", "data": {"events": %d}}\n', n)
end

return M
