-- Types of the trace compiler: the value types expressions have, kernel BTF types resolved to
-- them (typedefs and qualifiers skipped, members found through anonymous structs), and the
-- plan's type descriptors (PLAN.md) they are stored as.
local M = {}

-- Type tables are never modified once made, so the common ones are shared (made once per
-- process): an expression's type is often one of these.
local INT64 = { k = "int", signed = true }
local UINT64 = { k = "int", signed = false }
M.INT64, M.UINT64 = INT64, UINT64
M.NONE = { k = "none" }

local math_type = math.type
-- Shared only for integer sizes (a float size, e.g. from options, keeps its own table: it prints
-- differently under Lua 5.3+).
local function integer(n) return not math_type or math_type(n) == "integer" end

function M.int(signed, size) return { k = "int", signed = signed and true or false, size = size } end

local sized_ints = { [true] = {}, [false] = {} }
-- {k = "int", signed = signed, size = size}, shared (signed true or false, size an integer).
function M.sized_int(signed, size)
	local by_size = sized_ints[signed]
	local t = by_size and by_size[size]
	if t then return t end
	t = { k = "int", signed = signed, size = size }
	if by_size and integer(size) then by_size[size] = t end
	return t
end

local strs = {}
function M.str(size)
	local t = strs[size]
	if t then return t end
	t = { k = "str", size = size }
	if integer(size) then strs[size] = t end
	return t
end

-- n rounded up to a multiple of 8, remembered for sizes up to 4096 (the result depends on the
-- value only: 16 and 16.0 give the same integer)
local rounded8 = {}
local function round8(n)
	local r = rounded8[n]
	if r then return r end
	r = math.floor((n + 7) / 8) * 8
	if n >= 0 and n <= 4096 then rounded8[n] = r end
	return r
end
M.round8 = round8

-- Kinds whose values live in a stack buffer (the rest live in a register).
local BUFFER = { str = true, ustack = true, usym = true, inet = true }
local SCALAR = { int = true, ptr = true, ksym = true, kstack = true }
function M.is_buffer(ty) return BUFFER[ty.k] == true end
function M.is_scalar(ty) return SCALAR[ty.k] == true end
function M.is_value(ty) return BUFFER[ty.k] or SCALAR[ty.k] end
function M.is_intlike(ty) return ty.k == "int" or ty.k == "ptr" end
-- The kinds is_value accepts, and those is_intlike does, as sets (for the checker's hot paths).
M.VALUE_KINDS, M.INTLIKE_KINDS = {}, { int = true, ptr = true }
for k in pairs(BUFFER) do M.VALUE_KINDS[k] = true end
for k in pairs(SCALAR) do M.VALUE_KINDS[k] = true end

-- Size in bytes a value takes in a key, a map value or an event record.
function M.storage_size(ty)
	if ty.k == "str" then return round8(ty.size) end
	if ty.k == "ustack" or ty.k == "usym" then return 16 end
	if ty.k == "inet" then return 24 end
	return 8
end

-- Bpftrace-ish name of a type, for messages.
function M.name(ty)
	if not ty then return "nothing" end
	local k = ty.k
	if k == "int" then return (ty.signed and "int" or "uint") .. tostring((ty.size or 8) * 8) end
	if k == "str" then return "string[" .. ty.size .. "]" end
	if k == "ptr" then return (ty.cname or "pointer") end
	if k == "record" then return ty.cname or "struct" end
	if k == "array" then return ty.cname or "array" end
	if k == "tpargs" or k == "fargs" then return "args" end
	if k == "none" then return "none (no value)" end
	if k == "agg" then return ty.fn .. "()" end
	return k
end

-- The plan's descriptor (PLAN.md "Types"). (`offset = nil`: room for the offset that records
-- and keys add, so adding it does not grow the table.)
function M.plan_type(ty)
	local k = ty.k
	if k == "int" then return { type = "int", size = 8, signed = ty.signed } end
	if k == "ptr" then return { type = "int", size = 8, signed = false, pointer = true } end
	if k == "str" then return { type = "str", size = round8(ty.size), offset = nil } end
	if k == "kstack" then return { type = "kstack", size = 8, mode = ty.mode, limit = ty.limit } end
	if k == "ustack" then return { type = "ustack", size = 16, mode = ty.mode, limit = ty.limit } end
	if k == "ksym" then return { type = "ksym", size = 8 } end
	if k == "usym" then return { type = "usym", size = 16 } end
	if k == "inet" then return { type = "inet", size = 24 } end
	error("no plan type for " .. tostring(k))
end

-- Do two value types store alike (so a map key or value can hold both)? Returns the merged type.
function M.unify(a, b)
	if a.k ~= b.k then
		if M.is_intlike(a) and M.is_intlike(b) then return a end
		return nil
	end
	if a.k == "str" then return (a.size >= b.size) and a or b end
	if a.k == "int" then
		if a.signed == b.signed then return a end
		return { k = "int", signed = a.signed and b.signed }
	end
	return a
end

---------------------------------------------------------------------------------------------
-- BTF

local Btf = {}
Btf.__index = Btf

-- The kernel's BTF handle (bpf.btf.kernel()), or nil where it cannot be read.
function M.kernel_btf()
	local ok, bpf = pcall(require, "bpf")
	if not ok then return nil end
	local ok2, h = pcall(bpf.btf.kernel)
	return ok2 and h or nil
end

-- Wraps a bpf.btf handle with caches (type tables, resolved ids, member lookups). `handle` may
-- be a function that returns it: the kernel's BTF is then read on first use only (a program of
-- tracepoints and builtins never needs it).
function M.btf(handle)
	local w = setmetatable({ types = {}, members = {} }, Btf)
	if type(handle) == "function" then w.load = handle else w.h = handle end
	return w
end

-- The handle, loaded on first use; raises a compile error when there is no BTF.
function Btf:handle()
	local h = self.h
	if h then return h end
	h = self.load and self.load()
	if not h then error("no kernel BTF (/sys/kernel/btf/vmlinux)", 0) end
	self.h = h
	return h
end

function Btf:type(id)
	local t = self.types[id]
	if t == nil then
		t = id ~= 0 and self:handle():type(id) or { kind = "void", id = 0, size = 0, name = "void" }
		self.types[id] = t
	end
	return t
end

local SKIP = { typedef = true, const = true, volatile = true, restrict = true, type_tag = true,
	decl_tag = true }

-- The id and table of a type with typedefs and qualifiers removed.
function Btf:resolve(id)
	local t = self:type(id)
	local n = 0
	while SKIP[t.kind] and n < 32 do
		id = t.type or 0
		t = self:type(id)
		n = n + 1
	end
	return id, t
end

function Btf:find(name, kind)
	local ok, h = pcall(self.handle, self)
	if not ok then return nil end
	local id
	ok, id = pcall(h.find, h, name, kind)
	if ok then return id end
	return nil
end

-- C text of a type id (for messages): "struct task_struct *".
function Btf:cname(id)
	local t = self:type(id)
	if t.kind == "ptr" then return self:cname(t.type or 0) .. " *" end
	if t.kind == "const" or t.kind == "volatile" then return self:cname(t.type or 0) end
	if t.kind == "struct" or t.kind == "union" or t.kind == "enum" then
		return t.kind .. " " .. (t.name ~= "" and t.name or "(anon)")
	end
	if t.kind == "array" then return self:cname(t.type) .. "[" .. t.nelems .. "]" end
	return t.name ~= "" and t.name or t.kind
end

local CHAR_NAMES = { char = true, ["signed char"] = true, ["unsigned char"] = true, u8 = true,
	__u8 = true, s8 = true, __s8 = true, int8_t = true, uint8_t = true }

-- The expression type of a value of BTF type `id`.
function Btf:value_type(id)
	local rid, t = self:resolve(id)
	local k = t.kind
	if k == "int" then return { k = "int", signed = t.signed or false, size = t.size, btf = rid } end
	if k == "enum" or k == "enum64" then return { k = "int", signed = t.signed or false, size = t.size, btf = rid } end
	if k == "ptr" then
		local pid = self:resolve(t.type or 0)
		return { k = "ptr", to = pid, btf = rid, cname = self:cname(id) }
	end
	if k == "struct" or k == "union" then
		return { k = "record", id = rid, size = t.size, cname = self:cname(id) }
	end
	if k == "array" then
		local eid, et = self:resolve(t.type)
		local ename = et.name or ""
		local is_char = et.kind == "int" and et.size == 1 and (CHAR_NAMES[ename] or ename:find("char"))
		return { k = "array", elem = eid, n = t.nelems, esize = et.size, size = t.size,
			is_char = is_char and true or false, cname = self:cname(id) }
	end
	if k == "void" then return { k = "none" } end
	if k == "func_proto" then return { k = "int", signed = false, size = 8 } end
	if k == "float" then return nil end
	return nil
end

-- Member `name` of struct/union `id`, searched through anonymous members: returns
-- {offset (bytes), bit_offset (within the struct), bitfield_size, type = id} or nil.
function Btf:member(id, name)
	local cache = self.members[id]
	if not cache then cache = {}; self.members[id] = cache end
	local m = cache[name]
	if m ~= nil then return m or nil end
	local _, t = self:resolve(id)
	local found
	for _, mem in ipairs(t.members or {}) do
		if mem.name == name then
			found = { bit_offset = mem.bit_offset, bitfield_size = mem.bitfield_size, type = mem.type }
			break
		end
	end
	if not found then
		for _, mem in ipairs(t.members or {}) do
			if mem.name == "" then
				local inner = self:member(mem.type, name)
				if inner then
					found = { bit_offset = mem.bit_offset + inner.bit_offset,
						bitfield_size = inner.bitfield_size, type = inner.type }
					break
				end
			end
		end
	end
	cache[name] = found or false
	return found
end

-- The value of an enumerator by name, from every enum of the BTF (scanned once, on the first
-- name that is nothing else: a few hundred ms on a vmlinux).
function Btf:enumerator(name)
	if not self.enumerators then
		local all = {}
		local h = self:handle()
		for id = 1, h:count() - 1 do
			local t = h:type(id)
			if t.kind == "enum" or t.kind == "enum64" then
				for _, v in ipairs(t.values or t.members or {}) do
					if all[v.name] == nil then all[v.name] = v.value end
				end
			end
		end
		self.enumerators = all
	end
	return self.enumerators[name]
end

-- Member names of a struct (for suggestions), anonymous members flattened.
function Btf:member_names(id, out)
	out = out or {}
	local _, t = self:resolve(id)
	for _, mem in ipairs(t.members or {}) do
		if mem.name == "" then self:member_names(mem.type, out) else out[#out + 1] = mem.name end
	end
	return out
end

return M
