-- `luabpf cc FILE.bpf.c [-o OUT.bpf.o] [CLANG_OPTION...]`: compiles a BPF program of one's own
-- with the documented clang command (README "Writing your own BPF program"), against the BPF
-- headers built into the static binary and a vmlinux.h written from the running kernel's BTF by
-- the project's own BTF-to-C writer (bpf.btf.kernel():dump_c()). They go to a temporary
-- directory, removed afterwards; the command is printed before it runs.
--
-- The static binary calls this chunk with (embedded, argument...), embedded(name) returning a
-- built-in file and embedded() the list of names.
local args = { ... }
local embedded = table.remove(args, 1)
local bpf = require "bpf"

local function fail(msg, status)
	io.stderr:write("luabpf cc: ", msg, "\n")
	os.exit(status or 1)
end

local function quote(s)
	if s:match("^[%w%-_./=+,:@]+$") then return s end
	return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function capture(cmd)
	local p = io.popen(cmd .. " 2>/dev/null")
	local out = p and p:read("*a") or ""
	if p then p:close() end
	return (out:gsub("%s+$", ""))
end

local function write(path, data)
	local f, err = io.open(path, "wb")
	if not f then fail("cannot write " .. err) end
	f:write(data)
	f:close()
end

if args[1] == "-h" or args[1] == "--help" or not args[1] then
	io.write("usage: luabpf cc FILE.bpf.c [-o OUT.bpf.o] [CLANG_OPTION...]\n",
		"Compiles a BPF program with clang -target bpf -O2 -g against the built-in BPF headers\n",
		"and a vmlinux.h of the running kernel. OUT defaults to FILE.bpf.o.\n")
	os.exit(args[1] and 0 or 2)
end

local src, out, extra = nil, nil, {}
local i = 1
while i <= #args do
	local a = args[i]
	if a == "-o" then
		out = args[i + 1] or fail("-o needs a file name", 2)
		i = i + 1
	elseif not src and a:sub(1, 1) ~= "-" then
		src = a
	else
		extra[#extra + 1] = a
	end
	i = i + 1
end
if not src then fail("no source file given", 2) end
local f = io.open(src, "r")
if not f then fail("cannot open " .. src, 1) end
f:close()
out = out or (src:gsub("%.c$", "") .. ".o")

-- The kernel's names for this architecture (the PT_REGS macros) and the multiarch directory
-- that holds <asm/types.h>.
local machine = capture("uname -m")
local arch = ({ x86_64 = "x86", aarch64 = "arm64", ppc64le = "powerpc", s390x = "s390",
	riscv64 = "riscv", loongarch64 = "loongarch" })[machine] or machine
local multiarch = capture("gcc -dumpmachine")
if multiarch == "" then multiarch = machine .. "-linux-gnu" end

local dir = capture("mktemp -d /tmp/luabpf-cc.XXXXXX")
if dir == "" then fail("cannot make a temporary directory") end
local function cleanup() os.execute("rm -rf " .. quote(dir)) end

for _, name in ipairs(embedded()) do
	local h = name:match("^include/(.+%.h)$")
	if h then write(dir .. "/" .. h, embedded(name)) end
end
local btf, err = bpf.btf.kernel()
if btf then
	write(dir .. "/vmlinux.h", btf:dump_c())
else
	io.stderr:write("luabpf cc: no kernel BTF (", tostring(err), "): vmlinux.h is not available\n")
end

local cmd = { "clang", "-target", "bpf", "-O2", "-g", "-Wall", "-D__TARGET_ARCH_" .. arch,
	"-I", dir, "-I", "/usr/include/" .. multiarch }
for _, a in ipairs(extra) do cmd[#cmd + 1] = a end
for _, a in ipairs({ "-c", src, "-o", out }) do cmd[#cmd + 1] = a end
local words = {}
for k, a in ipairs(cmd) do words[k] = quote(a) end
local line = table.concat(words, " ")
io.stderr:write(line, "\n")
local ok, how, status = os.execute(line)
cleanup()
-- os.execute: 5.1 returns the status, 5.2+ (true|nil, "exit", status)
if ok == true or ok == 0 then os.exit(0) end
os.exit(type(status) == "number" and status or 1)
