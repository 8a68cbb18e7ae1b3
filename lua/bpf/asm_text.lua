-- The text assembler of bpf.asm: reads the syntax bpf.disasm, prog:xlated() and b:text() print
-- (plus labels) back into a builder, one instruction a line (doc/ASM.md).
local M = {}

local format, tonumber, type = string.format, tonumber, type

local REG = "([rw]%d+)"
local OFFSET = "%(%s*r(%d+)%s*([+-])%s*(%d+)%s*%)"   -- (r2 +8)
local SIZE_CODE = { u8 = 0x10, u16 = 0x08, u32 = 0x00, u64 = 0x18,
	s8 = 0x10, s16 = 0x08, s32 = 0x00, s64 = 0x18 }

-- A parse error: raised as a table so the line loop can add the position.
local function perr(msg, token)
	error({ msg = msg, token = token }, 0)
end

local function reg_num(r, want_width)
	local w, n = r:sub(1, 1), tonumber(r:sub(2))
	if not n or n > 10 then perr("no register '" .. r .. "'", r) end
	if want_width and w ~= want_width then
		perr(format("'%s' does not match the width of the instruction", r), r)
	end
	return n, w
end

-- Integers as printed: decimal or hex, optionally negative.
local function parse_int(s)
	local neg, hex = s:match("^(%-?)0[xX](%x+)$")
	local v
	if hex then
		if #hex > 8 then return nil end
		v = tonumber(hex, 16)
	else
		v = tonumber(s:match("^%-?%d+$"))
		if not v then return nil end
		return v
	end
	return neg == "-" and -v or v
end

local function imm_of(s)
	local v = parse_int(s)
	if not v then perr("'" .. s .. "' is not an integer", s) end
	if v < -2147483648 or v > 4294967295 then perr("'" .. s .. "' does not fit 32 bits", s) end
	return v
end

-- A 64-bit constant as low and high halves (hex of any length up to 16 digits, or decimal).
local function imm64_of(s)
	local neg, hex = s:match("^(%-?)0[xX](%x+)$")
	if hex and #hex <= 16 and neg == "" then
		local lo = tonumber(hex:sub(-8), 16)
		local hi = #hex > 8 and tonumber(hex:sub(1, -9), 16) or 0
		return lo, hi
	end
	return nil
end

local function mem(s)
	local r, sign, n = s:match("^" .. OFFSET .. "$")
	if not r then return nil end
	local off = tonumber(n)
	return tonumber(r), sign == "-" and -off or off
end

local function target(s)
	local rel = s:match("^pc([+-]%d+)$")
	if rel then return tonumber(rel), nil end
	if s:match("^[%a_.][%w_.]*$") then return nil, s end
	perr("a jump target (pc+N or a label) expected, got '" .. s .. "'", s)
end

-- ---- instructions -------------------------------------------------------------------------------

local function jump_insn(b, op, code_op, dst, src_text, tgt)
	local n, w = reg_num(dst)
	local cls = w == "r" and op.JMP or op.JMP32
	local insn = { dst = n, src = 0, off = 0, imm = 0 }
	if src_text:match("^[rw]%d+$") then
		insn.src = reg_num(src_text, w)
		insn.code = cls + code_op + op.X
	else
		insn.imm = imm_of(src_text)
		insn.code = cls + code_op + op.K
	end
	local rel, label = target(tgt)
	if rel then insn.off = rel else insn.label = label end
	b:emit(insn)
end

local ALU_TEXT_OPS, JMP_TEXT_OPS -- asm.ALU_TEXT, asm.JMP_TEXT (set by assemble)

local function alu_insn(b, op, dst, sym, src)
	local o = ALU_TEXT_OPS[sym]
	if not o then perr("unknown operator '" .. sym .. "'", sym) end
	local n, w = reg_num(dst)
	local cls = w == "r" and op.ALU64 or op.ALU
	if src:match("^[rw]%d+$") then
		b:raw(cls + o[1] + op.X, n, reg_num(src, w), o[2] or 0, 0)
	else
		b:raw(cls + o[1] + op.K, n, 0, o[2] or 0, imm_of(src))
	end
end

local function call_insn(b, op, rest, labels)
	local rel = rest:match("^pc([+-]%d+)$")
	if rel then return b:raw(op.JMP + op.CALL, 0, op.PSEUDO_CALL, 0, tonumber(rel)) end
	local kf = rest:match("^kernel%-function#(%-?%d+)$")
	if kf then return b:raw(op.JMP + op.CALL, 0, op.PSEUDO_KFUNC_CALL, 0, tonumber(kf)) end
	local name, id = rest:match("^([%w_.]+)#(%-?%d+)$")
	if id then return b:raw(op.JMP + op.CALL, 0, 0, 0, tonumber(id)) end
	if not rest:match("^[%a_.][%w_.]*$") then perr("bad call target '" .. rest .. "'", rest) end
	if labels[rest] then return b:call_label(rest) end
	return b:call(rest)
end

local function map_ref(state, key)
	local refs = state.maps
	local ref = refs[key]
	if ref then return ref end
	local id = key:match("^id:(%d+)$")
	if id then
		ref = { id = tonumber(id) }
	else
		ref = state.opts_maps and state.opts_maps[key]
		if ref == nil then
			perr("unknown map '" .. key .. "' (give it in opts.maps, or write map[id:N])", key)
		end
	end
	refs[key] = ref
	return ref
end

-- "rN = ..." forms.
local function assign(b, op, state, dst, rhs)
	local d, w = reg_num(dst)
	-- loads
	local sz, addr = rhs:match("^%*%(([su]%d+) %*%)(%b())$")
	if sz then
		local r, off = mem(addr)
		if not r or not SIZE_CODE[sz] or sz == "s64" then perr("bad load '" .. rhs .. "'", rhs) end
		if w ~= "r" then perr("loads write a 64-bit register", dst) end
		local mode = sz:sub(1, 1) == "s" and op.MEMSX or op.MEM
		return b:raw(op.LDX + SIZE_CODE[sz] + mode, d, r, off, 0)
	end
	local lsz, idx = rhs:match("^%*%((u%d+) %*%)skb%[(.-)%]$")
	if lsz then
		if not SIZE_CODE[lsz] then perr("bad size '" .. lsz .. "'", lsz) end
		local r, k = idx:match("^r(%d+)%s*%+%s*(%-?%d+)$")
		if r then return b:raw(op.LD + SIZE_CODE[lsz] + op.IND, 0, tonumber(r), 0, tonumber(k)) end
		return b:raw(op.LD + SIZE_CODE[lsz] + op.ABS, 0, 0, 0, imm_of(idx))
	end
	-- atomics with a result
	local fop, asz, aaddr, arest = rhs:match("^atomic6?4?_([%w_]+)%(%(([su]%d+) %*%)(%b())%s*,%s*(.-)%)$")
	if fop then
		local r, off = mem(aaddr)
		if not r then perr("bad address '" .. aaddr .. "'", aaddr) end
		local code = op.STX + SIZE_CODE[asz] + op.ATOMIC
		if fop == "cmpxchg" then
			local src = arest:match("^r0%s*,%s*(r%d+)$")
			if not src then perr("cmpxchg takes (ptr, r0, rN)", arest) end
			return b:raw(code, r, reg_num(src), off, op.CMPXCHG)
		end
		local src = reg_num(arest)
		local kinds = { fetch_add = op.ADD + op.FETCH, fetch_or = op.OR + op.FETCH,
			fetch_and = op.AND + op.FETCH, fetch_xor = op.XOR + op.FETCH, xchg = op.XCHG }
		if not kinds[fop] then perr("unknown atomic operation '" .. fop .. "'", fop) end
		return b:raw(code, r, src, off, kinds[fop])
	end
	local lasz, laaddr = rhs:match("^load_acquire%(%(([su]%d+) %*%)(%b())%)$")
	if lasz then
		local r, off = mem(laaddr)
		return b:raw(op.STX + SIZE_CODE[lasz] + op.ATOMIC, d, r, off, 0x100)
	end
	-- 64-bit loads
	local mkey, moff = rhs:match("^map%[([^%]]+)%]%[0%]%+(%d+)$")
	if mkey then
		local idx = mkey:match("^idx:(%d+)$")
		if idx then return b:raw(op.LD + op.IMM + op.DW, d, op.PSEUDO_MAP_IDX_VALUE, 0, tonumber(idx), tonumber(moff)) end
		return b:ld_map_value(dst, map_ref(state, mkey), tonumber(moff))
	end
	mkey = rhs:match("^map%[([^%]]+)%]$")
	if mkey then
		local idx = mkey:match("^idx:(%d+)$")
		if idx then return b:raw(op.LD + op.IMM + op.DW, d, op.PSEUDO_MAP_IDX, 0, tonumber(idx), 0) end
		return b:ld_map(dst, map_ref(state, mkey))
	end
	local btf_id = rhs:match("^btf_id (%d+)$")
	if btf_id then return b:raw(op.LD + op.IMM + op.DW, d, op.PSEUDO_BTF_ID, 0, tonumber(btf_id), 0) end
	local ftgt = rhs:match("^func (%S+)$")
	if ftgt then
		local rel, label = target(ftgt)
		if label then return b:ld_func(dst, label) end
		return b:raw(op.LD + op.IMM + op.DW, d, op.PSEUDO_FUNC, 0, rel, 0)
	end
	local k64 = rhs:match("^(%S+) ll$")
	if k64 then
		local lo, hi = imm64_of(k64)
		if lo then return b:raw(op.LD + op.IMM + op.DW, d, 0, 0, lo, hi) end
		local v = tonumber(k64)
		if not v then perr("'" .. k64 .. "' is not a 64-bit integer", k64) end
		return b:ld_imm64(dst, v)
	end
	-- ALU forms of "="
	local nreg = rhs:match("^%-([rw]%d+)$")
	if nreg then
		if nreg ~= dst then perr("neg takes one register: " .. dst .. " = -" .. dst, nreg) end
		return b:raw((w == "r" and op.ALU64 or op.ALU) + op.NEG, d, 0, 0, 0)
	end
	local sx, sreg = rhs:match("^%(s(%-?%d+)%)([rw]%d+)$")
	if sx then
		return b:raw((w == "r" and op.ALU64 or op.ALU) + op.MOV + op.X, d, reg_num(sreg, w), tonumber(sx), 0)
	end
	local kind, bits, ereg = rhs:match("^(%a+)(%d+) ([rw]%d+)$")
	if kind then
		if ereg ~= "r" .. d then perr("byte swaps take one register", ereg) end
		local codes = { be = op.ALU + op.END + op.TO_BE, le = op.ALU + op.END + op.TO_LE,
			bswap = op.ALU64 + op.END + op.TO_LE }
		if not codes[kind] then perr("unknown conversion '" .. kind .. "'", kind) end
		return b:raw(codes[kind], d, 0, 0, tonumber(bits))
	end
	return alu_insn(b, op, dst, "=", rhs)
end

local function instruction(b, op, state, s, labels)
	if s == "exit" then return b:exit() end
	local kw, tgt = s:match("^(%a[%w_]*) (%S+)$")
	if kw == "goto" or kw == "gotol" or kw == "may_goto" then
		local code = kw == "goto" and op.JMP + op.JA or kw == "gotol" and op.JMP32 + op.JA or
			op.JMP + op.JCOND
		local rel, label = target(tgt)
		local insn = { code = code, off = 0, imm = 0, label = label }
		if rel then
			if kw == "gotol" then insn.imm = rel else insn.off = rel end
		end
		return b:emit(insn)
	end
	if kw == "call" then return call_insn(b, op, tgt, labels) end
	local dst, cond, src, jt = s:match("^if " .. REG .. " (%S+) (%S+) goto (%S+)$")
	if dst then
		local code_op = JMP_TEXT_OPS[cond]
		if not code_op then perr("unknown condition '" .. cond .. "'", cond) end
		return jump_insn(b, op, code_op, dst, src, jt)
	end
	local lsz, laddr, lop, lsrc = s:match("^lock %*%((u%d+) %*%)(%b()) (%S+) (r%d+)$")
	if lsz then
		local r, off = mem(laddr)
		local ops = { ["+="] = op.ADD, ["|="] = op.OR, ["&="] = op.AND, ["^="] = op.XOR }
		if not r or not ops[lop] then perr("bad atomic '" .. s .. "'", lop) end
		return b:raw(op.STX + SIZE_CODE[lsz] + op.ATOMIC, r, reg_num(lsrc), off, ops[lop])
	end
	local ssz, saddr, sval = s:match("^%*%((u%d+) %*%)(%b()) = (%S+)$")
	if ssz then
		local r, off = mem(saddr)
		if not r or not SIZE_CODE[ssz] then perr("bad store '" .. s .. "'", saddr) end
		if sval:match("^r%d+$") then
			return b:raw(op.STX + SIZE_CODE[ssz] + op.MEM, r, reg_num(sval), off, 0)
		end
		return b:raw(op.ST + SIZE_CODE[ssz] + op.MEM, r, 0, off, imm_of(sval))
	end
	local rsz, raddr, rsrc = s:match("^store_release%(%((u%d+) %*%)(%b()), (r%d+)%)$")
	if rsz then
		local r, off = mem(raddr)
		return b:raw(op.STX + SIZE_CODE[rsz] + op.ATOMIC, r, reg_num(rsrc), off, 0x110)
	end
	local adst, rhs = s:match("^" .. REG .. " = (.+)$")
	if adst then return assign(b, op, state, adst, rhs) end
	local odst, sym, osrc = s:match("^" .. REG .. " (%S+=) (%S+)$")
	if odst then return alu_insn(b, op, odst, sym, osrc) end
	perr("cannot read instruction '" .. s .. "'", s)
end

-- ---- lines ----------------------------------------------------------------------------------------

-- The instruction of a line without its "N:" prefix, comments and extra blanks, and the column
-- where it starts.
local function strip(line)
	if line:find("[;/]") then line = line:gsub("//.*$", ""):gsub(";.*$", "") end
	local _, num_end = line:find("^%s*%d+:")
	local lead, s = line:match("^(%s*)(.-)%s*$", num_end and num_end + 1 or 1)
	if s:find("%s%s") or s:find("\t") then s = s:gsub("%s+", " ") end
	return s, (num_end or 0) + #lead + 1
end

local function position_error(file, lineno, line, col, msg)
	error(format("bpf.asm: %s:%d:%d: %s\n  %s\n  %s^", file, lineno, col, msg, line,
		(" "):rep(col - 1)), 0)
end

function M.assemble(asm, text, opts)
	if type(text) ~= "string" then error("bpf.asm.assemble: text (a string) expected, got " .. type(text), 3) end
	if opts ~= nil and type(opts) ~= "table" then error("bpf.asm.assemble: options table expected", 3) end
	opts = opts or {}
	local file = opts.file or "asm"
	ALU_TEXT_OPS, JMP_TEXT_OPS = asm.ALU_TEXT, asm.JMP_TEXT
	local b = asm.new({ name = opts.name, file = file })
	local op = asm.op
	local state = { maps = {}, opts_maps = opts.maps }
	-- First pass: the labels (so that "call name" can tell a subprogram from a helper).
	local lines, bodies, cols, labels = {}, {}, {}, {}
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		local n = #lines + 1
		lines[n] = line
		bodies[n], cols[n] = strip(line)
		local label = bodies[n]:match("^([%a_.][%w_.]*):$")
		if label then labels[label] = n end
	end
	local uses = {}
	local lineno, s, col, label -- the line the step below works on
	local function step()
		if label then return b:label(label) end
		b:line(file, lineno, col, s)
		local before = b.n
		instruction(b, op, state, s, labels)
		local used = b.jump_label[before + 1]
		if used then uses[#uses + 1] = { used, lineno, col } end
	end
	for i, line in ipairs(lines) do
		lineno, s, col = i, bodies[i], cols[i]
		if s ~= "" then
			label = s:match("^([%a_.][%w_.]*):$")
			local ok, err = pcall(step)
			if not ok then
				local msg, token = err, nil
				if type(err) == "table" then
					msg, token = err.msg, err.token
				else
					msg = tostring(err):gsub("^[^\n]-:%d+: ", ""):gsub("^bpf%.asm: ", "")
						:gsub("^" .. file:gsub("%p", "%%%0") .. ":%d+:%d+: ", "")
				end
				token = token or msg:match("'([^']+)'")
				local tcol = token and line:find(token, col, true) or col
				position_error(file, lineno, line, tcol, msg)
			end
		end
	end
	for _, u in ipairs(uses) do
		if not b.labels[u[1]] then
			local line = lines[u[2]]
			position_error(file, u[2], line, line:find(u[1], u[3], true) or u[3],
				"undefined label '" .. u[1] .. "'")
		end
	end
	if b.n == 0 then error("bpf.asm.assemble: the text holds no instruction", 3) end
	return b
end

return M
