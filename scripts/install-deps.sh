#!/usr/bin/env bash
# Installs the Debian packages luabpf needs to build and test, but only those that are missing:
# a machine that has them all is left alone (no apt-get update, no network).
set -euo pipefail

packages=(
	build-essential make pkg-config
	clang llvm
	libelf-dev zlib1g-dev linux-libc-dev
	lua5.4 liblua5.4-dev lua-busted
	# every Lua the rockspec accepts: the smoke subset of `make test` runs on PUC 5.1, 5.2, 5.3
	lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev
	# LuaJIT 2.1 from OpenResty's branch. Never `luajit`/`libluajit-5.1-dev`: they conflict.
	luajit2 libluajit2-5.1-dev
	# BPF-side headers of libbpf, for the compatibility specs only; the product never links it.
	# bpftool: the parity spec reads map names the way users see them.
	libbpf-dev bpftool
	iproute2 util-linux valgrind
	# luv and cqueues: the event-loop specs and examples
	lua-luv lua-cqueues
	# issue 7: nginx with its Lua module (LuaJIT 2.1) and curl for the nginx spec, luarocks for
	# the rockspec spec; the static lib of Lua 5.4 (liblua5.4-dev), libelf and zlib for `make static`.
	nginx libnginx-mod-http-lua curl luarocks
	# issue 13: the kernel matrix boots Debian kernels under qemu with a busybox initramfs
	qemu-system-x86 busybox-static cpio xz-utils
	# issue 11: libFuzzer and the sanitizer runtimes of clang 14 for `make fuzz`
	libclang-rt-14-dev
	# issue 12: Debian's bpftrace 0.17, the reference the trace specs and `make bench-trace` compare
	# with (GNU time measures its peak RSS)
	bpftrace time
	# issue 14: the static REPL's line editing (libedit.a with its terminfo, libbsd, libmd
	# static libraries) and tmux, the terminal its spec drives
	libedit-dev libncurses-dev libbsd-dev libmd-dev tmux
)

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for pkg in "${packages[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
