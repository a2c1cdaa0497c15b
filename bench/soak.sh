#!/usr/bin/env bash
# soak.sh -- soak test: nothing lost under sustained load, memory flat.
#
#   bash bench/soak.sh [SECONDS]
#
# Starts the server (bench/soak.tcl: line framing, overflow drop) as a
# separate tclsh process, then runs the load (bench/soak.c, compiled here):
# SOAK_CLIENTS well-behaved clients each send SOAK_RATE sequence-numbered
# lines per second to all the others for SECONDS (default 180), while one
# slow client reads at a trickle.  The server's resident memory (VmRSS) is
# sampled throughout.  It prints its figures and checks:
#
#   1. every line reached every other well-behaved client exactly once and
#      in order per sender (lost 0, disorder 0, damaged 0);
#   2. the server read every line sent (Stats messages_in);
#   3. drops (overflow drop) happened to the slow client only: Stats drops
#      equals what the slow client missed, and is > 0;
#   4. every client was admitted and left once (accepted == disconnected ==
#      exit filter runs, clients 0 at the end);
#   5. RSS flat after warm-up (the first quarter of the run): its highest
#      sample after warm-up exceeds the sample at the end of warm-up by at
#      most SOAK_RSS_SLACK_KB (default 4096 KiB).
#
# Exit status 0 if all hold, 1 if not, 2 if it could not run.  Not part of
# the default test run (make soak / make soak-quick).
#
# Environment:
#   MP_BUILD_DIR        build directory with pkgIndex.tcl (required)
#   TCLSH (tclsh)  CC (cc)
#   SOAK_CLIENTS (8)  SOAK_RATE (500 lines/s per client)  SOAK_SIZE (100
#   bytes per line)  SOAK_SLOW_BPS (8192; 0 = no slow client)
#   SOAK_MAXQUEUE (262144 bytes)  SOAK_RSS_SLACK_KB (4096)
#   SOAK_KEEP=1 keeps the work directory (logs, RSS samples)

set -u

SECONDS_WANTED=${1:-180}
case $SECONDS_WANTED in
    ''|*[!0-9]*|0) echo "soak: SECONDS must be a positive integer" >&2; exit 2 ;;
esac
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TCLSH=${TCLSH:-tclsh}
CC=${CC:-cc}
CLIENTS=${SOAK_CLIENTS:-8}
RATE=${SOAK_RATE:-500}
SIZE=${SOAK_SIZE:-100}
SLOW=${SOAK_SLOW_BPS:-8192}
MAXQUEUE=${SOAK_MAXQUEUE:-262144}
SLACK=${SOAK_RSS_SLACK_KB:-4096}
MP_BUILD_DIR=${MP_BUILD_DIR:-}

if [ -z "$MP_BUILD_DIR" ] || [ ! -f "$MP_BUILD_DIR/pkgIndex.tcl" ]; then
    echo "soak: set MP_BUILD_DIR to the package's build directory" >&2
    exit 2
fi
MP_BUILD_DIR=$(cd "$MP_BUILD_DIR" && pwd)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mpsoak.XXXXXX") || exit 2
SPID=
CPID=
cleanup() {
    # Only the processes this script started, by their pid.
    [ -n "$CPID" ] && kill "$CPID" 2>/dev/null
    exec 3>&- 2>/dev/null
    if [ -n "$SPID" ]; then
	for _ in 1 2 3 4 5 6 7 8 9 10; do
	    kill -0 "$SPID" 2>/dev/null || break
	    sleep 0.2
	done
	kill "$SPID" 2>/dev/null
    fi
    if [ "${SOAK_KEEP:-0}" = 1 ]; then
	echo "soak: work directory kept: $WORK"
    else
	rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

if ! $CC -O2 -o "$WORK/soak" "$BENCH/soak.c"; then
    echo "soak: cannot compile bench/soak.c with $CC" >&2
    exit 2
fi

# The server's standard input is a FIFO held open here: closing it (fd 3)
# at the end lets the server exit by itself.
mkfifo "$WORK/in" || exit 2
exec 3<>"$WORK/in"
TCLLIBPATH="$MP_BUILD_DIR" "$TCLSH" "$BENCH/soak.tcl" "$WORK/stats" \
    "$MAXQUEUE" <"$WORK/in" >"$WORK/server.log" 2>&1 &
SPID=$!
PORT=
for _ in $(seq 1 100); do
    PORT=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$WORK/server.log")
    [ -n "$PORT" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "soak: the server did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 2
fi

rss_kb() {
    sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null
}

echo "soak: server pid $SPID port $PORT; $CLIENTS clients x $RATE lines/s x" \
    "$SIZE bytes for $SECONDS_WANTED s; slow reader ${SLOW} B/s;" \
    "maxqueue $MAXQUEUE"
START=$(date +%s)
"$WORK/soak" 127.0.0.1 "$PORT" "$CLIENTS" "$RATE" "$SECONDS_WANTED" \
    "$SIZE" "$SLOW" >"$WORK/client.log" 2>&1 &
CPID=$!

# Sample RSS while the load runs (about 60 samples, at least 1 s apart).
INTERVAL=$(( SECONDS_WANTED / 60 ))
[ "$INTERVAL" -lt 1 ] && INTERVAL=1
LIMIT=$(( SECONDS_WANTED + 60 ))
: >"$WORK/rss"
while kill -0 "$CPID" 2>/dev/null; do
    NOW=$(( $(date +%s) - START ))
    R=$(rss_kb "$SPID")
    [ -n "$R" ] && echo "$NOW $R" >>"$WORK/rss"
    if [ "$NOW" -gt "$LIMIT" ]; then
	echo "soak: the load did not finish within $LIMIT s; stopping it" >&2
	kill "$CPID" 2>/dev/null
	break
    fi
    grep '^progress' "$WORK/client.log" | tail -n 1 >"$WORK/progress.new"
    if ! cmp -s "$WORK/progress.new" "$WORK/progress" 2>/dev/null; then
	sed 's/^/soak: /' "$WORK/progress.new"
	mv "$WORK/progress.new" "$WORK/progress"
    fi
    sleep "$INTERVAL"
done
wait "$CPID"
CRC=$?
CPID=

# The clients are gone: wait for the server to have seen them all leave.
STATS=
for _ in $(seq 1 50); do
    sleep 0.2
    STATS=$(cat "$WORK/stats" 2>/dev/null)
    case $STATS in *"{clients 0 "*) break ;; esac
done
FINAL_RSS=$(rss_kb "$SPID")

SUMMARY=$(grep '^summary' "$WORK/client.log" | tail -n 1)
if [ -z "$SUMMARY" ]; then
    echo "soak: no summary from the load generator (exit status $CRC):" >&2
    cat "$WORK/client.log" >&2
    exit 1
fi

# All figures and checks in Tcl (dicts are easier there).
cat >"$WORK/report.tcl" <<'EOF'
lassign $argv summary stats rssFile slack crc slow finalRss
set s [lrange $summary 1 end]
set st [dict get $stats stats]
set exits [dict get $stats exits]
set admitted [dict get $stats admitted]
set f [open $rssFile]
set samples [lmap line [split [string trim [read $f]] \n] {
    if {[llength $line] != 2} continue
    set line
}]
close $f

puts "soak: ---- figures"
puts [format "soak: %-34s %s s, %d well-behaved clients + %s slow" \
    "duration" [dict get $s seconds] [dict get $s clients] \
    [expr {$slow > 0 ? 1 : 0}]]
puts [format "soak: %-34s %d (%d lines/s)" "lines sent" [dict get $s sent] \
    [dict get $s rate_in]]
puts [format "soak: %-34s %d of %d (%d lines/s)" \
    "deliveries to well-behaved clients" [dict get $s delivered] \
    [dict get $s expected] [dict get $s rate_out]]
puts [format "soak: %-34s lost %d, repeated/out of order %d, damaged %d" \
    "well-behaved clients" [dict get $s lost] [dict get $s disorder] \
    [dict get $s bad]]
puts [format "soak: %-34s received %d, missed %d, out of order %d" \
    "slow client" [dict get $s slow_received] [dict get $s slow_missing] \
    [dict get $s slow_disorder]]
foreach k {messages_in messages_out bytes_in bytes_out drops accepted
	disconnected queue_highwater queued_bytes clients} {
    puts [format "soak: %-34s %s" "server $k" [dict get $st $k]]
}
puts [format "soak: %-34s %d / %d" "server access / exit filter runs" \
    $admitted $exits]

# RSS: warm-up is the first quarter of the run.
set dur [dict get $s seconds]
set warm [expr {$dur / 4.0}]
set before {}
set after {}
foreach smp $samples {
    lassign $smp t kb
    if {$t <= $warm} {lappend before $kb} else {lappend after $kb}
}
if {$finalRss ne ""} {
    lappend after $finalRss
}
set rssOk 0
if {[llength $before] && [llength $after]} {
    set base [lindex $before end]
    set peak [tcl::mathfunc::max {*}$after]
    set growth [expr {$peak - $base}]
    set rssOk [expr {$growth <= $slack}]
    puts [format "soak: %-34s %d samples; start %d KiB, end of warm-up %d KiB,\
	    max after %d KiB, final %d KiB (growth %+d KiB, limit %d)" \
	"server RSS" [llength $samples] [lindex $before 0] $base $peak \
	[lindex $after end] $growth $slack]
} else {
    puts "soak: server RSS: too few samples"
}

set nAll [expr {[dict get $s clients] + ($slow > 0)}]
set checks [list \
    "every line delivered once, in order, undamaged" \
	[expr {$crc == 0 && [dict get $s lost] == 0
	    && [dict get $s disorder] == 0 && [dict get $s bad] == 0
	    && [dict get $s slow_disorder] == 0
	    && [dict get $s delivered] == [dict get $s expected]}] \
    "server read every line sent" \
	[expr {[dict get $st messages_in] == [dict get $s sent]}] \
    "drops only to the slow client, all counted" \
	[expr {$slow == 0 ? [dict get $st drops] == 0
	    : [dict get $st drops] > 0
	      && [dict get $st drops] == [dict get $s slow_missing]}] \
    "every client admitted and gone once" \
	[expr {[dict get $st accepted] == $nAll
	    && [dict get $st disconnected] == $nAll && $exits == $nAll
	    && $admitted == $nAll && [dict get $st clients] == 0}] \
    "server RSS flat after warm-up" $rssOk]
set ok 1
puts "soak: ---- checks"
foreach {what pass} $checks {
    puts [format "soak: %-4s %s" [expr {$pass ? "ok" : "FAIL"}] $what]
    if {!$pass} {set ok 0}
}
puts "soak: [expr {$ok ? {PASS} : {FAIL}}]"
exit [expr {$ok ? 0 : 1}]
EOF
"$TCLSH" "$WORK/report.tcl" "$SUMMARY" "$STATS" "$WORK/rss" "$SLACK" "$CRC" \
    "$SLOW" "$FINAL_RSS"
exit $?
