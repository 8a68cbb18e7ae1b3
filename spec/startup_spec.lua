-- Starting a REPL as the README says (issue 14): `lua5.4 -i -l bpf` and `luajit -i -l bpf` both
-- leave the global bpf set (LuaJIT's and PUC 5.1's -l only require: the module sets the global
-- when the interpreter itself loads it), on every Lua the module is built for; a require from
-- Lua code sets no global; `make demo` builds both modules the README's REPL lines use.
local support = require "support.init"

local root, q = support.root, support.quote

local interpreters = {
	{ "lua5.4", "lua5.4" }, { "luajit", "luajit" },
	{ "lua5.1", "lua5.1" }, { "lua5.2", "lua5.2" }, { "lua5.3", "lua5.3" },
}

-- Runs the interpreter from / with the module of build/DIR, stdin from the given lines.
local function run(interp, dir, args, input)
	local cmd = ("cd / && printf '%%s\\n' %s | env LUA_CPATH=%s LUA_PATH=%s %s %s 2>&1"):format(
		q(input), q(root .. "/build/" .. dir .. "/?.so"), q(root .. "/lua/?.lua"), interp, args)
	return support.sh(cmd)
end

describe("a REPL started as the README says", function()
	for _, it_ in ipairs(interpreters) do
		local interp, dir = it_[1], it_[2]
		it(interp .. " -i -l bpf leaves the global bpf set", function()
			if not io.open(root .. "/build/" .. dir .. "/bpf.so", "rb") then
				pending("build/" .. dir .. "/bpf.so not built")
				return
			end
			local ok, out = run(interp, dir, "-i -l bpf", "print('bpf is a ' .. type(bpf), bpf.version)")
			assert(ok, out)
			assert.truthy(out:match("bpf is a table\t0%.1"), out)
			ok, out = run(interp, dir, "-e 'local b = require \"bpf\"; print(\"global:\", bpf)'", "")
			assert(ok, out)
			assert.truthy(out:match("global:\tnil"), out)
		end)
	end

	it("make demo builds the LuaJIT module too", function()
		local ok, out = support.sh("cd " .. q(root) .. " && make -n demo 2>&1")
		assert(ok, out)
		local build = out:match("[^\n]*%-j%d+ core bpf [^\n]*")
		assert.truthy(build, out)
		assert.truthy(build:match("build/lua5%.4/bpf%.so"), build)
		assert.truthy(build:match("build/luajit/bpf%.so"), build)
	end)
end)
