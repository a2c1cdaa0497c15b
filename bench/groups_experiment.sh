#!/usr/bin/env bash
# groups_experiment.sh -- issue #18: per-group Redis channels or one
# channel with a group tag, at 10,000 groups (bench/groups_experiment.c
# says what is measured and checked).
#
#   bash bench/groups_experiment.sh [messages]
#
# Builds the driver (CC, default cc) into a temporary directory, starts a
# fresh redis-server on a free port of 127.0.0.1 (nothing saved; pinned
# to core 1 and the driver to core 0 when there are two cores), runs both
# modes at interest 1.0, 0.3, 0.1 and 0.01 (the fraction of the groups each of
# the 3 nodes has members in), each mode on a fresh Redis, and prints one
# RESULT line per run.  Every run is bounded (60 s), and everything stops
# at exit.

set -u
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CC=${CC:-cc}
TCLSH=${TCLSH:-tclsh}
MSGS=${1:-200000}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/mp-groups.XXXXXX") || exit 2
RPID=""
cleanup() {
    [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
    rm -rf -- "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
command -v redis-server >/dev/null || {
    echo "groups_experiment: redis-server not found (Debian: apt-get install redis-server)" >&2
    exit 2
}
$CC -O2 -Wall -Wextra -o "$DIR/groups_experiment" "$BENCH/groups_experiment.c" || exit 2
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    PIN_SRV="taskset -c 1"; PIN_LG="taskset -c 0"
else
    PIN_SRV=""; PIN_LG=""
fi

start_redis() {
    local i port
    for try in 1 2 3; do
	port=$(echo 'set s [socket -server x -myaddr 127.0.0.1 0]
	    puts [lindex [fconfigure $s -sockname] 2]; close $s' | "$TCLSH")
	$PIN_SRV redis-server --port "$port" --bind 127.0.0.1 --save "" \
	    --appendonly no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
	RPID=$!
	for i in $(seq 100); do
	    if { exec 7<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
		exec 7>&- 7<&-
		RPORT=$port
		return 0
	    fi
	    kill -0 "$RPID" 2>/dev/null || break
	    sleep 0.05
	done
	kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; RPID=""
    done
    echo "groups_experiment: redis-server did not start" >&2
    exit 2
}

status=0
for interest in 1.0 0.3 0.1 0.01; do
    for mode in channels tag; do
	start_redis
	$PIN_LG "$DIR/groups_experiment" --port "$RPORT" --redis-pid "$RPID" \
	    --mode "$mode" --groups 10000 --nodes 3 --interest "$interest" \
	    --messages "$MSGS" --bytes 64 --timeout 60 || status=1
	kill "$RPID"; wait "$RPID" 2>/dev/null; RPID=""
    done
done
exit $status
