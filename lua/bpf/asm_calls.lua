-- The helpers bpf.asm calls by name: the table generated from the UAPI header
-- (asm_helpers.lua, one line per helper) indexed by name and id, the few newer ones, lookups
-- that suggest the nearest names, and argument count checks against the prototypes.
local M = {}
local concat, format, floor = table.concat, string.format, math.floor

-- Helpers newer than the UAPI header the table is generated from (as core/disasm.c lists them).
local EXTRA_HELPERS = {
	cgrp_storage_get = { id = 210, ret = "void *", args = { "struct bpf_map *map",
		"struct cgroup *cgroup", "void *value", "u64 flags" }, kinds = { "map", "ptr", "ptr", "int" } },
	cgrp_storage_delete = { id = 211, ret = "long", args = { "struct bpf_map *map",
		"struct cgroup *cgroup" }, kinds = { "map", "ptr" } },
}

-- Entries are decoded from their line on first use (by name or id): start-up then costs one
-- string, not 600 tables. helpers[name] and helpers[id] (and by_id[id]) give the same entry.
local DATA = "\n" .. require "bpf.asm_helpers"
local helpers, by_id = {}, {}

local function split(s, sep)
	local t = {}
	for item in s:gmatch("[^" .. sep .. "]+") do t[#t + 1] = item end
	return t
end

local function index_helper(name, h)
	h.name, h.nargs = "bpf_" .. name, #h.args
	h.variadic = h.variadic or false
	rawset(helpers, name, h)
	rawset(helpers, h.id, h)
	rawset(by_id, h.id, h)
	return h
end

-- The entry whose line starts at pos (just after its "\n"), indexed.
local function decode_at(pos)
	local name, id, ret, args, kinds, variadic = DATA:match("^([%w_]+) (%d+)|([^|]*)|([^|]*)|([^|]*)|(%a*)", pos)
	if rawget(helpers, name) then return helpers[name] end
	return index_helper(name, { id = tonumber(id), ret = ret, args = split(args, ";"),
		kinds = split(kinds, ","), variadic = variadic == "variadic" or nil })
end

local function lookup(_, key)
	local pos
	if type(key) == "string" and key:find("^[%w_]+$") then
		pos = DATA:find("\n" .. key .. " ", 1, true)
	elseif type(key) == "number" and key % 1 == 0 and key >= 0 and key < 2 ^ 31 then
		pos = DATA:find("\n[%w_]+ " .. format("%d", key) .. "|")
	end
	return pos and decode_at(pos + 1) or nil
end

-- Every entry (for pairs and the did-you-mean of an unknown name).
local function decode_all()
	for pos in DATA:gmatch("\n()[%w_]") do decode_at(pos) end
end
local function all_pairs(t)
	decode_all()
	return next, t, nil
end

for name, h in pairs(EXTRA_HELPERS) do
	if not lookup(nil, name) then index_helper(name, h) end
end
setmetatable(helpers, { __index = lookup, __pairs = all_pairs })
setmetatable(by_id, { __index = function(_, id) return type(id) == "number" and lookup(nil, id) or nil end,
	__pairs = all_pairs })
M.helpers, M.by_id = helpers, by_id

local function nearest_helpers(name)
	decode_all()
	local distance = require("bpf.nearest").distance -- "did you mean": error paths only
	local scored = {}
	for k in next, helpers do
		if type(k) == "string" then
			local d = distance(name, k)
			if d <= math.max(2, floor(#name / 3)) or k:find(name, 1, true) then
				scored[#scored + 1] = { k, d }
			end
		end
	end
	table.sort(scored, function(x, y) return x[2] < y[2] or (x[2] == y[2] and x[1] < y[1]) end)
	local names = {}
	for i = 1, math.min(3, #scored) do names[i] = scored[i][1] end
	return names
end

local cache = {} -- "bpf_x" and "x" → entry, filled on first use (no gsub per call)

-- The entry for a name ("map_lookup_elem", "bpf_map_lookup_elem") or id; nil and a message.
function M.find(helper)
	local h = cache[helper]
	if h then return h end
	if type(helper) == "number" then
		h = by_id[helper]
		if not h then return nil, "unknown helper id " .. tostring(helper) end
		return h
	end
	if type(helper) ~= "string" then
		return nil, "a helper name or id expected, got " .. type(helper)
	end
	local short = helper:gsub("^bpf_", "", 1)
	h = helpers[short]
	if not h then
		local near = nearest_helpers(short)
		return nil, "unknown helper '" .. helper .. "'" .. (#near > 0 and
			" (did you mean " .. concat(near, ", ") .. "?)" or "")
	end
	cache[helper] = h
	return h
end

-- What is wrong with calling h with nargs arguments (nil: nothing, or nargs not given).
function M.nargs_error(h, nargs)
	if nargs == nil then return nil end
	if nargs > 5 then return h.name .. ": BPF calls take at most 5 arguments, got " .. nargs end
	if h.variadic and nargs >= h.nargs then return nil end
	if nargs ~= h.nargs then
		return format("%s takes %s%d argument%s (%s), got %d", h.name, h.variadic and "at least " or "",
			h.nargs, h.nargs == 1 and "" or "s", concat(h.args, ", "), nargs)
	end
end

return M
