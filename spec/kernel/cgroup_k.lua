-- cgroup_skb/egress on the cgroup v2 root, through a bpf_link and through BPF_PROG_ATTACH (the
-- path for kernels before 5.7, taken on request): the program must count the datagrams sent.
local bpf = bpf or require "bpf"
local OBJ = "bpf/kern_net.bpf.o"
local NETFIX = "build/kernels/fixtures/netfix"
local PORT = 47614

local function cgroup_root()
	for _, p in ipairs({ "/sys/fs/cgroup/unified", "/sys/fs/cgroup" }) do
		local f = io.open(p .. "/cgroup.procs")
		if f then
			f:close()
			return p
		end
	end
	skip("no cgroup v2 hierarchy mounted")
end

local function send(n)
	local done, out = sh(("%s send 127.0.0.1 127.0.0.1 %d kernels-cg %d"):format(NETFIX, PORT, n))
	assert(done, "netfix send: " .. out)
end

describe("cgroup", function()
	for _, mode in ipairs({ "link", "prog_attach" }) do
		it(("cgroup_skb/egress on the root cgroup (%s) counts the datagrams"):format(mode), function()
			need("cgroup_skb")
			local obj = ok(bpf.load(OBJ, { globals = { port = PORT } }))
			local link = ok(obj.programs.count_cgroup:attach_cgroup(cgroup_root(),
				{ prog_attach = mode == "prog_attach" }))
			-- A bpf_link has an fd of its own; PROG_ATTACH leaves none.
			local fd = tonumber(tostring(link):match("fd (%-?%d+)%)$"))
			send(4)
			wait_for(function() return obj.globals.cgroup_seen.hits >= 4 end)
			link:detach()
			ge(obj.globals.cgroup_seen.hits, 4, "datagrams counted")
			if mode == "link" then
				ge(fd, 0, "link fd")
			else
				eq(fd, -1, "link fd")
			end
			local hits = obj.globals.cgroup_seen.hits
			send(2)
			eq(obj.globals.cgroup_seen.hits, hits, "hits after detach")
			obj:close()
		end)
	end
end)
