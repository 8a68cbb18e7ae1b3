#!/usr/bin/env bash
# Runs the example with its own prefix directory (nothing outside it is written):
#
#   examples/nginx/run.sh start PREFIX [PORT]   prepare PREFIX and start nginx on 127.0.0.1:PORT
#   examples/nginx/run.sh reload PREFIX         nginx -s reload (the master loads the object anew)
#   examples/nginx/run.sh stop PREFIX           stop nginx and wait until every process is gone
#
# PREFIX gets conf/nginx.conf (PORT filled in, default 8080), lua/, lib/bpf.so (the LuaJIT
# build of the module: LUABPF_MODULE, default build/luajit/bpf.so) and
# bpf/nginx_metrics.bpf.o (LUABPF_OBJECT). Needs root (loading BPF), `make` having built both.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
module=${LUABPF_MODULE:-$root/build/luajit/bpf.so}
object=${LUABPF_OBJECT:-$root/bpf/nginx_metrics.bpf.o}
nginx_bin=${NGINX:-nginx}

usage() {
	echo "usage: $0 start PREFIX [PORT] | reload PREFIX | stop PREFIX" >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
prefix=$(mkdir -p "$2" && cd "$2" && pwd)/
port=${3:-8080}

master_pid() {
	cat "$prefix/logs/nginx.pid" 2>/dev/null || true
}

prepare() {
	for f in "$module" "$object"; do
		[ -f "$f" ] || { echo "run.sh: $f is missing (run make)" >&2; exit 1; }
	done
	mkdir -p "$prefix"/{conf,lua,lib,bpf,logs,temp}
	sed "s/@PORT@/$port/g" "$here/conf/nginx.conf" >"$prefix/conf/nginx.conf"
	cp "$here"/lua/*.lua "$prefix/lua/"
	# Copies, not links: rebuilding the tree does not change what a running nginx loads.
	cp "$module" "$prefix/lib/bpf.so"
	cp "$object" "$prefix/bpf/nginx_metrics.bpf.o"
}

case "$cmd" in
start)
	prepare
	if ! "$nginx_bin" -p "$prefix" -c conf/nginx.conf -e logs/error.log; then
		tail -n 20 "$prefix/logs/error.log" >&2 || true
		exit 1
	fi
	;;
reload)
	"$nginx_bin" -p "$prefix" -c conf/nginx.conf -e logs/error.log -s reload
	;;
stop)
	pid=$(master_pid)
	[ -n "$pid" ] || exit 0
	"$nginx_bin" -p "$prefix" -c conf/nginx.conf -e logs/error.log -s stop 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || exit 0
		sleep 0.1
	done
	# Still there after 10 s: kill the master's workers, then the master itself.
	pkill -KILL -P "$pid" 2>/dev/null || true
	kill -KILL "$pid" 2>/dev/null || true
	;;
*)
	usage
	;;
esac
