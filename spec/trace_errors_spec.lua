-- Errors of the bpftrace compiler, one class each: parse errors with line, column and caret,
-- unknown probe types, tracepoints, fields and functions with the nearest names suggested,
-- unsupported features named, type errors, the stack limit, and a verifier refusal mapped
-- back to the bpftrace source line.
local asm = require "bpf.asm"
local compile = require "bpf.trace.compile"
local load = require "bpf.trace.load"

-- Compiles `src`, expects a failure; returns the message's three lines.
local function fails(src, opts)
	local plan, err = compile(src, opts)
	assert.is_nil(plan)
	assert.is_string(err)
	local head, line, caret = err:match("^([^\n]*)\n([^\n]*)\n([^\n]*)$")
	assert(head, "not a three-line message: " .. err)
	return head, line, caret
end

describe("trace errors", function()
	it("parse errors give the line, the column and a caret under the token", function()
		local head, line, caret = fails("BEGIN {\n  @x = 1;\n  @y = (1 + ;\n}")
		assert.equal("stdin:3:13: ERROR: expected an expression, found ';'", head)
		assert.equal("  @y = (1 + ;", line)
		assert.equal("            ~", caret) -- tildes only, as bpftrace
		head = fails('BEGIN { printf("abc); }')
		assert.matches("^stdin:1:16%-%d+: ERROR: unterminated string$", head)
		head = fails("BEGIN { @x = 1 }}")
		assert.matches("^stdin:1:17: ERROR: ", head)
		head = fails("BEGIN { @x = 1; ", { name = "prog.bt" })
		assert.equal("prog.bt:1:7: ERROR: unterminated block: '}' expected", head)
		head = fails("kprobe:f /pid == 1 { }")
		assert.matches("expected '/' to end the filter", head)
	end)

	it("unknown probe types, tracepoints and kernel functions suggest the nearest names", function()
		local head, line, caret = fails("kprobee:vfs_read { }")
		assert.equal("stdin:1:1-17: ERROR: unknown probe type 'kprobee' (did you mean 'kprobe', 'uprobe'?)", head)
		assert.equal("kprobee:vfs_read { }", line)
		assert.equal("~~~~~~~~~~~~~~~~", caret)
		head = fails("tracepoint:syscalls:sys_enter_opnat { }")
		assert.matches("unknown tracepoint 'syscalls:sys_enter_opnat' %(did you mean 'syscalls:sys_enter_openat'", head)
		head = fails("kprobe:vfs_raed { }")
		assert.matches("unknown kernel function 'vfs_raed' %(did you mean 'vfs_read'%?%)", head)
		head = fails("kfunc:vfs_raed { }")
		assert.matches("unknown kernel function 'vfs_raed' %(not in the kernel's BTF%) %(did you mean 'vfs_read'", head)
		head = fails("rawtracepoint:sched_swich { }")
		assert.matches("unknown raw tracepoint 'sched_swich' %(did you mean 'sched_switch'%?%)", head)
		head = fails("tracepoint:nosuchcat:x* { }")
		assert.matches("no tracepoint matches 'nosuchcat:x%*'", head)
		head = fails("software:cpu-clock:1 { }")
		assert.matches("`software` probes are not supported", head)
	end)

	it("unknown fields and arguments suggest the nearest names", function()
		local head, line, caret = fails("tracepoint:syscalls:sys_enter_openat { @ = str(args->filenam); }")
		assert.equal("stdin:1:54-61: ERROR: tracepoint syscalls:sys_enter_openat has no field 'filenam' (did you mean 'filename'?)", head)
		assert.equal("                                                     ~~~~~~~", caret)
		local _ = line
		head = fails("kfunc:vfs_read { @ = args->cont; }")
		assert.matches("function 'vfs_read' has no argument 'cont' %(did you mean 'count'%?%)", head)
		head = fails("BEGIN { @ = curtask->pidd; }")
		assert.matches("struct task_struct has no field 'pidd' %(did you mean 'pid'%?%)", head)
		head = fails("BEGIN { @ = pdi; }")
		assert.matches("unknown identifier 'pdi' %(did you mean 'pid'", head)
		head = fails("BEGIN { @ = cuont(); }")
		assert.equal("stdin:1:13-18: ERROR: unknown function 'cuont' (did you mean 'count'?)", head)
	end)

	it("unsupported features are named, never miscompiled", function()
		assert.matches("`cat%(%)` is not supported", (fails("BEGIN { cat(\"/etc/hostname\"); }")))
		assert.matches("`system%(%)` is not supported", (fails('BEGIN { system("ls"); }')))
		assert.matches("`while` loops are not supported", (fails("BEGIN { while (1) { } }")))
		assert.matches("the address%-of operator '&' is not supported", (fails("BEGIN { $x = &pid; }")))
		assert.matches("only `#define NAME VALUE` is supported", (fails("#define F(x) x\nBEGIN { }")))
		assert.matches("preprocessor directive '#pragma' is not supported", (fails("#pragma once\nBEGIN { }")))
		assert.matches("macro 'X' %(1 %+ 2%) is not a single number", (fails("#define X 1 + 2\nBEGIN { @ = X; }")))
		assert.matches("hist%(%) with a second argument other than 0 is not supported",
			(fails("BEGIN { @ = hist(1, 2); }")))
		assert.matches("reading the value of @c %(a count%(%) map%) inside a probe is not supported",
			(fails("BEGIN { @c = count(); @x = @c; }")))
		assert.matches("tuples are not supported", (fails("BEGIN { @x = (1, 2); }")))
		-- #include lines and a shebang are accepted (types come from BTF)
		assert.is_table(compile("#!/usr/bin/env bpftrace\n#include <linux/sched.h>\nBEGIN { @ = 1; }"))
	end)

	it("type errors say what was expected", function()
		assert.matches("printf: %%d expects an integer, string%[16%] given", (fails('BEGIN { printf("%d %s\\n", comm, 1); }')))
		assert.matches("the format has 1 conversion but 0 arguments are given", (fails('BEGIN { printf("%d\\n"); }')))
		assert.matches("map @x is assigned a value here but assigned count%(%) elsewhere", (fails("BEGIN { @x = count(); @x = 1; }")))
		assert.matches("variable %$x holds int64; string%[8%] cannot be assigned", (fails('BEGIN { $x = 1; $x = "a"; }')))
		assert.matches("map @y is read but never assigned", (fails("BEGIN { @x = @y; }")))
		assert.matches("map @x is used with 2 keys here and 1 elsewhere", (fails("BEGIN { @x[1] = 1; @x[1,2] = 2; }")))
		assert.matches("the retval builtin can only be used with kretprobe", (fails("tracepoint:syscalls:sys_enter_openat { @ = retval; }")))
		assert.matches("variable %$y is used before it is assigned", (fails("BEGIN { @ = $y; }")))
		assert.matches("division by zero", (fails("BEGIN { @ = 5 / 0; }")))
		assert.matches("division by zero", (fails("BEGIN { $x = 5; $x %= 0; }")))
		assert.matches("shift by 64: a shift count is 0 to 63", (fails("BEGIN { @ = 1 << 64; }")))
		assert.matches("lhist%(%)'s min, max and step must be constants", (fails("BEGIN { @ = lhist(1, pid, 10, 1); }")))
	end)

	it("a probe that needs more than 512 bytes of stack is refused at the statement", function()
		local head = fails('BEGIN { @x = 1;\n printf("%s %s %s %s %s %s %s %s %s\\n", str(0), str(0), str(0), str(0), str(0), str(0), str(0), str(0), str(0)); }')
		assert.matches("^stdin:2:2%-%d+: ERROR: probe 'BEGIN' needs more than the 512 bytes of BPF stack", head)
	end)

	it("a verifier refusal names the probe and the bpftrace source line (from line info)", function()
		local plan = assert(compile("BEGIN {\n  @x = 1;\n}\n"))
		-- the kernel refuses a read of an uninitialised register; line info says line 2
		local b = asm.new({ name = "BEGIN", file = "stdin" })
		b:line("stdin", 2, 3, "@x = 1")
		b:mov("r0", "r2")
		b:exit()
		plan.programs[1].asm = b
		local st, err = load(plan)
		assert.is_nil(st)
		assert.matches("^stdin:2: ERROR: the kernel refused probe 'BEGIN' at line 2\n  @x = 1;\n", err)
		assert.matches("R2 !read_ok", err)
	end)

	it("kprobes and kfuncs compile here; attaching them reports what this kernel lacks", function()
		local plan = assert(compile("kprobe:vfs_read { @ = count(); } kfunc:vfs_read { @k = count(); }"))
		assert.matches("call bpf_map_lookup_elem", plan.programs[1].text)
		local st, err = load(plan)
		if st then st:close() return end -- a kernel with kprobes and trampolines (6.1, 6.12 VMs)
		assert.matches("probe 'k[a-z]*:vfs_read'", err)
	end)
end)
