-- bpf.asm: BPF programs built instruction by instruction from Lua, with labels, helpers by name,
-- maps by handle, stack slots and line info; loaded as ordinary program handles (doc/ASM.md).
--
-- A builder keeps its instructions in one array, four entries a slot (opcode, registers, offset,
-- immediate: slot i at 4i-3 .. 4i), and the few things resolved at the end (labels, maps, line
-- info) in sparse tables keyed by slot: emitting an instruction allocates nothing but array slots.
local bpf = require "bpf"
local core = require "bpf.asm_core"
local abtf = require "bpf.asm_btf"
local calls = require "bpf.asm_calls"
local enc = require "bpf.asm_encode"

local M = {}

local type, tostring, tonumber, select, error = type, tostring, tonumber, select, error
local floor, char, concat, format = math.floor, string.char, table.concat, string.format

-- ---- opcodes ------------------------------------------------------------------------------------

local op = {
	LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, JMP32 = 0x06,
	ALU64 = 0x07,
	W = 0x00, H = 0x08, B = 0x10, DW = 0x18,
	IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, MEMSX = 0x80, ATOMIC = 0xc0,
	K = 0x00, X = 0x08,
	ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60,
	RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xa0, MOV = 0xb0, ARSH = 0xc0, END = 0xd0,
	JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40, JNE = 0x50, JSGT = 0x60,
	JSGE = 0x70, CALL = 0x80, EXIT = 0x90, JLT = 0xa0, JLE = 0xb0, JSLT = 0xc0, JSLE = 0xd0,
	JCOND = 0xe0,
	TO_LE = 0x00, TO_BE = 0x08,
	FETCH = 0x01, XCHG = 0xe1, CMPXCHG = 0xf1,
	PSEUDO_MAP_FD = 1, PSEUDO_MAP_VALUE = 2, PSEUDO_BTF_ID = 3, PSEUDO_FUNC = 4,
	PSEUDO_MAP_IDX = 5, PSEUDO_MAP_IDX_VALUE = 6, PSEUDO_CALL = 1, PSEUDO_KFUNC_CALL = 2,
}
M.op = op

local LD_IMM64 = op.LD + op.IMM + op.DW          -- 0x18
local CALL, EXIT, JA = op.JMP + op.CALL, op.JMP + op.EXIT, op.JMP + op.JA
local STACK_MAX = 512

-- ---- registers, immediates, sizes ------------------------------------------------------------

local R64, R32 = {}, {}
for i = 0, 10 do
	R64["r" .. i], R32["w" .. i] = i, i
	M["r" .. i], M["w" .. i] = "r" .. i, "w" .. i
end
M.fp = "r10"

local SIZES = { u8 = op.B, u16 = op.H, u32 = op.W, u64 = op.DW, [1] = op.B, [2] = op.H,
	[4] = op.W, [8] = op.DW, b = op.B, h = op.H, w = op.W, dw = op.DW }
local SIGNED_SIZES = { s8 = op.B, s16 = op.H, s32 = op.W }

local TWO32, TWO31 = 4294967296, 2147483648

-- Splits a 64-bit value into its low and high 32-bit halves (each 0 .. 2^32-1).
local split64
if math.type then -- Lua 5.3+: integers with operators (loaded as text: this file parses on 5.1)
	split64 = load([[
		local mtype = math.type
		return function(v)
			if mtype(v) == "integer" then return v & 0xffffffff, (v >> 32) & 0xffffffff end
			return nil
		end]])()
end
local bit_ok, bit = false, nil -- LuaJIT only: cdata values exist there alone (no failed search on 5.4)
if rawget(_G, "jit") then bit_ok, bit = pcall(require, "bit") end
local function split_value(v)
	if type(v) == "cdata" and bit_ok then
		return tonumber(bit.band(v, 0xffffffff)), tonumber(bit.band(bit.rshift(v, 32), 0xffffffff))
	end
	if type(v) ~= "number" then return nil end
	if split64 then
		local lo, hi = split64(v)
		if lo then return lo, hi end
	end
	if v ~= v or v % 1 ~= 0 or v >= 2 ^ 64 or v < -2 ^ 63 then return nil end
	local lo = v % TWO32
	local hi = ((v - lo) / TWO32) % TWO32
	return lo, hi
end

local function s32(x) -- 0 .. 2^32-1 or -2^31 .. 2^31-1 → signed
	if x >= TWO31 then return x - TWO32 end
	return x
end

-- ---- errors -------------------------------------------------------------------------------------

local Builder = {}
Builder.__index = Builder

-- The stack level of the first caller outside bpf.asm's own files (for error positions).
local function caller_level()
	local level = 3
	while true do
		local info = debug.getinfo(level, "S")
		if not info then return 0 end
		if not info.source:find("bpf[/.]asm[%w_]*%.lua$") and info.what ~= "C" then
			return level - 1
		end
		level = level + 1
	end
end

-- "bpf.asm: file:line:col: message" (the current source position when there is one), raised
-- at the code that called the builder.
local function fail(b, msg)
	local where = ""
	if b and b.cur_line then
		where = format("%s:%d:%d: ", b.cur_file or "?", b.cur_line, b.cur_col or 0)
	end
	error("bpf.asm: " .. where .. msg, caller_level())
end

local function num_text(v)
	if type(v) == "number" and v % 1 == 0 and v == v then return format("%.0f", v) end
	return tostring(v)
end

local function check_open(b)
	if b.finished then fail(b, "the program is finished: no more instructions") end
end

local function imm32(b, v, what)
	local t = type(v)
	if t ~= "number" then
		if t == "cdata" then return imm32(b, tonumber(v), what) end
	elseif v >= -TWO31 and v < TWO31 and v % 1 == 0 then
		return v
	elseif v >= TWO31 and v < TWO32 and v % 1 == 0 then
		return v - TWO32
	end
	fail(b, format("%s must be a 32-bit integer, got %s", what or "immediate",
		t == "number" and num_text(v) or t))
end

local function off16(b, v)
	if type(v) ~= "number" or v % 1 ~= 0 or v < -32768 or v > 32767 then
		fail(b, "offset must be an integer in -32768..32767, got " .. tostring(v))
	end
	return v
end

local function reg64(b, r, what)
	local n = R64[r]
	if not n then
		fail(b, format("%s must be a register r0..r10, got %s", what or "register",
			type(r) == "string" and "'" .. r .. "'" or type(r)))
	end
	return n
end

-- ---- the builder ----------------------------------------------------------------------------

function M.new(opts)
	if opts ~= nil and type(opts) ~= "table" then
		error("bpf.asm.new: options table expected, got " .. type(opts), 2)
	end
	opts = opts or {}
	local name = opts.name or "asm_prog"
	if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
		error("bpf.asm.new: name must be an identifier, got " .. tostring(name), 2)
	end
	return setmetatable({
		name = name, file = opts.file,
		n = 0,                       -- slots emitted
		ins = {},                    -- opcode, dst + 16 * src, off, imm per slot
		jump_label = {},             -- slot → label (jumps: off; calls and ld_func: imm)
		labels = {},                 -- name → slot
		map_ref = {},                -- slot → map handle, fd number, or {id = N}
		funcs = { { name = name, start = 0, nargs = 1, main = true } },
		sp = 0,                      -- stack bytes of the current function
		lines = {},                  -- flat: slot, file, line, col, text, ...
		nlines = 0,
		finished = false,
	}, Builder)
end

-- Appends one slot: the only place that grows the arrays.
local function emit(b, code, dst, src, off, imm)
	if b.finished then check_open(b) end
	local n = b.n + 1
	b.n = n
	local ins, k = b.ins, n * 4
	ins[k - 3], ins[k - 2], ins[k - 1], ins[k] = code, dst + src * 16, off, imm
	if b.line_pending then
		b.line_pending = false
		local l, k = b.lines, b.nlines
		l[k + 1], l[k + 2], l[k + 3], l[k + 4], l[k + 5] = n - 1, b.cur_file or b.file or "",
			b.cur_line, b.cur_col or 0, b.cur_text or ""
		b.nlines = k + 5
	end
	return n
end

local function raw_field(b, v, name, max)
	if type(v) ~= "number" or v % 1 ~= 0 or v < 0 or v > max then
		fail(b, "raw: " .. name .. " out of range: " .. tostring(v))
	end
end

function Builder:raw(code, dst, src, off, imm, imm2)
	check_open(self)
	self.raw_used = true -- finish checks every jump's landing and looks for subprogram calls
	raw_field(self, code, "code", 255); raw_field(self, dst, "dst", 15); raw_field(self, src, "src", 15)
	local n = emit(self, code, dst, src, off16(self, off or 0), imm32(self, imm or 0))
	if imm2 ~= nil then
		emit(self, 0, 0, 0, 0, imm32(self, imm2, "imm2"))
	end
	return n
end

-- ALU: one method per operation. The width comes from the registers (r: ALU64, w: ALU).
local function alu(b, opcode, dst, src, off)
	local d, cls = R64[dst], op.ALU64
	if not d then
		d, cls = R32[dst], op.ALU
		if not d then fail(b, "destination must be a register r0..r10 or w0..w10, got " ..
				(type(dst) == "string" and "'" .. dst .. "'" or type(dst))) end
	end
	if type(src) == "string" then
		local s
		if cls == op.ALU64 then s = R64[src] else s = R32[src] end
		if not s then
			if R64[src] or R32[src] then
				fail(b, format("cannot mix %s and %s in one instruction", dst, src))
			end
			fail(b, "source must be a register or an integer, got '" .. src .. "'")
		end
		return emit(b, cls + opcode + op.X, d, s, off or 0, 0)
	end
	local imm = imm32(b, src)
	if cls == op.ALU64 and imm ~= src and type(src) == "number" then
		-- 2^31..2^32-1: a 64-bit operation would sign-extend it. mov means the value itself,
		-- which a 32-bit mov gives (it zero-extends); anything else would be a surprise.
		if opcode == op.MOV and (off or 0) == 0 then return emit(b, op.ALU + op.MOV + op.K, d, 0, 0, imm) end
		fail(b, format("immediate %s would be sign-extended to %d by a 64-bit operation " ..
			"(write %d, use a w register, or ld_imm64 it into a register)", num_text(src), imm, imm))
	end
	return emit(b, cls + opcode + op.K, d, 0, off or 0, imm)
end

local ALU_OPS = { add = op.ADD, sub = op.SUB, mul = op.MUL, div = op.DIV, or_ = op.OR,
	and_ = op.AND, lsh = op.LSH, rsh = op.RSH, mod = op.MOD, xor = op.XOR, mov = op.MOV,
	arsh = op.ARSH, bor = op.OR, band = op.AND }
for name, code in pairs(ALU_OPS) do
	Builder[name] = function(b, dst, src) return alu(b, code, dst, src) end
end
function Builder:sdiv(dst, src) return alu(self, op.DIV, dst, src, 1) end
function Builder:smod(dst, src) return alu(self, op.MOD, dst, src, 1) end

local ALU_TEXT = { ["+="] = { op.ADD }, ["-="] = { op.SUB }, ["*="] = { op.MUL },
	["/="] = { op.DIV }, ["s/="] = { op.DIV, 1 }, ["%="] = { op.MOD }, ["s%="] = { op.MOD, 1 },
	["|="] = { op.OR }, ["&="] = { op.AND }, ["^="] = { op.XOR }, ["<<="] = { op.LSH },
	[">>="] = { op.RSH }, ["s>>="] = { op.ARSH }, ["="] = { op.MOV } }
M.ALU_TEXT = ALU_TEXT

function Builder:alu(text_op, dst, src)
	local o = ALU_TEXT[text_op]
	if not o then fail(self, "unknown ALU operator '" .. tostring(text_op) .. "'") end
	return alu(self, o[1], dst, src, o[2])
end

function Builder:neg(dst)
	local d, cls = R64[dst], op.ALU64
	if not d then d, cls = R32[dst], op.ALU end
	if not d then fail(self, "neg: a register expected, got " .. tostring(dst)) end
	return emit(self, cls + op.NEG, d, 0, 0, 0)
end

function Builder:movsx(dst, src, bits)
	if bits ~= 8 and bits ~= 16 and bits ~= 32 then
		fail(self, "movsx: bits must be 8, 16 or 32, got " .. tostring(bits))
	end
	if type(src) ~= "string" then fail(self, "movsx: the source must be a register") end
	return alu(self, op.MOV, dst, src, bits)
end

local function endian(b, dst, bits, cls, src)
	local d = R64[dst] or R32[dst]
	if not d then fail(b, "a register expected, got " .. tostring(dst)) end
	if bits ~= 16 and bits ~= 32 and bits ~= 64 then
		fail(b, "bits must be 16, 32 or 64, got " .. tostring(bits))
	end
	return emit(b, cls + op.END + src, d, 0, 0, bits)
end
function Builder:be(dst, bits) return endian(self, dst, bits, op.ALU, op.TO_BE) end
function Builder:le(dst, bits) return endian(self, dst, bits, op.ALU, op.TO_LE) end
function Builder:bswap(dst, bits) return endian(self, dst, bits, op.ALU64, op.TO_LE) end

-- ---- labels and jumps -----------------------------------------------------------------------

local function check_label(b, name)
	if type(name) ~= "string" or name == "" then
		fail(b, "a label name (string) expected, got " .. tostring(name))
	end
	if R64[name] or R32[name] then fail(b, "'" .. name .. "' is a register, not a label") end
end

function Builder:label(name)
	check_label(self, name)
	if self.labels[name] then
		fail(self, format("label '%s' defined twice (first at instruction %d)", name,
			self.labels[name]))
	end
	self.labels[name] = self.n
	return self
end

function Builder:new_label(hint)
	self.label_seq = (self.label_seq or 0) + 1
	return (hint or "L") .. "." .. self.label_seq
end

-- Records a label use at slot n; the position is kept for "undefined label" messages.
local function use_label(b, n, name)
	check_label(b, name)
	b.jump_label[n] = name
end

function Builder:ja(label)
	local n = emit(self, JA, 0, 0, 0, 0)
	use_label(self, n, label)
	return n
end
Builder.jmp = Builder.ja

local function jump(b, opcode, dst, src, label)
	local d, cls = R64[dst], op.JMP
	if not d then
		d, cls = R32[dst], op.JMP32
		if not d then fail(b, "jump: a register r0..r10 or w0..w10 expected, got " ..
				tostring(dst)) end
	end
	local n
	if type(src) == "string" then
		local s
		if cls == op.JMP then s = R64[src] else s = R32[src] end
		if not s then
			if R64[src] or R32[src] then
				fail(b, format("cannot mix %s and %s in one jump", dst, src))
			end
			fail(b, "jump: source must be a register or an integer, got '" .. src .. "'")
		end
		n = emit(b, cls + opcode + op.X, d, s, 0, 0)
	else
		local imm = imm32(b, src)
		if cls == op.JMP and imm ~= src and type(src) == "number" then
			fail(b, format("immediate %s would be compared as %d by a 64-bit jump (write %d, " ..
				"use a w register, or compare with a register)", num_text(src), imm, imm))
		end
		n = emit(b, cls + opcode + op.K, d, 0, 0, imm)
	end
	use_label(b, n, label)
	return n
end

local JMP_OPS = { jeq = op.JEQ, jne = op.JNE, jgt = op.JGT, jge = op.JGE, jlt = op.JLT,
	jle = op.JLE, jsgt = op.JSGT, jsge = op.JSGE, jslt = op.JSLT, jsle = op.JSLE, jset = op.JSET }
for name, code in pairs(JMP_OPS) do
	Builder[name] = function(b, dst, src, label) return jump(b, code, dst, src, label) end
end
local JMP_TEXT = { ["=="] = op.JEQ, ["!="] = op.JNE, [">"] = op.JGT, [">="] = op.JGE,
	["<"] = op.JLT, ["<="] = op.JLE, ["s>"] = op.JSGT, ["s>="] = op.JSGE, ["s<"] = op.JSLT,
	["s<="] = op.JSLE, ["&"] = op.JSET }
M.JMP_TEXT = JMP_TEXT

function Builder:jcond(text_op, dst, src, label)
	local o = JMP_TEXT[text_op]
	if not o then fail(self, "unknown jump condition '" .. tostring(text_op) .. "'") end
	return jump(self, o, dst, src, label)
end

-- ---- memory ---------------------------------------------------------------------------------

local function size_of(b, size, signed_ok)
	local s = SIZES[size]
	if s then return s, false end
	if signed_ok and SIGNED_SIZES[size] then return SIGNED_SIZES[size], true end
	fail(b, "size must be u8, u16, u32 or u64" .. (signed_ok and " (or s8, s16, s32)" or "") ..
		", got " .. tostring(size))
end

function Builder:ldx(size, dst, src, off)
	local sz, signed = size_of(self, size, true)
	return emit(self, op.LDX + sz + (signed and op.MEMSX or op.MEM), reg64(self, dst, "ldx dst"),
		reg64(self, src, "ldx src"), off16(self, off or 0), 0)
end

function Builder:stx(size, dst, off, src)
	return emit(self, op.STX + size_of(self, size) + op.MEM, reg64(self, dst, "stx dst"),
		reg64(self, src, "stx src"), off16(self, off or 0), 0)
end

function Builder:st(size, dst, off, imm)
	local sz = size_of(self, size)
	local v = imm32(self, imm)
	if sz == op.DW and v ~= imm and type(imm) == "number" then
		fail(self, format("immediate %s would be stored sign-extended as %d in 64 bits", num_text(imm), v))
	end
	return emit(self, op.ST + sz + op.MEM, reg64(self, dst, "st dst"), 0, off16(self, off or 0), v)
end

local ATOMIC_OPS = { add = op.ADD, ["or"] = op.OR, ["and"] = op.AND, xor = op.XOR,
	fetch_add = op.ADD + op.FETCH, fetch_or = op.OR + op.FETCH,
	fetch_and = op.AND + op.FETCH, fetch_xor = op.XOR + op.FETCH, xchg = op.XCHG,
	cmpxchg = op.CMPXCHG }

function Builder:atomic(aop, size, dst, off, src)
	local a = ATOMIC_OPS[aop]
	if not a then fail(self, "unknown atomic operation '" .. tostring(aop) .. "'") end
	local sz = size_of(self, size)
	if sz ~= op.W and sz ~= op.DW then fail(self, "atomic operations take u32 or u64") end
	return emit(self, op.STX + sz + op.ATOMIC, reg64(self, dst, "atomic dst"),
		reg64(self, src, "atomic src"), off16(self, off or 0), a)
end

function Builder:xadd(size, dst, off, src) return self:atomic("add", size, dst, off, src) end

-- ---- 64-bit loads ---------------------------------------------------------------------------

function Builder:ld_imm64(dst, value)
	local d = reg64(self, dst, "ld_imm64 dst")
	local lo, hi = split_value(value)
	if not lo then
		fail(self, "ld_imm64: a 64-bit integer expected, got " .. tostring(value))
	end
	local n = emit(self, LD_IMM64, d, 0, 0, s32(lo))
	emit(self, 0, 0, 0, 0, s32(hi))
	return n
end

local function check_map(b, map)
	local t = type(map)
	if t == "number" and map >= 0 and map % 1 == 0 then return map end
	if (t == "userdata" and type(map.fd) == "function") or (t == "table" and map.id) then
		return map
	end
	fail(b, "a map handle or fd expected, got " .. t)
end

local function ld_pseudo(b, dst, src, imm_lo, imm_hi)
	local n = emit(b, LD_IMM64, reg64(b, dst, "destination"), src, 0, imm_lo)
	emit(b, 0, 0, 0, 0, imm_hi)
	return n
end

function Builder:ld_map(dst, map)
	local m = check_map(self, map)
	local n = ld_pseudo(self, dst, op.PSEUDO_MAP_FD, 0, 0)
	self.map_ref[n] = m
	return n
end

function Builder:ld_map_value(dst, map, off)
	local m = check_map(self, map)
	local n = ld_pseudo(self, dst, op.PSEUDO_MAP_VALUE, 0, imm32(self, off or 0, "map value offset"))
	self.map_ref[n] = m
	return n
end

function Builder:ld_func(dst, label)
	self.subcalls = true
	local n = ld_pseudo(self, dst, op.PSEUDO_FUNC, 0, 0)
	use_label(self, n, label)
	return n
end

-- ---- helpers and calls ----------------------------------------------------------------------

M.helpers = calls.helpers

-- The helper entry for a name ("map_lookup_elem", "bpf_map_lookup_elem") or id.
local function find_helper(b, helper)
	local h, err = calls.find(helper)
	if not h then fail(b, err) end
	return h
end
M.find_helper = function(name) return find_helper(nil, name) end

local function check_nargs(b, h, nargs)
	local err = calls.nargs_error(h, nargs)
	if err then fail(b, err) end
end

function Builder:call(helper, nargs)
	local h = find_helper(self, helper)
	check_nargs(self, h, nargs)
	return emit(self, CALL, 0, 0, 0, h.id)
end

local ARG_REGS = { "r1", "r2", "r3", "r4", "r5" }

function Builder:helper(helper, ...)
	local h = find_helper(self, helper)
	local nargs = select("#", ...)
	check_nargs(self, h, nargs)
	for i = 1, nargs do
		local a = select(i, ...)
		local kind, target = h.kinds[i] or "int", ARG_REGS[i]
		local ta = type(a)
		if ta == "string" then
			local r = R64[a]
			if not r then
				fail(self, format("%s argument %d (%s): a register r0..r10 expected, got '%s'",
					h.name, i, h.args[i] or "...", a))
			end
			-- r1..r(i-1) now hold earlier arguments: reading one is wrong unless it stayed put
			if r >= 1 and r < i and select(r, ...) ~= a then
				fail(self, format("%s argument %d reads %s, which argument %d already overwrote",
					h.name, i, a, r))
			end
			if r ~= i then self:mov(target, a) end
		elseif ta == "number" or ta == "cdata" then
			if kind == "map" or (kind == "ptr" and a ~= 0) then
				fail(self, format("%s argument %d (%s): a %s expected, got the number %s", h.name,
					i, h.args[i], kind == "map" and "map handle or register" or
					"register (or 0 for NULL)", tostring(a)))
			end
			self:mov(target, a)
		elseif ta == "userdata" or ta == "table" then
			if kind ~= "map" then
				fail(self, format("%s argument %d (%s) is not a map, got a %s", h.name, i,
					h.args[i] or "...", ta))
			end
			self:ld_map(target, a)
		else
			fail(self, format("%s argument %d: a register, integer or map expected, got %s",
				h.name, i, ta))
		end
	end
	return emit(self, CALL, 0, 0, 0, h.id)
end

function Builder:func(name, nargs)
	check_open(self)
	nargs = nargs or 0
	if type(nargs) ~= "number" or nargs < 0 or nargs > 5 or nargs % 1 ~= 0 then
		fail(self, "func: nargs must be 0..5, got " .. tostring(nargs))
	end
	if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
		fail(self, "func: the name must be an identifier, got " .. tostring(name))
	end
	if self.n == 0 then fail(self, "func: the main program needs instructions before '" .. name .. "'") end
	self:label(name)
	self.funcs[#self.funcs + 1] = { name = name, start = self.n, nargs = nargs }
	self.sp = 0
	self.line_pending = self.cur_line ~= nil
	return self
end

function Builder:call_label(name)
	self.subcalls = true
	local n = emit(self, CALL, 0, op.PSEUDO_CALL, 0, 0)
	use_label(self, n, name)
	return n
end

-- A kernel function (kfunc) by BTF id, or by name, looked up among vmlinux's functions.
local kernel_btf
function Builder:call_kfunc(kfunc)
	if type(kfunc) == "string" then
		kernel_btf = kernel_btf or bpf.btf.kernel()
		local id = kernel_btf and kernel_btf:find(kfunc, "func")
		if not id then fail(self, "no kernel function '" .. kfunc .. "' in vmlinux BTF") end
		kfunc = id
	end
	return emit(self, CALL, 0, op.PSEUDO_KFUNC_CALL, 0, imm32(self, kfunc, "kfunc BTF id"))
end

function Builder:exit() return emit(self, EXIT, 0, 0, 0, 0) end

-- An instruction value: a plain table (see asm.insn).
function Builder:emit(insn)
	if type(insn) ~= "table" then fail(self, "emit: an instruction value expected, got " .. type(insn)) end
	local n = self:raw(insn.code, insn.dst or 0, insn.src or 0, insn.off, insn.imm, insn.imm2)
	if insn.map then self.map_ref[n] = check_map(self, insn.map) end
	if insn.label then use_label(self, n, insn.label) end
	return n
end

-- ---- stack ----------------------------------------------------------------------------------

function Builder:stack(size, align)
	if type(size) ~= "number" or size <= 0 or size % 1 ~= 0 then
		fail(self, "stack: size must be a positive integer, got " .. tostring(size))
	end
	if not align then
		align = size >= 8 and 8 or size > 2 and 4 or size
	end
	if align ~= 1 and align ~= 2 and align ~= 4 and align ~= 8 then
		fail(self, "stack: align must be 1, 2, 4 or 8, got " .. tostring(align))
	end
	local top = self.sp + size
	top = top + (align - top % align) % align
	if top > STACK_MAX then
		fail(self, format("stack: %d more bytes would use %d of the %d bytes of function '%s'",
			size, top, STACK_MAX, self.funcs[#self.funcs].name))
	end
	self.sp = top
	return -top
end

function Builder:stack_used() return self.sp end

function Builder:stack_reset(used)
	if type(used) ~= "number" or used < 0 or used > self.sp then
		fail(self, "stack_reset: a value from stack_used() expected, got " .. tostring(used))
	end
	self.sp = used
end

-- ---- line info ------------------------------------------------------------------------------

function Builder:line(file, line, col, text)
	if file ~= nil and type(file) ~= "string" then fail(self, "line: file must be a string") end
	if type(line) ~= "number" or line < 0 or line % 1 ~= 0 or line >= 2 ^ 22 then
		fail(self, "line: a line number expected, got " .. tostring(line))
	end
	col = col or 0
	if type(col) ~= "number" or col < 0 or col % 1 ~= 0 then
		fail(self, "line: a column number expected, got " .. tostring(col))
	end
	if text ~= nil and type(text) ~= "string" then fail(self, "line: text must be a string") end
	self.cur_file, self.cur_line, self.cur_col, self.cur_text = file or self.file, line, col, text
	self.line_pending = true
	return self
end

function Builder:pos() return self.cur_file, self.cur_line, self.cur_col end

-- ---- finishing ------------------------------------------------------------------------------

local function slot_error(b, slot, msg)
	local file, line, col = b:source_of(slot)
	local where = line and format("%s:%d:%d: ", file, line, col or 0) or ""
	error(format("bpf.asm: %sinstruction %d: %s", where, slot, msg), caller_level())
end

local function is_second_slot(b, slot) -- slot 0-based
	return slot > 0 and b.ins[slot * 4 - 3] == LD_IMM64
end

local function by_start(x, y) return x.start < y.start end

-- Subprograms: the functions declared with b:func plus every call / ld_func target.
local function collect_funcs(b)
	local starts = {}
	for _, f in ipairs(b.funcs) do starts[f.start] = f end
	local ins = b.ins
	for i = 1, (b.subcalls or b.raw_used) and b.n or 0 do
		local c, regs = ins[i * 4 - 3], ins[i * 4 - 2]
		if (c == CALL and regs == op.PSEUDO_CALL * 16) or
		   (c == LD_IMM64 and regs >= 16 * op.PSEUDO_FUNC and regs < 16 * (op.PSEUDO_FUNC + 1)) then
			local target = i + ins[i * 4] -- 0-based slot of i is i-1; target = (i-1) + 1 + imm
			local f = starts[target]
			if not f then
				f = { name = b.name .. "_sub" .. target, start = target, nargs = 5 }
				starts[target] = f
				b.funcs[#b.funcs + 1] = f
			end
			f.called = true
		end
	end
	-- The kernel finds subprograms by their callers: one nobody calls is refused as unreachable.
	for _, f in ipairs(b.funcs) do
		if not f.main and not f.called then
			slot_error(b, f.start, "function '" .. f.name .. "' is never called (call_label or ld_func)")
		end
	end
	table.sort(b.funcs, by_start)
end

-- A label's name: generated labels are numbers (bpf.asm_fast), named by their hint.
local function label_name(b, name)
	if type(name) ~= "number" then return name end
	return (b.label_hint and b.label_hint[name] or "L") .. "." .. name
end

function Builder:finish()
	if self.finished then return self end
	local n = self.n
	if n == 0 then fail(self, "the program has no instructions") end
	local labels, ins = self.labels, self.ins
	for i, name in pairs(self.jump_label) do
		local target = labels[name]
		local slot = i - 1
		if not target then slot_error(self, slot, "undefined label '" .. label_name(self, name) .. "'") end
		if target >= n then slot_error(self, slot, "label '" .. label_name(self, name) .. "' is at the end of the program: no instruction follows it") end
		local delta = target - slot - 1
		local c = ins[i * 4 - 3]
		if c == CALL or c == LD_IMM64 then
			ins[i * 4] = delta
		else
			if delta < -32768 or delta > 32767 then
				slot_error(self, slot, format("jump to '%s' is %d instructions away (more than a 16-bit offset)",
					label_name(self, name), delta))
			end
			ins[i * 4 - 1] = delta
		end
	end
	-- Every jump lands on an instruction of the program, never inside an ld_imm64 (a label is
	-- always at an instruction's start: only raw instructions can jump elsewhere).
	for i = 1, self.raw_used and n or 0 do
		local c = ins[i * 4 - 3]
		local cls = c % 8
		local opbits = c - c % 16
		if (cls == op.JMP or cls == op.JMP32) and opbits ~= op.CALL and opbits ~= op.EXIT then
			local delta = (c == op.JMP32 + op.JA) and ins[i * 4] or ins[i * 4 - 1]
			local target = i + delta -- 0-based target slot
			if target < 0 or target >= n or is_second_slot(self, target) then
				slot_error(self, i - 1, format("jump target %d is outside the program", target))
			end
		end
	end
	local last = ins[n * 4 - 3]
	if (last ~= EXIT and last ~= JA and last ~= op.JMP32 + op.JA) or is_second_slot(self, n - 1) then
		slot_error(self, n - 1, "the program must end with exit or a jump")
	end
	collect_funcs(self)
	abtf.complete_lines(self)
	self.finished = true
	return self
end

function Builder:count() return self.n end

-- Where the verifier stopped, from a refusal message of b:load (its log tail): the 0-based
-- index of the last instruction the log shows, then what b:source_of gives for it.
function Builder:verifier_source(message)
	if type(message) ~= "string" then return nil end
	local last
	for index in message:gmatch("\n(%d+): %(%x%x%)") do last = tonumber(index) end
	if not last then return nil end
	return last, self:source_of(last)
end

-- File, line, col, text of slot (0-based): the last line info at or before it.
function Builder:source_of(slot)
	local l, found = self.lines, nil
	for k = 1, self.nlines, 5 do
		if l[k] > slot then break end
		found = k
	end
	if not found then return nil end
	return l[found + 1], l[found + 2], l[found + 3], l[found + 4]
end

-- ---- encoding -------------------------------------------------------------------------------

local encode = enc.encode
local insn_bytes = enc.insn_bytes

-- The imm of a map load in bytes(): the fd of a handle; a map named by id in assembled text
-- stays its id until load opens it.
local function map_fd(ref)
	if type(ref) == "number" then return ref end
	if type(ref) == "table" then return ref.handle and ref.handle:fd() or ref.id end
	return ref:fd()
end

-- The kernel id of a map reference (for text), cached per handle.
local id_cache = setmetatable({}, { __mode = "k" })
local function map_id(ref)
	if type(ref) == "number" then return ref end
	if type(ref) == "table" then return ref.id end
	local id = id_cache[ref]
	if not id then
		local info = ref:info()
		id = info and info.id or 0
		id_cache[ref] = id
	end
	return id
end

function Builder:bytes()
	self:finish()
	return encode(self, map_fd)
end

local disasm = bpf.disasm
local annotate

-- Text in bpf.disasm's format; map references show their kernel ids.
function Builder:text(opts)
	self:finish()
	local text = disasm(encode(self, map_id))
	if not opts or not (opts.labels or opts.lines) then return text end
	return annotate(self, text, opts)
end

-- Labels and line comments woven into the plain text (opts.labels, opts.lines). The text has
-- one line per instruction, so the slot of each line is counted, not read back.
function annotate(b, text, opts)
	local at
	if opts.labels then
		at = {}
		for name, slot in pairs(b.labels) do
			local t = at[slot]
			if not t then t = {}; at[slot] = t end
			t[#t + 1] = label_name(b, name)
		end
		for _, t in pairs(at) do table.sort(t) end
	end
	local jl = opts.labels and b.jump_label
	local want_lines = opts.lines
	local out, n, slot = {}, 0, 0
	local l, k, nl, ins = b.lines, 1, b.nlines, b.ins
	for line in text:gmatch("[^\n]+") do
		if want_lines then
			while k <= nl and l[k] < slot do k = k + 5 end
			if k <= nl and l[k] == slot then
				n = n + 1
				out[n] = "; " .. l[k + 4] .. " @ " .. l[k + 1] .. ":" .. l[k + 2]
			end
		end
		local names = at and at[slot]
		if names then
			for i = 1, #names do n = n + 1; out[n] = names[i] .. ":" end
		end
		local name = jl and jl[slot + 1]
		if name then line = line:gsub("pc[+-]%d+$", label_name(b, name)) end
		n = n + 1
		out[n] = line
		slot = slot + (ins[slot * 4 + 1] == LD_IMM64 and 2 or 1)
	end
	out[n + 1] = ""
	return concat(out, "\n")
end

function Builder:insn(i)
	self:finish()
	if type(i) ~= "number" or i < 1 or i > self.n or is_second_slot(self, i - 1) then
		fail(self, "insn: no instruction at index " .. tostring(i))
	end
	local ins, k = self.ins, i * 4
	local t = { code = ins[k - 3], dst = ins[k - 2] % 16, src = floor(ins[k - 2] / 16),
		off = ins[k - 1], imm = ins[k] }
	if t.code == LD_IMM64 and i < self.n then t.imm2 = ins[k + 4] end
	local ref = self.map_ref[i]
	if ref then t.map = type(ref) == "table" and ref.handle or ref; t.imm = map_id(ref) end
	t.label = self.jump_label[i] and label_name(self, self.jump_label[i])
	return setmetatable(t, M.Insn)
end

function Builder:insns()
	self:finish()
	local list = {}
	local i = 1
	while i <= self.n do
		list[#list + 1] = self:insn(i)
		i = i + (self.ins[i * 4 - 3] == LD_IMM64 and 2 or 1)
	end
	return list
end

-- ---- instruction values ---------------------------------------------------------------------

local Insn = {}
Insn.__index = Insn
M.Insn = Insn

function Insn.__tostring(t)
	return (disasm(insn_bytes(t)):gsub("^%s*%d+: ", ""):gsub("\n$", ""))
end

function Insn.bytes(t) return insn_bytes(t) end

function M.insn(code, dst, src, off, imm, imm2)
	local b = nil
	for i, v in ipairs({ code, dst or 0, src or 0 }) do
		if type(v) ~= "number" or v % 1 ~= 0 or v < 0 or v > (i == 1 and 255 or 15) then
			error("bpf.asm.insn: " .. ({ "code", "dst", "src" })[i] .. " out of range: " .. tostring(v), 2)
		end
	end
	local t = { code = code, dst = dst or 0, src = src or 0, off = off16(b, off or 0),
		imm = imm32(b, imm or 0), imm2 = imm2 and imm32(b, imm2, "imm2") or nil }
	return setmetatable(t, Insn)
end

-- ---- loading --------------------------------------------------------------------------------

-- What the load options name: a section (libbpf's conventions), or a type (a program type name
-- or a section prefix) with an attach type and a target; the core derives the rest.
local TYPE_SECTION = { socket_filter = "socket", sched_cls = "tc", sched_act = "action",
	sock_ops = "sockops", raw_tracepoint_writable = "raw_tracepoint.w" }
local TRACING_ATTACH = { fentry = "fentry", fexit = "fexit", fmod_ret = "fmod_ret",
	tp_btf = "tp_btf", raw_tp = "tp_btf", iter = "iter", trace_fentry = "fentry",
	trace_fexit = "fexit", modify_return = "fmod_ret", trace_raw_tp = "tp_btf",
	trace_iter = "iter" }
local ATTACH_NAMES = { fentry = "trace_fentry", fexit = "trace_fexit", fmod_ret = "modify_return",
	tp_btf = "trace_raw_tp", raw_tp = "trace_raw_tp", iter = "trace_iter", lsm = "lsm_mac" }

local function load_target(opts)
	local attach = opts.expected_attach_type or opts.attach
	if attach ~= nil and type(attach) ~= "string" then error("load: attach must be a string", 4) end
	if opts.section ~= nil then
		if type(opts.section) ~= "string" then error("load: section must be a string", 4) end
		return opts.section, nil, attach and (ATTACH_NAMES[attach] or attach)
	end
	local t, target = opts.type, opts.attach_target
	if t == nil then error("load: opts.section or opts.type is required", 4) end
	if type(t) ~= "string" then error("load: type must be a string", 4) end
	if target ~= nil and type(target) ~= "string" then error("load: attach_target must be a string", 4) end
	local suffix = target and "/" .. target or ""
	if t == "tracing" then
		local prefix = TRACING_ATTACH[attach or ""]
		if not prefix then
			error("load: type 'tracing' needs attach = fentry, fexit, fmod_ret, tp_btf or iter, got " ..
				tostring(attach), 4)
		end
		return prefix .. suffix, nil, nil
	end
	return (TYPE_SECTION[t] or t) .. suffix, t, attach and (ATTACH_NAMES[attach] or attach)
end

function Builder:load(opts)
	if opts ~= nil and type(opts) ~= "table" then error("load: options table expected", 2) end
	opts = opts or {}
	self:finish()
	local section, prog_type, attach_type = load_target(opts)
	-- Maps named by kernel id (assembled text) are opened now; the loaded program holds them.
	for slot, ref in pairs(self.map_ref) do
		if type(ref) == "table" and not ref.handle then
			local m, err, errno = bpf.open_map(ref.id)
			if not m then
				return nil, format("map id %d (instruction %d): %s", ref.id, slot - 1, err), errno
			end
			ref.handle = m
		end
	end
	local name = opts.name or self.name
	if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
		error("load: name must be an identifier (it names the BTF function), got " .. tostring(name), 2)
	end
	local btf, func_info, line_info = abtf.program(self, name)
	return core.load({
		insns = encode(self, map_fd), btf = btf, func_info = func_info, line_info = line_info,
		name = name, section = section, prog_type = prog_type, attach_type = attach_type,
		attach_target = opts.attach_target, license = opts.license or "GPL",
		kern_version = opts.kern_version, prog_flags = opts.prog_flags, sleepable = opts.sleepable,
		log_level = opts.log_level,
	})
end

function Builder.__tostring(b)
	return format("bpf.asm builder '%s': %d instructions, %d function%s%s", b.name, b.n,
		#b.funcs, #b.funcs == 1 and "" or "s", b.finished and " (finished)" or "")
end

-- ---- text ---------------------------------------------------------------------------------------

function M.assemble(text, opts)
	return require("bpf.asm_text").assemble(M, text, opts)
end

function M.disasm(bytes) return disasm(bytes) end

function M.btf_type_size(t) return abtf.type_size(t) end

function Builder:help() return require("bpf.help")(self) end

-- Registered like the C handle classes, so bpf.help(b) and the API reference check find it.
Builder.__name = "bpf.asm_builder"
debug.getregistry()["bpf.asm_builder"] = Builder

M.Builder = Builder
return M
