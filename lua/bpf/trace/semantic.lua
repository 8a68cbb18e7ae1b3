-- Semantic pass of the trace compiler: expands attach points, gives every expression a type
-- (tracefs formats for tracepoint args, kernel BTF for kfunc args and pointer chains), checks
-- what each probe kind allows, and collects the maps and the event records the program uses.
local diag = require "bpf.trace.diag"
local probes = require "bpf.trace.probes"
local tracefs = require "bpf.trace.tracefs"
local types = require "bpf.trace.types"

local raise = diag.raise
local INT64, UINT64 = types.INT64, types.UINT64

local S = {}
S.__index = S

local AGGREGATIONS = { count = 0, sum = 1, avg = 1, min = 1, max = 1, stats = 1, hist = 1, lhist = 4 }
local UNSUPPORTED_CALLS = {
	join = true, system = true, cat = true, signal = true, override = true, reg = true,
	buf = true, cgroupid = true, macaddr = true, strftime = true, path = true, uptr = true,
	kptr = true, uaddr = true, sizeof = true, offsetof = true, strcontains = true, debugf = true,
	skboutput = true, pton = true, bswap = true, has_key = true, len = true, percpu_kaddr = true,
	unwatch = true, nsecs = true, strerror = true, errorf = true, warnf = true, socket_cookie = true,
}
local KNOWN_CALLS = { "count", "sum", "avg", "min", "max", "stats", "hist", "lhist", "str",
	"ksym", "usym", "ntop", "printf", "print", "clear", "delete", "zero", "exit", "time", "kaddr",
	"kstack", "ustack", "strncmp" }
local BUILTINS = { "pid", "tid", "uid", "gid", "cpu", "comm", "nsecs", "elapsed", "retval",
	"args", "curtask", "kstack", "ustack", "cgroup", "func", "probe", "cpid", "rand", "username",
	"arg0", "arg1", "arg2", "arg3", "arg4", "arg5" }
local UNSUPPORTED_BUILTINS = { username = true, rand = true, jiffies = true, numaid = true,
	sarg0 = true, sarg1 = true, sarg2 = true, ctx = true, usermode = true, __builtin_ncpus = true,
	ncpus = true }

local REGS_ARGS = { "di", "si", "dx", "cx", "r8", "r9" }
-- struct pt_regs offsets on x86-64
local PT_REGS = { r15 = 0, r14 = 8, r13 = 16, r12 = 24, bp = 32, bx = 40, r11 = 48, r10 = 56,
	r9 = 64, r8 = 72, ax = 80, cx = 88, dx = 96, si = 104, di = 112, orig_ax = 120, ip = 128,
	cs = 136, flags = 144, sp = 152, ss = 160 }
S.PT_REGS = PT_REGS

local function new_state(opts)
	return setmetatable({
		opts = opts,
		strlen = opts.strlen or 64,
		maps = {}, map_order = {},
		events = {}, event_keys = {},
		uses = {},
		btf = opts.btf_wrap,
	}, S)
end

---------------------------------------------------------------------------------------------
-- Maps

function S:map_info(node)
	local name = "@" .. node.name
	local m = self.maps[name]
	if not m then
		m = { name = name, first = node }
		self.maps[name] = m
		self.map_order[#self.map_order + 1] = m
	end
	return m
end

-- Records the key types of a map use (keys must agree in count and kind everywhere).
function S:map_keys(node)
	local m = self:map_info(node)
	local keys = {}
	for i, k in ipairs(node.keys or {}) do
		local ty = self:expr(k)
		if not types.is_value(ty) then
			raise(k, "%s cannot be used as a map key", types.name(ty))
		end
		keys[i] = ty
	end
	if not m.keys then
		m.keys = keys
	else
		if #m.keys ~= #keys then
			raise(node, "map %s is used with %d key%s here and %d elsewhere", m.name, #keys,
				#keys == 1 and "" or "s", #m.keys)
		end
		for i, ty in ipairs(keys) do
			local u = types.unify(m.keys[i], ty)
			if not u then
				raise(node.keys[i], "map %s: key %d is %s here but %s elsewhere", m.name, i,
					types.name(ty), types.name(m.keys[i]))
			end
			m.keys[i] = u
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
	if not types.is_value(ty) then
		raise(node, "%s cannot be stored in a map", types.name(ty))
	end
	if not m.value then m.value = ty; return end
	local u = types.unify(m.value, ty)
	if not u then
		raise(node, "map %s holds %s elsewhere; %s cannot be assigned to it", m.name,
			types.name(m.value), types.name(ty))
	end
	m.value = u
end

---------------------------------------------------------------------------------------------
-- Events (records through the ring buffer)

function S:event(node, kind, fields)
	if self.pass ~= 2 then return { id = 0 } end
	local key = kind .. ":" .. node.pos .. ":" .. (fields.sig or "")
	local ev = self.event_keys[key]
	if ev then return ev end
	ev = fields
	ev.sig = nil
	ev.kind = kind
	ev.id = #self.events + 1
	ev.node = node
	self.events[ev.id] = ev
	self.event_keys[key] = ev
	return ev
end

---------------------------------------------------------------------------------------------
-- Expressions

local function const_int(e)
	if e.kind == "int" then return e.value end
	if e.kind == "unop" and e.op == "-" and e.operand.kind == "int" then return -e.operand.value end
	return nil
end
S.const_int = const_int

function S:need_int(e, what)
	local ty = self:expr(e)
	if not types.is_intlike(ty) then
		raise(e, "%s must be an integer, not %s", what, types.name(ty))
	end
	return ty
end

-- Static string value of an expression (literals and string positional params), or nil.
function S:static_str(e)
	if e.kind == "str" then return e.value end
	if e.kind == "param" and e.ty and e.ty.k == "str" then return e.static end
	return nil
end

function S:builtin(e)
	local name = e.name
	local kind = self.ctx.kind
	if name == "pid" or name == "tid" or name == "uid" or name == "gid" or name == "cpu" or
		name == "nsecs" or name == "cgroup" then
		return UINT64
	elseif name == "elapsed" then
		self.uses.elapsed = true
		return UINT64
	elseif name == "comm" then
		return types.str(16)
	elseif name == "curtask" then
		local id = self:task_struct_id(e)
		return { k = "ptr", to = id, cname = "struct task_struct *" }
	elseif name == "kstack" or name == "ustack" then
		self.uses.stacks = true
		return { k = name, mode = "bpftrace", limit = 127 }
	elseif name == "retval" then
		if kind == "kretprobe" or kind == "uretprobe" then return INT64 end
		if kind == "fexit" then
			local fa = self.ctx.fargs
			e.farg_index = #fa.params
			local ty = fa.ret_ty
			if not ty or ty.k == "none" then raise(e, "function '%s' returns void", self.ctx.ap.attach.func) end
			return ty
		end
		raise(e, "the retval builtin can only be used with kretprobe, uretprobe and kretfunc probes")
	elseif name == "args" then
		if kind == "tracepoint" then return { k = "tpargs", fmt = self.ctx.fmt } end
		if kind == "fentry" or kind == "fexit" then return { k = "fargs", fargs = self.ctx.fargs } end
		raise(e, "the args builtin can only be used with tracepoint and kfunc/kretfunc probes")
	elseif name:match("^arg%d+$") then
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
			local spec = self.ctx.usdt_args
			if not spec[n + 1] then
				raise(e, "%s: the usdt probe has %d argument%s", name, #spec, #spec == 1 and "" or "s")
			end
			e.usdt = spec[n + 1]
			return { k = "int", signed = spec[n + 1].signed }
		end
		raise(e, "the %s builtin can only be used with kprobe, uprobe, usdt and rawtracepoint probes", name)
	elseif name == "func" then
		local a = self.ctx.ap.attach
		local f = a.func or a.symbol or a.name
		if not f then raise(e, "the func builtin can only be used with kprobe, uprobe, kfunc and usdt probes") end
		e.static = f
		return types.str(types.round8(#f + 1))
	elseif name == "probe" then
		e.static = self.ctx.ap.probe
		return types.str(types.round8(#e.static + 1))
	elseif name == "cpid" then
		if not self.opts.cpid then raise(e, "cpid is only available when a command is traced (-c CMD)") end
		return UINT64
	elseif UNSUPPORTED_BUILTINS[name] then
		raise(e, "the %s builtin is not supported", name)
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

function S:field(e)
	local bty = self:expr(e.base)
	local k = bty.k
	if k == "tpargs" then
		local f = bty.fmt.by_name[e.field]
		if not f then
			local names = {}
			for _, x in ipairs(bty.fmt.fields) do names[#names + 1] = x.name end
			raise({ pos = e.field_pos, epos = e.epos }, "tracepoint %s has no field '%s'%s",
				self.ctx.ap.target, e.field, diag.did_you_mean(e.field, names))
		end
		if f.data_loc then
			e.access = { how = "data_loc", offset = f.offset }
			return types.str(self.strlen)
		elseif f.array then
			local elem = f.elem:gsub("^const ", "")
			if elem:match("char$") or elem == "u8" or elem == "__u8" then
				e.access = { how = "ctx_bytes", offset = f.offset, size = f.size }
				return types.str(f.size)
			end
			raise(e, "tracepoint field '%s' is an array of %s (not supported)", f.name, f.elem)
		elseif f.pointer then
			e.access = { how = "ctx", offset = f.offset, size = 8, signed = false }
			local pid = self.btf and (self.btf:find(f.pointee:gsub("^const ", ""):gsub("^struct ", ""), "struct"))
			if pid and f.pointee:match("struct") then
				return { k = "ptr", to = pid, cname = f.ctype }
			end
			return { k = "ptr", to = 0, cname = f.ctype, user = true }
		else
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
			e.access = { how = "ctx", offset = f.offset, size = size, signed = signed }
			return { k = "int", signed = signed, size = size }
		end
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

local COMPARE = { ["=="] = true, ["!="] = true, ["<"] = true, ["<="] = true, [">"] = true, [">="] = true }

function S:binop(e)
	local op = e.op
	local lt, rt = self:expr(e.left), self:expr(e.right)
	if op == "&&" or op == "||" then
		if not types.is_intlike(lt) then raise(e.left, "'%s' needs integers, not %s", op, types.name(lt)) end
		if not types.is_intlike(rt) then raise(e.right, "'%s' needs integers, not %s", op, types.name(rt)) end
		return UINT64
	end
	if lt.k == "str" or rt.k == "str" then
		if (op == "==" or op == "!=") and lt.k == "str" and rt.k == "str" then
			e.strcmp = true
			return UINT64
		end
		raise(e, "'%s' between %s and %s is not supported", op, types.name(lt), types.name(rt))
	end
	if not types.is_intlike(lt) and not (lt.k == rt.k and (op == "==" or op == "!=") and types.is_scalar(lt)) then
		raise(e.left, "'%s' needs integers, not %s", op, types.name(lt))
	end
	if not types.is_intlike(rt) and not (lt.k == rt.k and types.is_scalar(rt)) then
		raise(e.right, "'%s' needs integers, not %s", op, types.name(rt))
	end
	local signed = (lt.signed ~= false and lt.k == "int") and (rt.signed ~= false and rt.k == "int")
	e.signed = signed
	if COMPARE[op] then return UINT64 end
	if lt.k == "ptr" and (op == "+" or op == "-") and rt.k == "int" then
		return { k = "int", signed = false }
	end
	return { k = "int", signed = signed }
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
	local ity = self:need_int(e.index, "an index")
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
	local _ = ity
	raise(e, "cannot index %s", types.name(bty))
end

function S:map_read(e)
	local m = self:map_keys(e)
	if m.kind and m.kind ~= "scalar" then
		raise(e, "reading the value of %s (a %s() map) inside a probe is not supported", m.name, m.kind)
	end
	if not m.value then
		if self.pass == 2 then raise(e, "map %s is read but never assigned", m.name) end
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

local function call_arity(e, min, max)
	local n = #e.args
	if n < min or n > max then
		local want = min == max and tostring(min) or (min .. " to " .. max)
		raise(e, "%s() takes %s argument%s, %d given", e.name, want, max == 1 and "" or "s", n)
	end
end

-- Value-producing calls (str, ksym, usym, ntop, kaddr, kstack/ustack(...)).
function S:call_value(e)
	local name = e.name
	if name == "str" then
		call_arity(e, 1, 2)
		local a = e.args[1]
		local ty = self:expr(a)
		local size = self.strlen
		if e.args[2] then
			self:need_int(e.args[2], "str()'s length")
			local n = const_int(e.args[2])
			if not n or n < 1 then raise(e.args[2], "str()'s length must be a positive constant") end
			if n < size then size = n + 1 end
			e.limit = size
		end
		if ty.k == "str" then
			if a.access and a.access.how == "data_loc" then return types.str(size) end
			return types.str(math.min(ty.size, size))
		end
		if not types.is_intlike(ty) then raise(a, "str() needs a pointer or an integer, not %s", types.name(ty)) end
		return types.str(size)
	elseif name == "ksym" then
		call_arity(e, 1, 1)
		self:need_int(e.args[1], "ksym()'s argument")
		return { k = "ksym" }
	elseif name == "usym" then
		call_arity(e, 1, 1)
		self:need_int(e.args[1], "usym()'s argument")
		return { k = "usym" }
	elseif name == "kaddr" then
		call_arity(e, 1, 1)
		local s = self:static_str(e.args[1])
		if not s then raise(e, "kaddr() needs a string literal") end
		local addr
		local f = io.open("/proc/kallsyms", "r")
		if f then
			for line in f:lines() do
				local a, sym = line:match("^(%x+) %a ([%w_%.]+)$")
				if sym == s then addr = a; break end
			end
			f:close()
		end
		if not addr then raise(e.args[1], "unknown kernel symbol '%s'", s) end
		e.value = tonumber(addr:sub(-13), 16)
		if #addr > 13 then
			-- keep exact 64-bit bits on Lua 5.3+ (kernel addresses are above 2^63)
			local ok, v = pcall(function() return math.tointeger(tonumber(addr, 16)) end)
			e.value = ok and v or e.value
			if type(e.value) ~= "number" or not math.type or math.type(e.value) ~= "integer" then
				local hi, lo = tonumber(addr:sub(1, -9), 16), tonumber(addr:sub(-8), 16)
				e.hi, e.lo = hi, lo
			end
		end
		return UINT64
	elseif name == "ntop" then
		call_arity(e, 1, 2)
		local a = e.args[#e.args]
		if #e.args == 2 then
			self:need_int(e.args[1], "ntop()'s address family")
			e.af = const_int(e.args[1])
		end
		local ty = self:expr(a)
		if types.is_intlike(ty) then
			e.af = e.af or 2
			if e.af ~= 2 then raise(e, "ntop() of an integer is an IPv4 address (AF_INET = 2)") end
		elseif ty.k == "array" and ty.size == 16 or ty.k == "record" and ty.size == 16 or
			ty.k == "str" and a.access and a.access.how == "ctx_bytes" and ty.size == 16 then
			e.af = e.af or 10
		elseif ty.k == "array" and ty.size == 4 or ty.k == "str" and ty.size == 4 then
			e.af = e.af or 2
		else
			raise(a, "ntop() needs an IPv4 address (an integer) or a 4 or 16-byte array, not %s", types.name(ty))
		end
		return { k = "inet" }
	elseif name == "kstack" or name == "ustack" then
		call_arity(e, 0, 2)
		local mode, limit = "bpftrace", 127
		for _, a in ipairs(e.args) do
			if a.kind == "ident" and (a.name == "bpftrace" or a.name == "perf" or a.name == "raw") then
				mode = a.name
			else
				local n = const_int(a)
				if not n then raise(a, "%s()'s arguments are a mode (bpftrace, perf, raw) and a constant depth", name) end
				if n < 1 or n > 127 then raise(a, "%s() depth must be 1 to 127", name) end
				limit = n
			end
		end
		self.uses.stacks = true
		return { k = name, mode = mode, limit = limit }
	elseif name == "strncmp" then
		call_arity(e, 3, 3)
		local a, b = self:expr(e.args[1]), self:expr(e.args[2])
		if a.k ~= "str" or b.k ~= "str" then raise(e, "strncmp() compares two strings") end
		local n = const_int(e.args[3])
		if not n or n < 0 then raise(e.args[3], "strncmp()'s length must be a constant") end
		e.n = n
		return UINT64
	end
	return nil
end

function S:expr(e)
	local k = e.kind
	local ty
	if k == "int" then
		ty = INT64
	elseif k == "str" then
		ty = types.str(types.round8(#e.value + 1))
	elseif k == "ident" then
		ty = self:builtin(e)
	elseif k == "var" then
		ty = self:var_read(e)
	elseif k == "param" then
		ty = self:param(e)
	elseif k == "map" then
		ty = self:map_read(e)
	elseif k == "binop" then
		ty = self:binop(e)
	elseif k == "unop" then
		ty = self:unop(e)
	elseif k == "ternary" then
		self:need_int(e.cond, "a condition")
		local a, b = self:expr(e.a), self:expr(e.b)
		local u = types.is_value(a) and types.unify(a, b)
		if not u then
			raise(e, "the two branches of '?:' have different types (%s and %s)", types.name(a), types.name(b))
		end
		if a.k == "str" then u = types.str(math.max(a.size, b.size)) end
		ty = u
	elseif k == "field" then
		ty = self:field(e)
	elseif k == "index" then
		ty = self:index(e)
	elseif k == "cast" then
		ty = self:cast(e)
	elseif k == "incdec" then
		local t = e.target
		if t.kind == "map" then
			local m = self:map_keys(t)
			self:map_kind(m, "scalar", t)
			self:map_value(m, INT64, t)
			t.map = m
		elseif t.kind == "var" then
			local vt = self.ctx.vars[t.name]
			if not vt then raise(t, "variable $%s is used before it is assigned", t.name) end
			if not types.is_intlike(vt) then raise(t, "'%s' needs an integer variable", e.op) end
		else
			raise(e, "'%s' applies to maps and variables only", e.op)
		end
		ty = INT64
	elseif k == "call" then
		ty = self:call_value(e)
		if not ty then ty = self:call_stmt(e, false) end
	else
		raise(e, "unexpected %s", k)
	end
	e.ty = ty
	return ty
end

---------------------------------------------------------------------------------------------
-- Calls with effects (and aggregations, which only appear as `@map = f(...)`)

local FORMAT_CONV = "[diuxXocsp]"

-- Checks a printf format against its argument types; returns the list of conversions.
function S:check_format(e, fmt, tys, first_arg)
	local convs, i = {}, 1
	while true do
		local p = fmt:find("%", i, true)
		if not p then break end
		if fmt:sub(p + 1, p + 1) == "%" then
			i = p + 2
		else
			local spec, conv = fmt:match("^%%([%-%+ #0]*%d*%.?%d*[hlzjt]*)(%a?)", p)
			if not spec or conv == "" or not conv:match(FORMAT_CONV) then
				raise(e.args[1], "printf: bad conversion '%s' in the format (supported: %%d %%i %%u %%x %%X %%o %%c %%s %%p)",
					fmt:sub(p, p + #(spec or "") + 1))
			end
			convs[#convs + 1] = conv
			i = p + 1 + #spec + 1
		end
	end
	if #convs ~= #tys then
		raise(e, "%s: the format has %d conversion%s but %d argument%s %s given", e.name, #convs,
			#convs == 1 and "" or "s", #tys, #tys == 1 and "" or "s", #tys == 1 and "is" or "are")
	end
	for j, conv in ipairs(convs) do
		local ty = tys[j]
		local a = e.args[first_arg + j - 1]
		if conv == "s" then
			if types.is_intlike(ty) then
				raise(a, "%s: %%s expects a string, %s given", e.name, types.name(ty))
			end
		elseif not (types.is_intlike(ty)) then
			raise(a, "%s: %%%s expects an integer, %s given", e.name, conv, types.name(ty))
		end
	end
	return convs
end

local function record_args(tys)
	local args, off, sig = {}, 8, {}
	for i, ty in ipairs(tys) do
		local pt = types.plan_type(ty)
		pt.offset = off
		args[i] = pt
		off = off + pt.size
		sig[#sig + 1] = pt.type .. pt.size
	end
	return args, off, table.concat(sig, ",")
end

function S:map_arg(e, fname, allow_keys)
	local a = e.args[1]
	if not a or a.kind ~= "map" then raise(e, "%s() needs a map as its first argument", fname) end
	if a.keys and not allow_keys then
		raise(a, "%s() takes a whole map (%s), not an element", fname, "@" .. a.name)
	end
	local m = self:map_info(a)
	a.map = m
	return m, a
end

function S:call_stmt(e, is_stmt)
	local name = e.name
	if name == "printf" then
		if #e.args == 0 then raise(e, "printf() needs a format string") end
		local fmt = self:static_str(e.args[1])
		if not fmt then raise(e.args[1], "printf()'s first argument must be a string literal") end
		local tys = {}
		for i = 2, #e.args do
			local ty = self:expr(e.args[i])
			if not types.is_value(ty) then
				raise(e.args[i], "printf: %s cannot be printed", types.name(ty))
			end
			tys[#tys + 1] = ty
		end
		self:check_format(e, fmt, tys, 2)
		local args, size, sig = record_args(tys)
		e.event = self:event(e, "printf", { fmt = fmt, args = args, size = size, sig = sig })
		e.arg_tys = tys
	elseif name == "print" then
		call_arity(e, 1, 3)
		local a = e.args[1]
		if a.kind == "map" and not a.keys then
			local m = self:map_info(a)
			a.map = m
			local top = e.args[2] and const_int(e.args[2]) or 0
			local div = e.args[3] and const_int(e.args[3]) or 0
			if not top or not div then raise(e, "print()'s top and div must be constants") end
			e.event = self:event(e, "print_map", { map = m.name, top = top, div = div, size = 8 })
		else
			if #e.args > 1 then raise(e, "print() of a value takes one argument") end
			local ty = self:expr(a)
			if not types.is_value(ty) then raise(a, "print: %s cannot be printed", types.name(ty)) end
			local args, size, sig = record_args({ ty })
			e.event = self:event(e, "print_value", { args = args, size = size, sig = sig })
			e.arg_tys = { ty }
		end
	elseif name == "clear" or name == "zero" then
		call_arity(e, 1, 1)
		local m = self:map_arg(e, name, false)
		e.event = self:event(e, name, { map = m.name, size = 8 })
	elseif name == "delete" then
		call_arity(e, 1, 2)
		local a = e.args[1]
		if a.kind ~= "map" then raise(e, "delete() needs a map element (@x[key])") end
		if #e.args == 2 then
			if a.keys then raise(e, "delete(@x, key) takes the map without a key") end
			a = { kind = "map", name = a.name, keys = { e.args[2] }, pos = a.pos, epos = e.args[2].epos }
			e.args = { a }
		end
		local m = self:map_keys(a)
		a.map = m
		if #(m.keys or {}) > 0 and not a.keys then raise(a, "delete() needs a key: %s has keys", m.name) end
	elseif name == "exit" then
		call_arity(e, 0, 1)
		e.event = self:event(e, "exit", { size = 8 })
	elseif name == "time" then
		call_arity(e, 0, 1)
		local fmt = "%H:%M:%S\n"
		if e.args[1] then
			fmt = self:static_str(e.args[1])
			if not fmt then raise(e.args[1], "time()'s format must be a string literal") end
		end
		e.event = self:event(e, "time", { fmt = fmt, size = 8 })
	elseif AGGREGATIONS[name] then
		raise(e, "%s() can only be assigned to a map (@x = %s(...))", name, name)
	elseif UNSUPPORTED_CALLS[name] then
		raise({ pos = e.pos, epos = e.name_epos }, "`%s()` is not supported", name)
	else
		raise({ pos = e.pos, epos = e.name_epos }, "unknown function '%s'%s", name,
			diag.did_you_mean(name, KNOWN_CALLS))
	end
	if not is_stmt and name ~= "exit" then
		-- used as a value
		raise(e, "%s() does not return a value", name)
	end
	return { k = "none" }
end

function S:aggregation(s, m, call)
	local name = call.name
	local n = #call.args
	local want = AGGREGATIONS[name]
	if name == "hist" then
		if n < 1 or n > 2 then raise(call, "hist() takes 1 or 2 arguments, %d given", n) end
		if n == 2 then
			local k = const_int(call.args[2])
			if k ~= 0 then raise(call.args[2], "hist() with a second argument other than 0 is not supported") end
		end
	elseif n ~= want then
		raise(call, "%s() takes %d argument%s, %d given", name, want, want == 1 and "" or "s", n)
	end
	self:map_kind(m, name, s.target)
	if want >= 1 then
		local ty = self:need_int(call.args[1], name .. "()'s argument")
		m.signed = (m.signed == nil) and (ty.signed ~= false and ty.k == "int") or (m.signed and ty.signed)
	end
	if name == "lhist" then
		local lo, hi, step = const_int(call.args[2]), const_int(call.args[3]), const_int(call.args[4])
		if not (lo and hi and step) then raise(call, "lhist()'s min, max and step must be constants") end
		if lo < 0 then raise(call.args[2], "lhist() min must be non-negative") end
		if hi <= lo then raise(call.args[3], "lhist() max must be greater than min") end
		if step < 1 then raise(call.args[4], "lhist() step must be at least 1") end
		if (hi - lo) / step > 1000 then raise(call, "lhist() has too many buckets (at most 1000)") end
		local l = { min = lo, max = hi, step = step }
		if m.lhist and (m.lhist.min ~= lo or m.lhist.max ~= hi or m.lhist.step ~= step) then
			raise(call, "lhist() of %s has different min, max or step elsewhere", m.name)
		end
		m.lhist = l
	end
	call.ty = { k = "agg", fn = name }
end

---------------------------------------------------------------------------------------------
-- Statements

function S:assign(s)
	local t = s.target
	local v = s.value
	if t.kind == "map" then
		local m = self:map_keys(t)
		t.map = m
		if s.op == "" and v.kind == "call" and AGGREGATIONS[v.name] then
			self:aggregation(s, m, v)
			s.agg = v.name
			return
		end
		if m.kind and m.kind ~= "scalar" and s.op ~= "" then
			raise(s, "%s is a %s() map: '%s=' does not apply", m.name, m.kind, s.op)
		end
		self:map_kind(m, "scalar", t)
		local ty = self:expr(v)
		if s.op ~= "" then
			if not types.is_intlike(ty) then raise(v, "'%s=' needs an integer, not %s", s.op, types.name(ty)) end
			ty = INT64
		end
		if ty.k == "ptr" then ty = UINT64 end
		self:map_value(m, ty, v)
	else
		local ty = self:expr(v)
		local vars = self.ctx.vars
		if s.op ~= "" then
			local cur = vars[t.name]
			if not cur then raise(t, "variable $%s is used before it is assigned", t.name) end
			if not types.is_intlike(cur) or not types.is_intlike(ty) then
				raise(s, "'%s=' needs integers", s.op)
			end
			return
		end
		if not types.is_value(ty) then
			if ty.k == "record" or ty.k == "array" then
				raise(v, "%s cannot be stored in a variable (only integers, pointers and strings)", types.name(ty))
			end
			raise(v, "%s cannot be assigned", types.name(ty))
		end
		local cur = vars[t.name]
		if cur then
			local u = types.unify(cur, ty)
			if not u then
				raise(s, "variable $%s holds %s; %s cannot be assigned to it", t.name, types.name(cur), types.name(ty))
			end
			if u.k == "str" and u.size ~= cur.size then
				if self.pass == 2 and u.size > cur.size then
					raise(v, "variable $%s holds string[%d]; a longer string[%d] cannot be assigned to it",
						t.name, cur.size, u.size)
				end
				u = cur
			end
			vars[t.name] = (cur.k == "ptr" or ty.k == "ptr") and cur or u
		else
			vars[t.name] = ty
		end
		t.ty = vars[t.name]
	end
end

function S:block(b)
	for _, s in ipairs(b.stmts) do self:stmt(s) end
end

function S:stmt(s)
	local k = s.kind
	if k == "assign" then
		self:assign(s)
	elseif k == "expr_stmt" then
		local e = s.expr
		if e.kind == "call" and not (e.name == "str" or e.name == "ksym" or e.name == "usym" or
			e.name == "ntop" or e.name == "kaddr" or e.name == "strncmp" or e.name == "kstack" or e.name == "ustack") then
			self:call_stmt(e, true)
			e.ty = { k = "none" }
		elseif e.kind == "incdec" then
			self:expr(e)
		else
			self:expr(e)
			if self.pass == 2 then
				-- bpftrace accepts expression statements with no effect; so do we (nothing emitted)
				s.no_effect = true
			end
		end
	elseif k == "if" then
		self:need_int(s.cond, "an if condition")
		self:block(s.then_)
		if s.else_ then self:block(s.else_) end
	elseif k == "unroll" then
		local n = const_int(s.count)
		if not n then raise(s.count, "unroll()'s count must be a constant") end
		if n < 1 or n > 100 then raise(s.count, "unroll() count must be 1 to 100") end
		s.n = n
		self:block(s.body)
	elseif k == "block" then
		self:block(s)
	else
		raise(s, "unexpected statement %s", k)
	end
end

---------------------------------------------------------------------------------------------
-- Probe contexts

local function clone(n)
	if type(n) ~= "table" then return n end
	local c = {}
	for k, v in pairs(n) do
		if k == "map" or k == "ty" or k == "event" or k == "access" then
			-- annotations from an earlier pass are recomputed
		else
			c[k] = clone(v)
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
	local ctx = { ap = ap, kind = ap.kind, vars = {}, prog = prog }
	self.ctx = ctx
	if ap.kind == "tracepoint" then
		ctx.fmt = tracefs.format(tracefs.root(self.opts), ap.attach.category, ap.attach.name)
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

-- The semantic pass: returns { programs = {...}, maps = {...}, events = {...}, uses = {...} }.
local function analyze(ast, opts)
	local self = new_state(opts)
	local programs = {}
	for _, probe in ipairs(ast.probes) do
		local seen = {}
		for _, spec in ipairs(probe.specs) do
			for _, ap in ipairs(probes.expand(spec, opts)) do
				if not seen[ap.probe] then
					seen[ap.probe] = true
					programs[#programs + 1] = { probe = probe, ap = ap, kind = ap.kind,
						body = clone(probe.body), pred = probe.pred and clone(probe.pred) }
				end
			end
		end
	end
	for pass = 1, 2 do
		self.pass = pass
		for _, prog in ipairs(programs) do self:program(prog.probe, prog.ap, prog) end
	end
	for _, m in ipairs(self.map_order) do
		if not m.kind then
			raise(m.first, "map %s is used but never assigned", m.name)
		end
	end
	return { programs = programs, maps = self.map_order, events = self.events, uses = self.uses }
end

return { analyze = analyze, PT_REGS = PT_REGS }
