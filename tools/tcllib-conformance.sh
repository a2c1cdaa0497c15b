#!/usr/bin/env bash
# tcllib-conformance.sh -- run tcllib's own test file for its multiplexer
# package against this build.
#
#     TCLSH=tclsh MP_BUILD_DIR=/path/to/build bash tools/tcllib-conformance.sh
#
# Why: this package claims to be a drop-in replacement for tcllib's pure-Tcl
# multiplexer 0.2.  Our own suite says what we think that means; tcllib's
# modules/multiplexer/multiplexer.test is what tcllib itself checks, written
# by others, so it is run here unchanged except for two things.  No tcllib
# code is kept in this repository: the test file and the test utilities it
# sources (modules/devtools/testutilities.tcl) come from the tcllib source
# at run time, and Debian's binary tcllib package does not ship them.
#
# What it does:
#   1. Finds the tcllib source: TCLLIB_SRC if set (an extracted tcllib
#      source tree, or a tarball such as Debian's tcllib_*.orig.tar.xz);
#      otherwise a tarball already in the cache directory
#      $MP_BUILD_DIR/tcllib-src/; otherwise it runs
#      "apt-get source --download-only tcllib" there (needs a deb-src line
#      in the apt sources and current package lists).  When none of that
#      works it says why and exits 77 (skipped).
#   2. Copies modules/multiplexer and modules/devtools into a scratch
#      directory twice.  In the first copy ("ours") multiplexer.tcl, which
#      the test file sources through "useLocal", becomes the single line
#      "package require multiplexer VERSION", and TCLLIBPATH puts the build
#      directory first, so the test file exercises this package.  The second
#      copy ("control") is left as tcllib ships it.
#   3. Before every run, rewrites the test file's fixed port 37465 to a port
#      found free just then (bind port 0, read it, close), so no run depends
#      on a fixed port.
#   4. Runs every test of the file alone, each in a fresh tclsh, then
#      multiplexer-5.1 and multiplexer-5.2 one after the other in one
#      interpreter (the second must survive what the first leaves behind),
#      then the control: all tests in one tclsh against tcllib's own
#      multiplexer.tcl, which must pass them all (that shows the file, the
#      utilities and this harness are sound on this machine, so a failure
#      in "ours" is ours).  Each run is bounded by "timeout" (60 s by
#      default): a hang is a failure.
#   5. Checks each run: tclsh ended normally; the test utilities printed
#      "* multiplexer VERSION" (ours: VERSION of the build; control:
#      the version tcllib's file provides); every test selected printed
#      "++++ NAME PASSED"; tcltest's summary line counts exactly those as
#      passed and "Failed 0"; and for ours, the loaded shared library is the
#      one in MP_BUILD_DIR (for the control, none is loaded at all).
#
# One line is printed per run (the run's log follows it when it failed),
# then a summary line.  Exit status: 0 all runs passed; 1 a run failed (the
# scratch directory is kept and named); 2 a usage or setup error; 77 the
# tcllib source could not be had (skipped).
#
# Environment:
#   TCLSH              tclsh to use (default: tclsh)
#   MP_BUILD_DIR       build directory holding pkgIndex.tcl and the library
#                      (default: the current directory)
#   TCLLIB_SRC         tcllib source tree or tarball (optional, see above)
#   MP_EXPECT_VERSION  package version to require and expect (default: the
#                      one in MP_BUILD_DIR/pkgIndex.tcl, else the Makefile's
#                      PACKAGE_VERSION)
#   MP_TCLLIB_TIMEOUT  seconds allowed per run (default: 60)

set -eu

TCLSH=${TCLSH:-tclsh}
TIMEOUT=${MP_TCLLIB_TIMEOUT:-60}
TCLLIB_SRC=${TCLLIB_SRC:-}
me=tcllib-conformance

die() {
    echo "$me: $*" >&2
    exit 2
}

skip() {
    echo "$me: SKIPPED: $*"
    exit 77
}

build=${MP_BUILD_DIR:-.}
build=$(cd "$build" 2>/dev/null && pwd) || die "no build directory '${MP_BUILD_DIR:-.}'"
[ -f "$build/pkgIndex.tcl" ] ||
    die "$build/pkgIndex.tcl not found (build the package first: make)"
command -v timeout >/dev/null 2>&1 || die "'timeout' (coreutils) not found"
command -v "$TCLSH" >/dev/null 2>&1 || die "tclsh '$TCLSH' not found"
case $TIMEOUT in
    ''|*[!0-9]*) die "MP_TCLLIB_TIMEOUT must be a whole number, got '$TIMEOUT'" ;;
esac

# The version under test: what the build directory's index provides.
version=${MP_EXPECT_VERSION:-}
if [ -z "$version" ]; then
    version=$(sed -n 's/^package ifneeded multiplexer \([0-9][0-9.]*\) .*/\1/p' \
        "$build/pkgIndex.tcl" | head -n 1)
fi
if [ -z "$version" ] && [ -f "$build/Makefile" ]; then
    version=$(sed -n 's/^PACKAGE_VERSION[ 	]*=[ 	]*\([0-9.]*\)[ 	]*$/\1/p' \
        "$build/Makefile" | head -n 1)
fi
[ -n "$version" ] ||
    die "cannot tell the package version from $build (set MP_EXPECT_VERSION)"

#--------------------------------------------------------------------------
# Scratch directory: removed when everything passed, kept otherwise.

scratch=$(mktemp -d "${TMPDIR:-/tmp}/mp-tcllib.XXXXXX")
keep_scratch=0
cleanup() {
    if [ "$keep_scratch" -eq 0 ]; then
        rm -rf "$scratch"
    else
        echo "$me: run logs and files kept in $scratch"
    fi
}
trap cleanup EXIT

#--------------------------------------------------------------------------
# 1. The tcllib source: modules/multiplexer and modules/devtools end up in
#    $scratch/src/modules.

mkdir -p "$scratch/src/modules"

# extract_tarball FILE: the two module directories out of a tcllib tarball
# whose members all sit under one top directory (tcllib-1.21/...).
extract_tarball() {
    tar -xf "$1" -C "$scratch/src" --strip-components=1 --wildcards \
        '*/modules/multiplexer/*' '*/modules/devtools/*'
}

# find_tarball DIR: the first tcllib_*.orig.tar.* in DIR, or nothing.
find_tarball() {
    local f
    for f in "$1"/tcllib_*.orig.tar.*; do
        if [ -f "$f" ]; then
            printf '%s\n' "$f"
            return 0
        fi
    done
}

src_desc=
if [ -n "$TCLLIB_SRC" ]; then
    if [ -d "$TCLLIB_SRC" ]; then
        for m in multiplexer devtools; do
            [ -d "$TCLLIB_SRC/modules/$m" ] ||
                die "TCLLIB_SRC=$TCLLIB_SRC has no modules/$m (want the top of a tcllib source tree)"
            cp -R "$TCLLIB_SRC/modules/$m" "$scratch/src/modules/"
        done
    elif [ -f "$TCLLIB_SRC" ]; then
        extract_tarball "$TCLLIB_SRC" ||
            die "cannot extract modules/multiplexer and modules/devtools from $TCLLIB_SRC"
    else
        die "TCLLIB_SRC=$TCLLIB_SRC is neither a directory nor a file"
    fi
    src_desc=$TCLLIB_SRC
else
    cache=$build/tcllib-src
    tarball=$(find_tarball "$cache")
    if [ -z "$tarball" ]; then
        command -v apt-get >/dev/null 2>&1 ||
            skip "no tcllib source: set TCLLIB_SRC to a tcllib source tree or tarball (no apt-get here to download Debian's)"
        mkdir -p "$cache"
        # Keep the cache out of "git status" in an in-tree build.
        printf '*\n' >"$cache/.gitignore"
        echo "$me: downloading the tcllib source with apt-get into $cache"
        if ! (cd "$cache" && apt-get source --download-only tcllib) \
                >"$cache/apt-get.log" 2>&1; then
            sed 's/^/    /' "$cache/apt-get.log" | tail -n 5
            skip "'apt-get source --download-only tcllib' failed (is there a deb-src line in /etc/apt/sources.list.d/ and has 'apt-get update' run since?); or set TCLLIB_SRC to a tcllib source tree or tarball"
        fi
        tarball=$(find_tarball "$cache")
        [ -n "$tarball" ] ||
            skip "apt-get source gave no tcllib_*.orig.tar.* in $cache"
    fi
    extract_tarball "$tarball" ||
        die "cannot extract the modules from $tarball (a damaged download? remove $cache and try again)"
    src_desc=$tarball
fi

testsrc=$scratch/src/modules/multiplexer/multiplexer.test
for f in "$testsrc" "$scratch/src/modules/multiplexer/multiplexer.tcl" \
        "$scratch/src/modules/devtools/testutilities.tcl"; do
    [ -f "$f" ] || die "$f not found in the tcllib source $src_desc"
done

# The tests of the file, in order, and the port they use.
mapfile -t tests < <(sed -n 's/^test \(multiplexer-[0-9][0-9.]*\) .*/\1/p' "$testsrc")
ntests=${#tests[@]}
[ "$ntests" -gt 0 ] || die "no 'test multiplexer-N.M' lines in $testsrc"
grep -q 37465 "$testsrc" ||
    die "$testsrc does not use port 37465 any more; this script needs updating"
for t in multiplexer-5.1 multiplexer-5.2; do
    printf '%s\n' "${tests[@]}" | grep -qx "$t" || die "$testsrc has no test $t"
done

# The version tcllib's own file provides (for the control's check).
tcllib_version=$(sed -n 's/^package provide multiplexer \([0-9][0-9.]*\).*/\1/p' \
    "$scratch/src/modules/multiplexer/multiplexer.tcl" | head -n 1)
[ -n "$tcllib_version" ] || die "no 'package provide multiplexer' in tcllib's multiplexer.tcl"

#--------------------------------------------------------------------------
# 2. The two copies, and the runner.

for tree in ours control; do
    mkdir -p "$scratch/$tree"
    cp -R "$scratch/src/modules" "$scratch/$tree/"
done
printf 'package require multiplexer %s\n' "$version" \
    >"$scratch/ours/modules/multiplexer/multiplexer.tcl"

# run1.tcl TESTFILE PATTERNS: tcltest with the given -match, verbose about
# every test, then the shared library the package loaded, if any.
cat >"$scratch/run1.tcl" <<'EOF'
lassign $argv testfile match
package require tcltest
tcltest::configure -match $match -verbose {pass fail skip}
cd [file dirname $testfile]
source $testfile
foreach lib [info loaded] {
    if {[lindex $lib 1] eq "Multiplexer"} {
        puts "loaded library: [lindex $lib 0]"
    }
}
exit 0
EOF

# free_port: a TCP port nobody listens on just now.
free_port() {
    echo 'set s [socket -server {} 0]
          puts [lindex [fconfigure $s -sockname] 2]
          close $s' | "$TCLSH"
}

#--------------------------------------------------------------------------
# 3. Runs.

runs_passed=0
runs_failed=0
control_result=

# run TREE LABEL TEST... : one tclsh on TREE's copy running the named tests.
run() {
    local tree=$1 label=$2
    shift 2
    local names="$*"
    local n=$#
    local dir=$scratch/$tree/modules/multiplexer
    local log
    log=$scratch/$tree-$(printf '%s' "$label" | tr -c 'A-Za-z0-9.-' _).log
    local port want rc=0 start end problems=() t

    port=$(free_port)
    case $port in
        ''|*[!0-9]*) die "could not find a free port (got '$port')" ;;
    esac
    sed "s/37465/$port/g" "$testsrc" >"$dir/multiplexer.test"

    start=$(date +%s%N)
    if [ "$tree" = ours ]; then
        want=$version
        TCLLIBPATH="$build" timeout -k 5 "$TIMEOUT" "$TCLSH" \
            "$scratch/run1.tcl" "$dir/multiplexer.test" "$names" \
            >"$log" 2>&1 || rc=$?
    else
        want=$tcllib_version
        env -u TCLLIBPATH timeout -k 5 "$TIMEOUT" "$TCLSH" \
            "$scratch/run1.tcl" "$dir/multiplexer.test" "$names" \
            >"$log" 2>&1 || rc=$?
    fi
    end=$(date +%s%N)

    case $rc in
        0) ;;
        124|137) problems+=("timed out after $TIMEOUT s (a hang)") ;;
        *) problems+=("tclsh ended with status $rc") ;;
    esac
    grep -qxF "* multiplexer $want" "$log" ||
        problems+=("no '* multiplexer $want' line (wrong package loaded, or the file did not load it)")
    local passed=0
    for t in $names; do
        if grep -qxF "++++ $t PASSED" "$log"; then
            passed=$((passed + 1))
        else
            problems+=("$t did not pass")
        fi
    done
    local sp='[[:space:]]+'
    grep -qE "^multiplexer\.test:${sp}Total${sp}${ntests}${sp}Passed${sp}${n}${sp}Skipped${sp}$((ntests - n))${sp}Failed${sp}0\$" "$log" ||
        problems+=("no tcltest summary 'Total $ntests Passed $n Skipped $((ntests - n)) Failed 0'")
    # Which library was loaded is printed only when the tests finished.
    if [ "$tree" = ours ] && [ "$rc" -eq 0 ]; then
        local lib
        lib=$(sed -n 's/^loaded library: //p' "$log" | head -n 1)
        [ -n "$lib" ] && [ "$(cd "$(dirname "$lib")" && pwd)" = "$build" ] ||
            problems+=("the shared library loaded ('$lib') is not in $build")
    elif [ "$tree" = control ]; then
        ! grep -q '^loaded library:' "$log" ||
            problems+=("a shared library was loaded for tcllib's pure-Tcl package")
        control_result="$passed/$n"
    fi

    local ms=$(((end - start) / 1000000))
    local secs
    secs=$(printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)))
    if [ "${#problems[@]}" -eq 0 ]; then
        runs_passed=$((runs_passed + 1))
        printf 'PASS  %-7s %-34s %d/%d passed, port %s, %s s\n' \
            "$tree" "$label" "$passed" "$n" "$port" "$secs"
    else
        runs_failed=$((runs_failed + 1))
        keep_scratch=1
        printf 'FAIL  %-7s %-34s %d/%d passed, port %s, %s s\n' \
            "$tree" "$label" "$passed" "$n" "$port" "$secs"
        for t in "${problems[@]}"; do
            echo "      - $t"
        done
        echo "      log ($log), last lines:"
        tail -n 25 "$log" | sed 's/^/      | /'
    fi
}

echo "$me: tcllib's multiplexer.test ($ntests tests) from $src_desc"
echo "$me: against multiplexer $version in $build (tclsh: $TCLSH, $TIMEOUT s per run)"

# The control first: if it fails, the harness or the machine is at fault.
run control "all $ntests tests, one tclsh" "${tests[@]}"
control_passed=$runs_passed
control_failed=$runs_failed
runs_passed=0
runs_failed=0

for t in "${tests[@]}"; do
    run ours "$t, fresh tclsh" "$t"
done
run ours "5.1 then 5.2, one tclsh" multiplexer-5.1 multiplexer-5.2

if [ "$control_failed" -eq 0 ] && [ "$control_passed" -eq 1 ]; then
    control_note="control: $control_result on tcllib's own package"
else
    control_note="control FAILED: $control_result on tcllib's own package"
fi
echo "tcllib conformance: $runs_passed runs passed, $runs_failed failed ($control_note)"
if [ "$runs_failed" -ne 0 ] || [ "$control_failed" -ne 0 ]; then
    exit 1
fi
exit 0
