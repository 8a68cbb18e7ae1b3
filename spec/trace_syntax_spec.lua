-- The bpftrace front end in C (lua/ltrace_lex.c, lua/ltrace_parse.c) where it goes beyond the
-- Lua lexer and parser it replaced: bounded nesting everywhere (a message, never a C stack
-- overflow), else-if and ternary chains of any length, bytes no program should hold (NUL,
-- malformed UTF-8) answered with a positioned message, a 1e-form literal with a huge exponent
-- answered at once. Also the preprocessor's search for directive lines and the line locator
-- (bpf.trace.syntax.locator), both checked against a plain reference on many sources.
local compile = require "bpf.trace.compile"
local parser = require "bpf.trace.parser"
local preprocess = require "bpf.trace.preprocess"
local syntax = require "bpf.trace.syntax"

-- The first line of the message compile() gives for src.
local function error_head(src)
	local plan, err = compile(src)
	assert.is_nil(plan)
	assert.is_string(err)
	return (err:match("^[^\n]*"))
end

-- Parses src and returns the first statement of the first probe's action.
local function first_statement(src)
	return parser.parse(src).probes[1].body.stmts[1]
end

describe("trace syntax (C front end)", function()
	it("bounds every kind of nesting at 150 levels with a positioned message", function()
		local deep = {
			"BEGIN { $x = " .. string.rep("(", 151) .. "1" .. string.rep(")", 151) .. "; }",
			"BEGIN { $x = " .. string.rep("!", 151) .. "1; }",
			"BEGIN { $x = " .. string.rep("f(", 151) .. "1" .. string.rep(")", 151) .. "; }",
			"BEGIN { $x = " .. string.rep("@a[", 151) .. "1" .. string.rep("]", 151) .. "; }",
			"BEGIN { $x = " .. string.rep("(int8)", 151) .. "1; }",
			-- the middle operand of a ternary: recursion the Lua parser did not bound
			"BEGIN { $x = " .. string.rep("1 ? ", 151) .. "1" .. string.rep(" : 1", 151) .. "; }",
		}
		for _, src in ipairs(deep) do
			assert.matches("^stdin:1:[%d-]+: ERROR: expression nested too deeply %(more than 150 levels%)$",
				error_head(src))
		end
		assert.matches("^stdin:1:[%d-]+: ERROR: blocks nested too deeply %(more than 150 levels%)$",
			error_head("BEGIN " .. string.rep("{ ", 151) .. string.rep("} ", 151)))
		-- 100,000 levels: still a message (no stack overflow, no hang)
		local t0 = os.clock()
		assert.matches("nested too deeply", error_head("BEGIN { $x = " .. string.rep("(", 100000) .. "1; }"))
		assert.matches("nested too deeply", error_head("BEGIN " .. string.rep("{", 100000)))
		assert.is_true(os.clock() - t0 < 2)
	end)

	it("reads else-if and ternary chains of any length without recursion", function()
		local n = 5000
		local src = "BEGIN { if ($1 == 0) { @x = 0; }"
		for i = 1, n do src = src .. (" else if ($1 == %d) { @x = %d; }"):format(i, i) end
		src = src .. " else { @x = -1; } }"
		local s = first_statement(src)
		local depth = 0
		while s.else_ and s.else_.stmts and s.else_.stmts[1] and s.else_.stmts[1].kind == "if" do
			-- each `else if` is a block holding the nested `if`, and every node ends at the end
			local nested = s.else_.stmts[1]
			assert.equal(nested.pos, s.else_.pos)
			assert.equal(s.epos, nested.epos)
			s = nested
			depth = depth + 1
		end
		assert.equal(n, depth)
		assert.equal("block", s.else_.kind)
		assert.equal(1, s.else_.stmts[1].value.operand.value)

		local expr = "$1 == 0 ? 0"
		for i = 1, n do expr = expr .. (" : $1 == %d ? %d"):format(i, i) end
		local t = first_statement("BEGIN { $x = " .. expr .. " : -1; }").value
		depth = 0
		local epos = t.epos
		while t.kind == "ternary" do
			assert.equal(epos, t.epos)
			t = t.b
			depth = depth + 1
		end
		assert.equal(n + 1, depth)
		assert.equal("unop", t.kind)
	end)

	it("answers NUL bytes and malformed UTF-8 outside strings with a positioned message", function()
		assert.equal("stdin:1:14: ERROR: unexpected character '\\x00'", error_head("BEGIN { $x = \0; }"))
		assert.equal("stdin:2:9: ERROR: unexpected character '\\xc3'", error_head("BEGIN {\n  $x = 1\195\40; }"))
		assert.equal("stdin:1:18: ERROR: unexpected character '\\xff'", error_head('BEGIN { @x = "a" \255; }'))
		-- inside a string literal they are bytes like any other
		local s = first_statement('BEGIN { printf("a\0b\255"); }')
		assert.equal("a\0b\255", s.expr.args[1].value)
		-- and in an attach point they are part of its text
		assert.equal("kprobe:a\0b", parser.parse("kprobe:a\0b { }").probes[1].specs[1].text)
	end)

	it("answers a 1e-form literal with a huge exponent at once", function()
		local t0 = os.clock()
		assert.equal(0, first_statement("BEGIN { $x = 0e99999999999999; }").value.value)
		assert.equal("stdin:1:14-30: ERROR: integer literal out of range",
			error_head("BEGIN { $x = 1e99999999999999; }"))
		assert.is_true(os.clock() - t0 < 1)
	end)

	it("finds preprocessor lines by their first non-blank byte only", function()
		-- (programs built from parts: golden.lua's corpus takes whole program strings from specs)
		local begin = "BEGIN "
		local plain = begin .. '{ printf("#%d", 1); } // #x\n'
		assert.equal(plain, preprocess(plain))
		local text, macros = preprocess(begin .. "{ @ = X; }\n \t#define X 3\n")
		assert.equal(begin .. "{ @ = X; }\n \t" .. string.rep(" ", 11) .. "\n", text)
		assert.equal("3", macros.X.body)
		-- against the pattern it replaces, on sources made of the bytes that matter
		math.randomseed(12)
		local bytes = { "\n", " ", "\t", "#", "a", "\r" }
		for _ = 1, 3000 do
			local t = {}
			for i = 1, math.random(0, 12) do t[i] = bytes[math.random(#bytes)] end
			local src = table.concat(t)
			local has = src:find("^[ \t]*#") or src:find("\n[ \t]*#")
			local ok, out, m = pcall(preprocess, src)
			if has then
				assert.is_false(ok) -- '#' and '#a' are no directives bpftrace knows
			else
				assert.is_true(ok)
				assert.equal(src, out)
				assert.is_nil(m)
			end
		end
	end)

	it("locates byte offsets in any order (bpf.trace.syntax.locator)", function()
		-- the reference: the line is one more than the newlines before pos
		local function reference(src, pos)
			local line, start = 1, 1
			for p in src:gmatch("()\n") do
				if p >= pos then break end
				line, start = line + 1, p + 1
			end
			return line, pos - start + 1
		end
		math.randomseed(5)
		for _, src in ipairs({ "", "\n", "a\n\nbc\n", "x\0y\nz", string.rep("ab\n", 300) }) do
			local where = syntax.locator(src)
			local order = {}
			for pos = 1, #src + 2 do order[#order + 1] = pos end
			for pos = 1, #src + 2 do order[#order + 1] = math.random(1, #src + 2) end
			for _, pos in ipairs(order) do
				local line, col = where(pos)
				local rline, rcol = reference(src, pos)
				assert.equal(rline, line)
				assert.equal(rcol, col)
			end
		end
	end)

	it("gives a statement's text as line info shows it (where(pos, epos))", function()
		-- the reference: what codegen did with sub, find and gsub
		local function reference(src, pos, epos)
			local text = src:sub(pos, epos)
			if text:find("\n", 1, true) or text:find("\t", 1, true) then text = text:gsub("%s+", " ") end
			if #text > 80 then text = text:sub(1, 77) .. "..." end
			return text
		end
		math.randomseed(9)
		local bytes = { "a", " ", "\n", "\t", "\r", "\v", "b", "  ", "\0", "\200" }
		for _ = 1, 300 do
			local t = {}
			for i = 1, math.random(0, 200) do t[i] = bytes[math.random(#bytes)] end
			local src = table.concat(t)
			local where = syntax.locator(src)
			for _ = 1, 20 do
				local pos = math.random(1, #src + 3)
				-- (a negative epos is left out: LuaJIT 2.1.0-beta3's compiled string.sub gets it wrong)
				local epos = math.random(3) == 1 and math.random(0, #src + 5) or pos + math.random(-2, 120)
				local line, col, text = where(pos, epos)
				assert.equal(reference(src, pos, epos), text)
				assert.same({ line, col }, { where(pos) }) -- without epos: no text
			end
			assert.equal(reference(src, 1, #src), select(3, where(1, nil))) -- nil: to the end
		end
	end)
end)
