-- Semantic pass of the trace compiler, calls: the value functions (str, ksym, usym, ntop,
-- kaddr, kstack/ustack, bswap, strncmp), the statements that send records (printf, print,
-- clear, zero, time, join, exit), delete, and the aggregations with their argument rules.
-- Methods of semantic.lua's checker (self), mixed in.
local diag = require "bpf.trace.diag"
local types = require "bpf.trace.types"
-- kernel symbols: read only by programs that need them (kprobes, kfuncs, kaddr)
local function ksyms() return require "bpf.trace.ksyms" end

local raise = diag.raise
local INT64, UINT64, NONE = types.INT64, types.UINT64, types.NONE
local VALUE, INTLIKE = types.VALUE_KINDS, types.INTLIKE_KINDS
local plan_type = types.plan_type

local S = {}

local AGGREGATIONS = { count = 0, sum = 1, avg = 1, min = 1, max = 1, stats = 1, hist = 1, lhist = 4 }
local UNSUPPORTED_CALLS = {
	system = true, cat = true, signal = true, override = true, reg = true,
	buf = true, cgroupid = true, macaddr = true, strftime = true, path = true, uptr = true,
	kptr = true, uaddr = true, sizeof = true, offsetof = true, strcontains = true, debugf = true,
	skboutput = true, pton = true, has_key = true, len = true, percpu_kaddr = true,
	unwatch = true, nsecs = true, strerror = true, errorf = true, warnf = true, socket_cookie = true,
}
local KNOWN_CALLS = { "count", "sum", "avg", "min", "max", "stats", "hist", "lhist", "str",
	"ksym", "usym", "ntop", "printf", "print", "clear", "delete", "zero", "exit", "time", "kaddr",
	"kstack", "ustack", "strncmp", "join", "bswap" }
local function const_int(e)
	if e.kind == "int" then return e.value end
	if e.kind == "unop" and e.op == "-" and e.operand.kind == "int" then return -e.operand.value end
	return nil
end
S.const_int = const_int

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
		local addr = ksyms().address(s)
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
		elseif ty.k == "str" and ty.char_array and ty.size == 16 then
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
	elseif name == "bswap" then
		call_arity(e, 1, 1)
		local ty = self:need_int(e.args[1], "bswap()'s argument")
		e.bits = (ty.size or 8) * 8
		return { k = "int", signed = false, size = ty.size or 8 }
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

-- Expression checkers by node kind: each returns the node's type. The kinds whose checker is a
-- method of semantic.lua are filled in there (S.EXPR), with the method itself: one call per node.
local EXPR = {}
S.EXPR = EXPR
EXPR["int"] = function() return INT64 end
-- string literals: one shared type per length
local str_types = {}
EXPR["str"] = function(_, e)
	local n = #e.value
	local ty = str_types[n]
	if not ty then ty = types.str(types.round8(n + 1)); str_types[n] = ty end
	return ty
end
EXPR["ternary"] = function(self, e)
	self:need_int(e.cond, "a condition")
	local a, b = self:expr(e.a), self:expr(e.b)
	local u = types.is_value(a) and types.unify(a, b)
	if not u then
		raise(e, "the two branches of '?:' have different types (%s and %s)", types.name(a), types.name(b))
	end
	if a.k == "str" then u = types.str(math.max(a.size, b.size)) end
	return u
end
EXPR["incdec"] = function(self, e)
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
	return INT64
end
EXPR["call"] = function(self, e)
	return self:call_value(e) or self:call_stmt(e, false)
end

function S:expr(e)
	local check = EXPR[e.kind]
	if not check then raise(e, "unexpected %s", e.kind) end
	local ty = check(self, e)
	e.ty = ty
	return ty
end

---------------------------------------------------------------------------------------------
-- Calls with effects (and aggregations, which only appear as `@map = f(...)`)

local FORMAT_CONV = "[diuxXocsp]"

-- Checks a printf format against its argument types; returns the list of conversions.
-- Conversions of the formats already read (formats repeat across probes and wildcards).
local format_convs = {}

function S:check_format(e, fmt, tys, first_arg)
	local convs = format_convs[fmt]
	if not convs then
		convs = self:parse_format(e, fmt)
		format_convs[fmt] = convs
	end
	local n = #convs
	if n ~= #tys then
		raise(e, "%s: the format has %d conversion%s but %d argument%s %s given", e.name, n,
			n == 1 and "" or "s", #tys, #tys == 1 and "" or "s", #tys == 1 and "is" or "are")
	end
	for j = 1, n do
		local conv, ty = convs[j], tys[j]
		if conv == "s" then
			if INTLIKE[ty.k] then
				raise(e.args[first_arg + j - 1], "%s: %%s expects a string, %s given", e.name, types.name(ty))
			end
		elseif not INTLIKE[ty.k] then
			raise(e.args[first_arg + j - 1], "%s: %%%s expects an integer, %s given", e.name, conv,
				types.name(ty))
		end
	end
	return convs
end

function S:parse_format(e, fmt)
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
	return convs
end

-- The record of arguments of types `tys`: plan types with their offsets, and its size.
local function record_args(tys)
	local args, off = { nil, nil, nil, nil }, 8 -- (room for four, as printf's tys)
	for i = 1, #tys do
		local ty = tys[i]
		-- (plan_type's integer case inline)
		local pt = ty.k == "int" and { type = "int", size = 8, signed = ty.signed } or plan_type(ty)
		pt.offset = off
		args[i] = pt
		off = off + pt.size
	end
	return args, off
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
		-- (room for four arguments made with the table: filling it does not grow it)
		local tys = { nil, nil, nil, nil }
		local args = e.args
		for i = 2, #args do
			tys[i - 1] = self:need_value(args[i], "printf: %s cannot be printed")
		end
		self:check_format(e, fmt, tys, 2)
		local record, size = record_args(tys)
		-- (id and node, set by event, listed: the table is made with room for them)
		e.event = self:event(e, "printf", { kind = "printf", fmt = fmt, args = record, size = size,
			id = nil, node = nil })
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
			if m.kind == "stats" and #e.args > 1 then
				self:warn(e, "print()'s top and div arguments are ignored when used on stats() maps.")
			end
			e.event = self:event(e, "print_map", { map = m.name, top = top, div = div, size = 8 })
		else
			if #e.args > 1 then raise(e, "print() of a value takes one argument") end
			local ty = self:expr(a)
			if not types.is_value(ty) then raise(a, "print: %s cannot be printed", types.name(ty)) end
			local args, size = record_args({ ty })
			e.event = self:event(e, "print_value", { kind = "print_value", args = args, size = size })
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
	elseif name == "join" then
		call_arity(e, 1, 2)
		self:need_int(e.args[1], "join()'s argument (an array of string pointers)")
		local sep = " "
		if e.args[2] then
			sep = self:static_str(e.args[2])
			if not sep then raise(e.args[2], "join()'s delimiter must be a string literal") end
		end
		local n, size = 16, self.strlen
		e.event = self:event(e, "join", { sep = sep, max_args = n, arg_size = size, size = 16 + n * size })
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
	return NONE
end

local AGG_TYPES, AGG_ARG = {}, {}
for name in pairs(AGGREGATIONS) do
	AGG_TYPES[name] = { k = "agg", fn = name }
	AGG_ARG[name] = name .. "()'s argument"
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
	local kind = m.kind
	if kind ~= name then
		if kind then self:map_kind(m, name, s.target) end -- (raises)
		m.kind = name
	end
	if want >= 1 then
		local a = call.args[1]
		local ty = self:need_int(a, AGG_ARG[name])
		-- signed while every argument is a signed integer (nil, not false, when the first is not)
		local signed = m.signed
		if signed == nil then
			if ty.signed ~= false and ty.k == "int" then m.signed = true end
		else
			m.signed = signed and ty.signed
		end
	end
	if name == "lhist" then
		local args = call.args
		-- (const_int's literal case inline)
		local a2, a3, a4 = args[2], args[3], args[4]
		local lo = a2.kind == "int" and a2.value or const_int(a2)
		local hi = a3.kind == "int" and a3.value or const_int(a3)
		local step = a4.kind == "int" and a4.value or const_int(a4)
		if not (lo and hi and step) then raise(call, "lhist()'s min, max and step must be constants") end
		if lo < 0 then raise(call.args[2], "lhist() min must be non-negative") end
		if hi <= lo then raise(call.args[3], "lhist() max must be greater than min") end
		if step < 1 then raise(call.args[4], "lhist() step must be at least 1") end
		if (hi - lo) / step > 1000 then raise(call, "lhist() has too many buckets (at most 1000)") end
		local l = m.lhist
		if not l then
			m.lhist = { min = lo, max = hi, step = step }
		elseif l.min ~= lo or l.max ~= hi or l.step ~= step then
			raise(call, "lhist() of %s has different min, max or step elsewhere", m.name)
		end
	end
	call.ty = AGG_TYPES[name]
end

S.AGGREGATIONS = AGGREGATIONS
return S
