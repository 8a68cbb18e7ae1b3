-- Tracefs for the trace compiler: the list of tracepoints and each one's record format
-- (/sys/kernel/tracing/events/<category>/<name>/format), parsed into typed fields.
local M = {}

local function read_file(path)
	local f = io.open(path, "rb")
	if not f then return nil end
	local data = f:read("*a")
	f:close()
	return data
end
M.read_file = read_file

local default_root

function M.root(opts)
	local root = opts and opts.tracefs
	if root then return root end
	if default_root then return default_root end
	for _, r in ipairs({ "/sys/kernel/tracing", "/sys/kernel/debug/tracing" }) do
		local f = io.open(r .. "/events/header_page", "rb") -- cheap to open (no listing made)
		if f then
			f:close()
			default_root = r
			return r
		end
	end
	return "/sys/kernel/tracing"
end

local events_cache, events_text = {}, {}

-- Every tracepoint as an array of "category:name" strings (cached per root), and the same as
-- the text of the file with a "\n" before it (to search by a glob's literal part).
function M.events(root)
	if events_cache[root] then return events_cache[root], events_text[root] end
	local data = read_file(root .. "/available_events")
	if not data then return nil, "cannot read " .. root .. "/available_events (is tracefs mounted?)" end
	local list = {}
	for line in data:gmatch("[^\n]+") do list[#list + 1] = line end
	events_cache[root], events_text[root] = list, "\n" .. data
	return list, events_text[root]
end

-- C integer types by name: size, signedness.
local C_INTS = {
	char = { 1, true }, ["signed char"] = { 1, true }, ["unsigned char"] = { 1, false },
	short = { 2, true }, ["short int"] = { 2, true }, ["unsigned short"] = { 2, false },
	["short unsigned int"] = { 2, false }, ["unsigned short int"] = { 2, false },
	int = { 4, true }, ["signed int"] = { 4, true }, signed = { 4, true },
	["unsigned int"] = { 4, false }, unsigned = { 4, false },
	long = { 8, true }, ["long int"] = { 8, true }, ["unsigned long"] = { 8, false },
	["long unsigned int"] = { 8, false }, ["unsigned long int"] = { 8, false },
	["long long"] = { 8, true }, ["long long int"] = { 8, true },
	["unsigned long long"] = { 8, false }, ["long long unsigned int"] = { 8, false },
	bool = { 1, false }, _Bool = { 1, false },
	u8 = { 1, false }, u16 = { 2, false }, u32 = { 4, false }, u64 = { 8, false },
	s8 = { 1, true }, s16 = { 2, true }, s32 = { 4, true }, s64 = { 8, true },
	__u8 = { 1, false }, __u16 = { 2, false }, __u32 = { 4, false }, __u64 = { 8, false },
	__s8 = { 1, true }, __s16 = { 2, true }, __s32 = { 4, true }, __s64 = { 8, true },
	size_t = { 8, false }, ssize_t = { 8, true }, pid_t = { 4, true }, uid_t = { 4, false },
	gid_t = { 4, false }, loff_t = { 8, true }, dev_t = { 4, false }, umode_t = { 2, false },
}
M.C_INTS = C_INTS

-- Parses one "field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;" line.
local function parse_field(line)
	local decl, off, size, signed = line:match("field:([^;]*);%s*offset:(%d+);%s*size:(%d+);%s*signed:(%d+);")
	if not decl then return nil end
	decl = decl:gsub("^%s+", ""):gsub("%s+$", "")
	local f = { offset = tonumber(off), size = tonumber(size), signed = signed == "1", decl = decl }
	local ctype, name, dims = decl:match("^(.-)%s*([%a_][%w_]*)%s*(%[[^%]]*%])$")
	if not ctype then ctype, name = decl:match("^(.-)%s*([%a_][%w_]*)$") end
	if not name then return nil end
	f.name = name
	ctype = ctype:gsub("%s+", " "):gsub("%s+$", "")
	f.ctype = ctype
	if ctype:match("^__data_loc") then
		f.data_loc = true
		f.elem = ctype:gsub("^__data_loc%s*", ""):gsub("%[%]$", "")
		return f
	end
	if dims then
		f.array = tonumber(dims:match("%[(%d+)%]")) or 0
		f.elem = ctype
		return f
	end
	if ctype:find("*", 1, true) then
		f.pointer = true
		f.pointee = ctype:gsub("%s*%*$", "")
		return f
	end
	local base = ctype:gsub("^const ", ""):gsub("^volatile ", ""):gsub("^enum .*", "int")
	f.base = base
	return f
end
M.parse_field = parse_field

-- Parses a format file's text: { name, id, fields = {...}, by_name = {...} }.
function M.parse_format(text)
	local fmt = { fields = {}, by_name = {} }
	fmt.name = text:match("name:%s*([^\n]+)")
	fmt.id = tonumber(text:match("ID:%s*(%d+)") or "")
	for line in text:gmatch("[^\n]+") do
		local f = parse_field(line)
		if f and not f.name:match("^common_") then
			fmt.fields[#fmt.fields + 1] = f
			fmt.by_name[f.name] = f
		end
	end
	return fmt
end

-- Parsed formats by root, category and name: read once per process, as bpftrace does (a format
-- changes only when the module defining the tracepoint is reloaded). probes.lua keeps the
-- tracepoint's canonical probe and target strings in `fmt.names`.
local format_cache = {}

-- The parsed format of tracepoint category:name, or nil.
function M.format(root, category, name)
	local by_cat = format_cache[root]
	if not by_cat then by_cat = {}; format_cache[root] = by_cat end
	local by_name = by_cat[category]
	if not by_name then by_name = {}; by_cat[category] = by_name end
	local fmt = by_name[name]
	if fmt then return fmt end
	local text = read_file(root .. "/events/" .. category .. "/" .. name .. "/format")
	if not text then return nil end
	fmt = M.parse_format(text)
	by_name[name] = fmt
	return fmt
end

return M
