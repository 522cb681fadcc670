#!/bin/bash
# haproxy_scale.sh - docs/DEPLOYMENT.md's scale-out, on loopback: two sockd
# instances (each its own configuration and master) behind one HAProxy, in
# TCP mode for an echo service and HTTP mode for an http service, with
# send-proxy-v2, health checks (a TCP check, and an HTTP check of each
# instance's /status) and retries with redispatch. Under a steady, bounded
# client load through HAProxy:
#   a. each instance reloads (SIGHUP): no request fails;
#   b. one is drained through HAProxy's runtime API, then stopped (SIGTERM)
#      and started again: no request fails;
#   c. the other's master is killed (SIGKILL; its workers die with it) and
#      started again: a few requests may fail (counted and printed, the
#      bound is generous), the health checks mark it DOWN and UP again.
# And sockd saw the real client through PROXY v2: HAProxy connects from
# 127.0.0.2 (its "source"), the clients from 127.0.0.1, and sockd's access
# log and connection log name 127.0.0.1.
#
# The clients and the runtime API calls are bash's /dev/tcp (HAProxy's
# "stats socket" on a loopback port here), so haproxy is all it needs.
#
# Exit codes (automake): 0 pass, 1 fail, 77 skip (no haproxy, unless
# SOCKD_REQUIRE_TOOLS is set), 99 rig error. Every wait is bounded.
set -u
export LC_ALL=C

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ -n "${SOCKD_REQUIRE_TOOLS:-}" ]; then
		echo "FAIL: $1 is not installed, and SOCKD_REQUIRE_TOOLS is set"; exit 1
	fi
	echo "SKIP: no $1"; exit 77
}
need haproxy
[ -x "${SOCKD:-}" ] || { echo "Bail out! \$SOCKD is not an executable ($SOCKD)"; exit 99; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-haproxy.XXXXXX") || exit 99
declare -A master=()	# instance -> master pid
hap= loadpid= failed=0
cleanup() {
	local p
	for p in $loadpid "$hap" "${master[@]}"; do
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
watchdog=
trap '[ -n "$watchdog" ] && kill "$watchdog" 2>/dev/null; cleanup' EXIT
trap 'echo "Bail out! interrupted, or over the 120 s limit"; exit 99' INT TERM HUP
# However it hangs, past 120 s (it takes about 10) this shell gets SIGTERM.
(
	sleep 120 &
	s=$!
	trap 'kill $s 2>/dev/null; wait $s; exit 0' TERM
	wait $s && kill -TERM $$ 2>/dev/null
) </dev/null >/dev/null 2>&1 &
watchdog=$!

ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; failed=1; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
wait_for() { # wait_for TENTHS COMMAND...: poll until true, at most TENTHS/10 s
	local n=$1 i; shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}

# ---- ports, clients, HAProxy's runtime API: all over bash's /dev/tcp --------
is_listened() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Nine ports nobody listens on, below the kernel's ephemeral range (so no
# other test's port 0, nor an outgoing connection, can take one meanwhile).
read -r eph _ </proc/sys/net/ipv4/ip_local_port_range || eph=32768
[ "$eph" -gt 12000 ] || { echo "SKIP: ephemeral range starts at $eph"; exit 77; }
ports=()
for ((i = 0; i < 1000 && ${#ports[@]} < 9; i++)); do
	p=$((eph - 10000 + RANDOM % 10000))
	case " ${ports[*]} " in *" $p "*) continue ;; esac
	is_listened "$p" || ports+=("$p")
done
[ "${#ports[@]}" = 9 ] || { echo "Bail out! no free ports"; exit 99; }
read -r fe_tcp fe_http a_echo a_web a_status b_echo b_web b_status api_port <<<"${ports[*]}"

# One request each, through HAProxy; 0 when answered right. http_one also
# says who answered (the body names the instance) in $who.
echo_one() { # echo_one N
	local line r
	exec 3<>"/dev/tcp/127.0.0.1/$fe_tcp" || return 1
	printf '%s\n' "echo $1" >&3 && IFS= read -r -t 5 line <&3 && [ "$line" = "echo $1" ]
	r=$?
	exec 3>&-
	return $r
}
# (Each request is one write: bash's printf writes a format in pieces, and
# HAProxy would wait for the rest of a head a delayed ACK later, 40 ms.)
http_req=$'GET / HTTP/1.1\r\nHost: scale\r\nUser-Agent: haproxy_scale\r\nConnection: close\r\n\r\n'
http_one() {
	local st line r=1
	who=
	exec 3<>"/dev/tcp/127.0.0.1/$fe_http" || return 1
	if printf '%s' "$http_req" >&3 &&
		IFS= read -r -t 5 st <&3 && [ "${st%% *}" = HTTP/1.1 ] && [ "$(cut -d' ' -f2 <<<"$st")" = 200 ]; then
		while IFS= read -r -t 5 line <&3 && [ "$line" != $'\r' ]; do :; done
		IFS= read -r -t 5 who <&3 && case $who in a | b) r=0 ;; esac
	fi
	exec 3>&-
	return $r
}
# client KIND OUT STOP: about 100 requests a second, at most 3000 and 40 s,
# until the file STOP exists; then "ANSWERED FAILED BY-A BY-B" in OUT.
client() {
	local i ok=0 bad=0 na=0 nb=0 who SECONDS=0
	for ((i = 0; i < 3000 && SECONDS < 40; i++)); do
		[ -e "$3" ] && break
		if [ "$1" = http ] && http_one; then
			ok=$((ok + 1)); [ "$who" = a ] && na=$((na + 1)) || nb=$((nb + 1))
		elif [ "$1" = echo ] && echo_one "$i"; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
		fi
		sleep 0.01
	done
	echo "$ok $bad $na $nb" >"$2"
}
# api COMMAND: HAProxy's runtime API; its answer on stdout.
api() {
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s\n" "$2" >&3 && cat <&3' _ \
		"$api_port" "$1" 2>/dev/null
}
# hstat BACKEND SERVER: "STATUS SCUR" from "show stat" (CSV: column 18 is
# status, 5 the sessions open now).
hstat() { api "show stat" | awk -F, -v b="$1" -v s="$2" '$1 == b && $2 == s { print $18, $5 }'; }

# docs/DEPLOYMENT.md's blocks: the text after "<!-- haproxy_scale.sh: WHAT -->".
doc=${SOCKD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/docs/DEPLOYMENT.md
from_doc() { # from_doc WHAT: the fenced block right after the mark
	awk -v mark="<!-- haproxy_scale.sh: $1 -->" '
		$0 == mark { at = 1; next }
		at == 1 && /^```/ { at = 2; next }
		at == 2 && /^```/ { exit }
		at == 2 { print }' "$doc"
}
# only_in TEXT WORD...: each WORD is in TEXT (a replacement took), or bail.
only_in() {
	local t=$1 w; shift
	for w; do grep -qF -- "$w" <<<"$t" || { echo "Bail out! docs/DEPLOYMENT.md's block lost '$w'"; exit 99; }; done
}
sockd_doc=$(from_doc sockd.conf)
[ -n "$sockd_doc" ] || { echo "Bail out! no sockd.conf block in $doc"; exit 99; }
user=; [ "$(id -u)" -eq 0 ] && user='user = "nobody";'
# The doc's a.conf for instance NAME, on the test's ports and paths; at
# debug, for a line per connection saying whom it was from.
instance_conf() { # instance_conf NAME ECHO-PORT WEB-PORT STATUS-PORT
	local t
	mkdir -p "$tmp/$1"
	t=$(sed -e "s/127\.0\.0\.1:7001\"/127.0.0.1:$2\"/" -e "s/127\.0\.0\.1:8001\"/127.0.0.1:$3\"/" \
		-e "s/127\.0\.0\.1:9001\"/127.0.0.1:$4\"/" -e "s|\"/var/log/sockd-a/|\"$tmp/$1/|" \
		-e "s/body = \"a\\\\n\"/body = \"$1\\\\n\"/" <<<"$sockd_doc")
	only_in "$t" "127.0.0.1:$2\"" "127.0.0.1:$3\"" "127.0.0.1:$4\"" "\"$tmp/$1/web.log\"" \
		"body = \"$1\\n\"" 'proxy_trusted = "127.0.0.2"'
	printf '%s\nlog_level = "debug";\ncontrol = { path = "%s"; };\n%s\n' "$user" \
		"$tmp/$1/control" "$t" >"$tmp/$1/sockd.conf"
}
instance_conf a "$a_echo" "$a_web" "$a_status"
instance_conf b "$b_echo" "$b_web" "$b_status"
"$SOCKD" -t -c "$tmp/a/sockd.conf" >/dev/null || { echo "Bail out! sockd -t refuses the test's config"; exit 99; }

started() { grep -q "notice: sockd .* started" "$tmp/$1/sockd.log"; }
start_instance() { # start_instance NAME: a new master, its log appended
	"$SOCKD" -c "$tmp/$1/sockd.conf" 2>>"$tmp/$1/sockd.log" &
	master[$1]=$!
}
: >"$tmp/a/sockd.log"; : >"$tmp/b/sockd.log"
start_instance a
start_instance b
wait_for 100 started a && wait_for 100 started b ||
	{ cat "$tmp"/?/sockd.log; echo "Bail out! sockd did not start"; exit 99; }
ok "two sockd instances started: masters ${master[a]} and ${master[b]}"

# ---- HAProxy in front: docs/DEPLOYMENT.md's haproxy.cfg, on loopback ports --
hcfg=$(from_doc haproxy.cfg | sed -e "s|/run/haproxy/admin\.sock mode 600|ipv4@127.0.0.1:$api_port|" \
	-e "s/bind \*:7000\$/bind 127.0.0.1:$fe_tcp/" -e "s/bind \*:8000\$/bind 127.0.0.1:$fe_http/" \
	-e "s/127\.0\.0\.1:7001\$/127.0.0.1:$a_echo/" -e "s/127\.0\.0\.1:7002\$/127.0.0.1:$b_echo/" \
	-e "s/127\.0\.0\.1:8001 check port 9001\$/127.0.0.1:$a_web check port $a_status/" \
	-e "s/127\.0\.0\.1:8002 check port 9002\$/127.0.0.1:$b_web check port $b_status/")
only_in "$hcfg" "stats socket ipv4@127.0.0.1:$api_port level admin" "bind 127.0.0.1:$fe_tcp" "bind 127.0.0.1:$fe_http" \
	"127.0.0.1:$a_echo" "127.0.0.1:$b_echo" "127.0.0.1:$a_web check port $a_status" \
	"127.0.0.1:$b_web check port $b_status" "source 127.0.0.2 send-proxy-v2"
printf '%s\n' "$hcfg" >"$tmp/haproxy.cfg"
haproxy -c -f "$tmp/haproxy.cfg" >"$tmp/haproxy-c.log" 2>&1 ||
	{ cat "$tmp/haproxy-c.log"; echo "Bail out! haproxy -c refuses the test's haproxy.cfg"; exit 99; }
haproxy -db -f "$tmp/haproxy.cfg" </dev/null >"$tmp/haproxy.log" 2>&1 &
hap=$!

hstate() { hstat "$1" "$2" | cut -d' ' -f1; }
hcur() { hstat "$1" "$2" | cut -d' ' -f2; }
is_state() { # is_state STATE SERVER: in both backends
	[ "$(hstate echo "$2")" = "$1" ] && [ "$(hstate web "$2")" = "$1" ]
}
if wait_for 100 is_state UP a && wait_for 50 is_state UP b; then
	ok "HAProxy's health checks (TCP with PROXY v2 LOCAL, HTTP GET /status) mark a and b UP"
else
	notok "HAProxy marks a and b UP: echo/a $(hstate echo a), web/a $(hstate web a), echo/b $(hstate echo b), web/b $(hstate web b)"
	cat "$tmp/haproxy.log"; exit 1
fi

# load_start NAME / load_end NAME: the two bounded clients; load_end sets
# good, bad (both clients), na and nb (HTTP answers by a and by b), by.
load_start() {
	rm -f "$tmp/$1".*
	( client echo "$tmp/$1.echo" "$tmp/$1.stop" ) 2>/dev/null &
	loadpid="$!"
	( client http "$tmp/$1.http" "$tmp/$1.stop" ) 2>/dev/null &
	loadpid="$loadpid $!"
	sleep 0.5	# load flowing before the event
}
load_end() {
	local eok ebad hok hbad
	sleep 0.5	# and after it
	touch "$tmp/$1.stop"
	wait $loadpid; loadpid=
	read -r eok ebad _ <"$tmp/$1.echo" && read -r hok hbad na nb <"$tmp/$1.http" ||
		{ echo "Bail out! a client left no result"; exit 99; }
	good=$((eok + hok)) bad=$((ebad + hbad)) by="a $na, b $nb"
	echo "# $1: TCP echo $eok answered, $ebad failed; HTTP $hok answered ($by), $hbad failed"
}
reloads() { grep -c "notice: reloaded: generation" "$tmp/$1/sockd.log"; }

# ---- a. a reload of each instance under load: nothing fails ---------------
load_start reload
for i in a b; do
	kill -HUP "${master[$i]}"
	wait_for 100 eval '[ "$(reloads '$i')" -ge 1 ]' || notok "instance $i logged its reload"
	sleep 0.5
done
load_end reload
check "a. SIGHUP to a, then b, under load: $good answered (by $by), $bad failed" \
	test "${good:-0}" -ge 50 -a "${bad:-1}" = 0
check "a. both reloaded (generation 2), masters unchanged" \
	eval '[ "$(reloads a)" = 1 ] && [ "$(reloads b)" = 1 ] && kill -0 ${master[a]} && kill -0 ${master[b]}'
check "a. both instances answered HTTP requests through HAProxy ($by)" \
	eval '[ "$na" -gt 0 ] && [ "$nb" -gt 0 ]'

# ---- b. drain a through the runtime API, stop it, start it again ----------
# Drain first, rather than rely on retries: HAProxy then sends a no new
# connection at all, and the stop cuts none (the open ones end by
# themselves within timeouts.graceful). Redispatch would cover refused
# connects, not a connection the stop ends mid-request.
load_start drain
api "set server echo/a state drain" >/dev/null
api "set server web/a state drain" >/dev/null
check "b. HAProxy shows a as DRAIN in both backends" wait_for 20 is_state DRAIN a
check "b. a's open connections through HAProxy ended" \
	wait_for 50 eval '[ "$(hcur echo a)" = 0 ] && [ "$(hcur web a)" = 0 ]'
kill -TERM "${master[a]}"
wait_for 100 eval '! kill -0 '"${master[a]}"' 2>/dev/null'
wait "${master[a]}"; st=$?
check "b. a stopped gracefully (SIGTERM): exit status $st" test "$st" = 0
wait_for 50 is_state DOWN a
check "b. HAProxy's checks see the stopped a DOWN: echo/a $(hstate echo a), web/a $(hstate web a)" \
	is_state DOWN a
start_instance a
wait_for 100 eval '[ "$(grep -c "notice: sockd .* started" "$tmp/a/sockd.log")" = 2 ]' ||
	notok "b. instance a started again"
api "set server echo/a state ready" >/dev/null
api "set server web/a state ready" >/dev/null
check "b. a is UP again after 'set server .../a state ready'" wait_for 50 is_state UP a
load_end drain
check "b. drain, stop and start of a under load: $good answered (by $by), $bad failed" \
	test "${good:-0}" -ge 50 -a "${bad:-1}" = 0

# ---- c. SIGKILL to b's master, then start it again ------------------------
load_start kill
old=${master[b]}
workers=$(cat "/proc/$old/task/$old/children" 2>/dev/null)
kill -KILL "$old"
{ wait "$old"; } 2>/dev/null	# (bash would report the kill)
# The workers follow their master (PR_SET_PDEATHSIG): gone, or a zombie
# until init reaps it; and the ports close.
running() { local p st; for p; do read -r _ _ st _ <"/proc/$p/stat" 2>/dev/null && [ "$st" != Z ] && return 0; done; return 1; }
check "c. b's workers ($(echo $workers)) died with their master" \
	wait_for 50 eval '[ -n "$workers" ] && ! running $workers && ! is_listened $b_echo'
check "c. HAProxy's health checks mark b DOWN" wait_for 50 is_state DOWN b
start_instance b
check "c. ... and UP again once b is started again" wait_for 100 is_state UP b
load_end kill
# Measured (docs/DEPLOYMENT.md): 0 or 1 failed; a request in flight on a
# killed worker can fail (a TCP echo; HTTP ones are sent again). The
# control, "retries 0" and "option redispatch 0": 21-24 failed, the
# connects to b refused until the checks took it out. The bound is between.
check "c. SIGKILL and restart of b under load: $bad failed, at most 10 allowed" \
	test "${good:-0}" -ge 50 -a "${bad:-99}" -le 10

# ---- the real client, from the PROXY v2 header ----------------------------
# HAProxy connects from 127.0.0.2; a sockd that ignored the header would log that.
for i in a b; do
	n1=$(grep -c '^127\.0\.0\.1 ' "$tmp/$i/web.log")
	n2=$(grep -c '^127\.0\.0\.2 ' "$tmp/$i/web.log")
	check "$i's access log names the client 127.0.0.1 ($n1 lines), never HAProxy's 127.0.0.2 ($n2)" \
		test "$n1" -ge 10 -a "$n2" = 0
	n1=$(grep -cE 'echo: 127\.0\.0\.1:[0-9]+: closed after .*, [1-9][0-9]* bytes in' "$tmp/$i/sockd.log")
	n2=$(grep -cE 'echo: 127\.0\.0\.2:[0-9]+: closed after .*, [1-9][0-9]* bytes in' "$tmp/$i/sockd.log")
	check "$i's connection log: echo clients from 127.0.0.1 ($n1), none with data from 127.0.0.2 ($n2)" \
		test "$n1" -ge 10 -a "$n2" = 0
done

check "HAProxy is still running" kill -0 "$hap"
for i in a b; do kill -TERM "${master[$i]}"; done
for i in a b; do
	wait_for 100 eval '! kill -0 '"${master[$i]}"' 2>/dev/null'
	wait "${master[$i]}"; st=$?
	check "instance $i exits 0 on SIGTERM" test "$st" = 0
	master[$i]=
done
[ "$failed" = 0 ] || { echo "# haproxy log:"; tail -20 "$tmp/haproxy.log"; }
exit "$failed"
