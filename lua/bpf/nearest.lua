-- Edit distance between names, for the "did you mean" suggestions of bpf.asm (helper names) and
-- bpf.trace (probes, fields, functions). Error paths only: simple rather than fast.
local M = {}

--- The Levenshtein distance between strings a and b.
function M.distance(a, b)
	local lb = #b
	local prev = {}
	for j = 0, lb do prev[j] = j end
	for i = 1, #a do
		local cur = { [0] = i }
		local ca = a:byte(i)
		for j = 1, lb do
			local cost = (ca == b:byte(j)) and 0 or 1
			local v = prev[j] + 1
			if cur[j - 1] + 1 < v then v = cur[j - 1] + 1 end
			if prev[j - 1] + cost < v then v = prev[j - 1] + cost end
			cur[j] = v
		end
		prev = cur
	end
	return prev[lb]
end

return M
