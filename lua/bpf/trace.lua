--- bpf.trace: bpftrace programs from Lua, compiled to BPF in-process (no clang, no LLVM).
--
--   local t = assert(bpf.trace("tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }"))
--   t:run(5)                 -- printf lines as they come, then the maps as bpftrace prints them
--   t:read("@")              -- { bash = 12, ... }
--   t:close()
--
-- bpf.trace(source [, opts]) compiles (bpf.trace.compile), loads and attaches (bpf.trace.load)
-- and returns a handle, or nil, message[, errno]. The compiler's plan and the loader's state are
-- described in lua/bpf/trace/PLAN.md; this file turns the ring buffer's records and the maps into
-- bpftrace's output (bpf.trace.format) and drives the run (exit(), a duration, Ctrl-C).
local bpf = require "bpf"
local format = require "bpf.trace.format"
local values = require "bpf.trace.values"
local int64 = require "bpf.trace.int64"
local diag = require "bpf.trace.diag"
local multi = require "bpf.trace.multi"

-- User symbols are read only by programs that print ustack or usym(): their module is loaded
-- then (values.lua), and its caches are dropped here only once it exists.
local function forget_user_symbols()
	local usym = package.loaded["bpf.trace.usym"]
	if usym then usym.forget() end
end
local json -- bpf.trace.format_json, loaded for opts.format == "json"

local M = {}

local Trace = {}
Trace.__index = Trace
Trace.__name = "bpf.trace"

local function check_opts(opts)
	if opts == nil then return {} end
	if type(opts) ~= "table" then
		error("bpf.trace: opts must be a table, got " .. type(opts), 3)
	end
	if opts.on_printf ~= nil and type(opts.on_printf) ~= "function" then
		error("bpf.trace: opts.on_printf must be a function", 3)
	end
	if opts.output ~= nil and (type(opts.output) ~= "userdata" and type(opts.output) ~= "table") then
		error("bpf.trace: opts.output must be a file (io.open, io.stdout)", 3)
	end
	if opts.on_start ~= nil and type(opts.on_start) ~= "function" then
		error("bpf.trace: opts.on_start must be a function", 3)
	end
	if opts.on_warning ~= nil and type(opts.on_warning) ~= "function" then
		error("bpf.trace: opts.on_warning must be a function", 3)
	end
	if opts.format ~= nil and opts.format ~= "text" and opts.format ~= "json" then
		error("bpf.trace: opts.format must be \"text\" or \"json\", got " .. tostring(opts.format), 3)
	end
	return opts
end

local function compile_opts(opts)
	return { name = opts.name, cpid = opts.cpid, args = opts.args, strlen = opts.strlen,
		helper_check = opts.helper_check,
		max_entries = opts.max_entries, btf = opts.btf, tracefs = opts.tracefs,
		kprobe_multi = opts.kprobe_multi }
end

--- Compiles source into the plan (programs as text, maps, events) without loading anything.
function M.compile(source, opts)
	return require("bpf.trace.compile")(source, opts)
end

--- The compiler's warnings (bpftrace's text, e.g. signed division) to on_warning(text), or to
-- stderr as bpftrace prints them.
function M.warn(plan, on_warning)
	for _, w in ipairs(plan.warnings or {}) do
		if on_warning then on_warning(w) else io.stderr:write(w, "\n") end
	end
end

--- The number of probes bpftrace would say it attaches ("Attaching N probes..."): the plan's
-- programs but the BEGIN the compiler adds to start `elapsed`.
function M.probe_count(plan)
	local n = 0
	for _, p in ipairs(plan.programs) do
		if not p.internal then n = n + multi.probe_count(plan, p) end
	end
	return n
end

local function map_names(plan, state)
	local maps = {}
	for _, def in ipairs(plan.maps) do
		local h = state.maps[def.name]
		maps[def.name] = h
		local bare = def.name:sub(2)
		if bare ~= "" then maps[bare] = h end
	end
	return maps
end

--- bpf.trace(source [, opts]): compile, load, attach; a handle or nil, message[, errno].
local function new(source, opts)
	if type(source) ~= "string" then
		error("bpf.trace: the program must be a string, got " .. type(source), 2)
	end
	opts = check_opts(opts)
	if opts.format == "json" then json = json or require "bpf.trace.format_json" end
	local plan, err = M.compile(source, compile_opts(opts))
	if not plan then return nil, err end
	M.warn(plan, opts.on_warning)
	if opts.on_start then opts.on_start(plan) end
	local lopts = { attach = opts.attach, on_warning = opts.on_warning }
	if opts.verbose then
		-- bpftrace -v: each program's id and verifier log on the output, "Attaching PROBE" on stderr
		local out = opts.output or io.stdout
		lopts.log_level = 1
		lopts.on_loaded = function(p, prog)
			if p.internal then return end
			out:write(string.format("\nProgram ID: %s\n\nThe verifier log: \n%s\n", tostring((prog:info() or {}).id),
				tostring(prog.log or "")))
			out:flush()
		end
		lopts.on_attach = function(p)
			if not p.internal then io.stderr:write("Attaching ", p.probe, "\n") end
		end
	end
	local state, lerr, errno = require("bpf.trace.load")(plan, lopts)
	if not state then return nil, lerr, errno end
	local reader, rerr, rerrno = state.ringbuf:reader{ raw = true }
	if not reader then
		state:close()
		return nil, "bpf.trace: ring buffer reader: " .. tostring(rerr), rerrno
	end
	state.reader = reader -- closed by state:close() after the links, before the maps
	local t = setmetatable({
		plan = plan, state = state, reader = reader,
		maps = map_names(plan, state),
		on_printf = opts.on_printf, output = opts.output,
		print_maps = opts.print ~= false,
		json = opts.format == "json",
		ctx = { stacks = state.stacks },
		status = "running",
	}, Trace)
	if newproxy then -- LuaJIT: tables have no __gc; a proxy userdata carries it for the handle
		local proxy = newproxy(true)
		getmetatable(proxy).__gc = function() t:close() end
		t.gc_proxy = proxy
	end
	return t
end

setmetatable(M, { __call = function(_, source, opts) return new(source, opts) end })

---------------------------------------------------------------------------------------------------
-- Output

local function emit(t, text)
	if text == "" then return end
	if t.on_printf then
		t.on_printf(text)
	else
		(t.output or io.stdout):write(text)
		t.unflushed = true
	end
	t.emitted = (t.emitted or 0) + 1 -- counted once out (Ctrl-C: see dispatch_whole)
end

-- Output is flushed once per batch of records (a reader of a pipe sees each batch at once).
local function flush(t)
	if t.unflushed then
		t.unflushed = false;
		(t.output or io.stdout):flush()
	end
end

local function check_open(t)
	if t.status == "closed" then error("bpf.trace: the trace is closed", 3) end
end

local function map_def(t, name)
	if type(name) ~= "string" then
		error("bpf.trace: a map name expected (\"@x\" or \"x\"), got " .. type(name), 3)
	end
	local full = name:sub(1, 1) == "@" and name or "@" .. name
	local def = t.plan.maps[full]
	if not def then
		for _, d in ipairs(t.plan.maps) do
			if d.name == full then def = d end
		end
	end
	if not def then
		local names = {}
		for _, d in ipairs(t.plan.maps) do names[#names + 1] = d.name end
		error(string.format("bpf.trace: no map %s in this program (maps: %s)", full,
			#names > 0 and table.concat(names, ", ") or "none"), 3)
	end
	return def
end

local function map_data(t, def)
	return values.map_data(def, t.state.maps[def.name], t.ctx)
end

--- bpftrace's text of one map (name given) or of every map in name order (-f json's lines for
-- a handle made with opts.format = "json").
function Trace:format(name, opts)
	check_open(self)
	forget_user_symbols()
	local f = self.json and json or format
	if name ~= nil then
		return f.map(map_data(self, map_def(self, name)), opts)
	end
	local list = {}
	for _, def in ipairs(self.plan.maps) do list[#list + 1] = map_data(self, def) end
	return f.maps(list)
end

--- Prints format(name) to the trace's output.
function Trace:print(name)
	emit(self, self:format(name))
	flush(self)
end

---------------------------------------------------------------------------------------------------
-- Plain values: t:read

local function plain_hist(def, slots)
	local out = {}
	local idx = {}
	for s in pairs(slots) do idx[#idx + 1] = s end
	table.sort(idx)
	for _, s in ipairs(idx) do
		local lo, hi
		if def.kind == "hist" then
			if s == 0 then hi = -1 elseif s == 1 then lo, hi = 0, 0 else lo, hi = 2 ^ (s - 2), 2 ^ (s - 1) - 1 end
		else
			local l = def.lhist
			local n = math.floor((l.max - l.min) / l.step)
			if s == 0 then hi = l.min - 1 elseif s == n + 1 then lo = l.max
			else lo = l.min + (s - 1) * l.step; hi = lo + l.step - 1 end
		end
		out[#out + 1] = { min = lo, max = hi, count = slots[s] }
	end
	return out
end

local function plain_value(def, v)
	if def.kind == "avg" then
		if v.count == 0 then return 0 end
		return int64.div(v.total, v.count)
	elseif def.kind == "stats" then
		return { count = v.count, total = v.total,
			average = v.count == 0 and 0 or int64.div(v.total, v.count) }
	elseif def.kind == "hist" or def.kind == "lhist" then
		return plain_hist(def, v)
	end
	return v
end

local function plain_key(k)
	if type(k) == "table" then return table.concat(k, "\n") end -- a stack: its frames, one a line
	return k
end

--- Plain Lua values of a map: a number (a table for stats and histograms) for a map without
-- keys, { [key] = value } for one key, { [k1] = { [k2] = value } } for two (and so on).
function Trace:read(name)
	check_open(self)
	local def = map_def(self, name)
	local data = map_data(self, def)
	if #def.keys == 0 then
		local e = data.entries[1]
		if not e then
			if def.kind == "hist" or def.kind == "lhist" then return {} end
			return def.kind == "stats" and { count = 0, total = 0, average = 0 } or 0
		end
		return plain_value(def, e.value)
	end
	local out = {}
	for _, e in ipairs(data.entries) do
		local t = out
		for i = 1, #e.key - 1 do
			local k = plain_key(e.key[i])
			t[k] = t[k] or {}
			t = t[k]
		end
		t[plain_key(e.key[#e.key])] = plain_value(def, e.value)
	end
	return out
end

---------------------------------------------------------------------------------------------------
-- Events

local handlers = {}

local function event_args(t, ev, bytes)
	local args = {}
	for i, a in ipairs(ev.args or {}) do
		local v = values.decode(bytes, a.offset, a, t.ctx)
		if a.type == "kstack" or a.type == "ustack" then v = format.stack(v, true) end
		args[i] = v
	end
	return args
end

-- A message of the program (printf, time, join): the text, or its JSON line.
local function message(t, kind, text)
	if t.json then
		emit(t, json.message(kind, text))
	else
		emit(t, text)
	end
end

function handlers.printf(t, ev, bytes)
	message(t, "printf", format.printf(ev.fmt, event_args(t, ev, bytes)))
end

function handlers.print_map(t, ev)
	local top, div = ev.top or 0, ev.div or 0
	local f = t.json and json or format
	emit(t, f.map(map_data(t, map_def(t, ev.map)), { top = top, div = div > 0 and div or nil }))
end

function handlers.print_value(t, ev, bytes)
	local a = ev.args[1]
	local v = event_args(t, ev, bytes)[1]
	if a.type == "int" then
		local sign, digits = int64.signed_parts(v)
		if a.signed == false then sign, digits = "", int64.digits(v, 10) end
		v = sign .. digits
	end
	if t.json then
		emit(t, json.value(tostring(v), a.type ~= "int"))
	else
		emit(t, tostring(v) .. "\n")
	end
end

function handlers.clear(t, ev)
	t.state.maps[ev.map]:clear()
end

function handlers.zero(t, ev)
	local def = map_def(t, ev.map)
	local h = t.state.maps[ev.map]
	local zero = values.zero_value(def)
	for _, k in ipairs(h:keys{ raw = true }) do
		h:update(k, zero, "exist", { raw = true })
	end
end

function handlers.join(t, ev, bytes)
	local n = tonumber(values.int(bytes, 8, false))
	local parts = {}
	for i = 0, math.min(n, ev.max_args or n) - 1 do
		parts[#parts + 1] = values.decode(bytes, 16 + i * ev.arg_size, { type = "str", size = ev.arg_size })
	end
	local text = table.concat(parts, ev.sep or " ")
	if t.json then message(t, "join", text) else emit(t, text .. "\n") end
end

function handlers.time(t, ev)
	message(t, "time", format.time(ev.fmt))
end

-- glibc's strerror() texts of the errors helpers return (bpftrace prints them).
local ERRNO_TEXT = { [1] = "Operation not permitted", [2] = "No such file or directory",
	[3] = "No such process", [4] = "Interrupted system call", [7] = "Argument list too long",
	[9] = "Bad file descriptor", [11] = "Resource temporarily unavailable",
	[12] = "Cannot allocate memory", [13] = "Permission denied", [14] = "Bad address",
	[16] = "Device or resource busy", [17] = "File exists", [22] = "Invalid argument",
	[28] = "No space left on device", [34] = "Numerical result out of range",
	[95] = "Operation not supported", [524] = "Unknown error 524" }

-- -k: a helper failed (bpftrace's "stdin:1:5-9: WARNING: Failed to map_update_elem: ...").
function handlers.helper_error(t, ev, bytes)
	local ret = int64.tointeger(int64.fit(values.int(bytes, 8, true), 32, true)) -- the helper's int
	if t.json then
		local line, col = 0, 0
		if ev.pos then line, col = diag.line_col(t.plan.source, ev.pos) end
		emit(t, string.format('{"type": "helper_error", "helper": "%s", "retcode": %d, "line": %d, "col": %d}\n',
			ev.helper, ret, line, col))
		return
	end
	local why = ret < 0 and string.format("%s (%d)", ERRNO_TEXT[-ret] or ("Unknown error " .. -ret), ret)
		or tostring(ret)
	emit(t, diag.format_warning(t.plan.source, t.plan.name, ev.pos, ev.epos,
		"Failed to " .. ev.helper .. ": " .. why) .. "\n")
end

function handlers.exit(t)
	if t.status == "running" then t.status = "exited" end -- in END, exit() changes nothing
end

local function dispatch(t, bytes)
	-- records after exit() are dropped, as bpftrace does, until END runs ("ending")
	if t.status ~= "running" and t.status ~= "ending" then return end
	local id = tonumber(values.int(bytes, 0, false))
	local ev = t.plan.events[id]
	if not ev then
		error(string.format("bpf.trace: unknown event id %d in the ring buffer", id))
	end
	local h = handlers[ev.kind] or error("bpf.trace: no handler for event kind " .. tostring(ev.kind))
	h(t, ev, bytes)
end

-- Records the programs could not send so far (the ring buffer was full): the lost map's count.
local function lost_count(t)
	local h = t.state.lost
	if not h then return 0 end
	local bytes = h:lookup(0, { raw = true })
	return bytes and tonumber(values.int(bytes, 0, false)) or 0
end

-- "Lost N events" for the records lost since the last report, where bpftrace 0.17 prints it
-- (its perf buffers report losses as they are read): in the output, between the records.
local function report_lost(t)
	local n = lost_count(t)
	local seen = t.lost_reported or 0
	if n <= seen then return end
	t.lost_reported = n
	if t.json then
		emit(t, json.lost_events(n - seen))
	else
		emit(t, string.format("Lost %d events\n", n - seen))
	end
end

--- How many records the programs could not send because the ring buffer was full (printf
-- lines, print(), exit(), ...): the events bpftrace reports as "Lost N events".
function Trace:lost()
	check_open(self)
	return lost_count(self)
end

local function is_interrupt(err)
	return type(err) == "string" and err:find("interrupted!", 1, true) ~= nil
end

-- One record, handled whole even when Ctrl-C lands in the middle (the interpreter raises
-- "interrupted!" at the next Lua instruction, here often inside a handler, and the record is
-- gone from the ring buffer by then): the handler runs again unless its output went out, and
-- the interruption is raised again once the batch is done.
local function dispatch_whole(t, bytes)
	local before = t.emitted
	local ok, err = pcall(dispatch, t, bytes)
	if ok then return end
	if not is_interrupt(err) then error(err, 0) end
	t.interrupted = true
	if t.emitted == before then dispatch(t, bytes) end
end

--- Waits up to ms (default 0: no wait) for records and handles them: printf lines, print(),
-- time(), clear/zero, exit(). Returns the number of records handled, and false once exit() ran.
function Trace:poll(ms)
	check_open(self)
	if ms ~= nil and type(ms) ~= "number" then error("bpf.trace: poll timeout must be a number of ms", 2) end
	forget_user_symbols() -- processes map and unmap: their mappings are read again for each batch
	local n, err, errno = self.reader:poll(ms or 0, function(bytes) dispatch_whole(self, bytes) end)
	if n and n > 0 or (ms or 0) > 0 then report_lost(self) end
	flush(self)
	if self.interrupted then
		self.interrupted = nil
		error("interrupted!", 0)
	end
	if not n then return nil, err, errno end
	return n, self.status == "running"
end

--- The ring buffer's descriptor: readable while records wait (luv, nginx); with events() and
-- timeout() the handle itself can be given to cqueues.poll.
function Trace:pollfd()
	check_open(self)
	return self.reader:fd()
end

function Trace:events() return "r" end

function Trace:timeout() return nil end


-- Seconds on a monotonic clock (/proc/uptime: 10 ms steps, enough for a duration in seconds).
local function clock()
	local f = io.open("/proc/uptime", "r")
	if not f then return os.time() end
	local s = f:read("*n")
	f:close()
	return s
end

local function uses_trampolines(plan)
	for _, p in ipairs(plan.programs) do
		if p.kind == "fentry" or p.kind == "fexit" then return true end
	end
	return false
end

--- Stops the trace: detaches, runs END (its printf lines come out), prints the maps unless
-- opts.print == false. Returns why it stopped.
function Trace:finish(reason)
	check_open(self)
	if self.finished then return self.finished end
	self.finished = reason or "finished"
	local handle = function(bytes) dispatch(self, bytes) end
	if self.plan.stacks and uses_trampolines(self.plan) then
		-- kstack frames of kfunc/kretfunc probes run through BPF trampolines, whose symbols
		-- leave /proc/kallsyms with the links: the stacks printed below are named from a table
		-- read now, while they are attached (bpf.ksym reads it again after each attach)
		pcall(bpf.ksym, 1)
	end
	if self.state.detach then self.state:detach() end -- no probe fires from here on
	self.reader:poll(0, handle) -- what came before: handled if still running, else dropped
	report_lost(self)
	local ok, err = self.state:finish() -- END (the detach is done)
	self.status = "ending"
	self.reader:poll(0, handle) -- END's output
	report_lost(self)
	if not ok and err then emit(self, tostring(err) .. "\n") end
	self.status = "exited"
	if self.print_maps then
		emit(self, "\n\n" .. self:format())
	end
	flush(self)
	return self.finished
end

--- Runs until exit(), `seconds` (if given) or Ctrl-C, delivering the output as it comes; then
-- finishes (END, the maps). Returns "exit", "timeout" or "interrupted".
function Trace:run(seconds)
	check_open(self)
	if seconds ~= nil and (type(seconds) ~= "number" or seconds < 0) then
		error("bpf.trace: run(seconds): a non-negative number expected", 2)
	end
	local deadline = seconds and clock() + seconds
	local reason
	local ok, err = pcall(function()
		while self.status == "running" do
			local wait = 100
			if deadline then
				local left = deadline - clock()
				if left <= 0 then reason = "timeout"; return end
				wait = math.max(1, math.min(wait, math.floor(left * 1000)))
			end
			if self.stop_when and self.stop_when() then reason = "done"; return end
			local n, perr = self:poll(wait)
			if not n then error(perr, 0) end
		end
		reason = "exit"
	end)
	if not ok then
		if not is_interrupt(err) then
			self:finish("error")
			error(err, 0)
		end
		reason = "interrupted"
	end
	return self:finish(reason)
end

---------------------------------------------------------------------------------------------------
-- Life cycle

--- Detaches and closes everything (without END or printing when the trace never finished).
function Trace:close()
	if self.status == "closed" then return end
	self.status = "closed"
	if self.state then self.state:close() end
	if self.reader then self.reader:close() end
end

Trace.__close = Trace.close
Trace.__gc = Trace.close

function Trace:__tostring()
	if self.status == "closed" then return "bpf.trace(closed)" end
	local maps = {}
	for _, d in ipairs(self.plan.maps) do maps[#maps + 1] = d.name .. " " .. d.kind end
	local n = M.probe_count(self.plan)
	return string.format("bpf.trace(%d probe%s, maps: %s; %s)", n, n == 1 and "" or "s", #maps > 0 and table.concat(maps, ", ") or "none",
		self.status)
end

--- Prints the handle's methods (bpf.help).
function Trace:help()
	return require("bpf.help")(self)
end

-- Registered like the C handle classes, so that bpf.help and the API reference check find it.
debug.getregistry()["bpf.trace"] = Trace

return M
