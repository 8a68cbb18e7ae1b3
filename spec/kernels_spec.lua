-- The kernel matrix's own machinery (issue 13, `make test-kernels`): the runner inside the static
-- binary counts for real, and a VM that hangs or panics is reported as a failure, not a pass.
-- The VM cases boot Debian's 6.1 cloud kernel under qemu (fetched once into build/kernels/), and
-- one of them runs the tracing subset there: `make test` covers kprobes, fentry/fexit, fmod_ret,
-- lsm, the tc netlink fallback and bpf.trace's kprobe/kfunc probes (trace_k) on a real 6.1 (the
-- full matrix is `make test-kernels`).
local support = require "support.init"

local root = support.root
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
	return support.sh("cd " .. q(root) .. " && " .. cmd .. " 2>&1")
end

describe("the kernel suite runner (spec/kernel/run.lua)", function()
	local dir

	before_each(function()
		local _, out = support.sh("mktemp -d /tmp/kernels-runner.XXXXXX")
		dir = out:gsub("%s+$", "")
	end)
	after_each(function()
		if dir and dir:match("^/tmp/kernels%-runner%.") then os.execute("rm -rf " .. q(dir)) end
	end)

	it("counts passes, failures, skips and a file that does not load", function()
		support.write_file(dir .. "/a_k.lua", [[
describe("group", function()
	it("passes", function() eq(1 + 1, 2) end)
	it("fails", function() eq(bpf ~= nil, false, "bpf is preloaded") end)
	it("skips", function() skip("no such feature here") end)
	it("errors", function() error("boom") end)
end)]])
		support.write_file(dir .. "/b_k.lua", "this is not Lua")
		local ok, out = run("build/luabpf spec/kernel/run.lua " .. q(dir .. "/a_k.lua") .. " "
			.. q(dir .. "/b_k.lua"))
		assert.is_false(ok)
		assert.matches("@@KSPEC a_k pass group passes :: \n", out, 1, true)
		assert.matches("@@KSPEC a_k fail group fails :: [^\n]*bpf is preloaded: expected false, got true", out)
		assert.matches("@@KSPEC a_k skip group skips :: no such feature here\n", out, 1, true)
		assert.matches("@@KSPEC a_k fail group errors :: [^\n]*boom", out)
		assert.matches("@@KFILE a_k 1 2 1\n", out, 1, true)
		assert.matches("@@KSPEC b_k fail (loading the file)", out, 1, true)
		assert.matches("@@KEND 1 3 1\n", out, 1, true)
	end)
end)

describe("the kernel suite on this machine's kernel", function()
	-- What the host kernel allows of it (the rest is `make test-kernels`, and skips here with
	-- its reason): struct_ops, uprobe.multi, iterators, CO-RE, features, tc, cgroup.
	it("passes (struct_ops, uprobe.multi, iter, CO-RE, features, tc, cgroup, freplace)", function()
		local files = {}
		for _, f in ipairs({ "struct_ops", "uprobe_multi", "iter", "core", "features", "tc",
				"cgroup", "freplace" }) do
			files[#files + 1] = "spec/kernel/" .. f .. "_k.lua"
		end
		local ok, out = run("build/luabpf spec/kernel/run.lua " .. table.concat(files, " "))
		assert(ok, out)
		local passed, failed = out:match("@@KEND (%d+) (%d+) %d+\n")
		assert.equal("0", failed, out)
		assert.is_true(tonumber(passed) >= 20, out)
	end)
end)

describe("the kernel matrix (scripts/kernels/matrix.lua)", function()
	local dir

	-- qemu's work (initramfs, serial logs) stays under build/kernels/.
	before_each(function()
		local _, out = support.sh("mkdir -p " .. q(root .. "/build/kernels") .. " && mktemp -d "
			.. q(root .. "/build/kernels/spec-run.XXXXXX"))
		dir = out:gsub("%s+$", "")
	end)
	after_each(function()
		if dir and dir:match("/build/kernels/spec%-run%.") then os.execute("rm -rf " .. q(dir)) end
	end)

	-- The VM does not run the host's interpreter: booting it once per suite run is enough.
	local function once_per_run()
		if type(jit) == "table" then
			pending("the VMs run build/luabpf (Lua 5.4) whatever runs busted: booted under lua5.4 only")
			return false
		end
		return true
	end

	it("runs the tracing subset on the 6.1 kernel: kprobes, trampolines, lsm, tc netlink, bpf.trace", function()
		if not once_per_run() then return end
		local ok, out = run(("KERNELS_RUN_DIR=%s lua5.4 scripts/kernels/matrix.lua --no-host "
			.. "--kernel 6.1 --timeout 240 spec/kernel/kprobe_k.lua spec/kernel/fentry_k.lua "
			.. "spec/kernel/fmod_ret_k.lua spec/kernel/lsm_k.lua spec/kernel/tc_k.lua "
			.. "spec/kernel/trace_k.lua"):format(q(dir)))
		assert(ok, out)
		-- Every file ran on 6.1, none skipped or failed anything.
		for _, file in ipairs({ "kprobe_k", "fentry_k", "fmod_ret_k", "lsm_k", "tc_k", "trace_k" }) do
			assert.matches("| " .. file .. " | [1-9]%d*/0/0 |", out)
		end
		local passed = tonumber(out:match("kernels: (%d+) passed, 0 failed\n"))
		assert.is_true(passed ~= nil and passed >= 30, out)
	end)

	local function matrix_with_init(init_text, timeout)
		support.write_file(dir .. "/init", init_text)
		return run(("KERNELS_RUN_DIR=%s KERNELS_INIT=%s lua5.4 scripts/kernels/matrix.lua "
			.. "--no-host --kernel 6.1 --timeout %d"):format(q(dir), q(dir .. "/init"), timeout))
	end

	it("reports a VM that hangs as a failure (timeout)", function()
		if not once_per_run() then return end
		local ok, out = matrix_with_init("#!/bin/sh\necho '@@KBOOT hanging'\nwhile :; do sleep 1; done\n", 15)
		assert.is_false(ok)
		assert.matches("FAILED: timed out after 15 s", out, 1, true)
		assert.matches("kernels: 0 passed, 1 failed\n", out, 1, true)
	end)

	it("reports a VM whose init dies (kernel panic) as a failure", function()
		if not once_per_run() then return end
		-- A half-finished run: one test passed, then init exits and the kernel panics.
		local ok, out = matrix_with_init("#!/bin/sh\necho '@@KSPEC x_k pass one :: '\n"
			.. "echo '@@KFILE x_k 1 0 0'\nexit 1\n", 60)
		assert.is_false(ok)
		assert.matches("FAILED: the VM stopped before the suite ended: panic or crash", out, 1, true)
		assert.matches("| x_k | 1/0/0 |", out, 1, true)
		assert.matches("kernels: 1 passed, 1 failed\n", out, 1, true)
		local _, name = support.sh("ls " .. q(dir) .. " | grep '^linux-image-6\\.1\\..*\\.log$'")
		local log = support.read_file(dir .. "/" .. name:gsub("%s+$", ""))
		assert.matches("Kernel panic", log, 1, true)
	end)
end)
