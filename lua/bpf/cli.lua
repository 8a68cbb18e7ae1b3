--[[
bpf.cli: the small pieces the example scripts (examples/*.lua) share, so that each example
shows its BPF work rather than argument plumbing. Not part of the bpf module table:

  local cli = require "bpf.cli"
  local app = cli.new("runqlat", "runqlat.lua [-d SECONDS] [-p TID] [--json]")
  local opts = app:parse(arg, { defaults = { seconds = 5 }, flags = { ["--json"] = "json" },
                                numbers = { ["-d"] = "seconds" } })
  local obj = assert(bpf.load(cli.object_path("runqlat")))
  local link = app:check(obj.programs.on_switch:attach())
]]
local bpf = require "bpf"

local M = {}

local App = {}
App.__index = App

-- An example script called name, whose usage line is usage.
function M.new(name, usage)
	return setmetatable({ name = name, usage_line = usage }, App)
end

-- A bad command line: "NAME: msg" and the usage line on stderr, exit status 2.
function App:usage(msg)
	io.stderr:write(self.name, ": ", msg, "\nusage: ", self.usage_line, "\n")
	os.exit(2)
end

-- A failure at run time: "NAME: msg" on stderr, exit status 1.
function App:die(msg)
	io.stderr:write(self.name, ": ", tostring(msg), "\n")
	os.exit(1)
end

-- Like assert for the library's `nil, message` returns, but ends the script with the message
-- (no traceback: the message already says what went wrong).
function App:check(value, err, ...)
	if not value then self:die(err) end
	return value, err, ...
end

-- Options only (no positional arguments): spec.flags maps a flag ("--json") to the field it
-- sets to true; spec.numbers maps an option ("-d") to the field that takes the next argument as
-- a non-negative number, spec.integers likewise for a non-negative integer. Anything else is a
-- usage error. The result starts as a copy of spec.defaults.
function App:parse(argv, spec)
	local flags, numbers, integers = spec.flags or {}, spec.numbers or {}, spec.integers or {}
	local opts = {}
	for k, v in pairs(spec.defaults or {}) do opts[k] = v end
	local i = 1
	while i <= #argv do
		local a = argv[i]
		if flags[a] then
			opts[flags[a]] = true
			i = i + 1
		elseif numbers[a] or integers[a] then
			local n = tonumber(argv[i + 1])
			if not n or n < 0 or (integers[a] and n ~= math.floor(n)) then
				self:usage(a .. " needs a non-negative " .. (integers[a] and "integer" or "number"))
			end
			opts[numbers[a] or integers[a]] = n
			i = i + 2
		else
			self:usage("unknown argument '" .. a .. "'")
		end
	end
	return opts
end

-- bpf/NAME.bpf.o of this checkout: the object sits next to its source, in the bpf/ directory
-- beside the running script's examples/ directory (or under the current directory).
function M.object_path(name)
	local dir = ((arg and arg[0]) or ""):match("^(.*)/examples/[^/]*$") or "."
	return dir .. "/bpf/" .. name .. ".bpf.o"
end

-- Calls fn(elapsed) once a second (the last step shorter) until seconds have passed, flushing
-- standard output after each call so that a reader of a pipe sees every line at once.
function M.every_second(seconds, fn)
	local elapsed = 0
	while elapsed < seconds do
		local step = math.min(1, seconds - elapsed)
		bpf.sleep(step)
		elapsed = elapsed + step
		fn(elapsed)
		io.stdout:flush()
	end
end

return M
