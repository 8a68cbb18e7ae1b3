-- Without privilege: a real throwaway account (spec/support/unpriv.lua) runs scripts that probe
-- features, load an object and list programs. Answers are never guessed (features the kernel
-- would not let us probe are "unknown", or the call fails), every failure names the missing
-- privilege, and nothing crashes.
local unpriv = require "support.unpriv"

describe("as an unprivileged user", function()
	local user

	setup(function()
		user = unpriv.create()
	end)

	teardown(function()
		user:remove()
	end)

	it("bpf.features() fails naming the privilege rather than answering wrongly", function()
		local ok, out = user:run_lua([[
			local bpf = require "bpf"
			local f, err, errno = bpf.features()
			print("result", f, errno)
			print("message", err)
		]])
		assert.is_true(ok, out)
		assert.matches("result\tnil\t1\n", out)
		assert.matches("message\tbpf%.features: the kernel refused every probe: this needs root, or CAP_BPF", out)
	end)

	it("bpf.features() with CAP_BPF alone lists what it could not probe as unknown", function()
		local ok, out = user:run_lua([[
			local bpf = require "bpf"
			local f = assert(bpf.features())
			local unknown = {}
			for _, name in ipairs(f.unknown or {}) do unknown[name] = true end
			print("socket_filter", f.prog_types.socket_filter, "hash", f.map_types.hash)
			print("kprobe", f.prog_types.kprobe, unknown["prog_types.kprobe"])
			print("xdp", f.prog_types.xdp, unknown["prog_types.xdp"])
			print("attach.kprobe", f.attach.kprobe, unknown["attach.kprobe"])
			print("reason", f.unknown_reason)
		]], { caps = "bpf" })
		assert.is_true(ok, out)
		assert.matches("socket_filter\ttrue\thash\ttrue", out)
		assert.matches("kprobe\tnil\ttrue", out)
		assert.matches("xdp\tnil\ttrue", out)
		assert.matches("attach.kprobe\tnil\ttrue", out)
		assert.matches("reason\tprobes refused for lack of privilege %(this needs root, or CAP_BPF", out)
	end)

	it("loading, listing and opening fail with nil, a message naming the privilege, EPERM", function()
		local ok, out = user:run_lua([[
			local bpf = require "bpf"
			local obj = assert(bpf.open("bpf/syscount.bpf.o"))
			print("load", obj:load())
			print("programs", bpf.programs())
			print("open_map", bpf.open_map(1))
			obj:close()
			print("done")
		]])
		assert.is_true(ok, out)
		assert.matches("load\tnil\t[^\n]*creating map 'pid_counts'[^\n]*Operation not permitted "
			.. "%(this needs root, or CAP_BPF with CAP_PERFMON for tracing and CAP_NET_ADMIN "
			.. "for networking%).-\t1\nprograms", out)
		assert.matches("programs\tnil\t[^\n]*CAP_BPF[^\n]*\t1\n", out)
		assert.matches("open_map\tnil\t[^\n]*CAP_BPF[^\n]*\t1\n", out)
		assert.matches("done", out)
	end)
end)

describe("as root", function()
	it("bpf.features() knows every answer", function()
		local f = assert(require("bpf").features())
		assert.is_nil(f.unknown)
		assert.is_true(f.prog_types.kprobe)
		-- answered, whatever this kernel says (KERNEL.md: no kprobe PMU, no trampolines here)
		assert.is_boolean(f.attach.kprobe)
		assert.is_boolean(f.attach.fentry)
	end)
end)
