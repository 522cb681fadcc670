#!/bin/sh
# metrics.sh - promtool must find nothing wrong with the metrics of a rich
# sample snapshot nor with conf/sockd-alerts.yml, and the status JSON of
# the same snapshot must parse. Skipped without promtool (package
# "prometheus"); the JSON check is left out where python3 is not.
set -u
command -v promtool >/dev/null 2>&1 || { echo "SKIP: no promtool"; exit 77; }
dump="$SOCKD_BUILDDIR/tests/lint/metrics_dump"
dir=$(mktemp -d) || exit 99
trap 'rm -rf "$dir"' EXIT
status=0

# promtool exits 0 on some lint findings: any output is a failure too.
for what in sample empty; do
	"$dump" $what >"$dir/metrics" || { echo "metrics_dump $what failed"; exit 99; }
	if out=$(promtool check metrics <"$dir/metrics" 2>&1) && [ -z "$out" ]; then
		echo "promtool check metrics ($what): clean, $(grep -c '^# TYPE' "$dir/metrics") families"
	else
		echo "promtool check metrics ($what):"
		echo "$out"
		status=1
	fi
done

if promtool check rules "$SOCKD_SRCDIR/conf/sockd-alerts.yml"; then
	echo "promtool check rules: clean"
else
	status=1
fi

if command -v python3 >/dev/null 2>&1; then
	"$dump" json >"$dir/status.json" || { echo "metrics_dump json failed"; exit 99; }
	if python3 -m json.tool "$dir/status.json" >/dev/null; then
		echo "status JSON: parses"
	else
		status=1
	fi
fi
exit $status
