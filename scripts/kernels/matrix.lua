-- `make test-kernels`: boots each kernel under qemu (TCG), runs the kernel suite inside
-- (spec/kernel/run.lua in build/luabpf), runs the same suite on the host, and prints one table:
-- spec file x kernel -> passed/failed/skipped, then "kernels: N passed, N failed".
--
--   lua5.4 scripts/kernels/matrix.lua [--timeout S] [--no-host] [--kernel SERIES]... [SPEC...]
--
-- A VM that panics, hangs or stops before the suite's closing line counts as a failure (its log
-- is kept under build/kernels/run/). Exit status 0 only when nothing failed.

local timeout = tonumber(os.getenv("KERNELS_TIMEOUT") or "") or 300
local series, specs, host = {}, {}, true
local init = os.getenv("KERNELS_INIT")
local args = { ... }
local i = 1
while i <= #args do
	local a = args[i]
	if a == "--timeout" then
		i = i + 1
		timeout = assert(tonumber(args[i]), "--timeout needs seconds")
	elseif a == "--kernel" then
		i = i + 1
		series[#series + 1] = args[i]
	elseif a == "--no-host" then
		host = false
	else
		specs[#specs + 1] = a
	end
	i = i + 1
end
if #series == 0 then series = { "6.1", "6.12" } end

local function q(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function capture(cmd)
	local p = assert(io.popen(cmd))
	local out = p:read("a")
	local ok, _, code = p:close()
	return out, ok, code
end

local function slurp(path)
	local f = io.open(path, "rb")
	if not f then return nil end
	local s = f:read("a")
	f:close()
	return s
end

-- Parses the runner's tagged lines. Returns { files = {name -> {pass, fail, skip}},
-- tests = {...}, ended = bool, release = string }.
local function parse(log)
	local r = { files = {}, order = {}, tests = {}, ended = false }
	for line in log:gmatch("[^\r\n]+") do
		local rel = line:match("@@KBOOT (%S+)")
		if rel then r.release = rel end
		local file, status, rest = line:match("@@KSPEC (%S+) (%a+) (.*)$")
		if file then
			r.tests[#r.tests + 1] = { file = file, status = status, text = rest }
		end
		local f, p, fl, s = line:match("@@KFILE (%S+) (%d+) (%d+) (%d+)")
		if f then
			if not r.files[f] then r.order[#r.order + 1] = f end
			r.files[f] = { pass = tonumber(p), fail = tonumber(fl), skip = tonumber(s) }
		end
		if line:match("@@KEND %d+ %d+ %d+") then r.ended = true end
	end
	return r
end

local run_dir = os.getenv("KERNELS_RUN_DIR") or "build/kernels/run"
os.execute("mkdir -p " .. run_dir)

local function boot(kdir, label)
	local name = kdir:match("([^/]+)$")
	local initrd = ("%s/%s.cpio.gz"):format(run_dir, name)
	local log = ("%s/%s.log"):format(run_dir, name)
	local env = init and ("INIT=" .. q(init) .. " ") or ""
	local spec_args = {}
	for _, s in ipairs(specs) do spec_args[#spec_args + 1] = q(s) end
	local out, ok = capture(env .. "bash scripts/kernels/initramfs.sh " .. q(kdir) .. " "
		.. q(initrd) .. " " .. table.concat(spec_args, " ") .. " 2>&1")
	if not ok then
		return { files = {}, order = {}, tests = {}, ended = false,
			problem = "initramfs: " .. out }
	end
	local vmlinuz = capture("ls " .. q(kdir) .. "/boot/vmlinuz-* | head -n 1"):gsub("%s+$", "")
	local cmd = table.concat({
		"nice -n 10 timeout -k 5", tostring(timeout), "qemu-system-x86_64 -accel tcg -m 1024 -smp 2",
		"-kernel", q(vmlinuz), "-initrd", q(initrd),
		"-nographic -no-reboot -monitor none",
		"-append", q("console=ttyS0 quiet panic=-1 lsm=lockdown,capability,bpf"),
		"</dev/null >", q(log), "2>&1",
	}, " ")
	local t0 = os.time()
	local _, _, code = os.execute(cmd)
	local r = parse(slurp(log) or "")
	r.seconds = os.time() - t0
	r.log = log
	if code == 124 or code == 137 then
		r.problem = ("timed out after %d s (log: %s)"):format(timeout, log)
	elseif not r.ended then
		r.problem = ("the VM stopped before the suite ended: panic or crash (log: %s)"):format(log)
	end
	r.label = label
	return r
end

local function run_host()
	local spec_args = {}
	for _, s in ipairs(specs) do spec_args[#spec_args + 1] = q(s) end
	local log = run_dir .. "/host.log"
	local cmd = ("timeout -k 5 %d build/luabpf spec/kernel/run.lua %s > %s 2>&1"):format(
		timeout, table.concat(spec_args, " "), q(log))
	local t0 = os.time()
	local _, _, code = os.execute(cmd)
	local r = parse(slurp(log) or "")
	r.seconds = os.time() - t0
	r.release = capture("uname -r"):gsub("%s+$", "")
	r.label = "host " .. r.release
	if code == 124 or code == 137 then
		r.problem = ("timed out after %d s (log: %s)"):format(timeout, log)
	elseif not r.ended then
		r.problem = ("the suite stopped before its end (log: %s)"):format(log)
	end
	return r
end

local columns = {}
for _, s in ipairs(series) do
	local kdir, ok = capture("bash scripts/kernels/fetch.sh " .. q(s))
	kdir = kdir:gsub("%s+$", ""):match("[^\n]*$")
	if not ok or kdir == "" then
		columns[#columns + 1] = { label = s, files = {}, order = {}, tests = {},
			problem = "could not fetch the " .. s .. " kernel" }
	else
		local version = (slurp(kdir .. "/.version") or "?"):gsub("%s+$", "")
		io.stderr:write(("kernels: booting %s (%s)\n"):format(s, version))
		columns[#columns + 1] = boot(kdir, ("%s (%s)"):format(s, version))
	end
end
if host then
	io.stderr:write("kernels: running the suite on the host\n")
	columns[#columns + 1] = run_host()
end

-- The table: one row per spec file, one column per kernel.
local rows, seen = {}, {}
for _, c in ipairs(columns) do
	for _, f in ipairs(c.order) do
		if not seen[f] then
			seen[f] = true
			rows[#rows + 1] = f
		end
	end
end
table.sort(rows)

local passed, failed = 0, 0
local header = { "spec" }
for _, c in ipairs(columns) do header[#header + 1] = c.label end
print("| " .. table.concat(header, " | ") .. " |")
print("|" .. string.rep(" --- |", #header))
for _, f in ipairs(rows) do
	local cells = { f }
	for _, c in ipairs(columns) do
		local n = c.files[f]
		if n then
			cells[#cells + 1] = ("%d/%d/%d"):format(n.pass, n.fail, n.skip)
			passed, failed = passed + n.pass, failed + n.fail
		else
			cells[#cells + 1] = "-"
		end
	end
	print("| " .. table.concat(cells, " | ") .. " |")
end
local boot_row = { "(seconds: boot + suite; release)" }
for _, c in ipairs(columns) do
	boot_row[#boot_row + 1] = ("%s s, %s"):format(tostring(c.seconds or "?"), c.release or "?")
end
print("| " .. table.concat(boot_row, " | ") .. " |")
print("(cells: passed/failed/skipped)")

-- What failed or skipped, and why; VM-level problems count as one failure each.
for _, c in ipairs(columns) do
	for _, t in ipairs(c.tests) do
		if t.status ~= "pass" then
			local text = t.text:gsub(" | stack traceback:.*", "")
			print(("%s: %s %s: %s"):format(c.label, t.status, t.file, text))
		end
	end
	if c.problem then
		failed = failed + 1
		print(("%s: FAILED: %s"):format(c.label, c.problem))
	end
end
print(("kernels: %d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
