-- Edit distance between names, for the "did you mean" suggestions of bpf.asm (helper names) and
-- bpf.trace (probes, fields, functions). Error paths, but some compare a word with every kernel
-- function: no table per row, and a bound that stops a hopeless comparison early.
local M = {}

local prev, cur, bytes = {}, {}, {} -- reused: one comparison at a time

--- The Levenshtein distance between strings a and b; with limit, limit + 1 as soon as the
--- distance must exceed it.
function M.distance(a, b, limit)
	local la, lb = #a, #b
	if limit and (la - lb > limit or lb - la > limit) then return limit + 1 end
	local p, c = prev, cur
	for j = 0, lb do p[j] = j end
	for j = 1, lb do bytes[j] = b:byte(j) end
	for i = 1, la do
		c[0] = i
		local ca, row_min = a:byte(i), i
		for j = 1, lb do
			local v = p[j] + 1
			local w = c[j - 1] + 1
			if w < v then v = w end
			w = p[j - 1] + ((ca == bytes[j]) and 0 or 1)
			if w < v then v = w end
			c[j] = v
			if v < row_min then row_min = v end
		end
		if limit and row_min > limit then return limit + 1 end
		p, c = c, p
	end
	return p[lb]
end

return M
