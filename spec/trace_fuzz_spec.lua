-- Mutation fuzzing of the bpftrace compiler inside the suite (the libFuzzer targets are
-- trace_compile and trace_builders in mk/fuzz.mk): thousands of programs mutated from
-- fuzz/seeds/trace_compile/, each answered by a plan or by an error message with a line, a
-- column and a caret, none taking long, and the same with the builder in C and in Lua. A
-- deterministic generator, so a failure is reproducible.
local support = require "support.init"
local check = require "bpf.trace.check"

local SEEDS = support.root .. "/fuzz/seeds/trace_compile"

local function seeds()
	local ok, out = support.sh("ls " .. support.quote(SEEDS))
	assert(ok, out)
	local list = {}
	for name in out:gmatch("[^\n]+") do list[#list + 1] = support.read_file(SEEDS .. "/" .. name) end
	return list
end

-- A small linear congruential generator (the same sequence on every Lua).
local function rng(seed)
	local state = seed
	return function(n)
		state = (state * 48271) % 2147483647
		return state % n + 1
	end
end

local TOKENS = { "{", "}", "(", ")", "[", "]", "/", "*", ";", ",", ":", "\"", "'", "$", "@", "@x",
	"$x", "->", ".", "args", "comm", "pid", "count()", "hist(", "lhist(1,0,10,1)", "printf(\"%d\\n\", ",
	"str(", "if (", "else", "unroll(", "0x", "99999999999999999999", "-", "!", "~", "?", "\n",
	"#define", "#if", "#endif", "kprobe:", "tracepoint:", "BEGIN", "END", "interval:s:1", "\\",
	"curtask->", "@a[1,2]", "++", "+=", "==", "&&", "||", "<<", "\0", "\255", "//", "/*", "*/", "%s",
	"retval", "arg0", "kstack", "ustack", "join(", "exit()", "delete(", "print(", "$1", "(uint8)",
	"(struct task_struct *)" }

local function mutate(src, r)
	local n = #src
	local kind = r(6)
	local a = r(n + 1)
	local b = math.min(n, a + r(12))
	if kind == 1 then return src:sub(1, a - 1) .. src:sub(b + 1) end -- delete
	if kind == 2 then return src:sub(1, a - 1) .. TOKENS[r(#TOKENS)] .. src:sub(a) end -- insert
	if kind == 3 then return src:sub(1, b) .. src:sub(a, b) .. src:sub(b + 1) end -- duplicate
	if kind == 4 then return src:sub(1, a - 1) end -- truncate
	if kind == 5 then -- replace one byte
		return src:sub(1, a - 1) .. string.char(r(256) - 1) .. src:sub(a + 1)
	end
	return src:sub(1, a - 1) .. TOKENS[r(#TOKENS)] .. src:sub(b + 1) -- replace a range
end

-- CPU seconds an input may take: sanitizers (scripts/run-tests.sh's asan and valgrind variants)
-- slow every allocation of the interpreter down, and the bound must keep measuring the compiler.
local variant = os.getenv("LUABPF_TEST_VARIANT") or ""
local SLOW = (variant:find("valgrind", 1, true) and 20) or (variant:find("asan", 1, true) and 5) or 1

describe("trace compiler fuzzing", function()
	it("answers every mutated program with a plan or a positioned message", function()
		local corpus = seeds()
		assert.is_true(#corpus >= 5)
		-- An unknown identifier is looked up among the kernel BTF's enum constants: the first one
		-- loads and indexes vmlinux's BTF, once per process (0.4 s, 1.5 s under ASan). Done here,
		-- outside the timed inputs, so the bound below measures the compiler alone.
		check.verdict("BEGIN { @x = N; }")
		local r = rng(12)
		local plans, errors, slowest = 0, 0, 0
		for i = 1, 1500 do
			local src = corpus[r(#corpus)]
			for _ = 1, r(3) - 1 do src = mutate(src, r) end
			local t0 = os.clock()
			local bad, plan = check.verdict(src)
			local dt = os.clock() - t0
			if dt > slowest then slowest = dt end
			if bad then
				error(("input %d: %s\n--- program ---\n%s"):format(i, bad, src))
			end
			if dt > SLOW then error(("input %d took %.2f s\n%s"):format(i, dt, src)) end
			if plan then plans = plans + 1 else errors = errors + 1 end
		end
		print(("\n  1500 mutated programs (a third unchanged): %d compiled, %d refused with a position; slowest %.1f ms")
			:format(plans, errors, slowest * 1000))
		assert.is_true(plans > 0 and errors > 0)
	end)

	it("gives the same answers with the builder in C and bpf.asm_fast's Lua builder", function()
		if not require("bpf.asm_fast").has_c then
			pending("no C builder under " .. (jit and jit.version or _VERSION))
			return
		end
		local corpus = seeds()
		local r = rng(34)
		for i = 1, 300 do
			local src = corpus[r(#corpus)]
			for _ = 1, r(3) - 1 do src = mutate(src, r) end
			local bad = check.builders_verdict(src)
			if bad then error(("input %d: %s\n--- program ---\n%s"):format(i, bad, src)) end
		end
	end)

	it("refuses pathological nesting and sizes with a message, quickly", function()
		local deep = "BEGIN { @x = " .. string.rep("(", 5000) .. "1" .. string.rep(")", 5000) .. "; }"
		assert.is_nil(check.verdict(deep))
		local blocks = "BEGIN { " .. string.rep("if (1) { ", 500) .. string.rep("} ", 500) .. "}"
		assert.is_nil(check.verdict(blocks))
		local unrolled = "BEGIN { unroll(100) { unroll(100) { unroll(100) { @x++; } } } }"
		assert.is_nil(check.verdict(unrolled))
		local long = "BEGIN { " .. string.rep("@x = 1 + 2 * 3; ", 3000) .. "}"
		local t0 = os.clock()
		assert.is_nil(check.verdict(long))
		assert.is_true(os.clock() - t0 < 5 * SLOW)
	end)
end)
