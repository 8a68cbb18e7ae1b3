-- The static binary's REPL as a person uses it (issue 14): in a real terminal (a tmux pane,
-- keys sent with send-keys, the screen read with capture-pane): tab completion of the module's
-- functions, a handle's methods, an object's maps, programs and globals and tracepoint names in
-- a bpf.trace string; line editing (cursor keys); a history file that outlives the session.
local support = require "support.init"

local q = support.quote
local binary = support.root .. "/build/luabpf"

-- A tmux server of this spec's own (its socket named after the process): other tmux users on
-- the machine are never touched.
local socket = "firsthour_repl_" .. support.getpid()

local function tmux(args)
	return support.sh("tmux -L " .. socket .. " " .. args .. " 2>&1")
end

local function have_tmux()
	return (support.sh("command -v tmux >/dev/null"))
end

describe("the static REPL in a terminal", function()
	local dir, session

	-- The pane's text, trailing blanks and empty lines left out.
	local function screen()
		local _, out = tmux("capture-pane -p -t " .. session)
		return (out:gsub("[ \t]+\n", "\n"):gsub("\n+$", ""))
	end

	-- Waits (bounded) until the screen matches pattern; returns the screen.
	local function wait_for(pattern, what)
		local out
		support.wait_until(function()
			out = screen()
			return out:match(pattern) ~= nil
		end, 5)
		assert.truthy(out:match(pattern), (what or pattern) .. " not on screen:\n" .. out)
		return out
	end

	local function keys(...)
		local parts = {}
		for i, k in ipairs({ ... }) do parts[i] = q(k) end
		assert(tmux("send-keys -t " .. session .. " " .. table.concat(parts, " ")))
	end

	-- Types text literally (-l: no key names), then the given keys.
	local function type_text(text, ...)
		assert(tmux("send-keys -t " .. session .. " -l " .. q(text)))
		if select("#", ...) > 0 then keys(...) end
	end

	local function start()
		session = "repl"
		-- The server of the previous session may still be exiting: wait for it, then retry the
		-- start a few times ("server exited unexpectedly" while it goes).
		support.wait_until(function() return not tmux("has-session -t " .. session) end, 5)
		local ok, out
		for _ = 1, 10 do
			ok, out = tmux(("new-session -d -s %s -x 160 -y 40 -c %s %s"):format(session, q(dir),
				q("env HOME=" .. dir .. " TERM=xterm " .. binary)))
			if ok then break end
			support.sleep(0.2)
		end
		assert(ok, out)
		wait_for("luabpf>$", "the prompt")
	end

	local function stop()
		if session then tmux("kill-server") end
	end

	lazy_setup(function()
		local ok, out = support.sh("mktemp -d /tmp/firsthour_repl.XXXXXX")
		assert(ok, out)
		dir = out:gsub("%s+$", "")
		assert(support.sh("cp " .. q(support.obj("syscount")) .. " " .. q(dir)))
	end)

	lazy_teardown(function()
		stop()
		if dir and dir:match("^/tmp/firsthour_repl%.") then os.execute("rm -rf " .. q(dir)) end
	end)

	before_each(function()
		if not have_tmux() then pending("tmux is not installed") end
	end)

	it("completes the module's functions, handle methods and an object's names", function()
		start()
		type_text("bpf.hel", "Tab")
		wait_for("luabpf> bpf%.help$", "bpf.hel<Tab> -> bpf.help")
		keys("C-u")
		type_text('obj = bpf.load("syscount.bpf.o")', "Enter")
		wait_for("luabpf>$")
		type_text("obj.maps.pid_cou", "Tab")
		wait_for("luabpf> obj%.maps%.pid_counts$", "the map name")
		type_text(":looku", "Tab")
		wait_for("luabpf> obj%.maps%.pid_counts:lookup$", "the map's method")
		keys("C-u")
		type_text("obj.programs.count_r", "Tab")
		wait_for("luabpf> obj%.programs%.count_raw$", "the program name")
		keys("C-u")
		type_text("obj.globals.raw_h", "Tab")
		wait_for("luabpf> obj%.globals%.raw_hits$", "the global's name")
		keys("C-u")
		-- two candidates: the first Tab completes nothing, the second lists both
		type_text("obj:lo", "Tab", "Tab")
		local out = wait_for("obj:load%s+obj:logs", "both candidates listed")
		assert.truthy(out:match("luabpf> obj:lo\n?"), out)
		keys("C-u")
		type_text('bpf.trace("tracepoint:raw_syscalls:sys_en', "Tab")
		wait_for('bpf%.trace%("tracepoint:raw_syscalls:sys_enter$', "the tracepoint name")
		keys("C-u")
		stop()
	end)

	it("edits the line with the cursor keys and keeps a history file across sessions", function()
		start()
		-- typed with a mistake, fixed in place: Home, two steps right, the missing letter
		type_text("prnt(6 * 7)", "Home", "Right", "Right")
		type_text("i", "Enter")
		wait_for("print%(6 %* 7%)\n42\n", "the corrected line's output")
		type_text("answer = 1234 + 1", "Enter")
		wait_for("answer = 1234 %+ 1\nluabpf>$")
		keys("Up")
		wait_for("luabpf> answer = 1234 %+ 1$", "the last line recalled with Up")
		keys("C-u", "C-d")
		support.wait_until(function() return not tmux("has-session -t " .. session) end, 5)
		-- libedit's format: a header line, then the lines with octal escapes (\040 a space)
		local history = support.read_file(dir .. "/.luabpf_history"):gsub("\\(%d%d%d)",
			function(o) return string.char(tonumber(o, 8)) end)
		assert.truthy(history:match("answer = 1234 %+ 1"), history)
		assert.truthy(history:match("print%(6 %* 7%)"), history)
		-- a new session recalls the previous one's lines
		start()
		keys("Up")
		wait_for("luabpf> answer = 1234 %+ 1$", "history from the previous session")
		keys("Up")
		wait_for("luabpf> print%(6 %* 7%)$", "the line before it")
		keys("Enter")
		wait_for("print%(6 %* 7%)\n42\n")
		stop()
	end)
end)
