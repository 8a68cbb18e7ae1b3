#!/usr/bin/env bash
# Fetches the newest Debian cloud kernel of a series (6.1, 6.12) that the package index offers,
# once: the .deb and its extracted tree stay under build/kernels/. Prints the extracted directory
# (boot/vmlinuz-*, lib/modules/*) on stdout.
#
#   scripts/kernels/fetch.sh 6.1|6.12
set -euo pipefail
series=${1:?usage: fetch.sh SERIES}
cache=${KERNELS_CACHE:-build/kernels}
mkdir -p "$cache"

case "$series" in
6.1) pattern='^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' ;;
6.12) pattern='^linux-image-6\.12\.[0-9]+\+deb[0-9]+-cloud-amd64-unsigned$' ;;
*) echo "fetch: unknown series '$series' (6.1 or 6.12)" >&2; exit 2 ;;
esac

newest() {
	apt-cache search --names-only "^linux-image-$series" 2>/dev/null | awk '{ print $1 }' |
		grep -E "$pattern" | sort -V | tail -n 1
}

pkg=$(newest)
if [ -z "$pkg" ]; then
	# A fresh machine's index may not list them yet.
	apt-get update -q >&2 || true
	pkg=$(newest)
fi
if [ -z "$pkg" ]; then
	# Offline with nothing in the index: use what an earlier run fetched.
	name=$(ls "$cache" 2>/dev/null | grep -E "$pattern" | sort -V | tail -n 1 || true)
	[ -n "$name" ] && [ -e "$cache/$name/.extracted" ] ||
		{ echo "fetch: no $series cloud kernel in the package index" >&2; exit 1; }
	echo "$cache/$name"
	exit 0
fi

dir=$cache/$pkg
if [ ! -e "$dir/.extracted" ]; then
	deb=$(ls "$cache"/"${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		echo "fetch: downloading $pkg" >&2
		(cd "$cache" && apt-get download "$pkg" >&2 2>/dev/null) ||
			(cd "$cache" && apt-get download "$pkg" >&2)
		deb=$(ls "$cache"/"${pkg}"_*.deb | head -n 1)
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg-deb -x "$deb" "$dir"
	# The package's own version (6.1.192-3) next to the tree, for the table.
	dpkg-deb -f "$deb" Version > "$dir/.version"
	touch "$dir/.extracted"
fi
echo "$dir"
