#!/bin/bash
# static.sh - the static analysers over the whole tree: cppcheck on every C
# file (src, include, tests), and clang's analyzer (scan-build) on a fresh
# build of everything "make" builds. Any finding fails, except the ones in
# tests/lint/cppcheck.supp, each reviewed there with its reason; scan-build
# has no list: what it reports is fixed in the code (see ARCHITECTURE.md,
# "Static analysis").
#
# Not part of make check (the analyzer build takes a minute or two, and
# make check runs four times in CI): "make static" runs it, and CI once.
# Exit codes (automake): 0 clean, 1 a finding, 77 a tool missing (a
# failure with SOCKD_REQUIRE_TOOLS=1, as in CI), 99 rig error.
set -u
export LC_ALL=C
unset MAKEFLAGS MFLAGS MAKELEVEL

here=$(cd "$(dirname "$0")" && pwd) || exit 99
src=${SOCKD_SRCDIR:-$(cd "$here/../.." && pwd)}
jobs=${SOCKD_STATIC_JOBS:-2}

missing() {
	if [ "${SOCKD_REQUIRE_TOOLS:-0}" = 1 ]; then
		echo "FAIL: $1 is not installed (Debian package $2)"
		exit 1
	fi
	echo "SKIP: $1 is not installed (Debian package $2)"
	exit 77
}
command -v cppcheck >/dev/null 2>&1 || missing cppcheck cppcheck
command -v scan-build >/dev/null 2>&1 || missing scan-build clang-tools

dir=$(mktemp -d) || exit 99
trap 'rm -rf "$dir"' EXIT
status=0

# cppcheck: its own preprocessor, without the system headers (they make it
# slow and report on glibc). noreturn spelled as GCC's attribute, which it
# follows, so code after fatal() and panic() is not taken for reachable.
echo "=== cppcheck $(cppcheck --version | sed 's/^Cppcheck //')"
if ! (cd "$src" && cppcheck -q -j"$jobs" --std=c11 --enable=warning,performance,portability \
    --error-exitcode=1 --inline-suppr --suppressions-list="$here/cppcheck.supp" \
    '-Dnoreturn=__attribute__((noreturn))' -D__linux__ -DHAVE_LIBURING=1 \
    -I src -I include src include tests) 2>"$dir/cppcheck.out"; then
	cat "$dir/cppcheck.out"
	echo "not ok - cppcheck"
	status=1
elif [ -s "$dir/cppcheck.out" ]; then
	cat "$dir/cppcheck.out"	# (notes and information only)
	echo "ok - cppcheck"
else
	echo "ok - cppcheck"
fi

# scan-build: configure and build in a directory of its own (VPATH), so the
# analyzer sees every file compiled, whatever the caller's build holds.
echo "=== scan-build"
[ -x "$src/configure" ] || { echo "static.sh: $src/configure missing: run ./bootstrap"; exit 99; }
[ ! -e "$src/config.status" ] || {
	echo "static.sh: $src is configured in place, which a build elsewhere refuses:"
	echo "  make distclean there, or run this from a copy"; exit 99; }
mkdir "$dir/build" || exit 99
if ! (cd "$dir/build" && scan-build "$src/configure" >configure.out 2>&1); then
	tail -20 "$dir/build/configure.out"
	exit 99
fi
if (cd "$dir/build" && scan-build --status-bugs -o "$dir/report" make -j"$jobs" >make.out 2>&1); then
	echo "ok - scan-build: $(grep -c 'warning:' "$dir/build/make.out" || true) warnings, no bug"
else
	grep -B1 -A4 'warning:' "$dir/build/make.out"
	tail -5 "$dir/build/make.out"
	echo "not ok - scan-build (the warnings above; scan-build -V make shows each path)"
	status=1
fi
exit $status
