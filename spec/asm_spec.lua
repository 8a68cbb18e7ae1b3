-- bpf.asm: programs built from Lua, loaded into the kernel and run (test_run on socket filters,
-- tracepoint and tp_btf programs attached and fired), maps created from Lua with BTF, line info
-- in verifier refusals, and clear errors for bad input.
local bpf = require "bpf"
local support = require "support.init"
local asm = bpf.asm

local PACKET = support.packet(64)

-- Loads b as a socket filter and returns what it returns (r0, 32 bits) on one packet.
local function run(b)
	local prog = assert(b:load{ type = "socket_filter" })
	return prog:test_run{ data = PACKET }.retval
end

-- Runs body(b) (which leaves a 64-bit value in r0) twice: returns the low and high 32 bits.
local function run64(body)
	local lo = asm.new()
	body(lo)
	lo:exit()
	local hi = asm.new()
	body(hi)
	hi:rsh("r0", 32)
	hi:exit()
	return run(lo), run(hi)
end

local function err_of(f, ...)
	local ok, err = pcall(f, ...)
	assert.is_false(ok, "an error was expected")
	return tostring(err)
end

describe("bpf.asm", function()
	describe("ALU", function()
		-- {method, a, b, low 32 bits, high 32 bits}: a in r0, b as register and as immediate.
		local cases = {
			{ "add", 7, 5, 12, 0 }, { "sub", 5, 7, 0xfffffffe, 0xffffffff },
			{ "mul", 6, 7, 42, 0 }, { "div", 42, 5, 8, 0 }, { "mod", 42, 5, 2, 0 },
			{ "or_", 0x0f, 0xf0, 0xff, 0 }, { "and_", 0xff, 0x3c, 0x3c, 0 },
			{ "xor", 0xff, 0x0f, 0xf0, 0 }, { "lsh", 1, 40, 0, 0x100 },
			{ "rsh", -1, 36, 0x0fffffff, 0 }, { "arsh", -16, 2, 0xfffffffc, 0xffffffff },
			{ "sdiv", -42, 5, 0xfffffff8, 0xffffffff }, { "smod", -42, 5, 0xfffffffe, 0xffffffff },
			{ "mov", 1, -1, 0xffffffff, 0xffffffff },
		}
		for _, c in ipairs(cases) do
			it(c[1] .. " (64-bit, register and immediate)", function()
				local lo, hi = run64(function(b) b:mov("r0", c[2]); b:mov("r1", c[3]); b[c[1]](b, "r0", "r1") end)
				assert.same({ c[4], c[5] }, { lo, hi })
				lo, hi = run64(function(b) b:mov("r0", c[2]); b[c[1]](b, "r0", c[3]) end)
				assert.same({ c[4], c[5] }, { lo, hi })
			end)
		end

		-- 32-bit forms wrap at 32 bits and zero the upper half.
		local cases32 = {
			{ "add", -1, 2, 1 }, { "sub", 1, 2, 0xffffffff }, { "lsh", 1, 31, 0x80000000 },
			{ "arsh", -16, 2, 0xfffffffc }, { "mul", 0x10000, 0x10000, 0 }, { "mov", 0, -1, 0xffffffff },
		}
		for _, c in ipairs(cases32) do
			it(c[1] .. " (32-bit, w registers)", function()
				local lo, hi = run64(function(b)
					b:mov("r0", -1) -- the upper half must be cleared by the 32-bit operation
					b:mov("w0", c[2]); b:mov("w1", c[3]); b[c[1]](b, "w0", "w1")
				end)
				assert.same({ c[4], 0 }, { lo, hi })
			end)
		end

		it("neg, movsx, endianness and the text operators", function()
			assert.same({ 0xfffffffb, 0xffffffff }, { run64(function(b) b:mov("r0", 5); b:neg("r0") end) })
			assert.same({ 0xffffffff, 0xffffffff }, { run64(function(b) b:mov("r1", 0xff); b:movsx("r0", "r1", 8) end) })
			assert.same({ 0x3412, 0 }, { run64(function(b) b:mov("r0", 0x1234); b:be("r0", 16) end) })
			assert.same({ 0x78563412, 0 }, { run64(function(b) b:mov("r0", 0x12345678); b:be("r0", 32) end) })
			assert.same({ 0x5678, 0 }, { run64(function(b) b:mov("r0", 0x12345678); b:le("r0", 16) end) })
			assert.same({ 0x3412, 0 }, { run64(function(b) b:mov("r0", 0x1234); b:bswap("r0", 16) end) })
			assert.same({ 35, 0 }, { run64(function(b) b:mov("r0", 7); b:alu("*=", "r0", 5) end) })
			assert.same({ 0xfffffffe, 0xffffffff }, { run64(function(b) b:mov("r0", -7); b:alu("s/=", "r0", 3) end) })
		end)

		it("a 64-bit mov of 2^31..2^32-1 gives that value; other 64-bit uses are refused", function()
			assert.same({ 0xffffffff, 0 }, { run64(function(b) b:mov("r0", -1); b:mov("r0", 0xffffffff) end) })
			assert.same({ 0xffffffff, 0xffffffff }, { run64(function(b) b:mov("r0", -1) end) })
			local b = asm.new()
			assert.matches("immediate 4294967295 would be sign%-extended to %-1 by a 64%-bit operation",
				err_of(b.add, b, "r1", 0xffffffff))
			assert.matches("would be compared as %-1 by a 64%-bit jump", err_of(b.jeq, b, "r1", 0xffffffff, "x"))
			assert.matches("would be stored sign%-extended", err_of(b.st, b, "u64", "r10", -8, 0x80000000))
			b:jeq("w1", 0xffffffff, "x") -- 32-bit: the same bits
			b:add("w1", 0xffffffff)
		end)

		it("ld_imm64 loads 64-bit constants", function()
			assert.same({ 0x23456789, 1 }, { run64(function(b) b:ld_imm64("r0", 0x123456789) end) })
			assert.same({ 0xfffffffe, 0xffffffff }, { run64(function(b) b:ld_imm64("r0", -2) end) })
			-- -2^63: a Lua 5.3+ integer, or a double (exact) on Lua 5.1 and LuaJIT
			local big = math.mininteger or -2 ^ 63
			assert.same({ 0, 0x80000000 }, { run64(function(b) b:ld_imm64("r0", big) end) })
			if jit then -- LuaJIT's 64-bit cdata integers
				local cbig = require("ffi").cast("uint64_t", 2 ^ 63) + 5
				assert.same({ 5, 0x80000000 }, { run64(function(b) b:ld_imm64("r0", cbig) end) })
			end
		end)
	end)

	describe("jumps", function()
		-- Conditions against a truth table over 1, 2 and -1 (unsigned: the largest value).
		local function u(v) return v < 0 and 2 ^ 64 + v or v end
		local function band(a, b) return (a == -1 or b == -1) and (a ~= 0 and b ~= 0) or a == b end
		local conds = {
			["=="] = function(a, b) return a == b end, ["!="] = function(a, b) return a ~= b end,
			[">"] = function(a, b) return u(a) > u(b) end, [">="] = function(a, b) return u(a) >= u(b) end,
			["<"] = function(a, b) return u(a) < u(b) end, ["<="] = function(a, b) return u(a) <= u(b) end,
			["s>"] = function(a, b) return a > b end, ["s>="] = function(a, b) return a >= b end,
			["s<"] = function(a, b) return a < b end, ["s<="] = function(a, b) return a <= b end,
			["&"] = band,
		}
		local pairs_ = { { 1, 2 }, { 2, 1 }, { 2, 2 }, { -1, 1 }, { 1, -1 } }
		local function program(op, a, b, width, imm)
			local p = asm.new()
			local r1, r2 = width .. "1", width .. "2"
			p:mov("r1", a); p:mov("r2", b)
			if imm then p:jcond(op, r1, b, "yes") else p:jcond(op, r1, r2, "yes") end
			p:mov("r0", 0); p:exit()
			p:label("yes"); p:mov("r0", 1); p:exit()
			return p
		end
		for op, truth in pairs(conds) do
			it("if " .. op .. " (JMP and JMP32, register and immediate)", function()
				for _, ab in ipairs(pairs_) do
					local want = truth(ab[1], ab[2]) and 1 or 0
					for _, width in ipairs({ "r", "w" }) do
						assert.equal(want, run(program(op, ab[1], ab[2], width, false)),
							op .. " " .. ab[1] .. " " .. ab[2] .. " " .. width)
						assert.equal(want, run(program(op, ab[1], ab[2], width, true)))
					end
				end
			end)
		end

		it("JMP32 compares only the low 32 bits", function()
			local b = asm.new()
			b:ld_imm64("r1", 0x100000001)
			b:jeq("w1", 1, "yes"); b:mov("r0", 0); b:exit()
			b:label("yes"); b:jeq("r1", 1, "no"); b:mov("r0", 7); b:exit()
			b:label("no"); b:mov("r0", 9); b:exit()
			assert.equal(7, run(b))
		end)

		it("loops backwards to labels (sum of 1..10)", function()
			local b = asm.new()
			b:mov("r0", 0); b:mov("r1", 1)
			b:label("loop"); b:add("r0", "r1"); b:add("r1", 1); b:jle("r1", 10, "loop")
			b:exit()
			assert.equal(55, run(b))
		end)

		it("calls subprograms with their own stack, and named functions show in the BTF", function()
			local b = asm.new{ name = "main_prog" }
			local slot = b:stack(8)
			b:st("u64", "r10", slot, 100)
			b:mov("r1", 5); b:call_label("triple")
			b:ldx("u64", "r1", "r10", slot); b:add("r0", "r1"); b:exit()
			b:func("triple", 1)
			local own = b:stack(8)
			assert.equal(-8, own) -- a fresh frame
			b:stx("u64", "r10", own, "r1"); b:ldx("u64", "r0", "r10", own); b:mul("r0", 3); b:exit()
			local prog = assert(b:load{ type = "socket_filter" })
			assert.equal(115, prog:test_run{ data = PACKET }.retval)
			assert.equal("main_prog", prog:info().name)
		end)
	end)

	describe("memory", function()
		it("stores and loads every size, sign-extending loads, stack slots", function()
			local b = asm.new()
			local a, c = b:stack(8), b:stack(1)
			assert.same({ -8, -9 }, { a, c })
			b:st("u64", "r10", a, -1)
			b:st("u8", "r10", c, 0x80)
			b:ldx("u16", "r0", "r10", a)         -- 0xffff
			b:ldx("s8", "r1", "r10", c)          -- -128
			b:add("r0", "r1")                    -- 0xffff - 128
			b:mov("r2", 0x1234); b:stx("u32", "r10", a, "r2"); b:ldx("u32", "r2", "r10", a)
			b:add("r0", "r2")
			b:exit()
			assert.equal(0xffff - 128 + 0x1234, run(b))
		end)

		it("atomics: add, fetch_add, xchg, cmpxchg", function()
			local b = asm.new()
			local s = b:stack(8)
			b:st("u64", "r10", s, 10)
			b:mov("r1", 5); b:xadd("u64", "r10", s, "r1")                -- 15
			b:mov("r2", 1); b:atomic("fetch_add", "u64", "r10", s, "r2")  -- r2 = 15, mem 16
			b:mov("r3", 40); b:atomic("xchg", "u64", "r10", s, "r3")      -- r3 = 16, mem 40
			b:mov("r0", 40); b:mov("r4", 50); b:atomic("cmpxchg", "u64", "r10", s, "r4") -- r0 = 40, mem 50
			b:ldx("u64", "r5", "r10", s)
			-- 15 * 1e6 + 16 * 1e4 + 40 * 100 + 50
			b:mul("r2", 1000000); b:mul("r3", 10000); b:mul("r0", 100)
			b:add("r0", "r2"); b:add("r0", "r3"); b:add("r0", "r5"); b:exit()
			assert.equal(15 * 1000000 + 16 * 10000 + 40 * 100 + 50, run(b))
		end)

		it("the stack is bounded at 512 bytes per function", function()
			local b = asm.new()
			b:stack(500)
			assert.matches("stack: 16 more bytes would use 520 of the 512 bytes of function 'asm_prog'",
				err_of(b.stack, b, 16))
		end)
	end)

	describe("maps created from Lua", function()
		it("decode keys and values through their BTF like object maps", function()
			local m = assert(bpf.map_create{ type = "hash", name = "asm_types", max_entries = 8,
				key_type = { name = "key", { "pid", "u32" }, { "cpu", "u16" } },
				value_type = { name = "val", { "n", "s64" }, { "comm", "char[16]" }, { "v", "u32[3]" } } })
			assert.equal(8, m:info().key_size)
			assert.equal(8 + 16 + 12 + 4, m:info().value_size)
			m[{ pid = 7, cpu = 1 }] = { n = -5, comm = "abc", v = { 1, 2, 3 } }
			local v = m[{ pid = 7, cpu = 1 }]
			assert.same({ n = -5, comm = "abc", v = { 1, 2, 3 } }, v)
			assert.matches("struct val", tostring(m))
			local plain = assert(bpf.map_create{ type = "array", key_type = "u32", value_type = "u8",
				max_entries = 4 })
			plain[3] = 255
			assert.equal(255, plain[3])
			local raw = assert(bpf.map_create{ type = "hash", key_size = 3, value_size = 3, max_entries = 2 })
			raw["abc"] = "xyz"
			assert.equal("xyz", raw["abc"])
			assert.equal(16, asm.btf_type_size({ { "a", "u8" }, { "b", "u64" } }))
		end)

		it("are read and written by a program through ld_map_value and helpers", function()
			local arr = assert(bpf.map_create{ type = "array", key_type = "u32", value_type = "u64",
				max_entries = 1, name = "asm_arr" })
			local hash = assert(bpf.map_create{ type = "hash", key_type = "u32", value_type = "u64",
				max_entries = 4, name = "asm_hash" })
			arr[0] = 1234
			local b = asm.new()
			b:ld_map_value("r6", arr, 0)
			b:ldx("u64", "r7", "r6", 0)                 -- 1234
			b:mov("r1", 4321); b:stx("u64", "r6", 0, "r1")
			local key, val = b:stack(4), b:stack(8)
			b:st("u32", "r10", key, 9)
			b:stx("u64", "r10", val, "r7")
			b:mov("r2", "r10"); b:add("r2", key)
			b:mov("r3", "r10"); b:add("r3", val)
			b:helper("map_update_elem", hash, "r2", "r3", 0)
			b:mov("r2", "r10"); b:add("r2", key)
			b:helper("map_lookup_elem", hash, "r2")
			b:jeq("r0", 0, "missing")
			b:ldx("u64", "r0", "r0", 0); b:exit()
			b:label("missing"); b:mov("r0", 0); b:exit()
			assert.equal(1234, run(b))
			assert.equal(4321, arr[0])
			assert.equal(1234, hash[9])
		end)

		it("are named in assembled text by opts.maps or by kernel id", function()
			local arr = assert(bpf.map_create{ type = "array", key_type = "u32", value_type = "u64",
				max_entries = 1 })
			arr[0] = 77
			local text = "r1 = map[counts][0]+0\nr0 = *(u64 *)(r1 +0)\nexit\n"
			local prog = assert(asm.assemble(text, { maps = { counts = arr } }):load{ type = "socket_filter" })
			assert.equal(77, prog:test_run{ data = PACKET }.retval)
			local by_id = text:gsub("counts", "id:" .. arr:info().id)
			prog = assert(asm.assemble(by_id):load{ type = "socket_filter" })
			assert.equal(77, prog:test_run{ data = PACKET }.retval)
			local none, err = asm.assemble("r1 = map[id:4000000000]\nr0 = 0\nexit"):load{ type = "socket_filter" }
			assert.is_nil(none)
			assert.matches("map id 4000000000 %(instruction 0%)", err)
		end)

		it("report bad definitions clearly", function()
			assert.matches("unknown map type 'hashh'", err_of(bpf.map_create, { type = "hashh", max_entries = 1 }))
			assert.matches("bpf.map_create: key_type: type 'u33' is not known", err_of(bpf.map_create,
				{ type = "hash", key_type = "u33", value_type = "u8", max_entries = 1 }))
			assert.matches("key_size 8 disagrees with its type %(4 bytes%)", err_of(bpf.map_create,
				{ type = "hash", key_type = "u32", key_size = 8, value_type = "u8", max_entries = 1 }))
			local m, err, errno = bpf.map_create{ type = "hash", key_type = "u32", value_type = "u8",
				max_entries = 0 }
			assert.is_nil(m)
			assert.matches("creating map 'map' %(hash, key 4, value 1, max_entries 0%) failed", err)
			assert.is_number(errno)
		end)
	end)

	describe("programs attached and fired", function()
		it("a tracepoint program counts this process's openat calls into a map from Lua", function()
			local pid = support.getpid()
			local counts = assert(bpf.map_create{ type = "hash", name = "asm_opens", max_entries = 64,
				key_type = "u32", value_type = { name = "seen", { "count", "u64" }, { "comm", "char[16]" } } })
			local b = asm.new{ name = "count_opens", file = "count.lua" }
			local key, val = b:stack(4), b:stack(24)
			b:line(nil, 1, 1, "pid filter")
			b:call("get_current_pid_tgid", 0)
			b:rsh("r0", 32)
			b:jne("r0", pid, "out")
			b:stx("u32", "r10", key, "r0")
			b:line(nil, 2, 1, "lookup")
			b:mov("r2", "r10"); b:add("r2", key)
			b:helper("map_lookup_elem", counts, "r2")
			b:jeq("r0", 0, "first")
			b:mov("r1", 1); b:xadd("u64", "r0", 0, "r1")
			b:ja("out")
			b:line(nil, 3, 1, "first time")
			b:label("first")
			b:st("u64", "r10", val, 1)
			b:mov("r1", "r10"); b:add("r1", val + 8)
			b:helper("get_current_comm", "r1", 16)
			b:mov("r2", "r10"); b:add("r2", key)
			b:mov("r3", "r10"); b:add("r3", val)
			b:helper("map_update_elem", counts, "r2", "r3", 0)
			b:label("out")
			b:mov("r0", 0); b:exit()
			local prog = assert(b:load{ type = "tracepoint", attach_target = "syscalls/sys_enter_openat" })
			assert.matches("tracepoint/syscalls/sys_enter_openat", tostring(prog))
			local link = assert(prog:attach())
			support.do_syscalls(7)
			link:detach()
			local seen = counts[pid]
			assert.is_table(seen)
			assert.equal(7, seen.count)
			assert.equal(support.comm(pid), seen.comm)
		end)

		it("a tp_btf program (BTF-targeted, generated FUNC) attaches and fires", function()
			local pid = support.getpid()
			local hits = assert(bpf.map_create{ type = "array", key_type = "u32", value_type = "u64",
				max_entries = 1 })
			local b = asm.new{ name = "on_sys_enter" }
			b:call("get_current_pid_tgid")
			b:rsh("r0", 32)
			b:jne("r0", pid, "out")
			b:ld_map_value("r1", hits, 0)
			b:mov("r2", 1); b:xadd("u64", "r1", 0, "r2")
			b:label("out"); b:mov("r0", 0); b:exit()
			local prog = assert(b:load{ type = "tracing", attach = "tp_btf", attach_target = "sys_enter" })
			local link = assert(prog:attach())
			support.do_syscalls(5)
			link:detach()
			assert.is_true(hits[0] >= 5, "hits: " .. tostring(hits[0]))
		end)

		it("uprobe and perf_event programs attach like an object's programs", function()
			local netns = require "support.netns"
			local target = netns.fixture("probe_target")
			-- one single-entry array per program: direct value addresses need max_entries = 1
			local hits = assert(bpf.map_create{ type = "array", key_type = "u32",
				value_type = { name = "hits", { "uprobe", "u64" }, { "samples", "u64" } },
				max_entries = 1, name = "asm_hits" })
			local function counter(slot)
				local b = asm.new{ name = "count_" .. slot }
				b:ld_map_value("r1", hits, slot * 8)
				b:mov("r2", 1); b:xadd("u64", "r1", 0, "r2")
				b:mov("r0", 0); b:exit()
				return b
			end
			local up = assert(counter(0):load{ section = "uprobe" })
			local link = assert(up:attach_uprobe(target, "lbpf_fixture_add"))
			local ok, out = support.sh(target .. " add 5 42 2>&1")
			assert(ok, out)
			link:detach()
			assert.equal(5, hits[0].uprobe)
			local sampler = assert(counter(1):load{ type = "perf_event" })
			local plink = assert(sampler:attach_perf_event{ type = "software", config = "cpu-clock", freq = 1000 })
			assert.is_truthy(support.wait_until(function() return hits[0].samples > 0 end, 5,
				function() support.do_syscalls(100) end))
			plink:detach()
		end)

		it("calls kernel functions (kfuncs) by name", function()
			local b = asm.new{ name = "rcu_pair" }
			b:call_kfunc("bpf_rcu_read_lock")
			b:call_kfunc("bpf_rcu_read_unlock")
			b:mov("r0", 0); b:exit()
			local prog = assert(b:load{ section = "tp_btf/sys_enter" })
			assert.matches("call kernel%-function#%d+", bpf.disasm(b:bytes()))
			assert.equal("tracing", prog:info().type)
			assert.matches("no kernel function 'no_such_kfunc_here'", err_of(b.call_kfunc, asm.new(), "no_such_kfunc_here"))
		end)

		it("fentry resolves its target in vmlinux BTF (this kernel then refuses trampolines)", function()
			local b = asm.new{ name = "on_unlink" }
			b:mov("r0", 0); b:exit()
			local prog, err = b:load{ type = "tracing", attach = "fentry", attach_target = "do_unlinkat" }
			if prog then
				assert.equal("tracing", prog:info().type)
			else
				assert.matches("fentry/do_unlinkat refused by the kernel: EPERM", err)
			end
			local none, err2, errno = b:load{ section = "fentry/no_such_function_here" }
			assert.is_nil(none)
			assert.matches("attach target 'no_such_function_here' not found in kernel BTF", err2)
			assert.equal(2, errno)
		end)
	end)

	describe("line info and verifier refusals", function()
		it("a refusal carries the log tail with the source line of the line info", function()
			local b = asm.new{ name = "bad_prog" }
			b:line("probe.bt", 1, 1, "BEGIN {")
			b:mov("r0", 0)
			b:line("probe.bt", 4, 9, "@x = $y + 1")
			b:add("r0", "r3") -- r3 was never written
			b:exit()
			local prog, err, errno = b:load{ type = "socket_filter" }
			assert.is_nil(prog)
			assert.equal(13, errno)
			assert.matches("program 'bad_prog' %(section 'socket'%) rejected by the verifier", err)
			assert.matches("; @x = $y %+ 1 @ probe.bt:4", err)
			assert.matches("R3 !read_ok", err)
			-- the failing instruction maps back to the source
			local at = tonumber(err:match("\n(%d+): %(%x+%) r0 %+= r3"))
			assert.same({ "probe.bt", 4, 9, "@x = $y + 1" }, { b:source_of(at) })
			assert.same({ at, "probe.bt", 4, 9, "@x = $y + 1" }, { b:verifier_source(err) })
		end)

		it("text shows the same instructions as the kernel's translation", function()
			local arr = assert(bpf.map_create{ type = "array", key_type = "u32", value_type = "u64",
				max_entries = 1 })
			local b = asm.new()
			b:ld_map_value("r1", arr, 0)
			b:ldx("u64", "r0", "r1", 0)
			b:jgt("r0", 10, "big"); b:mov("r0", 1); b:exit()
			b:label("big"); b:mov("r0", 2); b:exit()
			local prog = assert(b:load{ type = "socket_filter" })
			assert.equal(prog:xlated(), b:text())
			assert.matches("map%[id:" .. arr:info().id .. "%]%[0%]%+0", b:text())
			local labelled = b:text{ labels = true, lines = true }
			assert.matches("if r0 > 0xa goto big", labelled, 1, true)
			assert.matches("\nbig:\n", labelled)
			assert.equal(b:bytes():sub(17), asm.assemble(labelled, {}):bytes():sub(17))
		end)
	end)

	describe("instruction values", function()
		it("are plain tables that print as text and can be emitted", function()
			local i = asm.insn(asm.op.ALU64 + asm.op.ADD + asm.op.K, 1, 0, 0, 5)
			assert.equal("r1 += 5", tostring(i))
			local b = asm.new()
			b:mov("r0", 3); b:emit(asm.insn(asm.op.ALU64 + asm.op.MUL + asm.op.K, 0, 0, 0, 4)); b:exit()
			assert.equal(12, run(b))
			local list = b:insns()
			assert.equal(3, #list)
			assert.equal("r0 *= 4", tostring(list[2]))
			assert.equal("exit", tostring(list[3]))
			local c = asm.new()
			c:ld_imm64("r0", 0x100000002); c:exit()
			assert.equal("r0 = 0x100000002 ll", tostring(c:insns()[1]))
			assert.equal(3, c:count())
		end)

		it("use a helper table generated from the installed UAPI header", function()
			local ok, out = support.sh("cd " .. support.quote(support.root) ..
				" && lua5.4 bpf/gen_helper_defs.lua --lua /usr/include/linux/bpf.h")
			assert.is_true(ok, out)
			assert.equal(out, support.read_file(support.root .. "/lua/bpf/asm_helpers.lua"),
				"lua/bpf/asm_helpers.lua is stale: run make asm-helpers")
		end)

		it("know the helpers' prototypes", function()
			local h = asm.helpers.map_lookup_elem
			assert.equal(1, h.id)
			assert.equal("bpf_map_lookup_elem", h.name)
			assert.same({ "map", "ptr" }, h.kinds)
			assert.equal(h, asm.helpers[1])
			assert.is_true(asm.helpers.trace_printk.variadic)
		end)
	end)

	describe("bad input", function()
		it("names unknown helpers with the nearest names", function()
			assert.matches("unknown helper 'map_lookup_elm' %(did you mean map_lookup_elem",
				err_of(asm.new().call, asm.new(), "map_lookup_elm"))
		end)

		it("checks helper argument counts and kinds against the prototype", function()
			local b = asm.new()
			assert.matches("bpf_map_lookup_elem takes 2 arguments %(struct bpf_map %*map, const void %*key%), got 3",
				err_of(b.call, b, "map_lookup_elem", 3))
			assert.matches("bpf_trace_printk takes at least 2 arguments", err_of(b.helper, b, "trace_printk", "r1"))
			assert.matches("bpf_map_lookup_elem argument 1 %(struct bpf_map %*map%): a map handle or register expected, got the number 5",
				err_of(b.helper, b, "map_lookup_elem", 5, "r2"))
			assert.matches("argument 2 reads r1, which argument 1 already overwrote",
				err_of(b.helper, b, "probe_read_kernel", "r2", "r1", "r3"))
		end)

		it("reports undefined and doubly defined labels with the source position", function()
			local b = asm.new()
			b:line("x.bt", 3, 5, "if (...)")
			b:ja("nowhere"); b:exit()
			assert.matches("x.bt:3:5: instruction 0: undefined label 'nowhere'", err_of(b.finish, b))
			local c = asm.new()
			c:label("a"); c:mov("r0", 0)
			assert.matches("label 'a' defined twice", err_of(c.label, c, "a"))
		end)

		it("rejects bad registers, immediates and endings", function()
			local b = asm.new()
			assert.matches("destination must be a register r0..r10 or w0..w10, got 'r11'", err_of(b.mov, b, "r11", 1))
			assert.matches("cannot mix r1 and w2", err_of(b.add, b, "r1", "w2"))
			assert.matches("immediate must be a 32%-bit integer, got 4294967296", err_of(b.mov, b, "r1", 2 ^ 32))
			assert.matches("size must be u8, u16, u32 or u64", err_of(b.stx, b, "u128", "r10", -8, "r1"))
			local c = asm.new()
			c:mov("r0", 0)
			assert.matches("instruction 0: the program must end with exit or a jump", err_of(c.finish, c))
			assert.matches("the program has no instructions", err_of(asm.new().finish, asm.new()))
			c:exit(); c:finish()
			assert.matches("the program is finished", err_of(c.exit, c))
			local d = asm.new()
			d:mov("r0", 0); d:exit(); d:func("lonely"); d:exit()
			assert.matches("instruction 2: function 'lonely' is never called", err_of(d.finish, d))
			assert.matches("opts.section or opts.type is required", err_of(c.load, c, {}))
		end)

		it("reports bad text with line, column and a caret", function()
			local err = err_of(asm.assemble, "r0 = 1\nr0 +== 2\nexit")
			assert.matches("bpf.asm: asm:2:4: unknown operator '%+=='\n  r0 %+== 2\n     %^", err)
			assert.matches("asm:1:6: unknown helper 'bpf_nope'",
				err_of(asm.assemble, "call bpf_nope\nexit"))
			assert.matches("asm:1:6: undefined label 'nowhere'",
				err_of(asm.assemble, "goto nowhere\nexit"))
			assert.matches("asm:1:1: no register 'r12'", err_of(asm.assemble, "r12 = 1\nexit"))
			assert.matches("asm:2:1: cannot read instruction 'frobnicate r1'",
				err_of(asm.assemble, "r0 = 0\nfrobnicate r1\nexit"))
			assert.matches("unknown map 'counts'", err_of(asm.assemble, "r1 = map[counts]\nexit"))
		end)
	end)
end)
