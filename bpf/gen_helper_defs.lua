#!/usr/bin/env lua5.4
--[[
Generates bpf_helper_defs.h: one declaration per BPF helper, with the helper's id and prototype,
from the kernel UAPI header linux/bpf.h.

  lua5.4 bpf/gen_helper_defs.lua /usr/include/linux/bpf.h > build/gen/bpf_helper_defs.h
  lua5.4 bpf/gen_helper_defs.lua --lua /usr/include/linux/bpf.h > lua/bpf/asm_helpers.lua

Where the facts come from:
  * ids: the FN(...) entries of the __BPF_FUNC_MAPPER macro. Headers before 6.2 list names only,
    so the id is the entry's position (FN(unspec) is 0); newer headers write FN(name, id, ...)
    and the explicit id wins.
  * prototypes: the helper documentation comment, where each helper starts with a line
    " * <return type> bpf_<name>(<args>)" (one space after the star; description lines are
    indented with tabs).

A helper documented more than once with different context types (bpf_get_socket_cookie,
bpf_sk_assign) gets "void *" for the arguments that differ, so every documented use compiles.

Types are written as plain C types (unsigned long long rather than __u64) so the generated header
compiles whether the program includes <linux/types.h>, a vmlinux.h, or neither.
]]

-- "--lua": write the Lua helper table of bpf.asm instead (lua/bpf/asm_helpers.lua).
local lua_mode = arg[1] == "--lua"
local path = arg[lua_mode and 2 or 1] or "/usr/include/linux/bpf.h"
local f, err = io.open(path, "r")
if not f then
	io.stderr:write("gen_helper_defs: ", err, "\n")
	os.exit(1)
end
local text = f:read("a")
f:close()

local function fail(msg)
	io.stderr:write("gen_helper_defs: ", path, ": ", msg, "\n")
	os.exit(1)
end

-- The mapper macro ends at the first line without a continuation backslash. Headers from 6.2 on
-- define the list as ___BPF_FUNC_MAPPER(FN, ctx...) with explicit ids; older ones as
-- __BPF_FUNC_MAPPER(FN) with positions.
local function mapper_body(src)
	local start = src:find("#define ___BPF_FUNC_MAPPER%(FN") or
		src:find("#define __BPF_FUNC_MAPPER%(FN")
	if not start then return nil end
	local lines = {}
	for line in src:sub(start):gmatch("([^\n]*)\n") do
		lines[#lines + 1] = line
		if not line:find("\\%s*$") then break end
	end
	-- Drop the "#define ...(FN...)" head so its parameter list is not read as an entry.
	lines[1] = lines[1]:gsub("^#define%s+[%w_]+%b()", "")
	return table.concat(lines, "\n")
end

-- Helper ids: explicit FN(name, id, ...) or the entry's position.
local function parse_ids(body)
	local ids, order = {}, {}
	local position = 0
	for inner in body:gmatch("FN%(([^)]*)%)") do
		local name, id = inner:match("^%s*([%w_]+)%s*,%s*(%d+)")
		if not name then
			name = inner:match("^%s*([%w_]+)%s*$")
			id = position
		end
		if not name then fail("cannot read FN entry '" .. inner .. "'") end
		id = tonumber(id)
		ids[name] = id
		order[#order + 1] = name
		position = id + 1
	end
	return ids, order
end

local C_TYPES = {
	u8 = "unsigned char", u16 = "unsigned short", u32 = "unsigned int",
	u64 = "unsigned long long", s8 = "signed char", s16 = "short", s32 = "int",
	s64 = "long long", __u8 = "unsigned char", __u16 = "unsigned short",
	__u32 = "unsigned int", __u64 = "unsigned long long", __s32 = "int", __s64 = "long long",
	__be16 = "unsigned short", __be32 = "unsigned int", __be64 = "unsigned long long",
	__wsum = "unsigned int", size_t = "unsigned long",
}

-- The documentation names the kernel's internal context structs; programs see their UAPI mirrors.
-- Maps are passed as pointers to the program's own (anonymous) map-definition structs, so
-- "struct bpf_map *" becomes "void *".
local PROGRAM_VIEW = {
	["struct sk_buff"] = "struct __sk_buff", ["struct xdp_buff"] = "struct xdp_md",
	["struct sk_msg_buff"] = "struct sk_msg_md", ["struct bpf_map"] = "void",
}

-- "const u64 *" -> "const unsigned long long *"; collects struct names for forward declarations.
local function c_type(t, structs)
	t = t:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
	t = t:gsub("struct [%w_]+", PROGRAM_VIEW)
	local s = t:match("struct ([%w_]+)")
	if s then structs[s] = true end
	return (t:gsub("[%w_]+", function(word) return C_TYPES[word] or word end))
end

-- Splits "struct bpf_map *map" into type "struct bpf_map *" and name "map".
local function split_arg(a)
	a = a:gsub("^%s+", ""):gsub("%s+$", "")
	if a == "void" or a == "..." then return a, nil end
	local ty, name = a:match("^(.-[%s%*])([%w_]+)$")
	if not ty then fail("cannot read argument '" .. a .. "'") end
	return ty, name
end

local function parse_prototypes(src)
	local first = src:find("Start of BPF helper function descriptions", 1, true)
	if not first then fail("no helper documentation comment found") end
	local last = src:find("\n %*/", first) or #src
	local doc = src:sub(first, last)
	local protos, order = {}, {}
	for line in doc:gmatch("[^\n]+") do
		local ret, name, args = line:match("^ %* ([%w_][%w_ ]-[%s%*]+)bpf_([%w_]+)%((.*)%)%s*$")
		if ret then
			local parsed = {}
			for a in args:gmatch("[^,]+") do
				local ty, an = split_arg(a)
				parsed[#parsed + 1] = { type = ty, name = an }
			end
			local p = protos[name]
			if not p then
				protos[name] = { ret = ret, args = parsed }
				order[#order + 1] = name
			else
				-- Same helper documented for another context: widen the differing pointers.
				for i, a in ipairs(p.args) do
					local other = parsed[i]
					if other and other.type ~= a.type then
						a.type, a.widened = "void *", true
					end
				end
			end
		end
	end
	return protos, order
end

local body = mapper_body(text)
if not body then fail("no __BPF_FUNC_MAPPER list found") end
local ids, id_order = parse_ids(body)
local protos = parse_prototypes(text)

-- The kind of an argument for bpf.asm's checks: a map, a pointer, or a scalar. The header
-- declares a few map arguments as "void *ringbuf" / "void *map" (the kernel's ARG_CONST_MAP_PTR).
local function arg_kind(ty, name)
	if ty:find("struct bpf_map%s*%*") then return "map" end
	if ty == "void *" and (name == "ringbuf" or name == "map") then return "map" end
	if ty:find("%*") then return "ptr" end
	return "int"
end

-- lua/bpf/asm_helpers.lua for bpf.asm: one line per helper in one string,
--   "NAME ID|RET|ARG;ARG...|KIND,KIND...|variadic"
-- which bpf.asm_calls turns into { id, name, ret, args, kinds, variadic } tables on first use:
-- loading the module then costs one string, not some 600 tables (start-up of `luabpf trace`).
local function write_lua_table()
	local out = { "-- Generated by bpf/gen_helper_defs.lua --lua from " .. path .. ". Do not edit.",
		"-- BPF helpers for bpf.asm, one a line: NAME ID|RET|ARG;ARG...|KIND,KIND...|variadic, where",
		"-- ARG is the C parameter and KIND \"map\" (a struct bpf_map *, or void *ringbuf/map),",
		"-- \"ptr\" (another pointer) or \"int\" (a scalar). bpf.asm_calls decodes a line on first use.",
		"return [[" }
	for _, name in ipairs(id_order) do
		local p = protos[name]
		if name ~= "unspec" and p then
			local args, kinds, variadic = {}, {}, false
			for _, a in ipairs(p.args) do
				if a.type == "..." then
					variadic = true
				elseif a.type ~= "void" then
					local ty = a.type:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
					args[#args + 1] = ty .. (ty:sub(-1) == "*" and "" or " ") .. a.name
					kinds[#kinds + 1] = arg_kind(ty, a.name)
				end
			end
			local ret = p.ret:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
			out[#out + 1] = string.format("%s %d|%s|%s|%s|%s", name, ids[name], ret,
				table.concat(args, ";"), table.concat(kinds, ","), variadic and "variadic" or "")
		end
	end
	out[#out + 1] = "]]"
	io.write(table.concat(out, "\n"), "\n")
end

if lua_mode then
	write_lua_table()
	return
end

local structs, decls, missing = {}, {}, {}
for _, name in ipairs(id_order) do
	local p = protos[name]
	if name ~= "unspec" then
		if not p then
			missing[#missing + 1] = name
		else
			local args = {}
			for _, a in ipairs(p.args) do
				if a.type == "void" or a.type == "..." then
					args[#args + 1] = a.type
				else
					local ty = c_type(a.type, structs)
					local sep = ty:sub(-1) == "*" and "" or " "
					args[#args + 1] = ty .. sep .. a.name
				end
			end
			local ret = c_type(p.ret, structs)
			decls[#decls + 1] = string.format("static %s(* const bpf_%s)(%s) = (void *) %d;",
				ret:sub(-1) == "*" and ret or ret .. " ", name, table.concat(args, ", "), ids[name])
		end
	end
end

if #decls == 0 then fail("no helper prototypes found") end

local out = {}
local function emit(s) out[#out + 1] = s end
emit("/* Generated by bpf/gen_helper_defs.lua from " .. path .. ". Do not edit. */")
emit("#ifndef LUABPF_BPF_HELPER_DEFS_H")
emit("#define LUABPF_BPF_HELPER_DEFS_H")
emit("")
emit("/* Structs the helper prototypes mention; the program's own headers may define them. */")
local snames = {}
for s in pairs(structs) do snames[#snames + 1] = s end
table.sort(snames)
for _, s in ipairs(snames) do emit("struct " .. s .. ";") end
emit("")
emit("/* Each helper is a constant function pointer holding its id: the compiler turns a call")
emit(" * through it into the BPF \"call <id>\" instruction. */")
for _, d in ipairs(decls) do emit(d) end
if #missing > 0 then
	emit("")
	emit("/* Listed in __BPF_FUNC_MAPPER without a documented prototype: " ..
		table.concat(missing, ", ") .. " */")
end
emit("")
emit("#endif")
io.write(table.concat(out, "\n"), "\n")
