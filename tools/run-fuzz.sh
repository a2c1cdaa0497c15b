#!/bin/sh
# run-fuzz.sh -- build and run the libFuzzer harnesses of fuzz/.
#
#     sh tools/run-fuzz.sh ?SECONDS? ?HARNESS ...?
#
# SECONDS is the total fuzzing time (default 60), split evenly across the
# harnesses (each gets at least 1 s); HARNESS names (e.g. fuzz_frame_line)
# pick some of fuzz/*.c, default all.  Each harness is compiled with clang
# -fsanitize=fuzzer,address,undefined (UBSan made fatal) together with the
# core sources it tests (generic/mpFrame.c, mpBuf.c, mpWsFrame.c,
# mpHttp.c: pure C, no Tcl), and run from a copy of its seed corpus fuzz/corpus/HARNESS/ (the
# repository's corpus is only read).  A harness that includes OpenSSL's
# headers (fuzz_tls) also gets generic/mpTlsHello.c and OpenSSL's flags
# (pkg-config's libssl and libcrypto, else -lssl -lcrypto); one that
# includes mpResp.h (fuzz_cluster) gets generic/mpClusterMsg.c, mpResp.c
# and hiredis's flags (pkg-config's, else -lhiredis).  Exit status:
# 0 if every harness ran its time without a crash, leak, sanitizer report,
# timeout or out-of-memory report; 1 otherwise (a reproducer is kept, its
# path printed); 2 if it cannot build (no clang, or no libFuzzer runtime:
# Debian packages clang and libclang-rt-14-dev; for fuzz_tls, libssl-dev;
# for fuzz_cluster, libhiredis-dev).
# Installs nothing.
#
# Environment:
#     CC          clang to use (default: clang)
#     FUZZ_OUT    directory for binaries, working corpora and artifacts
#                 (default: a temporary directory, removed unless something
#                 failed)
#     FUZZ_FLAGS  extra libFuzzer flags (e.g. -jobs=2 -workers=2)

srcdir=`dirname "$0"`/..
srcdir=`cd "$srcdir" && pwd` || exit 2
total=${1:-60}
case $total in
    ''|*[!0-9]*)
	echo "run-fuzz: SECONDS must be a whole number, got '$total'" >&2
	exit 2 ;;
esac
test $# -gt 0 && shift

CC=${CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run-fuzz: $CC not found (apt-get install clang)" >&2
    exit 2
fi

# The libFuzzer runtime is a separate package on Debian (a Recommends of
# clang, so missing with --no-install-recommends).
probe=`mktemp -d "${TMPDIR:-/tmp}/mpfuzzprobe.XXXXXX"` || exit 2
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ (void) d; (void) n; return 0; }\n' >"$probe/p.c"
if ! $CC -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" \
	>"$probe/log" 2>&1; then
    cat "$probe/log" >&2
    echo "run-fuzz: $CC cannot build libFuzzer programs (Debian: apt-get" \
	"install libclang-rt-14-dev, or the one matching your clang)" >&2
    rm -rf "$probe"
    exit 2
fi
rm -rf "$probe"

if test $# -gt 0; then
    harnesses="$*"
else
    harnesses=
    for f in "$srcdir"/fuzz/fuzz_*.c; do
	test -f "$f" && harnesses="$harnesses `basename "$f" .c`"
    done
fi
set -- $harnesses
if test $# -eq 0; then
    echo "run-fuzz: no harnesses in $srcdir/fuzz" >&2
    exit 2
fi
per=`expr $total / $#`
test "$per" -lt 1 && per=1

keep=0
if test -n "$FUZZ_OUT"; then
    out=$FUZZ_OUT
    keep=1
    mkdir -p "$out" || exit 2
else
    out=`mktemp -d "${TMPDIR:-/tmp}/mpfuzz.XXXXXX"` || exit 2
fi

# The core sources every harness links: the pure-C parts the server uses.
core="$srcdir/generic/mpFrame.c $srcdir/generic/mpBuf.c
	$srcdir/generic/mpWsFrame.c $srcdir/generic/mpHttp.c"
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-fno-omit-frame-pointer -Wall -Wextra -Werror
	-I$srcdir/generic -I$srcdir/unix"

# For the harnesses that drive OpenSSL: the TLS listener's hello handling
# (generic/mpTlsHello.c: pure C, OpenSSL's headers only), and OpenSSL.
tlscore="$srcdir/generic/mpTlsHello.c"
if command -v pkg-config >/dev/null 2>&1 \
	&& pkg-config --exists libssl libcrypto 2>/dev/null; then
    sslflags=`pkg-config --cflags --libs libssl libcrypto`
else
    sslflags="-lssl -lcrypto"
fi

# For the harness of what a cluster node reads from Redis: the envelope
# and RESP code (generic/mpClusterMsg.c, generic/mpResp.c), and hiredis.
clustercore="$srcdir/generic/mpClusterMsg.c $srcdir/generic/mpResp.c"
if command -v pkg-config >/dev/null 2>&1 \
	&& pkg-config --exists hiredis 2>/dev/null; then
    hiredisflags=`pkg-config --cflags --libs hiredis`
else
    hiredisflags="-lhiredis"
fi

status=0
summary=
for h in $harnesses; do
    src=$srcdir/fuzz/$h.c
    if test ! -f "$src"; then
	echo "run-fuzz: no such harness: $src" >&2
	status=2
	continue
    fi
    extra=
    if grep -q '^#include <openssl/' "$src"; then
	extra="$tlscore $sslflags"
    fi
    if grep -q '^#include "mpResp.h"' "$src"; then
	extra="$extra $clustercore $hiredisflags"
    fi
    echo "== $h: building"
    if ! $CC $cflags -o "$out/$h" "$src" $core $extra; then
	test -n "$extra" && echo "run-fuzz: $h needs OpenSSL's headers and" \
	    "libraries (Debian: apt-get install libssl-dev)" >&2
	echo "run-fuzz: $h: build failed" >&2
	status=2
	continue
    fi
    work=$out/$h.corpus
    mkdir -p "$work" "$out/$h.artifacts"
    if test -d "$srcdir/fuzz/corpus/$h"; then
	cp "$srcdir/fuzz/corpus/$h"/* "$work"/ 2>/dev/null
    fi
    echo "== $h: fuzzing for $per s"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$out/$h" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 \
	-max_len=8192 -print_final_stats=1 \
	-artifact_prefix="$out/$h.artifacts/" $FUZZ_FLAGS "$work" \
	>"$out/$h.log" 2>&1
    rc=$?
    runs=`sed -n 's/^stat::number_of_executed_units: *//p' "$out/$h.log" | tail -1`
    secs=`sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$out/$h.log" | tail -1`
    cov=`grep -o 'cov: [0-9]*' "$out/$h.log" | tail -1`
    ncorp=`ls "$work" | wc -l`
    # Any sanitizer or libFuzzer failure report counts, even if the exit
    # status were 0.
    if test $rc -ne 0 || grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: |check failed' "$out/$h.log"; then
	echo "run-fuzz: $h FAILED (exit status $rc); log: $out/$h.log"
	tail -n 40 "$out/$h.log"
	ls "$out/$h.artifacts"/* 2>/dev/null | sed 's/^/run-fuzz: reproducer: /'
	status=1
	keep=1
	line="$h: FAILED after ${runs:-?} runs"
    else
	line="$h: ok, ${runs:-?} runs in ${secs:-$per} s, ${cov:-cov: ?} edges, corpus $ncorp inputs"
    fi
    echo "$line"
    summary="$summary$line
"
done

echo "== run-fuzz summary (${per} s per harness)"
printf '%s' "$summary"
if test $keep -eq 0; then
    rm -rf "$out"
else
    echo "run-fuzz: binaries, logs and corpora kept in $out"
fi
exit $status
