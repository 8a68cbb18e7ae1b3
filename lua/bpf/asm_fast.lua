-- bpf.asm's fast path for a code generator (the trace compiler): builders whose emitters write
-- the common well-formed forms straight into their slots, every helper call checked against the
-- helper's prototype through what each argument register was last set to. Under PUC Lua the
-- emitters run in C (lua/lasm_gen.c, lasm_gen_seq.c); the Lua builder (bpf.asm_fast_lua) serves
-- LuaJIT, whose JIT compiles it, and takes over whatever the C path does not take. This module:
-- the helper specs both check with, the choice of builder, and the hand-over.
local asm = require "bpf.asm"
local calls = require "bpf.asm_calls"
local core = require "bpf.asm_core"

local M = {}

local Builder = asm.Builder
local type, error, setmetatable, getmetatable = type, error, setmetatable, getmetatable

-- What a register holds, as far as emission order tells (the last write before the use; the
-- argument registers r1..r5 are forgotten at every label and call). Texts for the messages.
local STACK, CTX, MAP = "a stack pointer (r10 + offset)", "the context", "a map (ld_map)"
local MAPVAL, RETPTR = "a map value (ld_map_value)", "a pointer returned by a helper"
local SCALAR, ZERO = "a scalar", "the constant 0"
M.STACK, M.CTX, M.MAP, M.MAPVAL, M.RETPTR, M.SCALAR, M.ZERO =
	STACK, CTX, MAP, MAPVAL, RETPTR, SCALAR, ZERO

-- ---- helper specs -------------------------------------------------------------------------------

-- What each argument of a helper must hold, from its prototype: "map", "ctx" (the program's
-- context), "mem" (memory the verifier can bound: stack, context, map value, helper-returned
-- pointer), "any" (an address read with probe_read*: any value), "int" (a scalar).
local ACCEPT = {
	map = { [MAP] = true },
	ctx = { [CTX] = true },
	mem = { [STACK] = true, [CTX] = true, [MAPVAL] = true, [RETPTR] = true },
	any = { [STACK] = true, [CTX] = true, [MAPVAL] = true, [RETPTR] = true, [SCALAR] = true,
		[ZERO] = true },
	int = { [SCALAR] = true, [ZERO] = true },
}
local WANT = { map = "a map (ld_map)", ctx = "the context", int = "a scalar",
	mem = "a stack pointer, the context or a map value", any = "a value" }

local function kinds_of(h)
	local kinds = {}
	for i, kind in ipairs(h.kinds or {}) do
		local decl = h.args[i] or ""
		if kind == "ptr" then
			if decl:find("unsafe_ptr", 1, true) then kind = "any"
			elseif decl:match("%f[%w_]ctx$") then kind = "ctx"
			else kind = "mem" end
		end
		kinds[i] = kind
	end
	return kinds
end
M.kinds_of = kinds_of

local function call_error(msg)
	error("bpf.asm: internal compiler error: " .. msg, 3)
end

-- What a call by this name checks, made on its first use: the helper, the count, what each
-- of r1..r5 may hold, what r0 holds after.
local specs = {}
local function spec_of(helper)
	local h, err = calls.find(helper)
	if not h then call_error(err) end
	local kinds, accept = kinds_of(h), {}
	for i = 1, 5 do accept[i] = ACCEPT[kinds[i] or "int"] end
	local spec = { h = h, id = h.id, name = h.name, nargs = h.nargs, kinds = kinds,
		accept = accept, ret = h.ret:find("*", 1, true) and RETPTR or SCALAR }
	specs[helper] = spec
	return spec
end

local function check_count(spec, nargs)
	if type(nargs) ~= "number" then
		call_error(spec.name .. ": the generated call does not state its argument count")
	end
	local err = calls.nargs_error(spec.h, nargs)
	if err then call_error(err) end
end

M.WANT, M.specs, M.spec_of, M.call_error, M.check_count = WANT, specs, spec_of, call_error, check_count

-- ---- the builder in C ---------------------------------------------------------------------------
-- The C emitters take the same methods, arguments, slots and checks as the Lua builder, and
-- write into a buffer. A builder is then a table whose first array entries hold the C state
-- and the Lua values it refers to. Whatever the C path does not take (a rare form, any
-- refusal, and the methods that read the slots: text, bytes, load, insns...) first turns the
-- table into the Lua builder (materialize: its fields filled from the C state), then runs
-- there, so every message and rare form stays the Lua builder's. A finished one becomes a
-- finished bpf.asm builder without the Lua builder's module, which is loaded only when needed
-- (its code is a tenth of `luabpf trace`'s start-up otherwise). LuaJIT keeps the Lua builder:
-- its JIT compiles the emitters, and C functions called from Lua would stop its traces.
local lua_module
local function lua_builder()
	lua_module = lua_module or require "bpf.asm_fast_lua"
	return lua_module
end

local C -- the C methods, with the Lua ones for the rest

local function materialize(b)
	local finished = C.export(b)
	if finished == nil then -- done before
		if getmetatable(b) == C then
			error("bpf.asm: this builder's C state was taken by another builder", 3)
		end
		return
	end
	if finished then -- (the line entry no instruction follows is dropped in C)
		setmetatable(b, Builder)
		Builder.finish(b)
	else
		setmetatable(b, lua_builder().Builder)
	end
end

-- What the C check needs of a helper: id, count, name, r0 a pointer, the kinds of r1..r5.
local function spec_for_c(name)
	local spec = specs[name] or spec_of(name)
	local k = spec.kinds
	return spec.id, spec.nargs, spec.name, spec.ret == RETPTR, k[1], k[2], k[3], k[4], k[5]
end

if core.gen_methods and not rawget(_G, "jit") then
	C = core.gen_methods({ materialize = materialize, spec_of = spec_for_c,
		prov_text = { STACK, CTX, MAP, MAPVAL, RETPTR, SCALAR, ZERO } })
	-- the methods that read the slots (a finished builder's: no Lua builder needed), then the
	-- Lua builder's other methods, made when first looked up
	for _, name in ipairs({ "pos", "verifier_source", "source_of", "bytes", "text", "insn",
		"insns", "load", "help" }) do
		C[name] = function(b, ...)
			materialize(b)
			return b[name](b, ...)
		end
	end
	setmetatable(C, { __index = function(t, name)
		if type(lua_builder().Builder[name]) ~= "function" or name == "__index" then return nil end
		local method = function(b, ...)
			materialize(b)
			return b[name](b, ...)
		end
		rawset(t, name, method)
		return method
	end })
	C.__index = C
	C.__tostring = function(b) materialize(b); return tostring(b) end
end
M.has_c = C ~= nil

-- A builder for generated code: in C where there is one (see above), else in Lua; opts as
-- bpf.asm.new, size the expected instruction count (a hint). r1 holds the context on entry.
-- M.lua_only = true makes Lua builders everywhere (specs compare the two).
M.lua_only = false
function M.new(opts, size)
	if not C or M.lua_only then return lua_builder().new(opts, size) end
	local b = asm.new(opts)
	-- the slots live in C until materialize
	b.n, b.ins, b.jump_label, b.labels, b.lines, b.nlines = nil, nil, nil, nil, nil, nil
	b.label_hint = {}
	core.gen_new(b, size)
	return setmetatable(b, C)
end

return M
