-- Synthetic "older kernel" BTFs for the CO-RE specs: each variant is a C file laying out
-- struct lbpf_core_item / enum lbpf_core_color (the types bpf/core_synth.bpf.c relocates) in its
-- own way. It is compiled twice: with clang -target bpf -g, whose .BTF is the CO-RE target, and
-- with the host compiler into a program that prints the ground truth (offsetof, sizeof, enum
-- values) and an item image filled with known values, as a Lua table.
local support = require "support.init"

local M = {}

-- The printing program; fields a variant lacks are skipped with HAS_* macros.
local HOST_MAIN = [[
#ifdef HOST
#include <stddef.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct lbpf_core_item it;
	unsigned char *p = (unsigned char *)&it;
	memset(&it, 0, sizeof(it));
#ifdef HAS_ID
	it.id = 1234;
#else
	it.old_id = 4321;
#endif
	it.value = -5;
	strcpy(it.name, "abc");
	it.arr[2] = 77;
	it.inner.y = 31;
	it.nested_x = 4242;
	it.flag_a = 5;
	it.flag_b = -3;
#ifdef HAS_EXTRA
	it.extra = 99;
#endif
	printf("return {\n");
#ifdef HAS_ID
	printf("off_id = %zu,\n", offsetof(struct lbpf_core_item, id));
#else
	printf("off_old_id = %zu,\n", offsetof(struct lbpf_core_item, old_id));
#endif
	printf("off_value = %zu, size_value = %zu,\n", offsetof(struct lbpf_core_item, value),
	       sizeof(it.value));
	printf("off_name = %zu, size_name = %zu,\n", offsetof(struct lbpf_core_item, name),
	       sizeof(it.name));
	printf("off_arr2 = %zu,\n", offsetof(struct lbpf_core_item, arr) + 2 * sizeof(it.arr[0]));
	printf("off_inner_y = %zu,\n", offsetof(struct lbpf_core_item, inner) +
	       offsetof(struct lbpf_core_inner, y));
	printf("off_nested_x = %zu,\n", offsetof(struct lbpf_core_item, nested_x));
	printf("type_size = %zu,\n", sizeof(struct lbpf_core_item));
	printf("green = %d, blue = %d,\n", (int)LBPF_GREEN, (int)LBPF_BLUE);
	printf("image = \"");
	for (size_t i = 0; i < sizeof(it); i++)
		printf("\\%03u", p[i]);
	printf("\",\n}\n");
	return 0;
}
#endif
/* Globals make clang emit the types into .BTF. */
struct lbpf_core_item lbpf_core_item_instance;
enum lbpf_core_color lbpf_core_color_instance;
]]

-- Variants: C text of the types plus the HAS_* defines.
M.variants = {
	-- The very layout the program was compiled with.
	same = {
		defines = { "HAS_ID", "HAS_EXTRA" },
		types = [[
struct lbpf_core_inner { int y; };
struct lbpf_core_item {
	int id;
	long value;
	char name[8];
	int arr[4];
	struct lbpf_core_inner inner;
	int nested_x;
	unsigned int flag_a : 3;
	int flag_b : 5;
	unsigned int extra;
};
enum lbpf_core_color { LBPF_RED = 0, LBPF_GREEN = 1, LBPF_BLUE = 2, LBPF_PURPLE = 3 };
]],
	},
	-- Every member moved, padding in between, nested_x inside anonymous struct/union members,
	-- the bitfields in a 64-bit unit after other bits, a bigger array, other enum values.
	moved = {
		defines = { "HAS_ID", "HAS_EXTRA" },
		types = [[
struct lbpf_core_inner { long pad; int q; int y; };
struct lbpf_core_item {
	char pad0[24];
	unsigned int extra;
	long value;
	int arr[6];
	union {
		long other;
		struct { int pad1; int nested_x; };
	};
	unsigned long long lead : 45, flag_a : 3;
	long long pad2 : 9, flag_b : 5;
	int id;
	struct lbpf_core_inner inner;
	char name[8];
};
enum lbpf_core_color { LBPF_RED = 7, LBPF_BLUE = 9, LBPF_GREEN = 8, LBPF_PURPLE = 10 };
]],
	},
	-- "extra" and LBPF_PURPLE do not exist; a 16-byte name array.
	missing = {
		defines = { "HAS_ID" },
		types = [[
struct lbpf_core_inner { int y; };
struct lbpf_core_item {
	long value;
	int id;
	int nested_x;
	int arr[4];
	struct lbpf_core_inner inner;
	unsigned char flag_a : 3, spare : 2;
	signed char flag_b : 5;
	char name[16];
};
enum lbpf_core_color { LBPF_RED = 100, LBPF_GREEN = 200, LBPF_BLUE = 300 };
]],
	},
	-- An old kernel where "id" was called "old_id" (the program's ___old flavour describes it).
	old = {
		defines = { "HAS_EXTRA" },
		types = [[
struct lbpf_core_inner { int x; int y; };
struct lbpf_core_item {
	int old_id;
	int nested_x;
	long value;
	char name[8];
	int arr[3];
	unsigned int extra;
	struct lbpf_core_inner inner;
	unsigned int flag_a : 3;
	int flag_b : 5;
};
enum lbpf_core_color { LBPF_RED = -1, LBPF_GREEN = -2, LBPF_BLUE = 65536, LBPF_PURPLE = 5 };
]],
	},
}

local function defines(list)
	local out = {}
	for _, d in ipairs(list) do out[#out + 1] = "-D" .. d end
	return table.concat(out, " ")
end

-- Builds variant name into dir; returns the target object path and its ground truth table.
function M.build(name, dir)
	local v = assert(M.variants[name], "unknown variant " .. name)
	local src = dir .. "/" .. name .. ".c"
	support.write_file(src, v.types .. HOST_MAIN)
	local btf_obj = dir .. "/" .. name .. ".bpf.o"
	local exe = dir .. "/" .. name .. ".host"
	local ok, out = support.sh(string.format("clang -target bpf -g -O2 %s -c %s -o %s 2>&1",
		defines(v.defines), src, btf_obj))
	assert(ok, "compiling target " .. name .. ": " .. out)
	ok, out = support.sh(string.format("cc -DHOST %s %s -o %s 2>&1 && %s", defines(v.defines),
		src, exe, exe))
	assert(ok, "ground truth of " .. name .. ": " .. out)
	local truth = assert(load(out, "=" .. name))()
	return btf_obj, truth
end

return M
