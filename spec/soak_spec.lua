-- Faults and limits, the cheap part of `make check-soak` (which runs the same with 10,000 cycles):
-- open + load + attach + detach + close cycles with fds and RSS flat (also with only the GC
-- closing), `kill -9` of a script (nothing stays attached unless pinned, a pinned link stays until
-- unpinned), the fd limit and the memory cgroup limit (clear error, process usable afterwards).
-- Each runs scripts/soak.lua in a fresh interpreter of the spec's kind.
local bpf = require "bpf"
local support = require "support.init"
local netns = require "support.netns"

local SOAK = support.root .. "/scripts/soak.lua"

-- Runs soak.lua with args (after an optional shell prefix); returns success and output.
local function soak(args, prefix)
	return support.sh(("cd %s && %s%s %s %s 2>&1"):format(support.quote(support.root), prefix or "",
		netns.interpreter(), SOAK, args))
end

local function ids_of(list, field)
	local set = {}
	for _, e in ipairs(list) do set[support.int_text(e[field or "id"])] = true end
	return set
end

local function link_ids() return ids_of(assert(bpf.links { pids = false })) end
local function prog_ids() return ids_of(assert(bpf.programs { pids = false })) end

-- Starts `soak.lua hold PIN` in the background; returns its pid and {prog ids}, {link ids}.
local function hold(pin)
	local out = support.tmpname()
	local ok, pid = support.sh(("cd %s && { %s %s hold %s > %s 2>&1 & echo $!; }"):format(
		support.quote(support.root), netns.interpreter(), SOAK, pin, out))
	assert(ok, pid)
	pid = assert(tonumber(pid:match("%d+")))
	local line = support.wait_until(function()
		return support.read_file(out):match("hold: ids prog=(%S+) link=(%S+)")
	end, 10)
	local text = support.read_file(out)
	os.remove(out)
	assert(line, "the holder did not start: " .. text)
	local p1, p2, l1, l2 = text:match("prog=(%d+),(%d+) link=(%d+),(%d+)")
	return pid, { p1, p2 }, { l1, l2 }
end

describe("soak", function()
	it("200 cycles of open + load + attach + detach + close keep fds and RSS flat", function()
		local ok, out = soak("cycles 200")
		assert.is_true(ok, out)
		assert.matches("cycles: 200 cycles %(closed explicitly%), fds %d+ %-> %d+ .*: flat", out)
	end)

	it("100 cycles closed only by the garbage collector keep fds and RSS flat", function()
		local ok, out = soak("cycles 100 gc")
		assert.is_true(ok, out)
		assert.matches("cycles: 100 cycles %(closed by the GC%), fds %d+ %-> %d+ .*: flat", out)
	end)
end)

describe("kill -9", function()
	local pin

	before_each(function()
		pin = ("/sys/fs/bpf/strict_soak_link_%d"):format(support.getpid())
		os.remove(pin)
	end)

	after_each(function()
		os.remove(pin)
	end)

	it("leaves nothing attached or loaded when nothing is pinned", function()
		local pid, progs, links = hold("-")
		assert.is_true(link_ids()[links[1]] and link_ids()[links[2]] or false)
		assert(support.sh("kill -9 " .. pid))
		assert.truthy(support.wait_until(function()
			local l, p = link_ids(), prog_ids()
			return not (l[links[1]] or l[links[2]] or p[progs[1]] or p[progs[2]])
		end, 10), "links or programs outlived the killed process")
	end)

	it("keeps a pinned link (and its program) until it is unpinned", function()
		local pid, progs, links = hold(pin)
		assert(support.sh("kill -9 " .. pid))
		assert.truthy(support.wait_until(function()
			local l, p = link_ids(), prog_ids()
			return not l[links[1]] and not p[progs[1]]
		end, 10), "the unpinned link outlived the killed process")
		bpf.sleep(0.5)
		assert.is_true(link_ids()[links[2]], "the pinned link went away")
		assert.is_true(prog_ids()[progs[2]], "the pinned link's program went away")
		assert.is_true(os.remove(pin))
		assert.truthy(support.wait_until(function()
			return not link_ids()[links[2]] and not prog_ids()[progs[2]]
		end, 10), "the link outlived its unpinning")
	end)
end)

describe("limits", function()
	it("running out of fds gives a clear error and leaves the process usable", function()
		local ok, out = soak("fdlimit", "ulimit -n 64; ")
		assert.is_true(ok, out)
		assert.matches("fdlimit: stopped after %d+ with errno 24: [^\n]*Too many open files "
			.. "%(the process's limit on open files: ulimit %-n%)", out)
		assert.matches("fdlimit: usable afterwards: yes", out)
	end)

	it("running out of memory (the memory cgroup's limit) gives a clear error, process usable", function()
		local memcg = support.read_file("/proc/self/cgroup"):match("%d+:memory:([^\n]*)")
		local dir = memcg and "/sys/fs/cgroup/memory" .. memcg:gsub("/$", "")
		if not dir or not io.open(dir .. "/memory.limit_in_bytes") then
			pending("no cgroup v1 memory controller here")
			return
		end
		dir = ("%s/strict_soak_%d"):format(dir, support.getpid())
		assert(support.sh("mkdir -p " .. dir .. " && echo 24M > " .. dir .. "/memory.limit_in_bytes"))
		local ok, out = soak("memlimit", ("sh -c 'echo $$ > %s/cgroup.procs && exec \"$@\"' soak "):format(dir))
		support.sh("rmdir " .. dir)
		assert.is_true(ok, out)
		assert.matches("memlimit: stopped after %d+ with errno 12: [^\n]*creating map '[%w_]+' "
			.. "[^\n]*Cannot allocate memory %(map memory is charged to the memory cgroup", out)
		assert.matches("memlimit: usable afterwards: yes", out)
		-- the limit held the process, not this one
		assert.equal("", support.read_file("/proc/self/cgroup"):match("strict_soak") or "")
	end)

	it("RLIMIT_MEMLOCK is not what limits this kernel (memcg accounting since 5.11)", function()
		local ok, out = support.sh(("cd %s && ulimit -l 0 && %s -e %s 2>&1"):format(
			support.quote(support.root), netns.interpreter(),
			support.quote("local o = assert(require('bpf').load('bpf/syscount.bpf.o')) print('loaded') o:close()")))
		assert.is_true(ok, out)
		assert.matches("loaded", out)
	end)
end)
