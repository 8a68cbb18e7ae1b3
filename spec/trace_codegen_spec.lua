-- The bpftrace compiler end to end on the real kernel: one-liners compiled, loaded and attached
-- (bpf.trace.compile + bpf.trace.load), a controlled workload (exactly N openat calls, reads of
-- known sizes, an exec of a known file, uprobe/USDT calls), and the map contents asserted.
local bpf = require "bpf"
local support = require "support.init"
local compile = require "bpf.trace.compile"
local load = require "bpf.trace.load"

local WORKLOAD = support.root .. "/build/fixtures/trace_workload"
local TARGET = support.root .. "/build/fixtures/probe_target"
local W = '/comm == "trace_workload"/'

local function sh(cmd)
	local ok, out = support.sh(cmd .. " 2>&1")
	assert(ok, out)
	return out
end

-- Compiles and loads `src`, runs the shell command `workload`, detaches (END runs) and returns
-- the state (closed by the caller through `finally`).
local function trace(src, workload, opts)
	local plan = assert(compile(src, opts))
	local st = assert(load(plan))
	finally(function() st:close() end)
	if workload then sh(workload) end
	assert(st:finish())
	return st, plan
end

-- Sum of a per-CPU value array (or a plain value).
local function total(v)
	if type(v) ~= "table" then return v end
	local s = 0
	for _, x in ipairs(v) do s = s + x end
	return s
end

local function field_total(v, f)
	local s = 0
	for _, x in ipairs(v) do s = s + x[f] end
	return s
end

-- Every record of the ring buffer as raw bytes.
local function records(st)
	local out = {}
	local r = assert(st.ringbuf:reader({ raw = true }))
	r:poll(0, function(data) out[#out + 1] = data end)
	return out
end

local function u64(s, off)
	local v = 0
	for i = off + 8, off + 1, -1 do v = v * 256 + s:byte(i) end
	return v
end

local function cstr(s, off, size)
	local z = s:find("\0", off + 1, true)
	local e = (z and z <= off + size) and z - 1 or off + size
	return s:sub(off + 1, e)
end

describe("trace codegen", function()
	it("counts openat calls by comm, filtered on the filename", function()
		local st = trace('tracepoint:syscalls:sys_enter_openat /comm == "trace_workload" && str(args->filename) == "/etc/hostname"/ { @[comm] = count(); @n = count(); }',
			WORKLOAD .. " open 17 /etc/hostname")
		assert.equal(17, total(st.maps["@"]["trace_workload"]))
		assert.equal(17, total(st.maps.n[0]))
	end)

	it("sums, averages and bounds read sizes; log2 and linear histograms by slot", function()
		local st, plan = trace("tracepoint:syscalls:sys_enter_read " .. W .. " { if (args->fd == 42) {" ..
			" @sum = sum(args->count); @avg = avg(args->count); @min = min(args->count);" ..
			" @max = max(args->count); @st = stats(args->count); @h = hist(args->count);" ..
			" @l = lhist(args->count, 0, 1000, 100); } }",
			WORKLOAD .. " read 0 1 2 3 100 4096 250 999 1000 5000")
		local sizes = { 0, 1, 2, 3, 100, 4096, 250, 999, 1000, 5000 }
		local sum = 0
		for _, s in ipairs(sizes) do sum = sum + s end
		assert.equal(sum, total(st.maps.sum[0]))
		local avg = st.maps.avg[0]
		assert.equal(sum, field_total(avg, "total"))
		assert.equal(#sizes, field_total(avg, "count"))
		local lo, hi = math.huge, -math.huge
		for _, v in ipairs(st.maps.min[0]) do if v.set ~= 0 then lo = math.min(lo, v.value) end end
		for _, v in ipairs(st.maps.max[0]) do if v.set ~= 0 then hi = math.max(hi, v.value) end end
		assert.equal(0, lo)
		assert.equal(5000, hi)
		assert.equal(#sizes, field_total(st.maps.st[0], "count"))
		-- bpftrace's log2 slots: 0 → 1, 1 → 2, [2,4) → 3, [64,128) → 8, [512,1024) → 11, [4096,8192) → 14
		local h = {}
		for slot, v in st.maps.h:pairs() do h[slot] = total(v) end
		assert.same({ [1] = 1, [2] = 1, [3] = 2, [8] = 1, [9] = 1, [11] = 2, [14] = 2 }, h)
		-- lhist(0, 1000, 100): v/100 + 1, above max → 11; 1000 itself lands in slot 11 too
		local l = {}
		for slot, v in st.maps.l:pairs() do l[slot] = total(v) end
		assert.same({ [1] = 4, [2] = 1, [3] = 1, [10] = 1, [11] = 3 }, l)
		assert.equal("lhist", plan.maps["@l"].kind)
		assert.same({ min = 0, max = 1000, step = 100 }, plan.maps["@l"].lhist)
	end)

	it("keys maps by several values, strings included", function()
		local st, plan = trace("tracepoint:syscalls:sys_enter_read " .. W .. " { @k[comm, args->fd, args->count] = count(); }",
			WORKLOAD .. " read 7 7 9")
		assert.equal(2, total(st.maps.k[{ k0 = "trace_workload", k1 = 42, k2 = 7 }]))
		assert.equal(1, total(st.maps.k[{ k0 = "trace_workload", k1 = 42, k2 = 9 }]))
		assert.same({ "str", "int", "int" }, { plan.maps["@k"].keys[1].type, plan.maps["@k"].keys[2].type,
			plan.maps["@k"].keys[3].type })
		assert.equal(16 + 8 + 8, plan.maps["@k"].key_size)
	end)

	it("runs if/else, ternaries, unroll, scratch variables and compound assignments", function()
		local st = trace("tracepoint:syscalls:sys_enter_read " .. W .. " { $n = args->count; $big = $n > 100;" ..
			" if ($big) { @big++; } else { @small += 1; } @t[$n > 1000 ? \"huge\" : \"normal\"] = count();" ..
			" unroll(3) { @u++; } $s = comm; @c[$s] = count(); $x = 10; $x *= 3; $x -= 5; @x = $x;" ..
			" @bits = (0xf0 | 0x0f) ^ (1 << 4); @neg = -5 / 1; @m = 17 % 5; }",
			WORKLOAD .. " read 5 200 3000")
		-- the workload's own reads (ld.so) count too: compare with the total
		local n = total(st.maps.c.trace_workload)
		assert.is_true(n >= 3)
		assert.equal(n, st.maps.big[0] + (st.maps.small[0] or 0))
		assert.equal(3 * n, st.maps.u[0])
		assert.equal(25, st.maps.x[0])
		assert.equal("trace_workload", st.maps.c:keys()[1])
		assert.equal(0xef, st.maps.bits[0])
		assert.equal(2, st.maps.m[0])
		assert.is_true(total(st.maps.t.huge) >= 1)
	end)

	it("sizes a string variable for the longest string assigned to it", function()
		local st = trace('BEGIN { $s = "a"; @a = $s; $s = comm; @b = $s; if (1) { $s = "a string longer than any comm"; } @c = $s; }')
		assert.equal("a", st.maps.a[0])
		assert.equal(support.comm(support.getpid()), st.maps.b[0])
		assert.equal("a string longer than any comm", st.maps.c[0])
	end)

	it("reads the task through curtask field chains (BTF)", function()
		local st = trace("tracepoint:syscalls:sys_enter_read " .. W ..
			" { @p[curtask->tgid, curtask->pid] = count(); @same = curtask->tgid == pid; @comm = curtask->comm;" ..
			" @ppid = curtask->real_parent->tgid; @c0 = curtask->comm[0]; }",
			WORKLOAD .. " read 1")
		local key = next(st.maps.p:dump() or {}) and st.maps.p:keys()[1]
		assert.is_table(key)
		assert.equal(1, st.maps.same[0])
		assert.equal("trace_workload", st.maps.comm[0])
		assert.equal(string.byte("t"), st.maps.c0[0])
		-- the workload's parent is the shell that support.sh started, a child of this process
		assert.is_true(st.maps.ppid[0] > 0)
	end)

	it("reads __data_loc strings: sched_process_exec's filename for an exec of a known file", function()
		local st = trace('tracepoint:sched:sched_process_exec /comm == "true" || str(args->filename) == "/usr/bin/true"/ { @f[str(args->filename)] = count(); @pid = args->pid == pid; }',
			WORKLOAD .. " exec /usr/bin/true")
		assert.equal(1, total(st.maps.f["/usr/bin/true"]))
		assert.equal(1, st.maps.pid[0])
	end)

	it("sends printf records through the ring buffer, in order, with their formats", function()
		local st, plan = trace("BEGIN { printf(\"start %s\\n\", \"here\"); } tracepoint:syscalls:sys_enter_openat " .. W ..
			" { printf(\"%s opened %s (%d)\\n\", comm, str(args->filename), 7); } END { printf(\"bye\\n\"); }",
			WORKLOAD .. " open 2 /etc/hostname")
		local recs = records(st)
		assert.is_true(#recs >= 4)
		local first, last = recs[1], recs[#recs]
		local ev = plan.events[u64(first, 0)]
		assert.equal("printf", ev.kind)
		assert.equal("start %s\n", ev.fmt)
		assert.equal("here", cstr(first, ev.args[1].offset, ev.args[1].size))
		assert.equal("bye\n", plan.events[u64(last, 0)].fmt)
		local opened = {}
		for i = 2, #recs - 1 do
			local r = recs[i]
			local e = plan.events[u64(r, 0)]
			assert.equal("%s opened %s (%d)\n", e.fmt)
			assert.same({ "str", "str", "int" }, { e.args[1].type, e.args[2].type, e.args[3].type })
			assert.equal("trace_workload", cstr(r, e.args[1].offset, e.args[1].size))
			assert.equal(7, u64(r, e.args[3].offset))
			opened[cstr(r, e.args[2].offset, e.args[2].size)] = (opened[cstr(r, e.args[2].offset, e.args[2].size)] or 0) + 1
		end
		assert.equal(2, opened["/etc/hostname"])
	end)

	it("sends exit, time, print, clear and zero as records; delete removes a key", function()
		local st, plan = trace("BEGIN { @a[1] = 1; @a[2] = 2; delete(@a[1]); @b = count(); print(@b); clear(@b); zero(@a); time(); exit(); printf(\"not reached\\n\"); }")
		local kinds = {}
		for _, r in ipairs(records(st)) do kinds[#kinds + 1] = plan.events[u64(r, 0)].kind end
		assert.same({ "print_map", "clear", "zero", "time", "exit" }, kinds)
		assert.is_nil(st.maps.a[1])
		assert.equal(2, st.maps.a[2])
		assert.equal("@b", plan.events[1].map)
	end)

	it("fires interval probes and measures elapsed time from BEGIN", function()
		local st = trace("interval:ms:20 { @ticks = count(); @e = elapsed; }", "sleep 0.25")
		local ticks = total(st.maps.ticks[0])
		-- at least 3 periods passed; elapsed (since BEGIN) covers them all
		assert.is_true(ticks >= 3, "ticks " .. ticks)
		assert.is_true(st.maps.e[0] >= ticks * 20 * 1000000 - 20 * 1000000, "elapsed " .. tostring(st.maps.e[0]))
	end)

	it("counts kernel stacks by stack id (the stacks map holds the frames)", function()
		local st, plan = trace("tracepoint:syscalls:sys_enter_read " .. W .. " { @s[kstack] = count(); @u[ustack(3)] = count(); }",
			WORKLOAD .. " read 1")
		assert.equal("kstack", plan.maps["@s"].keys[1].type)
		local id = st.maps.s:keys()[1]
		assert.is_true(id >= 0)
		local frames = st.stacks:stack(id, { symbols = true })
		assert.is_true(#frames > 0)
		assert.equal(3, plan.maps["@u"].keys[1].limit)
	end)

	it("probes a test binary: uprobe arguments, uretprobe return values, USDT arguments", function()
		local st = trace("uprobe:" .. TARGET .. ":lbpf_fixture_add { @calls = count(); @b[arg0] = sum(arg1); }" ..
			" uretprobe:" .. TARGET .. ":lbpf_fixture_add { @ret = lhist(retval, 0, 100, 10); }" ..
			" usdt:" .. TARGET .. ":lbpf_fixture:args { @u[arg0, arg1, arg3] = count(); }",
			TARGET .. " add 5 42 >/dev/null; " .. TARGET .. " args 2 >/dev/null")
		assert.equal(5, total(st.maps.calls[0]))
		for i = 1, 5 do assert.equal(42, total(st.maps.b[i])) end
		assert.equal(5, total(st.maps.ret[5])) -- 43..47 → 1 + 40 / 10
		assert.equal(1, total(st.maps.u[{ k0 = -17, k1 = -300, k2 = -1001 }]))
		assert.equal(1, total(st.maps.u[{ k0 = -17, k1 = -600, k2 = -1002 }]))
	end)

	it("expands tracepoint wildcards into one program per tracepoint", function()
		local st, plan = trace("tracepoint:syscalls:sys_enter_openat*, tracepoint:syscalls:sys_enter_read " .. W .. " { @[probe] = count(); }",
			WORKLOAD .. " open 3 /etc/hostname")
		assert.equal(3, #plan.programs)
		assert.is_true(total(st.maps["@"]["tracepoint:syscalls:sys_enter_openat"]) >= 3)
	end)

	it("computes integers as bpftrace does (unsigned division and shifts, signed comparisons)", function()
		local st = trace("BEGIN { @a = -7 / 2; @b = -8 >> 1; @c = (int8)200; @d = (uint32)-1; @e = 1 < -1;" ..
			" @f = (uint64)-1 > 5; @l = lhist(-1, 0, 10, 5); @l = lhist(10, 0, 10, 5); @h = hist(-3); @g = 7 % 3; }")
		local m = st.maps
		assert.equal("9223372036854775804", support.int_text(m.a[0])) -- (2^64 - 7) / 2
		assert.equal("9223372036854775804", support.int_text(m.b[0])) -- (2^64 - 8) >> 1, logical
		assert.equal(-56, m.c[0])
		assert.equal(4294967295, m.d[0])
		assert.equal(0, m.e[0])
		assert.equal(1, m.f[0])
		assert.equal(1, total(m.l[0])) -- -1 is below min: slot 0
		assert.equal(1, total(m.l[3])) -- 10 (= max) in the last slot
		assert.equal(1, total(m.h[0]))
		assert.equal(1, m.g[0])
	end)

	it("reads the identity builtins (pid, tid, uid, gid, cpu, cgroup, nsecs) in BEGIN", function()
		local st = trace("BEGIN { @pid = pid; @tid = tid; @uid = uid; @gid = gid; @cpu = cpu; @cg = cgroup; @ns = nsecs; @c = comm; }")
		local m = st.maps
		assert.equal(support.getpid(), m.pid[0]) -- BEGIN runs in the loading process (test run)
		assert.equal(m.pid[0], m.tid[0])
		assert.equal(0, m.uid[0])
		assert.equal(0, m.gid[0])
		assert.is_true(m.cpu[0] >= 0 and m.cpu[0] < bpf.num_possible_cpus())
		assert.is_true(m.cg[0] > 0)
		assert.is_true(m.ns[0] > 0)
		assert.equal(support.comm(support.getpid()), m.c[0])
	end)

	it("fires profile probes on every CPU and counts raw tracepoint arguments", function()
		local st = trace("profile:hz:99 { @p[cpu] = count(); } rawtracepoint:sys_enter /arg1 == 110/ { @getppid = count(); }",
			WORKLOAD .. " getppid 25; sleep 0.3")
		local cpus = 0
		for _, v in st.maps.p:pairs() do
			cpus = cpus + 1
			assert.is_true(total(v) >= 1)
		end
		assert.is_true(cpus >= 1)
		-- sys_enter's second argument is the syscall number (110: getppid on x86-64)
		assert.is_true(total(st.maps.getppid[0]) >= 25)
	end)

	it("has the verifier accept programs that mix every construct (loaded, not attached)", function()
		local programs = {
			'tracepoint:syscalls:sys_enter_read { $a = args->count; $s = comm; if ($s == "x" || $a > 5) { @[$s, $a] = count(); } @t = $a > 3 ? $s : "zz"; printf("%s %s %d\\n", $s, @t, $a); }',
			'tracepoint:sched:sched_switch { @[args->prev_comm, args->next_pid] = count(); @s[kstack(3)] = sum(args->prev_pid); printf("%s -> %s\\n", args->prev_comm, args->next_comm); }',
			'tracepoint:sched:sched_process_exec { $f = str(args->filename); @[$f] = count(); if ($f == "/bin/sh") { printf("sh\\n") } @m = max(curtask->real_parent->real_parent->pid); }',
			'tracepoint:syscalls:sys_enter_execve { join(args->argv, ","); @[ustack] = count(); @u = usym(curtask->mm->start_code); }',
			'BEGIN { $i = 0; unroll(10) { $i++; @a[$i] = $i * 2; } @b = strncmp("abc", "abd", 2); @c = ntop(10, curtask->comm); }',
			'tracepoint:sock:inet_sock_set_state { @[ntop(args->saddr), ntop(args->daddr_v6), args->newstate] = count(); }',
			'tracepoint:syscalls:sys_exit_openat /args->ret < 0/ { @e[-args->ret] = count(); @s = stats(args->ret); @mi = min(args->ret); @av = avg(args->ret); }',
			'tracepoint:syscalls:sys_enter_openat { @start[tid] = nsecs; @name[tid] = str(args->filename); } tracepoint:syscalls:sys_exit_openat /@start[tid]/ { @lat[@name[tid]] = hist(nsecs - @start[tid]); delete(@start[tid]); delete(@name[tid]); }',
			'kretprobe:vfs_read { @[retval > 0 ? "ok" : "err"] = count(); } kprobe:vfs_read { @b = lhist(arg2, 0, 4096, 512); }',
			'BEGIN { $t = (struct task_struct *)curtask; @n = $t->nsproxy->uts_ns->name.nodename; @p = $t->se.vruntime; @bit = $t->in_execve; @y = ((struct task_struct *)curtask)->pid; }',
		}
		for _, src in ipairs(programs) do
			local plan = assert(compile(src))
			local st, err = load(plan, { attach = false })
			assert(st, err)
			st:close()
		end
	end)

	it("stores ntop, ksym and usym values", function()
		local st, plan = trace("BEGIN { @ip = ntop(0x0100007f); @k = ksym(kaddr(\"vfs_read\")); }")
		local ip = st.maps.ip[0]
		assert.equal(2, ip.family)
		assert.same({ 127, 0, 0, 1 }, { ip.addr[1], ip.addr[2], ip.addr[3], ip.addr[4] })
		assert.equal("inet", plan.maps["@ip"].value.type)
		assert.equal("vfs_read", (bpf.ksym(st.maps.k[0])))
	end)
end)
