-- BTF iterators (iter/task, iter/bpf_map, iter/task_file): each must produce lines that name
-- this process and its own map, and its own open files.
local bpf = bpf or require "bpf"

describe("iter", function()
	it("iter/task lists this process", function()
		need("iter")
		local obj = ok(bpf.load("bpf/attach_iter.bpf.o"))
		local out = ok(obj.programs.dump_tasks:iterate())
		matches(out, "\npid " .. tgid() .. "\n", "iter/task output")
		obj:close()
	end)

	it("iter/bpf_map lists a map this process created, by id and name", function()
		need("iter")
		local obj = ok(bpf.load("bpf/kern_iter.bpf.o", { globals = { target_tgid = tgid() } }))
		local info
		for _, m in pairs(obj.maps) do info = m:info() end
		ok(info, "the object has a map")
		local out = ok(obj.programs.dump_maps:iterate())
		matches(out, ("map %d %s\n"):format(info.id, info.name:gsub("%p", "%%%0")), "iter/bpf_map output")
		obj:close()
	end)

	it("iter/task_file lists this process's open files, with a link kept open", function()
		need("iter")
		local obj = ok(bpf.load("bpf/kern_iter.bpf.o", { globals = { target_tgid = tgid() } }))
		local f = ok(io.open("spec/kernel/run.lua"))
		local link = ok(obj.programs.dump_files:attach_iter())
		local out = ok(link:read())
		f:close()
		link:detach()
		local n = 0
		for fd, who in out:gmatch("fd (%d+) (%d+)\n") do
			eq(tonumber(who), tgid(), "tgid of fd " .. fd)
			n = n + 1
		end
		ge(n, 3, "open files listed")
		obj:close()
	end)
end)
