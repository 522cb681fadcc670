#!/bin/bash
# pss.sh - what a prefork server's processes cost in memory (issue 15):
# sockd prefork against Apache's prefork MPM, both with a process per
# keep-alive client and the same static 13-byte file. Not a test: it
# measures, it does not judge. See docs/BENCHMARKS.md.
#
# For each server, on 127.0.0.1 only: start it with PSS_CONNS processes,
# run wrk -t1 -cPSS_CONNS (keep-alive) against it for PSS_SECONDS, and
# halfway through sum Pss and Private_Dirty of /proc/PID/smaps_rollup over
# the server's whole process tree (master and every child); the same once
# more when the load has ended and the processes are idle. Each server runs
# in a cgroup of its own (cgroup.sh: v1 cpuacct, v2 cpu.stat, else /proc
# times), for its CPU time per request over the load (wrk and the server share the cores, so
# requests per second say as much about wrk as about the server). Printed:
# one table with requests per second, CPU per request, the sums, and each
# as a ratio to apache2's. Every server is stopped at the end (also on ^C), its whole
# process tree; each wrk run is bounded by PSS_SECONDS (2..30).
#
# Settings (environment): SOCKD (default src/sockd of the build directory
# given as the first argument, or of SOCKD_BUILDDIR), PSS_CONNS (100,
# 1..500), PSS_SECONDS (6), PSS_SERVERS (default "apache2 sockd-prefork
# sockd-prefork-threads"), BENCH_OUT (also write the table there). Needs
# wrk; apache2 is skipped (with a note) when it is not installed. Run as
# root: sockd is non-dumpable, and as another user its smaps_rollup is
# closed (and apache2's children run as nobody).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cgroup.sh
. "$here/cgroup.sh"
srcdir=$(cd "$here/../.." && pwd)
conns=${PSS_CONNS:-100}
seconds=${PSS_SECONDS:-6}
servers=${PSS_SERVERS:-apache2 sockd-prefork sockd-prefork-threads}

die() { echo "pss.sh: $*" >&2; exit 1; }
note() { echo "pss.sh: $*" >&2; }

case $conns in ''|*[!0-9]*) die "PSS_CONNS must be 1..500";; esac
[ "$conns" -ge 1 ] && [ "$conns" -le 500 ] || die "PSS_CONNS must be 1..500"
case $seconds in ''|*[!0-9]*) die "PSS_SECONDS must be 2..30";; esac
[ "$seconds" -ge 2 ] && [ "$seconds" -le 30 ] || die "PSS_SECONDS must be 2..30"
command -v wrk > /dev/null || die "wrk is missing (apt-get install -y wrk)"

if [ -z "${SOCKD:-}" ]; then
	builddir=${1:-${SOCKD_BUILDDIR:-$srcdir}}
	[ -f "$builddir/Makefile" ] || die "no Makefile in $builddir: give a configured build directory"
	make -C "$builddir" -s src/sockd >&2 || die "build failed"
	SOCKD=$builddir/src/sockd
fi
[ -x "$SOCKD" ] || die "$SOCKD is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-pss.XXXXXX") || die "mktemp failed"
chmod 755 "$tmp"	# apache2's children run as nobody and must read htdocs
mkdir "$tmp/htdocs" "$tmp/run"
printf 'Hello world!\n' > "$tmp/htdocs/hello.txt"
chmod 755 "$tmp/htdocs"
chmod 644 "$tmp/htdocs/hello.txt"
pid=
grp=
cleanup() {
	[ -n "$pid" ] && stop_tree "$pid"
	cg_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cg_init || die "cannot set up CPU accounting"

# SIGTERM to the root, SIGKILL to what is left of its tree after 5 s.
stop_tree() {
	local root=$1 pids i

	pids=$(cg_tree_pids "$root")
	kill -TERM "$root" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$root" 2>/dev/null || break
		sleep 0.1
	done
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	wait "$root" 2>/dev/null
	pid=
}

# "PROCS PSS_KB PRIVATE_DIRTY_KB" summed over the tree of $1 now ("-" for
# the sums if a process's smaps_rollup is closed to us).
mem_sample() {
	local procs=0 pss=0 dirty=0 closed=0 p key val rest

	for p in $(cg_tree_pids "$1"); do
		[ -r "/proc/$p/smaps_rollup" ] || { closed=1; continue; }
		while read -r key val rest; do
			case $key in
			Pss:) pss=$((pss + val)) ;;
			Private_Dirty:) dirty=$((dirty + val)) ;;
			esac
		done < "/proc/$p/smaps_rollup" 2>/dev/null || continue
		procs=$((procs + 1))
	done
	[ "$closed" = 1 ] && { echo "$procs - -"; return; }
	echo "$procs $pss $dirty"
}

# ---- CPU: a cgroup of the server's own (cgroup.sh) -----------------------
# CMD... in the server's group, in the background; its pid in $pid.
in_cg() {
	cg_run "$grp" "$@"
	pid=$!
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# Wait up to 5 s for an HTTP 200 on PORT.
http_ready() {
	local i

	for ((i = 0; i < 50; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		    printf 'GET /hello.txt HTTP/1.0\r\n\r\n' >&3 &&
		    timeout 2 head -n 1 <&3) 2>/dev/null | grep -q ' 200 ' && return 0
		sleep 0.1
	done
	return 1
}

apache_start() {
	local port=$1 mods=/usr/lib/apache2/modules

	if ! command -v apache2 > /dev/null || [ ! -f $mods/mod_mpm_prefork.so ]; then
		note "apache2 skipped: not installed (apt-get install -y apache2)"
		return 1
	fi
	cat > "$tmp/apache2.conf" <<-EOF
	ServerRoot "$tmp"
	ServerName localhost
	DefaultRuntimeDir "$tmp/run"
	Mutex file:$tmp/run default
	PidFile "$tmp/run/apache2.pid"
	ErrorLog "$tmp/apache2-error.log"
	LogLevel warn
	LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so
	LoadModule authn_core_module $mods/mod_authn_core.so
	LoadModule authz_core_module $mods/mod_authz_core.so
	$( [ "$(id -u)" = 0 ] && printf 'User nobody\nGroup nogroup' )
	Listen 127.0.0.1:$port
	DocumentRoot "$tmp/htdocs"
	<Directory "$tmp/htdocs">
	  Require all granted
	</Directory>
	StartServers $conns
	MinSpareServers $conns
	MaxSpareServers $((conns + 10))
	ServerLimit $((conns + 10))
	MaxRequestWorkers $((conns + 10))
	MaxConnectionsPerChild 0
	KeepAlive On
	MaxKeepAliveRequests 0
	KeepAliveTimeout 5
	EOF
	# Its own session: stopping, prefork signals its whole process group.
	in_cg setsid apache2 -d "$tmp" -f "$tmp/apache2.conf" -DFOREGROUND
}

sockd_start() { # PORT SETTINGS
	cat > "$tmp/sockd.conf" <<-EOF
	$([ "$(id -u)" = 0 ] && echo 'user = "nobody";')
	services = ( {
	  name = "web"; listen = "127.0.0.1:$1"; handler = "http"; framing = "raw";
	  $2
	  backlog = 511;
	  http = { root = "$tmp/htdocs"; };
	  timeouts = { graceful = 2; };
	} );
	EOF
	in_cg "$SOCKD" -c "$tmp/sockd.conf" 2> "$tmp/sockd.log"
}

rows=$tmp/rows
: > "$rows"
for name in $servers; do
	port=$(free_port)
	grp=$(cg_new "$name") || die "cannot make a group for $name"
	case $name in
	apache2)
		apache_start "$port" || { cg_remove "$grp"; continue; }
		config="prefork MPM, $conns processes" ;;
	sockd-prefork)
		sockd_start "$port" "model = \"prefork\"; workers = $conns;"
		config="prefork, workers = $conns" ;;
	sockd-prefork-threads)
		sockd_start "$port" "model = \"prefork\"; workers = 2; threads = $(( (conns + 1) / 2 ));"
		config="prefork, workers = 2, threads = $(( (conns + 1) / 2 ))" ;;
	*) note "unknown server $name"; cg_remove "$grp"; continue ;;
	esac
	if ! http_ready "$port"; then
		note "$name: no HTTP answer on port $port"
		stop_tree "$pid"
		cg_remove "$grp"
		continue
	fi
	# setsid may have forked: follow apache2's own pid file.
	if [ "$name" = apache2 ] && p=$(cat "$tmp/run/apache2.pid" 2>/dev/null) && [ -n "$p" ]; then
		root=$p
	else
		root=$pid
	fi
	sleep 1		# every process started (apache2 forks StartServers at once, sockd too)
	wrk -t1 -c"$conns" -d"${seconds}s" --timeout 5s "http://127.0.0.1:$port/hello.txt" > "$tmp/wrk" 2>&1 &
	wrk_pid=$!
	c0=$(cg_usage_ns "$grp")
	sleep $((seconds / 2))
	busy=$(mem_sample "$root")
	wait "$wrk_pid"
	c1=$(cg_usage_ns "$grp")
	sleep 1
	idle=$(mem_sample "$root")
	rate=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$tmp/wrk")
	errs=$(awk '/Socket errors|Non-2xx/ { n++ } END { print n + 0 }' "$tmp/wrk")
	reqs=$(awk '/ requests in / { print $1 }' "$tmp/wrk")
	cpu=$(awk -v a="$c0" -v b="$c1" -v n="${reqs:-0}" 'BEGIN {
		if (a == "" || n == 0) print "-"; else printf "%.0f", (b - a) / n }')
	stop_tree "$pid"
	cg_remove "$grp"
	[ "$errs" = 0 ] || note "$name: wrk saw errors: $(grep -E 'Socket errors|Non-2xx' "$tmp/wrk")"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$config" "${rate:--}" "$busy" "$idle" "$cpu" >> "$rows"
done

{
	echo "wrk -t1 -c$conns -d${seconds}s keep-alive, a 13-byte file, 127.0.0.1; memory summed"
	echo "over the whole process tree (kB), under load (halfway) and idle after it;"
	echo "server CPU per request from its cgroup ($cg_method):"
	echo
	echo "| server | config | req/s | x apache2 | CPU ns/req | x apache2 | procs | PSS kB | x apache2 | private dirty kB | PSS kB idle | x apache2 |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F '\t' '
		{ split($4, b, " "); split($5, i, " ")
		  name[NR] = $1; conf[NR] = $2; rate[NR] = $3; procs[NR] = b[1]; pss[NR] = b[2]
		  dirty[NR] = b[3]; ipss[NR] = i[2]; cpu[NR] = $6
		  if ($1 == "apache2") { ar = $3; ap = b[2]; ai = i[2]; ac = $6 } }
		function ratio(x, y) { return (y + 0 > 0 && x != "-") ? sprintf("%.2f", x / y) : "-" }
		END {
			for (n = 1; n <= NR; n++)
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				    name[n], conf[n], rate[n], ratio(rate[n], ar), cpu[n], ratio(cpu[n], ac),
				    procs[n], pss[n], ratio(pss[n], ap), dirty[n], ipss[n], ratio(ipss[n], ai)
		}' "$rows"
} | tee "${BENCH_OUT:-/dev/null}"
