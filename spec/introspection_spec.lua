-- System introspection (lua/linfo.c, core/disasm.c, core/probe.c): bpf.programs(), bpf.maps()
-- and bpf.links() find what this test loaded, by id, with the right type, name, tag and holder;
-- a map is read by id from a second handle; prog:xlated() disassembles the kernel's translated
-- image; bpf.disasm() decodes hand-made instructions; bpf.features() is probed and cached.
local bpf = require "bpf"
local support = require "support.init"

local function find(list, id)
	for _, e in ipairs(list) do
		if e.id == id then return e end
	end
end

-- One BPF instruction as bytes: code, dst/src registers, off, imm (little-endian).
local function insn(code, dst, src, off, imm)
	return string.char(code, dst + src * 16) .. support.le_bytes(off % 65536, 2) ..
		support.le_bytes(imm % 4294967296, 4)
end

describe("introspection", function()
	local obj, link, me
	setup(function()
		obj = assert(bpf.load(support.obj("syscount")))
		link = assert(obj.programs.count_syscalls:attach())
		me = support.getpid()
	end)
	teardown(function()
		if link then link:detach() end
		if obj then obj:close() end
	end)

	it("bpf.programs() lists our programs by id with type, name, tag, maps and holder", function()
		local info = obj.programs.count_syscalls:info()
		local p = find(bpf.programs(), info.id)
		assert.is_table(p)
		assert.equal("tracepoint", p.type)
		assert.equal("count_syscalls", p.name)
		assert.matches("^%x+$", p.tag)
		assert.equal(16, #p.tag)
		assert.is_true(#p.map_ids >= 1)
		assert.is_true(p.xlated_bytes > 0)
		assert.is_true(p.memlock > 0)
		local held = false
		for _, h in ipairs(p.pids) do
			if h.pid == me then held = true end
		end
		assert.is_true(held, "this process holds the program's fd")
		local raw = find(bpf.programs(), obj.programs.count_raw:info().id)
		assert.equal("raw_tracepoint", raw.type)
		assert.equal("count_raw", raw.name)
	end)

	it("skips the /proc scan with {pids = false}", function()
		local p = find(bpf.programs({ pids = false }), obj.programs.count_syscalls:info().id)
		assert.is_nil(p.pids)
		assert.has_error(function() bpf.programs("x") end)
	end)

	it("bpf.maps() lists our maps; a second handle opened by id reads the same values", function()
		local prog = find(bpf.programs(), obj.programs.count_syscalls:info().id)
		local maps = bpf.maps()
		local by_name = {}
		for _, id in ipairs(prog.map_ids) do
			local m = find(maps, id)
			by_name[m.name] = m
		end
		local pc = by_name.pid_counts
		assert.is_table(pc)
		assert.equal("hash", pc.type)
		assert.equal(4, pc.key_size)
		assert.equal(8, pc.value_size)
		assert.is_true(pc.btf_id > 0)
		assert.is_true(pc.memlock > 0)

		support.do_syscalls(20)
		local second = assert(bpf.open_map(pc.id))
		local n = support.wait_until(function() return second[me] end)
		assert.is_number(tonumber(n))
		assert.is_true(tonumber(n) > 0)
		-- the same kernel object as the object's own handle
		assert.is_true(tonumber(obj.maps.pid_counts[me]) >= tonumber(n))
		second:close()
	end)

	it("bpf.links() shows the link with its program and attach point", function()
		local l = find(bpf.links(), link:info().id)
		assert.is_table(l)
		assert.equal(obj.programs.count_syscalls:info().id, l.prog_id)
		assert.equal("perf_event", l.type)
		assert.is_string(l.attach)
		local held = false
		for _, h in ipairs(l.pids) do
			if h.pid == me then held = true end
		end
		assert.is_true(held)
	end)

	it("raw tracepoint links name their tracepoint", function()
		local raw = assert(obj.programs.count_raw:attach())
		local l = find(bpf.links(), raw:info().id)
		assert.equal("raw_tracepoint", l.type)
		assert.equal("sys_enter", l.attach_point)
		raw:detach()
	end)

	it("prog:xlated() disassembles the translated program", function()
		local text = assert(obj.programs.count_syscalls:xlated())
		assert.matches("^%s+0: ", text)
		assert.matches("call bpf_get_current_pid_tgid#%-?%d+", text)
		assert.matches("call [%w_]*lookup_elem#%-?%d+", text)
		assert.matches("r1 = map%[id:%d+%]", text)
		assert.matches("if r0 [=!]= 0x0 goto pc[+-]%d+", text)
		assert.matches("r%d = %*%(u%d+ %*%)%(r%d+ [+-]%d+%)", text)
		assert.matches("exit\n$", text)
		-- the map ids in the text are the program's maps
		local prog = find(bpf.programs(), obj.programs.count_syscalls:info().id)
		local ids = {}
		for _, id in ipairs(prog.map_ids) do ids[id] = true end
		for id in text:gmatch("map%[id:(%d+)%]") do
			assert.is_true(ids[tonumber(id)], "map id " .. id)
		end
	end)

	it("a program opened by id disassembles the same way", function()
		local id = obj.programs.count_raw:info().id
		local p = assert(bpf.open_program(id))
		assert.equal(obj.programs.count_raw:xlated(), p:xlated())
		p:close()
		assert.has_error(function() p:xlated() end)
	end)

	it("refuses a program that is not loaded", function()
		local o = assert(bpf.open(support.obj("syscount")))
		assert.has_error(function() o.programs.count_syscalls:xlated() end, nil)
		o:close()
	end)
end)

describe("bpf.disasm", function()
	it("decodes each instruction class", function()
		local code = table.concat {
			insn(0xb7, 0, 0, 0, 0),          -- r0 = 0 (mov64 imm)
			insn(0x61, 1, 2, 8, 0),          -- r1 = *(u32 *)(r2 +8)
			insn(0x7b, 10, 1, -8, 0),        -- *(u64 *)(r10 -8) = r1
			insn(0x07, 2, 0, 0, -8),         -- r2 += -8
			insn(0x0c, 3, 4, 0, 0),          -- w3 += w4
			insn(0x85, 0, 0, 0, 1),          -- call bpf_map_lookup_elem#1
			insn(0x15, 0, 0, 3, 0),          -- if r0 == 0x0 goto pc+3
			insn(0x2d, 1, 2, -2, 0),         -- if r1 > r2 goto pc-2
			insn(0x18, 1, 0, 0, 0x1234), insn(0, 0, 0, 0, 0), -- r1 = 0x1234 ll
			insn(0x18, 1, 1, 0, 7), insn(0, 0, 0, 0, 0),      -- r1 = map[id:7]
			insn(0xdb, 1, 2, 0, 0),          -- lock *(u64 *)(r1 +0) += r2
			insn(0x05, 0, 0, 1, 0),          -- goto pc+1
			insn(0x85, 0, 1, 0, 4),          -- call pc+4 (bpf-to-bpf)
			insn(0x95, 0, 0, 0, 0),          -- exit
		}
		local text = assert(bpf.disasm(code))
		local want = {
			"   0: r0 = 0",
			"   1: r1 = *(u32 *)(r2 +8)",
			"   2: *(u64 *)(r10 -8) = r1",
			"   3: r2 += -8",
			"   4: w3 += w4",
			"   5: call bpf_map_lookup_elem#1",
			"   6: if r0 == 0x0 goto pc+3",
			"   7: if r1 > r2 goto pc-2",
			"   8: r1 = 0x1234 ll",
			"  10: r1 = map[id:7]",
			"  12: lock *(u64 *)(r1 +0) += r2",
			"  13: goto pc+1",
			"  14: call pc+4",
			"  15: exit",
		}
		assert.equal(table.concat(want, "\n") .. "\n", text)
	end)

	it("refuses a length that is not whole instructions", function()
		assert.has_error(function() bpf.disasm("abc") end,
			"bpf.disasm: 3 bytes is not a whole number of 8-byte instructions")
		assert.equal("", bpf.disasm(""))
	end)
end)

describe("bpf.features", function()
	it("reports program types, map types and attach kinds this kernel has", function()
		local f = bpf.features()
		assert.is_true(f.prog_types.xdp)
		assert.is_true(f.prog_types.tracepoint)
		assert.is_true(f.prog_types.socket_filter)
		assert.is_true(f.map_types.hash)
		assert.is_true(f.map_types.ringbuf)
		assert.is_true(f.map_types.array_of_maps)
		assert.is_true(f.map_types.task_storage)
		assert.is_true(f.attach.tracepoint)
		assert.is_true(f.attach.uprobe)
		assert.is_true(f.attach.tp_btf)
		-- see /work/shared/KERNEL.md: no CONFIG_KPROBES, trampolines refused
		assert.is_false(f.attach.kprobe)
		assert.is_false(f.attach.fentry)
		assert.is_nil(f.map_types.struct_ops) -- cannot be probed: left out, not guessed
		assert.equal(f, bpf.features(), "cached")
	end)

	it("probes helpers per program type on first use", function()
		local f = bpf.features()
		local xdp = f.helpers.xdp
		assert.is_true(xdp.bpf_map_lookup_elem)
		assert.is_true(xdp.bpf_xdp_adjust_head)
		assert.is_false(f.helpers.socket_filter.bpf_xdp_adjust_head)
		assert.is_true(f.helpers.socket_filter.bpf_skb_load_bytes)
		assert.equal(xdp, f.helpers.xdp)
		assert.is_nil(f.helpers.no_such_type)
	end)
end)
