-- Instruction bytes for bpf.asm: a builder's slots (one array, four numbers a slot) and single
-- instruction values, 8 bytes each, little-endian.
local M = {}

local char, concat = string.char, table.concat
local TWO32 = 4294967296

local function le32(v)
	v = v % TWO32
	local b0 = v % 256; v = (v - b0) / 256
	local b1 = v % 256; v = (v - b1) / 256
	local b2 = v % 256
	return b0, b1, b2, (v - b2) / 256
end

-- Lua 5.3+: string.pack writes whole chunks of slots in one call (the array is laid out in the
-- order "<BBhi4" reads it). Map loads are patched in for the call and restored after.
local pack, unpack = string.pack, table.unpack
local CHUNK = 1024
local pack_formats = {}

local function encode_packed(b, map_imm)
	local ins, refs, saved = b.ins, b.map_ref, {}
	for i, ref in pairs(refs) do
		saved[i] = ins[i * 4]
		ins[i * 4] = map_imm(ref)
	end
	local out = {}
	for first = 1, b.n, CHUNK do
		local count = math.min(CHUNK, b.n - first + 1)
		local fmt = pack_formats[count]
		if not fmt then
			fmt = "<" .. ("BBhi4"):rep(count)
			pack_formats[count] = fmt
		end
		out[#out + 1] = pack(fmt, unpack(ins, first * 4 - 3, (first + count - 1) * 4))
	end
	for i, v in pairs(saved) do ins[i * 4] = v end
	return concat(out)
end

-- The bytes of builder b's slots; map_imm(ref) gives the imm of each map load.
function M.encode(b, map_imm)
	if pack then return encode_packed(b, map_imm) end
	local out, ins, refs = {}, b.ins, b.map_ref
	for i = 1, b.n do
		local k = i * 4
		local v = ins[k]
		local ref = refs[i]
		if ref then v = map_imm(ref) end
		local o = ins[k - 1]
		local ob0, ob1 = 0, 0
		if o ~= 0 then
			o = o % 65536
			ob0 = o % 256
			ob1 = (o - ob0) / 256
		end
		if v >= 0 and v < 256 then
			out[i] = char(ins[k - 3], ins[k - 2], ob0, ob1, v, 0, 0, 0)
		else
			out[i] = char(ins[k - 3], ins[k - 2], ob0, ob1, le32(v))
		end
	end
	return concat(out)
end

-- The bytes of an instruction value {code, dst, src, off, imm [, imm2]}.
function M.insn_bytes(t)
	local o = t.off % 65536
	local ob0 = o % 256
	local s = char(t.code, t.dst + t.src * 16, ob0, (o - ob0) / 256, le32(t.imm))
	if t.imm2 then s = s .. char(0, 0, 0, 0, le32(t.imm2)) end
	return s
end

return M
