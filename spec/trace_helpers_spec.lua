-- Every helper call of the bpftrace compiler is checked against the helper's prototype as it is
-- generated (bpf.asm_fast): the argument count, and what each argument register holds (a map
-- from ld_map, a stack pointer, the context...). Over programs using every construct, the calls
-- in the instructions are exactly the calls the check saw; a wrong call is refused with the
-- helper, the argument and the bpftrace line; the checked programs load in the kernel.
local bpf = require "bpf"
local support = require "support.init"
local compile = require "bpf.trace.compile"
local load = require "bpf.trace.load"
local codegen = require "bpf.trace.codegen"
local calls = require "bpf.asm_calls"

-- One construct or more per program: builtins, maps, aggregations, strings, events, stacks.
local CORPUS = {
	'BEGIN { printf("hello %d %d %d %d %d\\n", pid, tid, uid, gid, cpu); @c = cgroup; @t = curtask; exit(); }',
	"tracepoint:syscalls:sys_enter_openat /pid != 1/ { @[comm] = count(); @s = sum(args->flags); @a = avg(args->flags); @mi = min(args->flags); @ma = max(args->flags); @st = stats(args->flags); }",
	"tracepoint:syscalls:sys_enter_read { @h = hist(args->count); @l = lhist(args->count, 0, 1000, 100); @n[tid] = nsecs; @e = elapsed; }",
	'tracepoint:syscalls:sys_enter_openat { $f = str(args->filename); if ($f == "/etc/hostname") { @f[$f] = count(); } else { @o = count(); } printf("%s %s\\n", comm, $f); }',
	"tracepoint:sched:sched_switch { @[args->prev_comm, args->next_pid] = count(); @k[kstack(3)] = count(); @u[ustack] = count(); }",
	"tracepoint:syscalls:sys_enter_execve { join(args->argv, \",\"); @u = usym(curtask->mm->start_code); @p = curtask->real_parent->pid; }",
	'BEGIN { $i = 0; unroll(4) { $i++; @a[$i] = $i * 2; } @b = strncmp("abc", "abd", 2); @c = ntop(10, curtask->comm); @d = ksym(kaddr("vfs_read")); }',
	"tracepoint:sock:inet_sock_set_state { @[ntop(args->saddr), ntop(args->daddr_v6), args->newstate] = count(); }",
	"tracepoint:syscalls:sys_enter_getppid { @start[tid] = nsecs; } tracepoint:syscalls:sys_exit_getppid /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); @x++; @y += 3; @z = @y > 3 ? 1 : 2; }",
	"kretprobe:vfs_read { @[retval > 0 ? \"ok\" : \"err\"] = count(); } kprobe:vfs_read { @b = lhist(arg2, 0, 4096, 512); }",
	"BEGIN { $t = (struct task_struct *)curtask; @n = $t->nsproxy->uts_ns->name.nodename; @bit = $t->in_execve; @y = ((struct task_struct *)curtask)->pid; }",
	"interval:ms:100 { print(@c); clear(@c); zero(@d); time(\"%H\\n\"); } tracepoint:raw_syscalls:sys_enter { @c = count(); @d = count(); } END { printf(\"end\\n\"); }",
}

-- The helpers the instructions call: name → count (CALL with src 0: a helper by id).
local function called(b)
	local out = {}
	for _, insn in ipairs(b:insns()) do
		if insn.code == bpf.asm.op.JMP + bpf.asm.op.CALL and insn.src == 0 then
			local name = calls.by_id[insn.imm].name
			out[name] = (out[name] or 0) + 1
		end
	end
	return out
end

-- The helpers the check passed: name → count.
local function checked(b)
	local out = {}
	for i = 1, b.ncalls do
		local name = b.helper_calls[i]
		out[name] = (out[name] or 0) + 1
	end
	return out
end

-- The corpus, and the Debian bpftrace tools when they are installed.
local function programs()
	local list = {}
	for i, src in ipairs(CORPUS) do list[#list + 1] = { name = "corpus " .. i, src = src } end
	local ok, out = support.sh("dpkg -L bpftrace 2>/dev/null | grep '\\.bt$' | sort")
	if ok then
		for path in out:gmatch("[^\n]+") do
			list[#list + 1] = { name = path, src = support.read_file(path), tool = true }
		end
	end
	return list
end

describe("trace helper calls", function()
	it("are all checked: the calls in the instructions are the calls the check saw", function()
		local all, compiled = {}, 0
		for _, p in ipairs(programs()) do
			local plan, err = compile(p.src, { name = p.name })
			-- a tool may use what the subset leaves out or what this kernel lacks; the corpus may not
			if not p.tool then assert(plan, err) end
			if plan then
				compiled = compiled + 1
				for _, pp in ipairs(plan.programs) do
					local seen, saw = called(pp.asm), checked(pp.asm)
					assert.same(seen, saw, p.name .. ": " .. pp.bpf_name)
					for name in pairs(seen) do all[name] = true end
				end
			end
		end
		assert.is_true(compiled >= #CORPUS)
		for _, name in ipairs({ "map_lookup_elem", "map_update_elem", "map_delete_elem",
			"ringbuf_output", "ringbuf_reserve", "ringbuf_submit", "probe_read", "probe_read_str",
			"get_current_comm", "get_stackid", "ktime_get_ns", "get_current_pid_tgid",
			"get_current_uid_gid", "get_smp_processor_id", "get_current_cgroup_id",
			"get_current_task" }) do
			assert.is_true(all["bpf_" .. name] ~= nil, "never called: " .. name)
		end
	end)

	it("load in the kernel as checked (the corpus, maps created, nothing attached)", function()
		for i, src in ipairs(CORPUS) do
			local plan = assert(compile(src))
			local st, err = load(plan, { attach = false })
			assert(st, "corpus " .. i .. ": " .. tostring(err))
			st:close()
		end
	end)

	describe("refuse a wrong call with the helper, the argument and the source line", function()
		local function refusal(hook, src)
			codegen.hooks.before_call = hook
			local ok, plan, err = pcall(compile, src)
			codegen.hooks.before_call = nil
			assert(ok, plan)
			assert.is_nil(plan)
			return err
		end
		local SRC = "BEGIN { @a = 1; }\ntracepoint:syscalls:sys_enter_read { @r[comm] = count(); }"

		it("a map argument that is not a map", function()
			local err = refusal(function(b, name)
				if name == "map_lookup_elem" then b:mov("r1", 7) end
			end, SRC)
			assert.matches("stdin:2:38-56: ERROR: internal compiler error: bpf_map_lookup_elem argument 1 " ..
				"(struct bpf_map *map) must be a map (ld_map), but r1 holds a scalar\n" ..
				"tracepoint:syscalls:sys_enter_read { @r[comm] = count(); }\n", err, 1, true)
		end)

		it("a pointer argument holding a constant", function()
			local err = refusal(function(b, name)
				if name == "get_current_comm" then b:mov("r1", 0) end
			end, SRC)
			assert.matches("stdin:2:38-56: ERROR: internal compiler error: bpf_get_current_comm argument 1 " ..
				"(void *buf) must be a stack pointer, the context or a map value, but r1 holds the constant 0",
				err, 1, true)
		end)

		it("an argument register not set since a merge point", function()
			local err = refusal(function(b, name)
				if name == "map_update_elem" then b:label(b:new_label("merge")) end
			end, SRC)
			assert.matches("stdin:1:9-15: ERROR: internal compiler error: bpf_map_update_elem argument 1 " ..
				"(struct bpf_map *map) must be a map (ld_map), but r1 holds nothing set since the last call or label",
				err, 1, true)
		end)

		it("a scalar argument holding a pointer, and a count other than the prototype's", function()
			local err = refusal(function(b, name)
				if name == "map_update_elem" then b:mov("r4", "r10") end
			end, SRC)
			assert.matches("bpf_map_update_elem argument 4 (u64 flags) must be a scalar, but r4 holds a " ..
				"stack pointer (r10 + offset)", err, 1, true)
			err = refusal(function(_, name, nargs)
				if name == "get_current_comm" then return nargs + 1 end
			end, SRC)
			assert.matches("stdin:2:38-56: ERROR: internal compiler error: bpf_get_current_comm takes 2 " ..
				"arguments (void *buf, u32 size_of_buf), got 3", err, 1, true)
		end)
	end)
end)
