#!/usr/bin/env bash
# make check-soak: long cycles (scripts/soak.lua) under Lua 5.4 and LuaJIT, then the fault specs
# (spec/soak_spec.lua, spec/unprivileged_spec.lua) and every example run as a throwaway
# unprivileged user; prints a summary of each part and exits non-zero if any failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cycles=${SOAK_CYCLES:-10000}
log=build/soak.log
mkdir -p build
: > "$log"
summary=()
failed=0

with_module() { # interpreter, command...
	local interp=$1
	shift
	LUA_CPATH="$root/build/$interp/?.so;;" LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;$root/spec/?.lua;;" "$@"
}

for interp in lua5.4 luajit; do
	for mode in explicit gc; do
		arg=$([ $mode = gc ] && echo gc || true)
		start=$(date +%s)
		out=$(with_module $interp $interp scripts/soak.lua cycles "$cycles" $arg 2>&1)
		status=$?
		echo "$out" >> "$log"
		line=$(echo "$out" | grep '^cycles:' | tail -n 1)
		summary+=("$interp: ${line:-$out} ($(( $(date +%s) - start )) s wall)")
		[ $status -eq 0 ] || failed=1
	done
done

# The fault specs under both interpreters.
specs_out=$(bash scripts/run-tests.sh lua5.4 luajit -- spec/soak_spec.lua spec/unprivileged_spec.lua 2>&1)
status=$?
echo "$specs_out" >> "$log"
summary+=("fault specs (kill -9, pins, fd and memcg limits, unprivileged): $(echo "$specs_out" | tail -n 1)")
[ $status -eq 0 ] || failed=1
# The limits once more, for their figures in the summary.
out=$(with_module lua5.4 bash -c 'ulimit -n 64; exec lua5.4 scripts/soak.lua fdlimit' 2>&1)
echo "$out" >> "$log"
summary+=("$(echo "$out" | cut -c1-230)")
memcg=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
cg="/sys/fs/cgroup/memory${memcg%/}/strict_soak_$$"
if [ -n "$memcg" ] && mkdir -p "$cg" 2>/dev/null && echo 24M > "$cg/memory.limit_in_bytes"; then
	out=$(with_module lua5.4 sh -c 'echo $$ > "$0/cgroup.procs" && exec lua5.4 scripts/soak.lua memlimit' "$cg" 2>&1)
	echo "$out" >> "$log"
	summary+=("$(echo "$out" | cut -c1-230) (memory cgroup limited to 24 MB)")
	rmdir "$cg"
else
	summary+=("memlimit: skipped (no cgroup v1 memory controller)")
fi

# Every example as an unprivileged user: a message, never a crash (no signal, no traceback of C).
user="strict_s$$"
useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
trap 'userdel "$user" 2>/dev/null' EXIT
crashes=0 named=0 total=0
example_args() {
	case "$1" in
	*/cgroup_ingress.lua) echo "/sys/fs/cgroup/unified -d 1" ;;
	*/xdp_firewall.lua) echo "lo 127.0.0.1 -d 1" ;;
	*/uprobe_malloc.lua) echo "-p $$ -d 1" ;;
	*/events_*.lua) echo "" ;;
	*) echo "-d 1" ;;
	esac
}
for ex in examples/*.lua; do
	for interp in lua5.4 luajit; do
		total=$((total + 1))
		out=$(with_module $interp timeout 10 setpriv --reuid="$user" --regid="$user" --clear-groups \
			$interp "$ex" $(example_args "$ex") 2>&1 < /dev/null)
		status=$?
		echo "== $interp $ex (status $status)" >> "$log"
		echo "$out" >> "$log"
		if [ $status -ge 128 ] && [ $status -ne 124 ]; then crashes=$((crashes + 1)); fi
		if echo "$out" | grep -q "CAP_BPF"; then named=$((named + 1)); fi
	done
done
summary+=("unprivileged examples: $total runs, $named named CAP_BPF, $crashes crashed")
[ $crashes -eq 0 ] || failed=1

echo
echo "=== check-soak summary (details in $log) ==="
printf '%s\n' "${summary[@]}"
exit $failed
