#!/bin/sh
# reconfigure.sh - the configured paths reach the binary: one build directory
# (a VPATH build of the source tree, as in make distcheck) configured with one
# --sysconfdir, built, then configured again with another and rebuilt, must
# name the new default configuration in sockd -h and sockd -V each time.
# Only src/sockd is built: that is what the paths are compiled into.
set -u
unset MAKEFLAGS MFLAGS MAKELEVEL	# our own make, not a part of make check's
[ -x "$SOCKD_SRCDIR/configure" ] || { echo "SKIP: no $SOCKD_SRCDIR/configure (run ./bootstrap)"; exit 77; }
if [ -f "$SOCKD_SRCDIR/config.status" ]; then
	echo "SKIP: the source tree is configured in place; configure refuses a VPATH build of it"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-reconfigure.XXXXXX") || exit 99
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/build" && cd "$tmp/build" || exit 99
status=0

# build PREFIX SYSCONFDIR: (re)configure this directory and make src/sockd.
build() {
	echo "# configure --prefix=$1 --sysconfdir=$2 && make src/sockd"
	if ! "$SOCKD_SRCDIR/configure" --prefix="$1" --sysconfdir="$2" \
		CC="${CC:-cc}" CFLAGS=-O0 >configure.log 2>&1; then
		tail -20 configure.log; echo "FAIL: configure"; exit 1
	fi
	if ! make -j2 src/sockd >make.log 2>&1; then
		tail -20 make.log; echo "FAIL: make src/sockd"; exit 1
	fi
}

# expect PATH: -h and -V name PATH as the default configuration.
expect() {
	if src/sockd -h | grep -qF "(default $1)"; then
		echo "ok: sockd -h names $1"
	else
		src/sockd -h | grep default; echo "FAIL: sockd -h does not name $1"; status=1
	fi
	if src/sockd -V | grep -qxF "default config: $1"; then
		echo "ok: sockd -V names $1"
	else
		src/sockd -V; echo "FAIL: sockd -V does not name $1"; status=1
	fi
}

build "$tmp/one" "$tmp/one/etc"
expect "$tmp/one/etc/sockd.conf"
build /usr /etc
expect /etc/sockd.conf
# The same configuration again rebuilds nothing: the header keeps its date.
build /usr /etc
if grep -q 'CC .*main\.o\|-c .*main\.c' make.log; then
	echo "FAIL: configure with the same paths recompiled main.c"; status=1
else
	echo "ok: configure with the same paths recompiled nothing"
fi
exit $status
