-- uprobe.multi (6.6+): one link on every lbpf_fixture_* function of the static fixture; the
-- fixture's calls are counted with their second argument and return value. Where the kernel has
-- no such links (6.1), attaching says so clearly.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_uprobe.bpf.o"
local TARGET = "build/kernels/fixtures/probe_target"

local function run_target(n, b)
	local done, out = sh(("%s add %d %d"):format(TARGET, n, b))
	assert(done, "probe_target: " .. out)
	return out
end

describe("uprobe.multi", function()
	it("uprobe.multi/BINARY:lbpf_fixture_* counts the calls and reads an argument", function()
		need("uprobe_multi")
		local obj = ok(bpf.load(OBJ))
		local link = ok(obj.programs.on_fixture:attach())
		matches(link.description, "^uprobe.multi .*probe_target:lbpf_fixture_%* %(%d+ functions%)", "link")
		run_target(7, 1234)
		link:detach()
		eq(obj.globals.calls, 7, "calls")
		eq(obj.globals.last_b, 1234, "second argument")
		run_target(2, 1)
		eq(obj.globals.calls, 7, "calls after detach")
		obj:close()
	end)

	it("uretprobe.multi sees each return value", function()
		need("uprobe_multi")
		local obj = ok(bpf.load(OBJ))
		local link = ok(obj.programs.on_fixture_ret:attach())
		run_target(5, 100)
		link:detach()
		eq(obj.globals.returns, 5, "returns")
		eq(obj.globals.last_ret, 105, "last return value (5 + 100)")
		obj:close()
	end)

	it("without uprobe_multi links (before 6.6) the error says so", function()
		if bpf.features().attach.uprobe_multi then skip("this kernel has uprobe_multi links") end
		local obj = ok(bpf.load(OBJ))
		local link, err = obj.programs.on_fixture:attach()
		eq(link, nil, "link")
		matches(err, "no uprobe_multi links", "error")
		obj:close()
	end)
end)
