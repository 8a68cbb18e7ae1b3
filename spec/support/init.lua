-- Shared helpers for the specs: where the BPF objects are, running shell commands, waiting for a
-- condition (with a bound, never a timing assertion) and making the kernel do something.
--
--   local support = require "support.init"
local M = {}

-- The repository root: the parent of the spec directory this file lives in.
local function find_root()
	local source = debug.getinfo(1, "S").source:gsub("^@", "")
	local spec_dir = source:match("^(.*)/support/init%.lua$") or "spec"
	if spec_dir:sub(1, 1) ~= "/" then
		spec_dir = (os.getenv("PWD") or ".") .. "/" .. spec_dir
	end
	-- Tidy "/./" and a trailing "/spec" away; "x/.." segments resolve by popping.
	local parts = {}
	for part in (spec_dir .. "/..").gmatch(spec_dir .. "/..", "[^/]+") do
		if part == ".." then
			parts[#parts] = nil
		elseif part ~= "." then
			parts[#parts + 1] = part
		end
	end
	return "/" .. table.concat(parts, "/")
end

M.root = find_root()

-- Absolute path of bpf/NAME.bpf.o, built by `make`.
function M.obj(name)
	return M.root .. "/bpf/" .. name .. ".bpf.o"
end

function M.read_file(path)
	local f = assert(io.open(path, "rb"))
	local data = f:read("*a")
	f:close()
	return data
end

function M.write_file(path, data)
	local f = assert(io.open(path, "wb"))
	f:write(data)
	f:close()
end

-- A fresh temporary file name (the file itself is created by os.tmpname).
function M.tmpname()
	return os.tmpname()
end

-- Runs a shell command; returns success (boolean) and its standard output (add 2>&1 to the
-- command for its errors too).
function M.sh(cmd)
	-- The exit status travels in the output: popen's close reports it differently under LuaJIT.
	local p = assert(io.popen("{ " .. cmd .. "\n}; echo \"__status=$?\"", "r"))
	local out = p:read("*a")
	p:close()
	local body, status = out:match("^(.-)__status=(%d+)\n?$")
	return tonumber(status) == 0, body or out
end

-- s as one shell word (single-quoted).
function M.quote(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The pid (= tgid) of this interpreter: /proc/self is whoever reads it.
function M.getpid()
	local stat = M.read_file("/proc/self/stat")
	return tonumber(stat:match("^(%d+)"))
end

function M.comm(pid)
	local f = io.open("/proc/" .. pid .. "/comm", "r")
	if not f then return nil end
	local name = f:read("*l")
	f:close()
	return name
end

-- Makes this process enter the kernel a few times (open, read, close of a procfs file).
function M.do_syscalls(n)
	for _ = 1, n or 10 do
		local f = io.open("/proc/self/stat", "r")
		if f then
			f:read("*a")
			f:close()
		end
	end
end

-- Number of open file descriptors of this process (after a full garbage collection).
-- Kernel-object descriptors (maps, programs, links, BTF, perf events) the process holds: pipes
-- of the shell commands the specs run come and go, so they are not counted.
function M.fd_count()
	collectgarbage()
	collectgarbage()
	local _, out = M.sh("ls -l /proc/" .. M.getpid() .. "/fd")
	local n = 0
	for _ in out:gmatch("anon_inode:") do n = n + 1 end
	return n
end

function M.sleep(seconds)
	os.execute("sleep " .. tostring(seconds))
end

-- Calls cond() until it returns a true value (which is returned) or about timeout seconds
-- (default 5) have passed (then returns nil). between() runs before every retry, e.g. to
-- generate the events being waited for.
function M.wait_until(cond, timeout, between)
	timeout = timeout or 5
	local step = 0.05
	for _ = 0, math.ceil(timeout / step) do
		local v = cond()
		if v then return v end
		if between then between() end
		M.sleep(step)
	end
	return nil
end

-- luv, loaded once per process: its module table holds the loop's only reference (field _loop)
-- while the loop itself stays registered for every later require. busted's insulation drops
-- package.loaded.luv after each spec file, so a second file's require "luv" returns a table
-- without _loop, and when the first table is collected its __gc closes and frees the loop still
-- in use (uv.new_poll then returns nil, or libuv crashes in uv_poll_init). The first table is
-- kept in the registry, which insulation leaves alone. Returns nil, message without luv.
local LUV_KEY = "luabpf.spec.luv"

function M.luv()
	local reg = debug.getregistry()
	if reg[LUV_KEY] then return reg[LUV_KEY] end
	local ok, uv = pcall(require, "luv")
	if not ok then return nil, uv end
	reg[LUV_KEY] = uv
	return uv
end

-- Converts whatever the binding gives for an integer (Lua integer, float, LuaJIT 64-bit cdata)
-- into its decimal text, for exact comparisons of 64-bit values on every interpreter.
function M.int_text(v)
	local s = tostring(v):gsub("U?LL$", "")
	if math.type and math.type(v) == "float" and v == math.floor(v) then
		s = string.format("%.0f", v)
	end
	return s
end

-- A zero-filled packet long enough for skb and xdp test runs (they need an Ethernet header).
function M.packet(len)
	return string.rep("\0", len or 64)
end

-- Little-endian byte strings of integers (string.pack is not in LuaJIT).
function M.le_bytes(n, size)
	local bytes = {}
	for i = 1, size do
		bytes[i] = string.char(n % 256)
		n = math.floor(n / 256)
	end
	return table.concat(bytes)
end

function M.u32(n) return M.le_bytes(n, 4) end
function M.u64(n) return M.le_bytes(n, 8) end

-- Strips trailing NULs from a char-array value.
function M.cstring(s)
	return (tostring(s):gsub("%z+$", ""))
end

return M
