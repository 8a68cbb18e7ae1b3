--- bpf.trace.values: the bytes of trace maps and event records (layouts in
-- lua/bpf/trace/PLAN.md) decoded into the plain Lua data bpf.trace.format prints.
--
--   values.int(bytes, offset, signed)          a 64-bit little-endian integer
--   values.decode(bytes, offset, T, ctx)       one value of plan type T (int, str, stacks, ...)
--   values.map_data(map_def, handle, ctx)      { name, kind, keys, lhist, entries } for format.map
--   values.zero_value(map_def)                 the bytes `zero(@x)` writes (per CPU)
--
-- ctx = { stacks = stack map handle or nil }: stacks and symbols are resolved through it,
-- bpf.ksym (kernel) and bpf.trace.usym (user space: hex once the process is gone, as bpftrace).
local bpf = require "bpf"
local int64 = require "bpf.trace.int64"

local M = {}

local read_int
if string.unpack then
	read_int = function(s, off, signed)
		return (string.unpack(signed and "<i8" or "<I8", s, off + 1))
	end
else
	local ffi = require "ffi"
	local i64p, u64p = ffi.typeof("const int64_t *"), ffi.typeof("const uint64_t *")
	read_int = function(s, off, signed)
		if #s < off + 8 then error("bpf.trace: record too short", 2) end
		local p = ffi.cast("const uint8_t *", s) + off
		local v = signed and ffi.cast(i64p, p)[0] or ffi.cast(u64p, p)[0]
		local n = tonumber(v)
		if n >= -2 ^ 53 and n <= 2 ^ 53 then return n end
		return v
	end
end

--- A 64-bit little-endian integer at a byte offset (0-based).
function M.int(s, off, signed)
	return read_int(s, off, signed)
end

-- An address as C++ streams print a void *: "0x7f..." ("0" for null).
local function hex(v)
	if v == 0 then return "0" end
	return "0x" .. int64.digits(v, 16)
end

-- A kernel address as bpftrace prints it: "sym+off" in stacks, "sym" for ksym().
local function ksym_text(addr, with_offset)
	local ok, name, off = pcall(bpf.ksym, addr)
	if ok and type(name) == "table" then name, off = name.name or name[1], name.offset or name[2] end
	if not ok or not name then return hex(addr) end
	if with_offset then return name .. "+" .. tostring(tonumber(off) or 0) end
	return name
end

-- A stack's frames as bpftrace prints them: mode "bpftrace" (default) "sym+off" (user space:
-- hex), mode "perf" "<hex> sym+off" (user space: "<hex> 0x... ([unknown])") under a tab; at
-- most T.limit frames.
-- A user address as bpftrace prints it: "sym+off" (with_offset), "sym", or hex; in perf mode
-- followed by " (module)" or " ([unknown])".
local function usym_text(pid, addr, with_offset, perf)
	local name, off, module = require("bpf.trace.usym").resolve(pid, addr)
	if not name then return hex(addr) .. (perf and " ([unknown])" or "") end
	local text = with_offset and (name .. "+" .. tostring(off)) or name
	return perf and (text .. " (" .. module .. ")") or text
end

local function stack_frames(id, ctx, user, T, pid)
	local frames = { indent = T.mode == "perf" and "\t" or nil }
	if not ctx.stacks or int64.lt(id, 0) then return frames end
	local addrs = ctx.stacks:lookup(int64.tointeger(id))
	if not addrs then return frames end
	local limit = T.limit or math.huge
	for _, a in ipairs(addrs) do
		if a == 0 or #frames >= limit then break end
		local sym = user and usym_text(pid, a, true, T.mode == "perf") or ksym_text(a, true)
		if T.mode == "perf" then
			sym = int64.digits(a, 16) .. " " .. sym
		elseif T.mode == "raw" then
			sym = int64.digits(a, 16)
		end
		frames[#frames + 1] = sym
	end
	return frames
end

local function inet_text(s, off)
	local family = read_int(s, off, false)
	local b = { s:byte(off + 9, off + 24) }
	if family == 2 then
		return string.format("%d.%d.%d.%d", b[1], b[2], b[3], b[4])
	end
	local groups = {}
	for i = 1, 16, 2 do groups[#groups + 1] = string.format("%x", b[i] * 256 + b[i + 1]) end
	local text = table.concat(groups, ":")
	-- the longest run of zero groups becomes "::", as inet_ntop writes it
	local best, best_len = nil, 1
	for run in text:gmatch("[:]?0[0:]*") do
		if #run > best_len then best, best_len = run, #run end
	end
	if best then
		local s0, e0 = text:find(best, 1, true)
		text = text:sub(1, s0 - 1) .. "::" .. text:sub(e0 + 1)
		text = text:gsub("^:::", "::"):gsub(":::$", "::")
	end
	return text
end

--- One value of plan type T at a byte offset.
function M.decode(s, off, T, ctx)
	local t = T.type
	if t == "int" then
		return read_int(s, off, T.signed ~= false)
	elseif t == "str" then
		return (s:sub(off + 1, off + T.size):match("^[^%z]*"))
	elseif t == "kstack" then
		return stack_frames(read_int(s, off, true), ctx, false, T)
	elseif t == "ustack" then
		return stack_frames(read_int(s, off, true), ctx, true, T, read_int(s, off + 8, false))
	elseif t == "ksym" then
		return ksym_text(read_int(s, off, false), false)
	elseif t == "usym" then
		return usym_text(read_int(s, off + 8, false), read_int(s, off, false), false, false)
	elseif t == "inet" then
		return inet_text(s, off)
	end
	error("bpf.trace: cannot decode a value of type " .. tostring(t), 2)
end

-- The format kind of a key component or scalar value type.
local function type_kind(T)
	if T.type == "int" then return T.signed == false and "uint" or "int" end
	if T.type == "str" then return "string" end
	return T.type
end

local function decode_key(def, raw, ctx)
	local key, off = {}, 0
	for i, T in ipairs(def.keys) do
		key[i] = M.decode(raw, off, T, ctx)
		off = off + T.size
	end
	return key, off
end

local function per_cpu(v)
	if type(v) == "table" then return v end
	return { v }
end

local function add(a, b) return a + b end

-- One entry's value from the raw value (or per-CPU raw values), by the map's kind.
local function decode_value(def, raw, ctx)
	local kind = def.kind
	if kind == "scalar" then
		return M.decode(per_cpu(raw)[1], 0, def.value, ctx)
	elseif kind == "count" or kind == "sum" then
		local total = 0
		for _, r in ipairs(per_cpu(raw)) do total = add(total, read_int(r, 0, kind == "sum" and def.signed ~= false)) end
		return total
	elseif kind == "avg" or kind == "stats" then
		local total, count = 0, 0
		for _, r in ipairs(per_cpu(raw)) do
			total = add(total, read_int(r, 0, true))
			count = add(count, read_int(r, 8, false))
		end
		return { total = total, count = count }
	elseif kind == "min" or kind == "max" then
		local best
		for _, r in ipairs(per_cpu(raw)) do
			if read_int(r, 8, false) ~= 0 then
				local v = read_int(r, 0, def.signed ~= false)
				if best == nil or (kind == "min" and int64.lt(v, best)) or (kind == "max" and int64.lt(best, v)) then
					best = v
				end
			end
		end
		return best or 0
	end
	-- hist, lhist: a count per slot, summed over CPUs
	local total = 0
	for _, r in ipairs(per_cpu(raw)) do total = add(total, read_int(r, 0, false)) end
	return total
end

local FORMAT_KIND = { count = "count", sum = "sum", avg = "avg", stats = "stats", min = "min",
	max = "max", hist = "hist", lhist = "lhist" }

--- Every entry of a trace map as the plain data bpf.trace.format prints.
function M.map_data(def, handle, ctx)
	local key_types = {}
	for i, T in ipairs(def.keys) do key_types[i] = type_kind(T) end
	local m = { name = def.name, keys = key_types, lhist = def.lhist, entries = {},
		kind = FORMAT_KIND[def.kind] or type_kind(def.value), signed = def.signed }
	local hist = def.kind == "hist" or def.kind == "lhist"
	local by_key = {} -- histograms: one entry per user key, its slots gathered
	for raw_key, raw_value in handle:pairs{ raw = true } do
		local key, off = decode_key(def, raw_key, ctx)
		local value = decode_value(def, raw_value, ctx)
		if hist then
			local id = raw_key:sub(1, off)
			local e = by_key[id]
			if not e then
				e = { key = key, value = {} }
				by_key[id] = e
				m.entries[#m.entries + 1] = e
			end
			local slot = tonumber(read_int(raw_key, off, false))
			e.value[slot] = (e.value[slot] or 0) + tonumber(value)
		else
			m.entries[#m.entries + 1] = { key = key, value = value }
		end
	end
	if def.kind == "count" and #def.keys == 0 and #m.entries == 0 then
		-- bpftrace 0.17 keeps a count() without keys in a per-CPU array: it is always there,
		-- 0 until counted and after clear() or delete()
		m.entries[1] = { key = {}, value = 0 }
	end
	return m
end

--- The bytes zero(@x) stores for every key (one value; the binding writes it to every CPU).
function M.zero_value(def)
	return string.rep("\0", def.value_size)
end

return M
