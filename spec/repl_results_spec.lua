-- One way of printing results in every REPL: `lua5.4 -i -l bpf.repl` / `luajit -i -l bpf.repl`
-- and the static binary's REPL (which requires bpf.repl itself) print the same text for the
-- same input: plain tables pretty-printed (sparse integer keys included), handles as their
-- one-line summaries (a map handle too, not its contents), several results tab-separated.
local support = require "support.init"
local netns = require "support.netns"

local STATIC = support.root .. "/build/luabpf"

local INPUT = {
	'obj = bpf.load("bpf/value_types.bpf.o")',
	'obj.maps.many[3] = 30',
	'=obj.maps.many',
	'=obj.maps.many:lookup(99)',
	'={ [1] = "a", [3] = "c", [10] = "j", x = { y = 1 } }',
	'=bpf.programs() ~= nil',
	'=#bpf.pp.format(obj.maps.many)',
	'=obj.maps.many[3], "s", 1.5',
}

-- The result lines an interactive interpreter wrote for INPUT (prompts and banner dropped).
local function results(cmd, luajit_syntax)
	local script = support.tmpname()
	local lines = {}
	for i, l in ipairs(INPUT) do
		lines[i] = luajit_syntax and l or l:gsub("^=", "")
	end
	support.write_file(script, table.concat(lines, "\n") .. "\n")
	local ok, out = support.sh(("cd %s && %s < %s 2>&1"):format(support.quote(support.root), cmd, script))
	os.remove(script)
	assert(ok, out)
	local echoed = {} -- readline echoes the input when it is not a terminal
	for _, l in ipairs(lines) do echoed[l] = true end
	local kept = {}
	for line in out:gmatch("[^\n]+") do
		local prev
		repeat -- prompts: "> ", ">> ", "luabpf> ", several on a line
			prev = line
			line = line:gsub("^luabpf>+ ?", ""):gsub("^>+ ?", "")
		until line == prev
		line = line:gsub("fd %d+", "fd N") -- fd numbers differ between processes
		if line ~= "" and not echoed[line] and not line:match("^Lua") and not line:match("^JIT:") then
			kept[#kept + 1] = line
		end
	end
	return kept
end

describe("REPL results", function()
	local stock

	setup(function()
		local interp = netns.interpreter()
		stock = results(interp .. " -i -l bpf.repl", interp:match("luajit") ~= nil)
	end)

	it("print tables pretty, maps as their summary, several results tab-separated", function()
		assert.matches("^bpf%.map%(many, hash, key 4 __u32, value 4 __u32, max 4096, 1 entries, fd N%)$", stock[1])
		assert.equal("nil\tlookup on map 'many' failed: No such file or directory\t2", stock[2])
		assert.equal('{ "a", [3] = "c", [10] = "j", x = { y = 1 } }', stock[3])
		assert.equal("true", stock[4])
		-- bpf.pp itself still shows a map's contents
		assert.equal(tostring(#"{ [3] = 30 }"), stock[5])
		assert.equal("30\ts\t1.5", stock[6])
	end)

	it("are the same in the static binary's REPL", function()
		if not io.open(STATIC) then
			pending("build/luabpf is not built (make test builds it)")
			return
		end
		assert.same(stock, results(STATIC, false))
	end)
end)

describe("bpf.pp", function()
	it("keeps every key of sparse integer tables (the text reads back as the same table)", function()
		local bpf = require "bpf"
		local load_text = loadstring or load
		math.randomseed(14)
		for _ = 1, 500 do
			local t = {}
			for i = 1, math.random(1, 12) do t[math.random(-2, 20)] = i end
			if math.random() < 0.3 then t[#t + 1] = "x" end
			local text = bpf.pp.format(t, { width = 10000 })
			local back = assert(load_text("return " .. text))()
			for k, v in pairs(t) do assert.equal(v, back[k], text) end
			for k, v in pairs(back) do assert.equal(t[k], v, text) end
		end
	end)
end)

