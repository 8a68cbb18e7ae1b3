-- kprobe.multi (fprobe links, 5.18+ with CONFIG_FPROBE: 6.12 has it, Debian's 6.1 does not):
-- a pattern section fires on this process's opens with the arguments seen; where the kernel has
-- no such links, attaching says so clearly.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_probe.bpf.o"

local function open_missing(tag)
	local path = "/tmp/kernels-kmulti-" .. tag
	assert(io.open(path) == nil)
	return path
end

local function load()
	need("kprobe")
	return ok(bpf.load(OBJ, { globals = { target_tgid = tgid() } }))
end

describe("kprobe.multi", function()
	it("kprobe.multi/do_sys_open* fires with its arguments", function()
		need("kprobe_multi")
		local obj = load()
		local link = ok(obj.programs.on_open_multi:attach())
		matches(link.description, "^kprobe.multi do_sys_open%* %(%d+ functions%)", "link")
		local path = open_missing("entry")
		link:detach()
		local seen = obj.globals.kmulti
		ge(seen.hits, 1, "hits")
		eq(seen.dfd, -100, "dfd")
		eq(seen.name, path, "filename")
		-- bpf_get_func_ip: the address of the function that fired, as kallsyms lists it.
		local ip = string.format("%x", obj.globals.kmulti_ip)
		local _, syms = sh("grep -E ' do_sys_open(at2)?$' /proc/kallsyms")
		matches(syms, ip .. " [tT] do_sys_open", "bpf_get_func_ip " .. ip .. " among " .. syms)
		obj:close()
	end)

	it("kretprobe.multi sees the return value, attach_kprobe_multi from Lua", function()
		need("kprobe_multi")
		local obj = load()
		local link = ok(obj.programs.on_open_multi_ret:attach_kprobe_multi("do_sys_openat2",
			{ retprobe = true }))
		open_missing("ret")
		link:detach()
		ge(obj.globals.kretmulti.hits, 1, "hits")
		eq(obj.globals.kretmulti.ret, -2, "return value")
		obj:close()
	end)

	it("attach_kprobe_multi on a list of functions; a bad list is a clear error", function()
		need("kprobe_multi")
		local obj = load()
		local prog = obj.programs.on_open_multi_ret
		local link = ok(prog:attach_kprobe_multi({ "do_sys_openat2" }, { retprobe = true }))
		matches(link.description, "^kretprobe.multi do_sys_openat2 %(1 functions%)", "link")
		open_missing("list")
		link:detach()
		ge(obj.globals.kretmulti.hits, 1, "hits")
		eq(obj.globals.kretmulti.ret, -2, "return value")
		local none, err = prog:attach_kprobe_multi({ "do_sys_openat2", "lbpf_no_such_fn" })
		eq(none, nil, "link on a missing function")
		matches(err, "kprobe.multi '2 listed' %(2 functions%)", "error")
		eq(pcall(prog.attach_kprobe_multi, prog, { "do_sys_openat2", 3 }), false, "a number in the list")
		eq(pcall(prog.attach_kprobe_multi, prog, {}), false, "an empty list")
		obj:close()
	end)

	it("a pattern matching nothing is a clear error", function()
		need("kprobe_multi")
		local obj = load()
		local link, err = obj.programs.on_open_multi:attach_kprobe_multi("lbpf_no_such_fn*")
		eq(link, nil, "link")
		matches(err, "no kernel function matches 'lbpf_no_such_fn%*'", "error")
		obj:close()
	end)

	it("without kprobe_multi links (6.1: no CONFIG_FPROBE) the error says so", function()
		if bpf.features().attach.kprobe_multi then skip("this kernel has kprobe_multi links") end
		local obj = load()
		local link, err = obj.programs.on_open_multi:attach()
		eq(link, nil, "link")
		matches(err, "no kprobe_multi links", "error")
		obj:close()
	end)
end)
