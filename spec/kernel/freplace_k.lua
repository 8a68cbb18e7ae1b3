-- freplace: an extension program replaces the global function verdict() of a loaded XDP
-- program; test runs of the target see XDP_PASS before, XDP_DROP while the link holds, and
-- XDP_PASS again after it is detached, and the extension counts its own runs.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_freplace.bpf.o"
local XDP_DROP, XDP_PASS = 1, 2
local PACKET = string.rep("\0", 64)

local function run(prog)
	return ok(prog:test_run { data = PACKET }).retval
end

describe("freplace", function()
	it("replaces a global function of a loaded program until detached", function()
		local target = ok(load_only(OBJ, { "xdp_main" }, {}))
		local xdp = target.programs.xdp_main
		eq(run(xdp), XDP_PASS, "before")

		local ext = ok(bpf.open(OBJ))
		ext.programs.xdp_main:set_autoload(false)
		ext.programs.new_verdict:set_attach_target(xdp)
		local loaded, err = ext:load()
		if not loaded and err:find("EPERM") then
			skip("this kernel refuses BPF trampolines (freplace uses them): " .. err:sub(1, 100))
		end
		ok(loaded, err)
		local link = ok(ext.programs.new_verdict:attach())
		eq(run(xdp), XDP_DROP, "while replaced")
		eq(run(xdp), XDP_DROP, "while replaced (again)")
		eq(ext.globals.replaced_runs, 2, "runs of the extension")
		link:detach()
		eq(run(xdp), XDP_PASS, "after detach")
		eq(ext.globals.replaced_runs, 2, "extension runs after detach")
		eq(target.globals.main_runs, 4, "runs of the target")
		ext:close()
		target:close()
	end)

	it("names a missing target function and a missing target clearly", function()
		local target = ok(load_only(OBJ, { "xdp_main" }, {}))
		local ext = ok(bpf.open(OBJ))
		ext.programs.xdp_main:set_autoload(false)
		ext.programs.new_verdict:set_attach_target(target.programs.xdp_main, "no_such_function")
		local loaded, err = ext:load()
		eq(loaded, nil, "load")
		matches(err, "target program 'xdp_main' has no function 'no_such_function'", "error")
		ext:close()

		ext = ok(bpf.open(OBJ))
		ext.programs.xdp_main:set_autoload(false)
		loaded, err = ext:load()
		eq(loaded, nil, "load without a target")
		matches(err, "set_attach_target%(program, function%)", "error")
		ext:close()
		target:close()
	end)
end)
