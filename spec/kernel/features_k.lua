-- bpf.features() tells each kernel's truth: what it answers is compared with the kernel's
-- version and its build configuration, and with what really loads and attaches here.
local bpf = bpf or require "bpf"

local function config()
	local done, text = sh("zcat /proc/config.gz 2>/dev/null || cat /boot/config-$(uname -r)")
	if not done or not text:find("CONFIG_BPF=") then skip("no kernel config to compare with") end
	return function(name) return text:match("\n" .. name .. "=([^\n]*)") end
end

describe("bpf.features()", function()
	it("link kinds follow the version and config (kprobe_multi, uprobe_multi, tcx, netfilter)", function()
		local cfg, v, a = config(), kernel_version(), bpf.features().attach
		local kprobes = cfg("CONFIG_KPROBES") == "y"
		eq(a.kprobe, kprobes, "kprobe (CONFIG_KPROBES)")
		eq(a.kretprobe, kprobes, "kretprobe (CONFIG_KPROBES)")
		eq(a.kprobe_multi, kprobes and v >= 5018000 and cfg("CONFIG_FPROBE") == "y",
			"kprobe_multi (5.18+, CONFIG_FPROBE)")
		eq(a.uprobe_multi, v >= 6006000 and cfg("CONFIG_UPROBES") == "y", "uprobe_multi (6.6+)")
		eq(a.uprobe, cfg("CONFIG_UPROBE_EVENTS") == "y", "uprobe (CONFIG_UPROBE_EVENTS)")
		eq(a.tcx, v >= 6006000, "tcx (6.6+)")
		eq(a.netfilter, v >= 6004000 and cfg("CONFIG_NETFILTER_BPF_LINK") == "y",
			"netfilter (6.4+, CONFIG_NETFILTER_BPF_LINK)")
	end)

	it("program and map types follow the version and config", function()
		local cfg, v, f = config(), kernel_version(), bpf.features()
		eq(f.prog_types.lsm, cfg("CONFIG_BPF_LSM") == "y", "prog_types.lsm (CONFIG_BPF_LSM)")
		eq(f.prog_types.syscall, v >= 5014000, "prog_types.syscall (5.14+)")
		eq(f.map_types.ringbuf, v >= 5008000, "map_types.ringbuf (5.8+)")
		eq(f.map_types.user_ringbuf, v >= 6001000, "map_types.user_ringbuf (6.1+)")
		eq(f.map_types.cgrp_storage, v >= 6002000, "map_types.cgrp_storage (6.2+)")
	end)

	it("BTF: nothing to sanitise from 6.0 on (decl/type tags, enum64 are known)", function()
		local v = kernel_version()
		if v < 6000000 then skip("kernels before 6.0 lack some BTF kinds: sanitised") end
		eq(bpf.btf.missing_features(), 0, "bpf.btf.missing_features()")
	end)

	it("trampoline kinds say what really loads (fentry, fexit, fmod_ret, lsm)", function()
		local cfg, a = config(), bpf.features().attach
		local progs = { fentry = "on_unlink", fexit = "on_unlink_exit",
			fmod_ret = "deny_open_fmod_ret", lsm = "deny_open_lsm" }
		for kind, prog in pairs(progs) do
			local obj, err = load_only("bpf/kern_trampoline.bpf.o", { prog })
			eq(obj ~= nil, a[kind], ("features().attach.%s against a real load (%s)"):format(kind,
				tostring(err):sub(1, 120)))
			if a[kind] then
				eq(cfg("CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS"), "y", kind .. " needs direct calls")
			end
			if obj then obj:close() end
		end
	end)
end)
