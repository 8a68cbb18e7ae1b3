-- The kernel suite's runner: a small describe/it runner that works inside the static
-- build/luabpf (no busted in the initramfs), on the host and in the qemu VMs alike.
--
--   luabpf spec/kernel/run.lua [FILE...]     (default: every spec/kernel/*_k.lua)
--
-- One line per test, then one line per file and a closing line, each starting with a tag the
-- matrix script (scripts/kernels/matrix.lua) reads back from the serial console:
--   @@KSPEC <file> <pass|fail|skip> <test name> :: <message>
--   @@KFILE <file> <passed> <failed> <skipped>
--   @@KEND <passed> <failed> <skipped>
-- A test skips by calling skip("reason") (the kernel lacks what it needs: said, never silent).
-- The exit status is 0 only when nothing failed.

local SKIP = {}

local function one_line(s)
	return (tostring(s):gsub("[\r\n]+", " | "))
end

local function emit(...)
	io.stdout:write(table.concat({ ... }, " "), "\n")
	io.stdout:flush()
end

-- Helpers every spec file sees as globals.
local env = setmetatable({}, { __index = _G })

function env.skip(reason)
	error({ [SKIP] = true, reason = reason }, 0)
end

function env.eq(actual, expected, what)
	if actual ~= expected then
		error(("%s: expected %s, got %s"):format(what or "value", tostring(expected),
			tostring(actual)), 2)
	end
	return actual
end

function env.ge(actual, least, what)
	if type(actual) ~= "number" or actual < least then
		error(("%s: expected at least %s, got %s"):format(what or "value", tostring(least),
			tostring(actual)), 2)
	end
	return actual
end

-- ok(value, err): asserts value, with err (a function's second result) in the message.
function env.ok(value, err, ...)
	if not value then error(one_line(err or "assertion failed"), 2) end
	return value, err, ...
end

function env.matches(s, pattern, what)
	if type(s) ~= "string" or not s:find(pattern) then
		error(("%s: %q does not match %q"):format(what or "string", tostring(s), pattern), 2)
	end
	return s
end

-- Shell command, its output (stdout and stderr) and whether it succeeded.
function env.sh(cmd)
	local p = assert(io.popen(cmd .. " 2>&1"))
	local out = p:read("a")
	local ok = p:close()
	return ok, out
end

-- This process's id (the programs filter on it).
function env.tgid()
	local f = assert(io.open("/proc/self/stat"))
	local pid = tonumber(f:read("l"):match("^(%d+)"))
	f:close()
	return pid
end

-- Whether this kernel can attach kind (bpf.features().attach), else skips with the reason.
function env.need(kind)
	if not bpf.features().attach[kind] then
		env.skip(("this kernel cannot attach %s (bpf.features().attach.%s is false)"):format(kind, kind))
	end
end

-- Opens path (with target_tgid = this process unless globals says otherwise) and loads only
-- the programs named.
function env.load_only(path, names, globals)
	local obj = env.ok(bpf.open(path, { globals = globals or { target_tgid = env.tgid() } }))
	local wanted = {}
	for _, n in ipairs(names) do wanted[n] = true end
	for name, prog in pairs(obj.programs) do prog:set_autoload(wanted[name] == true) end
	local loaded, err = obj:load()
	if not loaded then
		obj:close()
		return nil, err
	end
	return obj
end

-- Polls cond() for up to seconds (default 5): packets on loopback are delivered from softirq
-- context, possibly after the sender exits. Returns cond()'s last answer; never a timing assert.
function env.wait_for(cond, seconds)
	local deadline = os.time() + (seconds or 5)
	local v = cond()
	while not v and os.time() <= deadline do
		bpf.sleep(0.02)
		v = cond()
	end
	return v
end

-- A kernel version as a comparable number: 6.1.192 -> 6001192.
function env.kernel_version()
	local f = assert(io.open("/proc/sys/kernel/osrelease"))
	local rel = f:read("l")
	f:close()
	local a, b, c = rel:match("^(%d+)%.(%d+)%.?(%d*)")
	return tonumber(a) * 1000000 + tonumber(b) * 1000 + (tonumber(c) or 0), rel
end

local function run_file(path)
	local name = path:match("([^/]+)%.lua$") or path
	local tests, prefix = {}, {}
	local fenv = setmetatable({}, { __index = env })

	function fenv.describe(title, body)
		prefix[#prefix + 1] = title
		body()
		prefix[#prefix] = nil
	end
	function fenv.it(title, body)
		local full = table.concat(prefix, " ") .. (#prefix > 0 and " " or "") .. title
		tests[#tests + 1] = { name = full, body = body }
	end

	local counts = { pass = 0, fail = 0, skip = 0 }
	local chunk, err = loadfile(path, "t", fenv)
	local loaded = chunk and { pcall(chunk) }
	if not chunk or not loaded[1] then
		counts.fail = 1
		emit("@@KSPEC", name, "fail", "(loading the file)", "::", one_line(err or loaded[2]))
	end
	for _, t in ipairs(tests) do
		local ok, e = xpcall(t.body, function(m)
			if type(m) == "table" and m[SKIP] then return m end
			return debug.traceback(tostring(m), 2)
		end)
		local status, msg = "pass", ""
		if not ok and type(e) == "table" and e[SKIP] then
			status, msg = "skip", e.reason
		elseif not ok then
			status, msg = "fail", e
		end
		counts[status] = counts[status] + 1
		emit("@@KSPEC", name, status, one_line(t.name), "::", one_line(msg))
		collectgarbage()
	end
	emit("@@KFILE", name, counts.pass, counts.fail, counts.skip)
	return counts
end

local files = { ... }
if #files == 0 then
	local p = assert(io.popen("ls spec/kernel/*_k.lua"))
	for line in p:lines() do files[#files + 1] = line end
	p:close()
end

local total = { pass = 0, fail = 0, skip = 0 }
for _, f in ipairs(files) do
	local c = run_file(f)
	for k, v in pairs(c) do total[k] = total[k] + v end
end
emit("@@KEND", total.pass, total.fail, total.skip)
os.exit(total.fail == 0 and 0 or 1)
