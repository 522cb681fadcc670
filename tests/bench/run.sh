#!/bin/bash
# run.sh - the benchmark of sockd's server models (make bench). Not a test:
# it measures, it does not judge. See docs/BENCHMARKS.md.
#
# Starts each server on 127.0.0.1 only, runs a bounded load against it,
# stops it, and prints one markdown table and a block of ratios:
#   echo: sockd under each model and the yardsticks epoll_echo and
#         uring_echo (2 workers each where they take a WORKERS argument),
#         driven by tests/bench/loadgen (persistent / connection per message);
#   http: nginx (2 workers), apache2 (prefork) and sockd's http handler
#         (event, uring, prefork, prefork with threads), driven by wrk
#         (keep-alive "persist" / "close", a connection per request), if
#         wrk, nginx and apache2 are installed.
#
# CPU us/req is the server's own CPU time per request served: each server
# is started inside a cgroup of its own (tests/bench/cgroup.sh: cgroup v1
# cpuacct, else v2 cpu.stat, else a /proc estimate), so every process it
# ever had counts, also those that exited during the load (the fork model's
# children) or left its process tree; the usage before and after the load,
# divided by the requests the client saw answered (loadgen's requests=,
# wrk's "N requests in"). The load client's own CPU is not in it. The
# table header names the method used.
#
# Memory (RSS, PSS) is the sum over the server's processes (those in its
# cgroup), sampled from /proc/PID/smaps_rollup every second of the run; the
# table keeps the largest sample.
#
# Every measurement is made BENCH_REPS times, interleaved: repetition 1 runs
# every server once, then repetition 2 every server again, and so on, so a
# drift of the machine (another job, the CPU's clock) hits all of them
# alike. The table gives, per line, the median of req/s, latencies and
# CPU us/req, the largest memory sample and the sum of errors over the
# repetitions; the ratios are of those medians, all from this one run.
# A server that does not answer is "n/a" (with a note), not a failure.
# With the defaults a run takes about 15 minutes (BENCH_SECONDS x 2 modes x
# 14 servers x 2 connection counts x 3 repetitions, and their starts).
#
# Settings (environment):
#   BENCH_SECONDS  seconds per measurement, 1..60 (default 5)
#   BENCH_CONNS    connection counts (default "10 100", each 1..1000)
#   BENCH_REPS     repetitions of every measurement, 1..9 (default 3)
#   BENCH_MODELS   sockd configurations (default
#                  "prefork prefork-threads fork thread event uring")
#   BENCH_SIZE     echo message bytes (default 16)
#   BENCH_HTTP     0 to skip the http servers (default 1)
#   BENCH_PORT     first port tried for nginx/apache2 (default 18400)
#   BENCH_OUT      also write the table to this file
#   CG_METHOD      v1, v2 or proc: force a method (see cgroup.sh)
#   SOCKD, BENCH_BINDIR  the daemon and the directory of loadgen,
#                  epoll_echo and uring_echo (default: the build tree of
#                  SOCKD_BUILDDIR, built here if needed)
# Run as root: making cgroups needs it, and sockd is non-dumpable (its
# smaps_rollup is closed to other users).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=nginx.sh
. "$here/nginx.sh"
# shellcheck source=cgroup.sh
. "$here/cgroup.sh"
srcdir=$(cd "$here/../.." && pwd)
seconds=${BENCH_SECONDS:-5}
conns_list=${BENCH_CONNS:-10 100}
reps=${BENCH_REPS:-3}
models=${BENCH_MODELS:-prefork prefork-threads fork thread event uring}
size=${BENCH_SIZE:-16}
http=${BENCH_HTTP:-1}
port_base=${BENCH_PORT:-18400}

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

case $seconds in ''|*[!0-9]*) die "BENCH_SECONDS must be 1..60";; esac
[ "$seconds" -ge 1 ] && [ "$seconds" -le 60 ] || die "BENCH_SECONDS must be 1..60"
case $reps in [1-9]) ;; *) die "BENCH_REPS must be 1..9";; esac
for c in $conns_list; do
	case $c in ''|*[!0-9]*) die "BENCH_CONNS: \"$c\" is not 1..1000";; esac
	[ "$c" -ge 1 ] && [ "$c" -le 1000 ] || die "BENCH_CONNS: \"$c\" is not 1..1000"
done

# ---- binaries ----------------------------------------------------------
if [ -z "${SOCKD:-}" ] || [ -z "${BENCH_BINDIR:-}" ]; then
	builddir=${SOCKD_BUILDDIR:-$srcdir}
	[ -f "$builddir/Makefile" ] ||
		die "no Makefile in $builddir: run ./bootstrap && ./configure first (or set SOCKD_BUILDDIR)"
	targets=(src/sockd tests/bench/loadgen tests/bench/epoll_echo)
	# uring_echo only where this tree knows how to build it.
	make -C "$builddir" -n tests/bench/uring_echo > /dev/null 2>&1 &&
		targets+=(tests/bench/uring_echo)
	make -C "$builddir" -s "${targets[@]}" >&2 || die "build failed"
	SOCKD=${SOCKD:-$builddir/src/sockd}
	BENCH_BINDIR=${BENCH_BINDIR:-$builddir/tests/bench}
fi
loadgen=$BENCH_BINDIR/loadgen
for b in "$SOCKD" "$loadgen" "$BENCH_BINDIR/epoll_echo"; do
	[ -x "$b" ] || die "$b is missing"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-bench.XXXXXX") || die "mktemp failed"
chmod 755 "$tmp"	# apache2's children may run as nobody and must read htdocs
rows=$tmp/rows		# one result per line, tab-separated
notes=$tmp/notes
: > "$rows"
: > "$notes"
pid=			# the server running now, and its cgroup
grp=
nserver=0
rep=0

# ---- processes ---------------------------------------------------------
# NAME LOG CMD...: start CMD (stderr to LOG) in a new cgroup of its own;
# sets pid and grp.
server_start() {
	local name=$1 log=$2

	shift 2
	nserver=$((nserver + 1))
	grp=$(cg_new "$nserver.$name") || die "cannot make a group for $name"
	cg_run "$grp" "$@" 2> "$log"
	pid=$!
}

# Stop the server and everything in its group: SIGTERM, then SIGKILL after
# 5 s; then the group goes.
server_stop() {
	local i p

	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	for p in $(cg_pids "$grp"); do
		kill -KILL "$p" 2>/dev/null
	done
	wait "$pid" 2>/dev/null
	cg_remove "$grp"
	pid=
	grp=
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	server_stop
	cg_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cg_init || die "cannot set up CPU accounting"
[ "$cg_kind" = proc ] &&
	echo "CPU from /proc times (no cgroup could be made, or CG_METHOD=proc): an estimate, without what descendants that exited unreaped spent" >> "$notes"

# "RSS_KB PSS_KB PROCS THREADS" of the group now; RSS "-" where /proc is
# closed to us (a non-dumpable sockd, as a user other than root). Files are
# read with bash builtins: a sample of 100 processes must not load the
# machine it measures. Processes that exit meanwhile, and zombies, are left out.
mem_sample() {
	local rss=0 pss=0 procs=0 threads=0 closed=0 p line v st sm

	for p in $(cg_pids "$1"); do
		{ mapfile -t st < "/proc/$p/status"; } 2>/dev/null || continue
		[[ ${st[*]} == *$'State:\tZ'* ]] && continue
		procs=$((procs + 1))
		for line in "${st[@]}"; do
			[[ $line == Threads:* ]] && threads=$((threads + ${line#Threads:}))
		done
		if ! { mapfile -t sm < "/proc/$p/smaps_rollup"; } 2>/dev/null; then
			# Closed to us, or it is exiting (a fork-model child at
			# the end of its connection) and its memory is gone
			# already, and with it the Vm lines of its status: only
			# the first counts.
			{ mapfile -t st < "/proc/$p/status"; } 2>/dev/null &&
			    [[ ${st[*]} == *VmRSS:* ]] && closed=1
			continue
		fi
		for line in "${sm[@]}"; do
			[[ $line =~ ^(Rss|Pss):\ +([0-9]+) ]] || continue
			v=${BASH_REMATCH[2]}
			[ "${BASH_REMATCH[1]}" = Rss ] && rss=$((rss + v)) || pss=$((pss + v))
		done
	done
	[ $closed = 1 ] && { rss=-; pss=-; }
	echo "$rss $pss $procs $threads"
}

# Sample the group every second while the load runs (this watcher is not in
# it: its CPU is not counted).
mem_watch() {
	local g=$1 out=$2 i

	: > "$out"
	for ((i = 1; i < seconds; i++)); do
		sleep 1
		mem_sample "$g" >> "$out"
	done
	[ "$seconds" = 1 ] && { sleep 0.5; mem_sample "$g" >> "$out"; }
}

# Microseconds of server CPU per request, from the usage (ns) before and after.
cpu_per_req() {
	awk -v t0="$1" -v t1="$2" -v n="$3" 'BEGIN {
		if (t0 == "" || t1 == "" || n + 0 == 0) print "-"
		else printf "%.1f\n", (t1 - t0) / 1000 / n }'
}

mem_max() {
	sort -k1,1n "$1" | tail -n 1 | awk '{
		if (NF < 4) { print "?\t?\t?\t?"; exit }
		if ($1 == "-") print "-\t-\t" $3 "\t" $4
		else printf "%.1f\t%.1f\t%s\t%s\n", $1 / 1024, $2 / 1024, $3, $4 }'
}

# A port nothing listens on, from BENCH_PORT up (for servers that need one).
free_port() {
	local p h

	for ((p = port_base; p < port_base + 500; p++)); do
		h=$(printf '%04X' "$p")
		awk -v h="$h" '$2 ~ (":" h "$") && $4 == "0A" { found = 1 } END { exit !found }' \
		    /proc/net/tcp /proc/net/tcp6 2>/dev/null || { port_base=$((p + 1)); echo "$p"; return; }
	done
	die "no free port from $port_base"
}

# LOG PID: wait up to 5 s for "listening on 127.0.0.1:PORT" in LOG, or
# until PID has exited; print PORT.
log_port() {
	local i p

	for ((i = 0; i < 50; i++)); do
		p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Wait (up to 5 s) for more than N processes in the group: every prefork
# worker up.
wait_procs() {
	local i

	for ((i = 0; i < 50; i++)); do
		[ "$(cg_pids "$1" | wc -l)" -gt "$2" ] && return
		sleep 0.1
	done
}

# ---- echo measurements -------------------------------------------------
# row: server model config mode conns rps p50 p99 errors rss pss procs
#      threads cpu_us_per_req repetition
add_row() { (IFS=$'\t'; echo "$*") >> "$rows"; }

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"; }

# Drive the echo server at PORT (in group grp) in one mode.
echo_measure() {
	local server=$1 model=$2 config=$3 port=$4 mode=$5 conns=$6 out t0 t1 watcher

	mem_watch "$grp" "$tmp/mem" &
	watcher=$!
	t0=$(cg_usage_ns "$grp")
	out=$(timeout $((seconds + 15)) "$loadgen" -p "$port" -c "$conns" -d "$seconds" \
	    -m "$mode" -s "$size" -o)
	t1=$(cg_usage_ns "$grp")
	wait "$watcher"
	add_row "$server" "$model" "$config" "$mode" "$conns" "$(kv rps "$out")" \
	    "$(kv p50_us "$out")" "$(kv p99_us "$out")" \
	    "$(( $(kv errors "$out") + $(kv timeouts "$out") ))" "$(mem_max "$tmp/mem")" \
	    "$(cpu_per_req "$t0" "$t1" "$(kv requests "$out")")" "$rep"
}

# One message answered within a second, or the server is not serving.
echo_probe() {
	local out

	out=$(timeout 10 "$loadgen" -p "$1" -c 1 -d 1 -s "$size" -o)
	[ -n "$(kv requests "$out")" ] && [ "$(kv requests "$out")" != 0 ]
}

na_rows() {
	local mode

	for mode in persist close; do
		add_row "$1" "$2" "$3" "$mode" "$4" n/a n/a n/a n/a n/a n/a n/a n/a n/a "$rep"
	done
}

# The sockd configuration for a model at CONNS connections (see BENCHMARKS.md):
# prefork serves one connection per process, so it gets a worker per
# connection, as apache2 prefork gets MaxRequestWorkers; the others get 2
# workers, one per core.
sockd_settings() {
	case $1 in
	prefork) echo "model = \"prefork\"; workers = $2;" ;;
	prefork-threads) echo "model = \"prefork\"; workers = 2; threads = $(( ($2 + 1) / 2 ));" ;;
	fork) echo "model = \"fork\"; workers = 2;" ;;
	thread) echo "model = \"thread\"; workers = 2;" ;;
	event) echo "model = \"event\"; workers = 2;" ;;
	uring) echo "model = \"uring\"; workers = 2;" ;;
	*) return 1 ;;
	esac
}

# "uring" that is really "event": sockd says so (model.c, model_uring.c),
# also when built without liburing. Prints sockd's words.
uring_fallback() {
	grep -m 1 'io_uring' "$1" | sed 's/^.*\(io_uring\)/\1/'
}

bench_sockd() {
	local model=$1 conns=$2 settings config port why mode conf=$tmp/sockd.conf

	settings=$(sockd_settings "$model" "$conns") || { note "unknown model $model"; return; }
	config=$(sed -e 's/model = "[a-z]*"; //' -e 's/ = /=/g' -e 's/;//g' <<< "$settings")
	cat > "$conf" <<-EOF
	log_level = "info";
	services = ( {
	  name = "echo"; listen = "127.0.0.1:0"; handler = "echo"; framing = "raw";
	  $settings
	  backlog = 511;
	  timeouts = { graceful = 2; };
	} );
	EOF
	server_start "sockd-$model" "$tmp/sockd.log" "$SOCKD" -c "$conf"
	if ! port=$(log_port "$tmp/sockd.log" "$pid") || ! echo_probe "$port"; then
		why=$(grep -m 1 -E 'error|fatal' "$tmp/sockd.log" | sed 's/^.*: error: //')
		echo "sockd $model ($config): n/a: ${why:-no answer}" >> "$notes"
		na_rows sockd "$model" "$config" "$conns"
	elif [ "$model" = uring ] && why=$(uring_fallback "$tmp/sockd.log") && [ -n "$why" ]; then
		echo "sockd uring: n/a: it runs as event: $why" >> "$notes"
		na_rows sockd "$model" "$config" "$conns"
	else
		[ "$model" = prefork ] && wait_procs "$grp" "$conns"
		for mode in persist close; do
			echo_measure sockd "$model" "$config" "$port" "$mode" "$conns"
		done
	fi
	server_stop
}

# The yardsticks, NAME PORT [WORKERS]: with 2 workers, one per core, as
# sockd's; an older one that takes only PORT runs as one process (noted once).
declare -A yard_one
bench_yard() {
	local name=$1 conns=$2 bin=$BENCH_BINDIR/$1 port='' rc args config mode

	if [ ! -x "$bin" ]; then
		echo "$name: skipped: $bin is not built" >> "$notes"
		return
	fi
	for args in "0 2" "0"; do
		config="2 workers"
		if [ "$args" = 0 ]; then
			config="1 process"
		elif [ -n "${yard_one[$name]:-}" ]; then
			continue
		fi
		# shellcheck disable=SC2086 # args are words
		server_start "$name" "$tmp/$name.log" "$bin" $args
		port=$(log_port "$tmp/$name.log" "$pid") && break
		rc=
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			rc=$?
		fi
		server_stop
		port=
		if [ "$rc" = 69 ]; then
			echo "$name: n/a: io_uring is not available here: $(head -n 1 "$tmp/$name.log")" >> "$notes"
			na_rows "$name" - "$config" "$conns"
			return
		fi
		[ "$args" = "0 2" ] || break
		yard_one[$name]=1
		echo "$name: does not take \"PORT WORKERS\": one process" >> "$notes"
	done
	if [ -z "$port" ] || ! echo_probe "$port"; then
		rc=$(head -n 1 "$tmp/$name.log" 2>/dev/null)
		echo "$name: n/a: ${rc:-no answer}" >> "$notes"
		na_rows "$name" - "$config" "$conns"
	else
		for mode in persist close; do
			echo_measure "$name" - "$config" "$port" "$mode" "$conns"
		done
	fi
	server_stop
}

# ---- http measurements -------------------------------------------------
# wrk's latency ("88.00us", "1.02ms", "1.50s") in microseconds.
wrk_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) print int(n); else if (v ~ /ms$/) print int(n * 1000)
		else if (v ~ /s$/) print int(n * 1000000); else print "?" }'
}

http_measure() {
	local server=$1 config=$2 port=$3 mode=$4 conns=$5 out hdr=() t0 t1 watcher

	[ "$mode" = close ] && hdr=(-H "Connection: close")
	mem_watch "$grp" "$tmp/mem" &
	watcher=$!
	t0=$(cg_usage_ns "$grp")
	out=$(timeout $((seconds + 15)) wrk -t 1 -c "$conns" -d "${seconds}s" --timeout 2s \
	    --latency "${hdr[@]}" "http://127.0.0.1:$port/hello.txt" 2>&1)
	t1=$(cg_usage_ns "$grp")
	wait "$watcher"
	add_row "$server" http "$config" "$mode" "$conns" \
	    "$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<< "$out")" \
	    "$(wrk_us "$(awk '$1 == "50%" { print $2 }' <<< "$out")")" \
	    "$(wrk_us "$(awk '$1 == "99%" { print $2 }' <<< "$out")")" \
	    "$(awk '/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx/ { e += $NF } END { print e + 0 }' <<< "$out")" \
	    "$(mem_max "$tmp/mem")" \
	    "$(cpu_per_req "$t0" "$t1" "$(awk '$2 == "requests" && $3 == "in" { print $1 }' <<< "$out")")" \
	    "$rep"
}

# nginx: 2 workers, a fixed 13-byte answer, all paths in our temp dir.
nginx_start() {
	local port=$1 d=$tmp/nginx

	mkdir -p "$d"
	nginx_conf "$d" "$port" 2 warn
	server_start nginx "$d/stderr.log" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
}

# apache2 prefork: a process per connection (as sockd prefork), a 13-byte file.
apache_start() {
	local port=$1 conns=$2 d=$tmp/apache mods=/usr/lib/apache2/modules

	mkdir -p "$d/htdocs" "$d/run"
	chmod 755 "$d" "$d/htdocs"
	printf 'Hello world!\n' > "$d/htdocs/hello.txt"
	chmod 644 "$d/htdocs/hello.txt"
	cat > "$d/apache2.conf" <<-EOF
	ServerRoot "$d"
	ServerName localhost
	DefaultRuntimeDir "$d/run"
	Mutex file:$d/run default
	PidFile "$d/run/apache2.pid"
	ErrorLog "$d/error.log"
	LogLevel warn
	LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so
	LoadModule authn_core_module $mods/mod_authn_core.so
	LoadModule authz_core_module $mods/mod_authz_core.so
	$( [ "$(id -u)" = 0 ] && printf 'User nobody\nGroup nogroup' )
	Listen 127.0.0.1:$port
	DocumentRoot "$d/htdocs"
	<Directory "$d/htdocs">
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
	# Its own session: stopping, apache2 prefork signals its whole process
	# group, which would otherwise be this script and whoever ran it.
	server_start apache2 "$d/stderr.log" setsid apache2 -d "$d" -f "$d/apache2.conf" -DFOREGROUND
}

# setsid execs apache2 in place when it can; if it had to fork, follow the
# pid file (the group has them all anyway).
apache_pid() {
	local p

	p=$(cat "$tmp/apache/run/apache2.pid" 2>/dev/null)
	[ -n "$p" ] && [ "$p" != "$pid" ] && pid=$p
}

# Wait up to 5 s for an HTTP 200 on PORT.
http_ready() {
	local i

	for ((i = 0; i < 50; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		    printf 'GET /hello.txt HTTP/1.0\r\n\r\n' >&3 &&
		    timeout 2 head -n 1 <&3) 2>/dev/null | grep -q ' 200 ' && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The server just started (pid, grp) at PORT, both modes; then stopped.
bench_http_server() {
	local server=$1 config=$2 conns=$3 port=$4 mode

	if ! http_ready "$port"; then
		[ "$server" = apache2 ] && apache_pid
		echo "$server ($config): n/a: no HTTP answer on port $port" >> "$notes"
		na_rows "$server" http "$config" "$conns"
	else
		[ "$server" = apache2 ] && apache_pid
		for mode in persist close; do
			http_measure "$server" "$config" "$port" "$mode" "$conns"
		done
	fi
	server_stop
}

# sockd's http handler with the same 13-byte answer, under the event and
# uring models (2 workers, as nginx), prefork (a worker per connection, as
# apache2's prefork) and prefork with threads (2 workers, a thread per
# connection, as apache2's worker MPM).
bench_sockd_http() {
	local conns=$1 settings config port why conf=$tmp/sockd-http.conf log=$tmp/sockd-http.log

	for settings in "model = \"event\"; workers = 2;" "model = \"uring\"; workers = 2;" \
	    "model = \"prefork\"; workers = $conns;" \
	    "model = \"prefork\"; workers = 2; threads = $(( (conns + 1) / 2 ));"; do
		config=$(sed -e 's/model = "\([a-z]*\)";/\1,/' -e 's/ = /=/g' -e 's/;//g' <<< "$settings")
		cat > "$conf" <<-EOF
		log_level = "info";
		services = ( {
		  name = "web"; listen = "127.0.0.1:0"; handler = "http"; framing = "raw";
		  $settings
		  backlog = 511;
		  http = { content_type = "text/plain"; body = "Hello world!\\n"; };
		  timeouts = { graceful = 2; };
		} );
		EOF
		server_start sockd-http "$log" "$SOCKD" -c "$conf"
		if ! port=$(log_port "$log" "$pid"); then
			echo "sockd http ($config): n/a: did not start" >> "$notes"
			na_rows sockd http "$config" "$conns"
			server_stop
			continue
		fi
		if [[ $settings == *uring* ]] && http_ready "$port" &&
		    why=$(uring_fallback "$log") && [ -n "$why" ]; then
			echo "sockd http uring: n/a: it runs as event: $why" >> "$notes"
			na_rows sockd http "$config" "$conns"
			server_stop
			continue
		fi
		[[ $settings == *"workers = $conns;" ]] && wait_procs "$grp" "$conns"
		bench_http_server sockd "$config" "$conns" "$port"
	done
}

bench_http() {
	local conns=$1 port

	if command -v nginx > /dev/null; then
		port=$(free_port)
		nginx_start "$port"
		bench_http_server nginx "2 workers" "$conns" "$port"
	fi
	if command -v apache2 > /dev/null && [ -f /usr/lib/apache2/modules/mod_mpm_prefork.so ]; then
		port=$(free_port)
		apache_start "$port" "$conns"
		bench_http_server apache2 "prefork, $conns procs" "$conns" "$port"
	fi
	bench_sockd_http "$conns"
}

# ---- the table ---------------------------------------------------------
# The repetitions of each line (server, model, config, mode, conns) into one,
# in the order first measured: medians of req/s, p50, p99 and CPU us/req
# (of the repetitions that gave a number), the largest memory sample, the
# sum of errors.
aggregate() {
	awk -F '\t' -v OFS='\t' '
		function isnum(v) { return v ~ /^[0-9]+(\.[0-9]+)?$/ }
		function median(k, c, fmt,   n, i, j, t, a, first) {
			n = 0
			for (i = 1; i <= cnt[k]; i++) {
				t = val[k, i, c]
				if (isnum(t)) a[++n] = t + 0
				else if (first == "" || first == "n/a") first = t
			}
			if (n == 0) return first == "" ? "-" : first
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return sprintf(fmt, n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
		}
		function most(k, c, fmt,   i, t, m, first) {
			m = -1
			for (i = 1; i <= cnt[k]; i++) {
				t = val[k, i, c]
				if (isnum(t)) { if (t + 0 > m) m = t + 0 }
				else if (first == "" || first == "n/a") first = t
			}
			return m < 0 ? (first == "" ? "-" : first) : sprintf(fmt, m)
		}
		function sum(k, c,   i, t, s, any, first) {
			for (i = 1; i <= cnt[k]; i++) {
				t = val[k, i, c]
				if (isnum(t)) { s += t; any = 1 }
				else if (first == "" || first == "n/a") first = t
			}
			return any ? s + 0 : (first == "" ? "-" : first)
		}
		{
			k = $1 OFS $2 OFS $3 OFS $4 OFS $5
			if (!(k in cnt)) order[++nk] = k
			cnt[k]++
			for (c = 6; c <= 14; c++) val[k, cnt[k], c] = $c
		}
		END {
			for (i = 1; i <= nk; i++) {
				k = order[i]
				print k, median(k, 6, "%.0f"), median(k, 7, "%.0f"), median(k, 8, "%.0f"),
				    sum(k, 9), most(k, 10, "%.1f"), most(k, 11, "%.1f"), most(k, 12, "%d"),
				    most(k, 13, "%d"), median(k, 14, "%.1f")
			}
		}' "$rows"
}

# Columns as documented in docs/BENCHMARKS.md; "vs epoll" is req/s over
# epoll_echo's at the same mode and connections, measured in this run.
print_table() {
	awk -F '\t' '
		$1 == "epoll_echo" { base[$4 "/" $5] = $6 }
		{ row[NR] = $0 }
		END {
			print "| server | model | config | mode | conns | req/s | p50 us | p99 us | errors | RSS MiB | PSS MiB | procs | threads | CPU us/req | vs epoll |"
			print "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
			for (i = 1; i <= NR; i++) {
				split(row[i], f, "\t")
				b = base[f[4] "/" f[5]]
				ratio = (f[2] == "http" || f[6] !~ /^[0-9]+$/ || b + 0 == 0) ? "" : sprintf("%.2f", f[6] / b)
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", \
				    f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12], f[13], \
				    f[14], ratio
			}
		}' "$1"
}

# The issue's goals, each as a ratio of this run's medians at each
# connection count: server CPU per request (lower is better for sockd),
# req/s (higher), prefork's PSS (lower).
print_ratios() {
	awk -F '\t' -v conns_list="$conns_list" '
		function isnum(v) { return v ~ /^[0-9]+(\.[0-9]+)?$/ }
		function ratio(a, b) { return isnum(a) && isnum(b) && b + 0 > 0 ? sprintf("%.2f", a / b) : "n/a" }
		function line(what, c, r, op, goal,   v) {
			if (op == "") v = "no goal: a yardstick"
			else {
				v = "goal " op " " goal
				if (r != "n/a")
					v = v ((op == "<=" ? r + 0 <= goal : r + 0 >= goal) ? ": met" : ": missed")
			}
			printf "%-58s %6s   (%s)\n", what ", " c " conns:", r, v
		}
		{
			k = $4 " " $5
			if ($1 == "nginx") ngx[k] = $14
			else if ($1 == "apache2") { apss[k] = $11; arps[k] = $6 }
			else if ($1 == "epoll_echo") ep[k] = $14
			else if ($1 == "uring_echo") ue[k] = $14
			else if ($1 == "sockd" && $2 == "http") {
				m = $3; sub(/,.*/, "", m)
				if ($3 ~ /threads=/) m = m "-threads"
				hcpu[m, k] = $14; hpss[m, k] = $11; hrps[m, k] = $6
			} else if ($1 == "sockd") { ecpu[$2, k] = $14; erps[$2, k] = $6 }
		}
		END {
			n = split(conns_list, cl, " ")
			for (i = 1; i <= n; i++)
				line("uring / nginx, http persist, CPU/req", cl[i],
				    ratio(hcpu["uring", "persist " cl[i]], ngx["persist " cl[i]]), "<=", 0.75)
			for (i = 1; i <= n; i++)
				line("uring / nginx, http close, CPU/req", cl[i],
				    ratio(hcpu["uring", "close " cl[i]], ngx["close " cl[i]]), "<=", 0.85)
			for (i = 1; i <= n; i++)
				line("uring / epoll_echo, echo persist, CPU/req", cl[i],
				    ratio(ecpu["uring", "persist " cl[i]], ep["persist " cl[i]]), "<=", 0.8)
			for (i = 1; i <= n; i++)
				for (j = 1; j <= 2; j++) {
					md = j == 1 ? "persist" : "close"
					line("uring / uring_echo, echo " md ", CPU/req", cl[i],
					    ratio(ecpu["uring", md " " cl[i]], ue[md " " cl[i]]), "", "")
				}
			for (i = 1; i <= n; i++)
				for (j = 1; j <= 2; j++) {
					md = j == 1 ? "persist" : "close"
					line("event / epoll_echo, echo " md ", CPU/req", cl[i],
					    ratio(ecpu["event", md " " cl[i]], ep[md " " cl[i]]), "<=", 1.0)
				}
			for (i = 1; i <= n; i++)
				line("thread / event, echo close, req/s", cl[i],
				    ratio(erps["thread", "close " cl[i]], erps["event", "close " cl[i]]), ">=", 0.9)
			for (i = 1; i <= n; i++) {
				line("prefork / apache2, http persist, PSS", cl[i],
				    ratio(hpss["prefork", "persist " cl[i]], apss["persist " cl[i]]), "<=", 0.5)
				line("prefork / apache2, http persist, req/s", cl[i],
				    ratio(hrps["prefork", "persist " cl[i]], arps["persist " cl[i]]), ">=", 3)
			}
		}' "$1"
}

# ---- main --------------------------------------------------------------
if [ "$http" = 1 ]; then
	if ! command -v wrk > /dev/null; then
		echo "http: skipped: wrk is not installed (apt-get install wrk nginx-light apache2)" >> "$notes"
		http=0
	else
		command -v nginx > /dev/null ||
			echo "nginx: skipped: not installed (apt-get install nginx-light)" >> "$notes"
		command -v apache2 > /dev/null ||
			echo "apache2: skipped: not installed (apt-get install apache2)" >> "$notes"
	fi
fi
[ -x "$BENCH_BINDIR/uring_echo" ] ||
	echo "uring_echo: skipped: $BENCH_BINDIR/uring_echo is not built" >> "$notes"

note "each measurement ${seconds} s, $reps repetitions; conns: $conns_list; models: $models; CPU: $cg_method"
for ((rep = 1; rep <= reps; rep++)); do
	for conns in $conns_list; do
		note "repetition $rep of $reps, echo, $conns connections"
		bench_yard epoll_echo "$conns"
		[ -x "$BENCH_BINDIR/uring_echo" ] && bench_yard uring_echo "$conns"
		for model in $models; do
			bench_sockd "$model" "$conns"
		done
		if [ "$http" = 1 ]; then
			note "repetition $rep of $reps, http, $conns connections"
			bench_http "$conns"
		fi
	done
done

aggregate > "$tmp/agg"
{
	echo "sockd benchmark: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), Linux $(uname -r), ${seconds} s per line, ${size}-byte echo messages"
	if [ "$reps" = 1 ]; then
		echo "each line one run; CPU us/req: the server's own CPU time per request, from $cg_method"
	else
		echo "each line the median of $reps runs (interleaved); CPU us/req: the server's own CPU time per request, from $cg_method"
	fi
	echo
	print_table "$tmp/agg"
	echo
	echo "ratios (medians of this run; CPU per request: lower is better for sockd):"
	print_ratios "$tmp/agg"
	grep -q '	-	-	' "$tmp/agg" &&
	    echo "RSS/PSS \"-\": /proc/PID/smaps_rollup was closed to this user (sockd is non-dumpable); run as root to see them" >> "$notes"
	[ -s "$notes" ] && { echo; awk '!seen[$0]++ { print "note: " $0 }' "$notes"; }
} > "$tmp/table"
cat "$tmp/table"
[ -n "${BENCH_OUT:-}" ] && cp "$tmp/table" "$BENCH_OUT"
exit 0
