--[[
bpf.cli: the small pieces the example scripts (examples/*.lua) share, so that each example
shows its BPF work rather than argument plumbing. Also bpf.cli (loaded on first use):

  local cli = require "bpf.cli"
  local app = cli.new("runqlat", "runqlat.lua [-d SECONDS] [-p TID] [--json]",
                      "Run-queue latency as a log2 histogram.")
  local opts = app:parse(arg, { defaults = { seconds = 5 }, flags = { ["--json"] = "json" },
                                numbers = { ["-d"] = "seconds" } })   -- -h/--help: usage, exit 0
  local obj = assert(bpf.load(cli.object_path("runqlat")))
  local link = app:check(obj.programs.on_switch:attach())
  app:run(function() bpf.sleep(opts.seconds) end)   -- Ctrl-C ends the wait, no traceback
  link:detach()

Documented in doc/API.md ("Script helpers").
]]
local bpf = require "bpf"

local unpack = table.unpack or unpack

local M = {}

local App = {}
App.__index = App
App.__name = "bpf.cli.app"

-- An example script called name, whose usage line is usage (about: one line saying what it
-- does, printed by -h).
function M.new(name, usage, about)
	return setmetatable({ name = name, usage_line = usage, about = about }, App)
end

-- -h or --help anywhere in argv: the usage line (and the about line) on stdout, exit status 0.
-- App:parse does it; scripts that read their arguments themselves call it first.
function App:help(argv)
	for _, a in ipairs(argv or {}) do
		if a == "-h" or a == "--help" then
			io.stdout:write("usage: ", self.usage_line, "\n", self.about and self.about .. "\n" or "")
			os.exit(0)
		end
	end
end

-- The error the interpreters (lua5.x, luajit) raise at the next instruction after SIGINT.
local function is_interrupt(err)
	return type(err) == "string" and err:match("interrupted!$") ~= nil
end

-- Runs fn(...) so that Ctrl-C ends it quietly: returns true when fn returned, false when it was
-- interrupted (the script then goes on: detach, close, print totals). Any other error prints
-- "NAME: message" and a traceback on stderr and exits with status 1.
function App:run(fn, ...)
	local args, n = { ... }, select("#", ...)
	-- Not a tail call: the interpreters raise the interruption at the next Lua instruction,
	-- which must still be inside the protected call when fn was a C function (bpf.sleep).
	local ok, err = xpcall(function()
		fn(unpack(args, 1, n))
		return true
	end, function(e)
		if is_interrupt(e) then return e end
		return debug.traceback(tostring(e), 2)
	end)
	if ok then return true end
	if is_interrupt(err) then
		io.stderr:write("\n")
		return false
	end
	self:die(err)
end

-- The same without an App: messages are prefixed with the script's name.
function M.run(fn, ...)
	local name = ((arg and arg[0]) or "lua"):match("([^/]+)$"):gsub("%.lua$", "")
	return M.new(name, name):run(fn, ...)
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
	self:help(argv)
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
