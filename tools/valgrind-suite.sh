#!/bin/sh
# valgrind-suite.sh -- the test suite under valgrind memcheck, one test file
# per valgrind process, JOBS of them at a time.
#
#     sh tools/valgrind-suite.sh JOBS OUTDIR VALGRIND [VALGRIND FLAGS ...]
#
# Called by `make test-valgrind` (which builds the variant and sets the
# package environment: TCLLIBPATH, MP_BUILD_DIR, MP_HELPER_DIR, TCLSH).
# Valgrind runs a program about fifty times slower on one core; the suite's
# files are independent (each binds its own ports, port 0), so on a machine
# with several cores running them side by side divides the wall time
# without changing what each file checks. Each file runs as
# `valgrind ... tclsh tests/all.tcl -singleproc 1 -file NAME`, its output
# kept in OUTDIR/NAME.log and printed whole, in file order, once all have
# run. The longest files start first.
#
# The last line printed is "N passed, N failed, N skipped" summed over the
# files; the exit status is 1 if any test failed, any file did not finish
# (no summary line) or valgrind reported an error (its --error-exitcode),
# else 0.

set -u
jobs=$1
out=$2
shift 2
srcdir=`dirname "$0"`/..
srcdir=`cd "$srcdir" && pwd` || exit 2
TCLSH=${TCLSH:-tclsh}

case $jobs in
    ''|*[!0-9]*|0) echo "valgrind-suite: JOBS must be a positive number" >&2
	exit 2 ;;
esac
rm -rf "$out"
mkdir -p "$out" || exit 2

# Files not run here: scenario files whose C code the files that do run
# here cover too (cluster.test: every cluster path but recovery and
# sharding; multicast.test: the multicast member, retransmission and group
# sockets), each of which starts several node processes and Redis servers
# that valgrind makes take minutes; make test-asan runs them whole, under
# ASan, UBSan and LSan, node processes included.
asanonly="clusterrecover.test clustershard.test multicastnet.test"

# Longest first (by what they are known to take), then the rest by name,
# so that one long file does not start last.
long="tls.test cluster.test multicast.test churn.test stress.test doc.test
      webchat.test linger.test shutdown.test idle.test compat.test
      websocket.test
      overflow.test faults.test hostile.test connect.test chanops.test"
files=
for f in $long; do
    test -f "$srcdir/tests/$f" && files="$files $f"
done
for p in "$srcdir"/tests/*.test; do
    f=`basename "$p"`
    case " $asanonly " in *" $f "*)
	echo "valgrind-suite: $f not run under valgrind (see asanonly)"
	continue ;;
    esac
    case " $files " in *" $f "*) ;; *) files="$files $f" ;; esac
done

# One file: run it and leave its exit status next to its log.
export out srcdir TCLSH
printf '%s\n' $files | xargs -P "$jobs" -I{} sh -c '
    "$@" "$TCLSH" "$srcdir/tests/all.tcl" -singleproc 1 -file "{}" \
	>"$out/{}.log" 2>&1
    echo $? >"$out/{}.rc"' sh "$@"

passed=0 failed=0 skipped=0 status=0 bad=
for f in `printf '%s\n' $files | sort`; do
    echo "==== $f"
    cat "$out/$f.log"
    line=`grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' \
	"$out/$f.log" | tail -n 1`
    rc=`cat "$out/$f.rc" 2>/dev/null || echo 99`
    if test -z "$line"; then
	failed=`expr $failed + 1`
	bad="$bad $f(no-summary)"
	status=1
	continue
    fi
    set -- $line
    passed=`expr $passed + $1`
    failed=`expr $failed + $3`
    skipped=`expr $skipped + $5`
    if test "$rc" != 0; then
	status=1
	bad="$bad $f(status-$rc)"
    fi
done
test -n "$bad" && echo "valgrind-suite: files with failures or reports:$bad"
test "$failed" -gt 0 && status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
