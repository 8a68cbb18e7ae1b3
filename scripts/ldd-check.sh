#!/usr/bin/env bash
# Checks each given bpf.so: it needs libelf, libz, libc and ld.so only (per DT_NEEDED); nothing it
# pulls in transitively is libbpf, bcc, LLVM, clang or liblua (the module takes the Lua C API from
# the interpreter that loads it); it exports luaopen_bpf; and it leaves no symbol undefined that
# neither the interpreter nor libc/libelf provides.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 bpf.so..." >&2; exit 2; }
status=0
for so in "$@"; do
	needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	for lib in $needed; do
		case "$lib" in
		libelf.so.* | libz.so.* | libc.so.* | ld-linux*.so.* | ld64.so.*) ;; # ld.so: TLS (__tls_get_addr)
		*) echo "ldd-check: $so: unexpected dependency $lib" >&2; status=1 ;;
		esac
	done
	if ldd "$so" | grep -Ei 'libbpf|libbcc|libLLVM|libclang|liblua|libluajit'; then
		echo "ldd-check: $so: forbidden library in its closure (above)" >&2
		status=1
	fi
	# Lua API symbols come from the interpreter, libc/libelf ones carry a version (@GLIBC_...):
	# anything else left undefined is a missing function that would only fail at require time.
	# zlib exports unversioned symbols: accept whatever the needed libraries define.
	provided=$(ldd "$so" | awk '/=>/ { print $3 }' | xargs -r nm -D --defined-only 2>/dev/null | awk '{ print $3 }' | sort -u)
	undefined=$(nm -D --undefined-only "$so" | awk '$1 == "U" && $2 !~ /@/ && $2 !~ /^(lua|luaL|luaJIT)_/ { print $2 }' |
		grep -vxF -f <(echo "$provided") || true)
	if [ -n "$undefined" ]; then
		echo "ldd-check: $so: undefined symbols:" $undefined >&2
		status=1
	fi
	if ! nm -D --defined-only "$so" | grep -q ' T luaopen_bpf$'; then
		echo "ldd-check: $so: does not export luaopen_bpf" >&2
		status=1
	fi
	[ $status -eq 0 ] && echo "ldd-check: $so: ok ($(echo $needed))"
done
exit $status
