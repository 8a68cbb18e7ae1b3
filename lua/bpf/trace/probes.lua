-- Attach points for the trace compiler: a probe spec's text to its kind and target, wildcards
-- expanded (tracefs events, kernel symbols), unknown targets refused with the nearest names.
local diag = require "bpf.trace.diag"
local tracefs = require "bpf.trace.tracefs"
-- kernel symbols: read only by programs that need them (kprobes, kfuncs, kaddr)
local function ksyms() return require "bpf.trace.ksyms" end

local M = {}

local ALIASES = {
	BEGIN = "begin", END = "end",
	tracepoint = "tracepoint", t = "tracepoint",
	rawtracepoint = "rawtracepoint", rt = "rawtracepoint",
	kprobe = "kprobe", k = "kprobe", kretprobe = "kretprobe", kr = "kretprobe",
	uprobe = "uprobe", u = "uprobe", uretprobe = "uretprobe", ur = "uretprobe",
	usdt = "usdt", U = "usdt",
	kfunc = "fentry", f = "fentry", fentry = "fentry",
	kretfunc = "fexit", fr = "fexit", fexit = "fexit",
	interval = "interval", i = "interval", profile = "profile", p = "profile",
}
local UNSUPPORTED = { software = true, s = true, hardware = true, h = true, watchpoint = true,
	w = true, asyncwatchpoint = true, aw = true, iter = true, it = true, ["self"] = true }
local KIND_NAMES = {}
for k in pairs(ALIASES) do KIND_NAMES[#KIND_NAMES + 1] = k end
table.sort(KIND_NAMES)

local PROG_TYPE = {
	begin = "raw_tracepoint", ["end"] = "raw_tracepoint", tracepoint = "tracepoint",
	rawtracepoint = "raw_tracepoint", kprobe = "kprobe", kretprobe = "kprobe", uprobe = "kprobe",
	uretprobe = "kprobe", usdt = "kprobe", fentry = "tracing", fexit = "tracing",
	interval = "perf_event", profile = "perf_event",
}
M.PROG_TYPE = PROG_TYPE

local find = string.find

local function has_wildcard(s) return (find(s, "*", 1, true) or find(s, "?", 1, true)) ~= nil end

-- A glob (`*`, `?`) as an anchored Lua pattern.
local function glob_pattern(g)
	return "^" .. g:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".") .. "$"
end
M.glob_pattern = glob_pattern

-- Kernel text symbols, for suggestions: { list = names in kallsyms order, set = {name = true} }
-- (read once per process; building them takes a few hundred ms, so only errors do).
local function kernel_functions()
	local list, set = ksyms().functions()
	return { list = list, set = set }
end
M.kernel_functions = kernel_functions

local function split(text)
	if not find(text, '"', 1, true) then
		local parts, n, pos = {}, 0, 1
		while true do
			local c = find(text, ":", pos, true)
			n = n + 1
			if not c then parts[n] = text:sub(pos); return parts end
			parts[n] = text:sub(pos, c - 1)
			pos = c + 1
		end
	end
	local parts, i = {}, 1
	-- split on ':' outside quotes
	local cur, inq = {}, false
	while i <= #text do
		local c = text:sub(i, i)
		if c == '"' then inq = not inq
		elseif c == ":" and not inq then parts[#parts + 1] = table.concat(cur); cur = {}
		else cur[#cur + 1] = c end
		i = i + 1
	end
	parts[#parts + 1] = table.concat(cur)
	return parts
end

local function find_in_path(name)
	if name:find("/", 1, true) then return name end
	if name:match("^lib[%w_%-%+]*$") then
		-- a library by name (libc, libssl): the shared object in the usual directories
		for _, dir in ipairs({ "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
			"/usr/lib", "/lib" }) do
			for _, suffix in ipairs({ ".so.6", ".so.3", ".so.1", ".so.0", ".so" }) do
				local p = dir .. "/" .. name .. suffix
				local f = io.open(p, "rb")
				if f then f:close(); return p end
			end
		end
	end
	for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
		local p = dir .. "/" .. name
		local f = io.open(p, "rb")
		if f then f:close(); return p end
	end
	return name
end
M.find_in_path = find_in_path

local UNITS = { s = 1000000000, ms = 1000000, us = 1000, ns = 1, hz = "hz" }

local function rate(spec, kind, parts)
	local unit, value = parts[2], parts[3]
	if not value and unit then
		-- newer spelling: interval:1s, profile:99hz ... and interval:hz:99 also accepted
		local n, u = unit:match("^(%d+)(%a+)$")
		if n then unit, value = u, n end
	end
	if not (unit and value and UNITS[unit] and value:match("^%d+$")) or #parts > 3 then
		diag.raise(spec, "bad %s spec '%s': expected %s:UNIT:N with UNIT one of s, ms, us, hz",
			kind, spec.text, kind)
	end
	local n = tonumber(value)
	if n == 0 then diag.raise(spec, "bad %s spec '%s': the rate must be positive", kind, spec.text) end
	local a = { unit = unit }
	if unit == "hz" then a.freq = n; a.period_ns = math.floor(1000000000 / n)
	else a.period_ns = n * UNITS[unit] end
	return a
end

-- An attach point (fields set later are listed as nil: the table is made with room for them).
local function new_ap(kind, spec, probe, attach, target, fmt)
	return { kind = kind, probe = probe, attach = attach or {}, prog_type = PROG_TYPE[kind],
		target = target or "", spec = spec, fmt = fmt, usdt_mixed = nil }
end

local TRACEPOINT_PROG_TYPE = PROG_TYPE.tracepoint

-- Tracepoints without wildcards already expanded, by spec text: { root, category, name, fmt }
-- (their formats are read once per process anyway); forgotten when there are many.
local plain_tracepoints, n_plain = {}, 0

-- Expands one spec node ({text, pos, epos}) into attach points:
-- { {kind, probe = canonical text, attach = {...}, prog_type, target = "..."}, ... }.
function M.expand(spec, opts)
	local text = spec.text
	local known = plain_tracepoints[text]
	if known and known[1] == tracefs.root(opts) then
		local fmt = known[4]
		local names = fmt.names
		-- (new_ap's table made here: one call fewer per probe on the common path)
		return { { kind = "tracepoint", probe = names.probe,
			attach = { category = known[2], name = known[3] }, prog_type = TRACEPOINT_PROG_TYPE,
			target = names.target, spec = spec, fmt = fmt, usdt_mixed = nil } }
	end
	local parts = split(text)
	local kname = parts[1]
	local kind = ALIASES[kname]
	if not kind then
		if UNSUPPORTED[kname] then
			diag.raise(spec, "`%s` probes are not supported", kname)
		end
		diag.raise(spec, "unknown probe type '%s'%s", kname, diag.did_you_mean(kname, KIND_NAMES))
	end
	if kind == "begin" or kind == "end" then
		if #parts > 1 then diag.raise(spec, "'%s' takes no target", kname) end
		return { new_ap(kind, spec, kname) }
	elseif kind == "tracepoint" then
		if #parts ~= 3 or parts[2] == "" or parts[3] == "" then
			diag.raise(spec, "bad tracepoint '%s': expected tracepoint:CATEGORY:NAME", text)
		end
		local root = tracefs.root(opts)
		local cat, name = parts[2], parts[3]
		local out = {}
		if has_wildcard(cat) or has_wildcard(name) then
			local events, text = tracefs.events(root)
			if not events then diag.raise(spec, "%s", text) end
			local glob = cat .. ":" .. name
			local pat = glob_pattern(glob)
			local function add(ev)
				if ev:match(pat) then
					local c, n = ev:match("^([^:]+):(.+)$")
					out[#out + 1] = new_ap(kind, spec, "tracepoint:" .. ev, { category = c, name = n }, ev)
				end
			end
			-- only the lines with the glob's literal part can match
			local lit = ksyms().glob_literal(glob)
			if lit == "" then
				for _, ev in ipairs(events) do add(ev) end
			else
				ksyms().lines_containing(text, lit, add)
			end
			if #out == 0 then
				diag.raise(spec, "no tracepoint matches '%s:%s'", cat, name)
			end
			return out
		end
		local fmt = tracefs.format(root, cat, name)
		if not fmt then
			-- the list of every tracepoint is slow to generate: read only to suggest names
			local events, err = tracefs.events(root)
			if not events then diag.raise(spec, "%s", err) end
			diag.raise(spec, "unknown tracepoint '%s:%s'%s", cat, name,
				diag.did_you_mean(cat .. ":" .. name, events))
		end
		local names = fmt.names -- the canonical strings, made once per tracepoint
		if not names then
			names = { probe = "tracepoint:" .. cat .. ":" .. name, target = cat .. ":" .. name }
			fmt.names = names
		end
		if n_plain >= 4096 then plain_tracepoints, n_plain = {}, 0 end
		plain_tracepoints[text], n_plain = { root, cat, name, fmt }, n_plain + 1
		return { new_ap(kind, spec, names.probe, { category = cat, name = name }, names.target, fmt) }
	elseif kind == "rawtracepoint" then
		local name = parts[#parts]
		if #parts < 2 or #parts > 3 or name == "" then
			diag.raise(spec, "bad rawtracepoint '%s': expected rawtracepoint:NAME", text)
		end
		if has_wildcard(name) then diag.raise(spec, "wildcards in rawtracepoint are not supported") end
		-- every raw tracepoint has a btf_trace_<name> typedef in BTF; else suggest from tracefs
		if not (opts.btf and opts.btf:find("btf_trace_" .. name, "typedef")) then
			local events = tracefs.events(tracefs.root(opts))
			if events then
				local names, known = {}, false
				for i, ev in ipairs(events) do
					names[i] = ev:match(":(.+)$") or ev
					if names[i] == name then known = true end
				end
				if not known then
					diag.raise(spec, "unknown raw tracepoint '%s'%s", name, diag.did_you_mean(name, names))
				end
			end
		end
		return { new_ap(kind, spec, "rawtracepoint:" .. name, { name = name }, name) }
	elseif kind == "kprobe" or kind == "kretprobe" or kind == "fentry" or kind == "fexit" then
		if #parts < 2 or #parts > 3 or parts[#parts] == "" then
			diag.raise(spec, "bad %s '%s': expected %s:FUNCTION", kname, text, kname)
		end
		local func = parts[#parts]
		local offset = 0
		local fname, off = func:match("^([%w_%.]+)%+(%d+)$")
		if fname then
			if kind ~= "kprobe" then diag.raise(spec, "an offset is only supported for kprobe") end
			func, offset = fname, tonumber(off)
		end
		local function one(f)
			local attach = { func = f }
			if kind == "kprobe" or kind == "kretprobe" then attach.offset = offset end
			return new_ap(kind, spec, kname .. ":" .. f .. (offset > 0 and ("+" .. offset) or ""), attach, f)
		end
		if (kind == "fentry" or kind == "fexit") and #parts == 3 and parts[2] ~= "vmlinux" then
			diag.raise(spec, "%s on a module's function ('%s') is not supported: only vmlinux's BTF is read (kprobe:%s works)",
				kname, parts[2] .. ":" .. func, func)
		end
		if has_wildcard(func) then
			-- kallsyms' text symbols that ftrace can attach to (available_filter_functions), as
			-- bpftrace's wildcards: kallsyms also lists __init functions freed after boot and
			-- notrace ones, whose attach the kernel refuses
			local pat, out = glob_pattern(func), {}
			local btf = (kind == "fentry" or kind == "fexit") and opts.btf
			local traceable = ksyms().traceable_matching(tracefs.root(opts), func, pat)
			for _, f in ipairs(ksyms().functions_matching(func, pat)) do
				if (not btf or btf:find(f, "func")) and (not traceable or traceable[f]) then
					out[#out + 1] = one(f)
				end
			end
			if #out == 0 then diag.raise(spec, "no kernel function matches '%s'", func) end
			return out
		end
		if kind == "fentry" or kind == "fexit" then
			if opts.btf and not opts.btf:find(func, "func") then
				if ksyms().is_function(func) then
					diag.raise(spec, "kernel function '%s' has no BTF in vmlinux (a module's function? only vmlinux's BTF is read; kprobe:%s works)",
						func, func)
				end
				local names = kernel_functions().list
				diag.raise(spec, "unknown kernel function '%s' (not in the kernel's BTF)%s", func,
					diag.did_you_mean(func, names))
			end
		elseif not (opts.btf and opts.btf:find(func, "func")) then
			-- not in BTF: /proc/kallsyms says whether it exists
			if ksyms().available() and not ksyms().is_function(func) then
				diag.raise(spec, "unknown kernel function '%s'%s", func,
					diag.did_you_mean(func, kernel_functions().list))
			end
		end
		return { one(func) }
	elseif kind == "uprobe" or kind == "uretprobe" then
		if #parts ~= 3 or parts[2] == "" or parts[3] == "" then
			diag.raise(spec, "bad %s '%s': expected %s:BINARY:FUNCTION", kname, text, kname)
		end
		local binary = find_in_path(parts[2])
		local bf = io.open(binary, "rb")
		if not bf then diag.raise(spec, "cannot read binary '%s'", parts[2]) end
		bf:close()
		local sym, off = parts[3], 0
		local s2, o2 = sym:match("^([%w_%.@]+)%+(%d+)$")
		if s2 then sym, off = s2, tonumber(o2) end
		local addr = sym:match("^0x(%x+)$") or (sym:match("^%d+$") and sym)
		if has_wildcard(sym) then diag.raise(spec, "wildcards in uprobe functions are not supported") end
		local attach = { binary = binary, symbol = sym, offset = off }
		if addr then attach.symbol, attach.offset = nil, tonumber(addr, sym:match("^0x") and 16 or 10) end
		return { new_ap(kind, spec, kname .. ":" .. binary .. ":" .. parts[3], attach, parts[3]) }
	elseif kind == "usdt" then
		if #parts < 3 or #parts > 4 then
			diag.raise(spec, "bad usdt '%s': expected usdt:BINARY:[PROVIDER:]NAME", text)
		end
		local binary = find_in_path(parts[2])
		local provider, name = parts[3], parts[4]
		if not name then provider, name = nil, parts[3] end
		if has_wildcard(name) or (provider and has_wildcard(provider)) then
			diag.raise(spec, "wildcards in usdt probes are not supported")
		end
		local bf = io.open(binary, "rb")
		if not bf then diag.raise(spec, "cannot read binary '%s'", parts[2]) end
		bf:close()
		return { new_ap(kind, spec, "usdt:" .. binary .. ":" .. (provider and (provider .. ":") or "") .. name,
			{ binary = binary, provider = provider, name = name }, name) }
	elseif kind == "interval" or kind == "profile" then
		return { new_ap(kind, spec, kname .. ":" .. table.concat(parts, ":", 2), rate(spec, kname, parts)) }
	end
	diag.raise(spec, "unknown probe type '%s'", kname)
end

return M
