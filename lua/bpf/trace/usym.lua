--- bpf.trace.usym: user-space addresses to "symbol+offset", as bpftrace prints ustack and
-- usym(): the process's mappings (/proc/PID/maps), then the function symbols (.symtab, else
-- .dynsym) of the ELF file mapped there. Nothing when the process is gone or the file has no
-- symbol covering the address (the caller prints hex, as bpftrace does).
--
--   usym.resolve(pid, addr)  -> name, offset, module path   (or nil)
--   usym.forget(pid)         drop the cached mappings of a process
local M = {}

local elf = require "bpf.trace.elf"

-- { loads = { {offset, vaddr, filesz}, ... }, syms = { {value, size, name}, ... } sorted } or false
local function parse_elf(path)
	local e = elf.open(path)
	if not e then return false end
	local syms = {}
	local function add(name, value, size)
		if value ~= 0 then syms[#syms + 1] = { value, size, name } end
	end
	elf.each_function(e, elf.SHT_SYMTAB, add)
	if #syms == 0 then elf.each_function(e, elf.SHT_DYNSYM, add) end
	elf.close(e)
	table.sort(syms, function(a, b) return a[1] < b[1] end)
	return { loads = e.loads, syms = syms }
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
