#!/bin/bash
# chaos.sh - sockd's pool under a worker killed every 100 ms (issue 13,
# "Chaos, measured"; docs/BENCHMARKS.md). Not a test and not in make check:
# it measures, and says which of the issue's goals the run met.
#
# For each model (default "prefork event"), starts sockd on 127.0.0.1 with
# one echo service of CHAOS_WORKERS workers, lets tests/bench/chaos.py run
# CHAOS_CLIENTS persistent clients against it for a second, then SIGKILLs a
# random worker every CHAOS_INTERVAL_MS for CHAOS_SECONDS, and prints one
# markdown table:
#   kills      workers SIGKILLed
#   none alive kill times at which the master had no live worker to kill
#   fewest alive  the fewest live workers any sample saw (after the first 0.5 s)
#   requests   echoes received whole
#   failed     connections that broke (each one failure; the client reconnects)
#   held       connections a killed worker held when it was killed
#   in flight  of those, the ones whose request was not yet wholly answered
#   unexpl.    failures on a connection no killed worker held (should be 0)
#   whole      from a kill to the first sample (every 2 ms) with CHAOS_WORKERS
#              live children of the master and the killed one gone: median,
#              max, and how many kills took over 1 s; a kill after which the
#              pool was never whole again counts until the end of the run
#              (a lower bound: the max then reads ">=")
#   zombies    children of the master in state Z: pids seen, and the longest
#              one was seen (first to last sighting), and any at the end
#   master CPU utime + stime of the master alone over the run's wall time
#   max wait   the longest a request waited for its echo (prefork: a client
#              waits in the backlog while the 4 workers serve others)
#   backoff entered  "backing off" lines in sockd's log (failed starts)
# requests counts from the first connect (a second before the kills) to
# the end; after the kills the clients send nothing new and wait up to 2 s
# for the answers still due. The run takes about 35 s per model.
# How chaos.py knows which requests were on a killed worker: see its header.
# Run it as root: sockd is non-dumpable, and chaos.py reads its workers'
# /proc/PID/fd.
#
# Settings (environment):
#   CHAOS_MODELS       default "prefork event"
#   CHAOS_WORKERS      default 4 (1..64)
#   CHAOS_CLIENTS      default 50 (1..200)
#   CHAOS_SECONDS      default 30 (1..60)
#   CHAOS_INTERVAL_MS  default 100 (10..10000)
#   CHAOS_SEED         the killer's random seed (default 1)
#   CHAOS_OUT          also write the table to this file
#   SOCKD              the daemon (default: the build tree's, built if needed;
#                      SOCKD_BUILDDIR names an out-of-tree build)
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
models=${CHAOS_MODELS:-prefork event}
workers=${CHAOS_WORKERS:-4}
clients=${CHAOS_CLIENTS:-50}
seconds=${CHAOS_SECONDS:-30}
interval=${CHAOS_INTERVAL_MS:-100}
seed=${CHAOS_SEED:-1}

die() { echo "chaos.sh: $*" >&2; exit 1; }

for v in "$workers" "$clients" "$seconds" "$interval" "$seed"; do
	case $v in ''|*[!0-9]*) die "CHAOS_* settings are numbers";; esac
done
command -v python3 >/dev/null || die "python3 is needed"
if [ -z "${SOCKD:-}" ]; then
	builddir=${SOCKD_BUILDDIR:-$srcdir}
	[ -f "$builddir/Makefile" ] ||
		die "no Makefile in $builddir: run ./bootstrap && ./configure first (or set SOCKD_BUILDDIR)"
	make -C "$builddir" -s src/sockd >&2 || die "build failed"
	SOCKD=$builddir/src/sockd
fi
[ -x "$SOCKD" ] || die "$SOCKD is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-chaos.XXXXXX") || die "mktemp failed"
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null	# its workers die with it (PDEATHSIG)
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"; }

rows=$tmp/rows
: > "$rows"
for model in $models; do
	cat > "$tmp/sockd.conf" <<-EOF
	log_level = "info";
	services = ( {
	  name = "echo"; listen = "127.0.0.1:0"; handler = "echo"; framing = "raw";
	  model = "$model"; workers = $workers;
	  backlog = 511;
	  timeouts = { graceful = 2; };
	} );
	EOF
	"$SOCKD" -c "$tmp/sockd.conf" 2> "$tmp/sockd-$model.log" &
	pid=$!
	port=
	for ((i = 0; i < 50; i++)); do
		port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
		    "$tmp/sockd-$model.log" | head -n 1)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || die "sockd ($model) did not start: $(tail -n 3 "$tmp/sockd-$model.log")"
	echo "chaos.sh: $model, $workers workers, $clients clients, a kill every" \
	    "$interval ms for $seconds s" >&2
	out=$(timeout $((seconds + 30)) python3 "$here/chaos.py" "$pid" "$port" "$workers" \
	    "$clients" "$seconds" "$interval" "$seed") || die "chaos.py failed ($model)"
	echo "chaos.sh: $model: $out" >&2
	backoff=$(grep -c 'backing off' "$tmp/sockd-$model.log")
	printf '%s\t%s\t%s\n' "$model" "$out" "$backoff" >> "$rows"
	kill -TERM "$pid"
	wait "$pid"
	pid=
done

{
	echo "sockd chaos: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo |
	    head -n 1)), Linux $(uname -r); $workers workers, $clients clients, a SIGKILL every" \
	    "$interval ms for $seconds s"
	echo
	echo "| model | kills | none alive | fewest alive | requests | failed | held | in flight | unexpl. | whole median ms | whole max ms | kills > 1 s | zombies (longest ms, at end) | master CPU % | max wait ms | backoff entered |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	while IFS=$'\t' read -r model out backoff; do
		echo "| $model | $(kv kills "$out") | $(kv no_worker "$out") | $(kv min_live "$out") |" \
		    "$(kv requests "$out") | $(kv failures "$out") |" \
		    "$(kv held "$out") | $(kv inflight "$out") | $(kv unexplained "$out") |" \
		    "$(kv whole_median_ms "$out") | $(kv whole_max_ms "$out") |" \
		    "$(kv whole_over_1s "$out") | $(kv zombie_pids "$out") ($(kv zombie_max_ms "$out")," \
		    "$(kv zombies_at_end "$out")) | $(kv master_cpu_pct "$out") |" \
		    "$(kv max_wait_ms "$out") | $backoff |"
	done < "$rows"
} > "$tmp/table"
cat "$tmp/table"
[ -n "${CHAOS_OUT:-}" ] && cp "$tmp/table" "$CHAOS_OUT"
exit 0
