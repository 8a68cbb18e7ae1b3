-- The API reference (doc/API.md) documents everything the module exports: every function of
-- the module table and of its sub-tables (bpf.btf, bpf.log and the pure-Lua parts), every
-- constant, and every method of every handle class found in the registry. A name added without
-- a `###` entry fails here, listing what is missing.
local bpf = require "bpf"
local support = require "support.init"

local PARTS = { "hist", "top", "pp", "help", "json", "asm", "trace", "cli" }

local text = support.read_file(support.root .. "/doc/API.md")
local entries = bpf.help.parse(text)

local function sorted(t)
	local keys = {}
	for k in pairs(t) do
		if type(k) == "string" then keys[#keys + 1] = k end
	end
	table.sort(keys)
	return keys
end

-- Handle classes: registry entries "bpf.*" that carry a method table.
local function classes()
	local found = {}
	for name, mt in pairs(debug.getregistry()) do
		if type(name) == "string" and name:match("^bpf%.") and type(mt) == "table" then
			local methods = rawget(mt, "methods")
			if type(methods) ~= "table" then methods = rawget(mt, "__index") end
			if type(methods) == "table" then found[name] = methods end
		end
	end
	-- A class of a pure-Lua part, not in the registry: bpf.cli's apps.
	found["bpf.cli.app"] = getmetatable(bpf.cli.new("x", "x")).__index
	return found
end

describe("doc/API.md", function()
	setup(function()
		for _, p in ipairs(PARTS) do
			assert.is_not_nil(bpf[p], "bpf." .. p .. " loads")
		end
	end)

	it("documents every module function and sub-table function", function()
		local missing = {}
		for _, k in ipairs(sorted(bpf)) do
			local v = bpf[k]
			if type(v) == "function" and not entries["bpf." .. k] then
				missing[#missing + 1] = "bpf." .. k
			elseif type(v) == "table" then
				local mt = getmetatable(v)
				if type(mt) == "table" and mt.__call and not entries["bpf." .. k] then
					missing[#missing + 1] = "bpf." .. k
				end
				for _, f in ipairs(sorted(v)) do
					if type(v[f]) == "function" and not entries["bpf." .. k .. "." .. f] then
						missing[#missing + 1] = "bpf." .. k .. "." .. f
					end
				end
			end
		end
		assert.equal("", table.concat(missing, " "), "undocumented functions")
	end)

	it("mentions every constant", function()
		local missing = {}
		for _, k in ipairs(sorted(bpf)) do
			local v = bpf[k]
			if type(v) ~= "function" and type(v) ~= "table" and not text:find(k, 1, true) then
				missing[#missing + 1] = "bpf." .. k
			end
			if type(v) == "table" then
				for _, f in ipairs(sorted(v)) do
					if type(v[f]) ~= "function" and not text:find(f, 1, true) then
						missing[#missing + 1] = "bpf." .. k .. "." .. f
					end
				end
			end
		end
		assert.equal("", table.concat(missing, " "), "undocumented constants")
	end)

	it("documents every method of every handle class", function()
		local found, missing, n = classes(), {}, 0
		for _, class in ipairs(sorted(found)) do
			for _, m in ipairs(sorted(found[class])) do
				if m:sub(1, 1) ~= "_" and type(found[class][m]) == "function" then
					n = n + 1
					if not entries[class .. ":" .. m] then
						missing[#missing + 1] = class .. ":" .. m
					end
				end
			end
		end
		for _, class in ipairs { "bpf.object", "bpf.program", "bpf.map", "bpf.link", "bpf.btf" } do
			assert.is_table(found[class], class .. " is registered")
		end
		assert.is_true(n > 100)
		assert.equal("", table.concat(missing, " "), "undocumented methods")
	end)

	it("has no entry for something that does not exist", function()
		local found, stale = classes(), {}
		for key in pairs(entries) do
			local class, method = key:match("^(bpf%.[%w_.]+):([%w_]+)$")
			if class then
				if not (found[class] and found[class][method]) then stale[#stale + 1] = key end
			else
				local v = bpf
				for part in key:gmatch("[^.]+") do
					if part ~= "bpf" then v = type(v) == "table" and v[part] or nil end
				end
				if v == nil then stale[#stale + 1] = key end
			end
		end
		table.sort(stale)
		assert.equal("", table.concat(stale, " "), "entries for names that are not exported")
	end)
end)
