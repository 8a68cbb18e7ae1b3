-- Tab completion for the static binary's REPL (tools/luabpf_readline.c calls the function this
-- chunk returns as complete(line_before_cursor, word) and offers the words it returns):
--   bpf.<Tab>                    the module's functions and parts (bpf.help, bpf.pp, ...)
--   handle:<Tab>                 a handle's methods (obj:, obj.maps.events:, link:)
--   obj.maps.<Tab>, obj.programs., obj.globals.   the object's maps, programs and globals
--   name<Tab>                    globals and keywords
--   bpf.trace("tracepoint:sys<Tab>   tracepoint names (tracefs available_events)
-- Only names and fields are followed, never calls: completing runs no user code except the
-- __index and __pairs of the values on the path.
local keywords = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
	"goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until",
	"while" }

-- Parts of the module loaded on first use (lua/linfo.c), absent from pairs(bpf) until then.
local lazy_parts = { "cli", "help", "hist", "json", "pp", "top" }

local function safe_index(v, k)
	local ok, r = pcall(function() return v[k] end)
	if ok then return r end
end

-- The methods of a handle (its metatable's `methods` or __index table) or a table's functions.
local function methods(v)
	local names = {}
	local mt = getmetatable(v)
	local t = type(mt) == "table" and (rawget(mt, "methods") or rawget(mt, "__index"))
	if type(t) == "table" then
		for k, f in pairs(t) do
			if type(k) == "string" and type(f) == "function" and k:sub(1, 1) ~= "_" then
				names[#names + 1] = k
			end
		end
	end
	if type(v) == "table" then
		for k, f in pairs(v) do
			if type(k) == "string" and type(f) == "function" then names[#names + 1] = k end
		end
	end
	return names
end

-- The fields a `.` can reach: a table's string keys (through __pairs), a handle's methods
-- and the fields handles have (obj.programs, obj.maps, obj.globals, ...).
local function fields(v)
	local names = {}
	if type(v) == "table" then
		local ok = pcall(function()
			for k in pairs(v) do
				if type(k) == "string" then names[#names + 1] = k end
			end
		end)
		if not ok then names = {} end
		if v == package.loaded.bpf then
			for _, p in ipairs(lazy_parts) do names[#names + 1] = p end
		end
	elseif type(v) == "userdata" then
		for _, k in ipairs({ "programs", "maps", "globals", "name" }) do
			if safe_index(v, k) ~= nil then names[#names + 1] = k end
		end
		for _, k in ipairs(methods(v)) do names[#names + 1] = k end
	end
	return names
end

local function matching(names, prefix, before)
	local seen, out = {}, {}
	for _, n in ipairs(names) do
		if n:sub(1, #prefix) == prefix and n:match("^[%a_][%w_]*$") and not seen[n] then
			seen[n] = true
			out[#out + 1] = before .. n
		end
	end
	table.sort(out)
	return out
end

local events_cache
local function tracepoints()
	if events_cache then return events_cache end
	events_cache = {}
	for _, path in ipairs({ "/sys/kernel/tracing/available_events",
		"/sys/kernel/debug/tracing/available_events" }) do
		local f = io.open(path, "r")
		if f then
			for line in f:lines() do events_cache[#events_cache + 1] = line end
			f:close()
			break
		end
	end
	table.sort(events_cache)
	return events_cache
end

-- Inside the string of bpf.trace("...: probe names.
local function complete_trace(word)
	local kind, rest = word:match("^(%a+):(.*)$")
	local out = {}
	if kind == "tracepoint" or kind == "t" then
		for _, ev in ipairs(tracepoints()) do
			if ev:sub(1, #rest) == rest then out[#out + 1] = kind .. ":" .. ev end
		end
	elseif not kind then
		for _, k in ipairs({ "tracepoint:", "kprobe:", "kretprobe:", "rawtracepoint:", "BEGIN", "END" }) do
			if k:sub(1, #word) == word then out[#out + 1] = k end
		end
	end
	return out
end

-- Whether the text before the word leaves a string of bpf.trace( open.
local function in_trace_string(before)
	local open = before:match("bpf%.trace%s*%(%s*([\"'])[^\"']*$")
	return open ~= nil
end

return function(line, word)
	local before = line:sub(1, #line - #word)
	if in_trace_string(before) then
		return complete_trace(word)
	end
	local path, sep, prefix = word:match("^([%a_][%w_.]*)([.:])([%w_]*)$")
	if not path then
		local names = {}
		for k in pairs(_G) do
			if type(k) == "string" then names[#names + 1] = k end
		end
		for _, k in ipairs(keywords) do names[#names + 1] = k end
		return matching(names, word, "")
	end
	local v = _G
	for part in path:gmatch("[^.]+") do
		v = safe_index(v, part)
		if v == nil then return {} end
	end
	return matching(sep == ":" and methods(v) or fields(v), prefix, path .. sep)
end
