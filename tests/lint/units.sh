#!/bin/sh
# units.sh - systemd-analyze verify must print nothing for the shipped units
# (it exits 0 even on unknown keys, so the test is on its output).
set -u
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze"; exit 77; }
dir=$(mktemp -d) || exit 99
trap 'rm -rf "$dir"' EXIT
# Point the unit at the freshly built binary so verify can check ExecStart.
${SED:-sed} -e "s|@sbindir@|$SOCKD_BUILDDIR/src|g" -e "s|@sysconfdir@|$SOCKD_SRCDIR/conf|g" \
    "$SOCKD_SRCDIR/systemd/sockd.service.in" >"$dir/sockd.service" || exit 99
cp "$SOCKD_SRCDIR/systemd/sockd.socket" "$dir/sockd.socket" || exit 99
out=$(cd "$dir" && systemd-analyze verify --man=no "$dir/sockd.service" "$dir/sockd.socket" 2>&1)
if [ -n "$out" ]; then
    echo "systemd-analyze verify sockd.service sockd.socket:"
    echo "$out"
    exit 1
fi
echo "systemd-analyze verify: clean"

# ProtectSystem=strict: a directory under /var/log or /run that a man page's
# example writes to must be the unit's LogsDirectory= or RuntimeDirectory=.
status=0
for p in $(grep -ho '"[a-z:]*/\(var/log\|run\)/[^/"]*/' "$SOCKD_SRCDIR"/man/*.[0-9] | sort -u); do
	p=${p#\"}; p=${p#unix:}; p=${p%/}
	case $p in
	/var/log/*) key=LogsDirectory name=${p#/var/log/} ;;
	*) key=RuntimeDirectory name=${p#/run/} ;;
	esac
	if grep -q "^$key=\(.* \)\{0,1\}$name\( .*\)\{0,1\}\$" "$dir/sockd.service"; then
		echo "ok: $p (a man page's example) is the unit's $key=$name"
	else
		echo "FAIL: a man page's example writes to $p, but sockd.service has no $key=$name"
		status=1
	fi
done
[ $status = 0 ] || exit 1

# The instance template keeps sockd.service's sandbox line for line (its
# system call filter too, which systemd-analyze security does not rate
# call by call): a line added to one and not the other fails here.
pat='^(SystemCall|Protect|Restrict|Private|NoNewPrivileges|Lock|MemoryDeny|RemoveIPC|UMask|CapabilityBoundingSet|AmbientCapabilities|Device|IPAddress|KeyringMode|ProcSubset|LimitNOFILE)'
grep -E "$pat" "$SOCKD_SRCDIR/systemd/sockd.service.in" >"$dir/plain.sandbox" || exit 99
grep -E "$pat" "$SOCKD_SRCDIR/systemd/sockd@.service.in" >"$dir/template.sandbox" || exit 99
if ! diff "$dir/plain.sandbox" "$dir/template.sandbox"; then
	echo "FAIL: sockd@.service's sandbox is not sockd.service's (< sockd.service, > sockd@.service)"
	exit 1
fi
echo "ok: sockd@.service has sockd.service's sandbox, line for line ($(wc -l <"$dir/plain.sandbox") lines)"

# The hardening promised in the README: an exposure under 2.0.
score=$(systemd-analyze security --offline=true "$dir/sockd.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for sockd.service: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
    echo "SKIP: this systemd-analyze cannot score units offline"
    exit 77
fi
echo "systemd-analyze security --offline=true: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s < 2.0) }' || { echo "exposure $score is not under 2.0"; exit 1; }

