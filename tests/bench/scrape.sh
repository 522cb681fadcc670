#!/bin/bash
# scrape.sh - what watching sockd costs (docs/BENCHMARKS.md, "Status and
# metrics"). Not a test: it measures, it does not judge.
#
# HTTP keep-alive under wrk against an event-model http service, server CPU
# per request read from the daemon's own cgroup (cgroup v1 cpuacct, or v2
# cpu.stat; every process of the tree counts, also those that exit):
#   plain    no scrape
#   scraped  /metrics and /status fetched once a second, and sockd status
#            asked once a second, during the run
# and, with SOCKD_BEFORE set to another build of sockd (one from before the
# counters, say), that build without scraping, in the same run. The rows
# are interleaved, BENCH_REPS times each, and the median is printed.
#
# Settings (environment): SOCKD (default: the build tree's), SOCKD_BEFORE,
# BENCH_SECONDS (default 5), BENCH_CONNS (default 100), BENCH_REPS
# (default 3), BENCH_PORT (first port tried, default 18500).
# Needs root (for the cgroup), wrk and curl. Only 127.0.0.1 is used.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
sockd=${SOCKD:-${SOCKD_BUILDDIR:-$srcdir}/src/sockd}
before=${SOCKD_BEFORE:-}
seconds=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-100}
reps=${BENCH_REPS:-3}
port=${BENCH_PORT:-18500}

die() { echo "scrape.sh: $*" >&2; exit 1; }
[ -x "$sockd" ] || die "$sockd is missing (make src/sockd, or set SOCKD)"
[ -z "$before" ] || [ -x "$before" ] || die "SOCKD_BEFORE=$before is not executable"
command -v wrk >/dev/null || die "wrk is not installed"
command -v curl >/dev/null || die "curl is not installed"
[ "$(id -u)" -eq 0 ] || die "needs root, for a cgroup of its own"
case "$seconds$conns$reps" in *[!0-9]*) die "BENCH_SECONDS, BENCH_CONNS, BENCH_REPS are numbers";; esac
[ "$seconds" -ge 1 ] && [ "$seconds" -le 60 ] || die "BENCH_SECONDS must be 1..60"
[ "$reps" -ge 1 ] && [ "$reps" -le 9 ] || die "BENCH_REPS must be 1..9"

work=$(mktemp -d /tmp/sockd-scrape.XXXXXX) || die "mktemp"
if [ -d /sys/fs/cgroup/cpuacct ]; then
	cg=/sys/fs/cgroup/cpuacct/sockd-scrape-$$
	cpu_ns() { cat "$cg/cpuacct.usage"; }
else
	cg=/sys/fs/cgroup/sockd-scrape-$$
	cpu_ns() { sed -n 's/^usage_usec //p' "$cg/cpu.stat" | awk '{ print $1 * 1000 }'; }
fi
mkdir "$cg" || die "cannot make $cg"
daemon=""
cleanup() {
	[ -n "$daemon" ] && kill -QUIT "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rmdir "$cg" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	local p=$1
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# run BINARY SCRAPE: one measurement; prints ns of server CPU per request.
run() {
	local bin=$1 scrape=$2 web sport t0 t1 n scraper="" i
	local has_status=1

	web=$(free_port "$port")
	sport=$(free_port $((web + 1)))
	cat > "$work/sockd.conf" <<-EOF
	log_level = "warning";
	control = { path = "$work/control"; };
	services = (
	  { name = "web"; listen = "127.0.0.1:$web"; handler = "http"; model = "event";
	    workers = 2; http = { body = "hello\n"; }; },
	  { name = "status"; listen = "127.0.0.1:$sport"; handler = "status"; model = "event";
	    workers = 1; }
	);
	EOF
	if ! "$bin" -t -c "$work/sockd.conf" >/dev/null 2>&1; then
		# A build from before the status handler and the control socket.
		has_status=0
		cat > "$work/sockd.conf" <<-EOF
		log_level = "warning";
		services = (
		  { name = "web"; listen = "127.0.0.1:$web"; handler = "http"; model = "event";
		    workers = 2; http = { body = "hello\n"; }; }
		);
		EOF
	fi
	sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" -c "$3"' sh "$cg" "$bin" \
	    "$work/sockd.conf" 2>"$work/log" &
	daemon=$!
	for i in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$web/" && break
		sleep 0.05
	done
	if [ "$scrape" = 1 ] && [ "$has_status" = 1 ]; then
		( for i in $(seq $((seconds + 2))); do
			curl -s -o /dev/null "http://127.0.0.1:$sport/metrics"
			curl -s -o /dev/null "http://127.0.0.1:$sport/status"
			"$sockd" status -s "$work/control" >/dev/null
			sleep 1
		done ) &
		scraper=$!
	fi
	t0=$(cpu_ns)
	n=$(wrk -t1 -c"$conns" -d"${seconds}s" "http://127.0.0.1:$web/" 2>/dev/null |
	    awk '/requests in/ { print $1 }')
	t1=$(cpu_ns)
	[ -n "$scraper" ] && kill "$scraper" 2>/dev/null && wait "$scraper" 2>/dev/null
	kill -QUIT "$daemon" && wait "$daemon" 2>/dev/null
	daemon=""
	awk -v a="$t0" -v b="$t1" -v n="${n:-0}" 'BEGIN {
		if (n + 0 == 0) print "-"; else printf "%.0f\n", (b - a) / n }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

plain="" scraped="" old=""
for r in $(seq "$reps"); do
	[ -n "$before" ] && old="$old $(run "$before" 0)"
	plain="$plain $(run "$sockd" 0)"
	scraped="$scraped $(run "$sockd" 1)"
done
echo "| build | ns per request ($reps runs) | median |"
echo "| --- | --- | ---: |"
[ -n "$before" ] && echo "| before ($before) |$(echo "$old" | sed 's/ /, /g; s/^, / /') | $(echo "$old" | median) |"
echo "| this build, no scrape |$(echo "$plain" | sed 's/ /, /g; s/^, / /') | $(echo "$plain" | median) |"
echo "| this build, scraped every second |$(echo "$scraped" | sed 's/ /, /g; s/^, / /') | $(echo "$scraped" | median) |"
