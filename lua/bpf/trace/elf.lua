-- Reading 64-bit little-endian ELF files for the trace runtime: the loadable segments and
-- function symbols that turn user addresses into names (usym.lua), the symbols and USDT notes
-- that `-l uprobe:` and `-l usdt:` list (list.lua). Only the parts asked for are read.
local M = {}

local function u16(s, o) local a, b = s:byte(o + 1, o + 2) return a + b * 256 end
local function u32(s, o)
	local a, b, c, d = s:byte(o + 1, o + 4)
	return a + b * 256 + c * 65536 + d * 16777216
end
local function u64(s, o) return u32(s, o) + u32(s, o + 4) * 4294967296 end
M.u32 = u32

local function read_at(f, offset, size)
	f:seek("set", offset)
	return f:read(size) or ""
end

M.SHT_SYMTAB, M.SHT_DYNSYM = 2, 11
local STT_FUNC, STT_GNU_IFUNC = 2, 10
local PT_LOAD = 1

local function load_segments(f, h)
	local loads = {}
	local phoff, phentsize, phnum = u64(h, 0x20), u16(h, 0x36), u16(h, 0x38)
	local ph = read_at(f, phoff, phentsize * phnum)
	for i = 0, phnum - 1 do
		local o = i * phentsize
		if #ph >= o + 56 and u32(ph, o) == PT_LOAD then
			loads[#loads + 1] = { u64(ph, o + 8), u64(ph, o + 16), u64(ph, o + 32) }
		end
	end
	return loads
end

-- Section headers by index (from 0), each { name, type, offset, size, link }.
local function section_headers(f, h)
	local shoff, shentsize, shnum, shstrndx = u64(h, 0x28), u16(h, 0x3A), u16(h, 0x3C), u16(h, 0x3E)
	local sh = read_at(f, shoff, shentsize * shnum)
	local sections = {}
	for i = 0, shnum - 1 do
		local o = i * shentsize
		if #sh >= o + 64 then
			sections[i] = { name_off = u32(sh, o), type = u32(sh, o + 4), offset = u64(sh, o + 0x18),
				size = u64(sh, o + 0x20), link = u32(sh, o + 0x28) }
		end
	end
	local strtab = sections[shstrndx]
	local names = strtab and read_at(f, strtab.offset, strtab.size) or ""
	for _, s in pairs(sections) do s.name = names:match("^[^%z]*", s.name_off + 1) or "" end
	return sections
end

--- The file's PT_LOAD segments ({offset, vaddr, filesz}) and section headers, with the file
-- left open for M.read / M.each_function; M.close when done. nil, message when the file cannot
-- be read or is not a 64-bit little-endian ELF file.
function M.open(path)
	local f = io.open(path, "rb")
	if not f then return nil, "cannot open " .. path end
	local h = f:read(64)
	if not h or #h < 64 or h:sub(1, 4) ~= "\127ELF" or h:byte(5) ~= 2 or h:byte(6) ~= 1 then
		f:close()
		return nil, path .. " is not a 64-bit little-endian ELF file"
	end
	return { f = f, loads = load_segments(f, h), sections = section_headers(f, h) }
end

function M.close(elf) elf.f:close() end

--- A section's bytes.
function M.read(elf, sec) return read_at(elf.f, sec.offset, sec.size) end

--- Calls fn(name, value, size, shndx) for every function symbol (STT_FUNC, STT_GNU_IFUNC) of
-- the symbol tables of type sht (M.SHT_SYMTAB or M.SHT_DYNSYM).
function M.each_function(elf, sht, fn)
	local sections = elf.sections
	for _, sec in pairs(sections) do
		if sec.type == sht and sections[sec.link] then
			local data, strs = M.read(elf, sec), M.read(elf, sections[sec.link])
			for o = 0, #data - 24, 24 do
				local kind = data:byte(o + 5) % 16
				if kind == STT_FUNC or kind == STT_GNU_IFUNC then
					fn(strs:match("^[^%z]*", u32(data, o) + 1), u64(data, o + 8), u64(data, o + 16),
						u16(data, o + 6))
				end
			end
		end
	end
end

return M
