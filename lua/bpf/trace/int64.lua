--- bpf.trace.int64: 64-bit integer text for the trace formatters, the same on Lua 5.4 (integers)
-- and LuaJIT (numbers below 2^53 or int64_t/uint64_t cdata).
--
--   int64.fit(v, bits, signed)   v cut to `bits` bits, read as signed or unsigned: the value to print
--   int64.digits(v, base)        the digits of v's unsigned 64-bit bit pattern (base 8, 10 or 16)
--   int64.signed_parts(v)        "-", digits (or "", digits) of v read as a signed 64-bit integer
--   int64.ult(a, b)              a < b as unsigned 64-bit integers (bpftrace's key order)
--   int64.lt(a, b)               a < b as signed 64-bit integers
--   int64.tointeger(v)           a plain Lua number (or Lua 5.4 integer) for v
--   int64.div(a, b)              a / b rounded toward zero, as C does (signed)
local M = {}

local has_integers = math.type ~= nil

if has_integers then
	-- Lua 5.4: the operators below are not 5.1 syntax, so they are compiled from a string.
	local impl = assert(load([[
		local M = ...
		function M.fit(v, bits, signed)
			v = math.tointeger(v) or error("bpf.trace: an integer expected, got " .. tostring(v), 3)
			if bits < 64 then
				local mask = (1 << bits) - 1
				v = v & mask
				if signed and v >= (1 << (bits - 1)) then v = v - (1 << bits) end
			elseif not signed then
				return v -- the bit pattern; digits() reads it unsigned
			end
			return v
		end
		function M.digits(v, base)
			if base == 16 then return string.format("%x", v) end
			if base == 8 then return string.format("%o", v) end
			if v >= 0 then return string.format("%d", v) end
			local q = (v >> 1) // 5
			return string.format("%d%d", q, v - q * 10)
		end
		function M.signed_parts(v)
			if v >= 0 then return "", string.format("%d", v) end
			return "-", M.digits(-v, 10) -- -minint is minint: digits() reads it unsigned
		end
		function M.ult(a, b) return math.ult(a, b) end
		function M.lt(a, b) return a < b end
		function M.tointeger(v) return v end
		function M.div(a, b)
			local q = a // b
			if q < 0 and q * b ~= a then q = q + 1 end
			return q
		end
	]], "=bpf.trace.int64", "t"))
	impl(M)
else
	local ffi_ok, ffi = pcall(require, "ffi")
	assert(ffi_ok, "bpf.trace.int64: needs Lua 5.3+ integers or LuaJIT's ffi")
	local bit = require "bit"
	local int64_t, uint64_t = ffi.typeof("int64_t"), ffi.typeof("uint64_t")
	local ONE = ffi.cast(uint64_t, 1)

	local function u64(v)
		if type(v) == "number" then
			return ffi.cast(uint64_t, ffi.cast(int64_t, v))
		end
		return ffi.cast(uint64_t, v)
	end

	local function plain(c) -- a cdata integer as a number when exact, else the cdata itself
		local n = tonumber(c)
		if n >= -2 ^ 53 and n <= 2 ^ 53 then return n end
		return c
	end

	function M.fit(v, bits, signed)
		if type(v) ~= "number" and type(v) ~= "cdata" then
			error("bpf.trace: an integer expected, got " .. tostring(v), 3)
		end
		local u = u64(v)
		if bits < 64 then
			u = bit.band(u, bit.lshift(ONE, bits) - 1)
			if signed and u >= bit.lshift(ONE, bits - 1) then
				return plain(ffi.cast(int64_t, u) - ffi.cast(int64_t, bit.lshift(ONE, bits)))
			end
			return plain(u)
		end
		if signed then return plain(ffi.cast(int64_t, u)) end
		return plain(u)
	end

	function M.digits(v, base)
		local u = u64(v)
		if base == 10 then return (tostring(u):gsub("ULL$", "")) end
		if u == 0 then return "0" end
		local out, b = {}, ffi.cast(uint64_t, base)
		while u ~= 0 do
			out[#out + 1] = string.format("%x", tonumber(u % b))
			u = u / b
		end
		return string.reverse(table.concat(out))
	end

	function M.signed_parts(v)
		local s = ffi.cast(int64_t, type(v) == "number" and v or v)
		if s >= 0 then return "", (tostring(s):gsub("LL$", "")) end
		return "-", M.digits(-ffi.cast(uint64_t, s), 10)
	end

	function M.ult(a, b) return u64(a) < u64(b) end
	function M.lt(a, b)
		return ffi.cast(int64_t, u64(a)) < ffi.cast(int64_t, u64(b))
	end
	function M.tointeger(v) return type(v) == "cdata" and plain(ffi.cast(int64_t, v)) or v end
	function M.div(a, b)
		if type(a) == "number" and type(b) == "number" then
			local q = a / b
			return q < 0 and math.ceil(q) or math.floor(q)
		end
		return plain(ffi.cast(int64_t, a) / ffi.cast(int64_t, b)) -- C division: toward zero
	end
end

return M
