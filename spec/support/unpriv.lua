-- A throwaway unprivileged account for specs: created with useradd, Lua run as it with setpriv
-- (optionally with a few capabilities), removed afterwards.
--
--   local unpriv = require "support.unpriv"
--   local user = unpriv.create()
--   local ok, out = user:run_lua("print(require 'bpf'.features())", { caps = "bpf" })
--   user:remove()
local support = require "support.init"
local netns = require "support.netns"

local M = {}
local User = {}
User.__index = User

-- A fresh account named after the branch-independent prefix and this process.
function M.create()
	local name = ("strict_u%d"):format(support.getpid())
	support.sh("userdel " .. name .. " 2>/dev/null")
	local ok, out = support.sh("useradd --system --no-create-home --shell /usr/sbin/nologin "
		.. name .. " 2>&1")
	assert(ok, "useradd failed: " .. out)
	return setmetatable({ name = name }, User)
end

-- Runs code in a fresh interpreter of the spec's kind as the user; opts.caps: capabilities to
-- keep ("bpf", "bpf,perfmon"). Returns success and the combined output.
function User:run_lua(code, opts)
	opts = opts or {}
	local script = support.tmpname()
	support.write_file(script, code)
	support.sh("chmod 644 " .. script)
	local caps = ""
	if opts.caps then
		local list = ("+" .. opts.caps):gsub(",", ",+")
		caps = ("--inh-caps=%s --ambient-caps=%s "):format(list, list)
	end
	local ok, out = support.sh(("cd %s && setpriv --reuid=%s --regid=%s --clear-groups %s%s %s 2>&1")
		:format(support.quote(support.root), self.name, self.name, caps, netns.interpreter(), script))
	os.remove(script)
	return ok, out
end

function User:remove()
	support.sh("userdel " .. self.name .. " 2>/dev/null")
end

return M
