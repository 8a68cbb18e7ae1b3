-- Writes the crafted regression inputs of issue 11's crash classes into fuzz/regressions/
-- (run from the repository root after `make`: lua5.4 fuzz/craft.lua). Each input is a real
-- object of bpf/ or a small raw BTF, changed in the one place that once crashed the loader;
-- spec/fuzz_regressions_spec.lua replays them (and whatever the fuzzers found) through Lua.
local elf = dofile("fuzz/elf.lua")

local function read(path)
	local f = assert(io.open(path, "rb"))
	local s = f:read("a")
	f:close()
	return s
end

local function write(target, name, bytes)
	os.execute("mkdir -p fuzz/regressions/" .. target)
	local f = assert(io.open(("fuzz/regressions/%s/%s"):format(target, name), "wb"))
	f:write(bytes)
	f:close()
	print(("fuzz/regressions/%s/%s (%d bytes)"):format(target, name, #bytes))
end

-- ---- objects ----------------------------------------------------------------------------------

-- A .BTF / .BTF.ext section of type NOBITS: no bytes behind a non-zero size.
local globals = read("bpf/globals.bpf.o")
for _, name in ipairs({ ".BTF", ".BTF.ext" }) do
	local h = elf.find(globals, name)
	write("object", "nobits" .. name:gsub("%.", "_") .. ".o",
		elf.patch(globals, h.hdr_pos + elf.SH_TYPE, "<I4", 8))
end

-- Two REL sections for one code section: the tracepoint's REL section made a second copy of
-- the socket section's (same relocations, same target).
do
	local rel_socket = elf.find(globals, ".relsocket")
	local rel_tp = elf.find(globals, ".reltracepoint/raw_syscalls/sys_enter")
	local o = elf.patch(globals, rel_tp.hdr_pos + elf.SH_INFO, "<I4", rel_socket.info)
	o = elf.patch(o, rel_tp.hdr_pos + 24, "<I8I8", rel_socket.offset, rel_socket.size)
	write("object", "two_rel_sections.o", o)
end

-- A global whose st_value + st_size wraps to 0 in 64 bits (greeting sits at offset 4 of .data).
do
	local sym = assert(elf.symbol(globals, "greeting"))
	assert(sym.value > 0)
	write("object", "global_size_wraps.o",
		elf.patch(globals, sym.pos + elf.SYM_SIZE, "<i8", -sym.value)) -- 2^64 - value
end

-- A bpf-to-bpf call whose imm is INT_MAX (imm + 1 overflows a 32-bit int).
do
	local multi = read("bpf/multi.bpf.o")
	local sec = elf.find(multi, "socket")
	local code = multi:sub(sec.offset + 1, sec.offset + sec.size)
	local at = assert(code:find("\x85\x10\0\0\xff\xff\xff\xff", 1, true), "no call in multi's socket")
	write("object", "call_imm_int_max.o",
		elf.patch(multi, sec.offset + at + 4, "<i4", 0x7fffffff))
end

-- kconfig externs whose sizes add up to exactly 2^32: a 32-bit layout wrapped to zero bytes.
do
	os.execute("mkdir -p build/fuzz")
	local src = "build/fuzz/kconfig_size_wraps.bpf.c" -- a fixed name: the same bytes every run
	local obj = "build/fuzz/kconfig_size_wraps.bpf.o"
	local f = assert(io.open(src, "w"))
	f:write([[
#include <linux/bpf.h>
#include "bpf_helpers.h"
extern char CONFIG_LBPF_HUGE_A[0x80000000u] __kconfig __weak;
extern char CONFIG_LBPF_HUGE_B[0x80000000u] __kconfig __weak;
SEC("socket") int read_both(void *ctx)
{
	return CONFIG_LBPF_HUGE_A[0] + CONFIG_LBPF_HUGE_B[1];
}
BPF_LICENSE("GPL");
]])
	f:close()
	local multiarch = io.popen("cc -dumpmachine"):read("l")
	assert(os.execute(("clang -target bpf -O2 -g -Ibpf/include -Ibuild/gen -I/usr/include/%s -c %s -o %s")
		:format(multiarch, src, obj)))
	write("object", "kconfig_size_wraps.o", read(obj))
	os.remove(src)
	os.remove(obj)
end

-- ---- raw BTF ----------------------------------------------------------------------------------

-- A raw BTF image: types is a list of packed records, strings the string section.
local function btf(types, strings)
	local body = table.concat(types)
	return string.pack("<I2BBI4I4I4I4I4", 0xeB9F, 1, 0, 24, 0, #body, #body, #strings) ..
		body .. strings
end

local function info(kind, vlen, kflag)
	return (kflag and 0x80000000 or 0) + kind * 0x1000000 + vlen
end

local KIND_INT, KIND_PTR, KIND_STRUCT, KIND_FWD = 1, 2, 4, 7

-- An anonymous FWD that claims 200 members (nothing follows it but the strings), behind a
-- pointer so that the C writer reaches it: it once wrote it as a struct, reading 2,400 bytes
-- past the end of the BTF.
write("btf", "anon_fwd_with_members.btf", btf({
	string.pack("<I4I4I4", 0, info(KIND_PTR, 0), 2),
	string.pack("<I4I4I4", 0, info(KIND_FWD, 200), 0),
}, "\0"))

-- A struct that contains itself three times (and a pointer to it): the alignment walk once
-- took 3^32 steps.
write("btf", "struct_contains_itself.btf", btf({
	string.pack("<I4I4I4", 1, info(KIND_STRUCT, 3), 12) ..
		string.pack("<I4I4I4", 3, 1, 0) .. string.pack("<I4I4I4", 5, 1, 32) ..
		string.pack("<I4I4I4", 7, 1, 64),
	string.pack("<I4I4I4", 0, info(KIND_PTR, 0), 1),
}, "\0s\0a\0b\0c\0"))

-- A 2.4 GB struct holding one int (found by the btf target): its padding was written as
-- 300 million "long: 64;" lines (a 64 MB, many-second answer); now one byte array.
write("btf", "struct_2gb_padding.btf", btf({
	string.pack("<I4I4I4", 1, info(KIND_STRUCT, 1), 0x90000000) .. string.pack("<I4I4I4", 3, 2, 0),
	string.pack("<I4I4I4I4", 5, info(KIND_INT, 0), 4, 32),
}, "\0s\0x\0int\0"))
