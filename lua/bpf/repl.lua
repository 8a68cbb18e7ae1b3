--- bpf.repl: how an interactive session shows results, the same in `lua5.4 -i`, `luajit -i` and
-- the REPL of the static `luabpf` binary (which requires this module when it starts).
--
--   lua5.4 -i -l bpf.repl        (luajit -i -l bpf.repl; results need `=expr` there)
--
-- Requiring it sets the global `bpf` and replaces the global `print` with M.print: what `print`
-- shows, except that plain tables are pretty-printed (bpf.pp, sorted keys, nested) instead of
-- "table: 0x...". Handles print their one-line summaries, a map handle too (not its contents:
-- `bpf.pp(map)` shows those).
local bpf = require "bpf"
local pp = require "bpf.pp"

local M = {}
local OPTS = { maps = "summary" }
local write, select, tostring, type, getmetatable = io.write, select, tostring, type, getmetatable

local function has_tostring(v)
	local mt = getmetatable(v)
	return type(mt) == "table" and rawget(mt, "__tostring") ~= nil
end

--- The text M.print writes for its arguments (without the newline).
function M.format(...)
	local parts = {}
	for i = 1, select("#", ...) do
		local v = select(i, ...)
		if type(v) == "table" and not has_tostring(v) then
			parts[i] = pp.format(v, OPTS)
		else
			parts[i] = tostring(v)
		end
	end
	return table.concat(parts, "\t")
end

--- print, with plain tables pretty-printed.
function M.print(...)
	write(M.format(...), "\n")
end

rawset(_G, "bpf", bpf)
rawset(_G, "print", M.print)

return M
