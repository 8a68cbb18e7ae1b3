-- Writes a ready luabpf project: NAME.bpf.c, NAME.lua, a Makefile and include/ (our BPF headers,
-- copied so that the project builds on its own).
--
-- Two callers:
--   the static binary (`luabpf new NAME [DIR]`) calls this chunk with
--     (embedded, NAME, DIR, RUNNER)  where embedded(name) returns a built-in file;
--   `make new` runs it as a script:
--     lua5.4 tools/new-project/new.lua NAME DIR RUNNER RUN_ENV HEADER...
--   with the headers as paths (bpf/include/*.h and the generated bpf_helper_defs.h).
-- RUNNER is the interpreter the project's `make run` uses by default; RUN_ENV is put before it
-- (environment for a module that is not installed: LUA_CPATH into a build tree), or "".
local args = { ... }

local function read_file(path)
	local f, err = io.open(path, "rb")
	if not f then error("cannot read " .. err, 0) end
	local data = f:read("a")
	f:close()
	return data
end

local function basename(path)
	return path:match("([^/]+)$")
end

-- A source of files: templates by name, and the list of headers (name -> contents).
local function embedded_source(embedded)
	local headers = {}
	for _, name in ipairs(embedded()) do
		local h = name:match("^include/(.+%.h)$")
		if h then headers[h] = embedded(name) end
	end
	return function(t) return assert(embedded("new/templates/" .. t), "missing template " .. t) end,
		headers
end

local function file_source(script_path, header_paths)
	local dir = script_path:match("^(.*)/[^/]*$") or "."
	local headers = {}
	for _, p in ipairs(header_paths) do headers[basename(p)] = read_file(p) end
	return function(t) return read_file(dir .. "/templates/" .. t) end, headers
end

local template, headers, name, dir, runner, run_env
if type(args[1]) == "function" then
	template, headers = embedded_source(args[1])
	name, dir, runner, run_env = args[2], args[3], args[4], ""
else
	name, dir, runner, run_env = args[1], args[2], args[3], args[4] or ""
	local header_paths = {}
	for i = 5, #args do header_paths[#header_paths + 1] = args[i] end
	template, headers = file_source(arg and arg[0] or "tools/new-project/new.lua", header_paths)
end

local function fail(msg)
	io.stderr:write("luabpf new: ", msg, "\n")
	os.exit(1)
end

if not name or name == "" then fail("usage: luabpf new NAME [DIR]") end
-- NAME names C functions and files: a C identifier keeps both valid.
if not name:match("^[%a_][%w_]*$") then
	fail("'" .. name .. "' is not a valid project name (letters, digits and _, not starting with a digit)")
end
if not dir or dir == "" then dir = name end
if next(headers) == nil or not headers["bpf_helpers.h"] then
	fail("no BPF headers to copy (bpf_helpers.h missing)")
end

local function shell_quote(s)
	return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function exists(path)
	local f = io.open(path, "rb")
	if f then f:close() end
	return f ~= nil
end

local function write(path, data)
	local f, err = io.open(path, "wb")
	if not f then fail("cannot write " .. err) end
	f:write(data)
	f:close()
end

-- The physical absolute path of an existing directory.
local function realpath(path)
	local p = io.popen("cd " .. shell_quote(path) .. " && pwd -P")
	local out = p and p:read("*l")
	if p then p:close() end
	return out
end

-- The path from directory from to directory to, both absolute ("../../luabpf").
local function relative(from, to)
	local a, b = {}, {}
	for part in from:gmatch("[^/]+") do a[#a + 1] = part end
	for part in to:gmatch("[^/]+") do b[#b + 1] = part end
	local common = 0
	while common < #a and common < #b and a[common + 1] == b[common + 1] do common = common + 1 end
	local out = {}
	for _ = common + 1, #a do out[#out + 1] = ".." end
	for i = common + 1, #b do out[#out + 1] = b[i] end
	return #out > 0 and table.concat(out, "/") or "."
end

-- Written by `make new` in a checkout: the Makefile finds the module's build through LUABPF,
-- the checkout's path relative to the project.
local function luabpf_line()
	local checkout = os.getenv("LUABPF_CHECKOUT")
	if not checkout or checkout == "" then return "" end
	local from, to = realpath(dir), realpath(checkout)
	if not from or not to then fail("cannot resolve " .. dir .. " or " .. checkout) end
	return "# The luabpf checkout whose module `make run` uses (relative to this directory).\n" ..
		"LUABPF ?= " .. relative(from, to) .. "\n"
end

local function fill(text)
	return (text:gsub("@(%u[%u_]*)@", { NAME = name, RUNNER = runner or "luabpf",
		RUN_ENV = run_env, LUABPF_LINE = luabpf_line() }))
end

for _, f in ipairs { "/Makefile", "/" .. name .. ".bpf.c", "/" .. name .. ".lua" } do
	if exists(dir .. f) then fail(dir .. f .. " exists already: not overwriting it") end
end
if not os.execute("mkdir -p " .. shell_quote(dir .. "/include")) then
	fail("cannot create " .. dir .. "/include")
end

write(dir .. "/Makefile", fill(template("Makefile")))
write(dir .. "/" .. name .. ".bpf.c", fill(template("NAME.bpf.c")))
write(dir .. "/" .. name .. ".lua", fill(template("NAME.lua")))
local names = {}
for h, data in pairs(headers) do
	write(dir .. "/include/" .. h, data)
	names[#names + 1] = h
end
table.sort(names)
print(("created %s: Makefile %s.bpf.c %s.lua include/{%s}"):format(dir, name, name,
	table.concat(names, ",")))
print(("next: cd %s && make && make run"):format(dir))
