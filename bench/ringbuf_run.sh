#!/usr/bin/env bash
# Runs every ring buffer consumer of the benchmark and prints the figures and the ratios the
# issue asks for. Usage: bench/ringbuf_run.sh BUILD_BENCH_DIR RECORDS
set -euo pipefail
dir=$1
records=${2:-6000000}
obj=bpf/events_bench.bpf.o
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== C consumers (16-byte: $records records, 256-byte: $((records / 10)))"
for size in 16 256; do
	if [ "$size" = 16 ]; then per=2000000; n=$records; else per=200000; n=$((records / 10)); fi
	rounds=$(( (n + per - 1) / per ))
	"$dir/ringbuf_c" "$obj" "$size" "$per" "$rounds" | sed 's/^/c /' | tee -a "$out"
done
for lua in lua5.4 luajit; do
	echo "== $lua"
	LUA_PATH="$PWD/lua/?.lua;;" LUA_CPATH="$PWD/build/$lua/?.so;$PWD/$dir/$lua/?.so;;" \
		"$lua" bench/ringbuf_bench.lua "$obj" "$records" | sed "s/^/$lua /" | tee -a "$out"
done

echo
echo "== summary (Mrec/s; ratios = cost per record / cost per record of a floor)"
echo "   targets: raw records into a callback <= 1.5x the floor; >= 10 M/s (LuaJIT), >= 5 M/s"
echo "   (Lua 5.4); BTF-decoded >= 2 M/s. raw = byte strings, pointer/records = zero copy,"
echo "   decoded = one table per record, reuse = tables refilled in place, view = fields decoded"
echo "   on access; *-batch = one call per 1024 records (per-record cost compared)."
echo "   Floors: 'ring' = C walking the same ring records and calling the empty Lua function"
echo "   once per record, timed like the readers (the <= 1.5x verdict); 'call' = the same calls"
echo "   with no ring (what a record costs in memory is then not in the floor)"
awk '
function verdict(ok) { return ok ? "meets" : "MISSES" }
{ key = $1 " " $2 " " $3; rate[key] = $6 + 0 }
END {
	for (s = 16; s <= 256; s += 240) {
		printf "%d-byte records: C libbpf %.1f, C luabpf %.1f\n", s,
			rate["c c-libbpf " s], rate["c c-luabpf " s]
		for (i = 1; i <= 2; i++) {
			lua = (i == 1) ? "lua5.4" : "luajit"
			need = (i == 1) ? 5 : 10
			fc = rate[lua " floor-call " s]; fs = rate[lua " floor-call-str " s]
			fa = rate[lua " floor-call-args " s]; fr = rate[lua " floor-ring " s]
			printf "  %-7s floors: ring %.1f, call %.1f, call with (pointer, size) and a result %.1f, with a fresh string %.1f\n", lua, fr, fc, fa, fs
			n = split("raw raw-batch pointer pointer-peek pointer-batch pointer-batch-peek records records-read decoded decoded-batch reuse reuse-batch view view-read", kinds, " ")
			for (k = 1; k <= n; k++) {
				r = rate[lua " " kinds[k] " " s]
				ratio = (r > 0 ? fr / r : 0)
				if (kinds[k] ~ /^(decoded|reuse|view)/)
					v = verdict(r >= 2) " >= 2 M/s"
				else
					v = verdict(r >= need) " >= " need " M/s, " verdict(ratio <= 1.5) " <= 1.5x"
				printf "  %-7s %-18s %7.2f  (%5.2fx ring floor, %5.2fx call floor)  %s\n",
					lua, kinds[k], r, ratio, (r > 0 ? fc / r : 0), v
			}
		}
	}
}' "$out"
