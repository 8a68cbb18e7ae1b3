-- The documentation runs (issue 14): every code block of README.md and doc/API.md marked
-- runnable — a fence opening with "```sh run" or "```lua run" — is run as written, in order, so
-- that the docs cannot rot. Blocks run in a scratch directory holding links to the checkout's
-- top-level entries (relative paths work; files the commands write stay out of the checkout).
-- Shell blocks run with bash -e; Lua blocks with the interpreter of this run (lua5.4 or
-- luajit), the module on the path as the README's quick start puts it.
local support = require "support.init"

local root, q = support.root, support.quote
local interp = rawget(_G, "jit") and "luajit" or "lua5.4"
local variant_dir = rawget(_G, "jit") and "luajit" or "lua5.4"

-- { lang = "sh"|"lua", code = text, line = n } for every runnable block, in order.
local function runnable_blocks(path)
	local blocks, n, current = {}, 0, nil
	for line in (support.read_file(path) .. "\n"):gmatch("([^\n]*)\n") do
		n = n + 1
		if current then
			if line:match("^```%s*$") then
				blocks[#blocks + 1] = current
				current = nil
			else
				current.code = current.code .. line .. "\n"
			end
		else
			local lang, marks = line:match("^```(%w+)%s*(.-)%s*$")
			if lang and (" " .. marks .. " "):find(" run ", 1, true) then
				current = { lang = lang, code = "", line = n }
			end
		end
	end
	assert(not current, path .. ": a runnable block is not closed")
	return blocks
end

local function scratch()
	local ok, dir = support.sh("mktemp -d /tmp/firsthour_docs.XXXXXX")
	assert(ok, dir)
	dir = dir:gsub("%s+$", "")
	local _, names = support.sh("ls -A " .. q(root))
	for name in names:gmatch("[^\n]+") do
		if name ~= ".git" then
			assert(support.sh("ln -s " .. q(root .. "/" .. name) .. " " .. q(dir .. "/" .. name)))
		end
	end
	return dir
end

for _, doc in ipairs({ { "README.md", 5 }, { "doc/API.md", 2 } }) do
	local name, at_least = doc[1], doc[2]
	local blocks = runnable_blocks(root .. "/" .. name)

	describe(name .. ": runnable blocks", function()
		local dir

		lazy_setup(function() dir = scratch() end)
		lazy_teardown(function()
			if dir and dir:match("^/tmp/firsthour_docs%.") then os.execute("rm -rf " .. q(dir)) end
		end)

		it("has its runnable blocks (at least " .. at_least .. ")", function()
			assert.is_true(#blocks >= at_least, name .. " has " .. #blocks .. " runnable blocks")
		end)

		for _, b in ipairs(blocks) do
			it(("runs the %s block at line %d"):format(b.lang, b.line), function()
				local file = dir .. "/block_" .. b.line .. (b.lang == "lua" and ".lua" or ".sh")
				support.write_file(file, b.code)
				local cmd
				if b.lang == "sh" then
					cmd = "cd " .. q(dir) .. " && env -u LUA_CPATH -u LUA_PATH bash -e " .. q(file)
				elseif b.lang == "lua" then
					cmd = ("cd %s && env LUA_CPATH=%s LUA_PATH=%s %s %s"):format(q(dir),
						q(root .. "/build/" .. variant_dir .. "/?.so;;"), q(root .. "/lua/?.lua;;"),
						interp, q(file))
				else
					error(name .. ":" .. b.line .. ": cannot run a " .. b.lang .. " block")
				end
				local ok, out = support.sh(cmd .. " 2>&1")
				assert(ok, name .. ":" .. b.line .. " failed:\n" .. b.code .. "\n--- output:\n" .. out)
			end)
		end
	end)
end
