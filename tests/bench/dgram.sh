#!/bin/bash
# dgram.sh - what a datagram costs sockd (issue 14), beside the floor (a
# minimal recvmmsg/sendmmsg echo loop, tests/bench/udp_echo.c) and socat
# (UDP-RECVFROM with fork: a process per datagram). Not a test: it
# measures, it does not judge. See docs/BENCHMARKS.md.
#
# For each server, on 127.0.0.1 only: tests/bench/udp_load keeps
# DGRAM_SOCKETS sockets with DGRAM_WINDOW 64-byte datagrams in flight each
# for DGRAM_SECONDS, DGRAM_REPS times. The server runs in a cgroup of its
# own (cgroup v1 cpuacct, or v2 cpu.stat), so its CPU time counts every
# process it forks, also those that exit; without a cgroup, /proc times of
# the server's process tree are used (children that exited are missed:
# said in the table). Printed: echoes per second and server CPU per echo
# (median of the repetitions), and each as a ratio to the floor.
#
# Settings (environment): SOCKD (default src/sockd of the build directory
# given as the first argument, or of SOCKD_BUILDDIR), DGRAM_SECONDS (5,
# 2..30), DGRAM_REPS (3, 1..9), DGRAM_SOCKETS (16), DGRAM_WINDOW (4),
# DGRAM_MAX_MESSAGE (sockd's limits.max_message; default its own, 65536),
# DGRAM_SERVERS (default "floor floor-2-shared floor-2-reuseport event-1
# prefork-1 event-2 prefork-2 thread-1 socat"; floor-N-shared and
# floor-N-reuseport are N floor loops on one socket, or each on its own
# SO_REUSEPORT socket), BENCH_OUT (also write the table there). Run as root
# for the cgroup.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
seconds=${DGRAM_SECONDS:-5}
reps=${DGRAM_REPS:-3}
sockets=${DGRAM_SOCKETS:-16}
window=${DGRAM_WINDOW:-4}
servers=${DGRAM_SERVERS:-floor floor-2-shared floor-2-reuseport event-1 prefork-1 event-2 prefork-2 thread-1 socat}

die() { echo "dgram.sh: $*" >&2; exit 1; }
note() { echo "dgram.sh: $*" >&2; }

case $seconds in ''|*[!0-9]*) die "DGRAM_SECONDS must be 2..30";; esac
[ "$seconds" -ge 2 ] && [ "$seconds" -le 30 ] || die "DGRAM_SECONDS must be 2..30"
case $reps in ''|*[!0-9]*) die "DGRAM_REPS must be 1..9";; esac
[ "$reps" -ge 1 ] && [ "$reps" -le 9 ] || die "DGRAM_REPS must be 1..9"

builddir=${1:-${SOCKD_BUILDDIR:-$srcdir}}
[ -f "$builddir/Makefile" ] || die "no Makefile in $builddir: give a configured build directory"
make -C "$builddir" -s src/sockd tests/bench/udp_echo tests/bench/udp_load >&2 ||
	die "build failed"
SOCKD=${SOCKD:-$builddir/src/sockd}
floor_bin=$builddir/tests/bench/udp_echo
load_bin=$builddir/tests/bench/udp_load

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-dgram.XXXXXX") || die "mktemp failed"
chmod 755 "$tmp"
cg=
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		# anything left in it (socat's children) goes before the cgroup
		while read -r p; do kill -KILL "$p" 2>/dev/null; done < "$cg/cgroup.procs"
		sleep 0.2
		rmdir "$cg" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# ---- CPU accounting: a cgroup of the server's own ---------------------------
cg_kind=
if [ -w /sys/fs/cgroup/cpuacct ]; then
	cg_kind=v1
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && [ -w /sys/fs/cgroup ]; then
	cg_kind=v2
fi
cg_make() {
	case $cg_kind in
	v1) cg=/sys/fs/cgroup/cpuacct/sockd-dgram-$$ ;;
	v2) cg=/sys/fs/cgroup/sockd-dgram-$$ ;;
	*) cg= ; return ;;
	esac
	mkdir "$cg" 2>/dev/null || { note "cannot make $cg: /proc times instead"; cg=; cg_kind=; }
}
cg_ns() { # the cgroup's CPU time so far, in ns
	case $cg_kind in
	v1) cat "$cg/cpuacct.usage" ;;
	v2) awk '$1 == "usage_usec" { printf "%d\n", $2 * 1000 }' "$cg/cpu.stat" ;;
	esac
}
tree_ns() { # without a cgroup: the server's tree, reaped children included
	local total=0 p f hz
	hz=$(getconf CLK_TCK)
	for p in $server_pid $(pgrep -P "$server_pid" 2>/dev/null); do
		{ read -r -a f < "/proc/$p/stat"; } 2>/dev/null || continue
		total=$((total + f[13] + f[14] + f[15] + f[16]))
	done
	echo $((total * 1000000000 / hz))
}
cpu_ns() { if [ -n "$cg" ]; then cg_ns; else tree_ns; fi; }

# start CMD...: in the cgroup, its stdout+stderr to $tmp/server.log
start() {
	cg_make
	if [ -n "$cg" ]; then
		sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$cg" "$@" \
		    > "$tmp/server.log" 2>&1 &
	else
		"$@" > "$tmp/server.log" 2>&1 &
	fi
	server_pid=$!
}
stop() {
	kill -TERM "$server_pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
	cleanup_cg
}
cleanup_cg() {
	[ -n "$cg" ] || return
	while read -r p; do kill -KILL "$p" 2>/dev/null; done < "$cg/cgroup.procs"
	for _ in $(seq 20); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	cg=
}

free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# ---- the servers ----------------------------------------------------------------
start_server() { # NAME PORT: start it; false if it did not come up
	local name=$1 port=$2 model workers limits
	case $name in
	floor)
		start "$floor_bin" "$port" ;;
	floor-*-shared | floor-*-reuseport)	# floor-2-shared: 2 loops, one socket
		workers=${name#floor-}; workers=${workers%%-*}
		start "$floor_bin" "$port" 127.0.0.1 "$workers" "${name##*-}" ;;
	socat)
		command -v socat > /dev/null || { note "socat is missing (apt-get install -y socat)"; return 1; }
		start socat -T 1 "UDP4-RECVFROM:$port,bind=127.0.0.1,fork" EXEC:cat ;;
	*-[0-9]*)
		model=${name%-*} workers=${name##*-} limits=
		[ -n "${DGRAM_MAX_MESSAGE:-}" ] && limits="limits = { max_message = $DGRAM_MAX_MESSAGE; };"
		cat > "$tmp/sockd.conf" <<-EOF
		$([ "$(id -u)" = 0 ] && echo 'user = "nobody";')
		services = ( { name = "echo"; handler = "echo"; listen = "udp:127.0.0.1:$port";
		  model = "$model"; workers = $workers; $limits } );
		EOF
		start "$SOCKD" -c "$tmp/sockd.conf" ;;
	*) note "unknown server $name"; return 1 ;;
	esac
	sleep 0.5
	kill -0 "$server_pid" 2>/dev/null || { note "$name did not start: $(tail -2 "$tmp/server.log")"; return 1; }
	# one echo before measuring
	"$load_bin" -p "$port" -c 1 -w 1 -d 1 > "$tmp/warm" 2>&1
	grep -q ' received [1-9]' "$tmp/warm" || { note "$name does not echo: $(cat "$tmp/warm")"; return 1; }
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }

rows=$tmp/rows
: > "$rows"
for name in $servers; do
	port=$(free_port)
	start_server "$name" "$port" || { stop; continue; }
	: > "$tmp/rate"; : > "$tmp/cpu"
	for _ in $(seq "$reps"); do
		c0=$(cpu_ns)
		out=$("$load_bin" -p "$port" -c "$sockets" -w "$window" -s 64 -d "$seconds")
		c1=$(cpu_ns)
		recv=$(awk '{ print $4 }' <<< "$out")
		secs=$(awk '{ print $6 }' <<< "$out")
		awk -v r="$recv" -v s="$secs" 'BEGIN { printf "%.0f\n", r / s }' >> "$tmp/rate"
		awk -v r="$recv" -v a="$c0" -v b="$c1" 'BEGIN { if (r > 0) printf "%.0f\n", (b - a) / r; else print "-" }' >> "$tmp/cpu"
	done
	stop
	printf '%s\t%s\t%s\n' "$name" "$(median < "$tmp/rate")" "$(median < "$tmp/cpu")" >> "$rows"
done

floor_rate=$(awk -F '\t' '$1 == "floor" { print $2 }' "$rows")
floor_cpu=$(awk -F '\t' '$1 == "floor" { print $3 }' "$rows")
{
	echo "$sockets sockets x $window datagrams of 64 bytes in flight, ${seconds} s x $reps, 127.0.0.1;"
	if [ -n "$cg_kind" ]; then how="a cgroup ($cg_kind)"; else how="/proc (exited children missed)"; fi
	echo "server CPU from $how; medians:"
	echo
	echo "| server | echoes/s | x floor | server ns CPU per echo | x floor |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	awk -F '\t' -v fr="${floor_rate:-0}" -v fc="${floor_cpu:-0}" '{
		rr = (fr > 0 && $2 != "-") ? sprintf("%.2f", $2 / fr) : "-"
		cr = (fc > 0 && $3 != "-") ? sprintf("%.2f", $3 / fc) : "-"
		printf "| %s | %s | %s | %s | %s |\n", $1, $2, rr, $3, cr }' "$rows"
} | tee "${BENCH_OUT:-/dev/null}"
