#!/bin/sh
# man.sh - every man page must be clean for mandoc -Tlint, and render at 80
# columns under both formatters a reader may have (man-db runs groff, the
# BSDs and some distributions run mandoc) with no warning and no table wider
# than the terminal. groff's "can't break line" is a table too wide to fit.
set -u
export LC_ALL=C.UTF-8
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc not installed (Debian package mandoc)"; exit 77; }
command -v groff >/dev/null 2>&1 || { echo "SKIP: groff not installed (Debian package groff-base)"; exit 77; }
status=0
fail() { echo "FAIL: $page: $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/  /'; bad=1; status=1; }

# Table rows (a run of 3 spaces inside the text) of rendered text on stdin
# wider than 80 columns: neither formatter warns when a table overflows.
# (Literal examples may be wider: they cannot be broken, only shown.)
too_wide() {
    sed 's/.\x08//g' | expand | awk 'length($0) > 80 && /[^ ]   +[^ ]/ { printf "%d: %s\n", NR, $0 }' | head -5
}

for page in "$SOCKD_SRCDIR"/man/*.[0-9]; do
    bad=0
    # mandoc 1.14 reports a missing "Dt" date style only for style; fail on warnings and worse.
    out=$(mandoc -Tlint -W warning "$page" 2>&1)
    [ -z "$out" ] || fail "mandoc -Tlint -W warning" "$out"

    # man-db at 80 columns sets groff's line length to 78n; -ww: every warning.
    out=$(groff -ww -z -mandoc -Tutf8 -rLL=78n "$page" 2>&1)
    [ -z "$out" ] || fail "groff -ww -z -mandoc -rLL=78n (80 columns)" "$out"
    out=$(groff -mandoc -Tascii -rLL=78n "$page" 2>/dev/null | too_wide)
    [ -z "$out" ] || fail "groff: a table wider than 80 columns" "$out"
    out=$(mandoc -Tascii -Owidth=80 "$page" 2>/dev/null | too_wide)
    [ -z "$out" ] || fail "mandoc -Owidth=80: a table wider than 80 columns" "$out"

    # What a reader gets from man itself, when man-db is there.
    if command -v man >/dev/null 2>&1 && man --version 2>/dev/null | grep -q man-db; then
        out=$(MANWIDTH=80 MAN_KEEP_FORMATTING= man --warnings=w -l "$page" 2>&1 >/dev/null)
        [ -z "$out" ] || fail "MANWIDTH=80 man --warnings -l" "$out"
    fi
    [ $bad = 1 ] || echo "ok: $(basename "$page")"
done
exit $status
