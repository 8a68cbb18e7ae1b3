--- bpf.trace.cli: `luabpf trace`, bpftrace's command line over bpf.trace.
--
--   luabpf trace -e 'PROGRAM' [-d SECONDS] [-c 'CMD'] [-p PID] [--dump]
--   luabpf trace FILE.bt [ARGS...]            ($1, $2... in the program)
--   lua5.4 tools/trace.lua ...                the same without the static binary
--
-- main(argv) returns the exit status: 0, 1 (the program failed to compile, load or run) or 2
-- (bad command line). Output goes to stdout as bpftrace writes it; errors to stderr.
local M = {}

local USAGE = [[
usage: luabpf trace [options] FILE.bt [ARGS...]
       luabpf trace [options] -e 'PROGRAM' [ARGS...]
(options may come anywhere; arguments after -- are never options)
options:
  -e PROGRAM     the program text (instead of a file)
  -d SECONDS     stop after SECONDS (then END runs and the maps print)
  -c 'CMD'       run CMD once the probes are attached; stop when it exits;
                 its pid is the program's `cpid`
  -p PID         stop when process PID exits
  -o FILE        write the output to FILE instead of stdout
  -f FORMAT      text (default) or json: bpftrace's -f json, one JSON object a line
  -l [PATTERN]   list probes (kprobe:, tracepoint:CAT:NAME, kfunc:, software:, hardware:,
                 iter:, uprobe:/PATH:, usdt:/PATH:; * and ?); -lv adds their arguments
  -v             verbose: each program's id and verifier log, "Attaching PROBE" on stderr
  -k             a warning on the output each time a map update/delete, get_stackid or
                 get_current_comm fails; -kk also probe reads and reads of missing map keys
  --unsafe       accepted; system(), signal() and override() are not supported anyway
  --dump         print the generated programs as text; load nothing
  -h, --help     this text
Ctrl-C stops the trace: END runs and the maps print, as with bpftrace.
]]

local function fail(status, msg)
	io.stderr:write(msg, msg:sub(-1) == "\n" and "" or "\n")
	io.stderr:flush()
	return status
end

local function read_file(path)
	local f, err = io.open(path, "r")
	if not f then return nil, err end
	local s = f:read("*a")
	f:close()
	return s
end

--- Parses argv: { source =, name =, seconds =, cmd =, pid =, dump =, args = {...} } or nil, message.
function M.parse(argv)
	local copy = {}
	for k, v in ipairs(argv) do copy[k] = v end
	argv = copy -- combined flags are expanded in place
	local o, i = { args = {} }, 1
	local function value(flag)
		i = i + 1
		if argv[i] == nil then error({ usage = flag .. " needs an argument" }) end
		return argv[i]
	end
	local ok, err = pcall(function()
		local rest = false -- after "--": arguments only
		while i <= #argv do
			local a = argv[i]
			if not rest and a:match("^%-[lvk][lvk]+$") then
				-- flags without values given together, as getopt takes them (-lv, -kk): one each
				table.remove(argv, i)
				for j = #a, 2, -1 do table.insert(argv, i, "-" .. a:sub(j, j)) end
				a = argv[i]
			end
			if rest or a:sub(1, 1) ~= "-" or a == "-" then
				if o.source or o.file then o.args[#o.args + 1] = a else o.file = a end
			elseif a == "--" then
				rest = true
			elseif a == "-e" then
				o.source, o.name = value(a), "stdin"
			elseif a == "-d" then
				o.seconds = tonumber(value(a))
				if not o.seconds or o.seconds < 0 then error({ usage = "-d needs a non-negative number of seconds" }) end
			elseif a == "-c" then
				o.cmd = value(a)
			elseif a == "-p" then
				o.pid = tonumber(value(a))
				if not o.pid or o.pid <= 0 or o.pid ~= math.floor(o.pid) then error({ usage = "-p needs a process id" }) end
			elseif a == "-o" then
				o.output = value(a)
			elseif a == "-f" then
				o.format = value(a)
				if o.format ~= "text" and o.format ~= "json" then error({ usage = "-f takes text or json" }) end
			elseif a == "-l" then
				o.list = true
			elseif a == "-v" then
				o.verbose = true
			elseif a == "-k" then
				o.helper_check = (o.helper_check or 0) + 1
				if o.helper_check > 2 then error({ usage = "-k is given at most twice (-kk)" }) end
			elseif a == "--unsafe" then
				o.unsafe = true
			elseif a == "--dump" then
				o.dump = true
			elseif a == "-h" or a == "--help" then
				o.help = true
			else
				error({ usage = "unknown option '" .. a .. "'" })
			end
			i = i + 1
		end
	end)
	if not ok then
		if type(err) == "table" then return nil, err.usage end
		error(err, 0)
	end
	if o.list then -- the positional argument is the pattern
		o.pattern, o.file = o.file, nil
	elseif not o.help and not o.source and not o.file then
		return nil, "no program: give -e 'PROGRAM' or a file"
	end
	return o
end

---------------------------------------------------------------------------------------------------
-- -c CMD: the command starts stopped on a FIFO, its pid known, and runs once the probes are in.

local function sh_quote(s)
	return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function proc_state(pid)
	local f = io.open("/proc/" .. pid .. "/stat", "r")
	if not f then return nil end
	local stat = f:read("*a") or ""
	f:close()
	return stat:match("^%d+ %b() (%a)")
end

local function stopped(pid)
	return proc_state(pid) == "T"
end

local function alive(pid)
	local f = io.open("/proc/" .. pid .. "/stat", "r")
	if not f then return false end
	local stat = f:read("*a") or ""
	f:close()
	return not stat:match("^%d+ %b() [ZX]")
end

local Child = {}
Child.__index = Child

--- Starts CMD (shell words) held before its first instruction: child.pid is known at once, the
-- command runs after child:release(); child:wait([seconds]) waits for it to end, child:kill()
-- ends it. The shell holds by stopping itself (SIGSTOP): no system call a trace of the pid could
-- see (a read of a pipe would be) happens between the release and the exec of CMD.
function M.spawn(cmd)
	local pidfile = os.tmpname()
	-- exec: the command keeps the pid written (bpftrace runs -c's command without a shell too,
	-- so `sh -c '...'` is how to trace a pipeline)
	local script = string.format("echo $$ > %s; kill -STOP $$; exec %s", sh_quote(pidfile), cmd)
	-- fd 3 carries our stdin past the rule that gives background jobs /dev/null
	os.execute("exec 3<&0; sh -c " .. sh_quote(script) .. " 0<&3 3<&- &")
	local pid
	for _ = 1, 1000 do
		local s = read_file(pidfile)
		pid = s and tonumber(s:match("%d+"))
		if pid and stopped(pid) then break end
		os.execute("sleep 0.01")
	end
	os.remove(pidfile)
	if not pid or not stopped(pid) then return nil, "-c: the command did not start" end
	return setmetatable({ pid = pid }, Child)
end

function Child:release()
	os.execute("kill -CONT " .. self.pid)
end

function Child:alive()
	return alive(self.pid)
end

-- Waits until the process is gone (default: 10 s); whether it is.
function Child:wait(seconds)
	for _ = 1, math.floor((seconds or 10) * 100) do
		if not alive(self.pid) then return true end
		os.execute("sleep 0.01")
	end
	return not alive(self.pid)
end

function Child:kill()
	if alive(self.pid) then os.execute("kill " .. self.pid .. " 2>/dev/null") end
end

---------------------------------------------------------------------------------------------------

-- A bpftrace environment variable luabpf honours (BPFTRACE_MAP_KEYS_MAX).
local function env_number(name)
	local v = os.getenv(name)
	if v == nil or v == "" then return nil end
	local n = tonumber(v)
	if not n or n < 1 or n ~= math.floor(n) then
		error(string.format("%s: a positive integer expected, got '%s'", name, v), 0)
	end
	return n
end

local function load_source(o)
	if o.source then return o.source, o.name end
	local s, err = read_file(o.file)
	if not s then return nil, "cannot read " .. tostring(err) end
	return s, o.file
end

-- -l [PATTERN] (-lv): bpftrace's listing (bpf.trace.list); warnings such as an unreadable
-- available_filter_functions on stderr, as bpftrace prints them.
local function list_probes(pattern, verbose)
	local lines, warnings = require("bpf.trace.list").lines(pattern, verbose)
	if not lines then return fail(1, "ERROR: " .. warnings) end
	for _, w in ipairs(warnings) do io.stderr:write(w, "\n") end
	if #lines > 0 then io.stdout:write(table.concat(lines, "\n"), "\n") end
	return 0
end

--- Runs `luabpf trace` with argv (the arguments after "trace"); returns the exit status.
function M.main(argv)
	local o, err = M.parse(argv or {})
	if not o then return fail(2, "luabpf trace: " .. err .. "\n" .. USAGE) end
	if o.help then
		io.stdout:write(USAGE)
		return 0
	end
	if o.list then return list_probes(o.pattern, o.verbose) end
	local source, name = load_source(o)
	if not source then return fail(1, "luabpf trace: " .. name) end
	local bpf = require "bpf"
	local trace = bpf.trace
	if o.dump then
		local plan, cerr = trace.compile(source, { name = name, args = o.args, cpid = 0,
			helper_check = o.helper_check })
		if not plan then return fail(1, cerr) end
		trace.warn(plan)
		io.stdout:write(plan.text, plan.text:sub(-1) == "\n" and "" or "\n")
		return 0
	end
	local envok, max_entries = pcall(env_number, "BPFTRACE_MAP_KEYS_MAX")
	if not envok then return fail(2, "luabpf trace: " .. tostring(max_entries)) end
	local child
	if o.cmd then
		child, err = M.spawn(o.cmd)
		if not child then return fail(1, "luabpf trace: " .. err) end
	end
	local output = io.stdout
	if o.output then
		local f, oerr = io.open(o.output, "w")
		if not f then
			if child then child:kill(); child:release() end
			return fail(1, "luabpf trace: -o: " .. tostring(oerr))
		end
		output = f
	end
	-- "Attaching N probes..." once compiled, before anything loads (BEGIN's output follows it)
	local function started(plan)
		local n = trace.probe_count(plan)
		if o.format == "json" then
			output:write(require("bpf.trace.format_json").attached(n))
		else
			output:write(string.format("Attaching %d probe%s...\n", n, n == 1 and "" or "s"))
		end
		output:flush()
	end
	local ok0, t, terr = pcall(trace, source, { name = name, args = o.args, cpid = child and child.pid,
		max_entries = max_entries,
		pid = o.pid, output = output, format = o.format, verbose = o.verbose, on_start = started,
		helper_check = o.helper_check })
	if not ok0 then t, terr = nil, "luabpf trace: " .. tostring(t) end
	if not t then
		if child then child:kill(); child:release() end
		return fail(1, terr)
	end
	local watched = (child and child.pid) or o.pid
	if watched then
		t.stop_when = function() return not alive(watched) end
	end
	if child then child:release() end
	local ok, rerr = pcall(t.run, t, o.seconds)
	t:close()
	if output ~= io.stdout then output:close() end
	if child then child:kill() end
	if not ok then return fail(1, "luabpf trace: " .. tostring(rerr)) end
	return 0
end

return M
