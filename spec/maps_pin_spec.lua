-- Pinning and sharing maps: pinned by name and reused by the next loader (in another process),
-- an incompatible pinned map refused, map:pin/unpin, bpf.open_map by path and by id (decoded
-- with the BTF the kernel holds), freeze and info.
local bpf = require "bpf"
local support = require "support.init"
local netns = require "support.netns"

local PIN = support.obj("maps_pin")
local PIN_BAD = support.obj("maps_pin_bad")

local function bump(obj, key)
	return assert(obj.programs.bump:test_run { ctx = support.u64(key) })
end

-- Runs Lua code in a fresh interpreter of the same kind (LUA_CPATH finds the module).
local function run_lua(code)
	local script = support.tmpname()
	support.write_file(script, code)
	local ok, out = support.sh(("%s %s 2>&1"):format(netns.interpreter(), script))
	os.remove(script)
	return ok, out
end

describe("pinned maps", function()
	local dir

	before_each(function()
		dir = ("/sys/fs/bpf/lbpf_maps_spec_%d"):format(support.getpid())
		support.sh("rm -rf " .. dir .. "; mkdir -p " .. dir)
	end)
	after_each(function()
		support.sh("rm -rf " .. dir)
	end)

	it("are pinned by name under pin_path and reused by a second process", function()
		local ok, out = run_lua(([[
			local bpf = require "bpf"
			local obj = assert(bpf.load(%q, { pin_path = %q }))
			assert(obj.programs.bump:test_run { ctx = string.rep("\0", 8) })
			obj.maps.shared_counts[5] = { hits = 50, who = "first" }
			print(obj.maps.shared_counts:info().pinned)
		]]):format(PIN, dir))
		assert(ok, out)
		assert.equal(dir .. "/shared_counts", out:match("[^\n]+"))
		-- the process is gone; the pinned map stays with its entries
		local obj = assert(bpf.load(PIN, { pin_path = dir }))
		local m = obj.maps.shared_counts
		assert.same({ hits = 1, who = "bpf" }, m[0])
		assert.same({ hits = 50, who = "first" }, m[5])
		assert.equal(dir .. "/shared_counts", m:info().pinned)
		assert.is_nil(obj.maps.private_arr:info().pinned)
		-- and it is shared live: a third process bumps, this one sees it
		ok, out = run_lua(([[
			local bpf = require "bpf"
			local obj = assert(bpf.load(%q, { pin_path = %q }))
			assert(obj.programs.bump:test_run { ctx = string.char(5) .. string.rep("\0", 7) })
		]]):format(PIN, dir))
		assert(ok, out)
		assert.equal(51, m[5].hits)
		bump(obj, 5)
		assert.equal(52, m[5].hits)
		obj:close()
	end)

	it("refuse a pinned map of another shape with a message saying what differs", function()
		local obj = assert(bpf.load(PIN, { pin_path = dir }))
		obj:close()
		local bad, err = bpf.load(PIN_BAD, { pin_path = dir })
		assert.is_nil(bad)
		assert.matches("map 'shared_counts': the map pinned at " .. dir:gsub("%p", "%%%0")
			.. "/shared_counts is incompatible: value size 16 there, 8 here", err)
	end)

	it("pin and unpin from Lua, and open a pinned map by path with its kernel BTF", function()
		local obj = assert(bpf.load(PIN, { pin_path = dir }))
		local arr = obj.maps.private_arr
		arr[2] = 42
		local path = dir .. "/arr"
		assert.truthy(arr:pin(path))
		assert.equal(path, arr:info().pinned)
		local opened = assert(bpf.open_map(path))
		assert.equal(42, opened[2])
		opened[3] = 7
		assert.equal(7, arr[3])
		assert.equal("private_arr", opened.name)
		assert.equal("array", opened.type)
		-- a struct value decodes through the BTF the kernel keeps for the map
		local by_id = assert(bpf.open_map(obj.maps.shared_counts:info().id))
		obj.maps.shared_counts[9] = { hits = 3, who = "lua" }
		assert.same({ hits = 3, who = "lua" }, by_id[9])
		assert.matches("^bpf%.map%(shared_counts, hash, key 4 __u32, value 16 struct counter, max 64, %d+ entries, fd %d+%)$",
			tostring(by_id))
		by_id:close()
		opened:close()
		assert.truthy(arr:unpin())
		assert.is_nil(arr:info().pinned)
		local gone, msg = bpf.open_map(path)
		assert.is_nil(gone)
		assert.is_string(msg)
		local none, msg2 = bpf.open_map(0x7ffffff0)
		assert.is_nil(none)
		assert.is_string(msg2)
		obj:close()
	end)

	it("freeze a map: info says so and writes from Lua fail", function()
		local obj = assert(bpf.load(PIN, { pin_path = dir }))
		local arr = obj.maps.private_arr
		arr[1] = 11
		local info = arr:info()
		assert.is_false(info.frozen)
		assert.equal("private_arr", info.name)
		assert.equal("array", info.type)
		assert.equal(4, info.key_size)
		assert.equal(8, info.value_size)
		assert.equal(4, info.max_entries)
		assert.is_true(info.id > 0)
		assert.is_true(info.btf_id > 0)
		assert.is_true(info.btf_value_type_id > 0)
		assert.is_true(info.memlock > 0)
		assert.truthy(arr:freeze())
		assert.is_true(arr:info().frozen)
		local ok, msg, errno = arr:update(1, 12)
		assert.is_nil(ok)
		assert.is_string(msg)
		assert.equal(1, errno) -- EPERM
		assert.equal(11, arr[1])
		obj:close()
	end)

	it("do not leak descriptors when opened and closed repeatedly", function()
		local obj = assert(bpf.load(PIN, { pin_path = dir }))
		local path = dir .. "/again"
		assert(obj.maps.private_arr:pin(path))
		local before = support.fd_count()
		for _ = 1, 20 do
			local m = assert(bpf.open_map(path))
			m:close()
		end
		for _ = 1, 20 do assert(bpf.open_map(path)) end
		assert.equal(before, support.fd_count())
		obj:close()
	end)
end)
