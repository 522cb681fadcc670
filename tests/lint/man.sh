#!/bin/sh
# man.sh - the man pages must be free of mandoc -Tlint warnings.
set -u
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc not installed (Debian package mandoc)"; exit 77; }
status=0
for page in "$SOCKD_SRCDIR"/man/*.[0-9]; do
    # mandoc 1.14 reports a missing "Dt" date style only for style; fail on warnings and worse.
    out=$(mandoc -Tlint -W warning "$page" 2>&1)
    if [ -n "$out" ]; then
        echo "$out"
        status=1
    else
        echo "ok: $(basename "$page")"
    fi
done
exit $status
