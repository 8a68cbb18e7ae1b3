-- The assembler round trip over every program in bpf/: instructions → text (bpf.disasm, the
-- syntax prog:xlated() prints) → bpf.asm.assemble → the same instructions, for the ELF
-- instructions of every program, the instructions as loaded (linked with their subprograms,
-- relocated) and the kernel's translation of every program that loads here.
local bpf = require "bpf"
local support = require "support.init"
local asm = bpf.asm

local function objects()
	local list = {}
	local p = assert(io.popen("ls " .. support.root .. "/bpf/*.bpf.o"))
	for path in p:lines() do list[#list + 1] = path end
	p:close()
	assert.is_true(#list >= 30, "the BPF objects are built")
	return list
end

-- The first instruction where two byte strings differ, as text, for the failure message.
local function first_difference(want, got)
	for i = 1, math.max(#want, #got), 8 do
		local a, b = want:sub(i, i + 7), got:sub(i, i + 7)
		if a ~= b then
			return string.format("instruction %d: want %s, got %s", (i - 1) / 8,
				a ~= "" and bpf.disasm(a) or "(none)", b ~= "" and bpf.disasm(b) or "(none)")
		end
	end
	return "same"
end

local function round_trip(bytes, disasm_opts, where)
	local text = bpf.disasm(bytes, disasm_opts)
	local ok, b = pcall(asm.assemble, text)
	assert(ok, where .. ": " .. tostring(b))
	local out = b:bytes()
	assert(out == bytes, where .. ": " .. first_difference(bytes, out))
	return b
end

-- Fields of the kernel's translation that its text does not show: a bpf-to-bpf call's off (the
-- verifier's subprogram number) and the upper half of a callback address (ld_imm64 of a
-- function). They are zeroed on both sides; everything else must match.
local function without_kernel_fields(bytes)
	local out, i = {}, 1
	while i <= #bytes do
		local insn = bytes:sub(i, i + 7)
		local code, src = insn:byte(1), math.floor(insn:byte(2) / 16)
		if code == 0x85 and src == 1 then insn = insn:sub(1, 2) .. "\0\0" .. insn:sub(5) end
		out[#out + 1] = insn
		if code == 0x18 then
			local second = bytes:sub(i + 8, i + 15)
			if src == 4 then second = second:sub(1, 4) .. "\0\0\0\0" end
			out[#out + 1] = second
			i = i + 8
		end
		i = i + 8
	end
	return table.concat(out)
end

describe("bpf.asm round trip", function()
	it("reproduces the ELF instructions of every program of every object", function()
		local programs = 0
		for _, path in ipairs(objects()) do
			local obj = bpf.open(path)
			if obj then -- missing_sym.bpf.o does not open, by design
				for name, prog in pairs(obj.programs) do
					round_trip(prog:insns{ elf = true }, nil, path .. " " .. name)
					programs = programs + 1
				end
				obj:close()
			end
		end
		assert.is_true(programs >= 80, programs .. " programs")
	end)

	it("reproduces every loaded program, as loaded and as the kernel translated it", function()
		-- maps pinned by name (maps_pin.bpf.o) go to a directory of this branch, removed after
		local pins = "/sys/fs/bpf/asm_roundtrip_" .. support.getpid()
		assert(support.sh("mkdir -p " .. pins))
		finally(function() support.sh("rm -rf " .. pins) end)
		local loaded, programs = 0, 0
		for _, path in ipairs(objects()) do
			local obj = bpf.open(path, { pin_path = pins })
			if obj and obj:load() then
				loaded = loaded + 1
				for name, prog in pairs(obj.programs) do
					local where = path .. " " .. name
					round_trip(prog:insns(), nil, where)
					local x = prog:insns{ xlated = true }
					local b = assert(asm.assemble(bpf.disasm(x, { xlated = true })))
					local got = without_kernel_fields(b:bytes())
					local want = without_kernel_fields(x)
					assert(got == want, where .. " (translated): " .. first_difference(want, got))
					programs = programs + 1
				end
			end
			if obj then obj:close() end
		end
		-- Those that do not load here: fentry (no trampolines on this kernel) and the objects
		-- made to fail (verifier, CO-RE, pinning, missing symbol).
		assert.is_true(loaded >= 30, loaded .. " objects loaded")
		assert.is_true(programs >= 70, programs .. " programs")
	end)

	it("answers damaged text with a positioned error, never anything else", function()
		-- Deterministic damage (a small linear congruential generator) to real program text:
		-- characters dropped, doubled or replaced. Every result either assembles or raises
		-- "bpf.asm: asm:LINE:COL: ..." (or the whole-text error for text without instructions).
		local obj = assert(bpf.open(support.obj("syscount")))
		local text = bpf.disasm(obj.programs.count_syscalls:insns{ elf = true })
		obj:close()
		local seed = 12345
		local function rand(n)
			seed = (seed * 1103515245 + 12345) % 2147483648
			return seed % n + 1
		end
		local alphabet = "r0w9 =+-*()[]:#xl;,sugotpcifexit"
		local errors = 0
		for _ = 1, 300 do
			local t = text
			for _ = 1, rand(4) do
				local at, what = rand(#t), rand(3)
				local c = alphabet:sub(rand(#alphabet), rand(#alphabet))
				if what == 1 then t = t:sub(1, at - 1) .. t:sub(at + 1)
				elseif what == 2 then t = t:sub(1, at) .. t:sub(at)
				else t = t:sub(1, at - 1) .. c .. t:sub(at + 1) end
			end
			local ok, err = pcall(asm.assemble, t)
			if ok then -- what assembles also finishes cleanly or says why not
				local fine, why = pcall(err.bytes, err)
				assert(fine or tostring(why):match("bpf%.asm: .*instruction %d+: "), tostring(why))
			else
				errors = errors + 1
				assert(type(err) == "string" and (err:match("^bpf%.asm: asm:%d+:%d+: .+\n  .*\n *%^$") or
					err:match("no instruction")), "unexpected error: " .. tostring(err))
			end
		end
		assert.is_true(errors > 100, errors .. " errors")
	end)

	it("reproduces a builder's text with labels and line comments", function()
		local b = asm.new()
		b:line("t.bt", 1, 1, "first")
		b:mov("r0", 0); b:mov("r1", 3)
		b:label("top")
		b:line("t.bt", 2, 3, "loop body")
		b:add("r0", "r1"); b:sub("r1", 1); b:jsgt("r1", 0, "top")
		b:call_label("helper_fn"); b:exit()
		b:func("helper_fn", 0)
		b:ld_imm64("r0", -1); b:exit()
		local text = b:text{ labels = true, lines = true }
		assert.matches("; loop body @ t.bt:2", text, 1, true)
		assert.matches("goto top", text, 1, true)
		assert.matches("call helper_fn", text, 1, true)
		assert.equal(b:bytes(), asm.assemble(text):bytes())
		assert.equal(b:bytes(), asm.assemble(b:text()):bytes())
		-- and the assembled program loads and runs like the built one
		local prog = assert(asm.assemble(text):load{ type = "socket_filter" })
		assert.equal(0xffffffff, prog:test_run{ data = support.packet(64) }.retval)
	end)
end)
