#!/bin/bash
# tests/fuzz/run.sh [BUILDDIR] - build the libFuzzer targets (make fuzz) in a
# configured build directory (default: the current one) and run each for
# FUZZ_SECONDS (default 60) on a copy of its seed corpus (with
# tests/fuzz/NAME.dict if there is one), FUZZ_JOBS (default 2) at a time.
# Fails on any crash, leak, timeout (an input taking over 10 s),
# out-of-memory or sanitizer report, and on a target that did not run its
# time. CI runs it after the builds (.ci/run).
#
# Nothing is written into the source tree: every target works in
# BUILDDIR/tests/fuzz/run/NAME/ (made afresh): corpus/ (the copy, which
# libFuzzer adds to), log, and any crash-*, leak-*, timeout-* or oom-* file,
# the input that failed, kept there for a look:
#   BUILDDIR/tests/fuzz/fuzz_NAME BUILDDIR/tests/fuzz/run/NAME/crash-...
# replays it; so does fuzz_NAME_replay FILE, with the normal compiler.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-.}" && pwd)
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
make=${MAKE:-make}

[ -f "$build/Makefile" ] || { echo "fuzz: $build is not a configured build directory" >&2; exit 2; }
case $seconds in '' | *[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;; esac

cd "$build"
$make -s fuzz
targets=$($make -s -f Makefile -f "$src/tests/fuzz/fuzz.mk" fuzz-list)
work=$build/tests/fuzz/run
rm -rf "$work"
mkdir -p "$work"

# The corpus of fuzz_NAME is corpus/NAME cut at its first '_' (as in replay.c).
corpus_of() {
	local name=${1#fuzz_}
	echo "${name%%_*}"
}

# run_one TARGET: one target, its output in its log, libFuzzer's exit
# status (0 only when it ran its time and found nothing) in its file rc.
run_one() {
	local t=$1 name dir rc=0 dict=()
	name=$(basename "$t")
	dir=$work/${name#fuzz_}
	# A dictionary of the format's words, if the target has one.
	[ ! -f "$src/tests/fuzz/$(corpus_of "$name").dict" ] ||
		dict=(-dict="$src/tests/fuzz/$(corpus_of "$name").dict")
	mkdir -p "$dir/corpus"
	if ! cp -p "$src/tests/fuzz/corpus/$(corpus_of "$name")/"* "$dir/corpus/" 2>"$dir/log"; then
		echo "fuzz: no seed corpus tests/fuzz/corpus/$(corpus_of "$name")" >>"$dir/log"
		echo 1 >"$dir/rc"
		return
	fi
	# halt_on_error: UBSan stops at its first report (the build has
	# -fno-sanitize-recover too); leaks are LeakSanitizer's, at every
	# input (-detect_leaks) and at exit. A small quarantine: an input's
	# frees are still caught, and LeakSanitizer's check, which runs after
	# every input that leaves memory allocated (libconfig's suppressed
	# leak does, see src/lsan.c), takes half the time.
	ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:abort_on_error=0:symbolize=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	timeout -k 10 $((seconds + 120)) \
		"$build/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-error_exitcode=77 -timeout_exitcode=78 -detect_leaks=1 -print_final_stats=1 \
		-artifact_prefix="$dir/" "${dict[@]}" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
	echo "$rc" >"$dir/rc"
}

# At most $jobs at a time: a new one starts when any has ended.
for t in $targets; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	run_one "$t" &
done
wait

failed=0
for t in $targets; do
	name=$(basename "$t")
	dir=$work/${name#fuzz_}
	rc=$(cat "$dir/rc" 2>/dev/null || echo "none")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n1)
	artifacts=$(cd "$dir" && ls -d crash-* leak-* timeout-* oom-* slow-unit-* 2>/dev/null || true)
	if [ "$rc" != 0 ] || [ -n "$artifacts" ] ||
		grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$dir/log"; then
		echo "=== fuzz $name: FAILED (exit $rc)${artifacts:+, input in $dir/$artifacts}"
		tail -n 60 "$dir/log"
		failed=$((failed + 1))
	else
		echo "=== fuzz $name: ${runs:-?} inputs in ${seconds} s, no crash, leak or report" \
			"(corpus $(ls "$dir/corpus" | wc -l) files)"
	fi
done
[ "$failed" -eq 0 ] || { echo "fuzz: $failed target(s) failed; see $work"; exit 1; }
