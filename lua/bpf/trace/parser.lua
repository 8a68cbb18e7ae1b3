-- Parser for the bpftrace language: source text to an AST of plain tables (`kind` plus fields,
-- every node with `pos`/`epos` byte offsets into the source for error messages). The lexer and
-- the parser are C (lua/ltrace_lex.c, lua/ltrace_parse.c); the preprocessor is Lua.
local preprocess = require "bpf.trace.preprocess"
local diag = require "bpf.trace.diag"
require "bpf" -- registers the C front end, "bpf.trace.syntax"
local syntax = require "bpf.trace.syntax"

-- Parses a whole program; raises diag errors.
local function parse(src)
	local text, macros = preprocess(src)
	local ast, pos, epos, message = syntax.parse(text, macros)
	if not ast then diag.raise({ pos = pos, epos = epos }, message) end
	return ast
end

return { parse = parse }
