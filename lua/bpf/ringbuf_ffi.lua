-- The LuaJIT FFI path of reader:records() for pointer readers (map:reader{ pointer = true }):
-- the loop walks the ring buffer's mmap from Lua, so LuaJIT compiles the iterator into the
-- loop's trace and no C function is called per record. Used only under LuaJIT on x86-64 (the
-- C binding decides), where plain loads have acquire and plain stores release semantics; other
-- interpreters and architectures get the C iterator (lbpf_ringbuf_next), same protocol.
--
-- The state is the core's own struct lbpf_ringbuf_cursor (core/include/luabpf_events.h; the
-- declaration below must mirror it), so callbacks, lbpf_ringbuf_next and this loop can be mixed
-- on one reader: a record handed out stays unreleased (cons past it, unpublished = 1) until the
-- next step, which stores cons to the kernel's consumer position.
local ffi = require "ffi"
local bit = require "bit"

local band = bit.band

ffi.cdef [[
struct luabpf_ringbuf_cursor {
	unsigned long *consumer_pos;
	const unsigned long *producer_pos;
	const uint8_t *data;
	unsigned long mask;
	unsigned long cons;
	uint32_t unpublished;
	uint32_t reserved;
};
]]

local cursor_ptr = ffi.typeof("struct luabpf_ringbuf_cursor *")
local flag_ptr = ffi.typeof("const bool *")
local u32_ptr = ffi.typeof("const uint32_t *")
local u8_ptr = ffi.typeof("const uint8_t *")

local BUSY = 0x80000000
local DISCARD = 0x40000000
local LEN_MASK = 0x3fffffff

local M = {}

-- Next committed record of cur, releasing the previous one: pointer and size, or nil. No loop
-- inside (a discarded record recurses): an inner loop would make LuaJIT record the iterator's
-- loop as the root trace instead of compiling it into the caller's for loop.
local function step(cur)
	local cons
	if cur.unpublished ~= 0 then
		cons = cur.cons
		cur.consumer_pos[0] = cons -- release the record handed out last
		cur.unpublished = 0
	else
		cons = cur.consumer_pos[0]
		cur.cons = cons
	end
	if cons >= cur.producer_pos[0] then return nil end
	local hdr = ffi.cast(u32_ptr, cur.data + band(cons, cur.mask))
	local len = hdr[0]
	if band(len, BUSY) ~= 0 then return nil end -- reserved, not committed yet
	local size = band(len, LEN_MASK)
	cur.cons = cons + band(size + 15, -8) -- 8-byte header, 8-byte aligned
	cur.unpublished = 1
	if band(len, DISCARD) ~= 0 then return step(cur) end -- nothing to hand out: release, go on
	return ffi.cast(u8_ptr, hdr + 2), size
end

-- records(reader, nrings): the iterator triple of `for p, size[, ring] in reader:records()`.
function M.records(reader, nrings)
	local cur, closed = reader:_cursor(1)
	cur, closed = ffi.cast(cursor_ptr, cur), ffi.cast(flag_ptr, closed)
	if nrings == 1 then
		return function()
			if closed[0] then error(tostring(reader) .. " closed during a records() loop", 2) end
			return step(cur)
		end, nil, nil
	end
	local ring = 1
	local function next_record()
		local p, size = step(cur)
		if p then return p, size, ring end
		if ring == nrings then return nil end
		ring = ring + 1
		cur = ffi.cast(cursor_ptr, (reader:_cursor(ring)))
		return next_record()
	end
	return function()
		if closed[0] then error(tostring(reader) .. " closed during a records() loop", 2) end
		return next_record()
	end, nil, nil
end

return M
