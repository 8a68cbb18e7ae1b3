--- bpf.trace.list: `luabpf trace -l [PATTERN]` and `-lv`, bpftrace 0.17's probe listing: the
-- kernel's kprobes (tracefs available_filter_functions), tracepoints, kfuncs (BTF, when fentry
-- works), software and hardware events, iterators; a binary's uprobes (ELF function symbols)
-- and USDT probes (.note.stapsdt). One "type:name" line per probe, types in name order, names
-- sorted; -v adds a tracepoint's fields and a kfunc's arguments, indented by 4.
--
--   list.lines(pattern, verbose) -> array of lines, array of warnings
local tracefs = require "bpf.trace.tracefs"
local probes = require "bpf.trace.probes"
local elf = require "bpf.trace.elf"
local types = require "bpf.trace.types"

local M = {}

-- bpftrace's names and aliases of probe types, by the name -l prints.
local ALIAS = { k = "kprobe", kprobe = "kprobe", kr = "kretprobe", kretprobe = "kretprobe",
	u = "uprobe", uprobe = "uprobe", ur = "uretprobe", uretprobe = "uretprobe", U = "usdt",
	usdt = "usdt", t = "tracepoint", tracepoint = "tracepoint", s = "software",
	software = "software", h = "hardware", hardware = "hardware", f = "kfunc", kfunc = "kfunc",
	fentry = "kfunc", fr = "kretfunc", kretfunc = "kretfunc", fexit = "kretfunc",
	it = "iter", iter = "iter" }

-- What `-l` lists for a probe type given as a wildcard: bpftrace's kernel types (return probes,
-- user-space types, interval/profile and BEGIN/END left out), or the user-space ones when the
-- second part is a path.
local KERNEL_TYPES = { "hardware", "iter", "kfunc", "kprobe", "software", "tracepoint" }
local USER_TYPES = { "uprobe", "usdt" }

local SOFTWARE = { "alignment-faults", "bpf-output", "context-switches", "cpu-clock",
	"cpu-migrations", "dummy", "emulation-faults", "major-faults", "minor-faults", "page-faults",
	"task-clock" }
local HARDWARE = { "backend-stalls", "branch-instructions", "branch-misses", "bus-cycles",
	"cache-misses", "cache-references", "cpu-cycles", "frontend-stalls", "instructions",
	"ref-cycles" }

local ITER_ARGS = { task = { "struct task_struct * task" },
	task_file = { "struct task_struct * task", "int fd", "struct file * file" } }

local function has_wildcard(s) return s:find("[*?]") ~= nil end

local function split(s)
	local parts = {}
	for p in (s .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
	return parts
end

local function sorted_matches(names, pattern)
	local pat, out, seen = probes.glob_pattern(pattern), {}, {}
	for _, n in ipairs(names) do
		if not seen[n] and n:match(pat) then
			seen[n] = true
			out[#out + 1] = n
		end
	end
	table.sort(out)
	return out
end

---------------------------------------------------------------------------------------------------
-- Sources of names

-- available_filter_functions without the " [module]" tails, ".part.N" left out (bpftrace's).
local function filter_functions(ctx)
	if ctx.filter ~= nil then return ctx.filter end
	local path = tracefs.root() .. "/available_filter_functions"
	local f, err = io.open(path, "r")
	local list = false
	if f then
		local data = f:read("*a")
		f:close()
		if data then
			list = {}
			for name in data:gmatch("([^%s]+)[^\n]*\n") do
				if not name:find(".part.", 1, true) then list[#list + 1] = name end
			end
		else
			err = path .. ": cannot read"
		end
	end
	if not list then
		-- the message bpftrace prints, with the reason the kernel gave
		local reason = tostring(err):gsub("^[^:]*: ", "")
		ctx.warnings[#ctx.warnings + 1] = "WARNING: Could not read symbols from " .. path .. ": " .. reason
	end
	ctx.filter = list
	return list
end

local kernel_btf = types.kernel_btf

local function fentry_works()
	local ok, bpf = pcall(require, "bpf")
	local f = ok and bpf.features()
	return f and f.attach and f.attach.fentry == true
end

-- "vmlinux:func" for the traceable functions with BTF and at most 6 arguments (what kfunc can
-- attach to), when this kernel runs fentry programs at all (as bpftrace's has_kfunc()).
local function kfuncs(ctx)
	if ctx.kfuncs ~= nil then return ctx.kfuncs end
	ctx.kfuncs = {}
	if not fentry_works() then return ctx.kfuncs end
	local btf = kernel_btf()
	local funcs = btf and filter_functions(ctx)
	if not funcs then return ctx.kfuncs end
	ctx.btf = btf
	for _, name in ipairs(funcs) do
		local ok, id = pcall(btf.find, btf, name, "func")
		if ok and id then
			local proto = btf:type(btf:type(id).type)
			if proto and #(proto.params or {}) <= 6 then ctx.kfuncs[#ctx.kfuncs + 1] = "vmlinux:" .. name end
		end
	end
	return ctx.kfuncs
end

local find_binary = probes.find_in_path -- a path, else $PATH (or a library by name)

-- "path:symbol" for every defined function symbol of .symtab and .dynsym (bcc's, which bpftrace
-- uses).
local function uprobe_names(path)
	local e, err = elf.open(path)
	if not e then return nil, err end
	local out = {}
	local function add(name, _, _, shndx)
		if shndx ~= 0 and name ~= "" then out[#out + 1] = path .. ":" .. name end
	end
	elf.each_function(e, elf.SHT_SYMTAB, add)
	elf.each_function(e, elf.SHT_DYNSYM, add)
	elf.close(e)
	return out
end

-- "path:provider:name" for every USDT note of the file.
local function usdt_names(path)
	local e, err = elf.open(path)
	if not e then return nil, err end
	local out = {}
	local u32 = elf.u32
	for _, s in pairs(e.sections) do
		if s.name == ".note.stapsdt" then
			local d, o = elf.read(e, s), 0
			while o + 12 <= #d do
				local namesz, descsz, ntype = u32(d, o), u32(d, o + 4), u32(d, o + 8)
				local name_at = o + 12
				local desc_at = name_at + math.floor((namesz + 3) / 4) * 4
				if ntype == 3 and d:sub(name_at + 1, name_at + 7) == "stapsdt" then
					local provider, probe = d:match("^([^%z]*)%z([^%z]*)%z", desc_at + 24 + 1)
					if provider then out[#out + 1] = path .. ":" .. provider .. ":" .. probe end
				end
				o = desc_at + math.floor((descsz + 3) / 4) * 4
			end
		end
	end
	elf.close(e)
	return out
end

---------------------------------------------------------------------------------------------------
-- Details (-v)

-- A tracepoint's own fields as its format file declares them ("int __syscall_nr").
local function tracepoint_fields(name)
	local cat, ev = name:match("^([^:]+):(.+)$")
	local data = tracefs.read_file(tracefs.root() .. "/events/" .. cat .. "/" .. ev .. "/format")
	local out = {}
	if not data then return out end
	local body = data:match("\n\n(.*)$") or ""
	for decl in body:gmatch("\tfield:([^;]*);") do out[#out + 1] = decl end
	return out
end

-- A BTF type as libbpf's btf_dump declares it ("const char *", "struct file *", "size_t").
local function c_name(btf, id, depth)
	depth = (depth or 0) + 1
	if id == 0 or depth > 16 then return "void" end
	local t = btf:type(id)
	if t.kind == "ptr" then return c_name(btf, t.type, depth) .. " *" end
	if t.kind == "const" or t.kind == "volatile" then return t.kind .. " " .. c_name(btf, t.type, depth) end
	if t.kind == "struct" or t.kind == "union" or t.kind == "enum" then return t.kind .. " " .. (t.name or "") end
	if t.kind == "func_proto" then return "void (*)()" end
	if t.name and t.name ~= "" then return t.name end
	return t.type and c_name(btf, t.type, depth) or "void"
end

-- A kfunc's arguments and return type ("struct file * file", "ssize_t retval").
local function kfunc_args(ctx, name)
	local btf = ctx.btf or kernel_btf()
	local out = {}
	local ok, id = pcall(btf.find, btf, (name:gsub("^[^:]*:", "")), "func")
	if not ok or not id then return out end
	local proto = btf:type(btf:type(id).type)
	for _, p in ipairs(proto.params or {}) do out[#out + 1] = c_name(btf, p.type) .. " " .. (p.name or "") end
	if proto.return_type and proto.return_type ~= 0 then
		out[#out + 1] = c_name(btf, proto.return_type) .. " retval"
	end
	return out
end
M.kfunc_args = function(name) return kfunc_args({}, name) end -- for specs: the -lv lines of a kfunc

---------------------------------------------------------------------------------------------------

-- The matches of one probe type for the parts after the type.
local function matches(ctx, ptype, rest)
	if ptype == "tracepoint" then
		if #rest == 1 and has_wildcard(rest[1]) then table.insert(rest, 1, "*") end
		local events = tracefs.events(tracefs.root()) or {}
		return sorted_matches(events, table.concat(rest, ":"))
	elseif ptype == "kprobe" or ptype == "kretprobe" then
		return sorted_matches(filter_functions(ctx) or {}, rest[1] or "*")
	elseif ptype == "kfunc" or ptype == "kretfunc" then
		if #rest == 1 then table.insert(rest, 1, "*") end
		return sorted_matches(kfuncs(ctx), table.concat(rest, ":"))
	elseif ptype == "software" or ptype == "hardware" then
		local names = {}
		for i, n in ipairs(ptype == "software" and SOFTWARE or HARDWARE) do names[i] = n .. ":" end
		local pat = rest[1] or "*"
		return sorted_matches(names, pat .. ":" .. (rest[2] or ""))
	elseif ptype == "iter" then
		return sorted_matches({ "task", "task_file" }, rest[1] or "*")
	elseif ptype == "uprobe" or ptype == "uretprobe" or ptype == "usdt" then
		if not rest[1] or rest[1] == "" then return {} end
		local path = find_binary(rest[1])
		local names, err = (ptype == "usdt" and usdt_names or uprobe_names)(path)
		if not names then
			ctx.warnings[#ctx.warnings + 1] = "WARNING: Could not list function symbols: " .. tostring(err)
			return {}
		end
		local tail = {}
		for i = 2, #rest do tail[#tail + 1] = rest[i] end
		if ptype == "usdt" and #tail == 1 then table.insert(tail, 1, "*") end -- usdt:PATH:NAME
		return sorted_matches(names, path .. ":" .. (#tail > 0 and table.concat(tail, ":") or "*"))
	end
	return {}
end

--- The lines `-l PATTERN` prints (with -v: the details below each), and warnings for stderr;
-- or nil, message for a pattern naming no probe type.
function M.lines(pattern, verbose)
	if pattern == nil or pattern == "" or pattern == "*" then pattern = "*:*" end
	local parts = split(pattern)
	local ctx = { warnings = {} }
	local types, rest
	if #parts == 1 then
		-- a name alone: every kernel type, the name anywhere (bpftrace: '*sleep*')
		local p = has_wildcard(parts[1]) and parts[1] or ("*" .. parts[1] .. "*")
		types, rest = KERNEL_TYPES, { p }
	else
		rest = {}
		for i = 2, #parts do rest[#rest + 1] = parts[i] end
		if has_wildcard(parts[1]) then
			local pool = rest[1]:find("/", 1, true) and USER_TYPES or KERNEL_TYPES
			types = sorted_matches(pool, parts[1])
			if #types == 0 then return nil, "No probe type matched for " .. parts[1] end
		else
			local t = ALIAS[parts[1]]
			if not t then return nil, "Invalid probe type: " .. parts[1] end
			types = { t }
		end
	end
	local out = {}
	for _, ptype in ipairs(types) do
		local r = {}
		for i, p in ipairs(rest) do r[i] = p end
		for _, m in ipairs(matches(ctx, ptype, r)) do
			out[#out + 1] = ptype .. ":" .. m
			if verbose then
				local details = {}
				if ptype == "tracepoint" then details = tracepoint_fields(m)
				elseif ptype == "kfunc" or ptype == "kretfunc" then details = kfunc_args(ctx, m)
				elseif ptype == "iter" then details = ITER_ARGS[m] or {} end
				for _, d in ipairs(details) do out[#out + 1] = "    " .. d end
			end
		end
	end
	return out, ctx.warnings
end

return M
