--- bpf.help: what the module and each handle can do, for the REPL.
--
--   bpf.help()              the module's functions
--   bpf.help(handle)        the handle's methods (also handle:help())
--   bpf.help("bpf.open")    one entry in full; "map:lookup" or "bpf.map:lookup" for a method
--   bpf.help("map")         a handle kind's methods by name
--   bpf.help.text(x)        the text instead of printing it
--
-- Names come from the live module and metatables, so the lists are always complete; the
-- descriptions come from the API reference, doc/API.md, which the module carries compiled in
-- (require "bpf.apidoc"), parsed once. Without it the lists still print, without descriptions.
local M = {}

-- Short names users type for the handle kinds.
local aliases = {
	object = "bpf.object", obj = "bpf.object", program = "bpf.program", prog = "bpf.program",
	map = "bpf.map", iterator = "bpf.map_iterator", link = "bpf.link", btf = "bpf.btf",
	reader = "bpf.reader", writer = "bpf.writer", pinned_program = "bpf.pinned_program",
	trace = "bpf.trace",
}

local function this_dir()
	local src = debug.getinfo(1, "S").source
	return src:sub(1, 1) == "@" and (src:sub(2):match("^(.*)/[^/]*$") or ".") or "."
end

local function read_file(path)
	local f = io.open(path, "r")
	if not f then
		return nil
	end
	local s = f:read("a") or f:read("*a")
	f:close()
	return s
end

--- The API reference text and where it came from ("built in" or a path), or nil.
function M.reference()
	require "bpf" -- registers the built-in reference
	local ok, text = pcall(require, "bpf.apidoc")
	if ok and type(text) == "string" and text ~= "" then
		return text, "built in"
	end
	local dir = this_dir()
	for _, path in ipairs({ dir .. "/API.md", dir .. "/../../doc/API.md", "doc/API.md" }) do
		local s = read_file(path)
		if s then
			return s, path
		end
	end
end

--- Parses API.md: { ["bpf.open"] = {sig =, text =}, ["bpf.map:lookup"] = {...}, ... }.
-- Sections "## Title (`bpf.kind`)" name the handle kind of the "### `h:method(...)`" entries
-- below them; "### `bpf.f(...)`" entries are module functions.
function M.parse(text)
	local entries, order = {}, {}
	local class, current
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		local section = line:match("^## ")
		if section then
			class = line:match("%(`(bpf%.[%w_.]+)`%)")
			current = nil
		end
		local sig = line:match("^### `([^`]+)`")
		if sig then
			local fname = sig:match("^([%w_.]+)%s*%(") or sig:match("^([%w_.]+)")
			local method = sig:match("^[%w_]+:([%w_]+)")
			local key = method and class and (class .. ":" .. method) or fname
			if key then
				current = { sig = sig, text = {} }
				entries[key] = current
				order[#order + 1] = key
			end
		elseif current and not line:match("^#") then
			current.text[#current.text + 1] = line
		end
	end
	for _, e in pairs(entries) do
		e.text = table.concat(e.text, "\n"):gsub("^%s+", ""):gsub("%s+$", "")
	end
	return entries, order
end

local cache
local function docs()
	if not cache then
		local text = M.reference()
		cache = text and M.parse(text) or {}
	end
	return cache
end

local function summary(entry)
	if not entry then
		return ""
	end
	local text = entry.text:gsub("\n", " ")
	local first = text:match("^(.-%.)%s") or text:match("^(.-%.)$") or text
	if #first > 90 then
		first = first:sub(1, 87) .. "..."
	end
	return first
end

local function sorted_keys(t, filter)
	local keys = {}
	for k, v in pairs(t) do
		if type(k) == "string" and (not filter or filter(k, v)) then
			keys[#keys + 1] = k
		end
	end
	table.sort(keys)
	return keys
end

local function line(sig, entry)
	local s = summary(entry)
	return s ~= "" and string.format("  %-34s %s", sig, s) or "  " .. sig
end

local lazy_parts = { "cli", "help", "hist", "json", "pp", "top", "trace" }

local function module_text()
	local bpf = require "bpf"
	local d = docs()
	local out = { "bpf " .. tostring(bpf.version) .. " -- functions (bpf.help(x) for more):" }
	for _, k in ipairs(sorted_keys(bpf, function(_, v) return type(v) == "function" end)) do
		local e = d["bpf." .. k]
		out[#out + 1] = line(e and e.sig or ("bpf." .. k .. "()"), e)
	end
	local is_part = {}
	for _, part in ipairs(lazy_parts) do is_part[part] = true end
	for _, sub in ipairs(sorted_keys(bpf, function(k, v) return type(v) == "table" and not is_part[k] end)) do
		for _, k in ipairs(sorted_keys(bpf[sub], function(_, v) return type(v) == "function" end)) do
			local e = d["bpf." .. sub .. "." .. k]
			out[#out + 1] = line(e and e.sig or ("bpf." .. sub .. "." .. k .. "()"), e)
		end
	end
	out[#out + 1] = "pure-Lua parts (loaded on first use):"
	for _, part in ipairs(lazy_parts) do
		local e = d["bpf." .. part]
		out[#out + 1] = line(e and e.sig or ("bpf." .. part), e)
	end
	out[#out + 1] = "handles: object, program, map, iterator, link, btf, reader, writer, pinned_program"
	out[#out + 1] = "         (bpf.help(handle) or bpf.help(\"map\") lists their methods)"
	return table.concat(out, "\n")
end

local function methods_of(class)
	local mt = debug.getregistry()[class]
	if type(mt) ~= "table" then
		return nil
	end
	local m = rawget(mt, "methods")
	if type(m) ~= "table" then
		m = rawget(mt, "__index")
	end
	return type(m) == "table" and m or nil
end

local function class_text(class)
	local methods = methods_of(class)
	if not methods then
		return nil
	end
	local d = docs()
	local out = { class .. " methods:" }
	for _, k in ipairs(sorted_keys(methods, function(k) return k:sub(1, 1) ~= "_" end)) do
		local e = d[class .. ":" .. k]
		out[#out + 1] = line(e and e.sig or (k .. "()"), e)
	end
	local props = d[class]
	if props and props.text ~= "" then
		out[#out + 1] = props.text
	end
	return table.concat(out, "\n")
end

local function class_of(x)
	local mt = getmetatable(x)
	return type(mt) == "table" and rawget(mt, "__name") or nil
end

local function entry_text(name)
	local d = docs()
	local e = d[name]
	if not e then
		-- "map:lookup" → "bpf.map:lookup"; "open" → "bpf.open"
		local kind, method = name:match("^([%w_]+):([%w_]+)$")
		if kind and aliases[kind] then
			e = d[aliases[kind] .. ":" .. method]
		else
			e = d["bpf." .. name]
		end
	end
	if e then
		return e.sig .. "\n" .. e.text
	end
end

--- The help text for x (see the top of this file).
function M.text(x)
	if x == nil or x == package.loaded.bpf then
		return module_text()
	end
	local class = class_of(x)
	if type(x) == "string" then
		class = aliases[x] or (methods_of(x) and x) or nil
		if not class then
			return entry_text(x) or ("no help for '" .. x .. "' (bpf.help() lists everything)")
		end
	end
	if class then
		return class_text(class) or ("no methods known for " .. class)
	end
	return "no help for a " .. type(x) .. " (bpf.help() lists everything)"
end

return setmetatable(M, {
	__call = function(_, x)
		print(M.text(x))
	end,
})
