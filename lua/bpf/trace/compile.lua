-- The trace compiler's driver: bpftrace source → plan (PLAN.md) through the passes
-- lexer/parser → semantic → resources → codegen. Returns the plan or nil, message.
local diag = require "bpf.trace.diag"
local parser = require "bpf.trace.parser"
local semantic = require "bpf.trace.semantic"
local resources = require "bpf.trace.resources"
local codegen = require "bpf.trace.codegen"
local types = require "bpf.trace.types"
local multi = require "bpf.trace.multi"

-- Kernel BTF wrapped with the compiler's caches, once per BTF handle.
local btf_cache = setmetatable({}, { __mode = "k" })
local function wrap_btf(h)
	if not h then return nil end
	local w = btf_cache[h]
	if not w then w = types.btf(h); btf_cache[h] = w end
	return w
end

local kernel_wrap -- the kernel's BTF, read when a program first needs a type

local kernel_btf = types.kernel_btf

-- Line and column of a byte offset: where = locator(src); line, col = where(pos). In C (a
-- line-start index and a search from the last answer): codegen asks once per statement.
local locator = require("bpf.trace.syntax").locator

local FAKE_ID = 1000000

require "bpf" -- registers "bpf.asm_core"
local new_table = require("bpf.asm_core").new_table

-- Map references the programs are built with: tables the loader binds to real maps
-- (bpf.asm's ld_map takes {id = n}, and {handle = map} once bound); names[id - FAKE_ID] is the
-- kernel name of reference id.
local function make_refs(plan)
	-- (made with room for every map and the four internal ones: grown one by one, they were
	-- rehashed a score of times)
	local room = #plan.maps + 4
	local refs, names, n = new_table(0, room), new_table(room, 0), 0
	local function ref(key, bpf_name)
		n = n + 1
		local r = { id = FAKE_ID + n, name = bpf_name, fake = true }
		refs[key] = r
		names[n] = bpf_name
		return r
	end
	for _, m in ipairs(plan.maps) do ref(m.name, m.bpf_name) end
	ref("ringbuf", plan.ringbuf.bpf_name)
	if plan.stacks then ref("stacks", plan.stacks.bpf_name) end
	if plan.elapsed then ref("elapsed", plan.elapsed.bpf_name) end
	if plan.lost then ref("lost", plan.lost.bpf_name) end
	return refs, names
end

local function program_text(b, names)
	local text = b:text({ lines = true })
	return (text:gsub("map%[id:(%d+)%]", function(id)
		local name = names[tonumber(id) - FAKE_ID]
		return name and ("map[" .. name .. "]") or nil
	end))
end

local function compile(src, opts)
	if type(src) ~= "string" then error("bpf.trace.compile: source string expected", 2) end
	opts = opts or {}
	if type(opts) ~= "table" then error("bpf.trace.compile: options table expected", 2) end
	local copts = {}
	for k, v in pairs(opts) do copts[k] = v end
	copts.name = copts.name or "stdin"
	copts.source = src
	if opts.btf ~= nil then
		copts.btf = wrap_btf(opts.btf)
	else
		kernel_wrap = kernel_wrap or types.btf(kernel_btf)
		copts.btf = kernel_wrap
	end
	copts.btf_wrap = copts.btf
	local where = locator(src)

	local ok, res = pcall(function()
		local ast = parser.parse(src)
		local sem = semantic.analyze(ast, copts)
		local plan = resources.plan(sem, copts)
		plan.source, plan.name = src, copts.name
		for _, pp in ipairs(plan.programs) do
			if pp.attach.funcs then plan.kprobe_multi = multi.available(copts); break end
		end
		plan.warnings = {}
		for i, w in ipairs(sem.warnings or {}) do
			plan.warnings[i] = diag.format_warning(src, copts.name, w.pos, w.epos, w.message)
		end
		-- elapsed: its start is set by the first BEGIN program (one is added when there is none)
		local progs = sem.programs
		if sem.uses.elapsed then
			local first
			for i, p in ipairs(progs) do if p.kind == "begin" then first = i; break end end
			if not first then
				table.insert(progs, 1, { kind = "begin", ap = { kind = "begin", probe = "BEGIN", attach = {},
					prog_type = "raw_tracepoint", target = "" }, probe = ast.probes[1],
					body = { kind = "block", stmts = {} }, vars = {}, internal = true })
				table.insert(plan.programs, 1, { probe = "BEGIN", kind = "begin",
					prog_type = "raw_tracepoint", attach = {}, bpf_name = "BEGIN_elapsed", internal = true })
				for i, pp in ipairs(plan.programs) do pp.index = i end
				first = 1
			end
			progs[first].elapsed_init = true
		end
		for _, ev in pairs(plan.events) do
			local sev = sem.events[ev.id]
			ev.line = where(sev.node.pos)
		end
		if copts.helper_check then
			-- -k: codegen adds one helper_error event per checked call site
			copts.helper_event = function(helper, node)
				local id = #plan.events + 1
				local ev = { id = id, kind = "helper_error", helper = helper, size = 16,
					pos = node and node.pos, epos = node and node.epos, line = node and node.pos and where(node.pos) }
				plan.events[id] = ev
				return ev
			end
		end
		local refs, names = make_refs(plan)
		plan.refs = refs
		-- a program's text is made when first read (one metatable for all the programs)
		local program_mt = { __index = function(t, k)
			if k ~= "text" then return nil end
			local text = program_text(t.asm, names)
			rawset(t, "text", text)
			return text
		end }
		for i, prog in ipairs(progs) do
			local pp = plan.programs[i]
			pp.line = where(prog.probe.pos)
			pp.asm = codegen.program(pp, prog, refs, copts, where)
			setmetatable(pp, program_mt)
		end
		-- the text is made when first read (it is for people: --dump, specs)
		return setmetatable(plan, { __index = function(t, k)
			if k ~= "text" then return nil end
			local texts = {}
			for _, pp in ipairs(t.programs) do
				local funcs = pp.attach.funcs
				texts[#texts + 1] = string.format("; %s  (program %s, %s, %d instructions%s)\n%s",
					pp.probe, pp.bpf_name, pp.prog_type, pp.asm:count(),
					funcs and string.format(", %d functions by %s", #funcs,
						t.kprobe_multi and "one kprobe.multi link" or "one link each") or "", pp.text)
			end
			local text = table.concat(texts, "\n")
			rawset(t, "text", text)
			return text
		end })
	end)
	if ok then return res end
	if diag.is_error(res) then
		return nil, (diag.render(res, src, copts.name))
	end
	return nil, copts.name .. ": ERROR: internal compiler error: " .. tostring(res)
end

return compile
