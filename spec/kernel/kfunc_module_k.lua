-- kfuncs that live in a module's BTF (issue 11, parity with libbpf): nf_conntrack's
-- bpf_xdp_ct_lookup called (the call names the module BTF by its fd_array slot) and its
-- address taken (the load carries the module BTF's fd). The host has conntrack built in: there
-- spec/parity_spec.lua runs the same object against vmlinux.
local bpf = bpf or require "bpf"
local OBJ = "bpf/parity_kfunc_ct.bpf.o"

local function need_module()
	local f = io.open("/sys/kernel/btf/nf_conntrack")
	if not f then skip("no nf_conntrack module BTF on this kernel") end
	f:close()
end

-- The object with only the named program loaded.
local function load(name)
	local obj = ok(bpf.open(OBJ))
	for n, prog in pairs(obj.programs) do prog:set { autoload = n == name } end
	ok(obj:load())
	return obj
end

local function run_and_check(obj, name)
	local run = ok(obj.programs[name]:test_run { data = string.rep("\0", 64) })
	eq(run.retval, 2, "retval (XDP_PASS)")
	eq(obj.globals.ran, 1, "lookup ran")
	eq(obj.globals.found, 0, "no connection found")
	eq(obj.globals.ct_error, -2, "opts.error (ENOENT)")
end

describe("kfuncs in a module", function()
	it("nf_conntrack's bpf_xdp_ct_lookup is called through the fd_array", function()
		need_module()
		local obj = load("ct_call")
		run_and_check(obj, "ct_call")
		obj:close()
	end)

	it("its address is taken (bpf_ksym_exists) with the module BTF's fd", function()
		need_module()
		if kernel_version() < 6003000 then
			skip("kernels before 6.3 refuse a kfunc's address in ld_imm64 (\"isn't KIND_VAR\"), with libbpf too")
		end
		local obj = load("ct_probe")
		run_and_check(obj, "ct_probe")
		eq(obj.globals.has_lookup, 1, "address of the module kfunc")
		obj:close()
	end)
end)
