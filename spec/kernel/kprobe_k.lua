-- kprobe and kretprobe by name, by name+offset, and the ksyscall/kretsyscall section names: each
-- program must fire on this process's openat of a missing file and see its arguments.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_probe.bpf.o"

local function open_missing(tag)
	local path = "/tmp/kernels-kprobe-" .. tag
	local f, err = io.open(path)
	assert(f == nil and err:find("No such file"), "the probed open must fail with ENOENT")
	return path
end

describe("kprobe", function()
	local obj
	local function load()
		need("kprobe")
		obj = ok(bpf.load(OBJ, { globals = { target_tgid = tgid() } }))
		return obj
	end

	local function check_open(seen, path, what)
		ge(seen.hits, 1, what .. " hits")
		eq(seen.dfd, -100, what .. " dfd (AT_FDCWD)")
		eq(seen.name, path, what .. " filename")
	end

	it("by name (section kprobe/do_sys_openat2) fires and reads its arguments", function()
		load()
		local link = ok(obj.programs.on_open:attach())
		local path = open_missing("name")
		link:detach()
		check_open(obj.globals.kp, path, "kprobe")
		local hits = obj.globals.kp.hits
		open_missing("after")
		eq(obj.globals.kp.hits, hits, "hits after detach")
		obj:close()
	end)

	it("by name+offset fires past the ftrace site (+5 without IBT, +9 with it)", function()
		load()
		local fired = {}
		for _, name in ipairs({ "on_open_off5", "on_open_off9" }) do
			local link, err = obj.programs[name]:attach()
			if link then
				local path = open_missing(name)
				link:detach()
				local seen = obj.globals[name == "on_open_off5" and "kp_off5" or "kp_off9"]
				check_open(seen, path, name)
				fired[#fired + 1] = name
			else
				-- The other offset is inside an instruction: the kernel says so.
				matches(err, "do_sys_openat2%+%d", "error names the target")
			end
		end
		eq(#fired, 1, "exactly one offset is an instruction boundary")
		obj:close()
	end)

	it("attach_kprobe(func, offset) from Lua fires too", function()
		load()
		local link = ok(obj.programs.on_open:attach_kprobe("do_sys_openat2"))
		local path = open_missing("lua")
		link:detach()
		check_open(obj.globals.kp, path, "attach_kprobe")
		obj:close()
	end)

	it("the legacy path (tracefs kprobe_events + perf ioctl, as before 4.17/5.15) fires too", function()
		load()
		local link = ok(obj.programs.on_open:attach_kprobe("do_sys_openat2", { legacy = true }))
		matches(link.description, "%(kprobe_events, perf ioctl%)", "link")
		local _, events = sh("cat /sys/kernel/tracing/kprobe_events")
		matches(events, "p:kprobes/lbpf_%d+_%d+ do_sys_openat2", "kprobe_events while attached")
		local path = open_missing("legacy")
		link:detach()
		check_open(obj.globals.kp, path, "legacy kprobe")
		_, events = sh("cat /sys/kernel/tracing/kprobe_events")
		eq(events:find("lbpf_" .. tgid() .. "_", 1, true), nil, "our kprobe_events entry after detach")
		obj:close()
	end)

	it("kretprobe sees the return value (-ENOENT)", function()
		load()
		local link = ok(obj.programs.on_open_ret:attach())
		open_missing("ret")
		link:detach()
		ge(obj.globals.kretp.hits, 1, "kretprobe hits")
		eq(obj.globals.kretp.ret, -2, "return value")
		obj:close()
	end)

	it("ksyscall/openat reads the syscall's own arguments through the wrapper's pt_regs", function()
		load()
		local link = ok(obj.programs.on_sys_openat:attach())
		local path = open_missing("ksyscall")
		link:detach()
		check_open(obj.globals.ksys, path, "ksyscall")
		obj:close()
	end)

	it("kretsyscall/openat sees the syscall's result", function()
		load()
		local link = ok(obj.programs.on_sys_openat_ret:attach())
		open_missing("kretsyscall")
		link:detach()
		ge(obj.globals.kretsys.hits, 1, "kretsyscall hits")
		eq(obj.globals.kretsys.ret, -2, "return value")
		obj:close()
	end)

	it("a missing function is a clear error", function()
		load()
		local link, err = obj.programs.on_open:attach_kprobe("lbpf_no_such_function")
		eq(link, nil, "link")
		matches(err, "no such kernel function", "error")
		obj:close()
	end)
end)
