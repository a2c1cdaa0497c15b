#!/usr/bin/env bash
# run.sh -- the multiplexer benchmark driver.
#
#   bench/run.sh [--quick] [--out DIR]
#                [--servers "cref mp tcllib relay cref2 mpws mpw nodews socketio
#                            mptls creftls mpcluster mpclusterline sioredis
#                            redisonly mpmcast crefmcast mpclusterns"]
#
# Environment (set by `make bench` / `make bench-quick`):
#   TCLSH         Tcl 8.6 shell (default: tclsh)
#   MP_BUILD_DIR  build directory holding this package (pkgIndex.tcl and the
#                 shared library); put first on auto_path of our server only
#   CC            C compiler for the load generator and the C reference
#                 (default: cc)
#   BENCH_OUT     results directory (default: bench/results, or
#                 bench/results/quick with --quick)
#   BENCH_PASSES  how many times the (R, B) matrix is run (default 5 for
#                 the full run, 1 for --quick); the report gives each
#                 figure's median over the passes and each ratio the median
#                 of the per-pass ratios, for every server alike (see
#                 report.tcl)
#   BENCH_RT      1 (default): the light-load phase runs the server and the
#                 load generator under SCHED_FIFO (needs root or
#                 CAP_SYS_NICE; silently normal otherwise), so that other
#                 work on the machine does not set the p99; 0: never
#   BENCH_CONTROL 1 (default for the full run): the matrix also runs
#                 "cref2", a second copy of the C reference, and the report
#                 checks the ratio targets on it as on this package: the
#                 run's own measure of how far two identical servers differ
#                 on this machine; 0 (default for --quick): not run
#   BENCH_WS      1 (default): the matrix also runs the WebSocket servers
#                 (B 64 and 1024 only): "mpws" (this package, WebSocket
#                 listener), "nodews" (Node's ws 8) and "socketio"
#                 (Socket.IO 4, websocket transport); the Node ones only if
#                 node is found (and npm, to install bench/package-lock.json
#                 into $MP_BUILD_DIR/bench-bin/node the first time), each
#                 skipped with a message otherwise; and "mpw", this
#                 package's TCP fan-out at the WebSocket cells' window, in
#                 the cells where that window is smaller than the TCP
#                 one (the WebSocket listener's TCP yardstick); 0: not run
#   BENCH_TLS     1 (default): the matrix also runs the TLS servers (R 10,
#                 100 and 1000, B 64 and 1024; quick: R 10 only): "mptls"
#                 (this package, `Init 0 -tls ...`, raw framing) and
#                 "creftls" (bench/cref_tls.c, the C reference over TLS),
#                 with a throwaway EC P-256 certificate made with the
#                 openssl command into a temporary directory (removed at
#                 exit), and both hold 10,000 idle TLS clients in the
#                 capacity run (quick: 1,500); skipped with a message if
#                 openssl is missing; 0: not run
#   BENCH_CLUSTER 1 (default): the cluster cells (issue #18) also run, a
#                 3-node cell per (R, B), R in {30, 300, 3000}, B in {64,
#                 1024} (quick: 30 x 64 only), each server started fresh
#                 with a fresh redis-server (a free port of 127.0.0.1,
#                 nothing saved): "mpcluster" (three mp_server.tcl -cluster
#                 nodes, raw framing), "mpclusterline" (the same in line
#                 framing: one publish per message, as the two below
#                 do), "sioredis" (three Node processes running Socket.IO
#                 4 with @socket.io/redis-adapter, socketio_cluster_server.js)
#                 and "redisonly" (the load generator publishing and
#                 subscribing on Redis itself, the ceiling); with mpcluster,
#                 "mp" (one node, no Redis) runs in the same cells as the
#                 within-one-node yardstick; skipped with a message if
#                 redis-server (or, for sioredis, node and its modules) is
#                 missing; 0: not run
#   BENCH_CLUSTER_RS, BENCH_CLUSTER_BS
#                 the cluster cells' R and B lists instead of the defaults
#                 (e.g. all six cells at the quick run's durations:
#                 BENCH_CLUSTER_RS="30 300 3000" BENCH_CLUSTER_BS="64 1024")
#   BENCH_MCAST   1 (default): the multicast cells (issue #19) also run,
#                 inside network namespaces this script makes (a switch
#                 namespace with a bridge, three node namespaces, one for
#                 the load generator, one for Redis; removed at exit) and
#                 never in the machine's own: "mpmcast" (three
#                 mp_server.tcl nodes joined with `Multicast join`, line
#                 framing), "crefmcast" (three bench/cref_mcast.c relays)
#                 and "mpclusterns" (three mp_server.tcl -cluster nodes
#                 and redis-server in the same namespaces, line framing:
#                 the Redis cluster cell beside them); the cells are the
#                 cluster cells' (BENCH_CLUSTER_RS/BS; quick: 30 x 64, and
#                 without mpclusterns unless --servers names it); skipped
#                 with a message where namespaces cannot be made (root and
#                 ip needed; an error if --servers names them); 0: not run
#
# Every server is started fresh for every cell, pinned to core 1 (the load
# generator to core 0) when there are two cores.  See bench/README.md.
#
# Exit status: 0 if every run delivered every message exactly once and in
# order (tcllib's package and the Tcl relay aborting past ~1,016
# connections is their expected result, not a failure); 1 otherwise.

set -u
set -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(dirname "$BENCH")
TCLSH=${TCLSH:-tclsh}
CC=${CC:-cc}
MP_BUILD_DIR=${MP_BUILD_DIR:-}
QUICK=0
SERVERS=""
OUT=${BENCH_OUT:-}

while [ $# -gt 0 ]; do
    case $1 in
	--quick) QUICK=1 ;;
	--servers) SERVERS=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h|--help) sed -n '2,81p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

EXPLICIT=0
if [ -z "$SERVERS" ]; then
    SERVERS="cref mp tcllib relay"
    [ "${BENCH_CONTROL:-$((1 - QUICK))}" != 0 ] && SERVERS="$SERVERS cref2"
    [ "${BENCH_WS:-1}" != 0 ] && SERVERS="$SERVERS mpws mpw nodews socketio"
    [ "${BENCH_TLS:-1}" != 0 ] && SERVERS="$SERVERS mptls creftls"
    [ "${BENCH_CLUSTER:-1}" != 0 ] && SERVERS="$SERVERS mpcluster mpclusterline sioredis redisonly"
    if [ "${BENCH_MCAST:-1}" != 0 ]; then
	SERVERS="$SERVERS mpmcast crefmcast"
	[ $QUICK = 1 ] || SERVERS="$SERVERS mpclusterns"
    fi
else
    EXPLICIT=1
fi
for s in $SERVERS; do
    case $s in cref|cref2|mp|tcllib|relay|mpws|mpw|nodews|socketio|mptls|creftls|mpcluster|mpclusterline|sioredis|redisonly|mpmcast|crefmcast|mpclusterns) ;;
	*) echo "run.sh: unknown server $s (cref cref2 mp tcllib relay mpws mpw nodews socketio mptls creftls mpcluster mpclusterline sioredis redisonly mpmcast crefmcast mpclusterns)" >&2; exit 2 ;;
    esac
done

if [ -z "$MP_BUILD_DIR" ] || [ ! -f "$MP_BUILD_DIR/pkgIndex.tcl" ]; then
    echo "run.sh: set MP_BUILD_DIR to the build directory of the package" \
	 "(the one holding pkgIndex.tcl); \`make bench\` does" >&2
    exit 2
fi
MP_BUILD_DIR=$(cd "$MP_BUILD_DIR" && pwd)
if [ -z "$OUT" ]; then
    if [ $QUICK = 1 ]; then OUT=$BENCH/results/quick; else OUT=$BENCH/results; fi
fi
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
BIN=$MP_BUILD_DIR/bench-bin
mkdir -p "$BIN"

# ---------------------------------------------------------------------------
# Plan.
# ---------------------------------------------------------------------------

FDHARD=$(ulimit -Hn)
[ "$FDHARD" = unlimited ] && FDHARD=1048576
if [ $QUICK = 1 ]; then
    RS="10 100"; BS="64 1024"
    LIGHT=0.6; LIGHTREPS=3; SAT=0.9; SATREPS=3; SATMAX=3000000
    CAP_LIMIT=1500
    FILTER_RS="10"; FILTER_BS="64 1024"
    LG_TIMEOUT=30
else
    RS="10 100 1000 10000"; BS="64 1024 16384"
    LIGHT=4.5; LIGHTREPS=3; SAT=4.5; SATREPS=3; SATMAX=60000000
    CAP_LIMIT=$((FDHARD - 50))
    FILTER_RS="10 100"; FILTER_BS="64 1024"
    LG_TIMEOUT=180
fi
RATE=100
PASSES=${BENCH_PASSES:-$([ $QUICK = 1 ] && echo 1 || echo 5)}
case $PASSES in ''|*[!0-9]*|0) echo "run.sh: BENCH_PASSES must be a positive integer" >&2; exit 2 ;; esac
PASS=1
RT_ARGS=()
[ "${BENCH_RT:-1}" != 0 ] && RT_ARGS=(--rt-light)
# The cluster cells' light phase: SCHED_RR rather than SCHED_FIFO.  Every
# process of a cluster cell shares one core; under SCHED_FIFO, Socket.IO's
# busy node (3000 receivers) never gave its own V8 worker threads, which
# are runnable at the same priority on that core, a turn, and delivered
# nothing in 30 s (0 of 33 records; under SCHED_OTHER or SCHED_RR the
# same light phase takes 3.5 s).  Round-robin at one priority lets a
# thread that runs a whole time slice (100 ms) yield; ours and Redis never
# run that long at light load, so for them the two policies are the same.
CL_RT_ARGS=()
[ "${BENCH_RT:-1}" != 0 ] && CL_RT_ARGS=(--rt-light --rt-policy rr)

if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    PIN_SRV="taskset -c 1"; PIN_LG="taskset -c 0"
else
    PIN_SRV=""; PIN_LG=""
fi

# ---------------------------------------------------------------------------
# Build the load generator and the C reference.
# ---------------------------------------------------------------------------

for prog in loadgen cref cref_tls cref_mcast; do
    if [ ! -x "$BIN/$prog" ] || [ "$BENCH/$prog.c" -nt "$BIN/$prog" ]; then
	$CC -O2 -g -Wall -Wextra -o "$BIN/$prog" "$BENCH/$prog.c" \
	    $(case $prog in cref|cref_mcast) ;; *) echo -lssl -lcrypto ;; esac) || {
	    echo "run.sh: cannot build $prog" >&2; exit 2; }
    fi
done

# ---------------------------------------------------------------------------
# Node servers: ws and socket.io from bench/package-lock.json, installed
# with `npm ci` into the build directory (the source tree stays clean),
# again whenever the lock file changes; Debian's node-ws
# (/usr/share/nodejs) serves "nodews" when npm is missing.  A Node server
# that cannot run is dropped with a message (an error if --servers named
# it).
# ---------------------------------------------------------------------------

NODE_DIR=$BIN/node
NODE_PATH_BENCH=$NODE_DIR/node_modules:/usr/share/nodejs
NODE_INFO=""
drop_server() {
    local s=$1 why=$2 keep="" x
    if [ $EXPLICIT = 1 ]; then
	echo "run.sh: cannot run $s: $why" >&2
	exit 2
    fi
    echo "run.sh: skipping $s: $why" >&2
    for x in $SERVERS; do [ "$x" = "$s" ] || keep="$keep $x"; done
    SERVERS=${keep# }
}
# The cluster cells need redis-server (Debian: redis-server 7); without
# it all three cluster servers are dropped, as the Node ones without node.
is_cluster() { case $1 in mpcluster|mpclusterline|sioredis|redisonly) return 0 ;; esac; return 1; }
REDIS_INFO=""
case " $SERVERS " in
    *" mpcluster "*|*" mpclusterline "*|*" sioredis "*|*" redisonly "*|*" mpclusterns "*)
	if ! command -v redis-server >/dev/null; then
	    for s in mpcluster mpclusterline sioredis redisonly mpclusterns; do
		case " $SERVERS " in *" $s "*) drop_server $s "redis-server not found (Debian: apt-get install redis-server)" ;; esac
	    done
	else
	    REDIS_INFO=$(redis-server --version 2>&1 | head -1)
	fi ;;
esac
case " $SERVERS " in
    *" nodews "*|*" socketio "*|*" sioredis "*)
	if ! command -v node >/dev/null; then
	    for s in nodews socketio sioredis; do
		case " $SERVERS " in *" $s "*) drop_server $s "node not found (Debian: apt-get install nodejs npm)" ;; esac
	    done
	else
	    if [ ! -f "$NODE_DIR/package-lock.json" ] \
		    || ! cmp -s "$BENCH/package-lock.json" "$NODE_DIR/package-lock.json" \
		    || [ ! -d "$NODE_DIR/node_modules" ]; then
		if command -v npm >/dev/null; then
		    rm -rf "$NODE_DIR"
		    mkdir -p "$NODE_DIR"
		    cp "$BENCH/package.json" "$BENCH/package-lock.json" "$NODE_DIR/"
		    echo "run.sh: npm ci (ws, socket.io, @socket.io/redis-adapter, redis) into $NODE_DIR" >&2
		    (cd "$NODE_DIR" && timeout 150 npm ci --no-audit --no-fund \
			--ignore-scripts --fetch-timeout=30000 --fetch-retries=1 \
			>"$OUT/logs/npm.log" 2>&1) \
			|| echo "run.sh: npm ci failed; see $OUT/logs/npm.log" >&2
		else
		    echo "run.sh: npm not found (Debian: apt-get install npm)" >&2
		fi
	    fi
	    for s in nodews socketio sioredis; do
		case " $SERVERS " in *" $s "*) ;; *) continue ;; esac
		case $s in
		    nodews) mods="ws" ;;
		    socketio) mods="socket.io" ;;
		    sioredis) mods="socket.io @socket.io/redis-adapter redis" ;;
		esac
		for m in $mods; do
		    if ! v=$(cd / && NODE_PATH=$NODE_PATH_BENCH node -e \
			    "process.stdout.write(require('$m/package.json').version)" 2>/dev/null); then
			drop_server $s "node cannot load $m (npm ci failed or npm missing)"
			break
		    fi
		    case " $NODE_INFO " in *" $m $v "*) ;; *) NODE_INFO="$NODE_INFO $m $v" ;; esac
		done
	    done
	    NODE_INFO="node $(node --version),$NODE_INFO"
	fi ;;
esac

# The WebSocket servers run the cells of these sizes only (quick: R 10
# only, so that bench-quick stays near a minute), with at most
# WS_INFLIGHT deliveries in flight: the window loadgen would choose is
# sized in bytes for servers that move millions of deliveries per second,
# and at 1000 or 10000 receivers of 64-byte messages it would hold about
# 4 million deliveries in flight, a 40 s drain per repetition for the
# Node servers (about 100 k deliveries/s here).  All three WebSocket
# servers get the same window in a cell.
WS_BS="64 1024"
if [ $QUICK = 1 ]; then WS_RS="10"; else WS_RS="10 100 1000 10000"; fi
WS_INFLIGHT=100000
is_ws() { case $1 in mpws|nodews|socketio) return 0 ;; esac; return 1; }
# own_window R B: the window loadgen chooses itself (as in loadgen.c).
# ws_window R B: the --window of a WebSocket cell: that, capped at
# WS_INFLIGHT / R (at least 4).  Where the cap makes it smaller, "mpw"
# (our TCP fan-out at that window) is the WebSocket listener's TCP
# yardstick: the ratio then compares the codecs, not two windows.
own_window() {
    local R=$1 B=$2 w
    w=$((268435456 / (R * B)))
    [ $w -gt $((262144 / B)) ] && w=$((262144 / B))
    [ $w -gt 4096 ] && w=4096
    [ $w -lt 4 ] && w=4
    echo $w
}
ws_window() {
    local R=$1 B=$2 w cap
    w=$(own_window "$R" "$B")
    cap=$((WS_INFLIGHT / R))
    [ $cap -lt 4 ] && cap=4
    [ $w -gt $cap ] && w=$cap
    echo $w
}

# TLS servers (issue #17): one throwaway certificate per run, made with the
# openssl command into a temporary directory that is removed at exit (the
# key never lands in the results or the tree).  An EC P-256 key: its
# handshakes are much cheaper than RSA's for both servers, which matters
# for the capacity run's 10,000 handshakes.  Without openssl both TLS
# servers are dropped with a message, as the Node servers are.
TLS_DIR=""; TLS_CERT=""; TLS_KEY=""; TLS_INFO=""
REDIS_DIR=""
# The multicast cells' network (issue #19): namespaces named
# mpb<this shell's pid><role>, made by mc_setup and removed by
# mc_teardown, which the EXIT trap runs whatever ends the script
# (an interrupt too: the INT/TERM trap exits).  Roles: sw (the switch: a
# bridge br0, IGMP snooping off, so multicast is flooded to its ports as
# an unmanaged switch does), n1 n2 n3 (the nodes, 10.234.1.1-3 on eth0,
# the multicast route 224.0.0.0/4 through eth0), lg (the load generator,
# 10.234.1.10) and rd (Redis, 10.234.1.20); each host namespace has lo
# up and eth0, the end of a veth pair whose other end is a port of br0.
# The ports of lg and rd do not flood multicast (`bridge link set ...
# mcast_flood off`): only the nodes see the group's datagrams.  The
# machine's own namespace gets no address, no route and no interface:
# no datagram of the group is sent or received in it.
MC_P=mpb$$
MC_ROLES="sw n1 n2 n3 lg rd"
MC_MADE=""
MC_GROUP=239.255.42.42
MC_MPORT=45042		# in namespaces this run made: nothing else binds it
mc_ip() { env -u LD_PRELOAD ip "$@"; }
mc_addr() {
    case $1 in n1) echo 10.234.1.1 ;; n2) echo 10.234.1.2 ;; n3) echo 10.234.1.3 ;;
	lg) echo 10.234.1.10 ;; rd) echo 10.234.1.20 ;; esac
}
# mc_teardown: kills what still runs in this run's namespaces (SIGKILL;
# only processes this script started live there) and deletes them.
mc_teardown() {
    local r p
    for r in $MC_MADE; do
	for p in $(mc_ip netns pids "$MC_P$r" 2>/dev/null); do
	    kill -KILL "$p" 2>/dev/null
	done
    done
    for r in $MC_MADE; do
	mc_ip netns del "$MC_P$r" 2>/dev/null
    done
    MC_MADE=""
}
# mc_sweep: deletes the namespaces of earlier runs of this script whose
# shell no longer exists (one killed with SIGKILL cannot clean up).
mc_sweep() {
    local ns pid
    for ns in $(mc_ip netns list 2>/dev/null | awk '{ print $1 }'); do
	case $ns in mpb[0-9]*) ;; *) continue ;; esac
	pid=${ns#mpb}; pid=${pid%%[!0-9]*}
	case ${ns#mpb$pid} in sw|n1|n2|n3|lg|rd) ;; *) continue ;; esac
	[ "$pid" != $$ ] && ! kill -0 "$pid" 2>/dev/null && mc_ip netns del "$ns" 2>/dev/null
    done
    return 0
}
# mc_setup: makes the network above; 1 (with whatever was made removed)
# if it cannot.
mc_setup() {
    local r
    {
	mc_ip netns add "${MC_P}sw" && MC_MADE="sw" \
	    && mc_ip -n "${MC_P}sw" link set lo up \
	    && mc_ip -n "${MC_P}sw" link add br0 type bridge mcast_snooping 0 \
	    && mc_ip -n "${MC_P}sw" link set br0 up
    } >/dev/null 2>&1 || { mc_teardown; return 1; }
    # A switch forwards frames without the host's firewall: where
    # br_netfilter is loaded, bridged frames would go through iptables.
    for r in iptables ip6tables arptables; do
	[ -e /proc/sys/net/bridge/bridge-nf-call-$r ] || continue
	env -u LD_PRELOAD ip netns exec "${MC_P}sw" \
	    sysctl -qw "net.bridge.bridge-nf-call-$r=0" >/dev/null 2>&1
    done
    for r in n1 n2 n3 lg rd; do
	{
	    mc_ip netns add "$MC_P$r" && MC_MADE="$MC_MADE $r" \
		&& mc_ip -n "$MC_P$r" link set lo up \
		&& mc_ip -n "${MC_P}sw" link add "p$r" type veth peer name eth0 netns "$MC_P$r" \
		&& mc_ip -n "${MC_P}sw" link set "p$r" master br0 \
		&& mc_ip -n "${MC_P}sw" link set "p$r" up \
		&& mc_ip -n "$MC_P$r" addr add "$(mc_addr $r)/24" dev eth0 \
		&& mc_ip -n "$MC_P$r" link set eth0 up \
		&& case $r in
		    n*) mc_ip -n "$MC_P$r" route add 224.0.0.0/4 dev eth0 ;;
		    *) env -u LD_PRELOAD ip netns exec "${MC_P}sw" \
			bridge link set dev "p$r" mcast_flood off ;;
		esac
	} >/dev/null 2>&1 || { mc_teardown; return 1; }
    done
    return 0
}
# in_ns role command...: runs a command inside a namespace of this run
# (exec: the pid of `in_ns ... &` is the command's own).
in_ns() {
    local r=$1; shift
    exec env -u LD_PRELOAD ip netns exec "$MC_P$r" "$@"
}
cleanup() {
    [ -n "$TLS_DIR" ] && rm -rf -- "$TLS_DIR"
    [ -n "$REDIS_DIR" ] && rm -rf -- "$REDIS_DIR"
    [ -n "$MC_MADE" ] && mc_teardown
    return 0
}
trap cleanup EXIT
drop_tls() {
    local s
    for s in mptls creftls; do
	case " $SERVERS " in *" $s "*) drop_server $s "$1" ;; esac
    done
}
case " $SERVERS " in
    *" mptls "*|*" creftls "*)
	if ! command -v openssl >/dev/null; then
	    drop_tls "openssl not found (Debian: apt-get install openssl)"
	elif ! TLS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mp-bench-tls.XXXXXX"); then
	    TLS_DIR=""
	    drop_tls "cannot make a temporary directory for the certificate"
	elif ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -days 2 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" \
		>"$OUT/logs/openssl.log" 2>&1; then
	    drop_tls "openssl could not make a certificate; see $OUT/logs/openssl.log"
	else
	    TLS_CERT=$TLS_DIR/cert.pem; TLS_KEY=$TLS_DIR/key.pem
	    TLS_INFO="$(openssl version | head -1), self-signed EC P-256 certificate (CN localhost), OpenSSL's default TLS 1.2/1.3 settings on both sides"
	fi ;;
esac

# The TLS servers run the cells of these sizes only (quick: R 10 only, as
# the WebSocket servers), at the load generator's own window like the TCP
# servers, so "mp" in the same cell is their plaintext yardstick.
TLS_BS="64 1024"
if [ $QUICK = 1 ]; then TLS_RS="10"; else TLS_RS="10 100 1000"; fi
is_tls() { case $1 in mptls|creftls) return 0 ;; esac; return 1; }

# The cluster cells (issue #18): CL_NODES nodes, receivers spread
# round-robin over them, the sender on the first; quick: one small cell,
# so that bench-quick still checks a cluster's delivery end to end.  Every
# server of a cell runs at one window, the load generator's own capped at
# CL_INFLIGHT deliveries in flight (cl_window; as the WebSocket cells',
# Socket.IO needs it, and the others get the same: 100,000, or 20,000 in
# the quick run, where Socket.IO's drains of 100,000 deliveries took
# most of the cluster cell's 45 s), and "mp", the within-one-node
# yardstick, runs in these cells too when mpcluster or mpclusterline
# does.  Redis gets a working directory of its own
# (nothing is saved in it), removed at exit.
CL_NODES=3
CL_INFLIGHT=$([ $QUICK = 1 ] && echo 20000 || echo "$WS_INFLIGHT")
cl_window() {
    local R=$1 B=$2 w cap
    w=$(own_window "$R" "$B")
    cap=$((CL_INFLIGHT / R))
    [ $cap -lt 4 ] && cap=4
    [ $w -gt $cap ] && w=$cap
    echo $w
}
# The light phase of the cluster and multicast cells: 100 messages/s, or
# fewer where that would be more than CL_LIGHT_DELIVERIES deliveries/s
# (R = 3000: 10 messages/s), so that the phase is light at every R and its
# p99 measures a crossing rather than queueing (at 100 messages/s to
# 3,000 receivers, 300,000 deliveries/s, the one node itself queues: p99
# near 100 ms in the runs of 2026-12-07).
CL_LIGHT_DELIVERIES=30000
cl_rate() {
    local R=$1
    if [ $((R * RATE)) -le $CL_LIGHT_DELIVERIES ]; then
	echo "$RATE"
    else
	local r=$((CL_LIGHT_DELIVERIES / R))
	[ $r -lt 1 ] && r=1
	echo $r
    fi
}
CL_BS="64 1024"
if [ $QUICK = 1 ]; then CL_RS="30"; CL_BS="64"; else CL_RS="30 300 3000"; fi
CL_RS=${BENCH_CLUSTER_RS:-$CL_RS}; CL_BS=${BENCH_CLUSTER_BS:-$CL_BS}
for x in $CL_RS; do
    case $x in ''|*[!0-9]*|0) echo "run.sh: BENCH_CLUSTER_RS: positive integers" >&2; exit 2 ;; esac
done
for x in $CL_BS; do
    case $x in ''|*[!0-9]*) echo "run.sh: BENCH_CLUSTER_BS: integers from 64" >&2; exit 2 ;; esac
    [ "$x" -ge 64 ] || { echo "run.sh: BENCH_CLUSTER_BS: integers from 64" >&2; exit 2; }
done
CL_SERVERS=""
for s in $SERVERS; do
    is_cluster "$s" && CL_SERVERS="$CL_SERVERS $s"
done
case " $SERVERS " in *" mpcluster "*|*" mpclusterline "*) CL_SERVERS="mp$CL_SERVERS" ;; esac
CL_SERVERS=${CL_SERVERS# }
if [ -n "$CL_SERVERS" ] && ! REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mp-bench-redis.XXXXXX"); then
    REDIS_DIR=""
    for s in mpcluster mpclusterline sioredis redisonly; do
	case " $SERVERS " in *" $s "*) drop_server $s "cannot make a temporary directory for Redis" ;; esac
    done
    CL_SERVERS=""
fi

# The multicast cells (issue #19): the cluster cells' (R, B) list (quick:
# 30 x 64 only, about 10 s for mpmcast and crefmcast), at the cluster
# cells' window (cl_window: the same for every server of a cell), in the
# namespaces above.  MC_FRAMING: our nodes' framing there.  Line framing,
# one datagram (or one publish) per record for all three servers: in
# raw framing a message is a read chunk, up to 64 KiB, which the
# multicast member cannot send as one datagram (it counts it as toobig).
is_mcast() { case $1 in mpmcast|crefmcast|mpclusterns) return 0 ;; esac; return 1; }
MC_FRAMING=line
MC_RCVBUF=4194304	# SO_RCVBUF of every node's group socket
MC_SERVERS=""
for s in $SERVERS; do
    is_mcast "$s" && MC_SERVERS="$MC_SERVERS $s"
done
MC_SERVERS=${MC_SERVERS# }
MC_INFO=""
if [ -n "$MC_SERVERS" ]; then
    why=""
    if [ "$(id -u)" != 0 ]; then
	why="network namespaces need root"
    elif ! command -v ip >/dev/null; then
	why="the ip command (iproute2) is missing"
    elif ! command -v bridge >/dev/null; then
	why="the bridge command (iproute2) is missing"
    else
	mc_sweep
	mc_setup || why="cannot make network namespaces, a bridge and veth pairs here"
    fi
    if [ -n "$why" ]; then
	for s in $MC_SERVERS; do drop_server "$s" "$why (multicast cells)"; done
	MC_SERVERS=""
    else
	MC_INFO="namespaces ${MC_P}{$(echo $MC_ROLES | tr ' ' ,)}, bridge br0 (mcast_snooping 0), group $MC_GROUP port $MC_MPORT, SO_RCVBUF $MC_RCVBUF, $MC_FRAMING framing"
    fi
fi
MC_RS=$CL_RS; MC_BS=$CL_BS
if [ -n "$MC_SERVERS" ] && [ -z "$REDIS_DIR" ] \
	&& ! REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mp-bench-redis.XXXXXX"); then
    REDIS_DIR=""
    case " $MC_SERVERS " in *" mpclusterns "*)
	drop_server mpclusterns "cannot make a temporary directory for Redis"
	MC_SERVERS=$(echo " $MC_SERVERS " | sed 's/ mpclusterns / /; s/^ //; s/ $//') ;;
    esac
fi

# ---------------------------------------------------------------------------
# Machine.
# ---------------------------------------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
[ -z "$cpu_model" ] && cpu_model=$(uname -m)
tcl_version=$(echo 'puts [info patchlevel]' | "$TCLSH")
mp_info=$(echo "set auto_path [linsert \$auto_path 0 {$MP_BUILD_DIR}];
    puts [package require multiplexer]; puts [::multiplexer::build-info]" \
    | "$TCLSH" 2>&1 | tr '\n' ' ')
tcllib_mp=$(echo 'puts [package ifneeded multiplexer 0.2][package require -exact multiplexer 0.2]' \
    | env -u TCLLIBPATH "$TCLSH" 2>&1 | head -1)
idle_gov=$(cat /sys/devices/system/cpu/cpuidle/current_governor 2>/dev/null \
    || cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo "?")
{
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- mode: $([ $QUICK = 1 ] && echo quick || echo full), passes: $PASSES$([ $PASSES -gt 1 ] && echo " (figures: median over the passes; ratios: median of the per-pass ratios)")"
    echo "- CPU: $cpu_model, nproc $(nproc), cpuidle: $idle_gov"
    echo "- memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "- kernel: $(uname -sr)"
    echo "- Tcl: $tcl_version ($TCLSH)"
    echo "- this package: $mp_info(from $MP_BUILD_DIR)"
    echo "- tcllib multiplexer: $tcllib_mp"
    [ -n "$NODE_INFO" ] && echo "- Node servers: $NODE_INFO (from $NODE_DIR, then /usr/share/nodejs)"
    [ -n "$TLS_INFO" ] && echo "- TLS servers: $TLS_INFO"
    [ -n "$CL_SERVERS" ] && echo "- cluster cells: $CL_NODES nodes, ${REDIS_INFO:-no redis-server} (a fresh one per run, nothing saved, default configuration otherwise)"
    [ -n "$MC_SERVERS" ] && echo "- multicast cells: $MC_SERVERS; $MC_INFO; every node and redis-server ${PIN_SRV:-unpinned}, load generator ${PIN_LG:-unpinned} in ${MC_P}lg"
    echo "- C compiler: $($CC --version | head -1)"
    echo "- descriptors: hard limit $FDHARD"
    echo "- pinning: server ${PIN_SRV:-none}, load generator ${PIN_LG:-none}$([ -n "$CL_SERVERS" ] && echo "; cluster cells: every node and redis-server ${PIN_SRV:-unpinned}")"
    echo "- light-load phase under SCHED_FIFO: $([ "${BENCH_RT:-1}" != 0 ] && echo "yes if permitted (light_rt in raw.txt)$([ -n "$CL_SERVERS" ] && echo "; cluster cells: SCHED_RR")" || echo no)"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.md"

RAW=$OUT/raw.txt
: > "$RAW"
echo "run.sh: results in $OUT" >&2
sed 's/^/run.sh: /' "$OUT/machine.md" >&2

# ---------------------------------------------------------------------------
# Servers.
# ---------------------------------------------------------------------------

SRV_PID=""; SRV_PORT=""

# start_server name logtag ?server args?
start_server() {
    local name=$1 tag=$2; shift 2
    local out=$OUT/logs/$tag.port err=$OUT/logs/$tag.server.log i
    rm -f "$out"
    case $name in
	cref|cref2)
	    $PIN_SRV "$BIN/cref" 0 127.0.0.1 >"$out" 2>"$err" & ;;
	mp|mpw)
	    env TCLLIBPATH="$MP_BUILD_DIR" MP_BUILD_DIR="$MP_BUILD_DIR" \
		$PIN_SRV "$TCLSH" "$BENCH/mp_server.tcl" "$@" >"$out" 2>"$err" & ;;
	mpws)
	    env TCLLIBPATH="$MP_BUILD_DIR" MP_BUILD_DIR="$MP_BUILD_DIR" \
		$PIN_SRV "$TCLSH" "$BENCH/mp_server.tcl" -protocol websocket \
		"$@" >"$out" 2>"$err" & ;;
	mptls)
	    env TCLLIBPATH="$MP_BUILD_DIR" MP_BUILD_DIR="$MP_BUILD_DIR" \
		$PIN_SRV "$TCLSH" "$BENCH/mp_server.tcl" \
		-tls "{$TLS_CERT} {$TLS_KEY}" "$@" >"$out" 2>"$err" & ;;
	creftls)
	    $PIN_SRV "$BIN/cref_tls" "$TLS_CERT" "$TLS_KEY" 0 127.0.0.1 \
		>"$out" 2>"$err" & ;;
	nodews)
	    env NODE_PATH="$NODE_PATH_BENCH" \
		$PIN_SRV node "$BENCH/ws_server.js" >"$out" 2>"$err" & ;;
	socketio)
	    env NODE_PATH="$NODE_PATH_BENCH" \
		$PIN_SRV node "$BENCH/socketio_server.js" >"$out" 2>"$err" & ;;
	tcllib)
	    env -u TCLLIBPATH MP_BUILD_DIR="$MP_BUILD_DIR" \
		$PIN_SRV "$TCLSH" "$BENCH/tcllib_server.tcl" >"$out" 2>"$err" & ;;
	relay)
	    env -u TCLLIBPATH \
		$PIN_SRV "$TCLSH" "$BENCH/relay_server.tcl" >"$out" 2>"$err" & ;;
    esac
    SRV_PID=$!
    SRV_PORT=""
    for i in $(seq 400); do
	if [ -s "$out" ]; then
	    SRV_PORT=$(head -1 "$out")
	    case $SRV_PORT in ''|*[!0-9]*) SRV_PORT="" ;; *) return 0 ;; esac
	fi
	kill -0 "$SRV_PID" 2>/dev/null || break
	sleep 0.05
    done
    echo "run.sh: $name did not print its port; see $err" >&2
    stop_server
    return 1
}

stop_server() {
    local i p pids=()
    # The nodes of a cluster cell first, then their Redis.
    for p in "${SRV_PIDS[@]}" "$SRV_PID" "$REDIS_PID"; do
	[ -n "$p" ] || continue
	case " ${pids[*]} " in *" $p "*) continue ;; esac
	pids+=("$p")
    done
    for p in "${pids[@]}"; do
	if kill -0 "$p" 2>/dev/null; then
	    kill -TERM "$p" 2>/dev/null
	    for i in $(seq 40); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	    done
	    kill -KILL "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
    done
    SRV_PID=""; SRV_PIDS=(); SRV_PORTS=(); REDIS_PID=""; REDIS_PORT=""
}

# ---------------------------------------------------------------------------
# Cluster cells: a fresh redis-server, then the nodes.
# ---------------------------------------------------------------------------

SRV_PIDS=(); SRV_PORTS=(); REDIS_PID=""; REDIS_PORT=""

# free_port: a port of 127.0.0.1 the kernel chose, released at once
# (redis-server cannot be told to take port 0; start_redis retries if
# another process takes it meanwhile).
free_port() {
    echo 'set s [socket -server x -myaddr 127.0.0.1 0]
	puts [lindex [fconfigure $s -sockname] 2]; close $s' | "$TCLSH"
}

# redis_ping port: whether a Redis answers PING there (at most 1 s).
redis_ping() {
    local line=""
    { exec 7<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&7
    read -r -t 1 line <&7
    exec 7>&- 7<&-
    [ "${line%$'\r'}" = "+PONG" ]
}

# pid_cpu pid: utime + stime of a process, in clock ticks (-1 if gone).
pid_cpu() {
    local f
    f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
    f=${f##*) }
    awk '{ print $12 + $13 }' <<<"$f"
}

# start_redis tag: a fresh redis-server on a free port of 127.0.0.1,
# nothing saved, otherwise Redis's default configuration; protected mode
# off, as the load generator connects from 127.0.2.x (a loopback address
# that protected mode refuses) and Redis listens on 127.0.0.1 only.
start_redis() {
    local tag=$1 try i log=$OUT/logs/$1.redis.log
    : > "$log"
    for try in 1 2 3; do
	REDIS_PORT=$(free_port)
	$PIN_SRV redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
	    --protected-mode no --save "" --appendonly no --dir "$REDIS_DIR" \
	    >>"$log" 2>&1 &
	REDIS_PID=$!
	for i in $(seq 100); do
	    redis_ping "$REDIS_PORT" && return 0
	    kill -0 "$REDIS_PID" 2>/dev/null || break
	    sleep 0.05
	done
	kill -KILL "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=""
    done
    echo "run.sh: redis-server did not start; see $log" >&2
    return 1
}

# start_cluster name tag: Redis, then (but for redisonly, where Redis is
# the server) CL_NODES nodes, all started at once, each printing its port
# once joined (mp_server.tcl: Cluster connected; the Socket.IO node: both
# Redis connections up).  SRV_PIDS / SRV_PORTS: the nodes, the first one
# the sender's; SRV_PID / SRV_PORT: the first.
start_cluster() {
    local name=$1 tag=$2 i j out err port
    SRV_PIDS=(); SRV_PORTS=()
    start_redis "$tag" || return 1
    if [ "$name" = redisonly ]; then
	SRV_PIDS=("$REDIS_PID"); SRV_PORTS=("$REDIS_PORT")
	SRV_PID=$REDIS_PID; SRV_PORT=$REDIS_PORT
	return 0
    fi
    for ((i = 1; i <= CL_NODES; i++)); do
	out=$OUT/logs/$tag.n$i.port; err=$OUT/logs/$tag.n$i.server.log
	rm -f "$out"
	case $name in
	    mpcluster|mpclusterline)
		env TCLLIBPATH="$MP_BUILD_DIR" MP_BUILD_DIR="$MP_BUILD_DIR" \
		    $PIN_SRV "$TCLSH" "$BENCH/mp_server.tcl" \
		    -framing "$([ "$name" = mpcluster ] && echo raw || echo line)" \
		    -cluster "redis://127.0.0.1:$REDIS_PORT" -node "n$i" \
		    -statsfile "$OUT/logs/$tag.n$i.stats" >"$out" 2>"$err" & ;;
	    sioredis)
		env NODE_PATH="$NODE_PATH_BENCH" $PIN_SRV node \
		    "$BENCH/socketio_cluster_server.js" "redis://127.0.0.1:$REDIS_PORT" \
		    >"$out" 2>"$err" & ;;
	esac
	SRV_PIDS+=("$!")
    done
    for ((i = 1; i <= CL_NODES; i++)); do
	out=$OUT/logs/$tag.n$i.port
	port=""
	for j in $(seq 400); do
	    if [ -s "$out" ]; then
		port=$(head -1 "$out")
		case $port in ''|*[!0-9]*) port="" ;; *) break ;; esac
	    fi
	    kill -0 "${SRV_PIDS[i-1]}" 2>/dev/null || break
	    sleep 0.05
	done
	if [ -z "$port" ]; then
	    echo "run.sh: $name node $i did not print its port; see $OUT/logs/$tag.n$i.server.log" >&2
	    stop_server
	    return 1
	fi
	SRV_PORTS+=("$port")
    done
    SRV_PID=${SRV_PIDS[0]}; SRV_PORT=${SRV_PORTS[0]}
    return 0
}
trap 'stop_server; exit 130' INT TERM

# start_redis_ns tag: a fresh redis-server in the Redis namespace of the
# multicast cells (listening on its address there, a port chosen free
# inside that namespace), as start_redis otherwise.
start_redis_ns() {
    local tag=$1 try i log=$OUT/logs/$1.redis.log addr
    addr=$(mc_addr rd)
    : > "$log"
    for try in 1 2 3; do
	REDIS_PORT=$( (in_ns rd "$TCLSH") <<<"set s [socket -server x -myaddr $addr 0]
	    puts [lindex [fconfigure \$s -sockname] 2]; close \$s")
	case $REDIS_PORT in ''|*[!0-9]*) echo "run.sh: no free port in ${MC_P}rd" >&2; return 1 ;; esac
	in_ns rd $PIN_SRV redis-server --port "$REDIS_PORT" --bind "$addr" \
	    --protected-mode no --save "" --appendonly no --dir "$REDIS_DIR" \
	    >>"$log" 2>&1 &
	REDIS_PID=$!
	for i in $(seq 100); do
	    (in_ns rd timeout 2 bash -c 'exec 7<>"/dev/tcp/$0/$1" || exit 1
		printf "PING\r\n" >&7; read -r -t 1 l <&7
		case $l in +PONG*) exit 0 ;; esac; exit 1' \
		"$addr" "$REDIS_PORT") 2>/dev/null && return 0
	    kill -0 "$REDIS_PID" 2>/dev/null || break
	    sleep 0.05
	done
	kill -KILL "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=""
    done
    echo "run.sh: redis-server did not start in ${MC_P}rd; see $log" >&2
    return 1
}

# start_mcast name tag: the three nodes of a multicast cell, node i in
# namespace n<i>, listening on its address there, all started at once,
# each printing its port once joined (mpclusterns: after a fresh
# redis-server in rd, once connected to it).  SRV_PIDS / SRV_PORTS as
# start_cluster's.
start_mcast() {
    local name=$1 tag=$2 i j out err port addr
    SRV_PIDS=(); SRV_PORTS=()
    if [ "$name" = mpclusterns ]; then
	start_redis_ns "$tag" || return 1
    fi
    for i in 1 2 3; do
	out=$OUT/logs/$tag.n$i.port; err=$OUT/logs/$tag.n$i.server.log
	addr=$(mc_addr n$i)
	rm -f "$out"
	case $name in
	    mpmcast)
		in_ns n$i env TCLLIBPATH="$MP_BUILD_DIR" MP_BUILD_DIR="$MP_BUILD_DIR" \
		    $PIN_SRV "$TCLSH" "$BENCH/mp_server.tcl" -framing "$MC_FRAMING" \
		    -myaddr "$addr" -node "n$i" \
		    -multicast "$MC_GROUP $MC_MPORT -loop 0 -rcvbuf $MC_RCVBUF" \
		    -statsfile "$OUT/logs/$tag.n$i.stats" >"$out" 2>"$err" & ;;
	    crefmcast)
		in_ns n$i $PIN_SRV "$BIN/cref_mcast" "$addr" "$MC_GROUP" \
		    "$MC_MPORT" "$i" "$MC_RCVBUF" >"$out" 2>"$err" & ;;
	    mpclusterns)
		in_ns n$i env TCLLIBPATH="$MP_BUILD_DIR" MP_BUILD_DIR="$MP_BUILD_DIR" \
		    $PIN_SRV "$TCLSH" "$BENCH/mp_server.tcl" -framing "$MC_FRAMING" \
		    -myaddr "$addr" -node "n$i" \
		    -cluster "redis://$(mc_addr rd):$REDIS_PORT" \
		    -statsfile "$OUT/logs/$tag.n$i.stats" >"$out" 2>"$err" & ;;
	esac
	SRV_PIDS+=("$!")
    done
    for i in 1 2 3; do
	out=$OUT/logs/$tag.n$i.port
	port=""
	for j in $(seq 400); do
	    if [ -s "$out" ]; then
		port=$(head -1 "$out")
		case $port in ''|*[!0-9]*) port="" ;; *) break ;; esac
	    fi
	    kill -0 "${SRV_PIDS[i-1]}" 2>/dev/null || break
	    sleep 0.05
	done
	if [ -z "$port" ]; then
	    echo "run.sh: $name node $i did not print its port; see $OUT/logs/$tag.n$i.server.log" >&2
	    stop_server
	    return 1
	fi
	SRV_PORTS+=("$port")
    done
    SRV_PID=${SRV_PIDS[0]}; SRV_PORT=${SRV_PORTS[0]}
    return 0
}

# run_cell workload server tag loadgen-args... -- server-args...
# Appends one line to raw.txt: the cell, then the load generator's RESULT.
FAILED=0
run_cell() {
    local workload=$1 name=$2 tag=$3; shift 3
    local lgargs=() srvargs=() line status extra="" statsfile
    while [ $# -gt 0 ] && [ "$1" != -- ]; do lgargs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    srvargs=("$@")
    statsfile=$OUT/logs/$tag.stats
    rm -f "$statsfile"
    case $name in
	mp|mpws|mpw|mptls) srvargs+=(-statsfile "$statsfile") ;;
    esac
    case $name in
	mpws|nodews) lgargs+=(--ws /) ;;
	socketio|sioredis) lgargs+=(--socketio) ;;
	mptls|creftls) lgargs+=(--tls) ;;
	redisonly) lgargs+=(--redis) ;;
	mpclusterline) lgargs+=(--line) ;;
	mpmcast|crefmcast|mpclusterns) [ "$MC_FRAMING" = line ] && lgargs+=(--line) ;;
    esac
    local load=$(cut -d' ' -f1 /proc/loadavg) cellR=0 cellB=0 i started
    local target=() rcpu0=-1 rcpu1=-1 sfiles=() lgpre=()
    for ((i = 0; i < ${#lgargs[@]} - 1; i++)); do
	[ "${lgargs[i]}" = -R ] && cellR=${lgargs[i+1]}
	[ "${lgargs[i]}" = -B ] && cellB=${lgargs[i+1]}
    done
    if is_mcast "$name"; then
	rm -f "$OUT/logs/$tag".n*.stats
	start_mcast "$name" "$tag" && started=1 || started=0
	# As a cluster cell, each node at its own address; the load
	# generator in its namespace of the same network.
	target=(--ports "$(IFS=,; echo "${SRV_PORTS[*]}")"
	    --hosts "$(mc_addr n1),$(mc_addr n2),$(mc_addr n3)"
	    --pids "$(IFS=,; echo "${SRV_PIDS[*]}")")
	[ -n "$REDIS_PID" ] && target+=(--redis-pid "$REDIS_PID")
	lgpre=(env -u LD_PRELOAD ip netns exec "${MC_P}lg")
	case $name in mpmcast|mpclusterns) for ((i = 1; i <= 3; i++)); do
	    sfiles+=("$OUT/logs/$tag.n$i.stats")
	done ;; esac
    elif is_cluster "$name"; then
	rm -f "$OUT/logs/$tag".n*.stats
	start_cluster "$name" "$tag" && started=1 || started=0
	# Receivers round-robin over the nodes, the sender on the first;
	# Redis's CPU sampled around the saturated repetitions too.
	target=(--ports "$(IFS=,; echo "${SRV_PORTS[*]}")"
	    --pids "$(IFS=,; echo "${SRV_PIDS[*]}")" --redis-pid "$REDIS_PID")
	case $name in mpcluster|mpclusterline) for ((i = 1; i <= CL_NODES; i++)); do
	    sfiles+=("$OUT/logs/$tag.n$i.stats")
	done ;; esac
    else
	start_server "$name" "$tag" "${srvargs[@]}" && started=1 || started=0
	target=(--port "$SRV_PORT" --pid "$SRV_PID")
	sfiles=("$statsfile")
    fi
    if [ $started = 0 ]; then
	line="RESULT status=ERROR reason=server_did_not_start"
    else
	[ -n "$REDIS_PID" ] && rcpu0=$(pid_cpu "$REDIS_PID")
	line=$(timeout $((LG_TIMEOUT + 30)) "${lgpre[@]}" $PIN_LG "$BIN/loadgen" \
		"${target[@]}" --timeout "$LG_TIMEOUT" \
		"${lgargs[@]}" 2>"$OUT/logs/$tag.loadgen.log" | grep '^RESULT')
	[ -n "$line" ] || line="RESULT status=ERROR reason=loadgen_gave_no_result"
	[ -n "$REDIS_PID" ] && rcpu1=$(pid_cpu "$REDIS_PID")
	if [ "$rcpu0" -ge 0 ] && [ "$rcpu1" -ge 0 ]; then
	    # Redis's CPU over the whole run (connections, probes, both
	    # phases), in seconds.
	    extra=" redis_run_cpu_s=$(awk -v t=$((rcpu1 - rcpu0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')"
	fi
	case $name in
	    mp|mpws|mpw|mptls|mpcluster|mpclusterline|mpmcast|mpclusterns) sleep 0.6 ;;	# the Stats are written once quiet for 200 ms
	esac
	# Our Stats (summed over the nodes of a cluster), with the Cluster
	# counters of mpcluster.
	local have=()
	for i in "${sfiles[@]}"; do [ -s "$i" ] && have+=("$i"); done
	if [ ${#have[@]} -gt 0 ]; then
	    extra="$extra$(cat "${have[@]}" | tr -s ' \n' ' ' | awk -v nf=${#have[@]} '{
		for (i = 1; i < NF; i += 2) if ($i ~ /^(messages_in|bytes_in|drops|overflows|tls_handshake_failures|cluster_(published|received|delivered|echoes|dropped|gaps|duplicates|malformed|reconnects|redis_errors|input_refused)|mcast_(sent|heartbeats|received|delivered|echoes|gaps|duplicates|stale|malformed|toobig|dropped|untracked|repairs|repaired|served|held_dropped))$/) sum[$i] += $(i+1)
		for (k in sum) printf " srv_%s=%s", k, sum[k]
		if (nf > 1) printf " srv_stats_files=%d", nf }')"
	fi
	stop_server
	if [ "$name" = crefmcast ]; then
	    # The C relays' counters (printed at exit), summed over the
	    # nodes, under the names of our Multicast status.
	    extra="$extra$(cat "$OUT/logs/$tag".n[123].server.log 2>/dev/null \
		| sed -n 's/^cref_mcast: STATS //p' | tr -s ' \n' ' ' | awk '{
		for (i = 1; i < NF; i += 2) if ($i ~ /^(sent|received|echoes|gaps|duplicates|malformed|toobig|dropped)$/) sum[$i] += $(i+1)
		for (k in sum) printf " srv_mcast_%s=%s", k, sum[k] }')"
	fi
    fi
    line="workload=$workload server=$name cellR=$cellR cellB=$cellB pass=$PASS load1=$load ${line#RESULT }$extra"
    echo "$line" >> "$RAW"
    status=$(sed -n 's/.*status=\([A-Za-z]*\).*/\1/p' <<<"$line")
    case $status in
	ok) ;;
	ABORTED)
	    case $name in tcllib|relay) ;; *) FAILED=1 ;; esac ;;
	*) FAILED=1 ;;
    esac
    printf 'run.sh: %-8s %-7s %-28s %s\n' "$workload" "$name" "${lgargs[*]:0:4}" \
	"$(tr ' ' '\n' <<<"$line" | grep -E '^(status|sat_dps|sat_dps_x|sat_cpu_per_M|redis_cpu_per_M|light_p99_us|light_p99_best_us|light_p99_x_best_us|aborted_at|clients|rss_per_client_b|reason)=' | tr '\n' ' ')" >&2
}

# settle_mc: the same for the multicast cells, in the load generator's
# namespace (its own TCP sockets: none before a run).
settle_mc() {
    local i n
    for i in $(seq 30); do
	n=$( (in_ns lg cat /proc/net/sockstat) 2>/dev/null | awk '$1 == "TCP:" { print $3 }')
	[ "${n:-0}" -le 20 ] && return 0
	sleep 0.1
    done
}

# settle: waits (at most 3 s) until the TCP sockets in use are back near
# what they were before the first run, so a run does not start while the
# kernel still tears down the previous run's thousands of connections.
tcp_inuse() {
    awk '$1 == "TCP:" { print $3 }' /proc/net/sockstat 2>/dev/null || echo 0
}
BASE_INUSE=$(tcp_inuse)
settle() {
    local i
    for i in $(seq 60); do
	[ "$(tcp_inuse)" -le $((BASE_INUSE + 20)) ] && return 0
	sleep 0.05
    done
}

# ordered N server...: the order of the servers of a cell (those that run
# in it, in the order of $SERVERS) for pass N+1, from a
# balanced Latin square (Williams design).  A plain rotation would put
# every server first in turn but always behind the same neighbour (our
# package right after the C reference whenever it was not first); over
# each period of k passes (2k when the number k of servers is odd), every
# server runs first equally often and runs immediately after every other
# server equally often, so what the previous run left behind falls on no
# server more than another.  A pass count that is not a multiple of the
# period leaves the last, partial period unbalanced.  The square is made
# for each cell's own servers (the WebSocket and TLS servers run in some
# cells only): a square over all the servers, with the absent ones left
# out, would not be balanced in the cells they are absent from.
# Row 0 is 0, 1, k-1, 2, k-2, ...; row r adds r to each place (mod k); for
# odd k, rows k to 2k-1 are rows 0 to k-1 reversed.
ordered() {
    local n=$1; shift
    local list=("$@")
    local k=${#list[@]} i j r rev=0 row=()
    r=$((n % (k % 2 == 0 ? k : 2 * k)))
    if [ $r -ge $k ]; then
	r=$((r - k)); rev=1
    fi
    for ((i = 0; i < k; i++)); do
	if [ $i -eq 0 ]; then
	    j=0
	elif [ $((i % 2)) -eq 1 ]; then
	    j=$(((i + 1) / 2))
	else
	    j=$((k - i / 2))
	fi
	row+=("${list[(j + r) % k]}")
    done
    if [ $rev = 1 ]; then
	for ((i = k - 1; i >= 0; i--)); do printf '%s ' "${row[i]}"; done
    else
	printf '%s ' "${row[@]}"
    fi
}

t0=$(date +%s)

# in_cell s R B: whether server s runs in the matrix cell (R, B).
in_cell() {
    local s=$1 R=$2 B=$3
    is_cluster "$s" && return 1	# the cluster cells only
    is_mcast "$s" && return 1	# the multicast cells only
    if is_ws "$s" || [ "$s" = mpw ]; then
	case " $WS_BS " in *" $B "*) ;; *) return 1 ;; esac
	case " $WS_RS " in *" $R "*) ;; *) return 1 ;; esac
	if [ "$s" = mpw ] && [ "$(ws_window "$R" "$B")" -ge \
		"$(own_window "$R" "$B")" ]; then
	    return 1	# mp itself runs at this window
	fi
    elif is_tls "$s"; then
	case " $TLS_BS " in *" $B "*) ;; *) return 1 ;; esac
	case " $TLS_RS " in *" $R "*) ;; *) return 1 ;; esac
    fi
    return 0
}

# (a) saturated, (b) light load, (e) CPU: one fresh server per (R, B, server),
# the servers of a cell one after the other, in the order ordered gives;
# with several passes, the whole matrix again.
for ((PASS = 1; PASS <= PASSES; PASS++)); do
    for R in $RS; do
	for B in $BS; do
	    cell=()
	    for s in $SERVERS; do
		in_cell "$s" "$R" "$B" && cell+=("$s")
	    done
	    [ ${#cell[@]} -gt 0 ] || continue
	    for s in $(ordered $((PASS - 1)) "${cell[@]}"); do
		wsargs=()
		if is_ws "$s" || [ "$s" = mpw ]; then
		    wsargs=(--window "$(ws_window "$R" "$B")")
		fi
		settle
		run_cell matrix "$s" "matrix-$s-R$R-B$B-p$PASS" -R "$R" -B "$B" \
		    --light "$LIGHT" --light-reps "$LIGHTREPS" --rate "$RATE" \
		    "${RT_ARGS[@]}" "${wsargs[@]}" \
		    --sat "$SAT" --sat-reps "$SATREPS" --sat-max "$SATMAX"
	    done
	done
    done
done
PASS=1

# (a') the cluster cells (issue #18): one sender on the first node, R
# receivers round-robin over the CL_NODES nodes (Redis alone: every
# receiver subscribed to Redis itself), every server at the same window,
# the servers of a cell in the order of the balanced Latin square, as in
# the matrix; a fresh Redis and fresh nodes for every run.
if [ -n "$CL_SERVERS" ]; then
    # Connecting 3,000 Socket.IO clients takes 6 to 13 s here: the
    # overall bound of the quick run's runs (30 s) is too short for it.
    LG_TIMEOUT_MATRIX=$LG_TIMEOUT
    [ "$LG_TIMEOUT" -lt 180 ] && LG_TIMEOUT=180
    for ((PASS = 1; PASS <= PASSES; PASS++)); do
	for R in $CL_RS; do
	    for B in $CL_BS; do
		for s in $(ordered $((PASS - 1)) $CL_SERVERS); do
		    settle
		    run_cell cluster "$s" "cluster-$s-R$R-B$B-p$PASS" -R "$R" -B "$B" \
			--light "$LIGHT" --light-reps "$LIGHTREPS" --rate "$(cl_rate "$R")" \
			"${CL_RT_ARGS[@]}" --window "$(cl_window "$R" "$B")" \
			--sat "$SAT" --sat-reps "$SATREPS" --sat-max "$SATMAX"
		done
	    done
	done
    done
    PASS=1
    LG_TIMEOUT=$LG_TIMEOUT_MATRIX
fi

# (a'') the multicast cells (issue #19): three nodes in namespaces of
# their own, the sender on the first, R receivers round-robin over the
# three, the load generator in a namespace of the same network; every
# server at the cluster cells' window; the servers of a cell in the
# order of the balanced Latin square; fresh nodes (and Redis) every run.
if [ -n "$MC_SERVERS" ]; then
    LG_TIMEOUT_MATRIX=$LG_TIMEOUT
    [ "$LG_TIMEOUT" -lt 60 ] && LG_TIMEOUT=60
    [ "$LG_TIMEOUT" -lt 180 ] && case $MC_RS in *[0-9][0-9][0-9][0-9]*) LG_TIMEOUT=180 ;; esac
    for ((PASS = 1; PASS <= PASSES; PASS++)); do
	for R in $MC_RS; do
	    for B in $MC_BS; do
		for s in $(ordered $((PASS - 1)) $MC_SERVERS); do
		    settle_mc
		    run_cell mcast "$s" "mcast-$s-R$R-B$B-p$PASS" -R "$R" -B "$B" \
			--light "$LIGHT" --light-reps "$LIGHTREPS" --rate "$(cl_rate "$R")" \
			"${CL_RT_ARGS[@]}" --window "$(cl_window "$R" "$B")" \
			--sat "$SAT" --sat-reps "$SATREPS" --sat-max "$SATMAX"
		done
	    done
	done
    done
    PASS=1
    LG_TIMEOUT=$LG_TIMEOUT_MATRIX
fi

# (c) capacity: idle clients up to the descriptor limit, one broadcast
# (the control copy of the C reference runs the matrix only).
# The WebSocket servers: 10,000 idle clients (the target of issue #16),
# fewer if the descriptor limit is lower (quick: as the others, and our
# WebSocket listener only).  The TLS servers likewise: 10,000 idle TLS
# clients (issue #17), fewer if the descriptor limit is lower (quick: as
# the others; both TLS servers, their handshakes take about a second).
WS_CAP_LIMIT=$([ $QUICK = 1 ] && echo "$CAP_LIMIT" || echo 10000)
[ "$WS_CAP_LIMIT" -gt $((FDHARD - 50)) ] && WS_CAP_LIMIT=$((FDHARD - 50))
for s in $SERVERS; do
    [ "$s" = cref2 ] || [ "$s" = mpw ] && continue
    is_cluster "$s" && continue
    is_mcast "$s" && continue
    [ $QUICK = 1 ] && [ "$s" = nodews -o "$s" = socketio ] && continue
    limit=$CAP_LIMIT
    is_ws "$s" && limit=$WS_CAP_LIMIT
    is_tls "$s" && limit=$WS_CAP_LIMIT
    settle
    run_cell capacity "$s" "capacity-$s" --capacity --limit "$limit" \
	--batch 500 -B 64
done

# (d) one trivial Tcl filter, raw and line framing (our package; the C
# reference relays the same records as a yardstick).
for R in $FILTER_RS; do
    for B in $FILTER_BS; do
	for v in filter-raw line filter-line cref-line; do
	    case $v in
		filter-raw)  s=mp;   la=();       sa=(-filter 1) ;;
		line)        s=mp;   la=(--line); sa=(-framing line) ;;
		filter-line) s=mp;   la=(--line); sa=(-framing line -filter 1) ;;
		cref-line)   s=cref; la=(--line); sa=() ;;
	    esac
	    case " $SERVERS " in *" $s "*) ;; *) continue ;; esac
	    settle
	    run_cell "$v" "$s" "$v-R$R-B$B" -R "$R" -B "$B" "${la[@]}" \
		--sat "$SAT" --sat-reps "$SATREPS" --sat-max "$SATMAX" -- "${sa[@]}"
	done
    done
done

t1=$(date +%s)
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.md"
echo "- benchmark wall time: $((t1 - t0)) s" >> "$OUT/machine.md"

# ---------------------------------------------------------------------------
# Report: markdown tables, plot data, plots.
# ---------------------------------------------------------------------------

"$TCLSH" "$BENCH/report.tcl" "$OUT" "$([ $QUICK = 1 ] && echo quick || echo full)" \
    || FAILED=1
if command -v gnuplot >/dev/null; then
    gnuplot -e "dir='$OUT'" "$BENCH/plot.gnuplot" 2>"$OUT/logs/gnuplot.log" \
	|| echo "run.sh: gnuplot failed; see $OUT/logs/gnuplot.log" >&2
else
    echo "run.sh: gnuplot not found (Debian: apt-get install gnuplot-nox); no plots" >&2
fi
cat "$OUT/results.md"
if [ $FAILED != 0 ]; then
    echo "run.sh: FAILED: some run lost, duplicated or reordered messages," \
	 "or a server failed (see the table and $OUT/logs)" >&2
    exit 1
fi
exit 0
