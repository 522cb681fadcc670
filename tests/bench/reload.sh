#!/bin/bash
# reload.sh - what reloads under load cost HTTP clients (issue 13). Not a
# test: it measures, it does not judge. See docs/BENCHMARKS.md.
#
# For each server - sockd's http handler under each model in RELOAD_MODELS
# (4 workers, keep-alive, timeouts.graceful = 5), then nginx if it is
# installed (4 workers, keep-alive) - on 127.0.0.1 only:
#   wrk -c100 -t2 (keep-alive) runs for RELOAD_SECONDS, and at the same time
#   a client that opens a connection per request (curl, one process per
#   request, in a loop until the same end); after 2 s the server is
#   reloaded RELOAD_COUNT times, one a second (sockd: SIGHUP to the master;
#   nginx: SIGHUP to its master, as nginx -s reload sends).
# Then one markdown table: wrk's requests and its errors (connect, read,
# write, timeout, non-2xx/3xx answers), the per-request client's requests
# and failures (curl failed, or an answer other than 200), and how many
# reloads the server said it completed.
#
# Settings (environment):
#   SOCKD           the daemon (default: src/sockd of SOCKD_BUILDDIR, or of
#                   the build directory given as the first argument)
#   RELOAD_SECONDS  length of each run, 10..120 (default 25)
#   RELOAD_COUNT    reloads per run, 1..60, at most RELOAD_SECONDS - 4
#                   (default 20)
#   RELOAD_MODELS   sockd models (default "prefork-threads event"; any of prefork,
#                   prefork-threads, event, thread, fork)
#   RELOAD_NGINX    0 to skip nginx (default 1)
#   RELOAD_SIGNAL   HUP (default): reloads; USR2: sockd's binary upgrade in
#                   place, the binary becoming itself again each time
#                   (nginx is skipped: its USR2 starts a second master)
#   BENCH_PORT      first port tried for nginx (default 18600)
#   BENCH_OUT       also write the table to this file
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=nginx.sh
. "$here/nginx.sh"
srcdir=$(cd "$here/../.." && pwd)
seconds=${RELOAD_SECONDS:-25}
reloads=${RELOAD_COUNT:-20}
models=${RELOAD_MODELS:-prefork-threads event}
with_nginx=${RELOAD_NGINX:-1}
port_base=${BENCH_PORT:-18600}
signal=${RELOAD_SIGNAL:-HUP}
case $signal in HUP) ;; USR2) with_nginx=0 ;; *) echo "reload.sh: RELOAD_SIGNAL is HUP or USR2" >&2; exit 1 ;; esac

die() { echo "reload.sh: $*" >&2; exit 1; }
note() { echo "reload.sh: $*" >&2; }

case $seconds in ''|*[!0-9]*) die "RELOAD_SECONDS must be 10..120";; esac
[ "$seconds" -ge 10 ] && [ "$seconds" -le 120 ] || die "RELOAD_SECONDS must be 10..120"
case $reloads in ''|*[!0-9]*) die "RELOAD_COUNT must be 1..60";; esac
[ "$reloads" -ge 1 ] && [ "$reloads" -le 60 ] && [ "$reloads" -le $((seconds - 4)) ] ||
	die "RELOAD_COUNT must be 1..60 and at most RELOAD_SECONDS - 4"
command -v wrk > /dev/null || die "wrk is missing (apt-get install -y wrk)"
command -v curl > /dev/null || die "curl is missing (apt-get install -y curl)"

if [ -z "${SOCKD:-}" ]; then
	builddir=${1:-${SOCKD_BUILDDIR:-$srcdir}}
	[ -f "$builddir/Makefile" ] ||
		die "no Makefile in $builddir: give a configured build directory (or set SOCKD)"
	make -C "$builddir" -s src/sockd >&2 || die "build failed"
	SOCKD=$builddir/src/sockd
fi
[ -x "$SOCKD" ] || die "$SOCKD is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-reload.XXXXXX") || die "mktemp failed"
chmod 755 "$tmp"	# nginx's workers may run as nobody
rows=$tmp/rows
: > "$rows"
servers=()		# every server pid started, stopped by cleanup
clients=()		# every client pid started, stopped by cleanup

# Stop PID (SIGTERM, then SIGKILL after 10 s) and reap it.
stop_pid() {
	local p=$1 i

	kill -TERM "$p" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

cleanup() {
	local p

	for p in "${clients[@]}"; do
		kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
	done
	for p in "${servers[@]}"; do
		stop_pid "$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing listens on, from BENCH_PORT up.
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

# Up to 5 s for a 200 on PORT.
http_ready() {
	local i

	for ((i = 0; i < 50; i++)); do
		[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$1/")" = 200 ] &&
			return 0
		sleep 0.1
	done
	return 1
}

# The per-request client: curl, a process and a connection per request,
# until END (epoch seconds); one line per request: its HTTP code, or
# "fail" and curl's exit status.
curl_loop() {
	local port=$1 end=$2 out=$3 code

	while [ "$(date +%s)" -lt "$end" ]; do
		if code=$(curl -s -o /dev/null -m 3 -H 'Connection: close' -w '%{http_code}' \
		    "http://127.0.0.1:$port/"); then
			echo "$code"
		else
			echo "fail $? $code"
		fi
	done > "$out"
}

# wrk's "Socket errors: connect C, read R, write W, timeout T" (absent: 0)
# and its non-2xx/3xx count, as "C R W T N".
wrk_errors() {
	awk '
		/Socket errors:/ { gsub(",", ""); c = $4; r = $6; w = $8; t = $10 }
		/Non-2xx or 3xx responses:/ { n = $5 }
		END { printf "%d %d %d %d %d\n", c, r, w, t, n }' "$1"
}

# One run against the server PID on PORT: the load, and RELOAD (a command)
# once a second; COUNT_RELOADS (a command) says how many completed.
measure() {
	local name=$1 config=$2 port=$3 reload=$4 count_reloads=$5
	local end wrk_pid curl_pid i reqs errs creqs cfail done_reloads

	end=$(($(date +%s) + seconds))
	wrk -t 2 -c 100 -d "${seconds}s" --timeout 5s "http://127.0.0.1:$port/" \
	    > "$tmp/wrk.out" 2>&1 &
	wrk_pid=$!
	clients+=("$wrk_pid")
	curl_loop "$port" "$end" "$tmp/curl.out" &
	curl_pid=$!
	clients+=("$curl_pid")
	sleep 2
	for ((i = 0; i < reloads; i++)); do
		$reload
		sleep 1
	done
	# Both end by themselves; the bound is for a wrk that hangs.
	for ((i = 0; i < seconds * 10 + 300; i++)); do
		kill -0 "$wrk_pid" 2>/dev/null || kill -0 "$curl_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$wrk_pid" "$curl_pid" 2>/dev/null
	wait "$wrk_pid" "$curl_pid" 2>/dev/null
	reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
	errs=$(wrk_errors "$tmp/wrk.out")
	creqs=$(wc -l < "$tmp/curl.out")
	cfail=$(grep -cv '^200$' "$tmp/curl.out")
	done_reloads=$($count_reloads)
	# shellcheck disable=SC2086
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$config" "$done_reloads" \
	    "${reqs:-?}" $errs "$creqs" "$cfail" >> "$rows"
	[ "$cfail" -gt 0 ] && note "$name: per-request failures: $(grep -v '^200$' "$tmp/curl.out" |
	    sort | uniq -c | tr '\n' ';')"
	return 0
}

# ---- sockd -------------------------------------------------------------
sockd_settings() {
	case $1 in
	prefork) echo 'model = "prefork"; workers = 4;' ;;
	prefork-threads) echo 'model = "prefork"; workers = 4; threads = 32;' ;;
	event) echo 'model = "event"; workers = 4;' ;;
	thread) echo 'model = "thread"; workers = 4;' ;;
	fork) echo 'model = "fork"; workers = 4;' ;;
	*) return 1 ;;
	esac
}

sockd_pid=
sockd_reload() { kill -"$signal" "$sockd_pid"; }
sockd_reloads() {
	if [ "$signal" = USR2 ]; then
		grep -c 'notice: upgraded from sockd' "$tmp/sockd.log"
	else
		grep -c 'reloaded: generation' "$tmp/sockd.log"
	fi
}

# prefork serves a connection per process: wrk's 100 need 100 of them (and
# the curl client one more), as Apache's prefork would.
bench_sockd() {
	local model=$1 settings conf=$tmp/sockd.conf port

	settings=$(sockd_settings "$model") || { note "unknown model $model"; return; }
	[ "$model" = prefork ] && settings='model = "prefork"; workers = 104;'
	cat > "$conf" <<-EOF
	log_level = "info";
	$([ "$(id -u)" = 0 ] && echo 'user = "nobody";')
	services = ( {
	  name = "web"; listen = "127.0.0.1:0"; handler = "http";
	  $settings
	  backlog = 511;
	  http = { content_type = "text/plain"; body = "Hello world!\\n"; };
	  timeouts = { graceful = 5; };
	} );
	EOF
	"$SOCKD" -c "$conf" 2> "$tmp/sockd.log" &
	sockd_pid=$!
	servers+=("$sockd_pid")
	if ! port=$(log_port "$tmp/sockd.log") || ! http_ready "$port"; then
		note "sockd $model: no answer: $(grep -m 1 -E 'error|fatal' "$tmp/sockd.log")"
		stop_pid "$sockd_pid"
		return
	fi
	sleep 1		# every worker up
	measure sockd "$(sed -e 's/ = /=/g' -e 's/;//g' -e 's/"//g' <<< "$settings")" "$port" \
	    sockd_reload sockd_reloads
	stop_pid "$sockd_pid"
}

# ---- nginx -------------------------------------------------------------
nginx_pid=
nginx_reload() { kill -HUP "$nginx_pid"; }
# The master's "reconfiguring" line, once per reload it carried out.
nginx_reloads() { grep -c ': reconfiguring$' "$tmp/nginx/error.log"; }

bench_nginx() {
	local d=$tmp/nginx port

	port=$(free_port)
	mkdir -p "$d/logs"
	nginx_conf "$d" "$port" 4 notice
	nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf" &
	nginx_pid=$!
	servers+=("$nginx_pid")
	if ! http_ready "$port"; then
		note "nginx: no answer on port $port: $(tail -n 3 "$d/error.log")"
		stop_pid "$nginx_pid"
		return
	fi
	measure nginx "$(nginx -v 2>&1 | sed 's/.*nginx\//nginx /'), worker_processes=4" "$port" \
	    nginx_reload nginx_reloads
	stop_pid "$nginx_pid"
}

for m in $models; do
	bench_sockd "$m"
done
if [ "$with_nginx" = 1 ]; then
	if command -v nginx > /dev/null; then
		bench_nginx
	else
		note "nginx is not installed: skipped (apt-get install -y nginx)"
	fi
fi

{
	if [ "$signal" = USR2 ]; then
		echo "$reloads binary upgrades in place (SIGUSR2), one a second, during ${seconds} s of wrk -t2 -c100 (keep-alive)"
	else
		echo "$reloads reloads, one a second, during ${seconds} s of wrk -t2 -c100 (keep-alive)"
	fi
	echo "and of curl, a connection per request, on 127.0.0.1:"
	echo
	echo "| server | settings | reloads done | wrk requests | connect | read | write | timeout | non-2xx | curl requests | curl failures |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
	    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' "$rows"
} | tee "${BENCH_OUT:-/dev/null}"
