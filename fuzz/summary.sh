#!/usr/bin/env bash
# One line per libFuzzer log (build/fuzz/logs/<target>*.log): target, seconds, executions, the
# last cov:/ft: figures and the findings (crash, leak, timeout, oom). Reads both the plain mode
# (`make fuzz`) and fork mode (-fork=1, where a timeout is saved and fuzzing goes on).
#   fuzz/summary.sh LOG...
set -uo pipefail
for log in "$@"; do
	target=$(basename "$log" .log)
	target=${target%.*}
	last=$(grep -aE '^#[0-9]+:?[[:space:]].*cov: ' "$log" | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
	ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
	if grep -q 'oom/timeout/crash' <<<"$last"; then # fork mode
		execs=$(grep -oE '^#[0-9]+' <<<"$last" | tr -d '#')
		secs=$(grep -oE 'time: [0-9]+s' <<<"$last" | grep -oE '[0-9]+')
		findings=$(grep -oE 'oom/timeout/crash: [0-9]+/[0-9]+/[0-9]+' <<<"$last" |
			grep -oE '[0-9]+/[0-9]+/[0-9]+' | awk -F/ '{ print $1 + $2 + $3 }')
	else
		execs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
		done_line=$(grep -aoE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
		secs=$(grep -oE '[0-9]+ second' <<<"$done_line" | grep -oE '[0-9]+')
		[ -n "$execs" ] || execs=$(grep -oE 'Done [0-9]+' <<<"$done_line" | grep -oE '[0-9]+')
		findings=$(grep -acE 'Test unit written to' "$log")
	fi
	printf '%-16s %6ss %12s execs  cov %-6s ft %-6s findings %s\n' "$target" "${secs:-?}" \
		"${execs:-?}" "${cov:-?}" "${ft:-?}" "${findings:-?}"
done
