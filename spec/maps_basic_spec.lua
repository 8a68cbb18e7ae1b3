-- Maps from the legacy "maps" section and from BTF ".maps", side by side in one object:
-- lookup, update with any/noexist/exist, delete, next_key and pairs, from Lua and from a program.
local bpf = require "bpf"
local support = require "support.init"

local LEGACY = support.obj("legacy_maps")
local EEXIST, ENOENT = 17, 2

local function keys_of(map)
	local keys = {}
	local k = map:next_key(nil)
	while k ~= nil do
		keys[#keys + 1] = k
		k = map:next_key(k)
	end
	table.sort(keys)
	return keys
end

describe("legacy and BTF-defined maps", function()
	local obj

	before_each(function()
		obj = assert(bpf.load(LEGACY))
	end)

	after_each(function()
		obj:close()
	end)

	it("creates the maps of both kinds", function()
		for _, name in ipairs { "legacy_hash", "legacy_array", "btf_hash", "btf_array" } do
			assert.is_not_nil(obj.maps[name], name)
		end
	end)

	it("sees what a program wrote into each of them", function()
		local r = assert(obj.programs.touch_all:test_run { data = support.packet() })
		assert.equal(1, r.retval)
		assert.equal(700, obj.maps.legacy_hash[7])
		assert.equal(11, obj.maps.legacy_array[1])
		assert.equal(1234, obj.maps.btf_hash[7])
		assert.equal(1234, obj.maps.btf_array[1])
	end)

	for _, name in ipairs { "legacy_hash", "btf_hash" } do
		describe(name, function()
			it("indexes: missing key is nil, assignment updates, nil deletes", function()
				local m = obj.maps[name]
				assert.is_nil(m[3])
				m[3] = 30
				assert.equal(30, m[3])
				m[3] = 31
				assert.equal(31, m[3])
				m[3] = nil
				assert.is_nil(m[3])
			end)

			it("lookup/update/delete as methods", function()
				local m = obj.maps[name]
				assert.is_nil(m:lookup(5))
				assert.truthy(m:update(5, 50))
				assert.equal(50, m:lookup(5))
				assert.truthy(m:delete(5))
				assert.is_nil(m:lookup(5))
			end)

			it("honours the noexist and exist flags", function()
				local m = obj.maps[name]
				-- exist: only replaces
				local ok, msg, errno = m:update(9, 1, "exist")
				assert.is_nil(ok)
				assert.is_string(msg)
				assert.equal(ENOENT, errno)
				assert.is_nil(m[9])
				-- noexist: only creates
				assert.truthy(m:update(9, 1, "noexist"))
				ok, msg, errno = m:update(9, 2, "noexist")
				assert.is_nil(ok)
				assert.is_string(msg)
				assert.equal(EEXIST, errno)
				assert.equal(1, m[9])
				assert.truthy(m:update(9, 3, "exist"))
				assert.equal(3, m[9])
				assert.truthy(m:update(9, 4, "any"))
				assert.equal(4, m[9])
			end)

			it("reports deleting a missing key as ENOENT", function()
				local ok, msg, errno = obj.maps[name]:delete(12345)
				assert.is_nil(ok)
				assert.is_string(msg)
				assert.equal(ENOENT, errno)
			end)

			it("walks keys with next_key and pairs", function()
				local m = obj.maps[name]
				assert.is_nil(m:next_key(nil)) -- empty
				for k = 1, 5 do m[k] = k * 100 end
				assert.same({ 1, 2, 3, 4, 5 }, keys_of(m))
				local seen, n = {}, 0
				for k, v in m:pairs() do
					seen[k] = v
					n = n + 1
				end
				assert.equal(5, n)
				for k = 1, 5 do assert.equal(k * 100, seen[k]) end
			end)

			it("takes keys and values as byte strings with raw = true, and only then", function()
				local m = obj.maps[name]
				assert(m:update(support.u32(21), support.u64(2100), nil, { raw = true }))
				assert.equal(2100, m[21])
				m[22] = 2200
				assert.equal(support.u64(2200), m:lookup(support.u32(22), { raw = true }))
				assert.has_error(function() return m[support.u32(22)] end,
					"key: integer expected, got string (byte strings need {raw = true})")
			end)
		end)
	end

	for _, name in ipairs { "legacy_array", "btf_array" } do
		describe(name, function()
			it("has every index present and zero at first", function()
				local m = obj.maps[name]
				assert.equal(0, m[0])
				assert.has_error(function() return m[99] end) -- beyond max_entries
				assert.same(name == "legacy_array" and { 0, 1, 2, 3 } or { 0, 1 }, keys_of(m))
			end)

			it("updates elements but cannot delete them", function()
				local m = obj.maps[name]
				m[1] = 77
				assert.equal(77, m[1])
				local ok, msg, errno = m:delete(1)
				assert.is_nil(ok)
				assert.is_string(msg)
				assert.equal(22, errno) -- EINVAL
				assert.equal(77, m[1])
				-- noexist can never succeed on an array: every index exists
				ok, msg, errno = m:update(0, 5, "noexist")
				assert.is_nil(ok)
				assert.equal(EEXIST, errno)
			end)
		end)
	end
end)
