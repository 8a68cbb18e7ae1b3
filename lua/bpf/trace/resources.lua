-- Resource pass of the trace compiler: lays out every map (BPF map type and name, key and value
-- layout, the types the loader creates it with) and event record, and names each program,
-- filling the plan that PLAN.md describes.
local types = require "bpf.trace.types"

local M = {}

local MAX_ENTRIES = 4096

-- Per `used` set: the last suffix number taken for each base's first 15 characters (the names
-- tried depend on those only; every lower number is taken too: the set only grows), so that n
-- programs whose names share 15 characters are named in n steps, not n * n / 2.
local next_suffix = setmetatable({}, { __mode = "k" })

-- A kernel object name: [A-Za-z0-9_], at most 15 characters, unique within `used`.
local function kernel_name(base, used)
	if base:find("[^%w_]") then base = base:gsub("[^%w_]", "_") end
	local tried = next_suffix[used]
	if not tried then tried = {}; next_suffix[used] = tried end
	local head = base:sub(1, 15)
	local n = tried[head]
	local name
	if not n then
		n = 1
		name = head
	end
	while not name or used[name] do
		n = n + 1
		local suffix = "_" .. n
		name = base:sub(1, 15 - #suffix) .. suffix
	end
	tried[head] = n
	used[name] = true
	return name
end
M.kernel_name = kernel_name

-- The bpf.map_create type description of a plan type (so map handles decode it).
local function create_type(pt)
	if pt.type == "int" then return pt.signed and "s64" or "u64" end
	if pt.type == "str" then return "char[" .. pt.size .. "]" end
	if pt.type == "kstack" then return "s64" end
	if pt.type == "ksym" then return "u64" end
	if pt.type == "ustack" then return { name = "ustack", { "stack_id", "s64" }, { "tgid", "u64" } } end
	if pt.type == "usym" then return { name = "usym", { "addr", "u64" }, { "tgid", "u64" } } end
	if pt.type == "inet" then return { name = "inet", { "family", "u64" }, { "addr", "u8[16]" } } end
	error("no map type for " .. tostring(pt.type))
end

local VALUE_TYPES = {
	count = "u64",
	hist = "u64", lhist = "u64",
}

local function agg_value_type(kind, signed)
	local s = signed and "s64" or "u64"
	if kind == "sum" then return s end
	if kind == "avg" or kind == "stats" then return { name = kind .. "_t", { "total", s }, { "count", "u64" } } end
	if kind == "min" or kind == "max" then return { name = kind .. "_t", { "value", s }, { "set", "u64" } } end
	return VALUE_TYPES[kind]
end

-- One plan map from the semantic pass's map info.
local function layout_map(m, used, opts)
	local pm = { name = m.name, kind = m.kind, max_entries = opts.max_entries or MAX_ENTRIES }
	pm.bpf_name = kernel_name("AT_" .. (m.name == "@" and "" or m.name:sub(2)), used)
	pm.percpu = m.kind ~= "scalar"
	pm.map_type = pm.percpu and "percpu_hash" or "hash"
	pm.keys = {}
	local key_members, off = {}, 0
	for i, ty in ipairs(m.keys or {}) do
		local pt = types.plan_type(ty)
		pt.offset = off
		pm.keys[i] = pt
		key_members[#key_members + 1] = { "k" .. (i - 1), create_type(pt), offset = off }
		off = off + pt.size
	end
	if m.kind == "hist" or m.kind == "lhist" then
		key_members[#key_members + 1] = { "slot", "u64", offset = off }
		pm.slot_offset = off
		off = off + 8
	end
	if off == 0 then
		pm.key_size = 8
		pm.key_type = "u64"
	else
		pm.key_size = off
		if #key_members == 1 then pm.key_type = key_members[1][2]
		else
			local st = { name = "key_t", size = off }
			for i, km in ipairs(key_members) do st[i] = km end
			pm.key_type = st
		end
	end
	if m.kind == "scalar" then
		pm.value = types.plan_type(m.value)
		pm.value_size = pm.value.size
		pm.value_type = create_type(pm.value)
	else
		pm.signed = m.signed ~= false and m.signed ~= nil
		if m.kind == "count" or m.kind == "hist" or m.kind == "lhist" then pm.signed = nil end
		pm.value_type = agg_value_type(m.kind, pm.signed)
		pm.value_size = (m.kind == "avg" or m.kind == "stats" or m.kind == "min" or m.kind == "max") and 16 or 8
	end
	if m.lhist then pm.lhist = { min = m.lhist.min, max = m.lhist.max, step = m.lhist.step } end
	m.plan = pm
	return pm
end

local PREFIX = { begin = "BEGIN", ["end"] = "END", tracepoint = "tp", rawtracepoint = "rt",
	kprobe = "kp", kretprobe = "kr", uprobe = "up", uretprobe = "ur", usdt = "usdt",
	fentry = "kf", fexit = "kx", interval = "iv", profile = "pf" }

-- Builds the plan skeleton (everything but the programs' code) from the semantic result.
function M.plan(sem, opts)
	local used = {}
	local plan = { maps = {}, events = {}, programs = {}, internal = {} }
	for _, m in ipairs(sem.maps) do
		local pm = layout_map(m, used, opts)
		plan.maps[#plan.maps + 1] = pm
		plan.maps[pm.name] = pm
	end
	for id, ev in ipairs(sem.events) do
		local pe = { id = id, kind = ev.kind, size = ev.size, fmt = ev.fmt, args = ev.args,
			map = ev.map, top = ev.top, div = ev.div, sep = ev.sep, max_args = ev.max_args,
			arg_size = ev.arg_size }
		pe.line = ev.line
		plan.events[id] = pe
	end
	plan.ringbuf = { bpf_name = kernel_name("ringbuf", used), size = opts.ringbuf_size or 262144 }
	if sem.uses.stacks then
		plan.stacks = { bpf_name = kernel_name("stacks", used), max_depth = 127,
			max_entries = opts.stack_entries or 4096 }
	end
	if sem.uses.elapsed then
		local e = { name = "elapsed", bpf_name = kernel_name("elapsed", used), map_type = "array",
			key_size = 4, value_size = 8, max_entries = 1, key_type = "u32", value_type = "u64" }
		plan.internal[#plan.internal + 1] = e
		plan.elapsed = e
	end
	local pused = {}
	for i, prog in ipairs(sem.programs) do
		local ap = prog.ap
		local base = PREFIX[ap.kind] .. (ap.target ~= "" and ("_" .. ap.target:gsub("^.*:", "")) or "")
		plan.programs[i] = {
			index = i, probe = ap.probe, kind = ap.kind, prog_type = ap.prog_type,
			attach = ap.attach, bpf_name = kernel_name(base, pused),
		}
	end
	return plan
end

return M
