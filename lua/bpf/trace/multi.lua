-- Wildcard kprobes as bpftrace (0.16+) builds them: one program for every function a
-- `kprobe:PATTERN` (or kretprobe) matches, attached by one kprobe.multi link where the kernel
-- has them, else once per function; the `probe` builtin keeps one program per function.
local M = {}

-- Whether the AST node (a body or a filter) names the builtin `name` anywhere.
local function uses_builtin(node, name, seen)
	if type(node) ~= "table" or seen[node] then return false end
	seen[node] = true
	if node.kind == "ident" and node.name == name then return true end
	for k, v in pairs(node) do
		if type(v) == "table" and k ~= "ty" and k ~= "map" and k ~= "spec" then
			if uses_builtin(v, name, seen) then return true end
		end
	end
	return false
end
M.uses_builtin = uses_builtin

-- The attach points of one spec expanded, with the functions of a kprobe/kretprobe wildcard
-- folded into one attach point: { kind, probe = "kprobe:PATTERN", multi = true,
-- attach = { pattern, funcs = { name, ... }, offset = 0 }, ... }. Anything else as it was.
function M.fold(spec, aps, probe)
	if #aps < 2 then return aps end
	local kind = aps[1].kind
	if kind ~= "kprobe" and kind ~= "kretprobe" then return aps end
	local parts = {}
	for part in (spec.text .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = part end
	local pattern = parts[#parts]
	if not pattern:find("[%*%?]") or #parts > 2 then return aps end -- a module's functions: one each
	local funcs = {}
	for i, ap in ipairs(aps) do
		if ap.kind ~= kind or (ap.attach.offset or 0) ~= 0 then return aps end
		funcs[i] = ap.attach.func
	end
	if uses_builtin(probe.body, "probe", {}) or uses_builtin(probe.pred, "probe", {}) then
		return aps -- `probe` names the attach point: a program each (bpftrace's need_expansion)
	end
	local first = aps[1]
	return { { kind = kind, probe = parts[1] .. ":" .. pattern, prog_type = first.prog_type,
		target = pattern, spec = spec, multi = true,
		attach = { pattern = pattern, funcs = funcs, offset = 0 } } }
end

-- Whether wildcard kprobes get one kprobe.multi link (opts.kprobe_multi overrides the probe
-- of the kernel: false takes the path of kernels without CONFIG_FPROBE).
function M.available(opts)
	if opts and opts.kprobe_multi ~= nil then return opts.kprobe_multi and true or false end
	local ok, bpf = pcall(require, "bpf")
	if not ok then return false end
	local ok2, f = pcall(bpf.features)
	return ok2 and f and f.attach and f.attach.kprobe_multi == true or false
end

-- The number of kernel probes bpftrace counts for a plan program ("Attaching N probes..."):
-- one link for a folded wildcard with kprobe.multi, else one per function.
function M.probe_count(plan, p)
	if p.attach and p.attach.funcs then
		return plan.kprobe_multi and 1 or #p.attach.funcs
	end
	return 1
end

return M
