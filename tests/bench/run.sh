#!/bin/bash
# run.sh - the benchmark of sockd's server models (make bench). Not a test:
# it measures, it does not judge. See docs/BENCHMARKS.md.
#
# Starts each server on 127.0.0.1 only, runs a bounded load against it,
# stops it, and prints one markdown table:
#   echo: sockd under each model and the epoll_echo yardstick, driven by
#         tests/bench/loadgen (persistent / connection per message);
#   http: nginx and apache2 (prefork), driven by wrk, if they are installed.
# Memory (RSS, PSS) is the sum over the server's whole process tree, sampled
# from /proc/PID/smaps_rollup every second of the run; the table keeps the
# largest sample. A model that does not answer is "n/a", not a failure.
#
# Settings (environment):
#   BENCH_SECONDS  seconds per measurement, 1..60 (default 5)
#   BENCH_CONNS    connection counts (default "10 100", each 1..1000)
#   BENCH_MODELS   sockd configurations (default
#                  "prefork prefork-threads fork thread event")
#   BENCH_SIZE     echo message bytes (default 16)
#   BENCH_HTTP     0 to skip nginx/apache2 (default 1)
#   BENCH_PORT     first port tried for nginx/apache2 (default 18400)
#   BENCH_OUT      also write the table to this file
#   SOCKD, BENCH_BINDIR  the daemon and the directory of loadgen/epoll_echo
#                  (default: the build tree, built here if needed)
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=nginx.sh
. "$here/nginx.sh"
srcdir=$(cd "$here/../.." && pwd)
seconds=${BENCH_SECONDS:-5}
conns_list=${BENCH_CONNS:-10 100}
models=${BENCH_MODELS:-prefork prefork-threads fork thread event}
size=${BENCH_SIZE:-16}
http=${BENCH_HTTP:-1}
port_base=${BENCH_PORT:-18400}

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "run.sh: $*" >&2; }

case $seconds in ''|*[!0-9]*) die "BENCH_SECONDS must be 1..60";; esac
[ "$seconds" -ge 1 ] && [ "$seconds" -le 60 ] || die "BENCH_SECONDS must be 1..60"
for c in $conns_list; do
	case $c in ''|*[!0-9]*) die "BENCH_CONNS: \"$c\" is not 1..1000";; esac
	[ "$c" -ge 1 ] && [ "$c" -le 1000 ] || die "BENCH_CONNS: \"$c\" is not 1..1000"
done

# ---- binaries ----------------------------------------------------------
if [ -z "${SOCKD:-}" ] || [ -z "${BENCH_BINDIR:-}" ]; then
	builddir=${SOCKD_BUILDDIR:-$srcdir}
	[ -f "$builddir/Makefile" ] ||
		die "no Makefile in $builddir: run ./bootstrap && ./configure first (or set SOCKD_BUILDDIR)"
	make -C "$builddir" -s src/sockd tests/bench/loadgen tests/bench/epoll_echo >&2 ||
		die "build failed"
	SOCKD=${SOCKD:-$builddir/src/sockd}
	BENCH_BINDIR=${BENCH_BINDIR:-$builddir/tests/bench}
fi
loadgen=$BENCH_BINDIR/loadgen
epoll_echo=$BENCH_BINDIR/epoll_echo
for b in "$SOCKD" "$loadgen" "$epoll_echo"; do
	[ -x "$b" ] || die "$b is missing"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-bench.XXXXXX") || die "mktemp failed"
chmod 755 "$tmp"	# apache2's children may run as nobody and must read htdocs
rows=$tmp/rows		# one result per line, tab-separated
notes=$tmp/notes
: > "$rows"
: > "$notes"
servers=()		# every pid started, stopped by cleanup

# ---- processes ---------------------------------------------------------
# The pid and all its descendants (a fork-model worker's children too).
tree_pids() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2 }
		END {
			keep[root] = 1; print root
			do {
				more = 0
				for (p in parent)
					if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p; more = 1 }
			} while (more)
		}'
}

# Stop a server and everything under it: SIGTERM, then SIGKILL after 5 s.
stop_tree() {
	local root=$1 pids i

	pids=$(tree_pids "$root")
	kill -TERM "$root" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$root" 2>/dev/null || break
		sleep 0.1
	done
	for p in $pids; do
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	wait "$root" 2>/dev/null
}

cleanup() {
	for p in "${servers[@]}"; do
		kill -0 "$p" 2>/dev/null && stop_tree "$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# "RSS_KB PSS_KB PROCS THREADS" of the tree now; RSS "-" where /proc is closed
# to us (a non-dumpable sockd, as a user other than root). Files are read
# with bash builtins: a sample of 100 processes must not load the machine it
# measures. Processes that exit meanwhile, and zombies, are left out.
mem_sample() {
	local rss=0 pss=0 procs=0 threads=0 closed=0 p line v st sm

	for p in $(tree_pids "$1"); do
		{ mapfile -t st < "/proc/$p/status"; } 2>/dev/null || continue
		[[ ${st[*]} == *$'State:\tZ'* ]] && continue
		procs=$((procs + 1))
		for line in "${st[@]}"; do
			[[ $line == Threads:* ]] && threads=$((threads + ${line#Threads:}))
		done
		if ! { mapfile -t sm < "/proc/$p/smaps_rollup"; } 2>/dev/null; then
			[ -d "/proc/$p" ] && closed=1
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

# Sample the tree every second while the load runs; print the largest.
mem_watch() {
	local root=$1 out=$2 i

	: > "$out"
	for ((i = 1; i < seconds; i++)); do
		sleep 1
		kill -0 "$root" 2>/dev/null || break
		mem_sample "$root" >> "$out"
	done
	[ "$seconds" = 1 ] && { sleep 0.5; mem_sample "$root" >> "$out"; }
}

# CPU time (utime + stime, the process's reaped children included) of the
# tree, in clock ticks: the server's own cost, whatever the load client costs.
cpu_ticks() {
	local total=0 p f

	for p in $(tree_pids "$1"); do
		{ read -r -a f < "/proc/$p/stat"; } 2>/dev/null || continue
		total=$((total + f[13] + f[14] + f[15] + f[16]))
	done
	echo "$total"
}

# Microseconds of server CPU per request, from ticks before and after.
cpu_per_req() {
	awk -v t0="$1" -v t1="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		if (n + 0 == 0) print "-"; else printf "%.1f\n", (t1 - t0) / hz * 1e6 / n }'
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

# Wait up to 5 s for "listening on 127.0.0.1:PORT" in a log; print PORT.
log_port() {
	local i p

	for ((i = 0; i < 50; i++)); do
		p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# ---- echo measurements -------------------------------------------------
# row: server model config mode conns rps p50 p99 errors rss pss procs threads
add_row() { (IFS=$'\t'; echo "$*") >> "$rows"; }

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< " $2"; }

# Drive one echo server at PORT (process tree at PID) in one mode.
echo_measure() {
	local server=$1 model=$2 config=$3 pid=$4 port=$5 mode=$6 conns=$7 out

	local t0 t1

	mem_watch "$pid" "$tmp/mem" & local watcher=$!
	t0=$(cpu_ticks "$pid")
	out=$("$loadgen" -p "$port" -c "$conns" -d "$seconds" -m "$mode" -s "$size" -o)
	t1=$(cpu_ticks "$pid")
	wait "$watcher"
	add_row "$server" "$model" "$config" "$mode" "$conns" "$(kv rps "$out")" \
	    "$(kv p50_us "$out")" "$(kv p99_us "$out")" \
	    "$(( $(kv errors "$out") + $(kv timeouts "$out") ))" "$(mem_max "$tmp/mem")" \
	    "$(cpu_per_req "$t0" "$t1" "$(kv requests "$out")")"
}

# One message answered within a second, or the server is not serving.
echo_probe() {
	local out

	out=$("$loadgen" -p "$1" -c 1 -d 1 -s "$size" -o)
	[ "$(kv requests "$out")" != 0 ]
}

na_rows() {
	for mode in persist close; do
		add_row "$1" "$2" "$3" "$mode" "$4" n/a n/a n/a n/a n/a n/a n/a n/a n/a
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
	*) return 1 ;;
	esac
}

sockd_start() {
	local conf=$tmp/sockd.conf

	cat > "$conf" <<-EOF
	log_level = "info";
	services = ( {
	  name = "echo"; listen = "127.0.0.1:0"; handler = "echo"; framing = "raw";
	  $1
	  backlog = 511;
	  timeouts = { graceful = 2; };
	} );
	EOF
	"$SOCKD" -c "$conf" 2> "$tmp/sockd.log" &
	pid=$!
	servers+=("$pid")
}

# Wait (up to 5 s) for at least N processes in the tree: every prefork worker up.
wait_procs() {
	local i

	for ((i = 0; i < 50; i++)); do
		[ "$(tree_pids "$1" | wc -l)" -gt "$2" ] && return
		sleep 0.1
	done
}

bench_sockd() {
	local model=$1 conns=$2 settings config port why

	settings=$(sockd_settings "$model" "$conns") || { note "unknown model $model"; return; }
	config=$(sed -e 's/model = "[a-z]*"; //' -e 's/ = /=/g' -e 's/;//g' <<< "$settings")
	sockd_start "$settings"
	if ! port=$(log_port "$tmp/sockd.log") || ! echo_probe "$port"; then
		why=$(grep -m 1 -E 'error|fatal' "$tmp/sockd.log" | sed 's/^.*: error: //')
		echo "sockd $model ($config): n/a: ${why:-no answer}" >> "$notes"
		na_rows sockd "$model" "$config" "$conns"
	else
		[ "$model" = prefork ] && wait_procs "$pid" "$conns"
		for mode in persist close; do
			echo_measure sockd "$model" "$config" "$pid" "$port" "$mode" "$conns"
		done
	fi
	stop_tree "$pid"
}

bench_epoll_echo() {
	local port

	"$epoll_echo" 0 2> "$tmp/epoll_echo.log" &
	pid=$!
	servers+=("$pid")
	port=$(log_port "$tmp/epoll_echo.log") || die "epoll_echo did not start"
	for conns in $conns_list; do
		for mode in persist close; do
			echo_measure epoll_echo - "1 thread" "$pid" "$port" "$mode" "$conns"
		done
	done
	stop_tree "$pid"
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
	local server=$1 config=$2 pid=$3 port=$4 mode=$5 conns=$6 out hdr=()

	local t0 t1 rps

	[ "$mode" = close ] && hdr=(-H "Connection: close")
	mem_watch "$pid" "$tmp/mem" & local watcher=$!
	t0=$(cpu_ticks "$pid")
	out=$(timeout $((seconds + 15)) wrk -t 1 -c "$conns" -d "${seconds}s" --timeout 2s \
	    --latency "${hdr[@]}" "http://127.0.0.1:$port/hello.txt" 2>&1)
	t1=$(cpu_ticks "$pid")
	wait "$watcher"
	rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<< "$out")
	add_row "$server" http "$config" "$mode" "$conns" "$rps" \
	    "$(wrk_us "$(awk '$1 == "50%" { print $2 }' <<< "$out")")" \
	    "$(wrk_us "$(awk '$1 == "99%" { print $2 }' <<< "$out")")" \
	    "$(awk '/Socket errors:/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx/ { e += $NF } END { print e + 0 }' <<< "$out")" \
	    "$(mem_max "$tmp/mem")" "$(cpu_per_req "$t0" "$t1" "$((${rps:-0} * seconds))")"
}

# nginx: 2 workers, a fixed 13-byte answer, all paths in our temp dir.
nginx_start() {
	local port=$1 d=$tmp/nginx

	mkdir -p "$d"
	nginx_conf "$d" "$port" 2 warn
	nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" &
	pid=$!
	servers+=("$pid")
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
	setsid apache2 -d "$d" -f "$d/apache2.conf" -DFOREGROUND &
	pid=$!
	servers+=("$pid")
}

# setsid execs apache2 in place when it can; if it had to fork, follow the pid file.
apache_pid() {
	local p

	p=$(cat "$tmp/apache/run/apache2.pid" 2>/dev/null)
	if [ -n "$p" ] && [ "$p" != "$pid" ]; then
		pid=$p
		servers+=("$pid")
	fi
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

bench_http_server() {
	local server=$1 config=$2 conns=$3 port=$4

	if ! http_ready "$port"; then
		[ "$server" = apache2 ] && apache_pid
		echo "$server: n/a: no HTTP answer on port $port" >> "$notes"
		na_rows "$server" http "$config" "$conns"
	else
		[ "$server" = apache2 ] && apache_pid
		for mode in persist close; do
			http_measure "$server" "$config" "$pid" "$port" "$mode" "$conns"
		done
	fi
	stop_tree "$pid"
}

# sockd's http handler with the same 13-byte answer, under the event model
# (2 workers, as nginx), prefork (a worker per connection, as apache2's
# prefork) and prefork with threads (2 workers, a thread per connection, as
# apache2's worker MPM).
sockd_http_start() {
	local conf=$tmp/sockd-http.conf

	cat > "$conf" <<-EOF
	log_level = "info";
	services = ( {
	  name = "web"; listen = "127.0.0.1:0"; handler = "http"; framing = "raw";
	  $1
	  backlog = 511;
	  http = { content_type = "text/plain"; body = "Hello world!\\n"; };
	  timeouts = { graceful = 2; };
	} );
	EOF
	"$SOCKD" -c "$conf" 2> "$tmp/sockd-http.log" &
	pid=$!
	servers+=("$pid")
}

bench_sockd_http() {
	local conns port settings

	for conns in $conns_list; do
		for settings in "model = \"event\"; workers = 2;" "model = \"prefork\"; workers = $conns;" \
		    "model = \"prefork\"; workers = 2; threads = $(( (conns + 1) / 2 ));"; do
			sockd_http_start "$settings"
			if ! port=$(log_port "$tmp/sockd-http.log"); then
				echo "sockd http ($settings): n/a: did not start" >> "$notes"
				stop_tree "$pid"
				continue
			fi
			[[ $settings == *"workers = $conns"* ]] && wait_procs "$pid" "$conns"
			bench_http_server sockd "$(sed -e 's/model = "\([a-z]*\)";/\1,/' -e 's/ = /=/g' \
			    -e 's/;//g' <<< "$settings")" "$conns" "$port"
		done
	done
}

bench_http() {
	local port

	if ! command -v wrk >/dev/null; then
		echo "http: skipped: wrk is not installed (apt-get install wrk nginx-light apache2)" >> "$notes"
		return
	fi
	for conns in $conns_list; do
		if command -v nginx >/dev/null; then
			port=$(free_port)
			nginx_start "$port"
			bench_http_server nginx "2 workers" "$conns" "$port"
		fi
		if command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_mpm_prefork.so ]; then
			port=$(free_port)
			apache_start "$port" "$conns"
			bench_http_server apache2 "prefork, $conns procs" "$conns" "$port"
		fi
	done
	command -v nginx >/dev/null ||
		echo "nginx: skipped: not installed (apt-get install nginx-light)" >> "$notes"
	command -v apache2 >/dev/null ||
		echo "apache2: skipped: not installed (apt-get install apache2)" >> "$notes"
	bench_sockd_http
}

# ---- the table ---------------------------------------------------------
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
				    (f[14] == "" ? "-" : f[14]), ratio
			}
		}' "$rows"
}

print_event_ratio() {
	awk -F '\t' '
		$1 == "epoll_echo" { base[$4 " " $5] = $6; bcpu[$4 " " $5] = $14 }
		$1 == "sockd" && $2 == "event" { ev[$4 " " $5] = $6; ecpu[$4 " " $5] = $14 }
		END {
			for (k in base) {
				r = (k in ev && ev[k] != "n/a" && base[k] > 0) ? sprintf("%.2f", ev[k] / base[k]) : "n/a"
				c = (k in ecpu && ecpu[k] + 0 > 0 && bcpu[k] + 0 > 0) ? \
				    sprintf("%.2f", bcpu[k] / ecpu[k]) : "n/a"
				printf "event / epoll_echo, %s conns: req/s %s, requests per CPU second %s\n", k, r, c
			}
		}' "$rows" | sort
}

# ---- main --------------------------------------------------------------
note "each measurement ${seconds} s; conns: $conns_list; models: $models"
bench_epoll_echo
for model in $models; do
	for conns in $conns_list; do
		note "sockd $model, $conns connections"
		bench_sockd "$model" "$conns"
	done
done
[ "$http" = 1 ] && { note "http servers"; bench_http; }

{
	echo "sockd benchmark: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), Linux $(uname -r), ${seconds} s per line, ${size}-byte echo messages"
	echo
	print_table
	echo
	print_event_ratio
	grep -q '	-	-	' "$rows" &&
	    echo "RSS/PSS \"-\": /proc/PID/smaps_rollup was closed to this user (sockd is non-dumpable); run as root to see them" >> "$notes"
	[ -s "$notes" ] && { echo; awk '!seen[$0]++ { print "note: " $0 }' "$notes"; }
} > "$tmp/table"
cat "$tmp/table"
[ -n "${BENCH_OUT:-}" ] && cp "$tmp/table" "$BENCH_OUT"
exit 0
