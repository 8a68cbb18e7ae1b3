--- bpf.trace.format: bpftrace's text output (Debian's bpftrace 0.17, byte for byte) from plain Lua
-- data; nothing here touches the kernel. The runtime (bpf.trace) reads maps and events into the
-- shapes below and prints what these functions return.
--
--   format.map(m [, opts])        the text `print(@m)` prints; opts.top = N, opts.div = N
--   format.maps(list)             every map in list, in name order (what exit prints after "\n\n")
--   format.hist(buckets [, div])  the lines of a log2 histogram ("" when empty)
--   format.lhist(buckets, min, max, step)   the lines of a linear histogram
--   format.printf(fmt, args)      C printf as bpftrace applies it to one event's arguments
--   format.time([fmt [, t]])      time(): strftime in local time, "%H:%M:%S\n" by default
--   format.stack(frames [, as_value])   a kstack/ustack: "\n" then each frame indented by 4 (8)
--   format.hist_slot(v)           bpftrace's log2 bucket index of an integer value
--   format.lhist_slot(v, min, max, step)   bpftrace's linear bucket index
--
-- A map m = { name = "@x", kind = K, keys = {T1, T2, ...}, entries = { {key = {k1, k2, ...},
-- value = V}, ... }, lhist = {min =, max =, step =} }, where
--   K = "count" | "sum" | "int" | "min" | "max": V an integer (signed = false: "uint")
--       "avg" | "stats": V = {count = n, total = t}
--       "hist" | "lhist": V = { [bucket index] = count } (indexes as bpftrace numbers them below)
--       "string" | "ksym" | "usym" | "inet": V a string;  "kstack" | "ustack": V an array of frames
--   Ti = "int" | "uint" | "string" | "kstack" | "ustack" | ... (key components: integers, strings,
--       arrays of frames for stacks). A map without keys has keys = {} and key = {}.
-- Log2 bucket indexes: 0 holds negative values, 1 holds 0, 2 holds 1, k >= 3 holds
-- [2^(k-2), 2^(k-1)). Linear: 0 holds values below min, i in 1..n holds
-- [min + (i-1)*step, min + i*step), n + 1 = (max - min)/step + 1 holds the rest.
local int64 = require "bpf.trace.int64"

local M = {}

local BAR_WIDTH = 52

---------------------------------------------------------------------------------------------------
-- Histograms

-- x rounded to the nearest IEEE single: bpftrace computes bar widths in float.
local fround
if string.pack then
	fround = function(x) return (string.unpack("f", string.pack("f", x))) end
else
	local ffi = require "ffi"
	local box = ffi.new("float[1]")
	fround = function(x)
		box[0] = x
		return tonumber(box[0])
	end
end

local function bar(count, max)
	local width = math.floor(fround(fround(fround(count) / fround(max)) * BAR_WIDTH))
	return string.rep("@", width) .. string.rep(" ", BAR_WIDTH - width)
end

local function bucket_line(label, count, max, shown)
	return string.format("%-16s%8s |%s|\n", label, int64.digits(shown or count, 10), bar(count, max))
end

-- 10 -> "1K", 20 -> "1M": the label of 2^power.
local function power_label(power)
	local suffix = ""
	for _, s in ipairs({ { 40, "T" }, { 30, "G" }, { 20, "M" }, { 10, "K" } }) do
		if power >= s[1] then
			power, suffix = power - s[1], s[2]
			break
		end
	end
	return string.format("%d%s", 2 ^ power, suffix)
end

local function count_of(buckets, i)
	local c = buckets[i]
	if c == nil then return 0 end
	return tonumber(c)
end

local function divided(c, div)
	if div and div > 1 then return math.floor(c / div) end
	return c
end

--- The lines of a log2 histogram; "" when every bucket is empty.
function M.hist(buckets, div)
	local lo, hi, max = nil, nil, 0
	for i = 0, 64 do
		local c = count_of(buckets, i)
		if c > 0 then
			lo = lo or i
			hi = i
		end
		if c > max then max = c end
	end
	if not lo then return "" end
	local out = {}
	for i = lo, hi do
		local label
		if i == 0 then
			label = "(..., 0)"
		elseif i == 1 then
			label = "[0]"
		elseif i == 2 then
			label = "[1]"
		else
			label = "[" .. power_label(i - 2) .. ", " .. power_label(i - 1) .. ")"
		end
		local c = count_of(buckets, i)
		out[#out + 1] = bucket_line(label, c, max, divided(c, div))
	end
	return table.concat(out)
end

-- 0 -> "0", 2048 -> "2K", 3145728 -> "3M", 1000 -> "1000".
local function linear_label(n)
	if n ~= 0 and n % 1048576 == 0 then return string.format("%dM", n / 1048576) end
	if n ~= 0 and n % 1024 == 0 then return string.format("%dK", n / 1024) end
	return string.format("%d", n)
end

--- The lines of a linear histogram; "" when every bucket is empty.
function M.lhist(buckets, min, max, step)
	local n = math.floor((max - min) / step)
	local first, last, top = nil, nil, 0
	for i = 0, n + 1 do
		local c = count_of(buckets, i)
		if c > 0 then
			first = first or i
			last = i
		end
		if c > top then top = c end
	end
	if not first then return "" end
	local out = {}
	for i = first, last do
		local label
		if i == 0 then
			label = "(..., " .. linear_label(min) .. ")"
		elseif i == n + 1 then
			label = "[" .. linear_label(max) .. ", ...)"
		else
			label = "[" .. linear_label((i - 1) * step + min) .. ", " .. linear_label(i * step + min) .. ")"
		end
		out[#out + 1] = bucket_line(label, count_of(buckets, i), top)
	end
	return table.concat(out)
end

--- bpftrace's log2 bucket index of an integer: 0 for negatives, 1 for 0, 2 for 1, k+2 for
-- [2^k, 2^(k+1)).
function M.hist_slot(v)
	if v < 0 then return 0 end
	if v == 0 then return 1 end
	local k = 0
	while v >= 2 do
		v = v / 2
		k = k + 1
	end
	return k + 2
end

--- bpftrace's linear bucket index (what its generated code computes, including that a value in
-- the last partial step lands in the overflow bucket).
function M.lhist_slot(v, min, max, step)
	if v < min then return 0 end
	if v >= max then return math.floor((max - min) / step) + 1 end
	return math.floor((v - min) / step) + 1
end

---------------------------------------------------------------------------------------------------
-- Values and keys

--- A stack as bpftrace prints it: a newline, then each frame on its own line, indented by 4
-- spaces in a map key, by 8 as a value (as_value: map values, printf's %s, print()), by a tab in
-- perf mode (frames.indent).
function M.stack(frames, as_value)
	local out, indent = { "\n" }, frames.indent or (as_value and "        " or "    ")
	for _, f in ipairs(frames) do
		out[#out + 1] = indent .. f .. "\n"
	end
	return table.concat(out)
end

local STACK = { kstack = true, ustack = true }

local function int_text(v, signed)
	if signed then
		local sign, digits = int64.signed_parts(v)
		return sign .. digits
	end
	return int64.digits(v, 10)
end

local function component_text(v, t)
	if STACK[t] or type(v) == "table" then return M.stack(v) end
	if type(v) == "string" then return v end
	if type(v) == "boolean" then return v and "1" or "0" end
	return int_text(v, t ~= "uint")
end

local function key_text(m, key)
	if not key or #key == 0 then return "" end
	local parts = {}
	for i, v in ipairs(key) do
		parts[i] = component_text(v, m.keys and m.keys[i])
	end
	return "[" .. table.concat(parts, ", ") .. "]"
end

-- bpftrace sorts maps whose values are not numbers by key, first component first: integers as
-- unsigned, strings bytewise; other components (stacks) keep the order they came in.
local function key_less(m)
	local types = m.keys or {}
	return function(a, b)
		for i = 1, math.max(#a.key, #b.key) do
			local x, y, t = a.key[i], b.key[i], types[i]
			if type(x) == "string" and type(y) == "string" then
				if x ~= y then return x < y end
			elseif (type(x) == "number" or type(x) == "cdata") and not STACK[t] then
				if x ~= y then return int64.ult(x, y) end
			end
		end
		return a.order < b.order
	end
end

local function average(v)
	local count, total = v.count or 0, v.total or 0
	if count == 0 then return 0 end
	return int64.div(total, count)
end

local function hist_total(v)
	local sum = 0
	for _, c in pairs(v) do sum = sum + tonumber(c) end
	return sum
end

local SCALAR = { count = "uint", sum = "int", int = "int", uint = "uint", min = "int", max = "int" }

-- The entries in bpftrace's order: by value for numbers (sum of buckets for histograms, the
-- average for avg/stats), ties and everything else by key.
local function sorted(m)
	local list = {}
	for i, e in ipairs(m.entries or {}) do
		list[i] = { key = e.key or {}, value = e.value, order = i }
	end
	local by_key = key_less(m)
	local measure
	local kind = m.kind
	if SCALAR[kind] then
		local unsigned = SCALAR[kind] == "uint" or m.signed == false
		measure = function(e) return e.value end
		table.sort(list, function(a, b)
			local x, y = measure(a), measure(b)
			if x ~= y then
				if unsigned then return int64.ult(x, y) end
				return int64.lt(x, y)
			end
			return by_key(a, b)
		end)
		return list
	elseif kind == "hist" or kind == "lhist" then
		measure = function(e) return hist_total(e.value) end
	elseif kind == "avg" or kind == "stats" then
		measure = function(e) return average(e.value) end
	end
	if measure then
		table.sort(list, function(a, b)
			local x, y = measure(a), measure(b)
			if x ~= y then return int64.lt(x, y) end
			return by_key(a, b)
		end)
	else
		table.sort(list, by_key)
	end
	return list
end

local function value_text(m, v, div)
	local kind = m.kind
	if SCALAR[kind] then
		local signed = SCALAR[kind] == "int" and m.signed ~= false
		if div and div > 1 then v = int64.div(v, div) end
		return int_text(v, signed)
	elseif kind == "avg" then
		local a = average(v)
		if div and div > 1 then a = int64.div(a, div) end
		return int_text(a, true)
	elseif kind == "stats" then
		return string.format("count %s, average %s, total %s", int_text(v.count or 0, true),
			int_text(average(v), true), int_text(v.total or 0, true))
	elseif kind == "hist" then
		return M.hist(v, div)
	elseif kind == "lhist" then
		local l = m.lhist or error("bpf.trace.format: lhist map " .. tostring(m.name) .. " without lhist bounds", 3)
		return M.lhist(v, l.min, l.max, l.step)
	elseif STACK[kind] then
		return M.stack(v, true)
	elseif type(v) == "string" then
		return v
	end
	return component_text(v, kind)
end

-- Entries of maps whose values print as stacks or symbols are not separated by newlines
-- (bpftrace 0.17's map_elem_delim); every other kind has one entry a line.
local NO_DELIM = { kstack = true, ustack = true, ksym = true, usym = true, inet = true }

--- The text bpftrace prints for print(@m) (and for the map at exit).
function M.map(m, opts)
	opts = opts or {}
	local list = sorted(m)
	local top = opts.top or 0
	if m.kind == "stats" then top = 0 end -- bpftrace 0.17 ignores top (and div) for stats()
	local first = 1
	if top > 0 and #list > top then first = #list - top + 1 end
	local hist = m.kind == "hist" or m.kind == "lhist"
	local parts = {}
	for i = first, #list do
		local e = list[i]
		local head = m.name .. key_text(m, e.key) .. ": "
		if hist then head = head .. "\n" end
		parts[#parts + 1] = head .. value_text(m, e.value, opts.div)
	end
	local text = table.concat(parts, NO_DELIM[m.kind] and "" or "\n") .. "\n"
	if m.kind == "avg" or m.kind == "stats" then text = text .. "\n" end
	return text
end

-- For bpf.trace.format_json: the same order and the same texts of keys and values.
M.internal = { sorted = sorted, component_text = component_text, average = average,
	int_text = int_text, SCALAR = SCALAR, STACK = STACK }

--- The text of every map of the list, each made by one_map, sorted by name as bpftrace prints
-- them at exit (shared with the JSON output).
function M.each_map_by_name(list, one_map)
	local sorted_maps = {}
	for i, m in ipairs(list) do sorted_maps[i] = m end
	table.sort(sorted_maps, function(a, b) return a.name < b.name end)
	local out = {}
	for i, m in ipairs(sorted_maps) do out[i] = one_map(m) end
	return table.concat(out)
end

--- Every map of the list, sorted by name as bpftrace prints them at exit.
function M.maps(list)
	return M.each_map_by_name(list, M.map)
end

---------------------------------------------------------------------------------------------------
-- printf and time

local LENGTH_BITS = { hh = 8, h = 16, [""] = 32, l = 64, ll = 64, j = 64, z = 64, t = 64 }

local function pad(body, width, left, zero, sign_len)
	if #body >= width then return body end
	if left then return body .. string.rep(" ", width - #body) end
	if zero then
		sign_len = sign_len or 0
		return body:sub(1, sign_len) .. string.rep("0", width - #body) .. body:sub(sign_len + 1)
	end
	return string.rep(" ", width - #body) .. body
end

-- One integer conversion (d i u x X o c) of C's printf on a 64-bit argument, cut to the length
-- modifier's width as the C library reads a 64-bit vararg on x86-64.
local function format_integer(spec, v)
	local bits = LENGTH_BITS[spec.length] or 64
	local conv = spec.conv
	if conv == "c" then
		local byte = int64.tointeger(int64.fit(v, 8, false))
		return pad(string.char(tonumber(byte)), spec.width, spec.flags:find("-", 1, true), false)
	end
	local signed = conv == "d" or conv == "i"
	local sign, digits = "", nil
	v = int64.fit(v, bits, signed)
	if signed then
		sign, digits = int64.signed_parts(v)
		if sign == "" and spec.flags:find("+", 1, true) then
			sign = "+"
		elseif sign == "" and spec.flags:find(" ", 1, true) then
			sign = " "
		end
	else
		digits = int64.digits(v, (conv == "o" and 8) or (conv == "u" and 10) or 16)
		if conv == "X" then digits = digits:upper() end
	end
	if spec.precision then
		if spec.precision == 0 and digits == "0" then digits = "" end
		if #digits < spec.precision then digits = string.rep("0", spec.precision - #digits) .. digits end
	end
	local prefix = ""
	if spec.flags:find("#", 1, true) then
		if (conv == "x" or conv == "X") and digits:find("[^0]") then
			prefix = conv == "x" and "0x" or "0X"
		elseif conv == "o" and digits:sub(1, 1) ~= "0" then
			digits = "0" .. digits
		end
	end
	local left = spec.flags:find("-", 1, true)
	local zero = spec.flags:find("0", 1, true) and not left and not spec.precision
	return pad(sign .. prefix .. digits, spec.width, left, zero, #sign + #prefix)
end

local function format_string(spec, v)
	if type(v) ~= "string" then v = tostring(v) end
	v = v:match("^[^%z]*")
	if spec.precision then v = v:sub(1, spec.precision) end
	return pad(v, spec.width, spec.flags:find("-", 1, true), false)
end

-- Fast formatters (Lua 5.4): an integer conversion handed to string.format, which is C's
-- printf on the 64-bit integer, after the cut to the length modifier's width; nil where the
-- general path (format_integer) is needed: '#', widths over 99, %u of a negative, non-integers.
local fast_integer = function() return nil end
if math.type then
	fast_integer = assert(load([[
		local LENGTH_BITS = ...
		local fmt_s, mtype = string.format, math.type
		return function(spec)
			local conv, flags = spec.conv, spec.flags
			local bits = LENGTH_BITS[spec.length] or 64
			if spec.width > 99 or (spec.precision or 0) > 99 or flags:find("#", 1, true) then return nil end
			local size = (spec.width > 0 and spec.width or "") .. (spec.precision and ("." .. spec.precision) or "")
			local f
			if conv == "d" or conv == "i" then
				local cf = "%" .. flags .. size .. "d"
				if bits == 64 then
					f = function(v) if mtype(v) == "integer" then return fmt_s(cf, v) end end
				else
					local half, mask = 1 << (bits - 1), (1 << bits) - 1
					f = function(v) if mtype(v) == "integer" then return fmt_s(cf, ((v + half) & mask) - half) end end
				end
			elseif conv == "x" or conv == "X" or conv == "o" or conv == "u" then
				-- '+' and ' ' mean nothing to unsigned conversions; %u prints as %d of a value >= 0
				local cf = "%" .. flags:gsub("[+ ]", "") .. size .. (conv == "u" and "d" or conv)
				local mask = bits < 64 and (1 << bits) - 1 or -1
				f = function(v)
					if mtype(v) ~= "integer" then return nil end
					v = v & mask
					if conv == "u" and v < 0 then return nil end
					return fmt_s(cf, v)
				end
			end
			if f and pcall(f, 0) then return f end -- a format this Lua's string.format refuses: general path
			return nil
		end
	]]))(LENGTH_BITS)
end

-- %s with no flag but '-' and widths under 100: string.format's, which is C's.
local function fast_string(spec)
	if (spec.flags ~= "" and spec.flags ~= "-") or spec.width > 99 or (spec.precision or 0) > 99 then
		return nil
	end
	if spec.width == 0 and not spec.precision then
		return function(v) if type(v) == "string" then return (v:match("^[^%z]*")) end end
	end
	local cf = "%" .. spec.flags .. (spec.width > 0 and spec.width or "") ..
		(spec.precision and ("." .. spec.precision) or "") .. "s"
	return function(v) if type(v) == "string" then return (string.format(cf, (v:match("^[^%z]*")))) end end
end

-- "%%" in a format: "%" where C's printf reads it, that is before the last conversion; bpftrace
-- 0.17 prints the text after the last conversion (or a format without any) as it is, "%%" included.
local PERCENT = {}

-- Splits fmt into literal text and conversion specs (cached per format string).
local parsed_formats = setmetatable({}, { __mode = "k" })

local function parse_format(fmt)
	local cached = parsed_formats[fmt]
	if cached then return cached end
	local parts, pos = {}, 1
	while pos <= #fmt do
		local s = fmt:find("%", pos, true)
		if not s then
			parts[#parts + 1] = fmt:sub(pos)
			break
		end
		if s > pos then parts[#parts + 1] = fmt:sub(pos, s - 1) end
		local flags, width, prec, length, conv, e =
			fmt:match("^%%([-+ #0]*)(%d*)(%.?%d*)([hljzt]*)([%a%%])()", s)
		if not conv then
			error(string.format("bpf.trace: bad printf conversion at byte %d of %q", s, fmt), 3)
		end
		if conv == "%" then
			parts[#parts + 1] = PERCENT
		else
			local spec = {
				flags = flags, width = tonumber(width) or 0, length = length, conv = conv,
				precision = prec ~= "" and (tonumber(prec:sub(2)) or 0) or nil,
			}
			spec.fast = conv == "s" and fast_string(spec) or fast_integer(spec)
			parts[#parts + 1] = spec
		end
		pos = e
	end
	parts.last = 0 -- the index of the last conversion ("%%" after it prints as it is)
	for i, p in ipairs(parts) do
		if type(p) == "table" and p ~= PERCENT then parts.last = i end
	end
	if parts.last == 0 then -- no conversion: a constant text ("%%" as it is)
		local text = {}
		for i, p in ipairs(parts) do text[i] = p == PERCENT and "%%" or p end
		parts.text = table.concat(text)
	end
	parsed_formats[fmt] = parts
	return parts
end

local INTEGER_CONV = { d = true, i = true, u = true, x = true, X = true, o = true, c = true }

--- The text of printf(fmt, args...) for one event: args is an array of integers and strings.
-- `general`: never the fast path (specs compare both).
function M.printf(fmt, args, general)
	local parts = parse_format(fmt)
	if parts.text then return parts.text end
	local out, n = {}, 0
	local last = parts.last
	for i, p in ipairs(parts) do
		if p == PERCENT then
			out[#out + 1] = i < last and "%" or "%%"
		elseif type(p) == "string" then
			out[#out + 1] = p
		else
			n = n + 1
			local v = args[n]
			if v == nil then
				error(string.format("bpf.trace: printf %q: no argument %d", fmt, n), 2)
			end
			if p.conv == "s" then
				out[#out + 1] = (not general and p.fast and p.fast(v)) or format_string(p, v)
			elseif INTEGER_CONV[p.conv] then
				if type(v) == "string" then
					error(string.format("bpf.trace: printf %q: argument %d is a string for %%%s", fmt, n, p.conv), 2)
				end
				out[#out + 1] = (not general and p.fast and p.fast(v)) or format_integer(p, v)
			elseif p.conv == "p" then
				out[#out + 1] = pad("0x" .. int64.digits(v, 16), p.width, p.flags:find("-", 1, true), false)
			else
				error(string.format("bpf.trace: printf %q: %%%s is not supported", fmt, p.conv), 2)
			end
		end
	end
	return table.concat(out)
end

--- time(fmt): the wall clock through strftime in local time.
function M.time(fmt, t)
	return os.date(fmt or "%H:%M:%S\n", t)
end

return M
