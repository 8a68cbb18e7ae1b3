-- rockspec/luabpf-scm-1.rockspec: `luarocks make` builds and installs the C module and the pure-Lua
-- submodules (lua/bpf/*.lua) into a private tree; a script run with `luarocks path` from another
-- directory finds them there (not in the build tree), loads and attaches a program and prints
-- bpf.help("bpf.open") (the reference is compiled into the module). Every Lua the rockspec
-- accepts gets a tree of its own: under Lua 5.4 busted, luarocks as Debian sets it up (no
-- --lua-version: Lua 5.1), then 5.2, 5.3 and 5.4; under LuaJIT the LuaJIT rock (--lua-version
-- 5.1, LuaJIT's headers, as the README says).
local support = require "support.init"

local root = support.root
local q = support.quote

-- { label, luarocks arguments before the command, make arguments, interpreter, Lua version }
local rocks
if rawget(_G, "jit") then
	rocks = { { "LuaJIT", "--lua-version 5.1", " LUA_INCDIR=/usr/include/luajit-2.1", "luajit", "5.1" } }
else
	rocks = {
		{ "Debian's default (Lua 5.1)", "", "", "lua5.1", "5.1" },
		{ "Lua 5.2", "--lua-version 5.2", "", "lua5.2", "5.2" },
		{ "Lua 5.3", "--lua-version 5.3", "", "lua5.3", "5.3" },
		{ "Lua 5.4", "--lua-version 5.4", "", "lua5.4", "5.4" },
	}
end

-- luarocks with a clean Lua environment: the test runner's LUA_CPATH points at build/.
local function luarocks(rock, tree, args)
	return "env -u LUA_CPATH -u LUA_PATH luarocks " .. rock[2] .. " --tree " .. q(tree) .. " " .. args
end

-- Every pure-Lua module under lua/bpf/, nested ones as "trace.format".
local function submodules()
	local _, out = support.sh("cd " .. q(root) .. " && ls lua/bpf/*.lua lua/bpf/*/*.lua 2>/dev/null")
	local names = {}
	for path in out:gmatch("lua/bpf/([%w_/]+)%.lua") do
		if path ~= "init" then names[#names + 1] = (path:gsub("/", ".")) end
	end
	return names
end

local script = [=[
local tree, object = arg[1], arg[2]
-- package.searchpath is 5.2+
local function searchpath(name, path)
	for template in path:gmatch("[^;]+") do
		local file = template:gsub("%?", (name:gsub("%.", "/")))
		local f = io.open(file, "r")
		if f then f:close() return file end
	end
end
local so = assert(searchpath("bpf", package.cpath))
local refusals = false
assert(so:sub(1, #tree) == tree, "bpf found outside the tree: " .. so)
local bpf = require "bpf"
print("module", so)
for i = 3, #arg do
	local name = "bpf." .. arg[i]
	local path = assert(searchpath(name, package.path))
	assert(path:sub(1, #tree) == tree, name .. " found outside the tree: " .. path)
	local ok, err = pcall(require, name)
	-- A helper that needs the ffi or 5.3+ integers (bpf.trace) may refuse this Lua, saying so,
	-- but it is installed; PUC 5.1 then reports the refusal again as a "previous error".
	local refused = not ok and not rawget(_G, "jit") and (tostring(err):match("ffi") or
		(refusals and tostring(err):match("previous error loading module")))
	if not ok and not refused then error(err, 0) end
	if refused then refusals = true end
	print("submodule", name, ok and "loaded" or "refuses this Lua")
end
local obj = assert(bpf.load(object))
local link = assert(obj.programs.count_raw:attach())
for _ = 1, 200 do io.open("/proc/self/stat"):close() end
local hits = obj.globals.raw_hits
link:detach()
obj:close()
print("raw_hits", tostring(hits))
print("help", bpf.help.text("bpf.open"))
]=]

for _, rock in ipairs(rocks) do
	local label, interpreter, lua_version = rock[1], rock[4], rock[5]

	describe("luarocks make rockspec/luabpf-scm-1.rockspec, " .. label, function()
		local tree, script_path

		lazy_setup(function()
			local ok, out = support.sh("mktemp -d /tmp/firsthour_rocks.XXXXXX")
			assert(ok, out)
			tree = out:gsub("%s+$", "")
			script_path = tree .. "/use_bpf.lua"
		end)

		lazy_teardown(function()
			if tree and tree:match("^/tmp/firsthour_rocks%.") then os.execute("rm -rf " .. q(tree)) end
		end)

		it("is the command the README shows", function()
			-- 5.2 and 5.3 are named in the comment of the 5.4 line ("# or 5.2, 5.3")
			local version = rock[2]:match("%-%-lua%-version (5%.[23])")
			local args = version and "--lua-version 5.4" or rock[2]
			local readme = support.read_file(root .. "/README.md")
			local cmd = ("luarocks " .. args .. " make rockspec/luabpf-scm-1.rockspec" .. rock[3])
				:gsub("%s+", " ")
			local found = false
			for line in readme:gmatch("[^\n]+") do
				local code, comment = line:match("^([^#]*)#?(.*)$")
				if code:gsub("%s+", " "):gsub(" $", "") == cmd and
					(not version or comment:find(version, 1, true)) then
					found = true
				end
			end
			assert.is_true(found, "README.md does not show: " .. cmd)
		end)

		it("builds and installs the module and every lua/bpf submodule into a private tree", function()
			local ok, out = support.sh("cd " .. q(root) .. " && MAKEFLAGS=-j2 " ..
				luarocks(rock, tree, "make rockspec/luabpf-scm-1.rockspec" .. rock[3]) .. " 2>&1")
			assert(ok, out)
			assert.truthy(out:match("luabpf scm%-1 is now installed in"), out)
			local so = tree .. "/lib/lua/" .. lua_version .. "/bpf.so"
			local f = io.open(so, "rb")
			assert.truthy(f, so .. " missing")
			f:close()
			for _, name in ipairs(submodules()) do
				local file = name:gsub("%.", "/") .. ".lua"
				local path = tree .. "/share/lua/" .. lua_version .. "/bpf/" .. file
				assert.are.equal(support.read_file(root .. "/lua/bpf/" .. file), support.read_file(path))
			end
			local _, list = support.sh(luarocks(rock, tree, "list --porcelain"))
			assert.truthy(list:match("luabpf\tscm%-1"), list)
		end)

		it("runs a script from another directory that requires it from the tree only", function()
			support.write_file(script_path, script)
			local names = submodules()
			local cmd = "eval \"$(" .. luarocks(rock, tree, "path") .. ")\" && cd / && " .. interpreter ..
				" " .. q(script_path) .. " " .. q(tree) .. " " .. q(support.obj("syscount")) ..
				(#names > 0 and " " .. table.concat(names, " ") or "") .. " 2>&1"
			local ok, out = support.sh(cmd)
			assert(ok, out)
			assert.truthy(out:match("module\t" .. tree:gsub("%p", "%%%0") .. "/lib/lua/"), out)
			local hits = tonumber((out:match("raw_hits\t(%d+)")))
			assert.truthy(hits and hits >= 200, out)
			for _, name in ipairs(names) do
				assert.truthy(out:match("submodule\tbpf%." .. name:gsub("%.", "%%.") .. "\t"), out)
			end
			-- the description of bpf.open, from the reference built into the module
			assert.truthy(out:match("help\tbpf%.open%(path_or_bytes.-\nOpens a BPF ELF object"), out)
		end)

		it("uninstalls cleanly", function()
			local ok, out = support.sh(luarocks(rock, tree, "remove luabpf") .. " 2>&1")
			assert(ok, out)
			assert.is_nil(io.open(tree .. "/lib/lua/" .. lua_version .. "/bpf.so", "rb"))
		end)
	end)
end
