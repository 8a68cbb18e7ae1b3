--- bpf.hist: bpftrace-style histograms of a map (or a Lua table) of bucket → count.
--
--   bpf.hist(src [, opts])          prints a log2 (default) or linear histogram
--   bpf.hist.log2(src [, opts])     prints a log2 histogram
--   bpf.hist.linear(src [, opts])   prints a linear histogram (opts.min, opts.step)
--   bpf.hist.format(src [, opts])   the text (or JSON with opts.json) instead of printing
--   bpf.hist.buckets(src [, opts])  { {min =, max =, count =, label =}, ... }
--   bpf.hist.slot(v)                the log2 slot of a value (what the BPF side computes)
--
-- src: a map handle or a Lua table whose keys are bucket numbers and whose values are counts
-- (numbers, LuaJIT 64-bit cdata, or per-CPU arrays of them, which are summed). Log2 slots follow
-- bpftrace: slot 0 holds 0, slot 1 holds 1, slot k >= 2 holds [2^(k-1), 2^k). Linear bucket i
-- holds [min + i*step, min + (i+1)*step).
--
-- opts: kind = "log2" | "linear", title = "@usecs" (default: "@" .. map name), min, step,
-- width = 52 (bar width), json = true (bpftrace's JSON shape), out = file (default io.stdout).
local json = require "bpf.json"

local M = {}

local function to_number(v)
	if type(v) == "number" then
		return v
	elseif type(v) == "cdata" then
		return tonumber(v)
	elseif type(v) == "table" then -- per-CPU values
		local sum = 0
		for _, x in ipairs(v) do
			sum = sum + to_number(x)
		end
		return sum
	elseif v == nil then
		return 0
	end
	error("bpf.hist: counts must be numbers, got " .. type(v), 3)
end

local function is_map(src)
	local mt = getmetatable(src)
	return type(src) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "bpf.map"
end

-- { [bucket] = count } from a map or a table.
local function read_counts(src)
	local counts = {}
	if is_map(src) then
		for k, v in src:pairs() do
			counts[to_number(k)] = (counts[to_number(k)] or 0) + to_number(v)
		end
	elseif type(src) == "table" then
		for k, v in pairs(src) do
			if type(k) ~= "number" and type(k) ~= "cdata" then
				error("bpf.hist: bucket keys must be numbers, got " .. type(k), 3)
			end
			counts[to_number(k)] = (counts[to_number(k)] or 0) + to_number(v)
		end
	else
		error("bpf.hist: a map handle or a table expected, got " .. type(src), 3)
	end
	return counts
end

--- The log2 slot of a non-negative value: 0 for 0, 1 for 1, k for [2^(k-1), 2^k).
function M.slot(v)
	local k = 0
	while v >= 1 do
		v = v / 2
		k = k + 1
	end
	return k
end

local suffixes = { "", "K", "M", "G", "T", "P", "E" }

-- 1024 → "1K", 3072 → "3K", 1000 → "1000".
local function short(n)
	local i = 1
	while n >= 1024 and n % 1024 == 0 and i < #suffixes do
		n = n / 1024
		i = i + 1
	end
	return string.format("%d%s", n, suffixes[i])
end

local function log2_bucket(slot)
	if slot <= 0 then
		return 0, 0, "[0]"
	elseif slot == 1 then
		return 1, 1, "[1]"
	end
	local lo, hi = 2 ^ (slot - 1), 2 ^ slot
	return lo, hi - 1, string.format("[%s, %s)", short(lo), short(hi))
end

local function linear_bucket(i, min, step)
	local lo = min + i * step
	return lo, lo + step - 1, string.format("[%d, %d)", lo, lo + step)
end

--- The buckets from the lowest to the highest non-empty one (empty ones between included).
function M.buckets(src, opts)
	opts = opts or {}
	local counts = read_counts(src)
	local lo, hi
	for k, c in pairs(counts) do
		if c ~= 0 then
			lo = (lo == nil or k < lo) and k or lo
			hi = (hi == nil or k > hi) and k or hi
		end
	end
	local out = {}
	if not lo then
		return out
	end
	local linear = opts.kind == "linear"
	for k = lo, hi do
		local bmin, bmax, label
		if linear then
			bmin, bmax, label = linear_bucket(k, opts.min or 0, opts.step or 1)
		else
			bmin, bmax, label = log2_bucket(k)
		end
		out[#out + 1] = { min = bmin, max = bmax, count = counts[k] or 0, label = label }
	end
	return out
end

local function title_of(src, opts)
	if opts.title then
		return opts.title
	end
	if is_map(src) then
		local ok, name = pcall(function() return src.name end)
		if ok and type(name) == "string" then
			return "@" .. name
		end
	end
	return "@"
end

local function format_text(title, buckets, width)
	local lines = { title .. ":" }
	local max, label_w, count_w = 0, 0, 8
	for _, b in ipairs(buckets) do
		max = math.max(max, b.count)
		label_w = math.max(label_w, #b.label)
		count_w = math.max(count_w, #string.format("%d", b.count))
	end
	for _, b in ipairs(buckets) do
		local n = max > 0 and math.floor(b.count * width / max + 0.5) or 0
		if b.count > 0 and n == 0 then
			n = 1 -- a non-empty bucket always shows
		end
		lines[#lines + 1] = string.format("%-" .. label_w .. "s %" .. count_w .. "d |%s%s|",
			b.label, b.count, string.rep("@", n), string.rep(" ", width - n))
	end
	return table.concat(lines, "\n") .. "\n"
end

local function format_json(title, buckets)
	local rows = json.array()
	for _, b in ipairs(buckets) do
		rows[#rows + 1] = { min = b.min, max = b.max, count = b.count }
	end
	return json.encode({ type = "hist", data = { [title] = rows } }) .. "\n"
end

--- The histogram as text (or JSON with opts.json).
function M.format(src, opts)
	opts = opts or {}
	if opts.kind and opts.kind ~= "log2" and opts.kind ~= "linear" then
		error("bpf.hist: kind must be 'log2' or 'linear', got '" .. tostring(opts.kind) .. "'", 2)
	end
	if opts.kind == "linear" and (opts.step or 1) <= 0 then
		error("bpf.hist: step must be positive", 2)
	end
	local buckets = M.buckets(src, opts)
	local title = title_of(src, opts)
	if opts.json then
		return format_json(title, buckets)
	end
	return format_text(title, buckets, opts.width or 52)
end

local function with_kind(opts, kind)
	local o = {}
	for k, v in pairs(opts or {}) do
		o[k] = v
	end
	o.kind = kind
	return o
end

--- Prints the histogram (to opts.out, default io.stdout).
function M.print(src, opts)
	local text = M.format(src, opts)
	local out = opts and opts.out or io.stdout
	out:write(text)
	out:flush()
end

function M.log2(src, opts)
	M.print(src, with_kind(opts, "log2"))
end

function M.linear(src, opts)
	M.print(src, with_kind(opts, "linear"))
end

return setmetatable(M, {
	__call = function(_, src, opts)
		M.print(src, opts)
	end,
})
