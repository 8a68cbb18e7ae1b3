-- Semantic pass of the trace compiler: expands attach points, gives every expression a type
-- (tracefs formats for tracepoint args, kernel BTF for kfunc args and pointer chains), checks
-- what each probe kind allows, and collects the maps and the event records the program uses.
local diag = require "bpf.trace.diag"
local probes = require "bpf.trace.probes"
local multi = require "bpf.trace.multi"
local tracefs = require "bpf.trace.tracefs"
local types = require "bpf.trace.types"

local raise = diag.raise
local INT64, UINT64, NONE = types.INT64, types.UINT64, types.NONE
local VALUE, INTLIKE = types.VALUE_KINDS, types.INTLIKE_KINDS

local calls = require "bpf.trace.semantic_calls"
local S = {}
S.__index = S
for name, method in pairs(calls) do
	if type(method) == "function" then S[name] = method end
end
local AGGREGATIONS = calls.AGGREGATIONS
-- Expression checkers by node kind: the hot paths below call them directly, doing what S:expr
-- does (the checker's type is also the node's `ty`) without the call to it.
local EXPR = calls.EXPR

local BUILTINS = { "pid", "tid", "uid", "gid", "cpu", "comm", "nsecs", "elapsed", "retval",
	"args", "curtask", "kstack", "ustack", "cgroup", "func", "probe", "cpid", "rand", "username",
	"arg0", "arg1", "arg2", "arg3", "arg4", "arg5" }
local UNSUPPORTED_BUILTINS = { username = true, rand = true, jiffies = true, numaid = true,
	sarg0 = true, sarg1 = true, sarg2 = true, ctx = true, usermode = true, __builtin_ncpus = true,
	ncpus = true }

-- C macros from the kernel headers bpftrace's tools include (no headers are parsed here).
local HEADER_CONSTANTS = { AF_UNSPEC = 0, AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16,
	AF_PACKET = 17, TASK_RUNNING = 0, TASK_INTERRUPTIBLE = 1, TASK_UNINTERRUPTIBLE = 2,
	O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 64, O_EXCL = 128, O_TRUNC = 512,
	O_APPEND = 1024, O_NONBLOCK = 2048, O_CLOEXEC = 524288, EPERM = 1, ENOENT = 2, EINTR = 4,
	EAGAIN = 11, EACCES = 13, PAGE_SIZE = 4096 }

local REGS_ARGS = { "di", "si", "dx", "cx", "r8", "r9" }
-- struct pt_regs offsets on x86-64
local PT_REGS = { r15 = 0, r14 = 8, r13 = 16, r12 = 24, bp = 32, bx = 40, r11 = 48, r10 = 56,
	r9 = 64, r8 = 72, ax = 80, cx = 88, dx = 96, si = 104, di = 112, orig_ax = 120, ip = 128,
	cs = 136, flags = 144, sp = 152, ss = 160 }
S.PT_REGS = PT_REGS

-- The checker's state, with every method of S copied in: a method call is then one lookup in
-- the state's own table, not a miss there and a second lookup through the metatable.
local function new_state(opts)
	local self = {
		opts = opts,
		strlen = opts.strlen or 64,
		maps = {}, map_order = {},
		events = {}, event_keys = {}, event_next = {},
		uses = {},
		btf = opts.btf_wrap,
		tp_fields = {},
		tpargs = {}, -- the type of `args` by tracepoint format
		ctx = { ap = nil, kind = nil, vars = nil, prog = nil, fmt = nil, fargs = nil, usdt_args = nil },
	}
	for name, method in pairs(S) do self[name] = method end
	return self
end

local COMM = types.str(16)
-- Builtins whose type is always the same (shared type tables: nothing is added to them).
local CONSTANT_BUILTINS = { pid = UINT64, tid = UINT64, uid = UINT64, gid = UINT64, cpu = UINT64,
	nsecs = UINT64, cgroup = UINT64, comm = COMM }

---------------------------------------------------------------------------------------------
-- Maps

-- "@x" for x, remembered (making the string costs more than the rest of map_info); forgotten
-- when there are many.
local at_names, n_at_names = {}, 0
local function at_name(name)
	local at = at_names[name]
	if at then return at end
	at = "@" .. name
	if n_at_names >= 4096 then at_names, n_at_names = {}, 0 end
	at_names[name], n_at_names = at, n_at_names + 1
	return at
end

function S:map_info(node)
	local maps = self.maps
	local name = node.name -- the key, without the "@"
	local m = maps[name]
	if not m then
		m = { name = at_names[name] or at_name(name), first = node, keys = nil, kind = nil,
			value = nil, signed = nil, lhist = nil, plan = nil }
		maps[name] = m
		local order = self.map_order
		order[#order + 1] = m
	end
	return m
end

-- Records the key types of a map use (keys must agree in count and kind everywhere).
local NO_KEYS = {}

function S:map_keys(node)
	local maps = self.maps
	local name = node.name
	local m = maps[name] or self:map_info(node)
	local nodes = node.keys or NO_KEYS
	local n = #nodes
	for i = 1, n do
		local k = nodes[i]
		-- (a builtin of constant type, the common key, is a value: need_value's check inline)
		local ty = k.kind == "ident" and CONSTANT_BUILTINS[k.name]
		if ty then k.ty = ty else self:need_value(k, "%s cannot be used as a map key") end
	end
	local keys = m.keys
	if not keys then
		-- (a map without keys shares the empty list: nothing is added to it)
		keys = NO_KEYS
		if n == 1 then
			keys = { nodes[1].ty } -- (made with its element: no growing)
		elseif n > 1 then
			keys = {}
			for i = 1, n do keys[i] = nodes[i].ty end
		end
		m.keys = keys
	else
		if #keys ~= n then
			raise(node, "map %s is used with %d key%s here and %d elsewhere", m.name, n,
				n == 1 and "" or "s", #keys)
		end
		for i = 1, n do
			local ty = nodes[i].ty
			local u = keys[i] == ty and ty or types.unify(keys[i], ty)
			if not u then
				raise(nodes[i], "map %s: key %d is %s here but %s elsewhere", m.name, i,
					types.name(ty), types.name(keys[i]))
			end
			keys[i] = u
		end
	end
	return m
end

-- Sets a map's kind ("scalar" or an aggregation), checking it against earlier uses.
function S:map_kind(m, kind, node)
	if m.kind and m.kind ~= kind then
		local what = function(k) return k == "scalar" and "assigned a value" or ("assigned " .. k .. "()") end
		raise(node, "map %s is %s here but %s elsewhere", m.name, what(kind), what(m.kind))
	end
	m.kind = kind
end

function S:map_value(m, ty, node)
	if not VALUE[ty.k] then
		raise(node, "%s cannot be stored in a map", types.name(ty))
	end
	local cur = m.value
	if not cur then m.value = ty; return end
	local u = cur == ty and ty or types.unify(cur, ty)
	if not u then
		raise(node, "map %s holds %s elsewhere; %s cannot be assigned to it", m.name,
			types.name(m.value), types.name(ty))
	end
	m.value = u
end

---------------------------------------------------------------------------------------------
-- Events (records through the ring buffer)

-- Whether two records of arguments (plan types with offsets, or nil) are laid out alike.
local function same_record(a, b)
	if a == b then return true end
	if not a or not b or #a ~= #b then return false end
	for i = 1, #a do
		if a[i].type ~= b[i].type or a[i].size ~= b[i].size then return false end
	end
	return true
end

-- One event per kind, source position and record layout (the copies of a probe's action for
-- each attach point of a wildcard share theirs unless their arguments differ in type). `fields`
-- becomes the event; the events of one kind and position are chained by self.event_next.
function S:event(node, kind, fields)
	local by_pos = self.event_keys[kind]
	if not by_pos then by_pos = {}; self.event_keys[kind] = by_pos end
	local pos = node.pos
	local first = by_pos[pos]
	local ev = first
	while ev do
		if same_record(ev.args, fields.args) then return ev end
		ev = self.event_next[ev]
	end
	ev = fields
	ev.kind = kind
	ev.id = #self.events + 1
	ev.node = node
	self.events[ev.id] = ev
	if first then self.event_next[ev] = first end
	by_pos[pos] = ev
	return ev
end

---------------------------------------------------------------------------------------------
-- Expressions

local const_int = calls.const_int

-- The type of operand e, set on it: variables and the builtins of constant type typed here, as
-- their checkers (S:var_read, S:builtin) do, without the call to them; the rest by their checker.
local function operand_type(self, e)
	local kind = e.kind
	local ty
	if kind == "var" then
		ty = self.ctx.vars[e.name]
		if not ty then raise(e, "variable $%s is used before it is assigned", e.name) end
	else
		ty = kind == "ident" and CONSTANT_BUILTINS[e.name]
		if not ty then
			local check = EXPR[kind]
			if not check then raise(e, "unexpected %s", kind) end
			ty = check(self, e)
		end
	end
	e.ty = ty
	return ty
end

function S:need_int(e, what)
	local ty = operand_type(self, e)
	if not INTLIKE[ty.k] then
		raise(e, "%s must be an integer, not %s", what, types.name(ty))
	end
	return ty
end

-- The type of e, which must be a value (not a map, a stack or a record); message names its type.
function S:need_value(e, message)
	local ty = operand_type(self, e)
	if not VALUE[ty.k] then raise(e, message, types.name(ty)) end
	return ty
end

-- Static string value of an expression (literals and string positional params), or nil.
function S:static_str(e)
	if e.kind == "str" then return e.value end
	if e.kind == "param" and e.ty and e.ty.k == "str" then return e.static end
	return nil
end

-- Builtins by name (the arg0..argN and constants are found after these).
local BUILTIN = {}
BUILTIN.elapsed = function(self)
	self.uses.elapsed = true
	return UINT64
end
BUILTIN.curtask = function(self, e)
	local id = self:task_struct_id(e)
	return { k = "ptr", to = id, cname = "struct task_struct *" }
end
local function stack_builtin(self, e)
	self.uses.stacks = true
	return { k = e.name, mode = "bpftrace", limit = 127 }
end
BUILTIN.kstack, BUILTIN.ustack = stack_builtin, stack_builtin
BUILTIN.retval = function(self, e)
	local kind = self.ctx.kind
	if kind == "kretprobe" or kind == "uretprobe" then return INT64 end
	if kind == "fexit" then
		local fa = self.ctx.fargs
		e.farg_index = #fa.params
		local ty = fa.ret_ty
		if not ty or ty.k == "none" then raise(e, "function '%s' returns void", self.ctx.ap.attach.func) end
		return ty
	end
	raise(e, "the retval builtin can only be used with kretprobe, uretprobe and kretfunc probes")
end
-- The type of a tracepoint's `args`, one per format.
local function tpargs_type(self)
	local fmt = self.ctx.fmt
	local ty = self.tpargs[fmt]
	if not ty then ty = { k = "tpargs", fmt = fmt }; self.tpargs[fmt] = ty end
	return ty
end
BUILTIN.args = function(self, e)
	local ctx = self.ctx
	local kind = ctx.kind
	if kind == "tracepoint" then return tpargs_type(self) end
	if kind == "fentry" or kind == "fexit" then return { k = "fargs", fargs = ctx.fargs } end
	raise(e, "the args builtin can only be used with tracepoint and kfunc/kretfunc probes")
end
BUILTIN.func = function(self, e)
	if self.ctx.ap.multi then return { k = "ksym" } end -- bpf_get_func_ip, named in user space
	local a = self.ctx.ap.attach
	local f = a.func or a.symbol or a.name
	if not f then raise(e, "the func builtin can only be used with kprobe, uprobe, kfunc and usdt probes") end
	e.static = f
	return types.str(types.round8(#f + 1))
end
BUILTIN.probe = function(self, e)
	e.static = self.ctx.ap.probe
	return types.str(types.round8(#e.static + 1))
end
BUILTIN.cpid = function(self, e)
	if not self.opts.cpid then raise(e, "cpid is only available when a command is traced (-c CMD)") end
	return UINT64
end

-- arg0..argN of the probes that have them in registers or at known places.
local function arg_builtin(self, e, name)
	local kind = self.ctx.kind
	local n = tonumber(name:sub(4))
	if kind == "kprobe" or kind == "uprobe" then
		if n > 5 then raise(e, "%s: only arg0 to arg5 are in registers (stack arguments are not supported)", name) end
		e.reg = PT_REGS[REGS_ARGS[n + 1]]
		return UINT64
	elseif kind == "rawtracepoint" then
		if n > 11 then raise(e, "%s: rawtracepoint has at most 12 arguments", name) end
		e.ctx_index = n
		return UINT64
	elseif kind == "usdt" then
		if self.ctx.ap.usdt_mixed then
			raise(e, "%s: the sites of this usdt probe keep their arguments in different places" ..
				" (reading arguments of such probes is not supported)", name)
		end
		local spec = self.ctx.usdt_args
		if not spec[n + 1] then
			raise(e, "%s: the usdt probe has %d argument%s", name, #spec, #spec == 1 and "" or "s")
		end
		e.usdt = spec[n + 1]
		return { k = "int", signed = spec[n + 1].signed }
	end
	raise(e, "the %s builtin can only be used with kprobe, uprobe, usdt and rawtracepoint probes", name)
end

function S:builtin(e)
	local name = e.name
	local ty = CONSTANT_BUILTINS[name]
	if ty then return ty end
	local f = BUILTIN[name]
	if f then return f(self, e) end
	if name:match("^arg%d+$") then return arg_builtin(self, e, name) end
	if UNSUPPORTED_BUILTINS[name] then
		raise(e, "the %s builtin is not supported", name)
	end
	-- constants: the few C macros bpftrace's tools take from kernel headers, then BTF enums
	local v = HEADER_CONSTANTS[name]
	if v == nil and self.btf and name:match("^[%u_][%u%d_]*$") then v = self.btf:enumerator(name) end
	if v ~= nil then
		e.constant = v
		return INT64
	end
	raise(e, "unknown identifier '%s'%s", name, diag.did_you_mean(name, BUILTINS))
end

function S:task_struct_id(e)
	local id = self.btf and self.btf:find("task_struct", "struct")
	if not id then raise(e, "curtask needs the kernel's BTF (struct task_struct)") end
	return id
end

-- A field of a BTF record at `rid`: sets e.access and returns the field's type.
function S:record_field(e, rid, base_access)
	local btf = self.btf
	local m = btf:member(rid, e.field)
	if not m then
		raise({ pos = e.field_pos, epos = e.epos }, "%s has no field '%s'%s", btf:cname(rid), e.field,
			diag.did_you_mean(e.field, btf:member_names(rid)))
	end
	local ty = btf:value_type(m.type)
	if not ty then raise(e, "field '%s' has a type that is not supported (%s)", e.field, btf:cname(m.type)) end
	local byte = math.floor(m.bit_offset / 8)
	e.access = { how = "mem", offset = byte }
	if m.bitfield_size and m.bitfield_size > 0 then
		e.access.bitfield = { shift = m.bit_offset - byte * 8, bits = m.bitfield_size }
		e.access.offset = byte
		ty = { k = "int", signed = ty.signed, size = 8 }
	end
	if ty.k == "array" and ty.is_char then
		-- char arrays are strings (indexing them still reads single chars)
		return { k = "str", size = ty.size, char_array = ty }
	end
	return ty
end

-- The access and type of tracepoint field `f` (a tracefs format field).
function S:tp_field(e, f)
	if f.data_loc then
		return { how = "data_loc", offset = f.offset }, types.str(self.strlen)
	elseif f.array then
		local elem = f.elem:gsub("^const ", "")
		if elem:match("char$") or elem == "u8" or elem == "__u8" then
			return { how = "ctx_bytes", offset = f.offset, size = f.size }, types.str(f.size)
		end
		raise(e, "tracepoint field '%s' is an array of %s (not supported)", f.name, f.elem)
	elseif f.pointer then
		local access = { how = "ctx", offset = f.offset, size = 8, signed = false }
		local pid = f.pointee:match("struct") and self.btf and
			self.btf:find(f.pointee:gsub("^const ", ""):gsub("^struct ", ""), "struct")
		if pid then
			return access, { k = "ptr", to = pid, cname = f.ctype }
		end
		return access, { k = "ptr", to = 0, cname = f.ctype, user = true }
	end
	local size, signed = f.size, f.signed
	local known = tracefs.C_INTS[f.base]
	if known then size, signed = known[1], known[2]
	elseif self.btf then
		local tid = self.btf:find(f.base)
		if tid then
			local vt = self.btf:value_type(tid)
			if vt and vt.k == "int" then size, signed = vt.size, vt.signed end
		end
	end
	if size > f.size then size = f.size end
	if size ~= 1 and size ~= 2 and size ~= 4 and size ~= 8 then
		raise(e, "tracepoint field '%s' (%s, %d bytes) is not supported", f.name, f.decl, f.size)
	end
	return { how = "ctx", offset = f.offset, size = size, signed = signed }, types.sized_int(signed, size)
end

-- Access and type tables are read-only once made: every use of one tracepoint field in a
-- compile shares them (self.tp_fields).
function S:field(e)
	local base = e.base
	local bty
	if base.kind == "ident" and base.name == "args" and self.ctx.kind == "tracepoint" then
		-- (a tracepoint's args->field, the common case: the builtin's type without its calls)
		bty = self.tpargs[self.ctx.fmt] or tpargs_type(self)
		base.ty = bty
	else
		bty = self:expr(base)
	end
	local k = bty.k
	if k == "tpargs" then
		local f = bty.fmt.by_name[e.field]
		if not f then
			local names = {}
			for _, x in ipairs(bty.fmt.fields) do names[#names + 1] = x.name end
			raise({ pos = e.field_pos, epos = e.epos }, "tracepoint %s has no field '%s'%s",
				self.ctx.ap.target, e.field, diag.did_you_mean(e.field, names))
		end
		local known = self.tp_fields[f]
		if not known then
			local access, ty = self:tp_field(e, f)
			known = { access, ty }
			self.tp_fields[f] = known
		end
		e.access = known[1]
		return known[2]
	elseif k == "fargs" then
		local fa = bty.fargs
		local p = fa.by_name[e.field]
		if not p then
			raise({ pos = e.field_pos, epos = e.epos }, "function '%s' has no argument '%s'%s",
				self.ctx.ap.attach.func, e.field, diag.did_you_mean(e.field, fa.names))
		end
		e.access = { how = "farg", index = p.index }
		return p.ty
	elseif k == "ptr" then
		if not e.arrow then
			raise(e, "'%s' is a pointer: use '->' to reach field '%s'", types.name(bty), e.field)
		end
		local _, t = self.btf:resolve(bty.to)
		if t.kind ~= "struct" and t.kind ~= "union" then
			raise(e, "'->%s' needs a pointer to a struct, not %s", e.field, types.name(bty))
		end
		return self:record_field(e, bty.to)
	elseif k == "record" then
		if e.arrow then raise(e, "'%s' is not a pointer: use '.' to reach field '%s'", types.name(bty), e.field) end
		return self:record_field(e, bty.id)
	end
	raise(e, "%s has no fields (cannot access '%s')", types.name(bty), e.field)
end

function S:cast(e)
	local ct = e.ctype
	local ty = self:expr(e.operand)
	local w = ct.words
	if w[1] == "struct" or w[1] == "union" then
		if ct.ptr ~= 1 then raise(ct, "only casts to a struct pointer ('(%s %s *)') are supported", w[1], w[2]) end
		local id = self.btf and self.btf:find(w[2], w[1])
		if not id then raise(ct, "unknown type '%s %s' (not in the kernel's BTF)", w[1], w[2]) end
		if not types.is_intlike(ty) then raise(e, "cannot cast %s to a pointer", types.name(ty)) end
		return { k = "ptr", to = id, cname = ct.text }
	end
	if ct.ptr > 0 then
		if not types.is_intlike(ty) then raise(e, "cannot cast %s to a pointer", types.name(ty)) end
		local name = table.concat(w, " ")
		local size = tracefs.C_INTS[name] and tracefs.C_INTS[name][1]
		local pointee = size and { k = "int", signed = tracefs.C_INTS[name][2], size = size }
		return { k = "ptr", to = 0, raw_pointee = pointee, cname = ct.text }
	end
	local name = table.concat(w, " ")
	local size, signed
	local m = name:match("^u?int(%d+)$")
	if m then size, signed = tonumber(m) / 8, name:sub(1, 1) ~= "u"
	elseif tracefs.C_INTS[name] then size, signed = tracefs.C_INTS[name][1], tracefs.C_INTS[name][2]
	else raise(ct, "cannot cast to '%s'", name) end
	if not types.is_intlike(ty) then raise(e, "cannot cast %s to %s", types.name(ty), name) end
	e.cast = { size = size, signed = signed }
	return { k = "int", signed = signed, size = size }
end

local LOGICAL = { ["&&"] = true, ["||"] = true }
-- Operators whose right operand is checked: divisors (not 0) and shift counts (0 to 63).
local RIGHT_CHECKED = { ["/"] = "div", ["%"] = "div", ["<<"] = "shift", [">>"] = "shift" }
local COMPARE = { ["=="] = true, ["!="] = true, ["<"] = true, ["<="] = true, [">"] = true, [">="] = true }

-- The value of an operand bpftrace takes as a literal: a number, a constant from the headers
-- or BTF (AF_INET, TCP_SYN_SENT), a positional parameter.
local function literal(x)
	local kind = x.kind
	if kind == "int" then return x.value end
	local c = kind == "unop" and const_int(x)
	if c then return c end
	if x.kind == "ident" and type(x.constant) == "number" then return x.constant end
	if x.kind == "param" and type(x.value) == "number" and not x.static then return x.value end
	return nil
end

-- An operand bpftrace counts as signed: of a signed integer type and not a literal >= 0.
local function signed_operand(x, ty)
	if ty.k ~= "int" or ty.signed == false then return false end
	local c = literal(x)
	return not (c and c >= 0)
end

-- A warning at node (printed as bpftrace prints them: "stdin:1:5-6: WARNING: ..."), once per
-- place even when the action is analysed again for each attach point or pass.
function S:warn(node, fmt, ...)
	local message = string.format(fmt, ...)
	local key = tostring(node.pos) .. ":" .. message
	if self.warned[key] then return end
	self.warned[key] = true
	self.warnings[#self.warnings + 1] = { pos = node.pos, epos = node.epos, message = message }
end

-- bpftrace's name of an integer type: 'int32', 'unsigned int64'.
local function int_name(ty)
	return string.format("%sint%d", ty.signed == false and "unsigned " or "", (ty.size or 8) * 8)
end

local SIGN_WARNED = { ["+"] = "arithmetic on", ["-"] = "arithmetic on", ["*"] = "arithmetic on",
	["/"] = "arithmetic on", ["%"] = "arithmetic on", ["=="] = "comparison of", ["!="] = "comparison of",
	["<"] = "comparison of", ["<="] = "comparison of", [">"] = "comparison of", [">="] = "comparison of" }

-- bpftrace 0.17's warning for integers of different signs (a literal >= 0 counts as unsigned).
function S:warn_signs(e, lt, rt)
	local what = SIGN_WARNED[e.op]
	local lsign, rsign = lt.signed ~= false, rt.signed ~= false
	if not what or lsign == rsign then return end
	-- (only the signed operand can be the literal that makes it count as unsigned)
	local c = literal(lsign and e.left or e.right)
	if c and c >= 0 then return end
	self:warn(e.op_pos and { pos = e.op_pos, epos = e.op_pos + #e.op - 1 } or e,
		"%s integers of different signs: '%s' and '%s' can lead to undefined behavior", what,
		int_name(lt), int_name(rt))
end

-- bpftrace 0.17: `comm == "a literal longer than 16 bytes"` can never be true.
function S:warn_long_literal(e, lt, rt)
	local l, r = e.left.kind == "str", e.right.kind == "str"
	if l == r then return end
	local lit, other = l and e.left or e.right, l and rt or lt
	if #lit.value <= other.size then return end
	-- bpftrace's place: from the left operand (and a '(' just before it) to the right one's end
	local pos, src = e.pos, self.opts.source
	if src and pos > 1 and src:sub(pos - 1, pos - 1) == "(" then pos = pos - 1 end
	self:warn({ pos = pos, epos = e.epos }, "The literal is longer than the variable string (size=%d), "
		.. "condition will always be false", other.size)
end

-- Checks the operands of a binary operator other than two integers under an arithmetic or
-- comparison operator; true when the result is decided (a logical operator, a string comparison).
function S:binop_operands(e, op, lt, rt)
	if op == "&&" or op == "||" then
		if not types.is_intlike(lt) then raise(e.left, "'%s' needs integers, not %s", op, types.name(lt)) end
		if not types.is_intlike(rt) then raise(e.right, "'%s' needs integers, not %s", op, types.name(rt)) end
		return true
	end
	if lt.k == "str" or rt.k == "str" then
		if (op == "==" or op == "!=") and lt.k == "str" and rt.k == "str" then
			e.strcmp = true
			if op == "==" then self:warn_long_literal(e, lt, rt) end
			return true
		end
		raise(e, "'%s' between %s and %s is not supported", op, types.name(lt), types.name(rt))
	end
	if not types.is_intlike(lt) and not (lt.k == rt.k and (op == "==" or op == "!=") and types.is_scalar(lt)) then
		raise(e.left, "'%s' needs integers, not %s", op, types.name(lt))
	end
	if not types.is_intlike(rt) and not (lt.k == rt.k and types.is_scalar(rt)) then
		raise(e.right, "'%s' needs integers, not %s", op, types.name(rt))
	end
	return false
end

function S:binop(e)
	local op = e.op
	local l, r = e.left, e.right
	-- (integer literals, the common right operand, are typed here: no call)
	local lt, rt
	local kind = l.kind
	if kind == "int" then lt = INT64 else
		local check = EXPR[kind]
		if not check then raise(l, "unexpected %s", kind) end
		lt = check(self, l)
	end
	l.ty = lt
	kind = r.kind
	if kind == "int" then rt = INT64 else
		local check = EXPR[kind]
		if not check then raise(r, "unexpected %s", kind) end
		rt = check(self, r)
	end
	r.ty = rt
	local lk, rk = lt.k, rt.k
	local signed
	if lk == "int" and rk == "int" and not LOGICAL[op] then
		-- two integers under an arithmetic or comparison operator (the common case) need none
		-- of the checks of binop_operands
		local lsigned, rsigned = lt.signed ~= false, rt.signed ~= false
		signed = lsigned and rsigned
		-- (warn_signs warns only about integers of different signs, and never when the signed
		-- one is a literal >= 0: the common `pid == 42`)
		if lsigned ~= rsigned then
			local lit = lsigned and l or r
			if not (lit.kind == "int" and lit.value >= 0) then self:warn_signs(e, lt, rt) end
		end
	else
		if self:binop_operands(e, op, lt, rt) then return UINT64 end
		signed = (lt.signed ~= false and lk == "int") and (rt.signed ~= false and rk == "int")
	end
	e.signed = signed
	if COMPARE[op] then return UINT64 end
	local right_check = RIGHT_CHECKED[op]
	if right_check == "div" then
		if signed_operand(e.left, lt) or signed_operand(e.right, rt) then
			-- bpftrace 0.17's warning (BPF divides unsigned)
			self:warn(e.op_pos and { pos = e.op_pos, epos = e.op_pos } or e, "signed operands for '%s' can lead "
				.. "to undefined behavior (cast to unsigned to silence warning)", op)
		end
		if const_int(e.right) == 0 then
			raise(e.right, "division by zero")
		end
	elseif right_check == "shift" then
		local shift = const_int(e.right)
		if shift and (shift < 0 or shift > 63) then
			raise(e.right, "shift by %s: a shift count is 0 to 63", tostring(shift))
		end
	end
	if lk == "ptr" and (op == "+" or op == "-") and rk == "int" then
		return UINT64
	end
	return signed and INT64 or UINT64
end

function S:unop(e)
	local ty = self:expr(e.operand)
	local op = e.op
	if op == "*" then
		if ty.k ~= "ptr" then raise(e, "cannot dereference %s", types.name(ty)) end
		if ty.raw_pointee then e.access = { how = "mem", offset = 0 }; return ty.raw_pointee end
		local vt = self.btf and ty.to ~= 0 and self.btf:value_type(ty.to)
		if not vt or vt.k == "none" then raise(e, "cannot dereference %s", types.name(ty)) end
		e.access = { how = "mem", offset = 0 }
		return vt
	elseif op == "&" then
		raise(e, "the address-of operator '&' is not supported")
	end
	if not types.is_intlike(ty) then raise(e, "'%s' needs an integer, not %s", op, types.name(ty)) end
	if op == "!" then return UINT64 end
	return { k = "int", signed = op == "-" or ty.signed }
end

function S:index(e)
	local bty = self:expr(e.base)
	self:need_int(e.index, "an index")
	local n = const_int(e.index)
	if bty.k == "str" and bty.char_array and e.base.access and e.base.access.how == "mem" then
		bty = bty.char_array
	end
	if bty.k == "array" then
		if not n then raise(e.index, "array indexes must be constant") end
		if n < 0 or n >= bty.n then raise(e.index, "index %d is out of bounds (0 to %d)", n, bty.n - 1) end
		local vt = self.btf:value_type(bty.elem)
		if not vt then raise(e, "array elements of this type are not supported") end
		e.access = { how = "mem", offset = n * bty.esize }
		return vt
	elseif bty.k == "ptr" then
		if not n then raise(e.index, "pointer indexes must be constant") end
		local vt = bty.raw_pointee or (bty.to ~= 0 and self.btf:value_type(bty.to))
		if not vt or vt.k == "none" then raise(e, "cannot index %s", types.name(bty)) end
		local esize = vt.size or 8
		e.access = { how = "mem", offset = n * esize, deref = true }
		return vt
	end
	raise(e, "cannot index %s", types.name(bty))
end

function S:map_read(e)
	local m = self:map_keys(e)
	if m.kind and m.kind ~= "scalar" then
		raise(e, "reading the value of %s (a %s() map) inside a probe is not supported", m.name, m.kind)
	end
	if not m.value then
		if self.final then raise(e, "map %s is read but never assigned", m.name) end
		self.retry = true -- typed by an assignment later in the source: check again
		return INT64
	end
	e.map = m
	return m.value
end

function S:var_read(e)
	local ty = self.ctx.vars[e.name]
	if not ty then
		raise(e, "variable $%s is used before it is assigned", e.name)
	end
	return ty
end

function S:param(e)
	local args = self.opts.args or {}
	if e.n == "#" then e.value = #args; return INT64 end
	local v = args[e.n]
	if v and tostring(v):match("^%-?%d+$") then
		e.value = tonumber(v)
		return INT64
	end
	if v == nil then e.value = 0; e.static = ""; return INT64 end
	e.static = tostring(v)
	return types.str(types.round8(#e.static + 1))
end

---------------------------------------------------------------------------------------------
-- Statements

function S:assign(s)
	local t = s.target
	local v = s.value
	local op = s.op
	if op ~= "" then
		if (op == "/" or op == "%") and const_int(v) == 0 then raise(v, "division by zero") end
		local shift = (op == "<<" or op == ">>") and const_int(v)
		if shift and (shift < 0 or shift > 63) then
			raise(v, "shift by %s: a shift count is 0 to 63", tostring(shift))
		end
	end
	if t.kind == "map" then
		local m = self:map_keys(t)
		t.map = m
		if op == "" and v.kind == "call" and AGGREGATIONS[v.name] then
			self:aggregation(s, m, v)
			s.agg = v.name
			return
		end
		if m.kind and m.kind ~= "scalar" and op ~= "" then
			raise(s, "%s is a %s() map: '%s=' does not apply", m.name, m.kind, op)
		end
		if m.kind ~= "scalar" then self:map_kind(m, "scalar", t) end
		local check = EXPR[v.kind] -- (self:expr inline, as below)
		if not check then raise(v, "unexpected %s", v.kind) end
		local ty = check(self, v)
		v.ty = ty
		if op ~= "" then
			if not INTLIKE[ty.k] then raise(v, "'%s=' needs an integer, not %s", op, types.name(ty)) end
			ty = INT64
		end
		if ty.k == "ptr" then ty = UINT64 end
		self:map_value(m, ty, v)
	else
		local check = EXPR[v.kind]
		if not check then raise(v, "unexpected %s", v.kind) end
		local ty = check(self, v)
		v.ty = ty
		local vars = self.ctx.vars
		if op ~= "" then
			local cur = vars[t.name]
			if not cur then raise(t, "variable $%s is used before it is assigned", t.name) end
			if not types.is_intlike(cur) or not types.is_intlike(ty) then
				raise(s, "'%s=' needs integers", s.op)
			end
			return
		end
		if not VALUE[ty.k] then
			if ty.k == "record" or ty.k == "array" then
				raise(v, "%s cannot be stored in a variable (only integers, pointers and strings)", types.name(ty))
			end
			raise(v, "%s cannot be assigned", types.name(ty))
		end
		local cur = vars[t.name]
		if cur then
			local u = cur == ty and ty or types.unify(cur, ty)
			if not u then
				raise(s, "variable $%s holds %s; %s cannot be assigned to it", t.name, types.name(cur), types.name(ty))
			end
			if u.k == "str" and u.size ~= cur.size then
				if u.size > cur.size then
					-- a longer string later: the variable gets the larger size on a second pass
					local hints = self.ctx.prog.var_sizes or {}
					self.ctx.prog.var_sizes = hints
					hints[t.name] = u.size
					if self.final then
						raise(v, "variable $%s holds string[%d]; a longer string[%d] cannot be assigned to it",
							t.name, cur.size, u.size)
					end
					self.retry = true
				end
				u = cur
			end
			vars[t.name] = (cur.k == "ptr" or ty.k == "ptr") and cur or u
		else
			local hint = self.ctx.prog.var_sizes and self.ctx.prog.var_sizes[t.name]
			if hint and ty.k == "str" and hint > ty.size then ty = types.str(hint) end
			vars[t.name] = ty
		end
		t.ty = vars[t.name]
	end
end

local STMT -- statement checkers by kind (below)

function S:block(b)
	local stmts = b.stmts
	for i = 1, #stmts do
		local s = stmts[i]
		local check = STMT[s.kind]
		if not check then raise(s, "unexpected statement %s", s.kind) end
		check(self, s)
	end
end

-- Calls that make a value (as a statement they only are expressions with no effect).
local VALUE_CALLS = { str = true, ksym = true, usym = true, ntop = true, kaddr = true, strncmp = true,
	kstack = true, ustack = true }

-- Statement checkers by kind.
STMT = {}
STMT.assign = S.assign
STMT.expr_stmt = function(self, s)
	local e = s.expr
	if e.kind == "call" and not VALUE_CALLS[e.name] then
		self:call_stmt(e, true)
		e.ty = NONE
	elseif e.kind == "incdec" then
		self:expr(e)
	else
		self:expr(e)
		-- bpftrace accepts expression statements with no effect; so do we (nothing emitted)
		s.no_effect = true
	end
end
STMT["if"] = function(self, s)
	self:need_int(s.cond, "an if condition")
	self:block(s.then_)
	if s.else_ then self:block(s.else_) end
end
STMT.unroll = function(self, s)
	local n = const_int(s.count)
	if not n then raise(s.count, "unroll()'s count must be a constant") end
	if n < 1 or n > 100 then raise(s.count, "unroll() count must be 1 to 100") end
	s.n = n
	self.unrolled = (self.unrolled or 1) * n
	if self.unrolled > 10000 then
		raise(s.count, "nested unroll() makes %d copies (at most 10000)", self.unrolled)
	end
	self:block(s.body)
	self.unrolled = self.unrolled / n
end
STMT.block = S.block

function S:stmt(s)
	local check = STMT[s.kind]
	if not check then raise(s, "unexpected statement %s", s.kind) end
	return check(self, s)
end

---------------------------------------------------------------------------------------------
-- Probe contexts

-- Annotations from an earlier pass, recomputed on the copy.
local NOT_CLONED = { map = true, ty = true, event = true, access = true }
local type = type

-- A copy of the AST below node n (a table).
local function clone(n)
	local c = {}
	for k, v in pairs(n) do
		if not NOT_CLONED[k] then
			if type(v) == "table" then v = clone(v) end
			c[k] = v
		end
	end
	return c
end

-- Function arguments from BTF (kfunc/kretfunc).
function S:fargs(ap)
	local btf = self.btf
	if not btf then raise(ap.spec, "kfunc probes need the kernel's BTF") end
	local fid = btf:find(ap.attach.func, "func")
	if not fid then raise(ap.spec, "unknown kernel function '%s' (not in BTF)", ap.attach.func) end
	local f = btf:type(fid)
	local proto = btf:type(f.type)
	local fa = { params = {}, by_name = {}, names = {} }
	for i, p in ipairs(proto.params or {}) do
		local ty = btf:value_type(p.type)
		if ty and (ty.k == "record" or ty.k == "array") then ty = nil end
		local entry = { index = i - 1, name = p.name, ty = ty or UINT64 }
		fa.params[i] = entry
		if p.name and p.name ~= "" then
			fa.by_name[p.name] = entry
			fa.names[#fa.names + 1] = p.name
		end
	end
	fa.ret_ty = proto.return_type and proto.return_type ~= 0 and btf:value_type(proto.return_type) or { k = "none" }
	return fa
end

function S:usdt_args(ap)
	local bpf = require "bpf"
	local a = ap.attach
	if not a.provider then raise(ap.spec, "usdt probes need usdt:BINARY:PROVIDER:NAME") end
	local ok, sites = pcall(bpf.usdt_probes, a.binary, a.provider, a.name)
	if not ok or not sites or #sites == 0 then
		raise(ap.spec, "no usdt probe %s:%s in '%s'", a.provider, a.name, a.binary)
	end
	local text = sites[1].args or ""
	for _, s in ipairs(sites) do
		if (s.args or "") ~= text then
			ap.usdt_mixed = true
		end
	end
	local specs = {}
	if text ~= "" then
		local parsed, err = bpf.usdt_args(text)
		if not parsed then raise(ap.spec, "usdt %s:%s: %s", a.provider, a.name, err) end
		specs = parsed
	end
	return specs
end

-- Checks one program (a probe body for one attach point).
function S:program(probe, ap, prog)
	-- one context table for every program of a compile: each field is set for this one
	local ctx = self.ctx
	-- (vars made with room for one variable)
	ctx.ap, ctx.kind, ctx.vars, ctx.prog = ap, ap.kind, { [true] = nil }, prog
	ctx.fmt, ctx.fargs, ctx.usdt_args = nil, nil, nil
	if ap.kind == "tracepoint" then
		ctx.fmt = ap.fmt or tracefs.format(tracefs.root(self.opts), ap.attach.category, ap.attach.name)
		if not ctx.fmt then raise(ap.spec, "cannot read the format of tracepoint %s", ap.target) end
	elseif ap.kind == "fentry" or ap.kind == "fexit" then
		ctx.fargs = prog.fargs or self:fargs(ap)
		prog.fargs = ctx.fargs
	elseif ap.kind == "usdt" then
		ctx.usdt_args = prog.usdt_args or self:usdt_args(ap)
		prog.usdt_args = ctx.usdt_args
	end
	if prog.pred then self:need_int(prog.pred, "a filter") end
	self:block(prog.body)
	prog.vars = ctx.vars
end

-- Expression checkers that are methods of this file (semantic_calls.lua has the others).
EXPR.ident, EXPR.var, EXPR.param, EXPR.map = S.builtin, S.var_read, S.param, S.map_read
EXPR.binop, EXPR.unop, EXPR.field, EXPR.index, EXPR.cast = S.binop, S.unop, S.field, S.index, S.cast

local MAX_PROBES = 512

-- Appends to `aps` the attach points of `list` not seen yet (by probe name).
local function add_unique(list, seen, aps)
	for i = 1, #list do
		local ap = list[i]
		if not seen[ap.probe] then
			seen[ap.probe] = true
			aps[#aps + 1] = ap
		end
	end
end

-- The semantic pass: returns { programs = {...}, maps = {...}, events = {...}, uses = {...} }.
local function analyze(ast, opts)
	local self = new_state(opts)
	self.warnings, self.warned = {}, {}
	local programs = {}
	local ast_probes = ast.probes
	for pi = 1, #ast_probes do
		local probe = ast_probes[pi]
		local specs = probe.specs
		local aps = probes.expand(specs[1], opts)
		if #aps > 1 then aps = multi.fold(specs[1], aps, probe) end -- (one is never folded)
		-- one spec expanded to one attach point (the common case) has nothing to deduplicate
		if #specs > 1 or #aps > 1 then
			local seen, unique = {}, {}
			add_unique(aps, seen, unique)
			for si = 2, #specs do
				local spec = specs[si]
				add_unique(multi.fold(spec, probes.expand(spec, opts), probe), seen, unique)
			end
			aps = unique
		end
		if #programs + #aps > MAX_PROBES then
			raise(probe.specs[1], "%d attach points: more than the %d bpftrace allows by default (BPFTRACE_MAX_PROBES)",
				#programs + #aps, MAX_PROBES)
		end
		-- each attach point types its own copy of the action (args differ between tracepoints)
		for i = 1, #aps do
			local ap = aps[i]
			local body, pred = probe.body, probe.pred
			if i > 1 then body, pred = clone(body), pred and clone(pred) end
			-- (vars is set later, elapsed_init by compile.lua: listed as nil, there is room for them)
			programs[#programs + 1] = { probe = probe, ap = ap, kind = ap.kind, body = body, pred = pred,
				vars = nil, elapsed_init = nil }
		end
	end
	-- One pass; a second (strict) one only when a map was read before the assignment that
	-- types it.
	for pass = 1, 2 do
		self.final = pass == 2
		self.retry = false
		self.events, self.event_keys, self.event_next = {}, {}, {}
		for i = 1, #programs do
			local prog = programs[i]
			self:program(prog.probe, prog.ap, prog)
		end
		if not self.retry then break end
	end
	local map_order = self.map_order
	for i = 1, #map_order do
		local m = map_order[i]
		if not m.kind then
			raise(m.first, "map %s is used but never assigned", m.name)
		end
	end
	return { programs = programs, maps = self.map_order, events = self.events, uses = self.uses,
		warnings = self.warnings }
end

return { analyze = analyze, PT_REGS = PT_REGS }
