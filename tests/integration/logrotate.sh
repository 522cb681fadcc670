#!/bin/sh
# logrotate.sh - the shipped conf/sockd.logrotate: make install puts it in
# logrotate.d/sockd, logrotate -d reads it without an error, and a real
# rotation of a running daemon's access log (the recipe pointed at a
# temporary directory and the daemon's pid) loses no line and sends the
# new ones to the new file.
set -u
command -v logrotate >/dev/null 2>&1 || { echo "SKIP: no logrotate"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "SKIP: no curl"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-logrotate.XXXXXX") || exit 99
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
recipe=$SOCKD_SRCDIR/conf/sockd.logrotate

if ! make -s -C "$SOCKD_BUILDDIR" install-data-local DESTDIR="$tmp/dest" >"$tmp/log" 2>&1; then
	cat "$tmp/log"; echo "FAIL: make install-data-local"; exit 1
fi
installed=$(find "$tmp/dest" -path '*/logrotate.d/sockd')
[ -n "$installed" ] || { echo "FAIL: no logrotate.d/sockd installed"; exit 1; }
cmp -s "$installed" "$recipe" || { echo "FAIL: $installed is not $recipe"; exit 1; }
echo "ok: installed $installed"

if ! logrotate -d -s "$tmp/state" "$recipe" >"$tmp/debug" 2>&1 || grep -q "^error" "$tmp/debug"; then
	cat "$tmp/debug"; echo "FAIL: logrotate -d $recipe"; exit 1
fi
echo "ok: logrotate -d reads it"

mkdir "$tmp/logs" || exit 99
user=; [ "$(id -u)" -eq 0 ] && user='user = "nobody";'
cat >"$tmp/sockd.conf" <<CONF
$user
services = ( { name = "web"; listen = "127.0.0.1:0"; handler = "http"; workers = 2;
  http = { body = "ok\n"; access_log = "$tmp/logs/web.log"; }; } );
CONF
"$SOCKD" -c "$tmp/sockd.conf" 2>"$tmp/sockd.log" &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*web: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/sockd.log")
	[ -n "$port" ] && grep -q "notice: sockd .* started" "$tmp/sockd.log" && break
	sleep 0.05
done
[ -n "$port" ] || { cat "$tmp/sockd.log"; echo "FAIL: sockd did not start"; exit 1; }
get() { curl -sf "http://127.0.0.1:$port/$1" >/dev/null || { echo "FAIL: GET /$1"; exit 1; }; }

for i in 1 2 3 4 5; do get "before-$i"; done
# The recipe as shipped, but on our directory and with our daemon's pid.
sed -e "s|/var/log/sockd/|$tmp/logs/|" -e "s|^\(\s*pid=\).*|\1$pid|" "$recipe" >"$tmp/recipe"
if ! logrotate -f -s "$tmp/state" "$tmp/recipe" >"$tmp/rotate" 2>&1; then
	cat "$tmp/rotate"; echo "FAIL: logrotate -f"; exit 1
fi
for _ in $(seq 200); do
	[ "$(grep -c 'SIGUSR1: log file reopened' "$tmp/sockd.log")" -ge 2 ] && break
	sleep 0.05
done
[ "$(grep -c 'SIGUSR1: log file reopened' "$tmp/sockd.log")" -ge 2 ] ||
	{ cat "$tmp/sockd.log"; echo "FAIL: the workers did not reopen the log"; exit 1; }
for i in 1 2 3 4 5; do get "after-$i"; done
kill "$pid"; wait "$pid"; rc=$?; pid=
[ "$rc" -eq 0 ] || { cat "$tmp/sockd.log"; echo "FAIL: sockd exited $rc"; exit 1; }

old=$(grep -c 'GET /before-' "$tmp/logs/web.log.1" 2>/dev/null)
new=$(grep -c 'GET /after-' "$tmp/logs/web.log" 2>/dev/null)
stray=$(cat "$tmp/logs/web.log.1" | grep -c 'GET /after-')
if [ "$old" != 5 ] || [ "$new" != 5 ] || [ "$stray" != 0 ]; then
	ls -l "$tmp/logs"; echo "FAIL: before: $old in web.log.1, after: $new in web.log, $stray astray"
	exit 1
fi
echo "ok: rotated by logrotate, 5 lines in web.log.1, the next 5 in web.log"
