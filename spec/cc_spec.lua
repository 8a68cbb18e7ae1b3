-- One's own BPF program (issue 14): compiled with the clang command the README gives, with
-- `make cc` and with the static binary's `luabpf cc` (built-in headers, a vmlinux.h written
-- from the kernel's BTF); its ring buffer's record type declared with BPF_RINGBUF_RECORD only,
-- so that map:reader() with no type decodes typed records (spec/fixtures/record.bpf.c).
local bpf = require "bpf"
local support = require "support.init"

local root, q = support.root, support.quote
local fixture = root .. "/spec/fixtures/record.bpf.c"

-- The clang command of the README's "sh run" block (continuation lines joined).
local function documented_command(doc)
	local text = support.read_file(root .. "/" .. doc)
	for block in text:gmatch("```sh run\n(.-)```") do
		local joined = block:gsub("\\\n%s*", "")
		local cmd = joined:match("(clang %-target bpf[^\n]*)")
		if cmd then return cmd end
	end
end

local function check_records(path)
	local obj = assert(bpf.load(path))
	local reader = assert(obj.maps.samples:reader())
	obj.globals.count = 5
	assert(obj.programs.emit:test_run { ["repeat"] = 0 })
	local got = {}
	assert.equal(5, reader:consume(function(s) got[#got + 1] = s end))
	for i, s in ipairs(got) do
		assert.is_table(s, "a decoded record, not bytes")
		assert.equal(i - 1, s.seq)
		assert.equal(-(i - 1), s.delta)
		assert.equal(support.getpid(), s.pid)
		assert.is_string(s.comm)
	end
	reader:close()
	-- reuse = true works with the declared type as with an explicit one; raw still gives bytes
	local reuse = assert(obj.maps.samples:reader { reuse = true })
	local raw = assert(obj.maps.samples:reader { raw = true })
	obj.globals.count = 2
	assert(obj.programs.emit:test_run { ["repeat"] = 0 })
	local seqs = {}
	reuse:consume(function(s) seqs[#seqs + 1] = s.seq end)
	assert.same({ 0, 1 }, seqs)
	obj.globals.count = 1
	assert(obj.programs.emit:test_run { ["repeat"] = 0 })
	raw:consume(function(b) assert.is_string(b); assert.equal(32, #b) end)
	obj:close()
end

describe("compiling one's own program", function()
	local tmp

	lazy_setup(function()
		local ok, out = support.sh("mktemp -d /tmp/firsthour_cc.XXXXXX")
		assert(ok, out)
		tmp = out:gsub("%s+$", "")
		assert(support.sh("make -s -C " .. q(root) .. " bpf-headers"))
	end)

	lazy_teardown(function()
		if tmp and tmp:match("^/tmp/firsthour_cc%.") then os.execute("rm -rf " .. q(tmp)) end
	end)

	it("with the clang command the README and doc/API.md give", function()
		local cmd = documented_command("README.md")
		assert.truthy(cmd, "no clang command in a runnable block of README.md")
		local api = documented_command("doc/API.md")
		assert.truthy(api, "no clang command in a runnable block of doc/API.md")
		-- the same command, only the file names differ
		local function shape(c) return (c:gsub("%-c %S+ %-o %S+", "-c SRC -o OUT")) end
		assert.equal(shape(cmd), shape(api))
		local out_path = tmp .. "/documented.bpf.o"
		cmd = shape(cmd):gsub("SRC", q(fixture)):gsub("OUT", q(out_path))
		local ok, out = support.sh("cd " .. q(root) .. " && " .. cmd .. " 2>&1")
		assert(ok, cmd .. "\n" .. out)
		check_records(out_path)
	end)

	it("with make cc", function()
		local out_path = tmp .. "/make.bpf.o"
		local ok, out = support.sh("make -s -C " .. q(root) .. " cc SRC=" .. q(fixture) .. " OUT=" ..
			q(out_path) .. " 2>&1")
		assert(ok, out)
		check_records(out_path)
	end)

	it("the declaration's section loads with libbpf too, as no map", function()
		local dump = root .. "/build/tools/parity_dump"
		if not io.open(dump, "rb") then pending("build/tools/parity_dump not built") return end
		local out_path = tmp .. "/libbpf.bpf.o"
		assert(support.sh("make -s -C " .. q(root) .. " cc SRC=" .. q(fixture) .. " OUT=" .. q(out_path)))
		local ok, out = support.sh(q(dump) .. " libbpf " .. q(out_path) .. " 2>&1")
		assert(ok, out)
		assert.truthy(out:match("\nmap samples\n"), out)
		assert.falsy(out:match("luabpf"), out)
	end)

	it("with luabpf cc, far from the checkout", function()
		local dir = tmp .. "/mine"
		assert(support.sh("mkdir -p " .. q(dir) .. " && cp " .. q(fixture) .. " " .. q(dir) .. "/mine.bpf.c"))
		local ok, out = support.sh("cd " .. q(dir) .. " && env -i PATH=/usr/bin:/bin " ..
			q(root .. "/build/luabpf") .. " cc mine.bpf.c 2>&1")
		assert(ok, out)
		assert.truthy(out:match("clang %-target bpf %-O2 %-g"), out)
		check_records(dir .. "/mine.bpf.o")
		-- clang's failure is the command's failure
		support.write_file(dir .. "/bad.bpf.c", "this is not C\n")
		ok, out = support.sh("cd " .. q(dir) .. " && " .. q(root .. "/build/luabpf") .. " cc bad.bpf.c 2>&1")
		assert.is_false(ok)
		assert.truthy(out:match("error"), out)
		local _, left = support.sh("ls -d /tmp/luabpf-cc.* 2>/dev/null | wc -l")
		assert.equal("0", (left:gsub("%s+", "")), "temporary directories left behind")
	end)

	it("without a declaration readers give bytes, and view/reuse need a type", function()
		local obj = assert(bpf.load(support.obj("events_ringbuf")))
		local r = assert(obj.maps.events:reader())
		obj.globals.count = 1
		assert(obj.programs.emit:test_run { ["repeat"] = 0 })
		r:consume(function(b) assert.is_string(b) end)
		assert.has_error(function() obj.maps.events:reader { view = true } end,
			"reader: view = true needs type (or a record type declared with BPF_RINGBUF_RECORD for map 'events')")
		obj:close()
	end)
end)
