-- Lexer for the bpftrace language: source text to tokens with byte positions. The parser drives
-- it: ordinary tokens inside actions and filters, whole attach-point specs between them.
local diag = require "bpf.trace.diag"

local Lexer = {}
Lexer.__index = Lexer

-- Punctuators, longest first within each leading character.
local PUNCT = {
	"<<=", ">>=", "...",
	"==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "++", "--", "+=", "-=", "*=", "/=", "%=",
	"&=", "|=", "^=", "->",
	"+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "<", ">", "=", "?", ":", ";", ",", ".",
	"(", ")", "{", "}", "[", "]",
}
local PUNCT_BY_CHAR = {}
for _, p in ipairs(PUNCT) do
	local c = p:sub(1, 1)
	local list = PUNCT_BY_CHAR[c] or {}
	list[#list + 1] = p
	PUNCT_BY_CHAR[c] = list
end

local ESCAPES = { n = "\n", t = "\t", r = "\r", ["\\"] = "\\", ['"'] = '"', a = "\a", b = "\b",
	f = "\f", v = "\v", ["'"] = "'", ["?"] = "?", e = "\27" }

local function err(pos, epos, fmt, ...) diag.raise({ pos = pos, epos = epos }, fmt, ...) end

-- The preprocessor bpftrace's tools rely on, without a C preprocessor: `#include` lines are
-- ignored (types come from BTF), `#define NAME VALUE` makes NAME stand for one token,
-- `#ifdef/#ifndef/#if defined(X)/#if N/#else/#endif` select lines (BPFTRACE_HAVE_BTF is
-- defined). Directive and skipped lines become blanks of the same length, so positions hold.
local function blank(text) return (text:gsub("[^\n\t]", " ")) end

local function preprocess(src)
	local first = src:find("^[ \t]*#")
	if not first and not src:find("\n[ \t]*#") then return src, nil end
	-- block comments, so that '#' lines inside them are left alone (roughly: a "/*" inside a
	-- string or after "//" is taken as a comment too; both are rare in bpftrace programs)
	local comments, i = {}, 1
	while true do
		local s = src:find("/*", i, true)
		if not s then break end
		local e = src:find("*/", s + 2, true) or #src
		comments[#comments + 1] = s
		comments[#comments + 1] = e + 1
		i = e + 2
	end
	local ci = 1
	local function in_comment(p)
		while comments[ci + 1] and comments[ci + 1] < p do ci = ci + 2 end
		return comments[ci] ~= nil and comments[ci] <= p and p <= comments[ci + 1]
	end
	local out, macros = {}, {}
	local defined = { BPFTRACE_HAVE_BTF = true }
	local stack = {} -- { active = bool, taken = bool, pos = n }
	local function active()
		for k = 1, #stack do if not stack[k].active then return false end end
		return true
	end
	local cursor = 1
	local search = first and 0 or 1
	while true do
		local ls
		if search == 0 then ls, search = 1, 1
		else
			local nl = src:find("\n[ \t]*#", search)
			if not nl then break end
			ls = nl + 1
		end
		local le = (src:find("\n", ls, true) or #src + 1) - 1
		search = le + 1
		if not in_comment(ls) then
			local line = src:sub(ls, le)
			local chunk = src:sub(cursor, ls - 1)
			out[#out + 1] = active() and chunk or blank(chunk)
			out[#out + 1] = blank(line)
			cursor = le + 1
			if not (ls == 1 and line:sub(1, 2) == "#!") then
				local d, rest = line:match("^%s*#%s*(%a*)%s*(.-)%s*$")
				if d == "ifdef" or d == "ifndef" then
					local name = rest:match("^([%a_][%w_]*)")
					if not name then err(ls, le, "#%s needs a name", d) end
					local v = defined[name] == true
					if d == "ifndef" then v = not v end
					stack[#stack + 1] = { active = v, taken = v, pos = ls }
				elseif d == "if" then
					local name = rest:match("^defined%s*%(?%s*([%a_][%w_]*)%s*%)?$")
					local v
					if name then v = defined[name] == true
					elseif rest:match("^%d+$") then v = tonumber(rest) ~= 0
					else err(ls, le, "#if %s: only `#if N` and `#if defined(NAME)` are supported", rest) end
					stack[#stack + 1] = { active = v, taken = v, pos = ls }
				elseif d == "else" then
					local top = stack[#stack]
					if not top then err(ls, le, "#else without #if") end
					top.active = not top.taken
					top.taken = true
				elseif d == "endif" then
					if not stack[#stack] then err(ls, le, "#endif without #if") end
					stack[#stack] = nil
				elseif d == "include" then
					-- ignored: types come from BTF
				elseif d == "define" then
					if active() then
						local name, body = rest:match("^([%a_][%w_]*)%s*(.*)$")
						if not name or rest:match("^[%a_][%w_]*%(") then
							err(ls, le, "only `#define NAME VALUE` is supported (no function-like macros)")
						end
						defined[name] = true
						macros[name] = { body = body, pos = ls, epos = le }
					end
				elseif d == "undef" then
					local name = rest:match("^([%a_][%w_]*)")
					if active() and name then defined[name] = nil; macros[name] = nil end
				else
					err(ls, le, "preprocessor directive '#%s' is not supported", d or "")
				end
			end
		end
	end
	local rest = src:sub(cursor)
	out[#out + 1] = active() and rest or blank(rest)
	if #stack > 0 then err(stack[#stack].pos, stack[#stack].pos, "#if without #endif") end
	return table.concat(out), next(macros) and macros or nil
end
Lexer.preprocess = preprocess

function Lexer.new(src)
	local text, macros = preprocess(src)
	return setmetatable({ src = text, pos = 1, peeked = nil, macros = macros }, Lexer)
end

local byte, sub, find, match = string.byte, string.sub, string.find, string.match
local B_SLASH, B_STAR, B_HASH = 47, 42, 35

-- Skips blanks, comments and `#include` lines (types come from BTF, as bpftrace does with BTF).
function Lexer:skip_space()
	local src = self.src
	while true do
		local p = find(src, "[^ \t\r\n\f\v]", self.pos)
		if not p then self.pos = #src + 1; return end
		self.pos = p
		local c = byte(src, p)
		if c == B_SLASH and byte(src, p + 1) == B_SLASH then
			local nl = find(src, "\n", p, true)
			self.pos = nl and nl + 1 or #src + 1
		elseif c == B_SLASH and byte(src, p + 1) == B_STAR then
			local e = find(src, "*/", p + 2, true)
			if not e then err(p, p + 1, "unterminated comment") end
			self.pos = e + 2
		else
			return
		end
	end
end

-- Reads a string literal starting at the opening quote; returns the decoded value.
function Lexer:read_string(start)
	local src, i, out = self.src, start + 1, {}
	while true do
		local c = src:sub(i, i)
		if c == "" or c == "\n" then err(start, i - 1, "unterminated string") end
		if c == '"' then break end
		if c == "\\" then
			local n = src:sub(i + 1, i + 1)
			if ESCAPES[n] then
				out[#out + 1] = ESCAPES[n]; i = i + 2
			elseif n == "x" then
				local hex = src:match("^%x%x?", i + 2)
				if not hex then err(i, i + 1, "bad escape '\\x' (hex digits expected)") end
				out[#out + 1] = string.char(tonumber(hex, 16)); i = i + 2 + #hex
			elseif n:match("[0-7]") then
				local oct = src:match("^[0-7][0-7]?[0-7]?", i + 1)
				local v = tonumber(oct, 8)
				if v > 255 then err(i, i + #oct, "octal escape out of range") end
				out[#out + 1] = string.char(v); i = i + 1 + #oct
			else
				err(i, i + 1, "unknown escape '\\%s'", n)
			end
		else
			local j = src:find('[\\"\n]', i) or #src + 1
			out[#out + 1] = src:sub(i, j - 1); i = j
		end
	end
	return table.concat(out), i
end

-- Reads an integer literal: decimal, 0x hex, 0 octal, '_' separators, 1e6 forms. Values are
-- 64-bit two's complement: on Lua 5.3+ exact integers (u64 above 2^63 as the negative integer
-- with the same bits); on Lua 5.1/LuaJIT numbers, refused beyond +-2^53 rather than rounded.
local HAS_INT = math.type ~= nil
-- Digits already checked to fit 64 bits; Lua 5.3+ integer arithmetic wraps like a u64.
local function accumulate(digits, base, pos, epos)
	local v = 0
	for k = 1, #digits do
		v = v * base + tonumber(digits:sub(k, k), base)
		if not HAS_INT and v > 2 ^ 53 then
			err(pos, epos, "integer literal out of range on this Lua (beyond 2^53; use Lua 5.4)")
		end
	end
	return v
end

local function parse_int(text, pos, epos)
	local clean = text:gsub("_", "")
	if clean:match("^0[xX]%x+$") then
		local digits = clean:sub(3):gsub("^0+", "")
		if #digits > 16 then err(pos, epos, "integer literal out of range") end
		return accumulate(digits, 16, pos, epos)
	elseif clean:match("^0[0-7]+$") then
		local digits = clean:gsub("^0+", "")
		if #digits > 22 or (#digits == 22 and digits:sub(1, 1) ~= "1") then
			err(pos, epos, "integer literal out of range")
		end
		return accumulate(digits, 8, pos, epos)
	elseif clean:match("^%d+$") then
		local digits = clean:gsub("^0+", "")
		if #digits > 20 or (#digits == 20 and digits > "18446744073709551615") then
			err(pos, epos, "integer literal out of range")
		end
		return accumulate(digits, 10, pos, epos)
	elseif clean:match("^%d+[eE]%d+$") then
		local m, e = clean:match("^(%d+)[eE](%d+)$")
		local v = accumulate(m, 10, pos, epos)
		for _ = 1, tonumber(e) do
			if v > 922337203685477580 then err(pos, epos, "integer literal out of range") end
			v = v * 10
		end
		return v
	end
	err(pos, epos, "bad integer literal '%s'", text)
end
Lexer.parse_int = parse_int

-- The next ordinary token: {t = kind, v = value, pos, epos}. Kinds: "int", "str", "ident",
-- "var" ($x, v = "x"), "param" ($1 → 1, $# → "#"), "map" (@x → "x", @ → ""), "op", "eof".
-- Byte classes for the token dispatch.
local IDENT_START, DIGIT = {}, {}
for c = byte("a"), byte("z") do IDENT_START[c] = true end
for c = byte("A"), byte("Z") do IDENT_START[c] = true end
IDENT_START[byte("_")] = true
for c = byte("0"), byte("9") do DIGIT[c] = true end
local IDENT_CHAR, BLANK = {}, {}
for c in pairs(IDENT_START) do IDENT_CHAR[c] = true end
for c in pairs(DIGIT) do IDENT_CHAR[c] = true end
for _, c in ipairs({ 9, 10, 11, 12, 13, 32 }) do BLANK[c] = true end
local PUNCT_SET, MULTI_START, SINGLE = {}, {}, {}
for _, p in ipairs(PUNCT) do
	PUNCT_SET[p] = true
	if #p > 1 then MULTI_START[byte(p)] = true else SINGLE[byte(p)] = p end
end

-- Byte loops rather than patterns on the hot path: LuaJIT compiles string.byte, not find with
-- a pattern, and tokens and blanks are short.
function Lexer:scan()
	local src = self.src
	local p = self.pos
	local b = byte(src, p)
	while BLANK[b] do p = p + 1; b = byte(src, p) end
	if b == B_SLASH then
		self.pos = p
		self:skip_space()
		p = self.pos
		b = byte(src, p)
	end
	self.pos = p
	if not b then return { t = "eof", v = "end of input", pos = p, epos = p } end
	local tok
	if IDENT_START[b] then
		local e = p + 1
		while IDENT_CHAR[byte(src, e)] do e = e + 1 end
		e = e - 1
		tok = { t = "ident", v = sub(src, p, e), pos = p, epos = e }
		local m = self.macros and self.macros[tok.v]
		if m then tok = self:expand(m, tok) end
	elseif DIGIT[b] then
		local text = match(src, "^0[xX][%x_]+", p) or match(src, "^%d[%d_]*[eE]%d+", p) or
			match(src, "^%d[%d_]*", p)
		local after = byte(src, p + #text)
		if after and (IDENT_START[after] or DIGIT[after]) then
			local bad = match(src, "^[%w_]+", p)
			err(p, p + #bad - 1, "bad integer literal '%s'", bad)
		end
		tok = { t = "int", pos = p, epos = p + #text - 1 }
		tok.v = parse_int(text, p, tok.epos)
	elseif b == 34 then -- '"'
		local v, e = self:read_string(p)
		tok = { t = "str", v = v, pos = p, epos = e }
	elseif b == 36 then -- '$'
		local name = match(src, "^[%a_][%w_]*", p + 1)
		if name then
			tok = { t = "var", v = name, pos = p, epos = p + #name }
		elseif match(src, "^%d+", p + 1) then
			local n = match(src, "^%d+", p + 1)
			tok = { t = "param", v = tonumber(n), pos = p, epos = p + #n }
		elseif sub(src, p + 1, p + 1) == "#" then
			tok = { t = "param", v = "#", pos = p, epos = p + 1 }
		else
			err(p, p, "'$' must start a variable name ($x) or a positional parameter ($1)")
		end
	elseif b == 64 then -- '@'
		local name = match(src, "^[%a_][%w_]*", p + 1) or ""
		tok = { t = "map", v = name, pos = p, epos = p + #name }
	elseif b == 39 then -- "'"
		err(p, p, "character literals are not supported (use a string \"...\" or a number)")
	else
		local op = SINGLE[b]
		if MULTI_START[b] then
			op = sub(src, p, p + 2)
			if not PUNCT_SET[op] then
				op = sub(src, p, p + 1)
				if not PUNCT_SET[op] then op = SINGLE[b] end
			end
		end
		if op then
			tok = { t = "op", v = op, pos = p, epos = p + #op - 1 }
		else
			err(p, p, "unexpected character '%s'", (b < 32 or b > 126) and
				string.format("\\x%02x", b) or string.char(b))
		end
	end
	self.pos = tok.epos + 1
	return tok
end

-- A macro use: its body must be one token, which takes the use's position.
function Lexer:expand(m, use)
	if self.expanding then err(use.pos, use.epos, "macro '%s' refers to itself", use.v) end
	local sub_lexer = setmetatable({ src = m.body, pos = 1, macros = self.macros, expanding = true }, Lexer)
	local ok, tok = pcall(sub_lexer.scan, sub_lexer)
	local after = ok and sub_lexer:scan()
	if not ok or tok.t == "eof" or after.t ~= "eof" then
		err(use.pos, use.epos, "macro '%s' (%s) is not a single number, string or name: not supported",
			use.v, m.body)
	end
	tok.pos, tok.epos = use.pos, use.epos
	return tok
end

function Lexer:peek()
	if not self.peeked then self.peeked = self:scan() end
	return self.peeked
end

function Lexer:next()
	local tok = self:peek()
	self.peeked = nil
	return tok
end

-- Probe types whose attach points may hold file paths (so '/' belongs to the spec).
local PATH_KINDS = { uprobe = true, uretprobe = true, usdt = true, u = true, ur = true, U = true }

-- Reads one attach-point spec as raw text (e.g. `uprobe:/bin/bash:readline`,
-- `tracepoint:syscalls:sys_enter_*`), ending before blanks, ',', '{' or a filter's '/'.
-- Returns a token {t = "spec", v = text, pos, epos} or nil when the next token is not a spec.
function Lexer:spec()
	if self.peeked then self.pos = self.peeked.pos; self.peeked = nil end
	self:skip_space()
	local src, p = self.src, self.pos
	if p > #src then return nil end
	local kind = src:match("^([%a_][%w_]*):", p)
	local allow_slash = kind and PATH_KINDS[kind]
	local i = p
	while i <= #src do
		local c = src:sub(i, i)
		if c:match("[%s,{}]") then break end
		if c == '"' then
			local _, e = self:read_string(i)
			i = e + 1
		else
			if c == "/" and not allow_slash then break end
			i = i + 1
		end
	end
	if i == p then return nil end
	self.pos = i
	return { t = "spec", v = src:sub(p, i - 1), pos = p, epos = i - 1 }
end

-- Every token of the source at once, in an array the parser indexes (no per-token calls
-- through peek). The lexer follows the program's shape itself: at the top level it reads
-- attach-point specs (`t = "spec"`), a filter's closing '/' (the one followed by '{') gets
-- `close_filter = true`, and braces are counted.
function Lexer.tokenize(src)
	local self = Lexer.new(src)
	local toks, n = {}, 0
	local depth = 0
	local want_spec, in_filter = true, false
	local text = self.src
	while true do
		local tok
		if depth == 0 and want_spec and not in_filter then
			tok = self:spec()
			if tok then
				want_spec = false
			else
				tok = self:scan()
			end
		else
			tok = self:scan()
		end
		n = n + 1
		toks[n] = tok
		if tok.t == "eof" then break end
		if tok.t == "op" then
			local v = tok.v
			if v == "{" then
				depth = depth + 1
				in_filter = false
			elseif v == "}" then
				depth = depth - 1
				if depth <= 0 then depth = 0; want_spec = true end
			elseif depth == 0 then
				if v == "," and not in_filter then
					want_spec = true
				elseif v == "/" then
					if not in_filter then
						in_filter = true
					else
						local after = find(text, "[^ \t\r\n\f\v]", tok.epos + 1)
						if not after or byte(text, after) == 123 then -- '{' or the end: it closes
							tok.close_filter = true
							in_filter = false
						end
					end
				end
			end
		end
	end
	return toks
end

return Lexer
