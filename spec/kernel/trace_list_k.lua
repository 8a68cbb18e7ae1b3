-- `luabpf trace -l` and -k where the kernel has kprobes and fentry (Debian's 6.1 and 6.12): the
-- kprobes of available_filter_functions and the kfuncs of the BTF listed as bpftrace 0.17 lists
-- them, a kfunc's arguments with -lv, and -k reporting a failed map update in a kprobe.
local bpf = bpf or require "bpf"
local list = require "bpf.trace.list"

local function has(lines, want)
	for _, l in ipairs(lines) do
		if l == want then return true end
	end
	error(("%q not among the %d lines listed (first: %s)"):format(want, #lines, tostring(lines[1])), 2)
end

describe("luabpf trace -l", function()
	it("lists kprobes from available_filter_functions, sorted, .part. variants left out", function()
		need("kprobe")
		local lines, warnings = ok(list.lines("kprobe:vfs_rea*"))
		eq(#warnings, 0, "warnings")
		has(lines, "kprobe:vfs_read")
		for i = 2, #lines do ok(lines[i - 1] < lines[i], "sorted") end
		for _, l in ipairs(lines) do ok(not l:find(".part.", 1, true), "no .part. variant: " .. l) end
		lines = ok(list.lines("k:vfs_read"))
		eq(table.concat(lines, ","), "kprobe:vfs_read", "one function")
	end)

	it("lists kfuncs with their BTF arguments (-lv), as kfunc:vmlinux:FUNC", function()
		need("fentry")
		local lines = ok(list.lines("kfunc:vfs_read", true))
		eq(table.concat(lines, "\n"), "kfunc:vmlinux:vfs_read\n    struct file * file\n    char * buf\n" ..
			"    size_t count\n    loff_t * pos\n    ssize_t retval", "-lv kfunc:vfs_read")
		lines = ok(list.lines("*do_nanosleep*"))
		has(lines, "kprobe:do_nanosleep")
		has(lines, "kfunc:vmlinux:do_nanosleep")
	end)
end)

describe("luabpf trace -k", function()
	it("reports a map update that fails in a kprobe, with its place in the source", function()
		need("kprobe")
		local out = {}
		local child = ok(require("bpf.trace.cli").spawn("build/kernels/fixtures/trace_workload openat 3 /dev/null"))
		local t, err = bpf.trace("kprobe:do_sys_openat2 /pid == cpid/ { @n++; @m[@n] = 1; }",
			{ cpid = child.pid, helper_check = 1, max_entries = 1, print = false,
				on_printf = function(text) out[#out + 1] = text end })
		if not t then child:kill() end
		child:release()
		ok(t, err)
		ok(child:wait(20), "the workload ends")
		t:finish("done")
		local fired = t:read("@n")
		local keys = 0
		for _ in pairs(t:read("@m")) do keys = keys + 1 end
		local lost = t:lost()
		t:close()
		-- 3 opens, room for 1 key: the 2nd and 3rd updates fail (keys 1, 2, 3: nsecs may repeat
		-- under qemu's coarse clock)
		local text = table.concat(out)
		eq(keys, 1, "keys of @m (lost " .. lost .. ")")
		eq(fired, 3, "firings")
		eq(lost, 0, "records lost")
		local _, n = text:gsub("stdin:1:52%-53: WARNING: Failed to map_update_elem: Argument list too long %(%-7%)\n", "")
		eq(n, 2, "-k warnings in " .. text)
	end)
end)
