-- Diagnostics for the trace compiler: errors that carry a source position, formatted the way
-- bpftrace prints them ("stdin:1:12-18: ERROR: message", the line, a caret/tilde underline).

local M = {}

local Error = {}
Error.__index = Error
Error.__tostring = function(e) return e.text or e.message end

-- Line and column (1-based) of byte offset `pos` in `src`.
local function line_col(src, pos)
	local line, start = 1, 1
	local i = 1
	while true do
		local nl = src:find("\n", i, true)
		if not nl or nl >= pos then break end
		line, start, i = line + 1, nl + 1, nl + 1
	end
	return line, pos - start + 1, start
end
M.line_col = line_col

-- The text of a whole line starting at `start`.
local function line_text(src, start)
	local nl = src:find("\n", start, true)
	return src:sub(start, (nl or #src + 1) - 1)
end

-- Line and columns of [pos, epos] (a range over several lines ends with its first line) and
-- that line's text.
local function span(src, pos, epos)
	local line, col, start = line_col(src, pos)
	local text = line_text(src, start)
	local ecol = col
	if epos and epos >= pos then
		local eline, ec = line_col(src, epos)
		ecol = (eline == line) and ec or #text
	end
	if ecol < col then ecol = col end
	return line, col, ecol, text
end

-- Formats a message at [pos, epos] of `src` (epos inclusive, optional).
local ESC = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }

function M.format(src, name, pos, epos, message)
	-- one line of message whatever it quotes from the source
	message = message:gsub("[%c\127-\255]", function(c)
		return ESC[c] or (c:byte() < 32 or c:byte() == 127) and string.format("\\x%02x", c:byte()) or c
	end)
	if not pos then return (name or "stdin") .. ": ERROR: " .. message end
	if pos > #src + 1 then pos = #src + 1 end
	local line, col, ecol, text = span(src, pos, epos)
	local where = string.format("%s:%d:%d", name or "stdin", line, col)
	if ecol > col then where = where .. "-" .. (ecol + 1) end
	local shown, under = M.underline(text, col, ecol)
	return string.format("%s: ERROR: %s\n%s\n%s", where, message, shown, under), line, col
end

-- The source line and the tildes under columns [col, ecol] as bpftrace prints them: tabs shown
-- as 4 spaces in both.
function M.underline(text, col, ecol)
	local lead = text:sub(1, col - 1):gsub("\t", "    "):gsub("[^ ]", " ")
	local span = text:sub(col, ecol):gsub("\t", "    ")
	return (text:gsub("\t", "    ")), lead .. string.rep("~", math.max(1, #span))
end

-- A warning as bpftrace 0.17 prints one: "stdin:1:34-35: WARNING: message", the line, and
-- tildes under [pos, epos] (always a range, no caret).
function M.format_warning(src, name, pos, epos, message)
	if not pos then return (name or "stdin") .. ": WARNING: " .. message end
	local line, col, ecol, text = span(src, pos, epos)
	local shown, under = M.underline(text, col, ecol)
	return string.format("%s:%d:%d-%d: WARNING: %s\n%s\n%s", name or "stdin", line, col, ecol + 1,
		message, shown, under)
end

-- Raises a positioned compile error; `node` is anything with `pos` (and maybe `epos`).
function M.raise(node, fmt, ...)
	local message = select("#", ...) > 0 and string.format(fmt, ...) or fmt
	error(setmetatable({ message = message, pos = node and node.pos, epos = node and node.epos },
		Error), 0)
end

function M.is_error(e) return getmetatable(e) == Error end

-- Completes a raised error with the source text; returns the message string, line and column.
function M.render(e, src, name)
	local text, line, col = M.format(src, name, e.pos, e.epos, e.message)
	e.text, e.line, e.col = text, line, col
	return text, line, col
end

-- Levenshtein distance, for "did you mean" suggestions; names whose lengths differ by more than
-- 3 are never near, nor are those beyond limit (limit + 1 then: the exact value is not needed).
local function distance(a, b, limit)
	if math.abs(#a - #b) > 3 then return 99 end
	return require("bpf.nearest").distance(a, b, limit) -- error paths only
end

-- Up to `n` names from the array `names` nearest to `word` (close enough to be a typo, or
-- sharing a long prefix), as "'a', 'b'" text, or nil when none is near.
function M.suggest(word, names, n)
	local scored = {}
	local limit = math.max(2, math.floor(#word / 3))
	local big = #names > 2000 -- e.g. every kernel function: compare only plausible names
	local first, tail = word:byte(1), word:sub(-3)
	-- the last three bytes, compared without a string per name (words of 3 bytes or more)
	local t1, t2, t3 = word:byte(-3, -1)
	if #word < 3 then t1 = nil end
	for _, name in ipairs(names) do
		local d = 99
		local same_first = name:byte(1) == first
		if not big or same_first then
			d = distance(word, name, limit)
		else
			local n = #name
			if t1 then
				if n >= 3 and name:byte(n) == t3 and name:byte(n - 1) == t2 and name:byte(n - 2) == t1 then
					d = distance(word, name, limit)
				end
			elseif name:sub(-3) == tail then
				d = distance(word, name, limit)
			end
		end
		-- (a name starting with the word starts with its first byte)
		if d > limit and same_first and #word >= 4 and name:sub(1, #word) == word then d = limit end
		if d <= limit then scored[#scored + 1] = { name = name, d = d } end
	end
	if #scored == 0 then return nil end
	table.sort(scored, function(x, y)
		if x.d ~= y.d then return x.d < y.d end
		return x.name < y.name
	end)
	local out = {}
	for i = 1, math.min(n or 3, #scored) do out[i] = "'" .. scored[i].name .. "'" end
	return table.concat(out, ", ")
end

-- " (did you mean 'x'?)" or "".
function M.did_you_mean(word, names)
	local s = M.suggest(word, names, 3)
	return s and (" (did you mean " .. s .. "?)") or ""
end

return M
