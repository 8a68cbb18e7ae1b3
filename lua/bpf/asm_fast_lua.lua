-- The Lua builder of bpf.asm_fast (the trace compiler's fast path): emitters that write the
-- common well-formed forms straight into the slot arrays, handing anything else to the public
-- methods (so every refusal and message stays theirs), and whose helper calls are checked
-- against the prototypes through what each argument register was last set to. LuaJIT builds
-- with it (its JIT compiles these emitters); under PUC Lua the emitters run in C and a builder
-- becomes this one only for what the C path does not take (bpf.asm_fast says when).
local asm = require "bpf.asm"
local fast = require "bpf.asm_fast"

local M = {}

local Builder, op = asm.Builder, asm.op
local type, error, format, setmetatable = type, error, string.format, setmetatable

local TWO31, TWO32 = 2147483648, 4294967296
local LD_IMM64 = op.LD + op.IMM + op.DW
local CALL, EXIT, JA = op.JMP + op.CALL, op.JMP + op.EXIT, op.JMP + op.JA

local R64, R32 = {}, {}
for i = 0, 10 do R64["r" .. i], R32["w" .. i] = i, i end
local SIZES = { u8 = op.B, u16 = op.H, u32 = op.W, u64 = op.DW }

-- What a register holds (bpf.asm_fast's texts), and the helper specs both builders check with.
local STACK, CTX, MAP, MAPVAL = fast.STACK, fast.CTX, fast.MAP, fast.MAPVAL
local RETPTR, SCALAR, ZERO = fast.RETPTR, fast.SCALAR, fast.ZERO
local specs, spec_of, call_error, check_count = fast.specs, fast.spec_of, fast.call_error, fast.check_count
local WANT = fast.WANT

local F = {}
F.__index = F
M.Builder = F

-- The non-emitting methods of the public builder, as they are.
for _, name in ipairs({ "pos", "count", "verifier_source", "source_of", "bytes", "text",
	"insn", "insns", "load", "help" }) do
	F[name] = Builder[name]
end
F.__tostring = Builder.__tostring
-- atomics as the public builder writes them (what a register holds does not change)
F.atomic = Builder.atomic

-- Tables presized (grown by doubling, a builder's slot array costs a third more): LuaJIT's
-- table.new, else the C module's (only LuaJIT has table.new: elsewhere the search through
-- package.path would cost a score of failed opens at every start).
local has_tnew, tnew = false, nil
if rawget(_G, "jit") then has_tnew, tnew = pcall(require, "table.new") end
local new_table = has_tnew and tnew or require("bpf.asm_core").new_table

-- A builder for generated code in Lua (see M.new); opts as bpf.asm.new, size the expected
-- instruction count (a hint). r1 holds the context on entry.
local function new_lua(opts, size)
	local b = asm.new(opts)
	if size then
		local few = math.floor(size / 16)
		b.ins, b.jump_label = new_table(4 * size, 0), new_table(0, few)
		b.labels, b.label_hint = new_table(few, 0), new_table(few, 0)
		b.lines = new_table(math.floor(size / 4), 0)
	else
		b.label_hint = {}
	end
	-- false, not nil, for "not set": the entries stay in the array part, written in place
	b.prov = { CTX, false, false, false, false, false, false, false, false, STACK, [0] = false }
	b.label_seq = 0
	b.helper_calls, b.ncalls = {}, 0 -- the helpers checked and called, in order
	return setmetatable(b, F)
end
M.new = new_lua

-- ---- ALU ------------------------------------------------------------------------------------

-- mov and add, the most frequent: what dst holds follows the source (a copy, or a pointer
-- moved by a constant); every other operation leaves a scalar.
local function alu_method(name, code)
	local public = Builder[name]
	local code_x, code_k = op.ALU64 + code + op.X, op.ALU64 + code + op.K
	local is_mov, is_addsub = code == op.MOV, code == op.ADD or code == op.SUB
	local code32_x = op.ALU + code + op.X
	return function(b, dst, src)
		local d = R64[dst]
		if not d then
			-- 32-bit register to register (w0 = w0 zero-extends): a scalar
			d = R32[dst]
			local s = R32[src]
			if d and s then
				local n, ins = b.n + 1, b.ins
				b.n = n
				local k = n * 4
				ins[k - 3] = code32_x; ins[k - 2] = d + s * 16; ins[k - 1] = 0; ins[k] = 0
				b.prov[d] = SCALAR
				return n
			end
		else
			local s = R64[src]
			if s then
				local n, ins = b.n + 1, b.ins
				b.n = n
				local k = n * 4
				ins[k - 3] = code_x; ins[k - 2] = d + s * 16; ins[k - 1] = 0; ins[k] = 0
				local prov = b.prov
				if is_mov then prov[d] = prov[s] else prov[d] = SCALAR end
				return n
			elseif type(src) == "number" and src >= -TWO31 and src < TWO31 and src % 1 == 0 then
				local n, ins = b.n + 1, b.ins
				b.n = n
				local k = n * 4
				ins[k - 3] = code_k; ins[k - 2] = d; ins[k - 1] = 0; ins[k] = src
				local prov = b.prov
				if is_mov then
					prov[d] = src == 0 and ZERO or SCALAR
				elseif not is_addsub or prov[d] == ZERO then
					prov[d] = SCALAR
				end
				return n
			end
		end
		-- w registers, wide immediates, mistakes: the public method (and its messages)
		local n = public(b, dst, src)
		b.prov[R64[dst] or R32[dst]] = SCALAR
		return n
	end
end

local ALU_NAMES = { add = op.ADD, sub = op.SUB, mul = op.MUL, div = op.DIV, or_ = op.OR,
	and_ = op.AND, lsh = op.LSH, rsh = op.RSH, mod = op.MOD, xor = op.XOR, mov = op.MOV,
	arsh = op.ARSH }
for name, code in pairs(ALU_NAMES) do F[name] = alu_method(name, code) end

for _, name in ipairs({ "neg", "be", "le", "bswap", "movsx", "sdiv", "smod", "alu" }) do
	local public = Builder[name]
	F[name] = function(b, dst, ...)
		local n = public(b, dst, ...)
		b.prov[R64[dst] or R32[dst]] = SCALAR
		return n
	end
end

-- dst = r10 + off, a pointer to a stack slot: mov and add in one call (the generated code
-- passes every key, value and buffer to helpers this way).
local MOV_X, ADD_K = op.ALU64 + op.MOV + op.X, op.ALU64 + op.ADD + op.K
function F:stack_ptr(dst, off)
	local d = R64[dst]
	if d and type(off) == "number" and off >= -TWO31 and off < TWO31 and off % 1 == 0 then
		local n, ins = self.n + 2, self.ins
		self.n = n
		local k = n * 4
		ins[k - 7] = MOV_X; ins[k - 6] = d + 160; ins[k - 5] = 0; ins[k - 4] = 0
		ins[k - 3] = ADD_K; ins[k - 2] = d; ins[k - 1] = 0; ins[k] = off
		self.prov[d] = STACK
		return n - 1
	end
	self:mov(dst, "r10")
	return self:add(dst, off)
end

-- acc += floor(log2(val)) for val > 0 (val is consumed, tmp clobbered): a binary search over
-- the bit positions, 32 down to 1, five instructions a step, each skipping two when the
-- shifted value is zero (offsets known here: no labels).
local RSH_K, JEQ_K = op.ALU64 + op.RSH + op.K, op.JMP + op.JEQ + op.K
local LOG2_SHIFTS = { 32, 16, 8, 4, 2, 1 }
function F:add_log2(acc, val, tmp)
	local a, v, t = R64[acc], R64[val], R64[tmp]
	if not (a and v and t) then
		error("bpf.asm: add_log2: registers expected, got " .. tostring(acc) .. ", " ..
			tostring(val) .. ", " .. tostring(tmp), 2)
	end
	local ins, n = self.ins, self.n
	for i = 1, 6 do
		local s, k = LOG2_SHIFTS[i], n * 4
		ins[k + 1] = MOV_X; ins[k + 2] = t + v * 16; ins[k + 3] = 0; ins[k + 4] = 0
		ins[k + 5] = RSH_K; ins[k + 6] = t; ins[k + 7] = 0; ins[k + 8] = s
		ins[k + 9] = JEQ_K; ins[k + 10] = t; ins[k + 11] = 2; ins[k + 12] = 0
		ins[k + 13] = MOV_X; ins[k + 14] = v + t * 16; ins[k + 15] = 0; ins[k + 16] = 0
		ins[k + 17] = ADD_K; ins[k + 18] = a; ins[k + 19] = 0; ins[k + 20] = s
		n = n + 5
	end
	self.n = n
	local prov = self.prov
	prov[a], prov[v], prov[t] = SCALAR, SCALAR, SCALAR
	return n
end

-- ---- memory ---------------------------------------------------------------------------------

-- The opcodes of the memory accesses by size name.
local LDX_MEM, STX_MEM, ST_MEM = {}, {}, {}
for name, sz in pairs(SIZES) do
	LDX_MEM[name], STX_MEM[name], ST_MEM[name] = op.LDX + op.MEM + sz, op.STX + op.MEM + sz,
		op.ST + op.MEM + sz
end
local ST_MEM_DW = ST_MEM.u64

function F:ldx(size, dst, src, off)
	local code, d, s = LDX_MEM[size], R64[dst], R64[src]
	if code and d and s and off >= -32768 and off <= 32767 and off % 1 == 0 then
		local n, ins = self.n + 1, self.ins
		self.n = n
		local k = n * 4
		ins[k - 3] = code; ins[k - 2] = d + s * 16; ins[k - 1] = off; ins[k] = 0
		self.prov[d] = SCALAR
		return n
	end
	local n = Builder.ldx(self, size, dst, src, off)
	self.prov[R64[dst]] = SCALAR
	return n
end

function F:stx(size, dst, off, src)
	local code, d, s = STX_MEM[size], R64[dst], R64[src]
	if code and d and s and off >= -32768 and off <= 32767 and off % 1 == 0 then
		local n, ins = self.n + 1, self.ins
		self.n = n
		local k = n * 4
		ins[k - 3] = code; ins[k - 2] = d + s * 16; ins[k - 1] = off; ins[k] = 0
		return n
	end
	return Builder.stx(self, size, dst, off, src)
end

function F:st(size, dst, off, imm)
	local code, d = ST_MEM[size], R64[dst]
	if code and d and off >= -32768 and off <= 32767 and off % 1 == 0 and type(imm) == "number"
		and imm % 1 == 0 then
		if imm >= TWO31 and imm < TWO32 and code ~= ST_MEM_DW then imm = imm - TWO32 end
		if imm >= -TWO31 and imm < TWO31 then
			local n, ins = self.n + 1, self.ins
			self.n = n
			local k = n * 4
			ins[k - 3] = code; ins[k - 2] = d; ins[k - 1] = off; ins[k] = imm
			return n
		end
	end
	return Builder.st(self, size, dst, off, imm)
end

-- ---- 64-bit loads ---------------------------------------------------------------------------

function F:ld_imm64(dst, value)
	local n = Builder.ld_imm64(self, dst, value)
	self.prov[R64[dst]] = SCALAR
	return n
end

local function ld_ref(b, dst, ref, src, hi, public, what)
	local d = R64[dst]
	if d and type(ref) == "table" and ref.id then
		local n, ins = b.n + 1, b.ins
		b.n = n + 1
		local k = n * 4
		ins[k - 3] = LD_IMM64; ins[k - 2] = d + src * 16; ins[k - 1] = 0; ins[k] = 0
		ins[k + 1] = 0; ins[k + 2] = 0; ins[k + 3] = 0; ins[k + 4] = hi
		b.map_ref[n] = ref
		b.prov[d] = what
		return n
	end
	local n = public(b, dst, ref)
	b.prov[R64[dst]] = what
	return n
end

function F:ld_map(dst, ref)
	return ld_ref(self, dst, ref, op.PSEUDO_MAP_FD, 0, Builder.ld_map, MAP)
end

function F:ld_map_value(dst, ref, off)
	off = off or 0
	if type(off) ~= "number" or off < 0 or off >= TWO31 or off % 1 ~= 0 then
		local n = Builder.ld_map_value(self, dst, ref, off)
		self.prov[R64[dst]] = MAPVAL
		return n
	end
	return ld_ref(self, dst, ref, op.PSEUDO_MAP_VALUE, off, Builder.ld_map_value, MAPVAL)
end

-- ---- labels and jumps -----------------------------------------------------------------------
-- Labels are numbers (no string per label); their hints name them in text({labels = true}).

function F:new_label(hint)
	local id = self.label_seq + 1
	self.label_seq = id
	self.label_hint[id] = hint
	return id
end

function F:label(id)
	if type(id) ~= "number" then return Builder.label(self, id) end
	local labels = self.labels
	if labels[id] then
		error(format("bpf.asm: internal: label %s.%d defined twice", self.label_hint[id] or "L", id), 2)
	end
	labels[id] = self.n
	-- a merge point: what r1..r5 hold depends on the way in
	local prov = self.prov
	prov[1], prov[2], prov[3], prov[4], prov[5] = false, false, false, false, false
	return self
end

function F:ja(label)
	local n, ins = self.n + 1, self.ins
	self.n = n
	local k = n * 4
	ins[k - 3] = JA; ins[k - 2] = 0; ins[k - 1] = 0; ins[k] = 0
	self.jump_label[n] = label
	return n
end
F.jmp = F.ja

local function jump(b, code, dst, src, label, public, text_op)
	local d, cls, regs = R64[dst], op.JMP, R64
	if not d then d, cls, regs = R32[dst], op.JMP32, R32 end
	if d then
		local s = regs[src]
		local n, ins = b.n + 1, b.ins
		local k = n * 4
		if s then
			b.n = n
			ins[k - 3] = cls + code + op.X; ins[k - 2] = d + s * 16; ins[k - 1] = 0; ins[k] = 0
			b.jump_label[n] = label
			return n
		elseif type(src) == "number" and src % 1 == 0 then
			if cls == op.JMP32 and src >= TWO31 and src < TWO32 then src = src - TWO32 end
			if src >= -TWO31 and src < TWO31 then
				b.n = n
				ins[k - 3] = cls + code + op.K; ins[k - 2] = d; ins[k - 1] = 0; ins[k] = src
				b.jump_label[n] = label
				return n
			end
		end
	end
	-- the public method's refusal (or, should it accept, its instruction with our label)
	local n
	if text_op then n = public(b, text_op, dst, src, "?") else n = public(b, dst, src, "?") end
	b.jump_label[n] = label
	return n
end

for name, code in pairs({ jeq = op.JEQ, jne = op.JNE, jgt = op.JGT, jge = op.JGE, jlt = op.JLT,
	jle = op.JLE, jsgt = op.JSGT, jsge = op.JSGE, jslt = op.JSLT, jsle = op.JSLE, jset = op.JSET }) do
	local public = Builder[name]
	F[name] = function(b, dst, src, label) return jump(b, code, dst, src, label, public) end
end

local JMP_TEXT = asm.JMP_TEXT
function F:jcond(text_op, dst, src, label)
	local code = JMP_TEXT[text_op]
	if not code then return Builder.jcond(self, text_op, dst, src, label) end
	return jump(self, code, dst, src, label, Builder.jcond, text_op)
end

function F:exit()
	local n, ins = self.n + 1, self.ins
	self.n = n
	local k = n * 4
	ins[k - 3] = EXIT; ins[k - 2] = 0; ins[k - 1] = 0; ins[k] = 0
	return n
end

-- ---- helper calls, checked ------------------------------------------------------------------

-- A helper call with nargs arguments already in r1..r(nargs): the count must be the
-- prototype's, and each register must hold what the argument's kind takes. The helper's
-- return leaves r0 a pointer or a scalar, and r1..r5 unset. The check of F:call and of every
-- composite emitter below (which set what their own instructions put in r1..r5 first); the
-- call is recorded in b.helper_calls, its instruction written by the caller.
local function check_call(b, spec, nargs)
	if nargs ~= spec.nargs then check_count(spec, nargs) end
	local prov, accept = b.prov, spec.accept
	for i = 1, nargs do
		local have = prov[i]
		if not accept[i][have] then
			local kind = spec.kinds[i] or "int"
			call_error(format("%s argument %d (%s) must be %s, but r%d holds %s", spec.name, i,
				spec.h.args[i] or "...", WANT[kind], i, have or "nothing set since the last call or label"))
		end
	end
	local nc = b.ncalls + 1
	b.ncalls = nc
	b.helper_calls[nc] = spec.name
	prov[0] = spec.ret
	prov[1], prov[2], prov[3], prov[4], prov[5] = false, false, false, false, false
end

function F:call(helper, nargs)
	local spec = specs[helper] or spec_of(helper)
	check_call(self, spec, nargs)
	local n, ins = self.n + 1, self.ins
	self.n = n
	local k = n * 4
	ins[k - 3] = CALL; ins[k - 2] = 0; ins[k - 1] = 0; ins[k] = spec.id
	return n
end

-- ---- composite emitters (the trace compiler's frequent sequences) ----------------------------
-- Each writes a whole sequence in one call: most copy a template's slots with table.move (built
-- on first use, the jumps inside resolved in it, a call's slot holding its helper's id), then
-- write its variable fields; zero and current_comm write theirs one by one. Before each helper
-- call of the sequence it sets what its own instructions put in r1..rN and runs check_call, as
-- F:call would; at its end, r1..r5 are unset (the
-- sequences end at a label or a call). Stack offsets come from b:stack; maps are references
-- ({id = n}).

local LDX_DW, STX_DW = op.LDX + op.MEM + op.DW, op.STX + op.MEM + op.DW
local ST_DW, ST_W, ST_B = op.ST + op.MEM + op.DW, op.ST + op.MEM + op.W, op.ST + op.MEM + op.B
local MOV_K, ADD_X = op.ALU64 + op.MOV + op.K, op.ALU64 + op.ADD + op.X
local SUB_X, DIV_K = op.ALU64 + op.SUB + op.X, op.ALU64 + op.DIV + op.K
local JSLT_K, JSLT_X, JLT_X = op.JMP + op.JSLT + op.K, op.JMP + op.JSLT + op.X, op.JMP + op.JLT + op.X
local JSGT_X, JGT_X = op.JMP + op.JSGT + op.X, op.JMP + op.JGT + op.X
local ATOMIC_DW = op.STX + op.DW + op.ATOMIC
local MAP_FD, MAP_VALUE = op.PSEUDO_MAP_FD * 16, op.PSEUDO_MAP_VALUE * 16

local move = table.move or function(a1, f, e, t, a2)
	for i = 0, e - f do a2[t + i] = a1[f + i] end
	return a2
end

-- A map reference, a stack offset (from b:stack), an immediate: what the composites take.
local function is_ref(ref) return type(ref) == "table" and ref.id ~= nil end
local function is_off(v) return type(v) == "number" and v >= -32768 and v <= 32767 and v % 1 == 0 end
local function is_imm(v) return type(v) == "number" and v >= -TWO31 and v < TWO31 and v % 1 == 0 end
local function is_stack_off(v) return is_off(v) and v < 0 end

-- A template being written: put(code, regs, off, imm) appends a slot and returns its number
-- (from 1); in slot s, the fields are at 4s-3 (code), 4s-2 (regs), 4s-1 (off), 4s (imm).
local function template()
	local t, n = {}, 0
	return t, function(code, regs, off, imm)
		local k = n * 4
		t[k + 1], t[k + 2], t[k + 3], t[k + 4] = code, regs, off, imm
		n = n + 1
		return n
	end
end

local function helper_id(name) return (specs[name] or spec_of(name)).id end

-- `r1 = map; r2 = r10 + key`: slots 1-4 of a sequence (the key at field 16).
local function put_map_key(put)
	put(LD_IMM64, 1 + MAP_FD, 0, 0)
	put(0, 0, 0, 0)
	put(MOV_X, 2 + 160, 0, 0)
	return put(ADD_K, 2, 0, 0)
end

-- `r3 = r10 + val; r4 = flags` and the update call; returns the slot of r3's add.
local function put_update_rest(put)
	put(MOV_X, 3 + 160, 0, 0)
	local s = put(ADD_K, 3, 0, 0)
	put(MOV_K, 4, 0, 0)
	put(CALL, 0, 0, helper_id("map_update_elem"))
	return s
end

local LOOKUP, UPDATE -- lookup: 5 slots; update: 8 slots (val at field 24, flags at 28)

-- r0 = map_lookup_elem(map, r10 + key).
function F:map_lookup(ref, key)
	if not (is_ref(ref) and is_off(key)) then
		self:ld_map("r1", ref)
		self:stack_ptr("r2", key)
		return self:call("map_lookup_elem", 2)
	end
	if not LOOKUP then
		local put
		LOOKUP, put = template()
		put_map_key(put)
		put(CALL, 0, 0, helper_id("map_lookup_elem"))
	end
	local n, ins, prov = self.n, self.ins, self.prov
	local base = n * 4
	move(LOOKUP, 1, 20, base + 1, ins)
	ins[base + 16] = key
	self.map_ref[n + 1] = ref
	prov[1], prov[2] = MAP, STACK
	check_call(self, specs.map_lookup_elem, 2)
	self.n = n + 5
	return n + 5
end

-- map_update_elem(map, r10 + key, r10 + val, flags).
function F:map_update(ref, key, val, flags)
	flags = flags or 0
	if not (is_ref(ref) and is_off(key) and is_off(val) and is_imm(flags)) then
		self:ld_map("r1", ref)
		self:stack_ptr("r2", key)
		self:stack_ptr("r3", val)
		self:mov("r4", flags)
		return self:call("map_update_elem", 4)
	end
	if not UPDATE then
		local put
		UPDATE, put = template()
		put_map_key(put)
		put_update_rest(put)
	end
	local n, ins, prov = self.n, self.ins, self.prov
	local base = n * 4
	move(UPDATE, 1, 32, base + 1, ins)
	ins[base + 16], ins[base + 24], ins[base + 28] = key, val, flags
	self.map_ref[n + 1] = ref
	prov[1], prov[2], prov[3], prov[4] = MAP, STACK, STACK, flags == 0 and ZERO or SCALAR
	check_call(self, specs.map_update_elem, 4)
	self.n = n + 8
	return n + 8
end

-- An aggregation's update of its value (the key at r10 + key, r7 the value where the kind
-- takes one): looked up and changed in place, or, when absent, built at r10 + val and stored.
-- kind: "inc" (count, hist, lhist: +1), "sum" (+r7), "avg" (+r7 and a count), "min"/"max"
-- (r7 kept unless the stored one wins, with a set flag; signed compares as signed); value_size
-- 8 or 16 (a second word set to 1 on creation).
local AGG = { inc = {}, sum = {}, avg = {}, min = {}, max = {} }

local function aggregate_template(kind, value_size, signed)
	local t, put = template()
	put_map_key(put)
	put(CALL, 0, 0, helper_id("map_lookup_elem"))
	local jeq = put(JEQ_K, 0, 0, 0) -- to init
	local jcond
	if kind == "min" or kind == "max" then
		local keep -- the stored value stays: min when r7 >= it, max when r7 <= it
		if kind == "min" then keep = signed and op.JSGE or op.JGE else keep = signed and op.JSLE or op.JLE end
		put(LDX_DW, 1, 8, 0)
		put(JEQ_K, 1, 2, 0)
		put(LDX_DW, 1, 0, 0)
		jcond = put(op.JMP + keep + op.X, 7 + 16, 0, 0) -- to done
		put(STX_DW, 7 * 16, 0, 0)
		put(ST_DW, 0, 8, 1)
	else
		put(LDX_DW, 1, 0, 0)
		if kind == "inc" then put(ADD_K, 1, 0, 1) else put(ADD_X, 1 + 7 * 16, 0, 0) end
		put(STX_DW, 16, 0, 0)
		if kind == "avg" then
			put(LDX_DW, 1, 8, 0)
			put(ADD_K, 1, 0, 1)
			put(STX_DW, 16, 8, 0)
		end
	end
	local ja = put(JA, 0, 0, 0) -- to done
	local init, init8
	if kind == "inc" then
		init = put(ST_DW, 10, 0, 1)
	else
		init = put(STX_DW, 10 + 7 * 16, 0, 0)
		if value_size == 16 then init8 = put(ST_DW, 10, 0, 1) end
	end
	local map2 = put_map_key(put) - 3
	local val2 = put_update_rest(put)
	local last = val2 + 2 -- the update call; done is the slot after it
	t[jeq * 4 - 1] = init - jeq - 1
	t[ja * 4 - 1] = last - ja
	if jcond then t[jcond * 4 - 1] = last - jcond end
	t.slots, t.map2 = last, map2
	t.key2, t.init, t.init8, t.val2 = (map2 + 3) * 4, init * 4 - 1, init8 and init8 * 4 - 1, val2 * 4
	AGG[kind][value_size + (signed and 1 or 0)] = t
	return t
end

function F:aggregate_update(kind, ref, key, val, value_size, signed)
	local by_kind = AGG[kind]
	-- (is_ref and is_stack_off inline: this runs for every aggregation)
	if not (by_kind and type(ref) == "table" and ref.id and type(key) == "number" and
		type(val) == "number" and key % 1 == 0 and val % 1 == 0 and key >= -32768 and
		val >= -32768 and key < 0 and val < 0 and (value_size == 8 or value_size == 16)) then
		error("bpf.asm: aggregate_update: unexpected arguments (" .. tostring(kind) .. ")", 2)
	end
	local t = by_kind[value_size + (signed and 1 or 0)] or aggregate_template(kind, value_size, signed)
	local n, ins, prov = self.n, self.ins, self.prov
	local base, slots = n * 4, t.slots
	move(t, 1, slots * 4, base + 1, ins)
	ins[base + 16], ins[base + t.key2] = key, key
	ins[base + t.init], ins[base + t.val2] = val, val
	local init8 = t.init8
	if init8 then ins[base + init8] = val + 8 end
	local map_ref = self.map_ref
	map_ref[n + 1], map_ref[n + t.map2] = ref, ref
	prov[1], prov[2] = MAP, STACK
	check_call(self, specs.map_lookup_elem, 2)
	prov[1], prov[2], prov[3], prov[4] = MAP, STACK, STACK, ZERO
	check_call(self, specs.map_update_elem, 4)
	self.n = n + slots
	return n + slots
end

-- bpftrace's log2 slot of r7 (<0 → 0, 0 → 1, else 2 + floor(log2)) stored as a u64 at r10 + off
-- (r1..r3 clobbered).
local LOG2_SLOT
function F:log2_slot(off)
	if not LOG2_SLOT then
		local put
		LOG2_SLOT, put = template()
		put(MOV_K, 1, 0, 0)
		put(JSLT_K, 7, 34, 0)
		put(MOV_K, 1, 0, 1)
		put(JEQ_K, 7, 32, 0)
		put(MOV_X, 2 + 7 * 16, 0, 0)
		put(MOV_K, 1, 0, 2)
		for i = 1, 6 do
			local s = LOG2_SHIFTS[i]
			put(MOV_X, 3 + 2 * 16, 0, 0)
			put(RSH_K, 3, 0, s)
			put(JEQ_K, 3, 2, 0)
			put(MOV_X, 2 + 3 * 16, 0, 0)
			put(ADD_K, 1, 0, s)
		end
		put(STX_DW, 10 + 16, 0, 0)
	end
	local n, ins = self.n, self.ins
	move(LOG2_SLOT, 1, 148, n * 4 + 1, ins)
	ins[n * 4 + 147] = off
	self.n = n + 37
	local prov = self.prov
	prov[1], prov[2], prov[3], prov[4], prov[5] = false, false, false, false, false
	return n + 1
end

-- lhist's slot of r7 (min, max, step as given to lhist; signed compares as signed) stored as
-- a u64 at r10 + off (r1, r2 clobbered): below min 0, above max 1 + buckets, else
-- 1 + (v - min) / step. Returns nil, emitting nothing, for bounds beyond 32 bits.
local LINEAR = {}
local function linear_template(signed)
	local t, put = template()
	put(MOV_K, 1, 0, 0)
	put(MOV_K, 2, 0, 0) -- min
	put(signed and JSLT_X or JLT_X, 7 + 32, 8, 0)
	put(MOV_K, 1, 0, 0) -- 1 + buckets
	put(MOV_K, 2, 0, 0) -- max
	put(signed and JSGT_X or JGT_X, 7 + 32, 5, 0)
	put(MOV_X, 1 + 7 * 16, 0, 0)
	put(SUB_X, 1 + 32, 0, 0)
	put(ADD_K, 1, 0, 0) -- max - min
	put(DIV_K, 1, 0, 0) -- step
	put(ADD_K, 1, 0, 1)
	put(STX_DW, 10 + 16, 0, 0) -- off
	LINEAR[signed] = t
	return t
end

function F:linear_slot(min, max, step, signed, off)
	local nb = math.floor((max - min) / step)
	if not (is_imm(min) and is_imm(max) and is_imm(step) and is_imm(max - min) and
		is_imm(1 + nb) and is_off(off)) then
		return nil -- the caller emits it one instruction at a time
	end
	signed = signed and true or false
	local t = LINEAR[signed] or linear_template(signed)
	local n, ins = self.n, self.ins
	local k = n * 4
	move(t, 1, 48, k + 1, ins)
	ins[k + 8], ins[k + 16], ins[k + 20] = min, 1 + nb, max
	ins[k + 36], ins[k + 40], ins[k + 47] = max - min, step, off
	self.n = n + 12
	local prov = self.prov
	prov[1], prov[2], prov[3], prov[4], prov[5] = false, false, false, false, false
	return n + 1
end

-- Zeroes size bytes of the stack at r10 + off: u64 stores, then u32, then u8.
function F:zero(off, size)
	local n, ins = self.n, self.ins
	if size == 8 or size == 16 then -- the common keys and buffers: one or two u64 stores
		local k = n * 4
		ins[k + 1] = ST_DW; ins[k + 2] = 10; ins[k + 3] = off; ins[k + 4] = 0
		if size == 8 then self.n = n + 1; return n + 1 end
		ins[k + 5] = ST_DW; ins[k + 6] = 10; ins[k + 7] = off + 8; ins[k + 8] = 0
		self.n = n + 2
		return n + 1
	end
	local first, i = n + 1, 0
	while i < size do
		local c, w = ST_B, 1
		if i + 8 <= size then c, w = ST_DW, 8 elseif i + 4 <= size then c, w = ST_W, 4 end
		local k = n * 4
		ins[k + 1] = c; ins[k + 2] = 10; ins[k + 3] = off + i; ins[k + 4] = 0
		n, i = n + 1, i + w
	end
	self.n = n
	return first
end

-- get_current_comm(r10 + off, min(16, size)) into the zeroed size bytes at r10 + off.
function F:current_comm(off, size)
	if not (is_stack_off(off) and is_off(size) and size > 0) then
		error("bpf.asm: current_comm: a stack offset and a size expected", 2)
	end
	self:zero(off, size)
	local len = size < 16 and size or 16
	local spec = specs.get_current_comm or spec_of("get_current_comm")
	local n, ins, prov = self.n, self.ins, self.prov
	local k = n * 4
	ins[k + 1] = MOV_X; ins[k + 2] = 1 + 160; ins[k + 3] = 0; ins[k + 4] = 0
	ins[k + 5] = ADD_K; ins[k + 6] = 1; ins[k + 7] = 0; ins[k + 8] = off
	ins[k + 9] = MOV_K; ins[k + 10] = 2; ins[k + 11] = 0; ins[k + 12] = len
	ins[k + 13] = CALL; ins[k + 14] = 0; ins[k + 15] = 0; ins[k + 16] = spec.id
	prov[1], prov[2] = STACK, SCALAR
	check_call(self, spec, 2)
	self.n = n + 4
	return n + 4
end

-- ringbuf_output(ringbuf, r10 + off, size, 0); when it fails, one more lost record: the u64 at
-- the `lost` map's value incremented atomically.
local RINGBUF -- 12 slots: off at field 16, size at 20, the lost map's ld at slot 9
function F:ringbuf_output(ringbuf, lost, off, size)
	if not (is_ref(ringbuf) and is_ref(lost) and is_stack_off(off) and is_imm(size) and size >= 0) then
		error("bpf.asm: ringbuf_output: map references and numbers expected", 2)
	end
	if not RINGBUF then
		local put
		RINGBUF, put = template()
		put_map_key(put)
		put(MOV_K, 3, 0, 0)
		put(MOV_K, 4, 0, 0)
		put(CALL, 0, 0, helper_id("ringbuf_output"))
		put(JEQ_K, 0, 4, 0)
		put(LD_IMM64, 1 + MAP_VALUE, 0, 0)
		put(0, 0, 0, 0)
		put(MOV_K, 2, 0, 1)
		put(ATOMIC_DW, 1 + 32, 0, op.ADD)
	end
	local n, ins, prov = self.n, self.ins, self.prov
	local base = n * 4
	move(RINGBUF, 1, 48, base + 1, ins)
	ins[base + 16], ins[base + 20] = off, size
	local map_ref = self.map_ref
	map_ref[n + 1], map_ref[n + 9] = ringbuf, lost
	prov[1], prov[2], prov[3], prov[4] = MAP, STACK, size == 0 and ZERO or SCALAR, ZERO
	check_call(self, specs.ringbuf_output, 4)
	self.n = n + 12
	return n + 7
end

-- ---- stack and line info --------------------------------------------------------------------

function F:stack(size, align)
	align = align or (size >= 8 and 8 or size > 2 and 4 or size)
	if size > 0 and size % 1 == 0 and (align == 8 or align == 4 or align == 2 or align == 1) then
		local top = self.sp + size
		top = top + (align - top % align) % align
		if top <= 512 then
			self.sp = top
			return -top
		end
	end
	return Builder.stack(self, size, align)
end

function F:stack_used() return self.sp end

function F:stack_reset(used)
	if used > self.sp then return Builder.stack_reset(self, used) end
	self.sp = used
end

-- The line info entry is written now, at the slot the next instruction takes; a second line
-- before any instruction replaces it, and finish drops one that no instruction follows.
function F:line(file, line, col, text)
	file = file or self.file
	self.cur_file, self.cur_line, self.cur_col, self.cur_text = file, line, col, text
	local l, k, slot = self.lines, self.nlines, self.n
	if k == 0 or l[k - 4] ~= slot then k = k + 5; self.nlines = k end
	l[k - 4], l[k - 3], l[k - 2], l[k - 1], l[k] = slot, file or "", line, col or 0, text or ""
	return self
end

-- Finishes as the public builder does, then is one (the fast emitters are for generation only).
function F:finish()
	local k = self.nlines
	if k > 0 and self.lines[k - 4] == self.n then self.nlines = k - 5 end
	Builder.finish(self)
	return setmetatable(self, Builder)
end

return M
