-- bpf.trace.format against Debian's bpftrace 0.17 itself: each case runs a BEGIN-only bpftrace
-- program that puts known values into maps (or printf's a known line) and exits, and formats the
-- same values given as plain Lua data; the two texts must be equal byte for byte. The exit text
-- (the blank lines, the map order by name, each map's entry order, histogram bars) is compared
-- whole.
local support = require "support.init"
local format = require "bpf.trace.format"

local have_bpftrace = support.sh("command -v bpftrace >/dev/null 2>&1")

-- bpftrace's output of a BEGIN program, without its "Attaching N probe..." line.
local function bpftrace(program)
	local ok, out = support.sh("bpftrace -e " .. support.quote(program) .. " 2>/dev/null")
	assert(ok, "bpftrace failed on: " .. program .. "\n" .. out)
	return (out:gsub("^Attaching %d+ probes?%.%.%.\n", ""))
end

local function check(program, expected)
	if not have_bpftrace then
		pending("bpftrace is not installed (scripts/install-deps.sh installs it)")
		return
	end
	assert.are.equal(bpftrace(program), expected)
end

local function hist_of(values)
	local b = {}
	for _, v in ipairs(values) do
		local s = format.hist_slot(v)
		b[s] = (b[s] or 0) + 1
	end
	return b
end

local function lhist_of(values, min, max, step)
	local b = {}
	for _, v in ipairs(values) do
		local s = format.lhist_slot(v, min, max, step)
		b[s] = (b[s] or 0) + 1
	end
	return b
end

local function scalar(name, kind, value)
	return { name = name, kind = kind, keys = {}, entries = { { key = {}, value = value } } }
end

describe("bpf.trace.format, compared with bpftrace 0.17's own output", function()
	it("prints scalars, counts, sums, min, max, avg and stats at exit", function()
		local maps = {
			scalar("@a", "count", 1),
			scalar("@b", "sum", 5),
			scalar("@c", "avg", { count = 1, total = 7 }),
			scalar("@d", "min", 3),
			scalar("@e", "max", 9),
			scalar("@f", "stats", { count = 2, total = 2 }),
			scalar("@neg", "sum", -5),
			scalar("@t", "string", "hello"),
			scalar("@u", "int", 1),
		}
		check([[BEGIN { @a = count(); @b = sum(5); @c = avg(7); @d = min(3); @e = max(9);
			@f = stats(5); @f = stats(-3); @neg = sum(-5); @t = "hello"; @u = 1; exit(); }]],
			"\n\n" .. format.maps(maps))
	end)

	it("prints keyed maps sorted by value, strings unquoted, two keys as [a, b]", function()
		local maps = {
			{ name = "@g", kind = "count", keys = { "int" }, entries = {
				{ key = { 2 }, value = 2 }, { key = { 1 }, value = 1 }, { key = { 3 }, value = 3 } } },
			{ name = "@h", kind = "sum", keys = { "string", "int" }, entries = {
				{ key = { "x", 2 }, value = 3 }, { key = { "yy", 1 }, value = 1 } } },
			{ name = "@s", kind = "string", keys = { "string" }, entries = {
				{ key = { "b" }, value = "two" }, { key = { "a" }, value = "one" } } },
			{ name = "@i", kind = "int", keys = { "int" }, entries = {
				{ key = { 5 }, value = 4 }, { key = { -1 }, value = 3 } } },
			{ name = "@m", kind = "min", keys = { "int" }, entries = {
				{ key = { 5 }, value = 3 }, { key = { 6 }, value = -2 } } },
			{ name = "@mx", kind = "max", keys = { "string" }, entries = {
				{ key = { "a" }, value = 10 }, { key = { "b" }, value = 3 } } },
			{ name = "@st", kind = "stats", keys = { "string" }, entries = {
				{ key = { "k" }, value = { count = 1, total = 10 } },
				{ key = { "j" }, value = { count = 1, total = 1 } } } },
			{ name = "@av", kind = "avg", keys = { "int" }, entries = {
				{ key = { 1 }, value = { count = 1, total = 5 } },
				{ key = { 2 }, value = { count = 1, total = -7 } } } },
		}
		check([[BEGIN { @g[1] = count(); @g[2] = count(); @g[2] = count();
			@g[3] = count(); @g[3] = count(); @g[3] = count();
			@h["x", 2] = sum(3); @h["yy", 1] = sum(1); @s["b"] = "two"; @s["a"] = "one";
			@i[-1] = 3; @i[5] = 4; @m[5] = min(3); @m[6] = min(-2);
			@mx["a"] = max(10); @mx["b"] = max(3); @st["k"] = stats(10); @st["j"] = stats(1);
			@av[1] = avg(5); @av[2] = avg(-7); exit(); }]], "\n\n" .. format.maps(maps))
	end)

	it("prints log2 histograms: labels, K/M/G suffixes, negative and zero buckets, bars", function()
		local big = { -5, 0, 1, 1024, 1048576, 2, 3, 4, 4, 4 }
		local maps = {
			scalar("@n", "hist", hist_of(big)),
			scalar("@y", "hist", hist_of({ 5 })),
			{ name = "@z", kind = "hist", keys = { "int", "string" }, entries = {
				{ key = { 2, "b" }, value = hist_of({ 100, 100 }) },
				{ key = { 1, "a" }, value = hist_of({ 3 }) } } },
			scalar("@g", "hist", hist_of({ 3000000000 })),
		}
		local prog = {}
		for _, v in ipairs(big) do prog[#prog + 1] = "@n = hist(" .. v .. ");" end
		check("BEGIN { " .. table.concat(prog, " ") .. [[ @y = hist(5);
			@z[1, "a"] = hist(3); @z[2, "b"] = hist(100); @z[2, "b"] = hist(100);
			@g = hist(3000000000); exit(); }]], "\n\n" .. format.maps(maps))
	end)

	it("prints linear histograms: (..., min), [max, ...), K and M labels", function()
		local function lh(name, values, min, max, step, key)
			return { name = name, kind = "lhist", keys = key and { "int" } or {},
				lhist = { min = min, max = max, step = step },
				entries = { { key = key and { key } or {}, value = lhist_of(values, min, max, step) } } }
		end
		local maps = {
			lh("@l", { 5, 150, -3 }, 0, 100, 10),
			lh("@k", { 2097152 }, 0, 4194304, 1048576),
			lh("@q", { 2048 }, 0, 4096, 1024, 7),
			lh("@m", { -1, 9, 10 }, 1, 10, 2),
		}
		check([[BEGIN { @l = lhist(5, 0, 100, 10); @l = lhist(150, 0, 100, 10);
			@l = lhist(-3, 0, 100, 10); @k = lhist(2097152, 0, 4194304, 1048576);
			@q[7] = lhist(2048, 0, 4096, 1024); @m = lhist(-1, 1, 10, 2); @m = lhist(9, 1, 10, 2);
			@m = lhist(10, 1, 10, 2); exit(); }]], "\n\n" .. format.maps(maps))
	end)

	it("prints print(@x) with top and div, cleared and zeroed maps", function()
		local c = { name = "@c", kind = "count", keys = { "int" }, entries = {
			{ key = { 1 }, value = 1 }, { key = { 2 }, value = 2 }, { key = { 3 }, value = 4 } } }
		local h = scalar("@h", "hist", hist_of({ 5, 300 }))
		local a = { name = "@a", kind = "avg", keys = { "int" }, entries = {
			{ key = { 1 }, value = { count = 0, total = 0 } }, { key = { 2 }, value = { count = 0, total = 0 } } } }
		local empty = { name = "@h", kind = "hist", keys = {}, entries = {} }
		local expected = format.map(h) .. format.map(c, { top = 2 }) .. format.map(c, { div = 2 }) ..
			format.map(empty) .. format.map(a) .. "\n\n" .. format.maps({ a, c, empty })
		check([[BEGIN { @h = hist(5); @h = hist(300); print(@h);
			@c[1] = count(); @c[2] = count(); @c[2] = count();
			@c[3] = count(); @c[3] = count(); @c[3] = count(); @c[3] = count();
			print(@c, 2); print(@c, 0, 2); clear(@h); print(@h);
			@a[1] = avg(5); @a[2] = avg(-7); zero(@a); print(@a); exit(); }]], expected)
	end)

	it("ignores print()'s top and div for stats() maps, as bpftrace 0.17", function()
		local st = { name = "@s", kind = "stats", keys = { "int" }, entries = {
			{ key = { 1 }, value = { count = 1, total = 5 } }, { key = { 2 }, value = { count = 1, total = 7 } } } }
		check("BEGIN { @s[1] = stats(5); @s[2] = stats(7); print(@s, 1); print(@s, 0, 2); exit(); }",
			format.map(st, { top = 1 }) .. format.map(st, { div = 2 }) .. "\n\n" .. format.maps({ st }))
		assert.are.equal(format.map(st), format.map(st, { top = 1, div = 2 }))
	end)

	it("formats printf arguments as C does on 64-bit values, and time()", function()
		local lines = {
			format.printf("%%|%u|%ld|%llu|%5.2s|%-8d|%08x|%X|%o|%s|%10s|%-10s|\n",
				{ -1, -2, 3, "abcdef", 4, 255, 255, 8, "q", "right", "left" }),
			format.printf("%d %x %hd %hhu|%5d|%-5d|%.3d|%c%c|%lx|%llx|%-3c|\n",
				{ 4294967301, 4294967301, 65537, 257, 3, 3, 3, 104, 105, -1, -2, 65 }),
			format.printf("%08.3d|%-08d|%ld %lu %lld %llu %zu %jd\n", { 5, 5, -1, -1, -1, -1, -1, -1 }),
			format.printf("%s|%-4s|%4s|%.1s|%d\n", { "abc", "ab", "ab", "xyz", -5 }),
			format.printf("a%%b\n", {}), format.printf("%%%d %%|%d %%\n", { 5, 6 }),
		}
		check([[BEGIN { printf("%%|%u|%ld|%llu|%5.2s|%-8d|%08x|%X|%o|%s|%10s|%-10s|\n",
			-1, -2, 3, "abcdef", 4, 255, 255, 8, "q", "right", "left");
			printf("%d %x %hd %hhu|%5d|%-5d|%.3d|%c%c|%lx|%llx|%-3c|\n",
			4294967301, 4294967301, 65537, 257, 3, 3, 3, 104, 105, -1, -2, 65);
			printf("%08.3d|%-08d|%ld %lu %lld %llu %zu %jd\n", 5, 5, -1, -1, -1, -1, -1, -1);
			printf("%s|%-4s|%4s|%.1s|%d\n", "abc", "ab", "ab", "xyz", -5);
			printf("a%%b\n"); printf("%%%d %%|%d %%\n", 5, 6); exit(); }]],
			table.concat(lines) .. "\n\n")
		assert.are.equal(os.date("%H:%M:%S\n", 0), format.time(nil, 0))
		assert.are.equal("1970", format.time("%Y", 0):sub(1, 4))
	end)

	it("prints stacks in keys and values the way bpftrace 0.17 indents them", function()
		local m = { name = "@", kind = "count", keys = { "kstack" }, entries = {
			{ key = { { "a+1", "b+2" } }, value = 3 } } }
		assert.are.equal("@[\n    a+1\n    b+2\n]: 3\n", format.map(m))
		local v = { name = "@s", kind = "kstack", keys = { "int" }, entries = {
			{ key = { 1 }, value = { "f+0" } }, { key = { 2 }, value = { "g+4" } } } }
		assert.are.equal("@s[1]: \n        f+0\n@s[2]: \n        g+4\n\n", format.map(v))
	end)

	it("rejects what it cannot format with a message", function()
		assert.has_error(function() format.printf("%d\n", {}) end)
		assert.has_error(function() format.printf("%d\n", { "str" }) end)
		assert.has_error(function() format.printf("%f\n", { 1 }) end)
		assert.has_error(function() format.printf("%", { 1 }) end)
	end)
end)
