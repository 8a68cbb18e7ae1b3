-- The bpftrace preprocessor, in Lua (it only runs when a line starts with '#'): source text to
-- the text the C lexer reads (lua/ltrace_lex.c) and the macros it expands.
local diag = require "bpf.trace.diag"

local function err(pos, epos, fmt, ...) diag.raise({ pos = pos, epos = epos }, fmt, ...) end

-- The preprocessor bpftrace's tools rely on, without a C preprocessor: `#include` lines are
-- ignored (types come from BTF), `#define NAME VALUE` makes NAME stand for one token,
-- `#ifdef/#ifndef/#if defined(X)/#if N/#else/#endif` select lines (BPFTRACE_HAVE_BTF is
-- defined). Directive and skipped lines become blanks of the same length, so positions hold.
local function blank(text) return (text:gsub("[^\n\t]", " ")) end

-- The start of the first line whose '\n' is at `from` or later and whose first byte other
-- than ' ' and '\t' is '#' (what src:find("\n[ \t]*#", from) + 1 gives), or nil. A plain search
-- for '#' and a look back: the pattern search cost a sixth of a parse on a 10 KB source.
local find, byte = string.find, string.byte
local function next_directive(src, from)
	local h = find(src, "#", from + 1, true)
	while h do
		local ls = h
		local c = byte(src, ls - 1)
		while c == 32 or c == 9 do
			ls = ls - 1
			c = byte(src, ls - 1)
		end
		if c == 10 and ls - 1 >= from then return ls end
		h = find(src, "#", h + 1, true)
	end
	return nil
end

local function preprocess(src)
	local first = src:find("^[ \t]*#")
	if not first and not next_directive(src, 1) then return src, nil end
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
			ls = next_directive(src, search)
			if not ls then break end
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
return preprocess
