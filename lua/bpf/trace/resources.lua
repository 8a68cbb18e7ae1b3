-- Resource pass of the trace compiler: lays out every map (BPF map type and name, key and value
-- layout, the types the loader creates it with) and event record, and names each program,
-- filling the plan that PLAN.md describes.
local types = require "bpf.trace.types"
local plan_type = types.plan_type
require "bpf" -- registers "bpf.asm_core"
-- Tables made with room for what they will hold (grown one key at a time, the plan's maps, by
-- index and by name, were rehashed a score of times: 6% of this pass).
local new_table = require("bpf.asm_core").new_table

local M = {}

local MAX_ENTRIES = 4096

-- Per `used` set and suffix length L ("_2" is 2 long, "_10" 3, ...): the highest number tried
-- for each prefix (the base's first 15 - L characters: with the number they make the name). The
-- set only grows, so every number up to it stays taken: n programs whose names share a prefix
-- are named in n steps, not n * n / 2.
local tried_by_set = setmetatable({}, { __mode = "k" })

-- Bases with characters other than [A-Za-z0-9_] replaced by "_" and cut to 15 characters,
-- remembered (a pattern search per name costs more than the rest of the naming) with the
-- prefixes their numbered names start with; forgotten when there are many.
local cleaned, n_cleaned = {}, 0
local function clean(base)
	local c = cleaned[base]
	if c then return c end
	local full = base:find("[^%w_]") and (base:gsub("[^%w_]", "_")) or base
	c = { full = full, head = #full <= 15 and full or full:sub(1, 15), prefixes = {} }
	if n_cleaned >= 4096 then cleaned, n_cleaned = {}, 0 end
	cleaned[base], n_cleaned = c, n_cleaned + 1
	return c
end

-- "_2", "_3", ...: the suffixes of numbered names, made once.
local suffixes = setmetatable({}, { __index = function(t, n)
	local s = "_" .. n
	t[n] = s
	return s
end })

-- The kernel name of a cleaned base `c` (below).
local function name_of(c, used)
	local head = c.head
	if not used[head] then
		used[head] = true
		return head
	end
	local base = c.full
	local tried = tried_by_set[used]
	if not tried then tried = {}; tried_by_set[used] = tried end
	local lo, hi, len = 2, 9, 2
	while true do
		local prefix = c.prefixes[len]
		if not prefix then prefix = base:sub(1, 15 - len); c.prefixes[len] = prefix end
		local by_prefix = tried[len]
		if not by_prefix then by_prefix = {}; tried[len] = by_prefix end
		local n = (by_prefix[prefix] or lo - 1) + 1
		while n <= hi do
			local name = prefix .. suffixes[n]
			if not used[name] then
				by_prefix[prefix] = n
				used[name] = true
				return name
			end
			n = n + 1
		end
		by_prefix[prefix] = hi
		lo, hi, len = hi + 1, hi * 10 + 9, len + 1
	end
end

-- A kernel object name: [A-Za-z0-9_], at most 15 characters, unique within `used`: the base's
-- first 15 characters, else the first of base .. "_2", "_3", ... (cut to 15) that is free.
local function kernel_name(base, used)
	return name_of(clean(base), used)
end
M.kernel_name = kernel_name

local math_type = math.type
-- Whether a number prints as an integer (a float size, e.g. from options, is never cached).
local function integer(n) return not math_type or math_type(n) == "integer" end

local char_arrays = {}

-- The bpf.map_create type description of a plan type (so map handles decode it).
local function create_type(pt)
	local t = pt.type
	if t == "int" then return pt.signed and "s64" or "u64" end
	if t == "str" then
		local size = pt.size
		local name = char_arrays[size]
		if not name then
			name = "char[" .. size .. "]"
			if integer(size) then char_arrays[size] = name end
		end
		return name
	end
	if t == "kstack" then return "s64" end
	if t == "ksym" then return "u64" end
	if t == "ustack" then return { name = "ustack", { "stack_id", "s64" }, { "tgid", "u64" } } end
	if t == "usym" then return { name = "usym", { "addr", "u64" }, { "tgid", "u64" } } end
	if t == "inet" then return { name = "inet", { "family", "u64" }, { "addr", "u8[16]" } } end
	error("no map type for " .. tostring(t))
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

local KEY_NAMES = { "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7" }

-- What a map's kind decides: per-CPU or not, a slot member in the key (hist, lhist), the size
-- of an aggregation's value and whether it is unsigned whatever was aggregated.
local HASH = { percpu = false, map_type = "hash" }
local function agg(value_size, unsigned, slot)
	return { percpu = true, map_type = "percpu_hash", value_size = value_size, unsigned = unsigned,
		slot = slot }
end
local KINDS = { scalar = HASH, count = agg(8, true), sum = agg(8), avg = agg(16), stats = agg(16),
	min = agg(16), max = agg(16), hist = agg(8, true, true), lhist = agg(8, true, true) }

-- The key layout of a map: key types (plan types with offsets), size, bpf.map_create type and
-- slot offset (hist, lhist).
local function layout_key(m, slot)
	local mkeys = m.keys
	local n = mkeys and #mkeys or 0
	if n == 0 and not slot then return {}, 8, "u64" end
	if n + (slot and 1 or 0) == 1 then
		-- one member: the key's type is that member's
		if slot then return {}, 8, "u64", 0 end
		local pt = plan_type(mkeys[1])
		pt.offset = 0
		return { pt }, pt.size, create_type(pt) -- (made with its element: no growing)
	end
	local keys, off = {}, 0
	local st = { name = "key_t", size = 0 }
	for i = 1, n do
		local pt = plan_type(mkeys[i])
		pt.offset = off
		keys[i] = pt
		st[i] = { KEY_NAMES[i] or ("k" .. (i - 1)), create_type(pt), offset = off }
		off = off + pt.size
	end
	local slot_offset
	if slot then
		st[n + 1] = { "slot", "u64", offset = off }
		slot_offset = off
		off = off + 8
	end
	st.size = off
	return keys, off, st, slot_offset
end

-- "AT_x" for map @x, cleaned (remembered like cleaned bases: string operations are most of the
-- naming).
local map_bases, n_map_bases = {}, 0
local function map_base(name)
	local base = map_bases[name]
	if base then return base end
	base = clean("AT_" .. (name == "@" and "" or name:sub(2)))
	if n_map_bases >= 4096 then map_bases, n_map_bases = {}, 0 end
	map_bases[name], n_map_bases = base, n_map_bases + 1
	return base
end

-- The value type of each aggregation kind that is a plain name (count, sum, hist, lhist), by
-- signedness; avg, stats, min and max get a record made per map (agg_value_type).
local SIGNED_VALUE_NAMES = { sum = "s64", count = "u64", hist = "u64", lhist = "u64" }
local UNSIGNED_VALUE_NAMES = { sum = "u64", count = "u64", hist = "u64", lhist = "u64" }

-- One plan map from the semantic pass's map info.
local function layout_map(m, used, max_entries)
	local kind = m.kind
	local facts = KINDS[kind]
	local slot = facts.slot
	local keys, key_size, key_type, slot_offset = layout_key(m, slot)
	local percpu = facts.percpu
	local value, value_size, value_type, signed
	if not percpu then
		value = plan_type(m.value)
		value_size = value.size
		value_type = create_type(value)
	else
		if not facts.unsigned then signed = m.signed ~= false and m.signed ~= nil end
		value_type = (signed and SIGNED_VALUE_NAMES or UNSIGNED_VALUE_NAMES)[kind] or
			agg_value_type(kind, signed)
		value_size = facts.value_size
	end
	-- the fields every map has; the others only when set (the table stays at 16 slots)
	local name = m.name
	local bpf_name = name_of(map_base(name), used)
	local pm = { name = name, kind = kind, max_entries = max_entries, bpf_name = bpf_name,
		percpu = percpu, map_type = facts.map_type,
		keys = keys, key_size = key_size, key_type = key_type,
		value_size = value_size, value_type = value_type }
	if slot_offset then pm.slot_offset = slot_offset end
	if value then pm.value = value end
	if signed ~= nil then pm.signed = signed end
	-- (the semantic pass's {min, max, step}: made for this map, never changed after it)
	local l = m.lhist
	if l then pm.lhist = l end
	m.plan = pm
	return pm
end

local PREFIX = { begin = "BEGIN", ["end"] = "END", tracepoint = "tp", rawtracepoint = "rt",
	kprobe = "kp", kretprobe = "kr", uprobe = "up", uretprobe = "ur", usdt = "usdt",
	fentry = "kf", fexit = "kx", interval = "iv", profile = "pf" }

-- Program name bases by kind and target ("tp_sys_enter_read", cleaned), remembered like map
-- bases.
local program_bases, n_program_bases = {}, 0

-- Builds the plan skeleton (everything but the programs' code) from the semantic result.
function M.plan(sem, opts)
	local sem_maps, sem_events, sem_programs = sem.maps, sem.events, sem.programs
	local n_maps = #sem_maps
	-- (the maps' kernel names and the ring buffer's, lost's, stacks' and elapsed's)
	local used = new_table(0, n_maps + 4)
	local maps, events, programs = new_table(n_maps, n_maps), new_table(#sem_events, 0),
		new_table(#sem_programs, 0)
	local plan = { maps = maps, events = events, programs = programs, internal = {} }
	local max_entries = opts.max_entries or MAX_ENTRIES
	for i = 1, n_maps do
		local pm = layout_map(sem_maps[i], used, max_entries)
		maps[i] = pm
		maps[pm.name] = pm
	end
	for id = 1, #sem_events do
		local ev = sem_events[id]
		if ev.args then
			-- printf and print of a value: a record of arguments (compile.lua sets `line`)
			events[id] = { id = id, kind = ev.kind, size = ev.size, fmt = ev.fmt, args = ev.args,
				line = ev.line }
		else
			events[id] = { id = id, kind = ev.kind, size = ev.size, fmt = ev.fmt, args = ev.args,
				map = ev.map, top = ev.top, div = ev.div, sep = ev.sep, max_args = ev.max_args,
				arg_size = ev.arg_size, line = ev.line }
		end
	end
	plan.ringbuf = { bpf_name = kernel_name("ringbuf", used), size = opts.ringbuf_size or 262144 }
	if sem.uses.stacks then
		plan.stacks = { bpf_name = kernel_name("stacks", used), max_depth = 127,
			max_entries = opts.stack_entries or 4096 }
	end
	if #sem.events > 0 or opts.helper_check then
		-- records the ring buffer had no room for: "Lost N events", as bpftrace's perf buffers
		local l = { name = "lost", bpf_name = kernel_name("lost", used), map_type = "array",
			key_size = 4, value_size = 8, max_entries = 1, key_type = "u32", value_type = "u64" }
		plan.internal[#plan.internal + 1] = l
		plan.lost = l
	end
	if sem.uses.elapsed then
		local e = { name = "elapsed", bpf_name = kernel_name("elapsed", used), map_type = "array",
			key_size = 4, value_size = 8, max_entries = 1, key_type = "u32", value_type = "u64" }
		plan.internal[#plan.internal + 1] = e
		plan.elapsed = e
	end
	local pused = new_table(0, #sem_programs)
	for i = 1, #sem_programs do
		local ap = sem_programs[i].ap
		local by_target = program_bases[ap.kind]
		if not by_target then by_target = {}; program_bases[ap.kind] = by_target end
		local base = by_target[ap.target]
		if not base then
			base = clean(PREFIX[ap.kind] .. (ap.target ~= "" and ("_" .. ap.target:gsub("^.*:", "")) or ""))
			if n_program_bases >= 4096 then program_bases, n_program_bases = {}, 0 end
			program_bases[ap.kind] = program_bases[ap.kind] or by_target
			by_target[ap.target], n_program_bases = base, n_program_bases + 1
		end
		programs[i] = {
			index = i, probe = ap.probe, kind = ap.kind, prog_type = ap.prog_type,
			attach = ap.attach, bpf_name = name_of(base, pused),
		}
	end
	return plan
end

return M
