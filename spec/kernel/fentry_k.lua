-- fentry and fexit (BPF trampolines) on do_unlinkat: each must fire on this process's unlink of
-- a missing file, see dfd = AT_FDCWD and the name (through struct filename, CO-RE), and fexit the
-- -ENOENT it returned.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_trampoline.bpf.o"

local function unlink_missing(tag)
	local path = "/tmp/kernels-fentry-" .. tag
	local done, err = os.remove(path)
	assert(not done and err:find("No such file"), "the traced unlink must fail with ENOENT")
	return path
end

local function load(name)
	need(name == "on_unlink" and "fentry" or "fexit")
	return ok(load_only(OBJ, { name }))
end

describe("fentry", function()
	it("fentry/do_unlinkat fires with its arguments", function()
		local obj = load("on_unlink")
		local link = ok(obj.programs.on_unlink:attach())
		local path = unlink_missing("entry")
		link:detach()
		local seen = obj.globals.fentry_seen
		ge(seen.hits, 1, "fentry hits")
		eq(seen.dfd, -100, "dfd")
		eq(seen.name, path, "name")
		local hits = seen.hits
		unlink_missing("after")
		eq(obj.globals.fentry_seen.hits, hits, "hits after detach")
		obj:close()
	end)

	it("fexit/do_unlinkat fires with its arguments and the return value", function()
		local obj = load("on_unlink_exit")
		local link = ok(obj.programs.on_unlink_exit:attach_fexit())
		local path = unlink_missing("exit")
		link:detach()
		local seen = obj.globals.fexit_seen
		ge(seen.hits, 1, "fexit hits")
		eq(seen.dfd, -100, "dfd")
		eq(seen.name, path, "name")
		eq(seen.ret, -2, "return value (-ENOENT)")
		obj:close()
	end)
end)
