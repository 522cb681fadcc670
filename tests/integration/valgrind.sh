#!/bin/bash
# valgrind.sh - no leaks and no memory errors in sockd: a config check (good
# and bad file) and a real run that serves a client and stops on SIGTERM.
# Reachable blocks are glibc's own (NSS modules loaded by getpwnam).
set -u
[ -n "${SOCKD_SANITIZERS:-}" ] && { echo "SKIP: ASan build (valgrind cannot run it)"; exit 77; }
command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind not installed"; exit 77; }
vg=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
    --show-leak-kinds=definite,indirect,possible --error-exitcode=99)
dir=$(mktemp -d) || exit 99
trap 'kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT
pid=

"${vg[@]}" "$SOCKD" -t -c "$SOCKD_SRCDIR/conf/sockd.conf" >/dev/null || { echo "FAIL: -t good"; exit 1; }
"${vg[@]}" "$SOCKD" -t -c "$SOCKD_SRCDIR/tests/data/bad.conf" 2>/dev/null
[ $? -eq 78 ] || { echo "FAIL: -t bad.conf did not exit 78 cleanly"; exit 1; }

user=
[ "$(id -u)" -eq 0 ] && user='user = "nobody";'
cat >"$dir/sockd.conf" <<CONF
$user
services = ( { name = "echo"; handler = "echo"; listen = "127.0.0.1:0"; } );
CONF
"${vg[@]}" "$SOCKD" -c "$dir/sockd.conf" 2>"$dir/log" &
pid=$!
port=
for _ in $(seq 1 200); do	# up to 20 s: valgrind starts slowly
    port=$(sed -n 's/.*echo: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/log")
    [ -n "$port" ] && grep -q "sockd [0-9.]* started" "$dir/log" && break
    sleep 0.1
done
[ -n "$port" ] || { echo "FAIL: sockd did not start"; cat "$dir/log"; exit 1; }
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'ping\n' >&3
read -r -t 10 reply <&3
exec 3>&-
[ "$reply" = ping ] || { echo "FAIL: echo returned '$reply'"; exit 1; }
kill -TERM $pid
wait $pid
status=$?
pid=
if [ $status -ne 0 ]; then
    echo "FAIL: exit status $status under valgrind"
    cat "$dir/log"
    exit 1
fi
echo "valgrind: clean"
