#!/usr/bin/env bash
# Runs the busted suite once per variant and prints, as its very last line, the sum over all
# runs: "tests: N passed, N failed[, N skipped]". Exits non-zero if anything failed.
#
#   scripts/run-tests.sh VARIANT... [-- SPEC...]
#
# Variants:
#   lua5.4           stock lua5.4 with build/lua5.4/bpf.so
#   luajit           luajit with build/luajit/bpf.so
#   asan-lua5.4      lua5.4 with build/asan-lua5.4/bpf.so, libasan preloaded, leaks checked
#   valgrind-lua5.4  lua5.4 with build/lua5.4/bpf.so under valgrind memcheck
#   lua5.1 lua5.2 lua5.3
#                    PUC Lua with build/lua5.X/bpf.so, the smoke subset only (SMOKE_SPECS):
#                    of the SPECs given, those in the subset; none given, the whole subset
#
# Busted errors count as failures. A run that ends without busted's closing line (a crash, a
# timeout) counts as at least one failure, and so does a run whose exit status is non-zero
# although its closing line reports no failure (sanitizer or valgrind findings).
#
# Environment: BUSTED (path of the busted script), TEST_TIMEOUT (seconds per run, default 1800),
# BUSTED_ARGS (extra arguments, e.g. "--filter=maps -v"), ASAN_OPTIONS_EXTRA (appended to the
# asan variant's ASAN_OPTIONS, e.g. "fast_unwind_on_malloc=1": the default slow unwind on every
# malloc of the uninstrumented interpreter makes Lua-heavy specs many times slower).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

variants=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	variants+=("$1")
	shift
done
[ "${1:-}" = "--" ] && shift
specs=("$@")
[ ${#variants[@]} -gt 0 ] || { echo "usage: $0 VARIANT... [-- SPEC...]" >&2; exit 2; }

busted_bin=${BUSTED:-$(command -v busted || echo /usr/bin/busted)}
timeout_s=${TEST_TIMEOUT:-1800}
log_dir=build/test-logs
mkdir -p "$log_dir"

if [ "$(id -u)" -ne 0 ]; then
	echo "run-tests: warning: not root; loading BPF programs will fail" >&2
fi

# Prints "successes failures errors pending" from busted's closing line in a log, or nothing.
parse_summary() {
	sed 's/\x1b\[[0-9;]*m//g' "$1" |
		grep -aEo '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending : [0-9.e+-]+ seconds' |
		tail -n 1 |
		awk '{ print $1, $4, $7, $10 }'
}

# The specs the older PUC Lua versions run (open, load, attach, map read, reader).
read -r -a smoke_specs <<<"${SMOKE_SPECS:-spec/smoke_spec.lua}"

# The specs a smoke variant runs: the subset, or those of the requested specs in it.
smoke_selection() {
	if [ ${#specs[@]} -eq 0 ]; then
		printf '%s\n' "${smoke_specs[@]}"
		return
	fi
	local s w
	for s in "${specs[@]}"; do
		for w in "${smoke_specs[@]}"; do
			[ "${s#./}" = "$w" ] && printf '%s\n' "$s"
		done
	done
}

total_passed=0
total_failed=0
total_skipped=0
summaries=()

run_variant() {
	local variant=$1
	local interp moddir task
	local -a wrapper=() extra_env=()
	# Interpreters that specs start themselves find the module through LUA_CPATH; busted's own
	# process takes it from the .busted task. They differ only for asan (see below).
	local child_moddir
	case "$variant" in
	lua5.4) interp=lua5.4 moddir=build/lua5.4 task=default ;;
	luajit) interp=luajit moddir=build/luajit task=luajit ;;
	asan-lua5.4)
		interp=lua5.4 moddir=build/asan-lua5.4 task=asan
		# Without libasan preloaded an ASan module cannot load, and test-preload.so takes
		# LD_PRELOAD away from the spec's child processes: children get the plain build.
		child_moddir=build/lua5.4
		# lua5.4 itself is not instrumented, so the ASan runtime must be loaded first.
		local libasan libubsan
		libasan=$(gcc -print-file-name=libasan.so)
		libubsan=$(gcc -print-file-name=libubsan.so)
		# test-preload.so keeps bpf.so mapped at exit, so that leak reports name our functions.
		extra_env=(
			"LD_PRELOAD=$libasan:$libubsan:$root/build/test-preload.so"
			"ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=86:fast_unwind_on_malloc=0:malloc_context_size=16${ASAN_OPTIONS_EXTRA:+:$ASAN_OPTIONS_EXTRA}"
			"LSAN_OPTIONS=suppressions=$root/scripts/lsan.supp:print_suppressions=0"
			"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
		)
		# LeakSanitizer ends the process before stdio is flushed: without line buffering the
		# busted closing line would be lost whenever a leak is reported.
		wrapper=(stdbuf -oL -eL)
		;;
	valgrind-lua5.4)
		interp=lua5.4 moddir=build/lua5.4 task=default
		extra_env=("LD_PRELOAD=$root/build/test-preload.so")
		# --undef-value-errors=no: valgrind does not model every bpf(2) command (batch lookups,
		# for one, are "unhandled"), so what the kernel writes looks undefined to it. Leaks and
		# invalid accesses are still checked; ASan (make check-asan) covers the rest.
		wrapper=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect
			--undef-value-errors=no
			--error-exitcode=86 --suppressions="$root/scripts/valgrind.supp" --track-fds=no)
		;;
	lua5.1 | lua5.2 | lua5.3)
		interp=$variant moddir=build/$variant task=$variant
		local -a selected
		mapfile -t selected < <(smoke_selection)
		if [ ${#selected[@]} -eq 0 ]; then
			echo "=== $variant: none of the specs given is in the smoke subset (${smoke_specs[*]}) ==="
			summaries+=("$variant: not run (no smoke spec among those given)")
			return 0
		fi
		;;
	*) echo "run-tests: unknown variant '$variant'" >&2; return 2 ;;
	esac
	local -a run_specs=("${specs[@]}")
	[ -n "${selected+x}" ] && run_specs=("${selected[@]}")

	child_moddir=${child_moddir:-$moddir}
	if [ ! -f "$moddir/bpf.so" ]; then
		echo "run-tests: $moddir/bpf.so is missing (build it first)" >&2
	fi

	# Each run writes and parses a log of its own, renamed to $variant.log when done: two suites
	# running in one tree at once no longer read each other's output.
	local log
	log=$(mktemp "$log_dir/$variant.XXXXXX.part")
	echo "=== busted under $variant ($interp, $moddir/bpf.so) ==="
	# The preloads go on last (after timeout) so that only the interpreter's side carries them.
	timeout --kill-after=30 "$timeout_s" \
		env LUA_CPATH="$root/$child_moddir/?.so;;" \
		LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;$root/spec/?.lua;;" \
		LUABPF_TEST_VARIANT="$variant" \
		"${extra_env[@]}" \
		"${wrapper[@]}" "$interp" "$busted_bin" --run="$task" ${BUSTED_ARGS:-} "${run_specs[@]}" \
		2>&1 | grep --line-buffered -v 'WARNING: unhandled eBPF command' | tee "$log"
	local rc=${PIPESTATUS[0]}

	local counts passed failed errors pending
	counts=$(parse_summary "$log")
	if [ -z "$counts" ]; then
		echo "run-tests: $variant: busted ended without its closing line (exit status $rc)" >&2
		passed=0 failed=1 pending=0
	else
		read -r passed failed errors pending <<<"$counts"
		failed=$((failed + errors))
		if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
			echo "run-tests: $variant: exit status $rc although no spec failed (crash, sanitizer or valgrind report above?)" >&2
			failed=1
		fi
	fi
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	total_skipped=$((total_skipped + pending))
	summaries+=("$variant: $passed passed, $failed failed, $pending pending (exit $rc)")
	mv -f "$log" "$log_dir/$variant.log"
}

for v in "${variants[@]}"; do
	run_variant "$v" || total_failed=$((total_failed + 1))
done

echo
echo "=== summary ==="
for s in "${summaries[@]}"; do
	echo "  $s"
done
line="tests: $total_passed passed, $total_failed failed"
[ "$total_skipped" -gt 0 ] && line="$line, $total_skipped skipped"
echo "$line"
[ "$total_failed" -eq 0 ]
