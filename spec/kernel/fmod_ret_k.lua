-- fmod_ret on security_file_open (the kernel allows fmod_ret on security_* functions and on its
-- error-injection list, which these kernels build without): counting opens, then denying one.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_trampoline.bpf.o"

describe("fmod_ret", function()
	it("fmod_ret/security_file_open sees the file and its return value denies the open", function()
		need("fmod_ret")
		local obj = ok(load_only(OBJ, { "deny_open_fmod_ret" }))
		local link = ok(obj.programs.deny_open_fmod_ret:attach())
		local f = ok(io.open("spec/kernel/run.lua"))
		f:close()
		local seen = obj.globals.fmod_ret_seen
		ge(seen.hits, 1, "hits while allowing")
		eq(seen.name, "run.lua", "file name (file->f_path.dentry->d_name)")
		obj.globals.deny = 1
		local denied, err = io.open("spec/kernel/run.lua")
		obj.globals.deny = 0
		eq(denied, nil, "open while denying")
		matches(err, "Operation not permitted", "error")
		link:detach()
		f = ok(io.open("spec/kernel/run.lua"))
		f:close()
		obj:close()
	end)
end)
