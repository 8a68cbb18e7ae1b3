-- Kernel data for nginx through luabpf (examples/nginx/conf/nginx.conf).
--
--   init_master(path)   init_by_lua, in the master: load the object, attach every program
--   init_worker(every)  init_worker_by_lua: worker 0 drains the ring buffer on a timer
--   serve_metrics()     /metrics: Prometheus text exposition format (version 0.0.4)
--   serve_events()      /events[?since=SEQ][&limit=N]: recent exec events as JSON
--
-- Why the master: the object is loaded and its programs attached exactly once per configuration
-- generation, before the workers fork. Workers inherit the descriptors of maps, programs and
-- links together with the Lua handles (fork copies the master's Lua state), so all workers read
-- the same maps and no worker attaches anything. See README.md for reload and restarts.
local bpf = require "bpf"

local M = {}

local PROGRAMS = { "count_syscalls", "count_rx", "count_tx", "on_exec" }
local EVENTS_KEPT = 512 -- events kept in the shared dict
local PRUNE_EVERY = 5 -- seconds between removals of exited processes from the syscall map

-- Set in the master by init_master; workers see the same table after fork.
local state = { obj = nil, links = {}, loaded_at = 0 }

-- ---- master ---------------------------------------------------------------------------------

function M.init_master(path)
	local obj, err = bpf.load(path)
	if not obj then
		error("bpf_metrics: cannot load " .. path .. ": " .. tostring(err), 0)
	end
	local links = {}
	for _, name in ipairs(PROGRAMS) do
		local link, aerr = obj.programs[name]:attach()
		if not link then
			-- Undo what is attached so far: a failed configuration leaves nothing behind.
			for _, l in pairs(links) do l:detach() end
			obj:close()
			error("bpf_metrics: cannot attach " .. name .. ": " .. tostring(aerr), 0)
		end
		links[name] = link
	end
	state.obj, state.links, state.loaded_at = obj, links, ngx.time()
end

-- ---- numbers and text -----------------------------------------------------------------------

-- Decimal text of a counter: a Lua integer, a LuaJIT number, or a LuaJIT 64-bit cdata (>= 2^53).
local function int_text(v)
	if type(v) == "number" then return string.format("%d", v) end
	return (tostring(v):gsub("U?LL$", ""))
end

local function cstring(s)
	return (tostring(s):gsub("%z.*$", ""))
end

-- Prometheus label values escape backslash, double quote and newline.
local function label(s)
	return (s:gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

local function json_string(s)
	return '"' .. s:gsub('[%c"\\]', function(c)
		local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }
		return named[c] or string.format("\\u%04x", c:byte())
	end) .. '"'
end

-- ---- worker 0: the ring buffer consumer -----------------------------------------------------

local function store_event(dict, ev)
	local seq = dict:incr("seq", 1, 0)
	local json = string.format(
		'{"seq":%d,"time_ns":%s,"pid":%d,"old_pid":%d,"uid":%d,"comm":%s,"filename":%s}',
		seq, int_text(ev.time_ns), ev.pid, ev.old_pid, ev.uid, json_string(cstring(ev.comm)),
		json_string(cstring(ev.filename)))
	dict:set("ev:" .. seq, json)
	dict:delete("ev:" .. (seq - EVENTS_KEPT))
end

local function process_alive(pid)
	local f = io.open("/proc/" .. int_text(pid) .. "/stat", "r")
	if f then f:close() end
	return f ~= nil
end

-- Counters of exited processes end their series instead of growing the map forever.
local function prune_exited(map)
	local gone = {}
	for pid in map:pairs() do
		if not process_alive(pid) then gone[#gone + 1] = pid end
	end
	for _, pid in ipairs(gone) do map[pid] = nil end
end

function M.init_worker(interval)
	if ngx.worker.id() ~= 0 or not state.obj then return end
	-- One consumer only: the ring buffer's consumer position is shared by every mapping of it.
	-- The reader is made here, not in the master, so that a restarted worker 0 makes a new one.
	local reader = assert(state.obj.maps.events:reader { type = "struct exec_event" })
	local dict = ngx.shared.bpf_events
	local last_prune = ngx.now()
	local ok, err = ngx.timer.every(interval, function(premature)
		if premature then
			reader:close()
			return
		end
		local ok2, derr = pcall(reader.consume, reader, function(ev) store_event(dict, ev) end)
		if not ok2 then ngx.log(ngx.ERR, "bpf_metrics: draining events: ", derr) end
		if ngx.now() - last_prune >= PRUNE_EVERY then
			last_prune = ngx.now()
			prune_exited(state.obj.maps.syscalls)
		end
	end)
	if not ok then ngx.log(ngx.ERR, "bpf_metrics: cannot start the consumer timer: ", err) end
end

-- ---- /metrics -------------------------------------------------------------------------------

local function family(out, name, kind, help)
	out[#out + 1] = "# HELP " .. name .. " " .. help
	out[#out + 1] = "# TYPE " .. name .. " " .. kind
end

local function syscall_metrics(out)
	family(out, "luabpf_syscalls_total", "counter",
		"System calls entered per process (tracepoint raw_syscalls:sys_enter).")
	local rows = {}
	for pid, s in state.obj.maps.syscalls:pairs() do
		rows[#rows + 1] = string.format('luabpf_syscalls_total{pid="%s",comm="%s"} %s',
			int_text(pid), label(cstring(s.comm)), int_text(s.calls))
	end
	table.sort(rows)
	for _, r in ipairs(rows) do out[#out + 1] = r end
end

local function packet_metrics(out)
	local packets, bytes = {}, {}
	for key, s in state.obj.maps.packets:pairs() do
		local labels = string.format('{device="%s",direction="%s"}', label(cstring(key.name)),
			key.tx == 1 and "tx" or "rx")
		packets[#packets + 1] = "luabpf_net_packets_total" .. labels .. " " .. int_text(s.packets)
		bytes[#bytes + 1] = "luabpf_net_bytes_total" .. labels .. " " .. int_text(s.bytes)
	end
	table.sort(packets)
	table.sort(bytes)
	family(out, "luabpf_net_packets_total", "counter",
		"Packets per network device and direction (net:netif_receive_skb, net:net_dev_xmit).")
	for _, r in ipairs(packets) do out[#out + 1] = r end
	family(out, "luabpf_net_bytes_total", "counter", "Bytes per network device and direction.")
	for _, r in ipairs(bytes) do out[#out + 1] = r end
end

local function event_metrics(out)
	family(out, "luabpf_exec_events_total", "counter",
		"Exec events consumed from the ring buffer (sched:sched_process_exec).")
	out[#out + 1] = "luabpf_exec_events_total " .. int_text(ngx.shared.bpf_events:get("seq") or 0)
	family(out, "luabpf_exec_events_dropped_total", "counter",
		"Exec events dropped because the ring buffer was full.")
	out[#out + 1] = "luabpf_exec_events_dropped_total " .. int_text(state.obj.globals.events_dropped)
end

local function link_metrics(out)
	family(out, "luabpf_link_info", "gauge",
		"Attached programs: one series per link (ids as the kernel numbers them).")
	for _, name in ipairs(PROGRAMS) do
		local info = state.links[name] and state.links[name]:info()
		if info then
			out[#out + 1] = string.format('luabpf_link_info{program="%s",link_id="%d",prog_id="%d"} 1',
				name, info.id, info.prog_id)
		end
	end
	family(out, "luabpf_object_loaded_timestamp_seconds", "gauge",
		"When the master loaded the BPF object (the last start or reload).")
	out[#out + 1] = "luabpf_object_loaded_timestamp_seconds " .. state.loaded_at
end

function M.serve_metrics()
	if not state.obj then
		ngx.status = 503
		ngx.say("# BPF object not loaded")
		return
	end
	local out = {}
	syscall_metrics(out)
	packet_metrics(out)
	event_metrics(out)
	link_metrics(out)
	out[#out + 1] = ""
	ngx.print(table.concat(out, "\n"))
end

-- ---- /events --------------------------------------------------------------------------------

function M.serve_events()
	local dict = ngx.shared.bpf_events
	local args = ngx.req.get_uri_args()
	local last = dict:get("seq") or 0
	local limit = math.min(tonumber(args.limit) or 100, EVENTS_KEPT)
	local first = math.max(tonumber(args.since) or 0, last - limit + 1, 1)
	local items = {}
	for seq = first, last do
		local json = dict:get("ev:" .. seq)
		if json then items[#items + 1] = json end
	end
	ngx.print('{"next":', last + 1, ',"events":[', table.concat(items, ","), "]}\n")
end

return M
