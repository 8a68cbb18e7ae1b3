-- bpf.open(path_or_bytes) decides by an explicit rule (issue 14): a string starting with the ELF
-- magic is an ELF image, anything else a path; opts.bytes = true says "these are bytes". Bytes
-- that are no ELF object say "not an ELF object" and are never echoed back as a file name.
local bpf = require "bpf"
local support = require "support.init"

local image = support.read_file(support.obj("syscount"))

describe("bpf.open: path or bytes", function()
	it("opens an ELF image given as a string, with or without opts.bytes", function()
		local obj = assert(bpf.open(image))
		assert.truthy(tostring(obj):match("2 programs"))
		obj:close()
		obj = assert(bpf.open(image, { bytes = true, name = "from_bytes" }))
		assert.truthy(tostring(obj):match("from_bytes"))
		obj:close()
	end)

	it("says 'not an ELF object' for bytes without the magic, without echoing them", function()
		local junk = "\1\2\3\255binary\0junk"
		for _, call in ipairs({ function() return bpf.open(junk) end,
			function() return bpf.load(junk) end,
			function() return bpf.open("plain text", { bytes = true }) end,
			function() return bpf.open(image:sub(5), { bytes = true }) end }) do
			local obj, err, errno = call()
			assert.is_nil(obj)
			assert.truthy(err:match("^not an ELF object: %d+ bytes without the ELF magic"), err)
			assert.falsy(err:find("binary", 1, true), err)
			assert.falsy(err:find("plain text", 1, true), err)
			assert.equal(22, errno)
		end
	end)

	it("treats a string without the magic as a path", function()
		local obj, err, errno = bpf.open("/nonexistent/x.bpf.o")
		assert.is_nil(obj)
		assert.truthy(err:match("/nonexistent/x%.bpf%.o"), err)
		assert.equal(2, errno)
		obj, err = bpf.open("/etc/hostname")
		assert.is_nil(obj)
		assert.truthy(err:match("not an ELF"), err)
	end)

	it("refuses a non-boolean opts.bytes", function()
		assert.has_error(function() bpf.open(image, { bytes = 1 }) end,
			"opts.bytes: boolean expected, got number")
	end)
end)
