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

function Lexer.new(src)
	local self = setmetatable({ src = src, pos = 1, peeked = nil }, Lexer)
	-- A first line "#!..." is a shebang.
	if src:sub(1, 2) == "#!" then
		local nl = src:find("\n", 1, true)
		self.pos = nl and nl or #src + 1
	end
	return self
end

local function err(pos, epos, fmt, ...) diag.raise({ pos = pos, epos = epos }, fmt, ...) end

-- Skips blanks, comments and `#include` lines (types come from BTF, as bpftrace does with BTF).
function Lexer:skip_space()
	local src = self.src
	while true do
		local p = src:find("[^ \t\r\n\f\v]", self.pos)
		if not p then self.pos = #src + 1; return end
		self.pos = p
		local two = src:sub(p, p + 1)
		if two == "//" then
			local nl = src:find("\n", p, true)
			self.pos = nl and nl + 1 or #src + 1
		elseif two == "/*" then
			local e = src:find("*/", p + 2, true)
			if not e then err(p, p + 1, "unterminated comment") end
			self.pos = e + 2
		elseif src:sub(p, p) == "#" then
			local line_start = p == 1 or src:sub(p - 1, p - 1) == "\n"
			local directive = src:match("^#%s*(%a*)", p)
			if not line_start or directive ~= "include" then
				local e = src:find("\n", p, true)
				err(p, (e or #src + 1) - 1, "preprocessor directive '#%s' is not supported" ..
					" (only #include lines are accepted, and ignored: types come from BTF)",
					directive or "")
			end
			local nl = src:find("\n", p, true)
			self.pos = nl and nl + 1 or #src + 1
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
function Lexer:scan()
	self:skip_space()
	local src, p = self.src, self.pos
	if p > #src then return { t = "eof", v = "end of input", pos = p, epos = p } end
	local c = src:sub(p, p)
	local tok
	if c:match("[%a_]") then
		local word = src:match("^[%w_]+", p)
		tok = { t = "ident", v = word, pos = p, epos = p + #word - 1 }
	elseif c:match("%d") then
		local text = src:match("^0[xX][%x_]+", p) or src:match("^%d[%d_]*[eE]%d+", p) or
			src:match("^%d[%d_]*", p)
		local after = src:sub(p + #text, p + #text)
		if after:match("[%a_]") then
			local bad = src:match("^[%w_]+", p)
			err(p, p + #bad - 1, "bad integer literal '%s'", bad)
		end
		tok = { t = "int", pos = p, epos = p + #text - 1 }
		tok.v = parse_int(text, p, tok.epos)
	elseif c == '"' then
		local v, e = self:read_string(p)
		tok = { t = "str", v = v, pos = p, epos = e }
	elseif c == "$" then
		local name = src:match("^[%a_][%w_]*", p + 1)
		if name then
			tok = { t = "var", v = name, pos = p, epos = p + #name }
		elseif src:match("^%d+", p + 1) then
			local n = src:match("^%d+", p + 1)
			tok = { t = "param", v = tonumber(n), pos = p, epos = p + #n }
		elseif src:sub(p + 1, p + 1) == "#" then
			tok = { t = "param", v = "#", pos = p, epos = p + 1 }
		else
			err(p, p, "'$' must start a variable name ($x) or a positional parameter ($1)")
		end
	elseif c == "@" then
		local name = src:match("^[%a_][%w_]*", p + 1) or ""
		tok = { t = "map", v = name, pos = p, epos = p + #name }
	elseif c == "'" then
		err(p, p, "character literals are not supported (use a string \"...\" or a number)")
	else
		for _, op in ipairs(PUNCT_BY_CHAR[c] or {}) do
			if src:sub(p, p + #op - 1) == op then
				tok = { t = "op", v = op, pos = p, epos = p + #op - 1 }
				break
			end
		end
		if not tok then err(p, p, "unexpected character '%s'", c:byte() < 32 and
			string.format("\\x%02x", c:byte()) or c) end
	end
	self.pos = tok.epos + 1
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

return Lexer
