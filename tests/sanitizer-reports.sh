#!/bin/sh
# sanitizer-reports.sh DIR - after make check in a sanitizer build: fail if a
# report in DIR (log_path of ASAN_OPTIONS and UBSAN_OPTIONS, so every process
# writes its reports there, whoever reads its stderr) shows undefined
# behaviour or a memory error. A worker killed by UBSan is otherwise only
# restarted by the master, and the test that caused it may still pass.
# Leaks and deadly signals are left out: they change the exit status that
# the tests check, and some tests send signals on purpose.
set -u
dir=$1
bad=0
for f in "$dir"/*; do
	[ -f "$f" ] || continue
	if grep -q 'runtime error:' "$f" ||
		grep 'ERROR: AddressSanitizer:' "$f" | grep -qvE ' (SEGV|BUS|FPE|ILL|ABRT) '; then
		echo "=== sanitizer report $f"
		cat "$f"
		bad=1
	fi
done
if [ $bad = 1 ]; then
	echo "FAIL: sanitizer reports above (from a process of make check; see $dir)"
	exit 1
fi
n=$(find "$dir" -type f 2>/dev/null | wc -l)
echo "sanitizer reports: no undefined behaviour or memory error ($n other reports in $dir)"
