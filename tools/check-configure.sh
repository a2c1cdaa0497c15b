#!/bin/sh
# check-configure.sh -- is the committed ./configure generated from the
# current configure.ac?
#
#     sh tools/check-configure.sh ?SRCDIR?
#
# Regenerates configure from configure.ac with autoconf in a temporary copy
# and compares it byte for byte with the committed file.  Exits 0 if they
# are identical, 1 (showing the start of the difference) if not, 2 if the
# check cannot be made.  To fix a difference: run "autoconf" in the source
# directory and commit the new configure.

srcdir=${1:-`dirname "$0"`/..}

if test ! -f "$srcdir/configure.ac" || test ! -f "$srcdir/configure"; then
    echo "check-configure: $srcdir has no configure.ac or no configure" >&2
    exit 2
fi
if ! command -v autoconf >/dev/null 2>&1; then
    echo "check-configure: autoconf not found (apt-get install autoconf)" >&2
    exit 2
fi

tmp=`mktemp -d` || exit 2
trap 'rm -rf "$tmp"' 0
trap 'exit 2' 1 2 15

cp "$srcdir/configure.ac" "$tmp/configure.ac" || exit 2
# Files configure.ac may pull in, if the project ever has them.
for f in aclocal.m4 acinclude.m4; do
    if test -f "$srcdir/$f"; then cp "$srcdir/$f" "$tmp/$f" || exit 2; fi
done
if test -d "$srcdir/m4"; then cp -R "$srcdir/m4" "$tmp/m4" || exit 2; fi

if ! (cd "$tmp" && autoconf -o configure configure.ac) >"$tmp/autoconf.log" 2>&1; then
    echo "check-configure: autoconf failed:" >&2
    cat "$tmp/autoconf.log" >&2
    exit 2
fi
if test -s "$tmp/autoconf.log"; then
    echo "check-configure: autoconf said:"
    cat "$tmp/autoconf.log"
fi

if cmp -s "$srcdir/configure" "$tmp/configure"; then
    echo "check-configure: configure is up to date with configure.ac (`autoconf --version | sed 1q`)"
    exit 0
fi

echo "check-configure: configure does NOT match configure.ac" >&2
echo "check-configure: run autoconf (`autoconf --version | sed 1q`) and commit configure" >&2
diff -u "$srcdir/configure" "$tmp/configure" | sed 60q >&2
exit 1
