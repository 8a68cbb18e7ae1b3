-- Replays every input kept under fuzz/regressions/<target>/ (crafted for issue 11's crash
-- classes by fuzz/craft.lua, or found by the fuzz targets of fuzz/) through the Lua entry point
-- that reaches the same parser: each must end in a clean answer (a handle, or nil plus a
-- message), never a crash, a hang or a Lua error from inside the binding. Under
-- `make check-asan` the same run proves they neither touch memory they do not own nor leak.
local bpf = require "bpf"
local support = require "support.init"

local DIR = support.root .. "/fuzz/regressions"

local function files(target)
	local ok, out = support.sh("ls " .. support.quote(DIR .. "/" .. target) .. " 2>/dev/null")
	local list = {}
	for name in (ok and out or ""):gmatch("[^\n]+") do
		list[#list + 1] = name
	end
	return list
end

-- A clean failure: nil, a non-empty message (and an errno when the system said no).
local function assert_clean_failure(what, value, message)
	assert.is_nil(value, what)
	assert.equal("string", type(message), what)
	assert.truthy(#message > 0, what)
end

-- Every global's value (Lua 5.4 and check-asan: the proxy's __pairs; LuaJIT's pairs ignores
-- __pairs and sees none, so there the loop reads nothing).
local function read_globals(obj)
	local n = 0
	for name in pairs(obj.globals) do
		n = n + 1
		assert.equal("string", type(name))
	end
	return n
end

-- Opens the object; if that works, reads its globals, walks its BTF and tries to load it.
local function replay_object(name, bytes)
	local obj, err = bpf.open(bytes, { name = "fuzz_" .. name:gsub("%W", "_") })
	if not obj then
		assert_clean_failure(name, obj, err)
		return "refused at open: " .. err
	end
	read_globals(obj)
	local btf = bpf.btf.from_string(bytes) -- the object's .BTF, read as an ELF here
	assert.is_nil(btf, "an ELF image is not raw BTF")
	local ok, lerr = obj:load()
	if not ok then
		assert_clean_failure(name, ok, lerr)
	end
	obj:close()
	return ok and "loaded" or ("refused at load: " .. lerr)
end

-- Parses the BTF; if that works, writes every type and the whole header as C.
local function replay_btf(name, bytes)
	local btf, err = bpf.btf.from_string(bytes)
	if not btf then
		assert_clean_failure(name, btf, err)
		return "refused: " .. err
	end
	local started = os.clock()
	for id = 1, btf:count() - 1 do
		assert.equal("string", type(btf:c(id)))
	end
	local text = btf:dump_c()
	assert.truthy(text == nil or type(text) == "string")
	-- Bounded work, not a timing assertion on a fast path: the bug classes here took hours.
	assert.truthy(os.clock() - started < 30, name .. " took " .. (os.clock() - started) .. " s")
	btf:close()
	return "parsed"
end

-- BTF inside an ELF: bpf.btf.open reads the file's .BTF (and .BTF.ext).
local function replay_btf_elf(name, bytes)
	local path = support.tmpname()
	support.write_file(path, bytes)
	local btf, err = bpf.btf.open(path)
	os.remove(path)
	if not btf then
		assert_clean_failure(name, btf, err)
		return "refused: " .. err
	end
	for id = 1, btf:count() - 1 do
		btf:c(id)
	end
	btf:close()
	return "parsed"
end

local function replay_usdt_args(name, bytes)
	local args, err = bpf.usdt_args(bytes)
	if not args then
		assert_clean_failure(name, args, err)
		return "refused: " .. err
	end
	assert.equal("table", type(args))
	return "parsed"
end

local function replay_usdt_notes(name, bytes)
	local path = support.tmpname()
	support.write_file(path, bytes)
	local sites, err = bpf.usdt_probes(path, "lbpf_fixture", "tick")
	os.remove(path)
	if not sites then
		assert_clean_failure(name, sites, err)
		return "refused: " .. err
	end
	for _, site in ipairs(sites) do
		bpf.usdt_args(site.args)
	end
	return #sites .. " sites"
end

local replay = {
	object = replay_object,
	btf = replay_btf,
	btf_elf = replay_btf_elf,
	usdt_args = replay_usdt_args,
	usdt_notes = replay_usdt_notes,
}

-- Parsers written in Lua: every "name:module:function" of mk/fuzz.mk's LUA_FUZZ_TARGETS is
-- replayed as its fuzz target runs it, require(module)[function](bytes): an error is a clean
-- answer, anything else too; only a crash or a hang would be a finding.
local lua_targets = {}
for line in support.read_file(support.root .. "/mk/fuzz.mk"):gmatch("[^\n]+") do
	local name, module, fn = line:match("^%s+([%w_]+):([%w_.]+):([%w_]+)%s*\\?$")
	if name then
		lua_targets[#lua_targets + 1] = name
		replay[name] = function(_, bytes)
			local ok, err = pcall(require(module)[fn], bytes)
			return ok and "answered" or ("refused: " .. tostring(err))
		end
	end
end

describe("fuzz regressions", function()
	it("has a Lua entry point for every target directory that holds inputs", function()
		local ok, out = support.sh("ls " .. support.quote(DIR))
		assert.truthy(ok)
		for target in out:gmatch("[^\n]+") do
			if #files(target) > 0 then
				assert.is_function(replay[target], "no replay for fuzz/regressions/" .. target)
			end
		end
	end)

	it("knows the Lua fuzz targets of mk/fuzz.mk", function()
		assert.truthy(#lua_targets >= 1)
	end)

	local targets = { "object", "btf", "btf_elf", "usdt_args", "usdt_notes" }
	for _, name in ipairs(lua_targets) do targets[#targets + 1] = name end
	for _, target in ipairs(targets) do
		for _, name in ipairs(files(target)) do
			it(("%s/%s ends in a clean answer"):format(target, name), function()
				local bytes = support.read_file(DIR .. "/" .. target .. "/" .. name)
				local outcome = replay[target](name, bytes)
				assert.equal("string", type(outcome))
			end)
		end
	end
end)

describe("the crafted crash classes of issue 11", function()
	local function open(name)
		return bpf.open(support.read_file(DIR .. "/object/" .. name))
	end

	it("refuse a .BTF or .BTF.ext section without contents (NOBITS)", function()
		local obj, err = open("nobits_BTF.o")
		assert_clean_failure("nobits .BTF", obj, err)
		assert.matches("%.BTF.*NOBITS", err)
		obj, err = open("nobits_BTF_ext.o")
		assert_clean_failure("nobits .BTF.ext", obj, err)
		assert.matches("%.BTF%.ext.*NOBITS", err)
	end)

	it("take two REL sections of one code section together", function()
		local obj = assert(open("two_rel_sections.o"))
		-- The tracepoint lost its relocations (its REL section now names the socket
		-- section): the kernel refuses its unrelocated 64-bit loads, cleanly.
		local ok, err = obj:load()
		assert_clean_failure("load", ok, err)
		obj:close()
	end)

	it("refuse a global whose offset + size wraps around 64 bits", function()
		local obj, err = open("global_size_wraps.o")
		assert_clean_failure("wrapping global", obj, err)
		assert.matches("global 'greeting' lies outside its section", err, 1, true)
	end)

	it("refuse kconfig externs whose layout would wrap 32 bits", function()
		local obj, err = open("kconfig_size_wraps.o")
		assert_clean_failure("wrapping kconfig", obj, err)
		assert.matches("kconfig extern 'CONFIG_LBPF_HUGE_A'", err, 1, true)
	end)

	it("refuse a call whose imm + 1 overflows", function()
		local obj, err = open("call_imm_int_max.o")
		assert_clean_failure("call imm", obj, err)
		assert.matches("call target outside section", err, 1, true)
	end)

	it("refuse an anonymous FWD that claims members", function()
		local btf, err = bpf.btf.from_string(support.read_file(DIR .. "/btf/anon_fwd_with_members.btf"))
		assert_clean_failure("fwd", btf, err)
		assert.matches("fwd has 200 members", err, 1, true)
	end)

	it("write a struct that contains itself three times as C, at once", function()
		local btf = assert(bpf.btf.from_string(support.read_file(DIR .. "/btf/struct_contains_itself.btf")))
		local started = os.clock()
		assert.matches("struct s", btf:c(1), 1, true)
		assert.matches("struct s {", btf:dump_c(), 1, true)
		assert.truthy(os.clock() - started < 5)
		btf:close()
	end)
end)
