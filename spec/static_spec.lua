-- build/luabpf (`make static`): one statically linked executable — Lua 5.4, the bpf module and its
-- pure-Lua submodules, libelf, zlib. Copied alone into an empty directory with one BPF object, it
-- runs scripts (with `arg`), -e one-liners and a REPL (through a pipe), with an empty
-- environment, so nothing can come from the build tree.
local support = require "support.init"

local binary = support.root .. "/build/luabpf"

local q = support.quote

describe("the static luabpf binary", function()
	local dir

	-- Runs a command in the directory with an empty environment (PATH only for the shell).
	local function run(cmd)
		return support.sh("cd " .. q(dir) .. " && env -i PATH=/usr/bin:/bin LUA_CPATH=/nonexistent/?.so " ..
			"LUA_PATH=/nonexistent/?.lua " .. cmd .. " 2>&1")
	end

	lazy_setup(function()
		local ok, out = support.sh("mktemp -d /tmp/luabpf-static.XXXXXX")
		assert(ok, out)
		dir = out:gsub("%s+$", "")
		assert(support.sh("cp " .. q(binary) .. " " .. q(support.obj("syscount")) .. " " .. q(dir)))
	end)

	lazy_teardown(function()
		if dir and dir:match("^/tmp/luabpf%-static%.") then os.execute("rm -rf " .. q(dir)) end
	end)

	it("is statically linked", function()
		local _, out = support.sh("ldd " .. q(binary) .. " 2>&1")
		assert.truthy(out:match("not a dynamic executable"), out)
		local _, listing = support.sh("ls -A " .. q(dir))
		assert.are.equal("luabpf\nsyscount.bpf.o\n", listing)
	end)

	it("runs a script with arguments that loads and attaches a program", function()
		support.write_file(dir .. "/count.lua", [[
local bpf = require "bpf"
assert(bpf == _G.bpf, "bpf is also a global")
print("args", arg[0], arg[1], arg[2], select("#", ...))
local obj = assert(bpf.load("syscount.bpf.o", { globals = { target_tgid = 0 } }))
local link = assert(obj.programs.count_raw:attach())
for _ = 1, tonumber(arg[1]) do io.open("/proc/self/stat"):close() end
local hits = obj.globals.raw_hits
link:detach()
print("link", tostring(link))
print("raw_hits", tostring(hits))
obj:close()
]])
		local ok, out = run("./luabpf count.lua 300 two")
		assert(ok, out)
		assert.truthy(out:match("args\tcount%.lua\t300\ttwo\t2\n"), out)
		assert.truthy(out:match("link\tbpf%.link%("), out)
		local hits = tonumber(out:match("raw_hits\t(%d+)"))
		assert.truthy(hits and hits >= 600, out) -- open + close, 300 times
	end)

	it("runs -e one-liners in order, with bpf loaded", function()
		local ok, out = run([[./luabpf -e 'x = bpf.load("syscount.bpf.o")' ]] ..
			[[-e 'print(x.programs.count_syscalls, x.maps.pid_counts ~= nil)']])
		assert(ok, out)
		assert.truthy(out:match("bpf%.program%(count_syscalls"), out)
		assert.truthy(out:match("true"), out)
	end)

	it("carries the API reference: bpf.help describes functions far from the checkout", function()
		local ok, out = run([[./luabpf -e 'bpf.help("bpf.open")' -e 'bpf.help()']])
		assert(ok, out)
		assert.truthy(out:match("^bpf%.open%(path_or_bytes.-\nOpens a BPF ELF object"), out)
		assert.falsy(out:match("no help"), out)
		-- the module's list carries one-line descriptions too
		assert.truthy(out:match("\n  bpf%.load%([^\n]-%S+%s%s+%u[^\n]+"), out)
	end)

	it("reports errors with a non-zero exit status", function()
		local ok, out = run("./luabpf -e 'error(\"boom\")'")
		assert.is_false(ok)
		assert.truthy(out:match("boom"), out)
		ok, out = run("./luabpf missing.lua")
		assert.is_false(ok)
		assert.truthy(out:match("cannot open missing%.lua"), out)
		ok, out = run("./luabpf -x")
		assert.is_false(ok)
		assert.truthy(out:match("unknown option"), out)
	end)

	it("opens a REPL with bpf preloaded when given no script", function()
		local input = table.concat({
			"obj = bpf.load('syscount.bpf.o')",
			"obj",
			"obj.programs.count_raw",
			"link = obj.programs.count_raw:attach()",
			"for i = 1, 3 do",
			"  io.open('/proc/self/stat'):close()",
			"end",
			"obj.globals.raw_hits > 0",
			"nosuch.field",
			"obj.maps.pid_comm",
			"{ answer = 42 }",
		}, "\n") .. "\n"
		support.write_file(dir .. "/input.txt", input)
		local ok, out = run("./luabpf < input.txt")
		assert(ok, out)
		assert.truthy(out:match("luabpf> "), out)
		assert.truthy(out:match("bpf%.object%(syscount, loaded"), out)
		assert.truthy(out:match("bpf%.program%(count_raw"), out)
		assert.truthy(out:match(">> "), out) -- the for loop went on over three lines
		assert.truthy(out:match("\ntrue\n") or out:match("> true\n"), out)
		assert.truthy(out:match("attempt to index a nil value"), out) -- an error does not end it
		assert.truthy(out:match("answer = 42"), out)
	end)

	it("writes a project with `luabpf new`", function()
		local ok, out = run("./luabpf new probe_one proj")
		assert(ok, out)
		for _, f in ipairs { "Makefile", "probe_one.bpf.c", "probe_one.lua", "include/bpf_helpers.h",
			"include/bpf_helper_defs.h" } do
			local h = io.open(dir .. "/proj/" .. f, "rb")
			assert.truthy(h, f .. " missing")
			h:close()
		end
		ok, out = run("./luabpf new 9bad")
		assert.is_false(ok)
		assert.truthy(out:match("not a valid project name"), out)
		ok, out = run("./luabpf new probe_one proj")
		assert.is_false(ok)
		assert.truthy(out:match("exists already"), out)
	end)

	-- The binary's own Lua allocator (tools/luabpf_alloc.c: size classes below 513 bytes, malloc
	-- above, blocks moving between the two as they grow and shrink).
	it("keeps every value intact through its allocator under churn", function()
		support.write_file(dir .. "/churn.lua", [[
local kept, sum = {}, 0
for round = 1, 40 do
	for i = 1, 2000 do
		local n = (i * 7919 + round * 104729) % 1100 + 1 -- string sizes around the 512-byte line
		local s = string.rep(string.char(65 + i % 26), n)
		local t = {}
		for k = 1, i % 40 do t[k] = k * round end -- tables whose array parts grow
		kept[(i + round) % 3000 + 1] = { s = s, t = t, n = n, c = i % 26 }
	end
	collectgarbage()
end
for _, e in pairs(kept) do
	assert(#e.s == e.n and e.s == string.rep(string.char(65 + e.c), e.n))
	for k = 1, #e.t do sum = sum + e.t[k] end
end
local big = {}
for i = 1, 100000 do big[i] = i end -- one block that grows from small to large
for i = 100000, 2, -1 do big[i] = nil end
collectgarbage()
print("ok", sum > 0, #big, collectgarbage("count") < 64 * 1024)
]])
		local ok, out = run("./luabpf churn.lua")
		assert(ok, out)
		assert.are.equal("ok\ttrue\t1\ttrue\n", out)
	end)
end)
