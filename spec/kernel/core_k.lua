-- CO-RE and externs across kernels: the objects of the spec suite, compiled once on the host
-- against the 6.18 vmlinux.h or their own partial types, load unchanged on every kernel of the
-- matrix; core_task reads the current task through relocated offsets, and .kconfig / __ksym
-- externs resolve against the running kernel's config and kallsyms.
local bpf = bpf or require "bpf"

local function config_text()
	local ok_, text = sh("zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)")
	if not ok_ or not text:find("CONFIG_BPF=") then skip("no kernel config to compare with") end
	return text
end

local function config_value(text, name)
	return text:match("\n" .. name .. "=([^\n]*)")
end

local function self_stat()
	local f = assert(io.open("/proc/self/stat"))
	local stat = f:read("l")
	f:close()
	local pid, comm, rest = stat:match("^(%d+) %((.*)%) (.*)$")
	return tonumber(pid), comm, tonumber(rest:match("^%S+ (%d+)"))
end

-- Objects of the host suite that hold CO-RE relocations against kernel types (and load
-- everywhere: the trampoline ones only where the kernel allows trampolines).
local CORE_OBJECTS = { "core_task", "bench_core", "runqlat", "execsnoop", "attach_iter",
	"attach_tpbtf", "btf_vmlinux" }

describe("CO-RE", function()
	for _, name in ipairs(CORE_OBJECTS) do
		it(("bpf/%s.bpf.o loads unchanged"):format(name), function()
			local obj = ok(bpf.load("bpf/" .. name .. ".bpf.o"))
			obj:close()
		end)
	end

	it("kern_trampoline.bpf.o (struct file, dentry, filename by CO-RE) loads where trampolines do", function()
		need("fentry")
		local obj = ok(bpf.load("bpf/kern_trampoline.bpf.o", { globals = { target_tgid = tgid() } }))
		obj:close()
	end)

	it("core_task reads pid, tgid, parent and comm of this process on this kernel", function()
		local pid, comm, ppid = self_stat()
		local obj = ok(bpf.open("bpf/core_task.bpf.o", { globals = { target_tgid = pid } }))
		ok(obj:load())
		local link = ok(obj.programs.core_task:attach())
		for _ = 1, 20 do
			io.open("/proc/self/stat"):close()
			if obj.globals.hits > 0 then break end
		end
		link:detach()
		local g = obj.globals
		ge(g.hits, 1, "hits")
		eq(g.seen_pid, pid, "pid")
		eq(g.seen_tgid, pid, "tgid")
		eq(g.seen_ppid, ppid, "real_parent->tgid")
		eq(tostring(g.seen_comm):gsub("%z.*", ""), comm, "comm")
		eq(g.pid_exists, 1, "field_exists(pid)")
		eq(g.missing_exists, 0, "field_exists(no such member)")
		eq(g.comm_size, 16, "field_size(comm)")
		obj:close()
	end)
end)

describe("externs", function()
	it(".kconfig and __ksym externs match the running kernel's config and kallsyms", function()
		local config = config_text()
		local obj = ok(bpf.load("bpf/core_externs.bpf.o"))
		ok(obj.programs.read_externs:test_run { ["repeat"] = 0 })
		local g = obj.globals
		local _, rel = kernel_version()
		local a, b, c = rel:match("^(%d+)%.(%d+)%.?(%d*)")
		-- As libbpf: the version of `uname -r` (Debian's 6.1.0-57 is 6.1.0).
		eq(g.kernel_version, tonumber(a) * 65536 + tonumber(b) * 256 + math.min(tonumber(c) or 0, 255),
			"LINUX_KERNEL_VERSION")
		eq(g.config_bpf, config_value(config, "CONFIG_BPF") == "y" and 1 or 0, "CONFIG_BPF")
		local tri = config_value(config, "CONFIG_BPF_SYSCALL")
		eq(g.config_bpf_syscall, tri == "y" and 1 or tri == "m" and 2 or 0, "CONFIG_BPF_SYSCALL")
		eq(g.hz, tonumber(config_value(config, "CONFIG_HZ")), "CONFIG_HZ")
		eq(tostring(g.localversion):gsub("%z.*", ""),
			config_value(config, "CONFIG_LOCALVERSION"):match('^"(.*)"$'), "CONFIG_LOCALVERSION")
		eq(g.absent, 0, "absent __weak option")
		local _, line = sh("grep ' bpf_prog_put$' /proc/kallsyms")
		eq(string.format("%x", g.prog_put_addr), line:match("^(%x+)"), "bpf_prog_put address")
		obj:close()
	end)
end)
