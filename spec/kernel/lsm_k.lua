-- BPF LSM (the VMs boot with bpf in lsm=): lsm/file_open counts this process's opens, sees the
-- file, and denies one with -EPERM when told to; detaching lifts the denial.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_trampoline.bpf.o"

describe("lsm", function()
	it("lsm/file_open fires, sees the file and denies an open", function()
		need("lsm")
		local obj = ok(load_only(OBJ, { "deny_open_lsm" }))
		local link = ok(obj.programs.deny_open_lsm:attach_lsm())
		local f = ok(io.open("spec/kernel/run.lua"))
		f:close()
		local seen = obj.globals.lsm_seen
		if seen.hits == 0 then
			local _, lsms = sh("cat /proc/cmdline")
			error("lsm program attached but never ran: is bpf in lsm=? cmdline: " .. lsms)
		end
		eq(seen.name, "run.lua", "file name")
		obj.globals.deny = 1
		local denied, err = io.open("spec/kernel/run.lua")
		obj.globals.deny = 0
		eq(denied, nil, "open while denying")
		matches(err, "Operation not permitted", "error")
		link:detach()
		obj.globals.deny = 1
		f = ok(io.open("spec/kernel/run.lua"), "open after detach")
		f:close()
		obj:close()
	end)
end)
