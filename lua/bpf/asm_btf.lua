-- BTF written from Lua for bpf.asm: the types of maps created from Lua (integers, char[N],
-- arrays, structs) and a built program's functions, func info and line info (completed at every
-- function start, as the kernel requires) (doc/ASM.md).
-- Little-endian only, like the instruction encoder.
local M = {}

local char, concat, format, floor = string.char, table.concat, string.format, math.floor
local type, tostring, tonumber = type, tostring, tonumber

local KIND = { INT = 1, PTR = 2, ARRAY = 3, STRUCT = 4, UNION = 5, TYPEDEF = 8, FUNC = 12,
	FUNC_PROTO = 13 }
local INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4

local function u32(v)
	v = v % 4294967296
	local b0 = v % 256; v = (v - b0) / 256
	local b1 = v % 256; v = (v - b1) / 256
	local b2 = v % 256
	return char(b0, b1, b2, (v - b2) / 256)
end

local function u16(v) return char(v % 256, floor(v / 256) % 256) end

-- ---- the encoder --------------------------------------------------------------------------------

local function new_btf()
	return { parts = {}, n = 0, strs = { "\0" }, str_len = 1, str_off = { [""] = 0 }, ints = {} }
end

local function str(e, s)
	local off = e.str_off[s]
	if off then return off end
	off = e.str_len
	e.strs[#e.strs + 1] = s .. "\0"
	e.str_len = off + #s + 1
	e.str_off[s] = off
	return off
end

-- A type: name, kind, vlen, kflag, size_or_type, then the kind's extra bytes. Returns its id.
local function add(e, name, kind, vlen, size_or_type, extra)
	e.n = e.n + 1
	e.parts[#e.parts + 1] = u32(name and str(e, name) or 0) ..
		u32(kind * 16777216 + vlen) .. u32(size_or_type) .. (extra or "")
	return e.n
end

local function bytes(e)
	local types = concat(e.parts)
	local strs = concat(e.strs)
	-- struct btf_header: magic, version, flags, hdr_len, type_off, type_len, str_off, str_len
	return u16(0xeB9F) .. char(1, 0) .. u32(24) .. u32(0) .. u32(#types) .. u32(#types) ..
		u32(#strs) .. types .. strs
end

-- ---- type descriptions ------------------------------------------------------------------------

-- name → C name, size, encoding
local INTS = {
	u8 = { "unsigned char", 1, 0 }, s8 = { "signed char", 1, INT_SIGNED },
	u16 = { "unsigned short", 2, 0 }, s16 = { "short", 2, INT_SIGNED },
	u32 = { "unsigned int", 4, 0 }, s32 = { "int", 4, INT_SIGNED },
	u64 = { "unsigned long long", 8, 0 }, s64 = { "long long", 8, INT_SIGNED },
	int = { "int", 4, INT_SIGNED }, char = { "char", 1, INT_SIGNED },
	bool = { "_Bool", 1, INT_BOOL },
}
INTS.uint8_t, INTS.int8_t, INTS.uint16_t, INTS.int16_t = INTS.u8, INTS.s8, INTS.u16, INTS.s16
INTS.uint32_t, INTS.int32_t, INTS.uint64_t, INTS.int64_t = INTS.u32, INTS.s32, INTS.u64, INTS.s64
INTS.__u8, INTS.__u16, INTS.__u32, INTS.__u64 = INTS.u8, INTS.u16, INTS.u32, INTS.u64
INTS.__s8, INTS.__s16, INTS.__s32, INTS.__s64 = INTS.s8, INTS.s16, INTS.s32, INTS.s64
M.INTS = INTS

local function bad(what, level)
	error("bpf.asm: type " .. what, level + 1)
end

-- A description resolved to {kind = "int"|"array"|"struct", size, align, ...}, checked.
local resolve

local function resolve_string(s, level)
	local base, dims = s:match("^%s*([%w_ ]-)%s*(%[.*)$")
	if not base then base = s:match("^%s*([%w_ ]-)%s*$") end
	local int = base and INTS[base]
	if not int then
		bad(format("'%s' is not known (u8..u64, s8..s64, int, char, bool, T[N], or a struct table)",
			s), level + 1)
	end
	local t = { kind = "int", size = int[2], align = int[2], int = int }
	if dims then
		local list = {}
		for d in dims:gmatch("%[%s*(%d+)%s*%]") do list[#list + 1] = tonumber(d) end
		if dims:gsub("%[%s*%d+%s*%]", "") ~= "" or #list == 0 then
			bad(format("'%s': array dimensions must be [N]", s), level + 1)
		end
		for i = #list, 1, -1 do
			if list[i] < 1 then bad(format("'%s': an array needs at least one element", s), level + 1) end
			t = { kind = "array", elem = t, count = list[i], size = t.size * list[i], align = t.align }
		end
	end
	return t
end

local function resolve_struct(d, level)
	local t = { kind = d.union and "union" or "struct", name = d.name, members = {}, align = 1 }
	if d.name ~= nil and (type(d.name) ~= "string" or not d.name:match("^[%a_][%w_]*$")) then
		bad("struct name must be an identifier, got " .. tostring(d.name), level + 1)
	end
	local off, seen = 0, {}
	for i, m in ipairs(d) do
		if type(m) ~= "table" or type(m[1]) ~= "string" or m[2] == nil then
			bad(format("struct %s: member %d must be {name, type}", d.name or "", i), level + 1)
		end
		if not m[1]:match("^[%a_][%w_]*$") then
			bad(format("struct %s: member name '%s' is not an identifier", d.name or "", m[1]), level + 1)
		end
		if seen[m[1]] then bad(format("struct %s: member '%s' twice", d.name or "", m[1]), level + 1) end
		seen[m[1]] = true
		local mt = resolve(m[2], level + 1)
		local at
		if m.offset ~= nil then
			at = m.offset
			if type(at) ~= "number" or at < 0 or at % 1 ~= 0 then
				bad(format("struct %s: member '%s' offset must be a byte count", d.name or "", m[1]), level + 1)
			end
		elseif t.kind == "union" then
			at = 0
		else
			at = off + (mt.align - off % mt.align) % mt.align
		end
		t.members[i] = { name = m[1], type = mt, offset = at }
		if at + mt.size > off then off = at + mt.size end
		if mt.align > t.align then t.align = mt.align end
	end
	if #t.members == 0 then bad(format("struct %s has no members", d.name or ""), level + 1) end
	local size = off + (t.align - off % t.align) % t.align
	if d.size ~= nil then
		if type(d.size) ~= "number" or d.size < off then
			bad(format("struct %s: size %s is smaller than its members (%d bytes)", d.name or "",
				tostring(d.size), off), level + 1)
		end
		size = d.size
	end
	t.size = size
	return t
end

function resolve(d, level)
	level = level or 1
	if type(d) == "string" then return resolve_string(d, level + 1) end
	if type(d) == "table" then
		if d.array ~= nil then
			local elem = resolve(d.array, level + 1)
			local n = d.count
			if type(n) ~= "number" or n < 1 or n % 1 ~= 0 then bad("array count must be >= 1", level + 1) end
			return { kind = "array", elem = elem, count = n, size = elem.size * n, align = elem.align }
		end
		return resolve_struct(d, level + 1)
	end
	bad("description must be a string or a table, got " .. type(d), level + 1)
end
M.resolve = resolve

function M.type_size(d) return resolve(d, 2).size end

-- Writes a resolved type (and what it refers to); returns its id.
local function emit_type(e, t)
	if t.kind == "int" then
		local int = t.int
		local id = e.ints[int]
		if not id then
			id = add(e, int[1], KIND.INT, 0, int[2], u32(int[3] * 16777216 + int[2] * 8))
			e.ints[int] = id
		end
		return id
	elseif t.kind == "array" then
		local elem = emit_type(e, t.elem)
		local index = emit_type(e, { kind = "int", int = INTS.u32 })
		return add(e, nil, KIND.ARRAY, 0, 0, u32(elem) .. u32(index) .. u32(t.count))
	end
	local ids = {}
	for i, m in ipairs(t.members) do ids[i] = emit_type(e, m.type) end
	local extra = {}
	for i, m in ipairs(t.members) do
		extra[i] = u32(str(e, m.name)) .. u32(ids[i]) .. u32(m.offset * 8)
	end
	return add(e, t.name, t.kind == "union" and KIND.UNION or KIND.STRUCT, #t.members, t.size,
		concat(extra))
end

-- BTF for a map's key and value descriptions (either may be nil): bytes, key id, value id,
-- key size, value size.
local function resolve_for(what, d)
	if d == nil then return nil end
	local ok, t = pcall(resolve, d, 1)
	if not ok then
		error("bpf.map_create: " .. what .. ": " .. tostring(t):gsub("^[^\n]-:%d+: ", ""):gsub("^bpf%.asm: ", ""), 0)
	end
	return t
end

function M.map_types(key, value)
	local e = new_btf()
	local kt = resolve_for("key_type", key)
	local vt = resolve_for("value_type", value)
	local kid = kt and emit_type(e, kt) or 0
	local vid = vt and emit_type(e, vt) or 0
	return bytes(e), kid, vid, kt and kt.size, vt and vt.size
end

-- ---- programs -----------------------------------------------------------------------------------

-- BTF with a FUNC per function (main: int name(void *ctx); subprograms: long name(u64 ...)),
-- the func info and the line info of builder b.
function M.program(b, main_name)
	local e = new_btf()
	local int_id = add(e, "int", KIND.INT, 0, 4, u32(INT_SIGNED * 16777216 + 32))
	local long_id = add(e, "long", KIND.INT, 0, 8, u32(INT_SIGNED * 16777216 + 64))
	local u64_id = add(e, "unsigned long long", KIND.INT, 0, 8, u32(64))
	local void_ptr = add(e, nil, KIND.PTR, 0, 0)
	local main_proto = add(e, nil, KIND.FUNC_PROTO, 1, int_id, u32(str(e, "ctx")) .. u32(void_ptr))
	local protos = {}
	local finfo = {}
	for i, f in ipairs(b.funcs) do
		local proto
		if f.main then
			proto = main_proto
		else
			proto = protos[f.nargs]
			if not proto then
				local params = {}
				for k = 1, f.nargs do params[k] = u32(str(e, "arg" .. k)) .. u32(u64_id) end
				proto = add(e, nil, KIND.FUNC_PROTO, f.nargs, long_id, concat(params))
				protos[f.nargs] = proto
			end
		end
		-- static linkage (vlen 0): the verifier checks them in the context of their caller
		local fid = add(e, f.main and main_name or f.name, KIND.FUNC, 0, proto)
		finfo[i] = u32(f.start) .. u32(fid)
	end
	local linfo = {}
	local l = b.lines
	for k = 1, b.nlines, 5 do
		linfo[#linfo + 1] = u32(l[k]) .. u32(str(e, l[k + 1])) .. u32(str(e, l[k + 4])) ..
			u32(l[k + 2] * 1024 + (l[k + 3] < 1024 and l[k + 3] or 1023))
	end
	return bytes(e), concat(finfo), concat(linfo)
end

-- Line info at the start of every function, as the kernel requires once there is any: a
-- function without one gets a copy of the entry before it (or the first one). Entries and
-- function starts are both sorted, so one merge pass finds what is missing.
function M.complete_lines(b)
	local nl = b.nlines
	if nl == 0 then return end
	local l, missing, k = b.lines, nil, 1
	for _, f in ipairs(b.funcs) do
		local s = f.start
		while k + 5 <= nl and l[k + 5] <= s do k = k + 5 end
		if l[k] ~= s then
			missing = missing or {}
			missing[#missing + 1] = { s, k }
		end
	end
	if not missing then return end
	local flat, m, j = {}, 1, 1
	for e = 1, nl, 5 do
		while missing[m] and missing[m][1] < l[e] do
			local src = missing[m][2]
			flat[j], flat[j + 1], flat[j + 2], flat[j + 3], flat[j + 4] =
				missing[m][1], l[src + 1], l[src + 2], l[src + 3], l[src + 4]
			j, m = j + 5, m + 1
		end
		flat[j], flat[j + 1], flat[j + 2], flat[j + 3], flat[j + 4] =
			l[e], l[e + 1], l[e + 2], l[e + 3], l[e + 4]
		j = j + 5
	end
	while missing[m] do
		local src = missing[m][2]
		flat[j], flat[j + 1], flat[j + 2], flat[j + 3], flat[j + 4] =
			missing[m][1], l[src + 1], l[src + 2], l[src + 3], l[src + 4]
		j, m = j + 5, m + 1
	end
	b.lines, b.nlines = flat, j - 1
end

return M
