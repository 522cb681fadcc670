#!/bin/sh
# install.sh - what a module author gets from make install: the public
# header and sockd.pc land in the configured places, and the example module
# builds against them alone (pkg-config, no source tree).
set -u
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sockd-install.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

if ! make -s -C "$SOCKD_BUILDDIR" install-sockdincludeHEADERS install-pkgconfigDATA \
	DESTDIR="$tmp/dest" >"$tmp/log" 2>&1; then
	cat "$tmp/log"; echo "FAIL: make install of the header and sockd.pc"; exit 1
fi
header=$(find "$tmp/dest" -path '*/include/sockd/handler.h')
pc=$(find "$tmp/dest" -path '*/pkgconfig/sockd.pc')
[ -n "$header" ] || { echo "FAIL: no include/sockd/handler.h installed"; exit 1; }
[ -n "$pc" ] || { echo "FAIL: no pkgconfig/sockd.pc installed"; exit 1; }
# Cflags only, nothing architecture-specific: $(datadir)/pkgconfig, not $(libdir).
case $pc in */share/pkgconfig/sockd.pc) ;; *) echo "FAIL: $pc is not under share/pkgconfig"; exit 1 ;; esac
echo "ok: installed $header and $pc"

command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: no pkg-config"; exit 77; }
cflags=$(PKG_CONFIG_SYSROOT_DIR="$tmp/dest" PKG_CONFIG_LIBDIR=$(dirname "$pc") \
	pkg-config --cflags sockd) || { echo "FAIL: pkg-config --cflags sockd"; exit 1; }
case $cflags in *"$tmp/dest"*) ;; *) echo "FAIL: cflags $cflags miss the installed header"; exit 1 ;; esac
# shellcheck disable=SC2086
if ! ${CC:-cc} -std=c11 -Wall -Wextra -Werror -shared -fPIC $cflags \
	-o "$tmp/hello.so" "$SOCKD_SRCDIR/tests/modules/hello.c" 2>"$tmp/cc.log"; then
	cat "$tmp/cc.log"; echo "FAIL: the example module does not build against the installed header"
	exit 1
fi
echo "ok: tests/modules/hello.c builds with \$(pkg-config --cflags sockd) alone"
