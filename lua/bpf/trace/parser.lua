-- Parser for the bpftrace language: tokens to an AST of plain tables (`kind` plus fields, every
-- node with `pos`/`epos` byte offsets into the source for error messages).
local Lexer = require "bpf.trace.lexer"
local diag = require "bpf.trace.diag"

local P = {}
P.__index = P

local raise = diag.raise

local function node(kind, pos, epos, fields)
	fields = fields or {}
	fields.kind, fields.pos, fields.epos = kind, pos, epos
	return fields
end

function P:peek() return self.toks[self.i] end

function P:next()
	local i = self.i
	local tok = self.toks[i]
	if tok.t ~= "eof" then self.i = i + 1 end
	return tok
end

function P:is(v, t)
	local tok = self.toks[self.i]
	return tok.v == v and (t or "op") == tok.t
end

function P:accept(v)
	if self:is(v) then return self:next() end
end

local function describe(tok)
	if tok.t == "eof" then return "end of input" end
	if tok.t == "str" then return "string" end
	if tok.t == "int" then return "integer " .. tostring(tok.v) end
	local src = tok.v
	if tok.t == "var" then src = "$" .. tok.v elseif tok.t == "map" then src = "@" .. tok.v end
	if tok.t == "param" then src = "$" .. tostring(tok.v) end
	return "'" .. tostring(src) .. "'"
end

function P:expect(v, what)
	local tok = self:peek()
	if tok.t == "op" and tok.v == v then return self:next() end
	raise(tok, "expected '%s'%s, found %s", v, what and (" " .. what) or "", describe(tok))
end

-- The token after the next one (without consuming either).
function P:peek2()
	local toks = self.toks
	return toks[self.i + 1] or toks[#toks]
end

---------------------------------------------------------------------------------------------
-- Expressions, by precedence (C's, as bpftrace's grammar has them).

local BINARY_LEVELS = {
	{ "||" }, { "&&" }, { "|" }, { "^" }, { "&" }, { "==", "!=" }, { "<", "<=", ">", ">=" },
	{ "<<", ">>" }, { "+", "-" }, { "*", "/", "%" },
}
local LEVEL_OF = {}
for i, ops in ipairs(BINARY_LEVELS) do
	for _, op in ipairs(ops) do LEVEL_OF[op] = i end
end

local INT_TYPES = {
	int8 = true, int16 = true, int32 = true, int64 = true, uint8 = true, uint16 = true,
	uint32 = true, uint64 = true, char = true, short = true, int = true, long = true,
	unsigned = true, signed = true, u8 = true, u16 = true, u32 = true, u64 = true, s8 = true,
	s16 = true, s32 = true, s64 = true, bool = true, void = true,
}
local TYPE_WORDS = { struct = true, union = true, enum = true }

local MAX_DEPTH = 150

-- Every nested expression (parentheses, arguments, indexes) comes through here: the depth
-- bound turns a pathological nesting into a message rather than a stack overflow.
function P:parse_expr()
	local depth = self.depth + 1
	if depth > MAX_DEPTH then
		raise(self.toks[self.i], "expression nested too deeply (more than %d levels)", MAX_DEPTH)
	end
	self.depth = depth
	local e = self:parse_ternary()
	self.depth = depth - 1
	return e
end

function P:parse_ternary()
	local cond = self:parse_binary(1)
	if self:is("?") then
		self:next()
		local a = self:parse_ternary()
		self:expect(":", "in a ternary expression")
		local b = self:parse_ternary()
		return node("ternary", cond.pos, b.epos, { cond = cond, a = a, b = b })
	end
	return cond
end

-- Precedence climbing: operators of level >= min_level, left-associative.
function P:parse_binary(min_level)
	local left = self:parse_unary()
	local toks = self.toks
	while true do
		local tok = toks[self.i]
		local level = tok.t == "op" and LEVEL_OF[tok.v]
		if not level or level < min_level then break end
		-- In a filter, the '/' just before the action's '{' closes the filter.
		if tok.close_filter then break end
		self.i = self.i + 1
		local right = self:parse_binary(level + 1)
		left = node("binop", left.pos, right.epos, { op = tok.v, left = left, right = right,
			op_pos = tok.pos })
	end
	return left
end

-- A C type name after '(' in a cast: `struct sock *`, `uint32`, `unsigned long`, `char *`.
function P:try_cast_type()
	local tok = self:peek()
	if tok.t ~= "ident" then return nil end
	if not (TYPE_WORDS[tok.v] or INT_TYPES[tok.v]) then return nil end
	local start = tok.pos
	local words = {}
	local t = self:next()
	if TYPE_WORDS[t.v] then
		local name = self:next()
		if name.t ~= "ident" then raise(name, "expected a type name after '%s'", t.v) end
		words = { t.v, name.v }
	else
		words = { t.v }
		while self:peek().t == "ident" and INT_TYPES[self:peek().v] do words[#words + 1] = self:next().v end
	end
	local ptr = 0
	while self:accept("*") do ptr = ptr + 1 end
	local close = self:expect(")", "after the type of a cast")
	return node("ctype", start, close.epos - 1, { words = words, ptr = ptr,
		text = table.concat(words, " ") .. (ptr > 0 and (" " .. string.rep("*", ptr)) or "") })
end

function P:parse_unary()
	local tok = self.toks[self.i]
	if tok.t ~= "op" then return self:parse_postfix(self:parse_primary()) end
	local depth = self.depth + 1
	if depth > MAX_DEPTH then raise(tok, "expression nested too deeply (more than %d levels)", MAX_DEPTH) end
	self.depth = depth
	local e = self:parse_unary_op(tok)
	self.depth = depth - 1
	return e
end

function P:parse_unary_op(tok)
	do
		if tok.v == "!" or tok.v == "~" or tok.v == "-" or tok.v == "*" or tok.v == "&" or
			tok.v == "+" then
			self:next()
			local operand = self:parse_unary()
			if tok.v == "+" then return operand end
			return node("unop", tok.pos, operand.epos, { op = tok.v, operand = operand })
		elseif tok.v == "++" or tok.v == "--" then
			self:next()
			local target = self:parse_unary()
			return node("incdec", tok.pos, target.epos, { op = tok.v, prefix = true, target = target })
		elseif tok.v == "(" then
			local after = self:peek2()
			if after.t == "ident" and (TYPE_WORDS[after.v] or INT_TYPES[after.v]) then
				self:next()
				local ctype = self:try_cast_type()
				local operand = self:parse_unary()
				return node("cast", tok.pos, operand.epos, { ctype = ctype, operand = operand })
			end
		end
	end
	return self:parse_postfix(self:parse_primary())
end

function P:parse_args(close)
	local args = {}
	if not self:is(close) then
		repeat
			args[#args + 1] = self:parse_expr()
		until not self:accept(",")
	end
	return args, self:expect(close, "to close the argument list")
end

function P:parse_postfix(e)
	while true do
		local tok = self:peek()
		if tok.t ~= "op" then break end
		if tok.v == "." or tok.v == "->" then
			self:next()
			local f = self:next()
			if f.t ~= "ident" and f.t ~= "int" then
				raise(f, "expected a field name after '%s', found %s", tok.v, describe(f))
			end
			e = node("field", e.pos, f.epos, { base = e, field = tostring(f.v), arrow = tok.v == "->",
				field_pos = f.pos })
		elseif tok.v == "[" then
			self:next()
			local idx = self:parse_expr()
			local close = self:expect("]", "after an index")
			e = node("index", e.pos, close.epos, { base = e, index = idx })
		elseif tok.v == "++" or tok.v == "--" then
			self:next()
			e = node("incdec", e.pos, tok.epos, { op = tok.v, prefix = false, target = e })
		else
			break
		end
	end
	return e
end

function P:parse_primary()
	local tok = self:next()
	local t = tok.t
	if t == "int" then
		return node("int", tok.pos, tok.epos, { value = tok.v })
	elseif t == "str" then
		return node("str", tok.pos, tok.epos, { value = tok.v })
	elseif t == "var" then
		return node("var", tok.pos, tok.epos, { name = tok.v })
	elseif t == "param" then
		return node("param", tok.pos, tok.epos, { n = tok.v })
	elseif t == "map" then
		local m = node("map", tok.pos, tok.epos, { name = tok.v })
		if self:is("[") then
			self:next()
			local keys, close = self:parse_args("]")
			if #keys == 0 then raise(close, "a map key is expected inside '[]'") end
			m.keys, m.epos = keys, close.epos
		end
		return m
	elseif t == "ident" then
		if self:is("(") then
			self:next()
			local args, close = self:parse_args(")")
			return node("call", tok.pos, close.epos, { name = tok.v, args = args, name_epos = tok.epos })
		end
		if tok.v == "sizeof" or tok.v == "offsetof" then
			raise(tok, "`%s` is not supported", tok.v)
		end
		return node("ident", tok.pos, tok.epos, { name = tok.v })
	elseif t == "op" and tok.v == "(" then
		local e = self:parse_expr()
		if self:is(",") then raise(self:peek(), "tuples are not supported") end
		local close = self:expect(")", "to close '('")
		e.paren = true
		e.ppos, e.pepos = tok.pos, close.epos
		return e
	end
	raise(tok, "expected an expression, found %s", describe(tok))
end

---------------------------------------------------------------------------------------------
-- Statements

local ASSIGN_OPS = { ["="] = "", ["+="] = "+", ["-="] = "-", ["*="] = "*", ["/="] = "/",
	["%="] = "%", ["&="] = "&", ["|="] = "|", ["^="] = "^", ["<<="] = "<<", [">>="] = ">>" }

function P:parse_block(what)
	local open = self:expect("{", what)
	self.depth = self.depth + 1
	if self.depth > MAX_DEPTH then raise(open, "blocks nested too deeply (more than %d levels)", MAX_DEPTH) end
	local stmts = {}
	while true do
		local tok = self:peek()
		if tok.t == "op" and tok.v == "}" then break end
		if tok.t == "eof" then raise(open, "unterminated block: '}' expected") end
		if not self:accept(";") then
			local s = self:parse_statement()
			stmts[#stmts + 1] = s
			if not s.block_like and not self:is("}") then
				local nt = self:peek()
				if not self:accept(";") then
					raise(nt, "expected ';' or '}' after a statement, found %s", describe(nt))
				end
			end
		end
	end
	local close = self:next()
	self.depth = self.depth - 1
	return node("block", open.pos, close.epos, { stmts = stmts })
end

function P:parse_if(tok)
	self:expect("(", "after 'if'")
	local cond = self:parse_expr()
	self:expect(")", "after the condition")
	local then_ = self:parse_block("after 'if (...)'")
	local else_
	if self:peek().t == "ident" and self:peek().v == "else" then
		self:next()
		if self:peek().t == "ident" and self:peek().v == "if" then
			local t2 = self:next()
			local nested = self:parse_if(t2)
			else_ = node("block", nested.pos, nested.epos, { stmts = { nested } })
		else
			else_ = self:parse_block("after 'else'")
		end
	end
	return node("if", tok.pos, (else_ or then_).epos, { cond = cond, then_ = then_, else_ = else_,
		block_like = true, cond_epos = cond.epos })
end

local UNSUPPORTED_STMT = { ["while"] = "`while` loops are not supported (use `unroll`)",
	["for"] = "`for` loops are not supported (use `unroll`)",
	["return"] = "`return` is not supported", ["break"] = "`break` is not supported",
	["continue"] = "`continue` is not supported", ["let"] = "`let` declarations are not supported",
	["macro"] = "macros are not supported", ["import"] = "`import` is not supported" }

function P:parse_statement()
	local tok = self:peek()
	if tok.t == "ident" then
		if tok.v == "if" then
			self:next()
			return self:parse_if(tok)
		elseif tok.v == "unroll" then
			self:next()
			self:expect("(", "after 'unroll'")
			local count = self:parse_expr()
			self:expect(")", "after the unroll count")
			local body = self:parse_block("after 'unroll (...)'")
			return node("unroll", tok.pos, body.epos, { count = count, body = body, block_like = true })
		elseif UNSUPPORTED_STMT[tok.v] and not (self:peek2().t == "op" and self:peek2().v == "(" and
			tok.v ~= "while" and tok.v ~= "for") then
			raise(tok, UNSUPPORTED_STMT[tok.v])
		end
	elseif tok.t == "op" and tok.v == "{" then
		local b = self:parse_block()
		b.block_like = true
		return b
	end
	local e = self:parse_expr()
	local op = self:peek()
	if op.t == "op" and ASSIGN_OPS[op.v] then
		if e.kind ~= "map" and e.kind ~= "var" then
			raise(e, "only maps (@x) and variables ($x) can be assigned to")
		end
		self:next()
		local value = self:parse_expr()
		return node("assign", e.pos, value.epos, { target = e, op = ASSIGN_OPS[op.v], value = value })
	end
	return node("expr_stmt", e.pos, e.epos, { expr = e })
end

---------------------------------------------------------------------------------------------
-- Probes

function P:parse_probe()
	local specs = {}
	repeat
		local s = self:peek()
		if s.t ~= "spec" then raise(s, "expected an attach point, found %s", describe(s)) end
		self:next()
		if s.v == "config" or s.v == "struct" or s.v == "union" or s.v == "enum" then
			raise(s, "`%s` definitions at the top level are not supported", s.v)
		end
		specs[#specs + 1] = node("spec", s.pos, s.epos, { text = s.v })
	until not self:accept(",")
	local pred
	if self:is("/") then
		local open = self:next()
		self.in_filter = true
		pred = self:parse_expr()
		self.in_filter = false
		local close = self:peek()
		if not (close.t == "op" and close.v == "/") then
			raise(close, "expected '/' to end the filter, found %s", describe(close))
		end
		self:next()
		pred.filter_pos = open.pos
	end
	if not self:is("{") then
		raise(self:peek(), "expected '{' to start the action of '%s', found %s", specs[#specs].text,
			describe(self:peek()))
	end
	local body = self:parse_block()
	return node("probe", specs[1].pos, body.epos, { specs = specs, pred = pred, body = body })
end

-- Parses a whole program; raises diag errors.
local function parse(src)
	local self = setmetatable({ toks = Lexer.tokenize(src), i = 1, in_filter = false, depth = 0 }, P)
	local probes = {}
	while true do
		local tok = self:peek()
		if tok.t == "eof" then break end
		probes[#probes + 1] = self:parse_probe()
	end
	if #probes == 0 then raise({ pos = 1, epos = 1 }, "no probes: a program is `probe { action }`") end
	return node("program", 1, #src, { probes = probes })
end

return { parse = parse }
