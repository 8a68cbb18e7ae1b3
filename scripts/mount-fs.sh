#!/usr/bin/env bash
# Mounts the pseudo file systems the specs use when they are not mounted yet:
# bpffs (pinning), tracefs (tracepoint ids, kprobe/uprobe events) and debugfs.
# Failures are reported but not fatal: the specs that need a mount will say what is wrong.
set -uo pipefail

is_mounted() {
	local dir=$1 fstype=$2
	awk -v d="$dir" -v t="$fstype" '$2 == d && $3 == t { found = 1 } END { exit !found }' /proc/mounts
}

ensure_mount() {
	local fstype=$1 dir=$2
	is_mounted "$dir" "$fstype" && return 0
	mkdir -p "$dir" 2>/dev/null
	if mount -t "$fstype" "$fstype" "$dir" 2>/dev/null; then
		echo "mount-fs: mounted $fstype at $dir"
	else
		echo "mount-fs: warning: could not mount $fstype at $dir" >&2
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "mount-fs: warning: not root; the specs need root (bpf(2), tracefs)" >&2
	exit 0
fi

ensure_mount bpf /sys/fs/bpf
ensure_mount debugfs /sys/kernel/debug
ensure_mount tracefs /sys/kernel/tracing
exit 0
