--- bpf.trace.usym: user-space addresses to "symbol+offset", as bpftrace prints ustack and
-- usym(): the process's mappings (/proc/PID/maps), then the function symbols (.symtab, else
-- .dynsym) of the ELF file mapped there. Nothing when the process is gone or the file has no
-- symbol covering the address (the caller prints hex, as bpftrace does).
--
--   usym.resolve(pid, addr)  -> name, offset, module path   (or nil)
--   usym.forget(pid)         drop the cached mappings of a process
local M = {}

local function u16(s, o) local a, b = s:byte(o + 1, o + 2) return a + b * 256 end
local function u32(s, o)
	local a, b, c, d = s:byte(o + 1, o + 4)
	return a + b * 256 + c * 65536 + d * 16777216
end
local function u64(s, o) return u32(s, o) + u32(s, o + 4) * 4294967296 end

local function read_at(f, offset, size)
	f:seek("set", offset)
	return f:read(size) or ""
end

local STT_FUNC, STT_GNU_IFUNC = 2, 10
local SHT_SYMTAB, SHT_DYNSYM = 2, 11
local PT_LOAD = 1

-- { loads = { {offset, vaddr, filesz}, ... }, syms = { {value, size, name}, ... } sorted } or false
local function parse_elf(path)
	local f = io.open(path, "rb")
	if not f then return false end
	local h = f:read(64)
	if not h or #h < 64 or h:sub(1, 4) ~= "\127ELF" or h:byte(5) ~= 2 or h:byte(6) ~= 1 then
		f:close()
		return false -- only 64-bit little-endian ELF
	end
	local elf = { loads = {}, syms = {} }
	local phoff, phentsize, phnum = u64(h, 0x20), u16(h, 0x36), u16(h, 0x38)
	local ph = read_at(f, phoff, phentsize * phnum)
	for i = 0, phnum - 1 do
		local o = i * phentsize
		if #ph >= o + 56 and u32(ph, o) == PT_LOAD then
			elf.loads[#elf.loads + 1] = { u64(ph, o + 8), u64(ph, o + 16), u64(ph, o + 32) }
		end
	end
	local shoff, shentsize, shnum = u64(h, 0x28), u16(h, 0x3A), u16(h, 0x3C)
	local sh = read_at(f, shoff, shentsize * shnum)
	local sections = {}
	for i = 0, shnum - 1 do
		local o = i * shentsize
		if #sh >= o + 64 then
			sections[i] = { type = u32(sh, o + 4), offset = u64(sh, o + 0x18), size = u64(sh, o + 0x20),
				link = u32(sh, o + 0x28) }
		end
	end
	local function load_symbols(wanted)
		for _, sec in pairs(sections) do
			if sec.type == wanted and sections[sec.link] then
				local data = read_at(f, sec.offset, sec.size)
				local strs = read_at(f, sections[sec.link].offset, sections[sec.link].size)
				for o = 0, #data - 24, 24 do
					local kind = data:byte(o + 5) % 16
					local value, size = u64(data, o + 8), u64(data, o + 16)
					if (kind == STT_FUNC or kind == STT_GNU_IFUNC) and value ~= 0 then
						local n = u32(data, o)
						elf.syms[#elf.syms + 1] = { value, size, strs:match("^[^%z]*", n + 1) }
					end
				end
			end
		end
	end
	load_symbols(SHT_SYMTAB)
	if #elf.syms == 0 then load_symbols(SHT_DYNSYM) end
	f:close()
	table.sort(elf.syms, function(a, b) return a[1] < b[1] end)
	return elf
end

local elf_cache = {}
local maps_cache = {}

local function elf_of(path)
	local e = elf_cache[path]
	if e == nil then
		e = parse_elf(path)
		elf_cache[path] = e
	end
	return e
end

-- The process's file mappings: { {start, end, offset, path}, ... } or false when it is gone.
local function mappings(pid)
	local m = maps_cache[pid]
	if m ~= nil then return m end
	local f = io.open("/proc/" .. tostring(pid) .. "/maps", "r")
	if not f then
		maps_cache[pid] = false
		return false
	end
	m = {}
	for line in f:lines() do
		local s, e, off, path = line:match("^(%x+)%-(%x+) %S+ (%x+) %S+ %d+%s+(/.*)$")
		if s and not path:find(" (deleted)", 1, true) then
			m[#m + 1] = { tonumber(s, 16), tonumber(e, 16), tonumber(off, 16), path }
		end
	end
	f:close()
	maps_cache[pid] = m
	return m
end

--- The symbol covering a user address of process pid: name, offset into it, module path.
function M.resolve(pid, addr)
	addr = tonumber(addr)
	local m = mappings(tonumber(pid))
	if not m then return nil end
	for _, r in ipairs(m) do
		if addr >= r[1] and addr < r[2] then
			local elf = elf_of(r[4])
			if not elf then return nil end
			local file_off = addr - r[1] + r[3]
			for _, l in ipairs(elf.loads) do
				if file_off >= l[1] and file_off < l[1] + l[3] then
					local vaddr = file_off - l[1] + l[2]
					local syms, lo, hi, best = elf.syms, 1, #elf.syms, nil
					while lo <= hi do -- the last symbol starting at or below vaddr
						local mid = math.floor((lo + hi) / 2)
						if syms[mid][1] <= vaddr then best, lo = mid, mid + 1 else hi = mid - 1 end
					end
					local s = best and syms[best]
					if s and vaddr < s[1] + math.max(s[2], 1) then
						return s[3], vaddr - s[1], r[4]
					end
					return nil
				end
			end
			return nil
		end
	end
	return nil
end

--- Forgets the cached mappings of pid (or of every process).
function M.forget(pid)
	if pid then maps_cache[tonumber(pid)] = nil else maps_cache = {} end
end

return M
