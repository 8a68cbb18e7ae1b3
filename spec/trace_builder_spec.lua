-- The trace compiler's builder in C (lua/lasm_gen.c, used under PUC Lua) against bpf.asm_fast's
-- Lua builder it stands for: the same programs compile to the same instructions, line info and
-- checked helper calls; a form the C path does not take goes on in Lua with the same result; a
-- refusal carries the Lua builder's message. (Programs built in C load in the kernel:
-- spec/trace_helpers_spec.lua and the trace specs run on it under PUC Lua.)
local bpf = require "bpf"
local support = require "support.init"
local compile = require "bpf.trace.compile"
local fast = require "bpf.asm_fast"

local CORPUS = {
	'BEGIN { printf("hello %d %d\\n", pid, tid); @c = cgroup; exit(); }',
	"tracepoint:syscalls:sys_enter_openat /pid != 1/ { @[comm] = count(); @s = sum(args->flags); @a = avg(args->flags); @mi = min(args->flags); @ma = max(args->flags); @st = stats(args->flags); }",
	"tracepoint:syscalls:sys_enter_read { @h = hist(args->count); @l = lhist(args->count, 0, 1000, 100); @n[tid] = nsecs; @e = elapsed; }",
	'tracepoint:syscalls:sys_enter_openat { $f = str(args->filename); if ($f == "/etc/hostname") { @f[$f] = count(); } else { @o = count(); } printf("%s %s\\n", comm, $f); }',
	"tracepoint:sched:sched_switch { @[args->prev_comm, args->next_pid] = count(); @k[kstack(3)] = count(); }",
	"BEGIN { $i = 0; unroll(4) { $i++; @a[$i] = $i * 2; } @b = 0x123456789abc; @c = -5 / 2; @d = ~7; @e = 1 << 40; }",
	"tracepoint:syscalls:sys_enter_getppid { @start[tid] = nsecs; } tracepoint:syscalls:sys_exit_getppid /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); @x++; @y += 3; @z = @y > 3 ? 1 : 2; }",
	"interval:ms:100 { print(@c); clear(@c); zero(@d); } tracepoint:raw_syscalls:sys_enter { @c = count(); @d = count(); } END { printf(\"end\\n\"); }",
	-- lhist bounds beyond 32 bits: the Lua builder's way, one instruction at a time
	"tracepoint:syscalls:sys_enter_read { @l = lhist(args->count, 0, 8000000000, 1000000000); }",
}

local function sources()
	local list = {}
	for i, src in ipairs(CORPUS) do list[#list + 1] = { name = "corpus " .. i, src = src } end
	local ok, out = support.sh("dpkg -L bpftrace 2>/dev/null | grep '\\.bt$' | sort")
	if ok then
		for path in out:gmatch("[^\n]+") do list[#list + 1] = { name = path, src = support.read_file(path) } end
	end
	return list
end

-- What a compile gives, in text: the plan text (instructions, labels, line info) and, per
-- program, the helper calls the builder checked; or the error.
local function outcome(src, opts)
	local plan, err = compile(src, opts)
	if not plan then return "error: " .. err end
	local parts = { plan.text }
	for _, pp in ipairs(plan.programs) do
		local b = pp.asm
		b:insns() -- the C builder's record is read from the Lua builder it becomes
		local calls = {}
		for i = 1, b.ncalls do calls[i] = b.helper_calls[i] end
		parts[#parts + 1] = pp.bpf_name .. ": " .. table.concat(calls, ",")
	end
	return table.concat(parts, "\n")
end

local function with_lua_builder(f, ...)
	fast.lua_only = true
	local ok, res = pcall(f, ...)
	fast.lua_only = false
	assert(ok, res)
	return res
end

-- The same calls on a C builder and on a Lua one: what each returns (or its error, with the
-- position prefix dropped) and, when it finishes, its bytes and text.
local function both(build)
	local function run(lua_only)
		fast.lua_only = lua_only
		local b = fast.new({ name = "t", file = "f.bt" }, 64)
		fast.lua_only = false
		local ok, res = pcall(build, b)
		if not ok then
			return "error: " .. tostring(res):gsub("^.-bpf%.asm: ", "bpf.asm: ")
		end
		return table.concat({ tostring(res), b:text({ lines = true, labels = true }), b:bytes() }, "\n")
	end
	return run(false), run(true)
end

describe("trace builder in C", function()
	if not fast.has_c then
		it("is used under PUC Lua only (LuaJIT compiles the Lua builder)", function()
			pending("no C builder under " .. (jit and jit.version or _VERSION))
		end)
		return
	end

	it("compiles every program to what the Lua builder gives", function()
		local n = 0
		for _, s in ipairs(sources()) do
			local c = outcome(s.src, { name = "stdin" })
			local l = with_lua_builder(outcome, s.src, { name = "stdin" })
			assert.are.equal(l, c, s.name)
			n = n + 1
		end
		assert.is_true(n > #CORPUS)
	end)

	it("compiles with -k (checked helper errors) to what the Lua builder gives", function()
		for _, src in ipairs(CORPUS) do
			local c = outcome(src, { helper_check = 2 })
			assert.are.equal(with_lua_builder(outcome, src, { helper_check = 2 }), c)
		end
	end)

	it("goes on in Lua after a form the C path does not take, with the same instructions", function()
		local c, l = both(function(b)
			b:mov("r6", "r1")
			local off = b:stack(16)
			b:zero(off, 16)
			b:neg("r6") -- no C path: the builder becomes the Lua one here
			b:current_comm(off, 16)
			local done = b:new_label("done")
			b:jeq("r0", 0, done)
			b:mov("w2", "w0")
			b:label(done)
			b:mov("r0", 0)
			b:exit()
			return b:finish() == b
		end)
		assert.are.equal(l, c)
		assert.matches("bpf_get_current_comm", c, 1, true)
	end)

	it("writes wide constants, map values and atomics as the Lua builder does", function()
		local ref, lost = { id = 1000001, name = "rb" }, { id = 1000002, name = "lost" }
		local c, l = both(function(b)
			b:line("f.bt", 3, 5, "@x = 1")
			b:ld_imm64("r1", 0x123456789abc)
			b:ld_imm64("r2", -1)
			b:ld_map_value("r3", lost, 8)
			b:atomic("add", "u64", "r3", 0, "r2")
			local off = b:stack(24)
			b:st("u64", "r10", off, 7)
			b:st("u32", "r10", off + 8, 0xffffffff)
			b:ringbuf_output(ref, lost, off, 24)
			b:line("f.bt", 4, 1, "exit()")
			b:mov("r0", 0)
			b:exit()
			return b:finish() == b
		end)
		assert.are.equal(l, c)
	end)

	describe("refuses with the Lua builder's message", function()
		local cases = {
			["a helper argument that does not fit"] = function(b)
				b:mov("r1", 7)
				b:call("map_lookup_elem", 2)
			end,
			["a wrong argument count"] = function(b) b:call("ktime_get_ns", 1) end,
			["an unknown helper"] = function(b) b:call("no_such_helper", 0) end,
			["the 512-byte stack"] = function(b) b:stack(600) end,
			["an undefined label"] = function(b)
				b:ja(b:new_label("nowhere"))
				b:exit()
				b:finish()
			end,
			["a label defined twice"] = function(b)
				local l = b:new_label("x")
				b:label(l)
				b:label(l)
			end,
			["a program that does not end"] = function(b)
				b:mov("r0", 0)
				b:finish()
			end,
			["a mix of register widths"] = function(b) b:add("r1", "w2") end,
			["a sign-extended immediate"] = function(b) b:add("r1", 0x80000000) end,
		}
		for name, build in pairs(cases) do
			it(name, function()
				local c, l = both(build)
				assert.matches("^error: ", c)
				assert.are.equal(l, c)
			end)
		end
	end)

	it("checks its arguments: a builder's methods need the builder", function()
		local b = fast.new({ name = "t" }, 8)
		assert.has_error(function() b.mov({}, "r0", 1) end)
		assert.has_error(function() b.mov(nil, "r0", 1) end)
		local ok = pcall(b.mov, { [1] = bpf }, "r0", 1) -- not a builder's state
		assert.is_false(ok)
		-- the lists the C state keeps in the table, replaced
		local ref = { id = 1000001 }
		local c = fast.new({ name = "t" }, 8)
		c[3] = 5
		assert.has_error(function() c:map_lookup(ref, -8) end,
			"bpf.asm: the builder's table was changed (entry 3)")
		-- a state taken over from a builder that has become the Lua one
		local d, e = fast.new({ name = "d" }, 8), fast.new({ name = "e" }, 8)
		d:mov("r0", 0)
		d:neg("r0") -- d is the Lua builder now
		e[1] = d[1]
		local ok2, err = pcall(e.neg, e, "r0")
		assert.is_false(ok2)
		assert.matches("C state was taken by another builder", err, 1, true)
	end)
end)
