--- bpf.top: a sorted top-N table of a map (or a table, or a function returning one), printed
-- every interval, the way syscount/top-style tools show counters.
--
--   bpf.top(src [, opts])            prints rounds until opts.iterations (forever if nil)
--   bpf.top.rows(src [, opts])       { {key =, value =}, ... } sorted, at most opts.n
--   bpf.top.format(rows [, opts])    one round as text (or a JSON line with opts.json)
--
-- opts: n = 10, interval = 1 (seconds between rounds), iterations, columns = {"KEY", "COUNT"},
-- key = function(k) → string (label of a key; default: the key, tables through bpf.pp),
-- value = function(v) → number (what to sort and show; per-CPU arrays are summed by default),
-- clear = true (clear the map after each round, so rounds show rates), title, json = true,
-- out = file (default io.stdout), timestamp = false (no time line).
local json = require "bpf.json"
local pp = require "bpf.pp"

local M = {}

local function to_number(v)
	if type(v) == "number" then
		return v
	elseif type(v) == "cdata" then
		return tonumber(v)
	elseif type(v) == "table" then
		local sum = 0
		for _, x in ipairs(v) do
			sum = sum + to_number(x)
		end
		return sum
	end
	error("bpf.top: values must be numbers (or give opts.value), got " .. type(v), 4)
end

local function is_map(src)
	local mt = getmetatable(src)
	return type(src) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "bpf.map"
end

local function entries(src)
	if type(src) == "function" then
		src = src()
	end
	local list = {}
	if is_map(src) then
		for k, v in src:pairs() do
			list[#list + 1] = { k, v }
		end
	elseif type(src) == "table" then
		for k, v in pairs(src) do
			list[#list + 1] = { k, v }
		end
	else
		error("bpf.top: a map handle, a table or a function expected, got " .. type(src), 3)
	end
	return list
end

local function key_label(k, opts)
	if opts.key then
		return tostring(opts.key(k))
	elseif type(k) == "table" then
		return pp.format(k)
	elseif type(k) == "cdata" then
		return (tostring(k):gsub("U?LL$", ""))
	end
	return tostring(k)
end

--- The top rows of src, largest value first (ties by key label).
function M.rows(src, opts)
	opts = opts or {}
	local rows = {}
	for _, e in ipairs(entries(src)) do
		local v = opts.value and opts.value(e[2]) or to_number(e[2])
		rows[#rows + 1] = { key = key_label(e[1], opts), value = v, raw_key = e[1] }
	end
	table.sort(rows, function(a, b)
		if a.value ~= b.value then
			return a.value > b.value
		end
		return a.key < b.key
	end)
	local n = opts.n or 10
	for i = #rows, n + 1, -1 do
		rows[i] = nil
	end
	return rows
end

local function number_text(v)
	if math.type and math.type(v) == "integer" or v == math.floor(v) then
		return string.format("%d", v)
	end
	return string.format("%.2f", v)
end

--- One round as text, or as a JSON line with opts.json.
function M.format(rows, opts)
	opts = opts or {}
	if opts.json then
		local data = json.array()
		for i, r in ipairs(rows) do
			data[i] = { key = r.key, value = r.value }
		end
		return json.encode({ type = "top", title = opts.title, time = os.time(), data = data }) .. "\n"
	end
	local cols = opts.columns or { "KEY", "COUNT" }
	local key_w = #cols[1]
	for _, r in ipairs(rows) do
		key_w = math.max(key_w, #r.key)
	end
	local lines = {}
	if opts.timestamp ~= false then
		lines[#lines + 1] = os.date("%H:%M:%S") .. (opts.title and ("  " .. opts.title) or "")
	elseif opts.title then
		lines[#lines + 1] = opts.title
	end
	local fmt = "%-" .. key_w .. "s %12s"
	lines[#lines + 1] = string.format(fmt, cols[1], cols[2])
	for _, r in ipairs(rows) do
		lines[#lines + 1] = string.format(fmt, r.key, number_text(r.value))
	end
	return table.concat(lines, "\n") .. "\n\n"
end

--- Prints a round every opts.interval seconds, opts.iterations times (forever when nil).
function M.run(src, opts)
	opts = opts or {}
	local bpf = require "bpf"
	local out = opts.out or io.stdout
	local interval = opts.interval or 1
	local i = 0
	while not opts.iterations or i < opts.iterations do
		i = i + 1
		if interval > 0 then
			bpf.sleep(interval)
		end
		out:write(M.format(M.rows(src, opts), opts))
		out:flush()
		if opts.clear and is_map(src) then
			src:clear()
		end
	end
end

return setmetatable(M, {
	__call = function(_, src, opts)
		M.run(src, opts)
	end,
})
