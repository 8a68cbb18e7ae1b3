-- Faults and limits, run by `make check-soak` (and, in small doses, by spec/soak_spec.lua):
--
--   soak.lua cycles N [gc]   N x (open + load + attach + detach + close) in this process; "gc":
--                            handles are dropped and only the garbage collector closes them.
--                            Prints fd count and RSS after warm-up and at the end; fails unless
--                            both are flat.
--   soak.lua hold PIN        loads, attaches both programs, pins one link at PIN (when not "-"),
--                            prints the ids ("ids prog=... link=...") and sleeps until killed
--   soak.lua fdlimit         loads objects until the fd limit (ulimit -n) stops it; prints the
--                            failure, closes them and loads once more to show the process usable
--   soak.lua memlimit        creates maps until the memory limit (memcg) stops it; the same
--
-- Every line it prints starts with the part's name, so a caller can grep for its summary.
local bpf = require "bpf"

local ROOT = arg[0]:match("^(.*)/scripts/[^/]+$") or "."
local OBJ = ROOT .. "/bpf/syscount.bpf.o"

local function read_file(path)
	local f = assert(io.open(path, "r"))
	local s = f:read("*a")
	f:close()
	return s
end

local PID = tonumber(read_file("/proc/self/stat"):match("^(%d+)"))

-- Open fds other than pipes: what luabpf opens (bpf objects, perf events, files) is never a pipe,
-- and leaving pipes out leaves out io.popen's own, of which the parent briefly holds one or two.
local function fd_count()
	local p = assert(io.popen("ls -l /proc/" .. PID .. "/fd | awk '/->/ && !/-> pipe:/ { n++ } END { print n + 0 }'"))
	local n = tonumber(p:read("*a"))
	p:close()
	return n
end

local function rss_kb()
	return tonumber(read_file("/proc/self/status"):match("VmRSS:%s*(%d+)"))
end

local function settle()
	collectgarbage()
	collectgarbage()
end

-- One cycle; with gc = true nothing is closed by hand.
local function cycle(gc)
	local obj = assert(bpf.open(OBJ))
	assert(obj:load())
	local l1 = assert(obj.programs.count_syscalls:attach())
	local l2 = assert(obj.programs.count_raw:attach())
	if not gc then
		assert(l1:detach())
		assert(l2:detach())
		obj:close()
	end
end

local function cycles(n, gc)
	local warm = math.min(200, math.floor(n / 5))
	for _ = 1, warm do cycle(gc) end
	settle()
	local fd0, rss0, max_fd = fd_count(), rss_kb(), 0
	local t0 = os.clock()
	for i = warm + 1, n do
		cycle(gc)
		if i % 25 == 0 then
			max_fd = math.max(max_fd, fd_count())
		end
	end
	settle()
	local fd1, rss1 = fd_count(), rss_kb()
	max_fd = math.max(max_fd, fd1)
	-- Flat: the same fds after collection, RSS within 1 MB of the warmed-up figure (allocator noise).
	local flat = fd1 <= fd0 and rss1 - rss0 < 1024
	print(("cycles: %d cycles (%s), fds %d -> %d (max seen %d), rss %d KB -> %d KB (%+d KB), "
		.. "%.2f ms/cycle cpu: %s"):format(n, gc and "closed by the GC" or "closed explicitly",
		fd0, fd1, max_fd, rss0, rss1, rss1 - rss0, (os.clock() - t0) * 1000 / (n - warm),
		flat and "flat" or "GROWING"))
	os.exit(flat and 0 or 1)
end

local function hold(pin)
	local obj = assert(bpf.load(OBJ))
	local l1 = assert(obj.programs.count_syscalls:attach())
	local l2 = assert(obj.programs.count_raw:attach())
	if pin ~= "-" then assert(l2:pin(pin)) end
	print(("hold: ids prog=%d,%d link=%d,%d"):format(obj.programs.count_syscalls:info().id,
		obj.programs.count_raw:info().id, l1:info().id, l2:info().id))
	io.stdout:flush()
	while true do bpf.sleep(1) end
end

-- Loads until the limit stops it; then closes everything and loads once more.
local function until_limit(name, step)
	local held, msg, errno = {}, nil, nil
	for _ = 1, 100000 do
		local h
		h, msg, errno = step()
		if not h then break end
		held[#held + 1] = h
	end
	print(("%s: stopped after %d with errno %s: %s"):format(name, #held, tostring(errno), tostring(msg)))
	for _, h in ipairs(held) do h:close() end
	held = nil
	settle()
	-- The kernel frees maps after an RCU grace period: memory comes back shortly after close.
	local obj, err, waited = nil, nil, 0
	repeat
		obj, err = bpf.load(OBJ)
		if not obj then bpf.sleep(0.1) waited = waited + 0.1 end
	until obj or waited >= 5
	print(("%s: usable afterwards: %s (after %.1f s)"):format(name,
		obj and "yes" or ("NO: " .. tostring(err)), waited))
	if obj then obj:close() end
	os.exit(obj and errno and 0 or 1)
end

local function load_one()
	local obj, msg, errno = bpf.open(OBJ)
	if not obj then return nil, msg, errno end
	local ok
	ok, msg, errno = obj:load()
	if not ok then obj:close() return nil, msg, errno end
	return obj
end

local what = arg[1]
if what == "cycles" then
	cycles(tonumber(arg[2]) or 10000, arg[3] == "gc")
elseif what == "hold" then
	hold(arg[2] or "-")
elseif what == "fdlimit" then
	until_limit("fdlimit", load_one)
elseif what == "memlimit" then
	until_limit("memlimit", load_one)
else
	io.stderr:write("usage: soak.lua cycles N [gc] | hold PIN | fdlimit | memlimit\n")
	os.exit(2)
end
