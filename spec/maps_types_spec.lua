-- Every map type a script can use, against the real kernel: values a program wrote are read
-- back decoded in Lua, values Lua wrote are seen by a program (syscall, xdp and socket programs
-- run with test_run; a tracepoint program for stack traces and task storage).
local bpf = require "bpf"
local support = require "support.init"

local TYPES = support.obj("maps_types")
local TRACE = support.obj("maps_trace")
local NET = support.obj("maps_net")
local PKT = support.packet()
local NCPUS = bpf.num_possible_cpus()

local function u64s(a, b, c, d)
	return support.u64(a or 0) .. support.u64(b or 0) .. support.u64(c or 0) .. support.u64(d or 0)
end

-- struct args {u64 a, b, c, d} back from a syscall program's context.
local function args_of(ctx)
	local out = {}
	for i = 0, 3 do
		local n = 0
		for j = 8, 1, -1 do n = n * 256 + ctx:byte(i * 8 + j) end
		out[i + 1] = n
	end
	return out
end

local function sum(t)
	local s = 0
	for _, v in ipairs(t) do s = s + v end
	return s
end

-- An Ethernet + IPv4 (or IPv6) header with the given source address bytes.
local function ip_packet(src)
	if #src == 4 then
		return string.rep("\0", 12) .. "\8\0" .. "\69\0\0\20" .. string.rep("\0", 8) .. src
			.. "\0\0\0\0" .. string.rep("\0", 20)
	end
	return string.rep("\0", 12) .. "\134\221" .. "\96\0\0\0\0\0\59\64" .. src .. string.rep("\0", 16)
		.. string.rep("\0", 8)
end

local XDP_DROP, XDP_PASS = 1, 2

describe("map types", function()
	local obj, maps, progs

	before_each(function()
		obj = assert(bpf.load(TYPES))
		maps, progs = obj.maps, obj.programs
	end)
	after_each(function() obj:close() end)

	local function run_syscall(prog, a, b)
		local r = assert(progs[prog]:test_run { ctx = u64s(a, b) })
		return args_of(r.ctx), r.retval
	end

	describe("hash, array, per-CPU and LRU maps", function()
		it("decode what a program wrote", function()
			local args = run_syscall("write_basic")
			local cpu = args[1]
			assert.same({ count = 41, last = 7, tag = "bpf" }, maps.t_hash[1])
			assert.same({ count = 42, last = 7, tag = "bpf" }, maps.t_array[1])
			assert.same({ count = 43, last = 7, tag = "bpf" }, maps.t_lru_hash[1])
			for name, v in pairs { t_percpu_hash = 1000, t_percpu_array = 1001, t_lru_percpu_hash = 1002 } do
				local per_cpu = maps[name][1]
				assert.equal(NCPUS, #per_cpu, name)
				assert.equal(v, per_cpu[cpu + 1], name)
				assert.equal(v, sum(per_cpu), name)
			end
		end)

		it("are read by a program after Lua wrote them", function()
			local digest = function(count, last, tag) return count + last * 1000 + tag:byte() * 1000000 end
			maps.t_hash[2] = { count = 5, last = 6, tag = "x" }
			maps.t_array[2] = { count = 8, last = 9, tag = "y" }
			maps.t_lru_hash[2] = { count = 10, last = 11, tag = "z" }
			maps.t_percpu_hash[2] = 70     -- one value, replicated on every CPU
			maps.t_percpu_array[2] = 71
			local each = {}
			for i = 1, NCPUS do each[i] = 72 end
			maps.t_lru_percpu_hash[2] = each -- one value per CPU
			local expected = { digest(5, 6, "x"), digest(8, 9, "y"), digest(10, 11, "z"), 70, 71, 72 }
			for which = 0, 5 do
				local args, rc = run_syscall("read_one", 2, which)
				assert.equal(0, rc)
				assert.equal(expected[which + 1], args[3], "map " .. which)
			end
		end)

		it("delete entries of hash maps but refuse deleting array slots by name", function()
			maps.t_hash[3] = { count = 1 }
			assert.truthy(maps.t_hash:delete(3))
			assert.is_nil(maps.t_hash[3])
			local ok, msg, errno = maps.t_array:delete(1)
			assert.is_nil(ok)
			assert.equal("delete is not supported on an array map ('t_array') (array slots always exist: write a zero value)", msg)
			assert.equal(22, errno)
			assert.has_error(function() maps.t_array[1] = nil end,
				"delete is not supported on an array map ('t_array') (array slots always exist: write a zero value)")
		end)

		it("dump: every entry as two parallel arrays in one call", function()
			for i = 1, 10 do maps.t_hash[i] = { count = i, tag = "t" .. i } end
			local keys, values, n = maps.t_hash:dump()
			assert.equal(10, n)
			assert.equal(10, #keys)
			for i = 1, n do
				assert.same({ count = keys[i], last = 0, tag = "t" .. keys[i] }, values[i])
			end
			local rk, rv = maps.t_hash:dump { raw = true }
			assert.equal(4, #rk[1])
			assert.equal(24, #rv[1])
			assert.has_error(function() maps.t_queue:dump() end)
			assert.is_true(collectgarbage("isrunning"))
		end)

		it("take: lookup-and-delete of a hash entry", function()
			maps.t_hash[4] = { count = 9 }
			assert.equal(9, maps.t_hash:take(4).count)
			assert.is_nil(maps.t_hash[4])
			assert.is_nil(maps.t_hash:take(4))
		end)
	end)

	describe("LPM tries", function()
		it("filter packets by source prefix: an XDP firewall", function()
			local fw = maps.fw_v4
			fw["10.0.0.0/8"] = 1                      -- drop 10/8 ...
			fw["10.1.0.0/16"] = 0                     -- ... except 10.1/16
			fw[{ prefixlen = 32, data = "192.0.2.7" }] = 1
			local function verdict(a, b, c, d)
				return assert(progs.lpm_firewall:test_run { data = ip_packet(string.char(a, b, c, d)) }).retval
			end
			assert.equal(XDP_DROP, verdict(10, 2, 3, 4))
			assert.equal(XDP_PASS, verdict(10, 1, 2, 3))
			assert.equal(XDP_DROP, verdict(192, 0, 2, 7))
			assert.equal(XDP_PASS, verdict(192, 0, 2, 8))
			assert.equal(XDP_PASS, verdict(172, 16, 0, 1))
			-- longest prefix match from Lua as well
			assert.equal(0, fw["10.1.200.200"])
			assert.equal(1, fw["10.200.0.1"])
			assert.is_nil(fw["11.0.0.1"])
		end)

		it("filter IPv6 sources", function()
			maps.fw_v6["2001:db8::/32"] = 1
			local src = "\32\1\13\184" .. string.rep("\0", 11) .. "\1"
			assert.equal(XDP_DROP, assert(progs.lpm_firewall:test_run { data = ip_packet(src) }).retval)
			local other = "\32\1\13\185" .. string.rep("\0", 12)
			assert.equal(XDP_PASS, assert(progs.lpm_firewall:test_run { data = ip_packet(other) }).retval)
			assert.equal(1, maps.fw_v6["2001:db8:1::5"])
		end)

		it("return keys as CIDR strings, including those a program wrote", function()
			maps.fw_v4["10.0.0.0/8"] = 1
			assert(progs.lpm_write:test_run { data = PKT })
			local seen = {}
			for k, v in maps.fw_v4:pairs() do seen[k] = v end
			assert.same({ ["10.0.0.0/8"] = 1, ["192.168.0.0/16"] = 7 }, seen)
		end)

		it("refuse malformed prefixes", function()
			assert.has_error(function() maps.fw_v4["10.0.0.0/33"] = 1 end,
				"key for lpm_trie map 'fw_v4': '10.0.0.0/33' is not an IPv4 address or CIDR prefix")
			assert.has_error(function() maps.fw_v4["2001:db8::/32"] = 1 end)
		end)
	end)

	describe("queues, stacks and bloom filters", function()
		it("pop in FIFO and LIFO order what a program pushed", function()
			assert(progs.qs_push:test_run { data = PKT })
			assert.equal(11, maps.t_queue:peek())
			assert.equal(11, maps.t_queue:pop())
			assert.equal(22, maps.t_queue:pop())
			assert.equal(33, maps.t_stack:pop())
			assert.equal(22, maps.t_stack:peek())
		end)

		it("give a program what Lua pushed", function()
			assert.truthy(maps.t_queue:push(5))
			assert.truthy(maps.t_queue:push(6))
			assert.truthy(maps.t_stack:push(5))
			assert.truthy(maps.t_stack:push(6))
			assert(progs.qs_pop:test_run { data = PKT })
			assert.equal(5, maps.io[4])
			assert.equal(6, maps.io[5])
			assert(progs.qs_pop:test_run { data = PKT })
			assert(progs.qs_pop:test_run { data = PKT })
			assert.equal(0, maps.io[4]) -- empty
			assert.is_nil(maps.t_queue:pop())
			assert.is_nil(maps.t_stack:peek())
		end)

		it("answer contains for what either side added", function()
			assert(progs.qs_push:test_run { data = PKT })
			assert.is_true(maps.t_bloom:contains(7))
			assert.truthy(maps.t_bloom:push(12345))
			maps.io[0] = 12345
			assert(progs.bloom_check:test_run { data = PKT })
			assert.equal(1, maps.io[4])
		end)

		it("name the map type when an operation does not apply", function()
			assert.has_error(function() maps.t_hash:pop() end, "pop is not supported on a hash map ('t_hash')")
			assert.has_error(function() maps.t_bloom:pop() end,
				"pop is not supported on a bloom_filter map ('t_bloom') (use push and contains)")
			assert.has_error(function() return maps.t_queue[1] end,
				"lookup by key is not supported on a queue map ('t_queue') (use push, pop and peek)")
			assert.has_error(function() maps.t_queue:pairs() end,
				"iteration is not supported on a queue map ('t_queue') (use push, pop and peek)")
			assert.has_error(function() maps.t_array:contains(1) end,
				"contains is not supported on an array map ('t_array') (array slots always exist: write a zero value)")
		end)
	end)

	describe("maps of maps", function()
		local function inner_value(outer_key, hash)
			maps.io[0] = outer_key
			maps.io[1] = hash and 1 or 0
			local r = assert(progs.mim_read:test_run { data = PKT })
			if r.retval == XDP_DROP then return nil end
			return maps.io[4]
		end

		it("start with the statically initialised inner maps", function()
			maps.inner_a[0] = 111
			maps.inner_b[0] = 222
			assert.equal(111, inner_value(0))
			assert.is_nil(inner_value(1))
			assert.equal(222, inner_value(1, true))
			-- lookups from Lua give the inner map's id
			assert.equal(maps.inner_a:info().id, maps.outer_array[0])
			assert.equal(maps.inner_b:info().id, maps.outer_hash[1])
		end)

		it("swap inner maps set from Lua by handle", function()
			maps.inner_a[0] = 111
			maps.inner_b[0] = 222
			maps.outer_array[0] = maps.inner_b
			assert.equal(222, inner_value(0))
			maps.outer_array[1] = maps.inner_a
			assert.equal(111, inner_value(1))
			maps.outer_hash[9] = maps.inner_a
			assert.equal(111, inner_value(9, true))
			maps.outer_hash[9] = nil
			assert.is_nil(inner_value(9, true))
			-- the map opened by id decodes like the original
			local inner = assert(bpf.open_map(maps.outer_array[0]))
			assert.equal(222, inner[0])
			inner:close()
		end)

		it("refuse a value that is not a map", function()
			assert.has_error(function() maps.outer_array[0] = "x" end,
				"value for array_of_maps map 'outer_array': map handle or fd expected, got string")
		end)
	end)

	describe("prog_array", function()
		it("tail-calls the statically initialised program and one set from Lua", function()
			maps.jmp_index[0] = 0
			assert.equal(10, assert(progs.tail_entry:test_run { data = PKT }).retval)
			maps.jmp_index[0] = 1
			assert.equal(1, assert(progs.tail_entry:test_run { data = PKT }).retval) -- empty slot
			maps.jmp_table[1] = progs.tail_b
			assert.equal(20, assert(progs.tail_entry:test_run { data = PKT }).retval)
			maps.jmp_table[1] = nil
			assert.equal(1, assert(progs.tail_entry:test_run { data = PKT }).retval)
			assert.is_number(maps.jmp_table[0]) -- the program's id
		end)
	end)

	it("print every handle with name, type, sizes and entries", function()
		maps.t_hash[1] = { count = 1 }
		maps.t_hash[2] = { count = 2 }
		assert.equal("bpf.map(t_hash, hash, key 4 __u32, value 24 struct pair, max 16, 2 entries, fd "
			.. maps.t_hash:fd() .. ")", tostring(maps.t_hash))
		assert.matches("^bpf%.map%(t_array, array, key 4 __u32, value 24 struct pair, max 4, 4 entries, fd %d+%)$",
			tostring(maps.t_array))
		assert.matches("^bpf%.map%(t_queue, queue, key 0, value 4 __u32, max 8, fd %d+%)$",
			tostring(maps.t_queue))
		assert.matches("^bpf%.map%(fw_v4, lpm_trie, key 8 struct lpm_v4, value 4 __u32, max 64, 0 entries, fd %d+%)$",
			tostring(maps.fw_v4))
		for _, m in pairs(maps) do
			assert.matches("^bpf%.map%(" .. m.name:gsub("%p", "%%%0") .. ", [%w_]+, key %d+.*, fd %d+%)$", tostring(m))
		end
	end)
end)

describe("syscall programs under test_run", function()
	it("run once without repeat or ctx_out options and hand back their context", function()
		local obj = assert(bpf.load(TYPES))
		local r = assert(obj.programs.read_one:test_run { ctx = u64s(1, 99) })
		assert.equal(4294967295, r.retval) -- (u32)-1
		assert.equal(32, #r.ctx)
		obj:close()
	end)
end)

describe("tracepoint-filled maps", function()
	local obj, link, pid

	before_each(function()
		obj = assert(bpf.load(TRACE))
		pid = support.getpid()
		obj.maps.watch[0] = pid
		link = assert(obj.programs.on_sys_enter:attach())
	end)
	after_each(function()
		link:detach()
		obj:close()
	end)

	it("stack_trace: a stack id becomes kernel addresses symbolised through kallsyms", function()
		support.do_syscalls(3)
		local id = obj.maps.last_stack[0]
		assert.is_true(id >= 0)
		local addrs = obj.maps.stacks:stack(id)
		assert.is_true(#addrs >= 2)
		local names = obj.maps.stacks:stack(id, { symbols = true })
		assert.equal(#addrs, #names)
		local text = table.concat(names, " ")
		assert.matches("do_syscall_64%+0x%x+", text)
		local name, off = bpf.ksym(addrs[#addrs])
		assert.is_string(name)
		assert.is_true(off >= 0)
		assert.equal(name .. "+0x" .. string.format("%x", off), names[#names])
		-- a plain lookup gives the same addresses
		assert.equal(#addrs, #obj.maps.stacks[id])
		assert.has_error(function() obj.maps.watch:stack(1) end,
			"stack works on stack_trace maps only, not on array map 'watch'")
	end)

	it("bpf.ksym names a program attached after the table was first read", function()
		assert.is_nil(bpf.ksym(1)) -- the table is read here (no symbol covers address 1)
		local prog = assert(bpf.asm.assemble("r0 = 0\nexit"):load{ name = "lbpf_ksym_new",
			section = "raw_tracepoint/sys_enter" })
		local l2 = assert(prog:attach())
		local sym = "bpf_prog_" .. prog:info().tag .. "_lbpf_ksym_new"
		local addr
		for line in io.lines("/proc/kallsyms") do
			local a, name = line:match("^(%x+) %a (%S+)")
			-- a 64-bit integer (LuaJIT: a uint64_t cdata; a double would round the address)
			if name == sym then addr = assert(load("return 0x" .. a .. (jit and "ULL" or "")))() end
		end
		assert.is_truthy(addr, sym .. " in /proc/kallsyms")
		local name, off = bpf.ksym(addr)
		assert.equal(sym, name) -- not the symbol that preceded it in the table read before
		assert.equal(0, off)
		l2:detach()
		prog.object:close()
	end)

	it("task storage: read and written from Lua by pid (a pidfd underneath)", function()
		support.do_syscalls(3)
		local st = obj.maps.task_calls[pid]
		assert.is_true(st.calls >= 3)
		obj.maps.task_calls[pid] = { calls = 0, mark = 77 }
		support.do_syscalls(1)
		st = obj.maps.task_calls[pid]
		assert.equal(77, st.seen_lua)
		assert.is_true(st.calls >= 1)
		-- stop the program first: the lookup's own pidfd_open would recreate the entry
		link:detach()
		assert.truthy(obj.maps.task_calls:delete(pid))
		assert.is_nil(obj.maps.task_calls:lookup(pid))
		assert.has_error(function() return obj.maps.task_calls[2 ^ 30] end)
		-- the pidfd each call opens is closed again, also when the value is refused
		local before = support.fd_count()
		for _ = 1, 20 do
			local _ = obj.maps.task_calls[pid]
			pcall(function() obj.maps.task_calls[pid] = { nope = 1 } end)
		end
		assert.equal(before, support.fd_count())
		assert.has_error(function() obj.maps.task_calls:pairs() end,
			"iteration is not supported on a task_storage map ('task_calls')")
	end)
end)

describe("maps of devices, CPUs, sockets and local storage", function()
	local obj, maps

	before_each(function()
		obj = assert(bpf.load(NET))
		maps = obj.maps
	end)
	after_each(function() obj:close() end)

	it("devmap: an ifindex, an interface name or {ifindex=, prog=}", function()
		maps.dev_map[0] = 1
		assert.same({ ifindex = 1, prog_id = 0 }, maps.dev_map[0])
		maps.dev_map[1] = { ifindex = "lo", prog = obj.programs.pass_on }
		local v = maps.dev_map[1]
		assert.equal(1, v.ifindex)
		assert.is_true(v.prog_id > 0)
		maps.dev_hash[5] = "lo"
		assert.equal(1, maps.dev_hash[5])
		assert.has_error(function() maps.dev_map[2] = "no-such-if0" end,
			"value for devmap map 'dev_map': no network interface named 'no-such-if0'")
		assert.has_error(function() maps.dev_hash[2] = { ifindex = 1, prog = obj.programs.pass_on } end,
			"value for devmap_hash map 'dev_hash': a program needs 8-byte values (this map has 4)")
	end)

	it("cpumap: a queue size or {qsize=, prog=}", function()
		maps.cpu_map[0] = 64
		assert.equal(64, maps.cpu_map[0].qsize)
		maps.cpu_map[0] = { qsize = 128, prog = obj.programs.cpu_pass }
		assert.equal(128, maps.cpu_map[0].qsize)
		assert.is_true(maps.cpu_map[0].prog_id > 0)
	end)

	it("sockmap, sockhash and sk storage: sockets from luasocket or fds", function()
		local ok, socket = pcall(require, "socket")
		if not ok then
			pending("luasocket is not installed")
			return
		end
		local srv = assert(socket.bind("127.0.0.1", 0))
		local _, port = srv:getsockname()
		local cli = assert(socket.connect("127.0.0.1", port))
		local conn = assert(srv:accept())
		maps.sock_map[0] = conn
		local cookie = maps.sock_map[0] -- the kernel gives the socket cookie back
		assert.is_not_nil(cookie)
		maps.sock_hash[7] = cli:getfd()
		assert.is_not_nil(maps.sock_hash[7])
		assert.are_not.equal(support.int_text(cookie), support.int_text(maps.sock_hash[7]))
		maps.sk_store[cli] = { uid = 5, note = "client" }
		assert.same({ uid = 5, note = "client" }, maps.sk_store[cli])
		assert.is_nil(maps.sk_store:lookup(conn))
		-- an xskmap takes AF_XDP sockets only: the kernel's refusal comes back
		local okx, err = maps.xsk_map:update(0, cli)
		assert.is_nil(okx)
		assert.matches("xsk_map", err)
		maps.sock_map[0] = nil
		assert.is_nil(maps.sock_map[0])
		cli:close(); conn:close(); srv:close()
	end)

	it("inode and cgroup storage: keyed by a path", function()
		local file = support.tmpname()
		maps.inode_store[file] = { uid = 1, note = "tmp" }
		assert.same({ uid = 1, note = "tmp" }, maps.inode_store[file])
		os.remove(file)
		local cg = "/sys/fs/cgroup/unified"
		maps.cgrp_store[cg] = { uid = 2, note = "root" }
		assert.equal("root", maps.cgrp_store[cg].note)
		assert.has_error(function() return maps.inode_store["/no/such/file"] end,
			"key for inode_storage map 'inode_store': /no/such/file: No such file or directory")
	end)

	it("legacy cgroup storage is created with its key shape", function()
		assert.equal("cgroup_storage", maps.cg_legacy.type)
		assert.equal(16, maps.cg_legacy.key_size)
		assert.equal(0, maps.cg_legacy:count())
	end)
end)
