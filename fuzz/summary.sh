#!/usr/bin/env bash
# One line per libFuzzer log (build/fuzz/logs/<target>*.log): target, seconds, executions, the
# last cov:/ft: figures and the findings written (crash-, leak-, timeout-, oom- files).
#   fuzz/summary.sh LOG...
set -uo pipefail
for log in "$@"; do
	target=$(basename "$log" .log)
	target=${target%.long}
	last=$(grep -aE '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	execs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
	done_line=$(grep -aoE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
	secs=$(grep -oE '[0-9]+ second' <<<"$done_line" | grep -oE '[0-9]+')
	[ -n "$execs" ] || execs=$(grep -oE 'Done [0-9]+' <<<"$done_line" | grep -oE '[0-9]+')
	cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
	ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
	findings=$(grep -acE '^artifact_prefix=.*Test unit written to' "$log")
	printf '%-16s %6ss %12s execs  cov %-6s ft %-6s findings %s\n' "$target" "${secs:-?}" \
		"${execs:-?}" "${cov:-?}" "${ft:-?}" "$findings"
done
