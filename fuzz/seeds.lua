-- Seed corpora for the fuzz targets (make fuzz-seeds), written under OUT/<target>/:
--   lua5.4 fuzz/seeds.lua OUT VMLINUX_BTF USDT_BINARY OBJECT...
-- The objects seed `object` and `btf_elf` as they are; their .BTF sections, the kernel's BTF,
-- their .BTF.ext sections and the CO-RE access strings inside those seed `btf`, `btf_ext` and
-- `core_access` in the input layouts of those targets, their code as assembler text (with the
-- bpf module on LUA_CPATH) `asm_assemble`; the USDT binary seeds `usdt_notes`.
-- fuzz/seeds/<target>/ (hand-written) and fuzz/regressions/<target>/ are added as they are.
local elf = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/elf.lua")

local out, vmlinux, usdt_binary = arg[1], arg[2], arg[3]
local objects = { table.unpack(arg, 4) }
assert(out and vmlinux and usdt_binary, "usage: seeds.lua OUT VMLINUX_BTF USDT_BINARY OBJECT...")

local function read(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("a")
	f:close()
	return s
end

local function write(target, name, bytes)
	os.execute(("mkdir -p '%s/%s'"):format(out, target))
	local f = assert(io.open(("%s/%s/%s"):format(out, target, name), "wb"))
	f:write(bytes)
	f:close()
end

local function copy_dir(from, target)
	local p = io.popen(("ls '%s' 2>/dev/null"):format(from))
	for name in p:lines() do
		write(target, name, read(from .. "/" .. name))
	end
	p:close()
end

local function part(bytes)
	return string.pack("<I4", #bytes) .. bytes
end

-- The CO-RE records of a .BTF.ext: { type_id, access_str_off, kind } each.
local function core_records(ext)
	local hdr_len = string.unpack("<I4", ext, 5)
	if hdr_len < 32 then
		return {}
	end
	local off, len = string.unpack("<I4I4", ext, 25)
	if len < 4 then
		return {}
	end
	local recs, pos, stop = {}, hdr_len + off + 1, hdr_len + off + len
	local rec_size = string.unpack("<I4", ext, pos)
	pos = pos + 4
	while pos + 8 <= stop do
		local _, count = string.unpack("<I4I4", ext, pos)
		pos = pos + 8
		for _ = 1, count do
			local _, type_id, access, kind = string.unpack("<I4I4I4I4", ext, pos)
			recs[#recs + 1] = { type_id = type_id, access = access, kind = kind }
			pos = pos + rec_size
		end
	end
	return recs
end

-- A NUL-terminated string at offset off of a raw BTF's string section.
local function btf_string(btf, off)
	local hdr_len = string.unpack("<I4", btf, 5)
	local str_off = string.unpack("<I4", btf, 17)
	local start = hdr_len + str_off + off + 1
	return btf:sub(start, (btf:find("\0", start, true) or #btf + 1) - 1)
end

-- Code sections as assembler text (bpf.disasm), for the text assembler's target.
local has_bpf, bpf = pcall(require, "bpf")

local function asm_seeds(name, secs)
	if not has_bpf then
		return
	end
	for sec, bytes in pairs(secs) do
		if (sec == ".text" or sec == "socket" or sec:match("^tracepoint/") or sec == "xdp")
			and #bytes > 0 and #bytes % 8 == 0 then
			local ok, text = pcall(bpf.disasm, bytes)
			if ok and type(text) == "string" then
				write("asm_assemble", name .. "." .. sec:gsub("%W", "_"), text)
			end
		end
	end
end

local n = 0
for _, path in ipairs(objects) do
	local name = path:match("([^/]+)%.o$") or path:gsub("/", "_")
	local bytes = read(path)
	write("object", name, bytes)
	write("btf_elf", name, bytes)
	local secs = elf.sections(bytes)
	asm_seeds(name, secs)
	local btf, ext = secs[".BTF"], secs[".BTF.ext"]
	if btf then
		write("btf", name, btf)
		if ext then
			write("btf_ext", name, part(btf) .. ext)
			for i, r in ipairs(core_records(ext)) do
				if i <= 8 then
					write("core_access", name .. "." .. i, part(btf) ..
						string.pack("<I4I4", r.type_id, r.kind) .. btf_string(btf, r.access))
				end
			end
		end
	end
	n = n + 1
end
write("btf", "vmlinux", read(vmlinux))
write("usdt_notes", "probe_target", read(usdt_binary))
local p = io.popen("ls fuzz/seeds fuzz/regressions 2>/dev/null")
for dir in p:lines() do
	if dir ~= "" and not dir:match(":$") then
		copy_dir("fuzz/seeds/" .. dir, dir)
		copy_dir("fuzz/regressions/" .. dir, dir)
	end
end
p:close()
-- the builders' comparison compiles what the compiler target does
copy_dir("fuzz/seeds/trace_compile", "trace_builders")
print(("fuzz-seeds: %d objects, kernel BTF, USDT fixture -> %s"):format(n, out))
