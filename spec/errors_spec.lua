-- Bad input never crashes and always says what went wrong: broken and foreign ELF files, a
-- relocation against a symbol nobody defines, a program the verifier rejects, wrong Lua argument
-- types, and handles used after close.
local bpf = require "bpf"
local support = require "support.init"

local MULTI = support.obj("multi")
local ENOENT, EACCES = 2, 13

-- A failed call must return nil, a non-empty message and an errno.
local function failure(ok, msg, errno)
	assert.is_nil(ok)
	assert.is_string(msg)
	assert.is_true(#msg > 0)
	assert.is_number(errno)
	assert.is_true(errno > 0)
	return msg, errno
end

-- bpf.open then load; returns the first failure's message and errno.
local function open_and_load(src)
	local obj, msg, errno = bpf.open(src)
	if not obj then return failure(obj, msg, errno) end
	local ok
	ok, msg, errno = obj:load()
	obj:close()
	return failure(ok, msg, errno)
end

describe("bad object files", function()
	local tmp

	after_each(function()
		if tmp then os.remove(tmp) end
		tmp = nil
	end)

	it("a missing file: the message names the path", function()
		local msg, errno = failure(bpf.open("/nonexistent/dir/prog.bpf.o"))
		assert.matches("/nonexistent/dir/prog.bpf.o", msg, 1, true)
		assert.equal(ENOENT, errno)
	end)

	it("a truncated ELF file", function()
		tmp = support.tmpname()
		support.write_file(tmp, support.read_file(MULTI):sub(1, 200))
		local msg = open_and_load(tmp)
		assert.matches(tmp, msg, 1, true)
		assert.matches("ELF", msg)
	end)

	it("a truncated ELF image in memory, cut at many places", function()
		local bytes = support.read_file(MULTI)
		for _, len in ipairs { 4, 16, 63, 64, 65, 512, math.floor(#bytes / 2), #bytes - 1 } do
			local obj, msg, errno = bpf.open(bytes:sub(1, len))
			if obj then
				-- A cut that leaves every header intact may only show at load time.
				msg, errno = open_and_load(bytes:sub(1, len))
				obj:close()
			end
			failure(nil, msg, errno)
			assert.matches("ELF", msg)
		end
	end)

	it("an ELF file that is not a BPF object (/bin/true)", function()
		local msg = failure(bpf.open("/bin/true"))
		assert.matches("/bin/true", msg, 1, true)
		assert.matches("BPF", msg)
	end)

	it("a file that is not ELF at all", function()
		tmp = support.tmpname()
		support.write_file(tmp, "just some text, not an object\n")
		local msg = failure(bpf.open(tmp))
		assert.matches("ELF", msg)
	end)

	it("a relocation against a symbol nobody defines", function()
		local msg = open_and_load(support.obj("missing_sym"))
		assert.matches("nowhere_defined", msg)
	end)
end)

describe("verifier rejection", function()
	it("names the program and quotes the verifier", function()
		local obj = assert(bpf.open(support.obj("bad_verifier")))
		local ok, msg, errno = obj:load()
		failure(ok, msg, errno)
		assert.equal(EACCES, errno)
		assert.matches("unchecked_lookup", msg)
		-- the verifier's own words about the decisive instruction
		assert.matches("map_value_or_null", msg)
		obj:close()
	end)

	it("leaves the object closable and the module usable", function()
		local obj = assert(bpf.open(support.obj("bad_verifier")))
		assert.is_nil((obj:load()))
		obj:close()
		local good = assert(bpf.load(MULTI))
		assert.equal(16, assert(good.programs.sum_calls:test_run { data = support.packet() }).retval)
		good:close()
	end)
end)

describe("wrong Lua arguments raise errors", function()
	local obj

	before_each(function()
		obj = assert(bpf.load(MULTI))
	end)

	after_each(function()
		obj:close()
	end)

	it("bpf.open with a non-string source or non-table options", function()
		assert.has_error(function() bpf.open({}) end)
		assert.has_error(function() bpf.open() end)
		local ok, err = pcall(bpf.open, MULTI, "options")
		assert.is_false(ok)
		assert.matches("table expected", tostring(err))
		ok, err = pcall(bpf.open, MULTI, { globals = "x" })
		assert.is_false(ok)
		assert.matches("globals", tostring(err))
	end)

	it("methods called on the wrong kind of value", function()
		local prog = obj.programs.sum_calls
		local ok, err = pcall(prog.test_run, "not a program", { data = support.packet() })
		assert.is_false(ok)
		assert.matches("program", tostring(err))
		ok, err = pcall(obj.load, 42)
		assert.is_false(ok)
		assert.matches("object", tostring(err))
	end)

	it("test_run with a bad options table", function()
		local prog = obj.programs.sum_calls
		assert.has_error(function() prog:test_run("data") end)
		local ok, err = pcall(prog.test_run, prog, { data = {} })
		assert.is_false(ok)
		assert.matches("data", tostring(err))
	end)

	it("attach_tracepoint with non-string names", function()
		assert.has_error(function() obj.programs.sum_calls:attach_tracepoint({}, "x") end)
		assert.has_error(function() obj.programs.sum_calls:attach_tracepoint("x") end)
	end)

	it("map keys and values of the wrong type", function()
		local m = obj.maps.numbers
		local ok, err = pcall(function() return m[{}] end)
		assert.is_false(ok)
		assert.matches("key", tostring(err))
		ok, err = pcall(function() m[1] = {} end)
		assert.is_false(ok)
		assert.matches("value", tostring(err))
		assert.has_error(function() m[1] = function() end end)
		assert.has_error(function() m:update(1, 2, "sometimes") end)
		ok, err = pcall(function() m[string.rep("x", 100)] = 1 end) -- a string key for a u32
		assert.is_false(ok)
		assert.matches("key: integer expected, got string", tostring(err))
		ok, err = pcall(function() m:update(string.rep("x", 100), 1, nil, { raw = true }) end)
		assert.is_false(ok)
		assert.matches("4 bytes", tostring(err))
	end)

	it("a .rodata global set to a value of the wrong type", function()
		local o = assert(bpf.open(MULTI))
		assert.has_error(function() o.globals.loop_count = "ten" end)
		assert.equal(10, o.globals.loop_count)
		o:close()
	end)
end)

describe("handles used after close", function()
	it("raise a clear error instead of crashing", function()
		local obj = assert(bpf.load(MULTI))
		local prog, map = obj.programs.sum_calls, obj.maps.numbers
		obj:close()
		local function closed(f, ...)
			local ok, err = pcall(f, ...)
			assert.is_false(ok)
			assert.matches("closed", tostring(err))
		end
		closed(function() return obj.programs end)
		closed(function() return obj.maps.numbers end)
		closed(function() return obj.globals.map_sum end)
		closed(function() return obj:load() end)
		closed(function() return prog:test_run { data = support.packet() } end)
		closed(function() return prog:attach() end)
		closed(function() return map[1] end)
		closed(function() map[1] = 2 end)
		closed(function() return map:next_key(nil) end)
		closed(function() return map:pairs() end)
		-- closing again is fine, and tostring still works
		obj:close()
		assert.is_string(tostring(obj))
		assert.is_string(tostring(prog))
	end)

	it("a link detached and closed refuses further use but detach stays harmless", function()
		local obj = assert(bpf.load(support.obj("syscount")))
		local link = assert(obj.programs.count_raw:attach())
		link:close()
		link:detach()
		assert.is_string(tostring(link))
		obj:close()
	end)

	it("closing the object first leaves its links safe to drop", function()
		local obj = assert(bpf.load(support.obj("syscount")))
		local link = assert(obj.programs.count_raw:attach())
		obj:close()
		link:detach()
		link = nil -- luacheck: ignore
		collectgarbage()
		collectgarbage()
	end)
end)
