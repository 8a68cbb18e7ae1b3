-- Kernel symbols for the trace compiler: /proc/kallsyms and tracefs' available_filter_functions
-- read once per process (again when the module list changes) and searched as text, by the
-- literal part a name or glob must contain, so a wildcard never walks 100k symbols in Lua.
local M = {}

local read_file = require("bpf.trace.tracefs").read_file

-- Both files change only when a module is loaded or unloaded: /proc/modules (a few KB, absent
-- on kernels without modules) is the key the cached texts are valid for.
local cache = { modules = false }

local function current()
	local modules = read_file("/proc/modules") or ""
	if cache.modules ~= modules then
		cache = { modules = modules, traceable = {} }
	end
	return cache
end

-- /proc/kallsyms as one string that starts with "\n" (so every line follows a newline), or "".
local function kallsyms()
	local c = current()
	if not c.kallsyms then
		local data = read_file("/proc/kallsyms")
		c.kallsyms = data and ("\n" .. data) or ""
	end
	return c.kallsyms
end

-- Calls fn(line) for each line of `text` (a string that starts with "\n") containing `lit`, in
-- order, once per line.
local function lines_containing(text, lit, fn)
	local find, byte, sub = string.find, string.byte, string.sub
	local pos = 1
	while true do
		local a = find(text, lit, pos, true)
		if not a then return end
		local s = a
		while byte(text, s - 1) ~= 10 do s = s - 1 end
		local e = find(text, "\n", a + #lit, true) or #text + 1
		fn(sub(text, s, e - 1))
		pos = e + 1
	end
end

-- The longest run of characters of a glob that are not wildcards ("" for "*", "?*").
local function glob_literal(glob)
	local best = ""
	for run in glob:gmatch("[^%*%?]+") do
		if #run > #best then best = run end
	end
	return best
end
M.lines_containing, M.glob_literal = lines_containing, glob_literal

local FUNC_LINE = "^%x+ ([tT]) ([%w_%.]+)"

-- Every text symbol's name once, in kallsyms order (for suggestions; slow: built on demand).
function M.functions()
	local c = current()
	if not c.functions then
		local list, seen = {}, {}
		for line in kallsyms():gmatch("[^\n]+") do
			local t, name = line:match(FUNC_LINE)
			if t and not seen[name] then
				seen[name] = true
				list[#list + 1] = name
			end
		end
		c.functions, c.function_set = list, seen
	end
	return c.functions, c.function_set
end

-- Is kallsyms readable and non-empty (else nothing can be said about a function's existence)?
function M.available()
	return kallsyms():find("\n%x+ [tT] [%w_%.]") ~= nil
end

-- Is `name` a text symbol in kallsyms?
function M.is_function(name)
	local found = false
	if name == "" then return false end
	lines_containing(kallsyms(), name, function(line)
		local t, n = line:match(FUNC_LINE)
		if t and n == name then found = true end
	end)
	return found
end

-- The names of text symbols matching `pattern` (glob `glob` as an anchored Lua pattern), each
-- once, in kallsyms order.
function M.functions_matching(glob, pattern)
	local out, seen = {}, {}
	local lit = glob_literal(glob)
	if lit == "" then
		for _, name in ipairs((M.functions())) do
			if name:match(pattern) then out[#out + 1] = name end
		end
		return out
	end
	lines_containing(kallsyms(), lit, function(line)
		local t, name = line:match(FUNC_LINE)
		if t and not seen[name] and name:match(pattern) then
			seen[name] = true
			out[#out + 1] = name
		end
	end)
	return out
end

-- The functions ftrace can attach to that match the glob, as a set, from
-- ROOT/available_filter_functions ("name" or "name [module]" per line); nil when the file is
-- unreadable or empty (then every function is taken as traceable).
function M.traceable_matching(root, glob, pattern)
	local c = current()
	local text = c.traceable[root]
	if text == nil then
		local data = read_file(root .. "/available_filter_functions")
		text = (data and data ~= "") and ("\n" .. data) or false
		c.traceable[root] = text
	end
	if not text then return nil end
	local set = {}
	local lit = glob_literal(glob)
	local function add(line)
		local name = line:match("(%S+)")
		if name and name:match(pattern) then set[name] = true end
	end
	if lit == "" then
		for line in text:gmatch("[^\n]+") do add(line) end
	else
		lines_containing(text, lit, add)
	end
	return set
end

-- The address (hex text) of the first symbol of any type named `name`, or nil.
function M.address(name)
	local addr
	if name == "" then return nil end
	lines_containing(kallsyms(), name, function(line)
		if addr then return end
		local a, sym = line:match("^(%x+) %a ([%w_%.]+)$")
		if sym == name then addr = a end
	end)
	return addr
end

return M
