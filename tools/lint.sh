#!/bin/sh
# lint.sh -- static analysis of the C sources: cppcheck and clang-tidy.
#
#     sh tools/lint.sh ?SRCDIR?
#
# Checks generic/*.c and unix/*.c with the include paths and defines of a
# stubs build (-I generic -I unix -I <tcl headers> -DUSE_TCL_STUBS).
# Exits 0 when both tools report nothing, 1 on any finding, 2 if a tool is
# missing.  Installs nothing.
#
# The checks (kept small on purpose, so that every report deserves a look):
#
#   cppcheck (2.x): its default error class plus --enable=warning,
#     portability,performance.  Not "style": its variableScope and
#     constParameter advice is about taste, not correctness.
#
#   clang-tidy: clang-analyzer-* (the static analyzer: null dereference,
#     use after free, leaks, uninitialised values, dead stores, unix API
#     misuse) and bugprone-*, less
#       bugprone-easily-swappable-parameters  flags every function with
#                                             two adjacent ints (Tcl style)
#       bugprone-implicit-widening-of-multiplication-result
#                                             flags constant expressions
#                                             such as (1024 * 1024)
#       bugprone-reserved-identifier          flags "#define _GNU_SOURCE",
#                                             which is how glibc is asked
#                                             for accept4()
#       clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
#                                             wants memcpy_s (C11 Annex K),
#                                             which glibc does not have
#
# False positives are suppressed in this file only (never in the sources),
# each with its reason: see the suppression table in the clang-tidy part.
#
# Platform files: a poller whose system header is missing here (kqueue on
# Linux) cannot be compiled, so clang-tidy skips it (cppcheck still reads
# it).
#
# Environment: CPPCHECK, CLANG_TIDY (tool names), TCL_INCLUDE (directory
# of tcl.h; default: found from tclConfig.sh or /usr/include/tcl8.6),
# LINT_JOBS (parallel clang-tidy processes, default 2).

srcdir=${1:-`dirname "$0"`/..}
srcdir=`cd "$srcdir" && pwd` || exit 2
CPPCHECK=${CPPCHECK:-cppcheck}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy}
LINT_JOBS=${LINT_JOBS:-2}

for tool in "$CPPCHECK" "$CLANG_TIDY"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
	echo "lint: $tool not found (apt-get install cppcheck clang-tidy)" >&2
	exit 2
    fi
done

if test -z "$TCL_INCLUDE"; then
    for d in /usr/include/tcl8.6 /usr/include/tcl /usr/local/include; do
	if test -f "$d/tcl.h"; then
	    TCL_INCLUDE=$d
	    break
	fi
    done
fi
if test -z "$TCL_INCLUDE" || test ! -f "$TCL_INCLUDE/tcl.h"; then
    echo "lint: tcl.h not found; set TCL_INCLUDE (apt-get install tcl-dev)" >&2
    exit 2
fi

cd "$srcdir" || exit 2
files=`ls generic/*.c unix/*.c`
incs="-I generic -I unix -I $TCL_INCLUDE"
defs="-DUSE_TCL_STUBS -DTCL_THREADS=1"

# --- cppcheck ------------------------------------------------------------
# Suppressions (false positives), one per line with its reason:
#   missingIncludeSystem: system headers are not given to cppcheck on
#     purpose (it would analyse libc); not a finding about our code.
echo "== cppcheck `$CPPCHECK --version | sed 's/^Cppcheck //'`:" \
    "error,warning,portability,performance"
$CPPCHECK --quiet --std=c99 --enable=warning,portability,performance \
    --inline-suppr --error-exitcode=1 \
    --suppress=missingIncludeSystem \
    --template='{file}:{line}: {severity} [{id}] {message}' \
    $incs $defs $files
cppcheck_status=$?

# --- clang-tidy ----------------------------------------------------------
checks='-*,clang-analyzer-*,bugprone-*'
checks="$checks,-bugprone-easily-swappable-parameters"
checks="$checks,-bugprone-implicit-widening-of-multiplication-result"
checks="$checks,-bugprone-reserved-identifier"
checks="$checks,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling"

tidy_files=
for f in $files; do
    case $f in
	*Kqueue*)
	    if test ! -f /usr/include/sys/event.h; then
		echo "lint: clang-tidy skips $f (no sys/event.h here)"
		continue
	    fi ;;
	*Epoll*)
	    if test ! -f /usr/include/sys/epoll.h \
		    && test ! -f /usr/include/x86_64-linux-gnu/sys/epoll.h; then
		echo "lint: clang-tidy skips $f (no sys/epoll.h here)"
		continue
	    fi ;;
    esac
    tidy_files="$tidy_files $f"
done

echo "== clang-tidy `$CLANG_TIDY --version | sed -n 's/.*LLVM version //p'`: $checks"
tmp=`mktemp -d "${TMPDIR:-/tmp}/mplint.XXXXXX"` || exit 2
trap 'rm -rf "$tmp"' 0
trap 'exit 2' 1 2 15

# False positives, suppressed here only (never in the sources).  One per
# line: check, file, and an extended regular expression the flagged source
# line must match (so that the entry follows the code, not a line number).
cat >"$tmp/suppressions" <<'SUPP'
# GetSize() returns MpError(...), which always returns TCL_ERROR, before it
# would leave *valuePtr unset; the analyzer cannot see MpError (mpCmd.c) and
# assumes it may return TCL_OK, so it thinks 'w' may be used unset.
clang-analyzer-core.uninitialized.Assign	generic/mpConfig.c	= \((size_t|long|int)\) w;
clang-analyzer-core.UndefinedBinaryOperatorResult	generic/mpConfig.c	w > 0
# MpConfigObjCmd: 'key' is set by the loop, which runs at least once since
# objc >= 2 there (objc == 1 returned earlier; Tcl never passes objc 0).
clang-analyzer-core.CallAndMessage	generic/mpConfig.c	GetValue\(mp, key\)
SUPP

# One process per file, LINT_JOBS at a time; each writes its own log.
printf '%s\n' $tidy_files | xargs -P "$LINT_JOBS" -I{} sh -c '
    log="$1/`echo "$2" | tr / _`.log"
    "$3" --quiet --checks="$4" "$2" -- $5 $6 >"$log" 2>&1
    echo "exit status $?" >>"$log"' sh "$tmp" {} "$CLANG_TIDY" "$checks" \
    "$incs" "$defs"

# Keep the diagnostics not suppressed (each with its notes); count them.
# A diagnostic is "FILE:LINE:COL: warning|error: TEXT [CHECK]"; its notes
# and source excerpts follow until the next diagnostic.
tidy_status=0
suppressed=0
for log in "$tmp"/*.log; do
    test -f "$log" || continue
    awk -v supp="$tmp/suppressions" -v srcdir="$srcdir" -v tmp="$tmp" '
	BEGIN {
	    n = 0
	    while ((getline line < supp) > 0) {
		if (line ~ /^#/ || line == "") continue
		split(line, f, "\t")
		sc[n] = f[1]; sf[n] = f[2]; sp[n] = f[3]; n++
	    }
	    keep = 0; kept = 0; dropped = 0
	}
	function srcline(file, ln,    l, i) {
	    i = 0
	    while ((getline l < file) > 0) {
		if (++i == ln) { close(file); return l }
	    }
	    close(file)
	    return ""
	}
	/^[^ :][^:]*:[0-9]+:[0-9]+: (warning|error): .*\[[^]]+\]$/ {
	    file = $0; sub(/:[0-9]+:[0-9]+: .*/, "", file)
	    ln = $0; sub(/^[^:]*:/, "", ln); sub(/:.*/, "", ln)
	    check = $0; sub(/.*\[/, "", check); sub(/\]$/, "", check)
	    sub(/,-warnings-as-errors$/, "", check)
	    rel = file; sub("^" srcdir "/", "", rel)
	    text = srcline(file, ln + 0)
	    keep = 1
	    for (i = 0; i < n; i++) {
		if (sc[i] == check && sf[i] == rel && text ~ sp[i]) {
		    keep = 0
		}
	    }
	    if (keep) kept++; else dropped++
	}
	/^exit status [0-9]+$/ {
	    if ($3 != 0 && kept == 0) {
		# clang-tidy failed without a diagnostic we could parse.
		kept++
		print "lint: clang-tidy " $0 " on " FILENAME
	    }
	    next
	}
	/^[0-9]+ (warning|error)s? generated\.$/ { next }
	/^Suppressed [0-9]+ warnings|^Use -header-filter/ { next }
	/: (warning|error): / && !/\[[^]]+\]$/ {
	    # A compiler error (missing header ...): always a finding.
	    keep = 1; kept++
	}
	{ if (keep) print }
	END {
	    printf "%d %d\n", kept, dropped >> (tmp "/counts")
	}' "$log"
done
if test -f "$tmp/counts"; then
    kept=`awk '{k += $1} END {print k + 0}' "$tmp/counts"`
    suppressed=`awk '{d += $2} END {print d + 0}' "$tmp/counts"`
    test "$kept" -gt 0 && tidy_status=1
fi

n=`echo $tidy_files | wc -w`
if test $cppcheck_status -eq 0; then
    echo "lint: cppcheck clean (`echo $files | wc -w` files)"
else
    echo "lint: cppcheck reported findings"
fi
if test $tidy_status -eq 0; then
    echo "lint: clang-tidy clean ($n files; $suppressed known false positives suppressed, see tools/lint.sh)"
else
    echo "lint: clang-tidy reported findings"
fi
test $cppcheck_status -eq 0 && test $tidy_status -eq 0
