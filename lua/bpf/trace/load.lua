-- The trace loader: creates a plan's maps, loads its programs (verifier refusals mapped back
-- to the bpftrace source line through line info), runs BEGIN, attaches the rest; later detaches
-- and runs END. See PLAN.md ("The loader").
local bpf = require "bpf"

local State = {}
State.__index = State

local function create_map(spec)
	return bpf.map_create({
		type = spec.map_type, name = spec.bpf_name, key_size = spec.key_size,
		value_size = spec.value_size, max_entries = spec.max_entries,
		key_type = spec.key_type, value_type = spec.value_type,
	})
end

-- bpf.asm load options for a plan program.
local function load_opts(p, plan_multi)
	local a, k = p.attach, p.kind
	local o = { name = p.bpf_name }
	if a.funcs then -- a folded wildcard: one kprobe.multi link, else a kprobe per function
		o.section = (plan_multi and (k .. ".multi")) or (k .. "/" .. a.funcs[1])
		return o
	end
	if k == "begin" or k == "end" then o.type = "raw_tracepoint"
	elseif k == "tracepoint" then o.section = "tracepoint/" .. a.category .. "/" .. a.name
	elseif k == "rawtracepoint" then o.section = "raw_tracepoint/" .. a.name
	elseif k == "kprobe" then o.section = "kprobe/" .. a.func
	elseif k == "kretprobe" then o.section = "kretprobe/" .. a.func
	elseif k == "uprobe" or k == "uretprobe" or k == "usdt" then o.type = "kprobe"
	elseif k == "fentry" then o.section = "fentry/" .. a.func
	elseif k == "fexit" then o.section = "fexit/" .. a.func
	elseif k == "interval" or k == "profile" then o.type = "perf_event"
	end
	return o
end

-- A folded wildcard kprobe attached: one kprobe.multi link, or one link per function (a
-- function the kernel refuses is skipped with a warning, as bpftrace does). Returns the links.
local function attach_funcs(prog, p, plan_multi, warn)
	local a, ret = p.attach, p.kind == "kretprobe"
	if plan_multi then
		local link, err, errno = prog:attach_kprobe_multi(a.funcs, { retprobe = ret })
		if not link then return nil, err, errno end
		return { link }
	end
	local links, failed = {}, {}
	for _, f in ipairs(a.funcs) do
		local link, err, errno
		if ret then link, err, errno = prog:attach_kretprobe(f) else link, err, errno = prog:attach_kprobe(f) end
		if link then links[#links + 1] = link
		else failed[#failed + 1] = { f, err, errno } end
	end
	if #links == 0 then return nil, failed[1][2], failed[1][3] end
	for _, e in ipairs(failed) do
		warn(string.format("WARNING: could not attach probe %s:%s, skipping: %s", p.kind, e[1], tostring(e[2])))
	end
	return links
end

local function attach(prog, p)
	local a, k = p.attach, p.kind
	if k == "tracepoint" then return prog:attach_tracepoint(a.category, a.name)
	elseif k == "rawtracepoint" then return prog:attach_raw_tracepoint(a.name)
	elseif k == "kprobe" then return prog:attach_kprobe(a.func, { offset = a.offset })
	elseif k == "kretprobe" then return prog:attach_kretprobe(a.func)
	elseif k == "uprobe" or k == "uretprobe" then
		local fn = k == "uprobe" and prog.attach_uprobe or prog.attach_uretprobe
		if a.symbol then
			return fn(prog, a.binary, a.symbol, a.offset ~= 0 and { offset = a.offset } or nil)
		end
		return fn(prog, a.binary, nil, { offset = a.offset })
	elseif k == "usdt" then return prog:attach_usdt(a.binary, a.provider, a.name)
	elseif k == "fentry" or k == "fexit" then return prog:attach_trace()
	elseif k == "interval" then
		return prog:attach_perf_event({ type = "software", config = "cpu-clock", period = a.period_ns, cpu = 0 })
	elseif k == "profile" then
		if a.freq then return prog:attach_perf_event({ type = "software", config = "cpu-clock", freq = a.freq }) end
		return prog:attach_perf_event({ type = "software", config = "cpu-clock", period = a.period_ns })
	end
	return nil, "cannot attach a " .. tostring(k) .. " probe"
end

-- "stdin:3: ERROR: ..." for a verifier refusal whose log names a line of the source.
local function verifier_message(plan, p, msg)
	local file = plan.name or "stdin"
	local line
	for l in msg:gmatch("@ " .. file:gsub("%p", "%%%0") .. ":(%d+)") do line = tonumber(l) end
	local src_line
	if line then
		local n = 0
		for text in (plan.source .. "\n"):gmatch("([^\n]*)\n") do
			n = n + 1
			if n == line then src_line = text; break end
		end
	end
	local head = string.format("%s:%s: ERROR: the kernel refused probe '%s'%s", file,
		line and tostring(line) or tostring(p.line or "?"), p.probe,
		line and (" at line " .. line) or "")
	if src_line then head = head .. "\n" .. src_line end
	return head .. "\n" .. msg
end

-- Detaches and closes every link (its fds go now, not at garbage collection).
function State:detach()
	for i, l in pairs(self.links) do
		pcall(l.detach, l)
		l:close()
		self.links[i] = nil
	end
end

-- Detaches every probe, then runs END programs (once).
function State:finish()
	if self.finished then return true end
	self.finished = true
	self:detach()
	for i, p in ipairs(self.plan.programs) do
		if p.kind == "end" then
			local ok, err = self.programs[i]:test_run({ ["repeat"] = 0 })
			if not ok then return nil, "END: " .. tostring(err) end
		end
	end
	return true
end

-- Frees everything now, in order: links (nothing fires any more), the reader of the ring
-- buffer, programs (they hold the maps), then maps. Twice is harmless.
function State:close()
	if self.closed then return end
	self.closed = true
	self:detach()
	if self.reader then self.reader:close() end
	for _, p in pairs(self.programs) do p:close() end
	for _, m in pairs(self.all_maps) do m:close() end
end
State.__gc = State.close
State.__close = State.close

function State:__tostring()
	return string.format("bpf.trace state: %d programs, %d maps", #self.plan.programs, #self.plan.maps)
end

local function load(plan, opts)
	opts = opts or {}
	local self = setmetatable({ plan = plan, maps = {}, programs = {}, links = {}, all_maps = {} }, State)
	local function fail(msg, errno)
		self:close()
		return nil, msg, errno
	end
	local refs = plan.refs
	for _, m in ipairs(plan.maps) do
		local h, err, errno = create_map(m)
		if not h then return fail("map " .. m.name .. ": " .. tostring(err), errno) end
		self.maps[m.name] = h
		if m.name ~= "@" then self.maps[m.name:sub(2)] = h end
		self.all_maps[#self.all_maps + 1] = h
		refs[m.name].handle = h
	end
	local rb, err, errno = bpf.map_create({ type = "ringbuf", name = plan.ringbuf.bpf_name,
		max_entries = plan.ringbuf.size })
	if not rb then return fail("ring buffer: " .. tostring(err), errno) end
	self.ringbuf = rb
	self.all_maps[#self.all_maps + 1] = rb
	refs.ringbuf.handle = rb
	if plan.stacks then
		local st, e2, n2 = bpf.map_create({ type = "stack_trace", name = plan.stacks.bpf_name,
			key_size = 4, value_size = 8 * plan.stacks.max_depth, max_entries = plan.stacks.max_entries })
		if not st then return fail("stack map: " .. tostring(e2), n2) end
		self.stacks = st
		self.all_maps[#self.all_maps + 1] = st
		refs.stacks.handle = st
	end
	if plan.elapsed then
		local el, e3, n3 = create_map(plan.elapsed)
		if not el then return fail("elapsed map: " .. tostring(e3), n3) end
		self.all_maps[#self.all_maps + 1] = el
		refs.elapsed.handle = el
	end
	if plan.lost then
		local lost, e4, n4 = create_map(plan.lost)
		if not lost then return fail("lost-events map: " .. tostring(e4), n4) end
		self.all_maps[#self.all_maps + 1] = lost
		self.lost = lost
		refs.lost.handle = lost
	end
	for i, p in ipairs(plan.programs) do
		local lo = load_opts(p, plan.kprobe_multi)
		lo.log_level = opts.log_level
		local prog, lerr, lerrno = p.asm:load(lo)
		if not prog then
			return fail(verifier_message(plan, p, tostring(lerr)), lerrno)
		end
		self.programs[i] = prog
		if opts.on_loaded then opts.on_loaded(p, prog) end
	end
	if opts.attach == false then return self end
	local warn = opts.on_warning or function(text) io.stderr:write(text, "\n") end
	if opts.begin ~= false then
		for i, p in ipairs(plan.programs) do
			if p.kind == "begin" then
				if opts.on_attach then opts.on_attach(p) end
				local ok, rerr, rerrno = self.programs[i]:test_run({ ["repeat"] = 0 })
				if not ok then return fail("BEGIN: " .. tostring(rerr), rerrno) end
			end
		end
	end
	for i, p in ipairs(plan.programs) do
		if p.kind ~= "begin" and p.kind ~= "end" then
			if opts.on_attach then opts.on_attach(p) end
			local link, aerr, aerrno
			if p.attach.funcs then
				link, aerr, aerrno = attach_funcs(self.programs[i], p, plan.kprobe_multi, warn)
			else
				link, aerr, aerrno = attach(self.programs[i], p)
			end
			if not link then
				return fail(string.format("%s:%s: ERROR: cannot attach probe '%s': %s", plan.name or "stdin",
					tostring(p.line or "?"), p.probe, tostring(aerr)), aerrno)
			end
			if p.attach.funcs then
				for j, l in ipairs(link) do self.links[i .. "." .. j] = l end
			else
				self.links[i] = link
			end
		end
	end
	if opts.on_attach then -- END runs at the end; bpftrace names it last
		for _, p in ipairs(plan.programs) do
			if p.kind == "end" then opts.on_attach(p) end
		end
	end
	return self
end

return load
