-- Code generation of the trace compiler: each typed program becomes a bpf.asm builder.
-- Conventions: r6 holds the context for the whole program; an integer expression leaves its
-- value in r0; strings and other buffers are built in stack slots (zero-filled, so they compare
-- and hash bytewise); r7/r8 hold values across helper calls inside one statement.
local fast = require "bpf.asm_fast"
local diag = require "bpf.trace.diag"
local types = require "bpf.trace.types"

local raise = diag.raise

local G = {}
G.__index = G
local maps = require "bpf.trace.codegen_maps"
for name, method in pairs(maps.methods) do G[name] = method end
local IS_BUFFER = maps.IS_BUFFER

-- The hottest methods, called as locals within this file (no lookup through the metatable).
local gen, stmt, block, operands, cond, into, aggregate

local MAX_INSNS = 100000 -- far below the verifier's limits; bounds the compile time too
local BPF_F_USER_STACK = 256

---------------------------------------------------------------------------------------------
-- Small emitters

-- r = constant (any 64-bit value).
function G:const(r, v)
	if type(v) == "number" and v >= -2147483648 and v <= 2147483647 and v % 1 == 0 then
		self.b:mov(r, v)
	else
		self.b:ld_imm64(r, v)
	end
end

-- Copies n bytes from [src + soff] to the stack at doff, in the widest accesses alignment allows.
local WIDTHS, WIDTH_NAMES = { 8, 4, 2, 1 }, { "u64", "u32", "u16", "u8" }
function G:copy(src, soff, doff, n)
	local b = self.b
	local i = 0
	for k = 1, 4 do
		local w, wn = WIDTHS[k], WIDTH_NAMES[k]
		while i + w <= n and (soff + i) % w == 0 and (doff + i) % w == 0 do
			b:ldx(wn, "r1", src, soff + i)
			b:stx(wn, "r10", doff + i, "r1")
			i = i + w
		end
	end
	while i < n do
		b:ldx("u8", "r1", src, soff + i)
		b:stx("u8", "r10", doff + i, "r1")
		i = i + 1
	end
end

-- Sign- or zero-extends r0 from `size` bytes to 64 bits.
function G:extend(r, size, signed)
	if size >= 8 then return end
	local b = self.b
	local bits = 64 - size * 8
	if signed then
		b:lsh(r, bits); b:arsh(r, bits)
	elseif size == 4 then
		b:mov("w" .. r:sub(2), "w" .. r:sub(2))
	else
		b:and_(r, size == 1 and 0xff or 0xffff)
	end
end

-- r1 = map (by reference; the loader binds references to real maps).
function G:ld_map(r, ref) self.b:ld_map(r, ref) end

-- -k and -kk (bpftrace's helper checks): the helpers whose failure is reported, by level.
local CHECKED = { map_update_elem = 1, map_delete_elem = 1, get_stackid = 1, get_current_comm = 1,
	probe_read = 2, probe_read_str = 2, probe_read_kernel = 2, probe_read_kernel_str = 2,
	probe_read_user = 2, probe_read_user_str = 2 }

-- A helper call with nargs arguments in r1..r(nargs); the builder checks them against the
-- helper's prototype. hooks.before_call(b, name, nargs) (specs only) may emit before it and
-- return another count.
local hooks = {}
function G:call(name, nargs)
	local hook = hooks.before_call
	if hook then nargs = hook(self.b, name, nargs) or nargs end
	self.b:call(name, nargs)
	local level = CHECKED[name]
	if level and self.check_level >= level then
		self:helper_error(name, false)
	end
end

-- Writes a constant string at off (size bytes, zero-padded) with 32-bit stores.
function G:store_static(s, off, size)
	local b = self.b
	local bytes = s:sub(1, size - 1)
	local i = 0
	while i < size do
		local v = 0
		for j = 3, 0, -1 do
			local c = bytes:byte(i + j + 1) or 0
			v = v * 256 + c
		end
		if i + 4 <= size then
			b:st("u32", "r10", off + i, v)
			i = i + 4
		else
			b:st("u8", "r10", off + i, v % 256)
			i = i + 1
		end
	end
end

---------------------------------------------------------------------------------------------
-- Addresses and memory reads

-- Leaves in r0 the kernel address of a place expression (record/array, or a field's base).
function G:addr(e)
	local k = e.kind
	if k == "field" or k == "index" or (k == "unop" and e.op == "*") then
		local a = e.access
		if not a or a.how ~= "mem" then raise(e, "cannot take the address of this expression") end
		if k == "field" then
			if e.arrow then gen(self, e.base) else self:addr(e.base) end
		elseif k == "index" then
			if e.base.ty.k == "ptr" then gen(self, e.base) else self:addr(e.base) end
		else
			gen(self, e.operand)
		end
		if a.offset ~= 0 then self.b:add("r0", a.offset) end
		return
	end
	if k == "cast" or (e.ty and e.ty.k == "ptr") then
		gen(self, e)
		return
	end
	raise(e, "cannot take the address of this expression")
end

local SIZE_NAMES = { [1] = "u8", [2] = "u16", [4] = "u32", [8] = "u64" }

-- Reads `size` bytes at the address in r0 into the read slot; result in r0 (extended).
function G:read_mem(size, signed, bitfield)
	local b = self.b
	local rd = self.read_slot
	b:st("u64", "r10", rd, 0)
	b:mov("r3", "r0")
	b:stack_ptr("r1", rd)
	b:mov("r2", bitfield and 8 or size)
	self:call("probe_read", 3)
	if bitfield then
		b:ldx("u64", "r0", "r10", rd)
		if bitfield.shift > 0 then b:rsh("r0", bitfield.shift) end
		if bitfield.bits < 64 then
			if signed then
				b:lsh("r0", 64 - bitfield.bits); b:arsh("r0", 64 - bitfield.bits)
			else
				self:const("r1", math.floor(2 ^ bitfield.bits) - 1)
				b:and_("r0", "r1")
			end
		end
		return
	end
	local sz = SIZE_NAMES[size]
	if not sz then raise(nil, "internal: read of %d bytes", size) end
	b:ldx(sz, "r0", "r10", rd)
	if signed then self:extend("r0", size, true) end
end

-- Loads a field/index/deref node's value (scalar types) into r0.
function G:load_access(e)
	local a = e.access
	local ty = e.ty
	local b = self.b
	if a.how == "ctx" then
		local sz = SIZE_NAMES[a.size]
		b:ldx(sz, "r0", "r6", a.offset)
		if a.signed then self:extend("r0", a.size, true) end -- loads zero-extend
	elseif a.how == "farg" then
		b:ldx("u64", "r0", "r6", a.index * 8)
		if ty.k == "int" and ty.size and ty.size < 8 then self:extend("r0", ty.size, ty.signed) end
	elseif a.how == "mem" then
		if ty.k == "record" or ty.k == "array" then
			raise(e, "%s is not a value: reach one of its fields", types.name(ty))
		end
		self:addr(e)
		local size = ty.size or 8
		if ty.k == "ptr" then size = 8 end
		self:read_mem(size, ty.signed, a.bitfield)
	else
		raise(e, "internal: cannot load %s", tostring(a.how))
	end
end

---------------------------------------------------------------------------------------------
-- Integer expressions (result in r0)

local JUMP_NEG = { ["=="] = "!=", ["!="] = "==", ["<"] = ">=", ["<="] = ">", [">"] = "<=", [">="] = "<" }
local JUMP_SIGNED = { ["<"] = "s<", ["<="] = "s<=", [">"] = "s>", [">="] = "s>=" }
local ALU = { ["+"] = "add", ["-"] = "sub", ["*"] = "mul", ["/"] = "div", ["%"] = "mod",
	["&"] = "and_", ["|"] = "or_", ["^"] = "xor", ["<<"] = "lsh", [">>"] = "rsh" }

-- Evaluates left into r0 and right into r1 (or returns right as an immediate: an int literal or
-- an int positional parameter that fits 32 bits).
function G:operands(left, right)
	local rk = right.kind
	if rk == "int" or rk == "param" then
		local v = right.value
		if rk == "int" then
			if v >= -2147483648 and v <= 2147483647 and v % 1 == 0 then
				gen(self, left)
				return v
			end
		elseif right.ty and right.ty.k == "int" and v and v >= -2147483648 and v <= 2147483647 then
			gen(self, left)
			return v
		end
	end
	local b = self.b
	if rk == "var" and types.is_scalar(right.ty) then
		gen(self, left)
		b:ldx("u64", "r1", "r10", self.vars[right.name])
		return "r1"
	end
	local used = b:stack_used()
	local slot = b:stack(8, 8)
	gen(self, left)
	b:stx("u64", "r10", slot, "r0")
	gen(self, right)
	b:mov("r1", "r0")
	b:ldx("u64", "r0", "r10", slot)
	b:stack_reset(used)
	return "r1"
end

-- Jumps to `false_label` when e is false (0); falls through otherwise.
function G:cond(e, false_label)
	local b = self.b
	local k = e.kind
	if k == "binop" then
		local op = e.op
		if e.strcmp then
			if op == "==" then
				self:strcmp_jump(e, false_label)
			else
				local ne = b:new_label("ne")
				self:strcmp_jump(e, ne)
				b:ja(false_label)
				b:label(ne)
			end
			return
		end
		local neg = JUMP_NEG[op]
		if neg then
			-- jumps to false_label when the negated comparison holds between r0 and src
			local src = operands(self, e.left, e.right)
			if e.signed and JUMP_SIGNED[neg] then neg = JUMP_SIGNED[neg] end
			b:jcond(neg, "r0", src, false_label)
			return
		end
		if op == "&&" then
			cond(self, e.left, false_label)
			cond(self, e.right, false_label)
			return
		end
	elseif k == "unop" and e.op == "!" then
		local t = b:new_label("not")
		cond(self, e.operand, t)
		b:ja(false_label)
		b:label(t)
		return
	end
	gen(self, e)
	b:jeq("r0", 0, false_label)
end

function G:binop(e)
	local b = self.b
	local op = e.op
	if e.strcmp then
		return self:strcmp(e)
	end
	if op == "&&" or op == "||" then
		local f, done = b:new_label("f"), b:new_label("done")
		if op == "&&" then
			cond(self, e, f)
			b:mov("r0", 1); b:ja(done)
			b:label(f); b:mov("r0", 0)
		else
			local t = b:new_label("t")
			gen(self, e.left)
			b:jne("r0", 0, t)
			gen(self, e.right)
			b:jne("r0", 0, t)
			b:mov("r0", 0); b:ja(done)
			b:label(t); b:mov("r0", 1)
		end
		b:label(done)
		return
	end
	if JUMP_NEG[op] then
		local src = operands(self, e.left, e.right)
		local t = b:new_label("cmp")
		b:mov("r2", "r0")
		b:mov("r0", 1)
		if e.signed and JUMP_SIGNED[op] then op = JUMP_SIGNED[op] end
		b:jcond(op, "r2", src, t)
		b:mov("r0", 0)
		b:label(t)
		return
	end
	local src = operands(self, e.left, e.right)
	-- bpftrace divides, takes remainders and shifts right as unsigned 64-bit operations
	b[ALU[op]](b, "r0", src)
end

-- String equality: bytewise over the first string's length plus its NUL when one side is a
-- literal, else over the whole (zero-filled) buffers.
-- Emits the comparison of the two strings of e: jumps to `ne` when they differ, falls through
-- when they are equal.
function G:strcmp_jump(e, ne)
	local b = self.b
	local used = b:stack_used()
	local l, r = e.left, e.right
	local lit
	if r.kind == "str" then lit = r.value elseif l.kind == "str" then lit = l.value; l, r = r, l end
	local a = self:buf(l)
	if lit then
		local n = math.min(#lit + 1, l.ty.size)
		local padded = lit .. string.rep("\0", n - #lit)
		if #lit >= l.ty.size then n = l.ty.size; padded = lit:sub(1, n) end
		local i = 0
		while i < n do
			local w = (n - i >= 4 and (a + i) % 4 == 0) and 4 or 1
			local v = 0
			for j = w, 1, -1 do v = v * 256 + padded:byte(i + j) end
			b:ldx(w == 4 and "u32" or "u8", "r1", "r10", a + i)
			if w == 4 then
				b:jne("w1", v, ne)
			else
				b:jne("r1", v, ne)
			end
			i = i + w
		end
	else
		local c = self:buf(r)
		local n = math.min(l.ty.size, r.ty.size)
		for i = 0, n - 1, 8 do
			local w = (n - i >= 8) and "u64" or "u8"
			if w == "u64" then
				b:ldx("u64", "r1", "r10", a + i); b:ldx("u64", "r2", "r10", c + i)
				b:jne("r1", "r2", ne)
			else
				for j = i, n - 1 do
					b:ldx("u8", "r1", "r10", a + j); b:ldx("u8", "r2", "r10", c + j)
					b:jne("r1", "r2", ne)
				end
			end
		end
		if l.ty.size ~= r.ty.size then
			-- the longer one must end where the shorter one does
			local longer = l.ty.size > r.ty.size and a or c
			b:ldx("u8", "r1", "r10", longer + n)
			b:jne("r1", 0, ne)
		end
	end
	b:stack_reset(used)
end

function G:strcmp(e)
	local b = self.b
	local ne, done = b:new_label("ne"), b:new_label("done")
	self:strcmp_jump(e, ne)
	local eq_val, ne_val = 1, 0
	if e.op == "!=" then eq_val, ne_val = 0, 1 end
	b:mov("r0", eq_val); b:ja(done)
	b:label(ne); b:mov("r0", ne_val)
	b:label(done)
end

-- The builtins that are one helper call without arguments, and the half of its result they take
-- (the upper one, "hi", or the lower one, "lo"; the whole value otherwise). None of these helpers
-- is checked by -k: without a hook, G:call is the builder's call.
local BUILTIN_HELPER = { pid = "get_current_pid_tgid", tid = "get_current_pid_tgid",
	uid = "get_current_uid_gid", gid = "get_current_uid_gid", cpu = "get_smp_processor_id",
	nsecs = "ktime_get_ns", cgroup = "get_current_cgroup_id", curtask = "get_current_task" }
local BUILTIN_HALF = { pid = "hi", tid = "lo", uid = "lo", gid = "hi" }
for _, helper in pairs(BUILTIN_HELPER) do assert(not CHECKED[helper], helper) end

function G:builtin(e)
	local b = self.b
	local n = e.name
	local helper = BUILTIN_HELPER[n]
	if helper then
		if self.plain then b:call(helper, 0) else self:call(helper, 0) end
		local half = BUILTIN_HALF[n]
		if half == "hi" then b:rsh("r0", 32) elseif half == "lo" then b:mov("w0", "w0") end
	elseif n == "cpid" then self:const("r0", self.opts.cpid)
	elseif e.constant then self:const("r0", e.constant)
	elseif n == "elapsed" then
		self:call("ktime_get_ns", 0)
		b:ld_map_value("r1", self.refs.elapsed, 0)
		b:ldx("u64", "r1", "r1", 0)
		b:sub("r0", "r1")
	elseif n == "kstack" then
		self:stackid(false)
	elseif n == "func" then -- a folded wildcard kprobe: the function's address (a ksym)
		b:mov("r1", "r6")
		self:call("get_func_ip", 1)
	elseif n == "retval" then
		if e.farg_index then
			b:ldx("u64", "r0", "r6", e.farg_index * 8)
			local ty = e.ty
			if ty.k == "int" and ty.size and ty.size < 8 then self:extend("r0", ty.size, ty.signed) end
		else
			b:ldx("u64", "r0", "r6", 80) -- pt_regs->ax
		end
	elseif e.reg then
		b:ldx("u64", "r0", "r6", e.reg)
	elseif e.ctx_index then
		b:ldx("u64", "r0", "r6", e.ctx_index * 8)
	elseif e.usdt then
		self:usdt_arg(e.usdt)
	else
		raise(e, "internal: builtin %s has no integer value", n)
	end
end

function G:stackid(user)
	local b = self.b
	b:mov("r1", "r6")
	self:ld_map("r2", self.refs.stacks)
	b:mov("r3", user and BPF_F_USER_STACK or 0)
	self:call("get_stackid", 3)
end

-- A USDT argument (parsed from the probe's note) into r0.
function G:usdt_arg(a)
	local b = self.b
	if a.kind == "const" then
		self:const("r0", a.value)
		return
	end
	b:ldx("u64", "r0", "r6", a.reg_offset)
	if a.kind == "deref" then
		if a.offset and a.offset ~= 0 then b:add("r0", a.offset) end
		self:read_mem(math.abs(a.size), a.signed)
		return
	end
	self:extend("r0", math.abs(a.size), a.signed)
end

function G:incdec(e)
	local b = self.b
	local t = e.target
	local delta = e.op == "++" and 1 or -1
	if t.kind == "var" then
		local slot = self.vars[t.name]
		b:ldx("u64", "r0", "r10", slot)
		b:mov("r1", "r0"); b:add("r1", delta)
		b:stx("u64", "r10", slot, "r1")
		if e.prefix then b:mov("r0", "r1") end
		return
	end
	self:map_update_op(t, "+", nil, delta, e.prefix and "new" or "old")
end

-- Scalar expressions: leaves the value in r0. The kinds one method generates are in GEN
-- (filled at the end of the file).
local GEN = {}
function G:gen(e)
	local ty = e.ty
	if ty and IS_BUFFER[ty.k] then
		raise(e, "internal: %s used as an integer", types.name(ty))
	end
	local k = e.kind
	if k == "var" then
		self.b:ldx("u64", "r0", "r10", self.vars[e.name])
		return
	end
	local method = GEN[k]
	if method then return method(self, e) end
	local b = self.b
	if k == "int" then
		self:const("r0", e.value)
	elseif k == "param" then
		self:const("r0", e.value or 0)
	elseif k == "unop" then
		if e.op == "*" then
			self:load_access(e)
		else
			gen(self, e.operand)
			if e.op == "-" then b:neg("r0")
			elseif e.op == "~" then b:xor("r0", -1)
			elseif e.op == "!" then
				local t = b:new_label("not")
				b:mov("r1", "r0"); b:mov("r0", 1)
				b:jeq("r1", 0, t); b:mov("r0", 0)
				b:label(t)
			end
		end
	elseif k == "ternary" then
		local f, done = b:new_label("else"), b:new_label("fi")
		cond(self, e.cond, f)
		gen(self, e.a); b:ja(done)
		b:label(f); gen(self, e.b)
		b:label(done)
	elseif k == "cast" then
		gen(self, e.operand)
		if e.cast then self:extend("r0", e.cast.size, e.cast.signed) end
	elseif k == "call" then
		self.call_node = e -- where -k reports a failed helper
		local n = e.name
		if n == "ksym" then gen(self, e.args[1])
		elseif n == "kaddr" then
			if e.hi then
				self:const("r0", e.hi); b:lsh("r0", 32)
				self:const("r1", e.lo); b:or_("r0", "r1")
			else
				self:const("r0", e.value)
			end
		elseif n == "kstack" then self:stackid(false)
		elseif n == "strncmp" then self:strncmp(e)
		elseif n == "bswap" then
			gen(self, e.args[1])
			if e.bits > 8 then b:be("r0", e.bits) end
		else raise(e, "internal: call %s has no integer value", n) end
	else
		raise(e, "internal: cannot generate %s", k)
	end
end

function G:strncmp(e)
	local b = self.b
	local used = b:stack_used()
	local x, y = self:buf(e.args[1]), self:buf(e.args[2])
	local ne, done = b:new_label("ne"), b:new_label("done")
	local n = math.min(e.n, e.args[1].ty.size, e.args[2].ty.size)
	local eq = b:new_label("eq")
	for i = 0, n - 1 do
		b:ldx("u8", "r1", "r10", x + i); b:ldx("u8", "r2", "r10", y + i)
		b:jne("r1", "r2", ne)
		b:jeq("r1", 0, eq)
	end
	b:label(eq)
	b:stack_reset(used)
	b:mov("r0", 0); b:ja(done)
	b:label(ne); b:mov("r0", 1)
	b:label(done)
end

---------------------------------------------------------------------------------------------
-- Buffers (strings, ustack, usym, inet): written into stack slots

-- The stack offset of a buffer holding e's value (a variable's own slot, or a new slot).
function G:buf(e)
	if e.kind == "var" then return self.vars[e.name] end
	local size = types.storage_size(e.ty)
	local off = self.b:stack(size, 8)
	into(self, e, off, size)
	return off
end

-- Writes e's value into [off, off + size), zero-padded.
function G:into(e, off, size)
	local b = self.b
	local ty = e.ty
	local k = e.kind
	if not IS_BUFFER[ty.k] then
		gen(self, e)
		b:stx("u64", "r10", off, "r0")
		return
	end
	if k == "ident" then
		local n = e.name
		if n == "comm" then
			if self.plain then
				b:current_comm(off, size)
				if self.check_level >= 1 then self:helper_error("get_current_comm", false) end
			else
				b:zero(off, size)
				b:stack_ptr("r1", off)
				b:mov("r2", math.min(16, size))
				self:call("get_current_comm", 2)
			end
		elseif n == "func" or n == "probe" then
			self:store_static(e.static or "", off, size)
		elseif n == "ustack" then
			self:ustack(off)
		else
			raise(e, "internal: cannot build %s", k)
		end
	elseif k == "str" then
		self:store_static(e.value, off, size)
	elseif k == "param" then
		self:store_static(e.static or "", off, size)
	elseif k == "var" then
		local src = self.vars[e.name]
		local n = math.min(size, types.storage_size(ty))
		if src ~= off then self:copy("r10", src, off, n) end
		if n < size then b:zero(off + n, size - n) end
	elseif k == "map" then
		b:zero(off, size)
		self:map_lookup(e)
		local miss = b:new_label("miss")
		b:jeq("r0", 0, miss)
		self:copy("r0", 0, off, math.min(size, types.storage_size(ty)))
		b:label(miss)
	elseif k == "ternary" then
		local f, done = b:new_label("else"), b:new_label("fi")
		cond(self, e.cond, f)
		into(self, e.a, off, size); b:ja(done)
		b:label(f); into(self, e.b, off, size)
		b:label(done)
	elseif k == "field" or k == "index" or (k == "unop" and e.op == "*") then
		self:field_string(e, off, size)
	elseif k == "call" then
		self.call_node = e -- where -k reports a failed helper
		self:call_into(e, off, size)
	else
		raise(e, "internal: cannot build %s", k)
	end
end

function G:ustack(off)
	local b = self.b
	self:stackid(true)
	b:stx("u64", "r10", off, "r0")
	self:call("get_current_pid_tgid", 0)
	b:rsh("r0", 32)
	b:stx("u64", "r10", off + 8, "r0")
end

-- A string read from a tracepoint record or kernel memory.
function G:field_string(e, off, size)
	local b = self.b
	local a = e.access
	b:zero(off, size)
	if a.how == "ctx_bytes" then
		self:copy("r6", a.offset, off, math.min(a.size, size))
	elseif a.how == "data_loc" then
		b:ldx("u32", "r3", "r6", a.offset)
		b:and_("r3", 0xffff)
		b:add("r3", "r6")
		b:stack_ptr("r1", off)
		b:mov("r2", size)
		self:call("probe_read_str", 3)
	elseif a.how == "mem" then
		self:addr(e)
		b:mov("r3", "r0")
		b:stack_ptr("r1", off)
		b:mov("r2", math.min(size, e.ty.size))
		self:call("probe_read_str", 3)
	else
		raise(e, "internal: string access %s", tostring(a.how))
	end
end

function G:call_into(e, off, size)
	local b = self.b
	local n = e.name
	if n == "str" then
		local a = e.args[1]
		local limit = math.min(e.limit or size, size)
		if a.ty.k == "str" then
			if a.access and a.access.how == "data_loc" then
				self:field_string(a, off, size)
				return
			end
			local used = b:stack_used()
			local src = self:buf(a)
			local n2 = math.min(limit, types.storage_size(a.ty))
			b:zero(off, size)
			self:copy("r10", src, off, n2)
			if n2 >= limit and limit <= size then b:st("u8", "r10", off + limit - 1, 0) end
			b:stack_reset(used)
			return
		end
		b:zero(off, size)
		gen(self, a)
		b:mov("r3", "r0")
		b:stack_ptr("r1", off)
		b:mov("r2", limit)
		self:call("probe_read_str", 3)
	elseif n == "usym" then
		gen(self, e.args[1])
		b:stx("u64", "r10", off, "r0")
		self:call("get_current_pid_tgid", 0)
		b:rsh("r0", 32)
		b:stx("u64", "r10", off + 8, "r0")
	elseif n == "ustack" then
		self:ustack(off)
	elseif n == "ntop" then
		b:zero(off, size)
		b:st("u64", "r10", off, e.af)
		local a = e.args[#e.args]
		local aty = a.ty
		if types.is_intlike(aty) then
			gen(self, a)
			b:stx("u32", "r10", off + 8, "r0")
		elseif a.access and a.access.how == "ctx_bytes" then
			self:copy("r6", a.access.offset, off + 8, math.min(16, a.access.size))
		else
			self:addr(a)
			b:mov("r3", "r0")
			b:stack_ptr("r1", off + 8)
			b:mov("r2", e.af == 2 and 4 or 16)
			self:call("probe_read", 3)
		end
	else
		raise(e, "internal: %s() has no buffer value", n)
	end
end

-- One statement; returns true when it always ends the program (exit()). Map assignments and
-- call statements restore the stack themselves; the other statements get their stack back here.
function G:stmt(s)
	local b = self.b
	local k = s.kind
	self.cur_node, self.call_node = s, false
	if b:count() > MAX_INSNS then
		raise(s, "the generated program exceeds %d instructions", MAX_INSNS)
	end
	if k == "assign" then
		b:line(self.file, self.where(s.pos, s.epos))
		local t = s.target
		if t.kind == "var" then
			local used = b:stack_used()
			self:assign_var(s, t)
			b:stack_reset(used)
		elseif s.agg then
			aggregate(self, s)
		elseif s.op ~= "" then
			self:map_update_op(t, s.op, s.value)
		else
			self:assign_map(s, t)
		end
		return false
	end
	if k == "expr_stmt" then
		b:line(self.file, self.where(s.pos, s.epos))
		local e = s.expr
		local ek = e.kind
		if ek == "call" and e.ty and e.ty.k == "none" then
			self:call_stmt(e)
			return e.name == "exit"
		end
		local used = b:stack_used()
		if ek == "incdec" then
			self:incdec(e)
		elseif not s.no_effect then
			gen(self, e)
		end
		b:stack_reset(used)
		return false
	end
	local used = b:stack_used()
	local ends = false
	if k == "if" then
		b:line(self.file, self.where(s.pos, s.cond_epos or s.epos))
		local f, done = b:new_label("else"), b:new_label("fi")
		cond(self, s.cond, f)
		local then_ends = block(self, s.then_)
		if s.else_ and not then_ends then b:ja(done) end
		b:label(f)
		if s.else_ then
			local else_ends = block(self, s.else_)
			if not then_ends then b:label(done) end
			ends = then_ends and else_ends
		end
	elseif k == "unroll" then
		for _ = 1, s.n do
			if block(self, s.body) then ends = true; break end
		end
	elseif k == "block" then
		ends = block(self, s)
	else
		b:line(self.file, self.where(s.pos, s.epos))
	end
	b:stack_reset(used)
	return ends
end

-- Returns true when the block always ends the program (exit()): what follows it is not
-- emitted, since the verifier refuses unreachable instructions.
function G:block(blk)
	local stmts = blk.stmts
	for i = 1, #stmts do
		if stmt(self, stmts[i]) then return true end
	end
	return false
end

-- Line info for a statement: its source line, column and text (one line, at most 80 bytes: the
-- locator makes it, in C).
function G:line(node, epos)
	self.b:line(self.file, self.where(node.pos, epos or node.epos))
end

---------------------------------------------------------------------------------------------

-- Generates one program: returns the finished builder.
local function generate(plan_prog, prog, refs, opts, where, state)
	-- about an instruction per character of the probe's source: room made once
	local span = (prog.body.epos or 0) - (prog.probe.pos or 0)
	local b = fast.new({ name = plan_prog.bpf_name, file = opts.name or "stdin" },
		math.min(math.max(span, 64), 16384))
	local pvars = prog.vars
	-- (every field listed: none is added later, which would grow the table)
	local self = setmetatable({ b = b, refs = refs, opts = opts, where = where,
		file = opts.name or "stdin", vars = {}, var_types = pvars or {}, src = opts.source,
		read_slot = false, exit_label = false, cur_node = false, call_node = false,
		-- composite emitters, unless a spec's hook emits before each call; map updates in one
		-- too unless -k checks them (the report follows G:call's way)
		plain = not hooks.before_call, check_level = opts.helper_check or 0,
		plain_update = not hooks.before_call and (opts.helper_check or 0) < 1 }, G)
	state.g = self
	self:line(prog.probe, prog.probe.body.pos - 1)
	b:mov("r6", "r1")
	self.read_slot = b:stack(8)
	-- variables: one slot each for the whole program, zeroed (var_types: their types, by name)
	if pvars and next(pvars) then
		local names, vars = {}, self.vars
		for name in pairs(pvars) do names[#names + 1] = name end
		table.sort(names)
		for i = 1, #names do
			local name = names[i]
			local ty = pvars[name]
			local size = types.storage_size(ty)
			local slot = b:stack(size, 8)
			vars[name] = slot
			b:zero(slot, size)
		end
	end
	self.exit_label = b:new_label("exit")
	if prog.elapsed_init then
		self:call("ktime_get_ns", 0)
		b:ld_map_value("r1", refs.elapsed, 0)
		b:stx("u64", "r1", 0, "r0")
	end
	if prog.pred then
		self:line(prog.pred)
		self.cur_node = prog.pred
		cond(self, prog.pred, self.exit_label)
	end
	block(self, prog.body)
	b:label(self.exit_label)
	b:mov("r0", 0)
	b:exit()
	b:finish()
	return b
end

-- A builder's refusal (the 512-byte stack, a jump too far) becomes an error at the statement
-- being generated.
local function program(plan_prog, prog, refs, opts, where)
	local state = {}
	local ok, res = pcall(generate, plan_prog, prog, refs, opts, where, state)
	if ok then return res end
	if diag.is_error(res) then error(res, 0) end
	local msg = tostring(res)
	msg = msg:match("bpf%.asm: [^:]*:%d+:%d+: (.*)$") or msg:match("bpf%.asm: (.*)$") or msg
	local node = state.g and state.g.cur_node or prog.probe
	if msg:match("^internal compiler error: ") then raise(node, "%s", msg) end
	if msg:match("^stack:") then
		raise(node, "probe '%s' needs more than the 512 bytes of BPF stack here (%s)", plan_prog.probe, msg)
	end
	raise(node, "cannot generate code for this statement: %s", msg)
end

gen, stmt, block, operands, cond, into = G.gen, G.stmt, G.block, G.operands, G.cond, G.into
aggregate = G.aggregate
maps.bind(G)
GEN.ident, GEN.map, GEN.binop, GEN.incdec = G.builtin, G.map_read, G.binop, G.incdec
GEN.field, GEN.index = G.load_access, G.load_access

return { program = program, hooks = hooks }
