-- A minimal ELF64 little-endian reader and patcher for the fuzz tooling (seeds.lua,
-- regressions.lua): section headers by name, symbols, and byte-level patches of both.
local M = {}

local SHDR = "<I4I4I8I8I8I8I4I4I8I8" -- name type flags addr offset size link info align entsize

-- Every section header: { index, name, type, flags, offset, size, link, info, entsize, hdr_pos }.
function M.headers(bytes)
	local shoff = string.unpack("<I8", bytes, 0x28 + 1)
	local shentsize, shnum, shstrndx = string.unpack("<I2I2I2", bytes, 0x3a + 1)
	local hdrs = {}
	for i = 0, shnum - 1 do
		local pos = shoff + i * shentsize + 1
		local name, type, flags, _, offset, size, link, info, _, entsize =
			string.unpack(SHDR, bytes, pos)
		hdrs[i] = { index = i, name_off = name, type = type, flags = flags, offset = offset,
			size = size, link = link, info = info, entsize = entsize, hdr_pos = pos }
	end
	local strtab = hdrs[shstrndx]
	for i = 0, shnum - 1 do
		local s = strtab.offset + hdrs[i].name_off + 1
		hdrs[i].name = bytes:sub(s, bytes:find("\0", s, true) - 1)
	end
	return hdrs, shnum
end

-- The contents of every section by name (NOBITS sections are absent).
function M.sections(bytes)
	local out = {}
	local hdrs, n = M.headers(bytes)
	for i = 0, n - 1 do
		local h = hdrs[i]
		if h.type ~= 8 then
			out[h.name] = bytes:sub(h.offset + 1, h.offset + h.size)
		end
	end
	return out
end

-- The header of the section called name.
function M.find(bytes, name)
	local hdrs, n = M.headers(bytes)
	for i = 0, n - 1 do
		if hdrs[i].name == name then
			return hdrs[i]
		end
	end
end

-- Symbols: { name, value, size, shndx, info, pos } each (pos: 1-based offset of the entry).
function M.symbols(bytes)
	local symtab = M.find(bytes, ".symtab")
	local hdrs = M.headers(bytes)
	local strtab = hdrs[symtab.link]
	local syms = {}
	for pos = symtab.offset + 1, symtab.offset + symtab.size - 24, 24 do
		local name, info, _, shndx, value, size = string.unpack("<I4BBI2I8I8", bytes, pos)
		local s = strtab.offset + name + 1
		syms[#syms + 1] = { name = bytes:sub(s, bytes:find("\0", s, true) - 1), info = info,
			shndx = shndx, value = value, size = size, pos = pos }
	end
	return syms
end

function M.symbol(bytes, name)
	for _, s in ipairs(M.symbols(bytes)) do
		if s.name == name then
			return s
		end
	end
end

-- bytes with the packed values written at 1-based position pos.
function M.patch(bytes, pos, fmt, ...)
	local p = string.pack(fmt, ...)
	return bytes:sub(1, pos - 1) .. p .. bytes:sub(pos + #p)
end

-- Section header field offsets (within a header) for M.patch.
M.SH_TYPE, M.SH_INFO, M.SH_SIZE = 4, 44, 32
M.SYM_VALUE, M.SYM_SIZE = 8, 16

return M
