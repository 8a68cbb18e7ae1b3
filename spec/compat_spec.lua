-- Objects written for other loaders load unchanged: bpf/compat_libbpf.bpf.c is built against
-- libbpf's BPF-side headers (Debian libbpf-dev), not against ours.
local bpf = require "bpf"
local support = require "support.init"

local COMPAT = support.obj("compat_libbpf")

describe("an object built with libbpf's headers", function()
	it("loads and runs a socket program writing a BTF-defined array map", function()
		local obj = assert(bpf.load(COMPAT))
		local r = assert(obj.programs.store_port:test_run { data = support.packet() })
		assert.equal(0, r.retval)
		assert.equal(0x901F, obj.maps.port[0]) -- bpf_htons(8080) as a little-endian u32
		obj:close()
	end)

	it("attaches its tracepoint program and counts this process", function()
		local pid = support.getpid()
		local obj = assert(bpf.load(COMPAT, { globals = { watched_tgid = pid } }))
		local link = assert(obj.programs.count_enters:attach())
		local counted = support.wait_until(function()
			return (obj.maps.enters[pid] or 0) > 0 and obj.globals.seen > 0
		end, 5, function() support.do_syscalls(5) end)
		link:detach()
		assert.truthy(counted)
		assert.is_true(obj.globals.seen >= obj.maps.enters[pid])
		obj:close()
	end)
end)

describe("our generated helper declarations", function()
	it("give every helper of the UAPI header the id of its BPF_FUNC_ constant", function()
		local defs = support.root .. "/build/gen/bpf_helper_defs.h"
		local text = support.read_file(defs)
		local checks, n = { "#include <linux/bpf.h>" }, 0
		for name, id in text:gmatch("%(%* const bpf_([%w_]+)%)%b() = %(void %*%) (%d+);") do
			n = n + 1
			checks[#checks + 1] = string.format(
				"_Static_assert(BPF_FUNC_%s == %s, \"bpf_%s\");", name, id, name)
		end
		assert.is_true(n > 100)
		local src = support.tmpname() .. ".c"
		support.write_file(src, table.concat(checks, "\n") .. "\n")
		local ok, out = support.sh("cc -fsyntax-only " .. src .. " 2>&1")
		os.remove(src)
		assert.is_true(ok, out)
		-- every FN(...) of the UAPI list except "unspec" is declared
		local uapi = support.read_file("/usr/include/linux/bpf.h")
		local list = uapi:match("#define __BPF_FUNC_MAPPER%(FN%)(.-)\n\n")
		if list then -- headers before 6.2 (newer ones list the ids explicitly)
			local listed = 0
			for _ in list:gmatch("FN%(") do listed = listed + 1 end
			assert.equal(listed - 1, n)
		end
	end)
end)
