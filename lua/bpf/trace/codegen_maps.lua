-- Code generation of the trace compiler, maps and events: map keys, lookups and updates,
-- the aggregations (count/sum/avg/min/max/stats/hist/lhist, with bpftrace's slot rules) and the
-- records sent through the ring buffer. Methods of codegen.lua's generator (self), mixed in
-- (the module gives them as `methods`, with the buffer kinds' set and `bind` for codegen.lua's).
local diag = require "bpf.trace.diag"
local types = require "bpf.trace.types"

local raise = diag.raise

local G = {}

-- The hottest methods, called as locals (no lookup through the generator's metatable): this
-- file's own, and codegen.lua's, which it gives through bind once they are all defined.
local make_key, gen, into, operands

local BPF_ANY = 0
-- types.is_buffer as a set of kinds (it runs on most nodes generated)
local IS_BUFFER = {}
for k in pairs(types.VALUE_KINDS) do IS_BUFFER[k] = types.is_buffer({ k = k }) end
local ALU = { ["+"] = "add", ["-"] = "sub", ["*"] = "mul", ["/"] = "div", ["%"] = "mod",
	["&"] = "and_", ["|"] = "or_", ["^"] = "xor", ["<<"] = "lsh", [">>"] = "rsh" }


-- Builds the key of a map access on the stack; returns its offset.
function G:key(e)
	local b = self.b
	local m = e.map.plan
	local size = m.key_size
	local off = b:stack(size, 8)
	-- every key part is written whole (buffers zero-pad themselves); only a keyless map's
	-- constant key needs zeroing (a hist's slot is written by the caller)
	local keys = e.keys
	if not keys then b:zero(off, size); return off end
	local parts = m.keys
	for i = 1, #keys do
		local kexpr, pt = keys[i], parts[i]
		if IS_BUFFER[kexpr.ty.k] then
			into(self, kexpr, off + pt.offset, pt.size)
		else
			gen(self, kexpr)
			b:stx("u64", "r10", off + pt.offset, "r0")
		end
	end
	return off
end

-- r0 = lookup(map, key at off): one composite emitter, unless a spec's hook wants to emit
-- before the call (self.plain false).
function G:lookup(ref, key)
	local b = self.b
	if self.plain then b:map_lookup(ref, key); return end
	self:ld_map("r1", ref)
	b:stack_ptr("r2", key)
	self:call("map_lookup_elem", 2)
end

-- The update is a checked helper (-k): its error report follows G:call's way (self.plain_update
-- false).
function G:update(ref, key, val, flags)
	local b = self.b
	if self.plain_update then b:map_update(ref, key, val, flags or BPF_ANY); return end
	self:ld_map("r1", ref)
	b:stack_ptr("r2", key)
	b:stack_ptr("r3", val)
	b:mov("r4", flags or BPF_ANY)
	self:call("map_update_elem", 4)
end

function G:map_lookup(e)
	local key = make_key(self, e)
	self:lookup(self.refs[e.map.plan.name], key)
end

-- An integer read of a scalar map (0 when the key is absent).
function G:map_read(e)
	local b = self.b
	local used = b:stack_used()
	self:map_lookup(e)
	local done = b:new_label("done")
	if self.check_level >= 2 then self:helper_error("map_lookup_elem", true, e) end
	b:jeq("r0", 0, done)
	b:ldx("u64", "r0", "r0", 0)
	b:label(done)
	b:stack_reset(used)
end

-- @m[k] op= value (value: an expression or the constant `delta`); `result` = "old"/"new" puts
-- that value in r0.
function G:map_update_op(target, op, value, delta, result)
	local b = self.b
	local used = b:stack_used()
	if value then gen(self, value) else self:const("r0", delta) end
	b:mov("r8", "r0")
	local key = make_key(self, target)
	local val = b:stack(8, 8)
	local ref = self.refs[target.map.plan.name]
	self:lookup(ref, key)
	if self.check_level >= 2 then self:helper_error("map_lookup_elem", true, target) end
	local miss = b:new_label("miss")
	b:mov("r7", 0)
	b:jeq("r0", 0, miss)
	b:ldx("u64", "r7", "r0", 0)
	b:label(miss)
	b:mov("r1", "r7")
	local alu = ALU[op]
	b[alu](b, "r1", "r8")
	b:stx("u64", "r10", val, "r1")
	self:update(ref, key, val)
	if result == "old" then b:mov("r0", "r7")
	elseif result == "new" then b:ldx("u64", "r0", "r10", val) end
	b:stack_reset(used)
end

-- r = r <op> v, through r3 when v does not fit a 32-bit immediate.
local function alu_const(g, op, r, v)
	if v >= -2147483648 and v <= 2147483647 then
		g.b[op](g.b, r, v)
	else
		g:const("r3", v)
		g.b[op](g.b, r, "r3")
	end
end

-- lhist slot of r7 into r1 (r2, r3 clobbered): the bounds the composite emitter b:linear_slot
-- does not take, those beyond 32 bits.
function G:linear_slot(l, signed)
	local b = self.b
	local done = b:new_label("slot")
	local nb = math.floor((l.max - l.min) / l.step)
	b:mov("r1", 0)
	self:const("r2", l.min)
	if signed then b:jslt("r7", "r2", done) else b:jlt("r7", "r2", done) end
	self:const("r1", 1 + nb)
	self:const("r2", l.max)
	if signed then b:jsgt("r7", "r2", done) else b:jgt("r7", "r2", done) end
	b:mov("r1", "r7")
	b:sub("r1", "r2"); alu_const(self, "add", "r1", l.max - l.min) -- r1 = v - min
	alu_const(self, "div", "r1", l.step)
	b:add("r1", 1)
	b:label(done)
end

-- The value update of each aggregation kind (b:aggregate_update).
local AGG_UPDATE = { count = "inc", hist = "inc", lhist = "inc", sum = "sum", avg = "avg",
	stats = "avg", min = "min", max = "max" }

function G:aggregate(s)
	local b = self.b
	local t, call = s.target, s.value
	local m = t.map.plan
	local ref = self.refs[m.name]
	local kind = m.kind
	local used = b:stack_used()
	local key = make_key(self, t)
	if call.args[1] then
		gen(self, call.args[1])
		b:mov("r7", "r0")
	end
	-- the slot (bpftrace's log2 or linear one) of r7 in the key; bpftrace compares as signed
	-- values: a negative value is below any min
	if kind == "hist" then
		b:log2_slot(key + m.slot_offset)
	elseif kind == "lhist" then
		local l = m.lhist
		if not b:linear_slot(l.min, l.max, l.step, true, key + m.slot_offset) then
			self:linear_slot(l, true)
			b:stx("u64", "r10", key + m.slot_offset, "r1")
		end
	end
	local val = b:stack(m.value_size, 8)
	if self.plain_update then
		b:aggregate_update(AGG_UPDATE[kind], ref, key, val, m.value_size, m.signed)
		b:stack_reset(used)
		return
	end
	self:lookup(ref, key)
	local init, done = b:new_label("init"), b:new_label("done")
	b:jeq("r0", 0, init)
	if kind == "count" or kind == "hist" or kind == "lhist" then
		b:ldx("u64", "r1", "r0", 0); b:add("r1", 1); b:stx("u64", "r0", 0, "r1")
	elseif kind == "sum" then
		b:ldx("u64", "r1", "r0", 0); b:add("r1", "r7"); b:stx("u64", "r0", 0, "r1")
	elseif kind == "avg" or kind == "stats" then
		b:ldx("u64", "r1", "r0", 0); b:add("r1", "r7"); b:stx("u64", "r0", 0, "r1")
		b:ldx("u64", "r1", "r0", 8); b:add("r1", 1); b:stx("u64", "r0", 8, "r1")
	elseif kind == "min" or kind == "max" then
		local store = b:new_label("store")
		b:ldx("u64", "r1", "r0", 8)
		b:jeq("r1", 0, store)
		b:ldx("u64", "r1", "r0", 0)
		local keep = kind == "min" and ">=" or "<="
		if m.signed then keep = "s" .. keep end
		b:jcond(keep, "r7", "r1", done)
		b:label(store)
		b:stx("u64", "r0", 0, "r7")
		b:st("u64", "r0", 8, 1)
	end
	b:ja(done)
	b:label(init)
	if kind == "count" or kind == "hist" or kind == "lhist" then
		b:st("u64", "r10", val, 1)
	else
		b:stx("u64", "r10", val, "r7")
		if m.value_size == 16 then b:st("u64", "r10", val + 8, 1) end
	end
	self:update(ref, key, val)
	b:label(done)
	b:stack_reset(used)
end

-- $v = value, $v op= value (G:stmt restores the stack after it).
function G:assign_var(s, t)
	local b = self.b
	local slot = self.vars[t.name]
	if s.op ~= "" then
		local src = operands(self, t, s.value)
		b[ALU[s.op]](b, "r0", src)
		b:stx("u64", "r10", slot, "r0")
		return
	end
	local ty = self.var_types[t.name]
	if IS_BUFFER[ty.k] then
		local size = types.storage_size(ty)
		if s.value.kind == "var" and self.vars[s.value.name] == slot then return end
		-- build in a temporary: the value may read the variable itself
		local used = b:stack_used()
		local tmp = b:stack(size, 8)
		into(self, s.value, tmp, size)
		self:copy("r10", tmp, slot, size)
		b:stack_reset(used)
	else
		gen(self, s.value)
		b:stx("u64", "r10", slot, "r0")
	end
end

-- @m[k] = value (the aggregations and @m[k] op= value have their own methods).
function G:assign_map(s, t)
	local b = self.b
	local m = t.map.plan
	local used = b:stack_used()
	local key = make_key(self, t)
	local val = b:stack(m.value_size, 8)
	if IS_BUFFER[s.value.ty.k] then
		into(self, s.value, val, m.value_size)
	else
		gen(self, s.value)
		b:stx("u64", "r10", val, "r0")
	end
	if self.plain_update then
		b:map_update(self.refs[m.name], key, val, BPF_ANY)
	else
		self:update(self.refs[m.name], key, val)
	end
	b:stack_reset(used)
end

---------------------------------------------------------------------------------------------
-- Events and statements

-- Sends the record at [off, off + size) through the ring buffer.
function G:submit(off, size)
	local b = self.b
	if self.plain then b:ringbuf_output(self.refs.ringbuf, self.refs.lost, off, size); return end
	self:ld_map("r1", self.refs.ringbuf)
	b:stack_ptr("r2", off)
	b:mov("r3", size)
	b:mov("r4", 0)
	self:call("ringbuf_output", 4)
	local sent = b:new_label("sent")
	b:jeq("r0", 0, sent)
	self:count_lost()
	b:label(sent)
end

-- -k: a record saying that helper `name` failed here (r0 < 0; with `zero`, r0 == 0: a map
-- element missing), with its return value; r0 is kept.
function G:helper_error(name, zero, node)
	local b = self.b
	node = node or self.call_node or self.cur_node
	if node and node.kind == "assign" and (node.op or "") == "" and node.target.epos and self.src then
		-- bpftrace names the assignment's operator
		local from, to = self.src:find("[-+*/%%&|^<>]*=", node.target.epos + 1)
		if from then node = { pos = from, epos = to } end
	elseif node and node.pos and self.src and self.src:sub(node.pos - 1, node.pos - 1) == "(" then
		node = { pos = node.pos - 1, epos = node.epos } -- bpftrace's place starts at a '(' just before
	end
	local ok = b:new_label("helper_ok")
	-- the int the helper returns, compared on 32 bits as bpftrace does: before 6.5 the map
	-- operations the verifier calls directly return int, the upper half of r0 undefined
	if zero then b:jne("r0", 0, ok) else b:jsge("w0", 0, ok) end
	local ev = self.opts.helper_event(name, node)
	local used = b:stack_used()
	local off = b:stack(16, 8)
	b:stx("u64", "r10", off + 8, "r0")
	b:st("u64", "r10", off, ev.id)
	self:submit(off, 16)
	b:ldx("u64", "r0", "r10", off + 8)
	b:stack_reset(used)
	b:label(ok)
end

-- One more record the ring buffer had no room for (the runtime prints "Lost N events").
function G:count_lost()
	local b = self.b
	b:ld_map_value("r1", self.refs.lost, 0)
	b:mov("r2", 1)
	b:atomic("add", "u64", "r1", 0, "r2")
end

function G:event(e)
	local b = self.b
	local ev = e.event
	local used = b:stack_used()
	local off = b:stack(ev.size, 8)
	local eargs = ev.args
	if eargs then
		local args, skip = e.args, e.name == "printf" and 1 or 0
		for i = 1, #eargs do
			local a, arg = eargs[i], args[skip + i]
			if IS_BUFFER[arg.ty.k] then
				into(self, arg, off + a.offset, a.size)
			else
				gen(self, arg)
				b:stx("u64", "r10", off + a.offset, "r0")
			end
		end
	end
	b:st("u64", "r10", off, ev.id)
	if self.plain then
		b:ringbuf_output(self.refs.ringbuf, self.refs.lost, off, ev.size)
	else
		self:submit(off, ev.size)
	end
	b:stack_reset(used)
	if e.name == "exit" then b:ja(self.exit_label) end
end

-- join(argv [, sep]): up to max_args strings read from a user array of string pointers, written
-- straight into a reserved ring buffer record (larger than the stack): u64 id, u64 count, slots.
function G:join(e)
	local b = self.b
	local ev = e.event
	local used = b:stack_used()
	local argv = b:stack(8, 8)
	gen(self, e.args[1])
	b:stx("u64", "r10", argv, "r0")
	self:ld_map("r1", self.refs.ringbuf)
	b:mov("r2", ev.size)
	b:mov("r3", 0)
	self:call("ringbuf_reserve", 3)
	local skip, done = b:new_label("nojoin"), b:new_label("joined")
	local reserved = b:new_label("reserved")
	b:jne("r0", 0, reserved)
	self:count_lost()
	b:ja(skip)
	b:label(reserved)
	b:mov("r9", "r0")
	b:st("u64", "r9", 0, ev.id)
	for i = 0, ev.max_args - 1 do
		b:st("u64", "r9", 8, i)
		b:st("u64", "r10", self.read_slot, 0)
		b:stack_ptr("r1", self.read_slot)
		b:mov("r2", 8)
		b:ldx("u64", "r3", "r10", argv)
		if i > 0 then b:add("r3", i * 8) end
		self:call("probe_read", 3)
		b:ldx("u64", "r3", "r10", self.read_slot)
		b:jeq("r3", 0, done)
		b:mov("r1", "r9"); b:add("r1", 16 + i * ev.arg_size)
		b:mov("r2", ev.arg_size)
		self:call("probe_read_str", 3)
	end
	b:st("u64", "r9", 8, ev.max_args)
	b:label(done)
	b:mov("r1", "r9")
	b:mov("r2", 0)
	self:call("ringbuf_submit", 2)
	b:label(skip)
	b:stack_reset(used)
end

function G:call_stmt(e)
	local n = e.name
	if n == "join" then return self:join(e) end
	if e.event then return self:event(e) end
	if n == "delete" then
		local b = self.b
		local a = e.args[1]
		local used = b:stack_used()
		local key = make_key(self, a)
		self:ld_map("r1", self.refs[a.map.plan.name])
		b:stack_ptr("r2", key)
		self:call("map_delete_elem", 2)
		b:stack_reset(used)
		return
	end
	raise(e, "internal: statement call %s", n)
end

make_key = G.key

return { methods = G, IS_BUFFER = IS_BUFFER, bind = function(methods)
	gen, into, operands = methods.gen, methods.into, methods.operands
end }
