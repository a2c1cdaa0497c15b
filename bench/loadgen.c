/*
 * loadgen.c -- load generator for the multiplexer benchmark.
 *
 * One process, one epoll set.  Connects one sender and R receivers to a
 * fan-out server (anything that relays the bytes one client sends to all
 * the other clients, in order), then:
 *
 *   1. registration: the sender sends probe records (at most one in flight)
 *      until every receiver has seen at least one, which proves the server
 *      has every receiver on its recipient list;
 *   2. a start marker;
 *   3. optionally a light-load phase: data records at a fixed rate (--rate,
 *      one write() each; with --rt-light this process and every thread of
 *      the server run under SCHED_FIFO for the phase); its latency is also
 *      taken in --light-reps equal parts, the best part's p99 reported as
 *      well (a stall of the machine spoils the part it falls in, not the
 *      figure);
 *   4. optionally a saturated phase: data records as fast as the server
 *      drains them, with at most W records in flight (sent but not yet
 *      received by the slowest receiver), so the server is measured
 *      moving bytes, not buffering them; records are written up to
 *      --sendbuf bytes (64 KiB) per write() so that the sender keeps up;
 *      repeated --sat-reps times, the best repetition giving the rate;
 *      this process polls without sleeping meanwhile (--sat-spin 0:
 *      sleeps in epoll_wait, as in the other phases);
 *   5. drain: wait until every receiver has every record, then linger a
 *      little to catch duplicates or stray bytes.
 *
 * Every record is B bytes.  It carries a type, a sequence number, the send
 * time (CLOCK_MONOTONIC, ns) and a trailer derived from the sequence
 * number, so a receiver can parse its byte stream as fixed-size records and
 * check that every data record arrives exactly once and in order.  Any loss,
 * duplicate, reorder, corruption or unexpected disconnect makes the run
 * FAIL, whatever its speed.
 *
 * Two encodings:
 *   raw   binary header (magic "MPB" + type, size, seq, time) and trailer;
 *   line  printable hex text ending in "\n" and containing no other "\n",
 *         for servers using line framing (which strip and re-add the "\n").
 *
 * With --pid the server process is watched: its accepted connections are
 * counted from /proc/PID/fd (connections are opened in batches and each
 * batch waits until the server has accepted it), its CPU time (utime+stime
 * from /proc/PID/stat) is sampled at the start and end of each measured
 * phase, and its VmRSS is read before and after the clients connect.  If
 * the server dies, the run reports ABORTED with the number of connections
 * it had accepted.
 *
 * --capacity: connect receivers until --limit, a connect error, or the
 * server stops accepting or dies; then broadcast one record and check that
 * every connected receiver gets it.
 *
 * Three protocols:
 *   TCP (default)  the records are the byte stream, as above;
 *   --ws PATH      every client upgrades with GET PATH (RFC 6455: random
 *                  Sec-WebSocket-Key, the 101 answer and its
 *                  Sec-WebSocket-Accept checked) and one record is the
 *                  payload of one WebSocket message: the sender's frames
 *                  are masked with a fresh random key each, as a browser
 *                  does; the server's frames are parsed (7/16/64-bit
 *                  lengths, continuation frames), pings answered with
 *                  pongs, a close or a message that is not exactly one
 *                  record fails the run; binary messages carrying raw
 *                  records, or with --line text messages carrying line
 *                  records whose last byte is '.' instead of "\n";
 *   --socketio     Socket.IO 4 over the websocket transport only: GET
 *                  /socket.io/?EIO=4&transport=websocket, then the
 *                  Engine.IO open packet "0{...}" is awaited, "40" sent and
 *                  "40..." awaited; a record travels as the text message
 *                  42["m","<line record>"] (line records, last byte '.'),
 *                  Engine.IO pings "2" are answered "3".
 * In both the server is expected to relay each message to every client but
 * its sender, unchanged, as one message.  Every connection completes its
 * handshake before the next batch is connected.
 *
 * --tls: every connection (the sender and every receiver) is TLS (OpenSSL,
 * TLS 1.2 or 1.3, SNI "localhost", no certificate verification: the
 * benchmark's server uses a throwaway self-signed certificate).  The
 * client handshake is non-blocking and done in the event loop like the
 * WebSocket one (with --ws or --socketio the upgrade follows it, over
 * TLS); then each of the three protocols runs as above over SSL_read()
 * and SSL_write().  A readable connection is read until SSL_read() wants
 * to read, so no record is left inside OpenSSL (read-ahead is on) while
 * epoll sees an empty socket; an SSL_write() that could not complete is
 * retried with the same bytes and the same length.  The RESULT line then
 * has tls=1.
 *
 * Several servers (--ports p1,p2,... with --pids, one process each): the
 * nodes of a cluster that relay to each other.  The sender connects to
 * the first, the receivers round-robin to all of them (receiver i to
 * server i mod N); each server is watched for accepting its own
 * connections, and the CPU figures are the servers' sum.  A receiver on
 * another server than the sender's is "remote": the RESULT line adds
 * the cross-node figures sat_dps_x (deliveries at remote receivers per
 * second, best repetition) and the light phase's latency apart for the
 * remote (light_p50_x_us, light_p99_x_us, light_p99_x_best_us) and the
 * local receivers (..._l_...).
 *
 * --redis: no relay server at all, Redis pub/sub alone (RESP2 over TCP):
 * every receiver SUBSCRIBEs to one channel (--channel, default mpbench)
 * and its handshake is the subscribe confirmation; the sender PUBLISHes
 * each raw record, pipelined as the records are written (up to --sendbuf
 * bytes per write()), and reads the integer replies; a receiver checks
 * that Redis sends it nothing but messages of that channel carrying one
 * B-byte record each, and the records as everywhere else.  Every receiver
 * counts as remote (each delivery crossed Redis).
 *
 * --redis-pid PID: Redis's CPU time is sampled around the saturated
 * repetitions as the server's is (redis_cpu_s, redis_cpu_per_M), and the
 * light phase's real-time policy (--rt-light) covers it too.
 * --rt-policy rr: that policy is SCHED_RR instead of SCHED_FIFO (several
 * multi-threaded servers sharing one core: see run.sh).
 *
 * The result is one line on stdout: "RESULT key=value ...".  Progress and
 * diagnostics go to stderr.
 *
 * Everything is bounded: connect timeouts, a registration timeout, phase
 * durations, a maximum record count, a drain timeout and an overall
 * --timeout.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

static const char *opt_host = "127.0.0.1";
/*
 * --hosts a1,a2,...: one address per server of --ports (servers in
 * network namespaces of their own, each on its own address; the
 * multicast cells of run.sh); otherwise every server is at --host.
 */
static const char *opt_hosts = NULL;
static int opt_port = 0;
static int opt_R = 10;			/* receivers */
static int opt_B = 64;			/* record size */
static int opt_line = 0;		/* line encoding */
static int opt_W = 0;			/* window (0 = auto) */
static double opt_light = 0;		/* light phase seconds */
static double opt_rate = 100;		/* light phase records/s */
static double opt_sat = 0;		/* saturated phase seconds */
static long opt_sat_max = 0;		/* max records in saturated phase */
static int opt_capacity = 0;
static int opt_limit = 0;		/* capacity: max receivers */
static int opt_batch = 100;		/* connects per acceptance check */
static double opt_timeout = 120;	/* overall bound, seconds */
static double opt_drain = 30;		/* drain bound, seconds */
static int opt_pid = 0;			/* server pid (the first one) */
/*
 * --ports, --pids: several servers (the nodes of a cluster); the sender
 * connects to the first, the receivers round-robin to all of them.
 */
#define MAXSRV	16
static int nsrv = 1;			/* servers connected to */
static int srv_ports[MAXSRV];
static int npids = 0;			/* servers watched in /proc */
static int srv_pids[MAXSRV];
static int opt_redis_pid = 0;		/* --redis-pid: CPU sampled too */
static const char *opt_channel = "mpbench";	/* --redis: the channel */
static int opt_quiet = 0;
static size_t opt_sendbuf = 65536;	/* saturated: bytes per write() */
static int opt_rt_light = 0;		/* SCHED_FIFO during the light phase */
static int opt_rt_policy = SCHED_FIFO;	/* --rt-policy fifo|rr */
static int opt_sat_spin = 1;		/* saturated: poll, never sleep */
enum { P_TCP, P_WS, P_SIO, P_REDIS };
static int opt_proto = P_TCP;		/* --ws, --socketio, --redis */
static const char *opt_ws_path = "/";	/* request target of the upgrade */
static int opt_tls = 0;			/* --tls */
static SSL_CTX *tls_ctx;

#define WINDOW_BUDGET	(256.0 * 1024 * 1024)	/* bytes in flight, all receivers */
#define WINDOW_PER_RECV	(256.0 * 1024)		/* bytes in flight, per receiver */
#define WINDOW_MAX	4096
#define WINDOW_MIN	4
#define RING		8192			/* > WINDOW_MAX, power of 2 */
#define MAXPROBES	100000
#define TRAILER_KEY	0x5A5A5A5A5A5A5A5AULL

/* Header/trailer sizes of the two encodings. */
#define RAW_H	24
#define RAW_T	8
#define LINE_H	36
#define LINE_T	10
#define CAP_HT	64

/* ------------------------------------------------------------------ */
/* Time, histogram                                                     */
/* ------------------------------------------------------------------ */

static inline uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/*
 * Log-linear latency histogram: exact below 64 ns, then 32 sub-buckets per
 * power of two (about 3% wide).
 */
#define H_SUB	64
#define H_N	(H_SUB + 64 * 32)

typedef struct {
    uint64_t b[H_N];
    uint64_t n;
    uint64_t max;
    long double sum;
} hist_t;

static inline int
hidx(uint64_t v)
{
    int msb, shift;
    if (v < H_SUB) {
	return (int) v;
    }
    msb = 63 - __builtin_clzll(v);
    shift = msb - 5;
    return H_SUB + (shift - 1) * 32 + (int) ((v >> shift) - 32);
}

static uint64_t
hval(int i)
{
    int k, shift;
    uint64_t mant;
    if (i < H_SUB) {
	return (uint64_t) i;
    }
    k = i - H_SUB;
    shift = k / 32 + 1;
    mant = (uint64_t) (k % 32 + 32);
    return (mant << shift) + ((1ULL << shift) >> 1);
}

static inline void
hadd(hist_t *h, uint64_t v)
{
    h->b[hidx(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max) {
	h->max = v;
    }
}

static uint64_t
hpct(const hist_t *h, double p)
{
    uint64_t want, acc = 0;
    int i;
    if (h->n == 0) {
	return 0;
    }
    want = (uint64_t) (p * (double) h->n);
    if (want >= h->n) {
	want = h->n - 1;
    }
    for (i = 0; i < H_N; i++) {
	acc += h->b[i];
	if (acc > want) {
	    uint64_t v = hval(i);
	    return v > h->max ? h->max : v;
	}
    }
    return h->max;
}

/* ------------------------------------------------------------------ */
/* Failure bookkeeping                                                 */
/* ------------------------------------------------------------------ */

static char fail_reason[512];
static long n_errors = 0;

static void
failf(const char *fmt, ...)
{
    va_list ap;
    n_errors++;
    if (fail_reason[0] == 0) {
	va_start(ap, fmt);
	vsnprintf(fail_reason, sizeof fail_reason, fmt, ap);
	va_end(ap);
	fprintf(stderr, "loadgen: FAIL: %s\n", fail_reason);
    }
}

static void
logf_(const char *fmt, ...)
{
    va_list ap;
    if (opt_quiet) {
	return;
    }
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Server process (/proc)                                              */
/* ------------------------------------------------------------------ */

static int
pid_alive(int pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f) {
	return 0;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    if (!p || p[1] == 0) {
	return 0;
    }
    return !(p[2] == 'Z' || p[2] == 'X' || p[2] == 'x');
}

/* Whether every server watched is running (1 if none is watched). */
static int
server_alive(void)
{
    int i;
    for (i = 0; i < npids; i++) {
	if (!pid_alive(srv_pids[i])) {
	    return 0;
	}
    }
    return 1;
}

/* utime+stime of process pid, in clock ticks; -1 if unknown. */
static long
pid_cpu_ticks(int pid)
{
    char path[64], buf[1024], *p;
    FILE *f;
    size_t n;
    unsigned long ut = 0, st = 0;
    int field;
    if (!pid) {
	return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f) {
	return -1;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    p = strrchr(buf, ')');
    if (!p) {
	return -1;
    }
    /* Field 3 (state) follows ") "; utime is field 14, stime 15. */
    p += 2;
    for (field = 3; field < 14 && *p; field++) {
	p = strchr(p, ' ');
	if (!p) {
	    return -1;
	}
	p++;
    }
    if (sscanf(p, "%lu %lu", &ut, &st) != 2) {
	return -1;
    }
    return (long) (ut + st);
}

/* utime+stime of the servers together, in clock ticks; -1 if unknown. */
static long
server_cpu_ticks(void)
{
    long sum = 0, t;
    int i;
    if (npids == 0) {
	return -1;
    }
    for (i = 0; i < npids; i++) {
	if ((t = pid_cpu_ticks(srv_pids[i])) < 0) {
	    return -1;
	}
	sum += t;
    }
    return sum;
}

/*
 * A line "Key:   N kB" of /proc/PID/status, in kB, summed over the
 * servers; -1 if unknown.
 */
static long
server_status_kb(const char *key)
{
    char path[64], line[256];
    FILE *f;
    long v, sum = 0;
    size_t kl = strlen(key);
    int i;
    if (npids == 0) {
	return -1;
    }
    for (i = 0; i < npids; i++) {
	snprintf(path, sizeof path, "/proc/%d/status", srv_pids[i]);
	f = fopen(path, "r");
	if (!f) {
	    return -1;
	}
	v = -1;
	while (fgets(line, sizeof line, f)) {
	    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
		v = strtol(line + kl + 1, NULL, 10);
		break;
	    }
	}
	fclose(f);
	if (v < 0) {
	    return -1;
	}
	sum += v;
    }
    return sum;
}

/*
 * Number of open descriptors of process pid (-1 if unknown); *maxfd gets
 * the highest descriptor number.  Reading /proc/PID/fd costs time linear
 * in the number of descriptors, so it is not used for polling (see
 * fd_exists).
 */
static long
pid_fds(int pid, long *maxfd)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    long n = 0, m = -1;
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    d = opendir(path);
    if (!d) {
	return -1;
    }
    while ((e = readdir(d)) != NULL) {
	if (e->d_name[0] != '.') {
	    long v = strtol(e->d_name, NULL, 10);
	    n++;
	    if (v > m) {
		m = v;
	    }
	}
    }
    closedir(d);
    if (maxfd) {
	*maxfd = m;
    }
    return n;
}

/* Does process pid have descriptor number fd open?  Constant time. */
static int
fd_exists(int pid, long fd)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/fd/%ld", pid, fd);
    return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------------ */
/* Connections and records                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    int fd;
    int is_sender;
    int dead;
    int started;
    unsigned char srv;		/* index of the server it is connected to */
    unsigned char remote;	/* receiver: a delivery crosses nodes (or Redis) */
    uint32_t off;		/* offset within the current record */
    int probes;
    uint64_t last_probe;
    uint64_t next_seq;		/* next data record expected */
    unsigned char ht[CAP_HT];	/* captured header + trailer */
    /* --ws, --socketio only. */
    unsigned char hs;		/* handshake state, HS_* */
    unsigned char fh[14];	/* frame header being read */
    unsigned char fhlen;	/* its bytes so far */
    unsigned char in_frame;	/* header done, payload being read */
    unsigned char op;		/* opcode of the current frame */
    unsigned char fin;		/* FIN bit of the current frame */
    unsigned char mop;		/* opcode of the message in progress, or 0 */
    unsigned char ctllen;	/* bytes of ctl so far */
    unsigned char sio2[2];	/* first two bytes of a Socket.IO message */
    uint64_t flen_left;		/* payload bytes of the frame still to come */
    uint64_t mpos;		/* payload bytes of the message so far */
    unsigned char ctl[125];	/* payload of the current control frame */
    char accept[29];		/* the Sec-WebSocket-Accept expected */
    /* --tls only. */
    SSL *ssl;
    unsigned char tls_out;	/* receiver: EPOLLOUT armed for OpenSSL */
    unsigned char rd_wants_out;	/* SSL_read() wants to write */
    unsigned short hslen;	/* bytes in hsbuf */
    char *hsbuf;		/* --ws over TLS: the upgrade answer so far */
} conn_t;

/* Handshake states (conn_t.hs). */
enum { HS_READY, HS_HTTP, HS_EIO_OPEN, HS_SIO_CONNECT, HS_TLS, HS_REDIS_SUB };

static conn_t *conns;		/* conns[0] is the sender */
static int nconn;		/* connected so far (sender included) */
static int nrecv;		/* receivers connected */
static int epfd = -1;
static int H, T;		/* header/trailer of the encoding */

/* Registration and delivery accounting. */
static int registered;		/* receivers that saw a probe */
static int started_count;	/* receivers that saw the start marker */
static uint32_t *probe_seen;	/* per probe seq: receivers that saw it */
static uint32_t ring_cnt[RING];	/* per data seq: receivers that have it */
static uint64_t sent;		/* data records sent */
static uint64_t min_done;	/* all seq < min_done delivered everywhere */
static uint64_t deliveries;	/* data records delivered, total */
static uint64_t deliveries_x;	/* of which to remote receivers */
static int nremote;		/* receivers that are remote */
static uint64_t last_delivery_ns;
static uint64_t stray_bytes;	/* bytes the sender received */

/* Phases. */
enum { PH_PROBE, PH_LIGHT, PH_LIGHT_DRAIN, PH_SAT, PH_SAT_DRAIN, PH_LINGER,
       PH_DONE };
static int phase = PH_PROBE;
static uint64_t light_first, light_end_seq;	/* data seq range of light */
static hist_t hist_light, hist_sat;
#define MAXLIGHTREPS 16
static int opt_light_reps = 1;		/* light phase parts (own p99 each) */
static hist_t hist_light_rep[MAXLIGHTREPS];
/*
 * Several servers (--ports) or --redis: the light phase's latency also
 * apart for the remote receivers (on another node than the sender, or
 * every receiver of Redis alone: the delivery crossed Redis) and the
 * local ones (on the sender's node).
 */
static hist_t hist_light_x, hist_light_x_rep[MAXLIGHTREPS];
static hist_t hist_light_l, hist_light_l_rep[MAXLIGHTREPS];

/*
 * The part of the light phase a data record belongs to: the records the
 * phase plans to send (--light seconds at --rate), cut into --light-reps
 * equal runs by sequence number.
 */
static int
light_part(uint64_t seq)
{
    double planned = opt_light * opt_rate;
    double i = (double) (seq - light_first);
    int part;
    if (planned < 1) {
	return 0;
    }
    part = (int) (i * opt_light_reps / planned);
    return part < 0 ? 0 : part >= opt_light_reps ? opt_light_reps - 1 : part;
}

static inline void
put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static inline uint64_t
get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static const char hexd[] = "0123456789abcdef";

/* Last byte of a line record: "\n" over TCP, '.' in a message. */
static unsigned char line_end = '\n';

static void
puthex(unsigned char *p, uint64_t v, int digits)
{
    int i;
    for (i = digits - 1; i >= 0; i--) {
	p[i] = (unsigned char) hexd[v & 15];
	v >>= 4;
    }
}

static int
gethex(const unsigned char *p, int digits, uint64_t *out)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < digits; i++) {
	int c = p[i], d;
	if (c >= '0' && c <= '9') {
	    d = c - '0';
	} else if (c >= 'a' && c <= 'f') {
	    d = c - 'a' + 10;
	} else {
	    return 0;
	}
	v = (v << 4) | (uint64_t) d;
    }
    *out = v;
    return 1;
}

/* Filler patterns: pat_raw[j] = j mod 256, pat_line[j] = 'a' + j mod 26. */
static unsigned char *pat_raw, *pat_line;

/* Build one B-byte record of the given type into buf. */
static void
make_record(unsigned char *buf, int type, uint64_t seq, uint64_t ts)
{
    int B = opt_B;
    if (!opt_line) {
	buf[0] = 'M'; buf[1] = 'P'; buf[2] = 'B'; buf[3] = (unsigned char) type;
	{
	    uint32_t b32 = (uint32_t) B;
	    memcpy(buf + 4, &b32, 4);
	}
	put64(buf + 8, seq);
	put64(buf + 16, ts);
	/* buf[i] = (seq + i) mod 256 */
	memcpy(buf + RAW_H, pat_raw + (seq & 0xff) + RAW_H,
		(size_t) (B - RAW_H - RAW_T));
	put64(buf + B - RAW_T, seq ^ TRAILER_KEY);
    } else {
	buf[0] = 'M'; buf[1] = 'P'; buf[2] = 'L'; buf[3] = (unsigned char) type;
	puthex(buf + 4, seq, 16);
	puthex(buf + 20, ts, 16);
	/* buf[i] = 'a' + (seq + i) mod 26 */
	memcpy(buf + LINE_H, pat_line + (seq % 26) + LINE_H,
		(size_t) (B - LINE_H - LINE_T));
	buf[B - LINE_T] = ':';
	puthex(buf + B - LINE_T + 1, (seq ^ TRAILER_KEY) & 0xffffffffULL, 8);
	buf[B - 1] = line_end;
    }
}

static inline void
ring_delivered(uint64_t seq)
{
    ring_cnt[seq & (RING - 1)]++;
    while (min_done < sent
	    && ring_cnt[min_done & (RING - 1)] >= (uint32_t) nrecv) {
	ring_cnt[min_done & (RING - 1)] = 0;
	min_done++;
    }
}

/* A complete record: header at h (H bytes), trailer at t (T bytes). */
static void
record(conn_t *c, const unsigned char *h, const unsigned char *t, uint64_t now)
{
    int type = h[3];
    uint64_t seq, ts, chk;
    int idx = (int) (c - conns);

    if (!opt_line) {
	uint32_t b32;
	memcpy(&b32, h + 4, 4);
	if (h[0] != 'M' || h[1] != 'P' || h[2] != 'B' || b32 != (uint32_t) opt_B) {
	    failf("receiver %d: corrupt record header (stream misaligned?)", idx);
	    c->dead = 1;
	    return;
	}
	seq = get64(h + 8);
	ts = get64(h + 16);
	if (get64(t) != (seq ^ TRAILER_KEY)) {
	    failf("receiver %d: corrupt record trailer at seq %" PRIu64, idx, seq);
	    c->dead = 1;
	    return;
	}
    } else {
	if (h[0] != 'M' || h[1] != 'P' || h[2] != 'L'
		|| !gethex(h + 4, 16, &seq) || !gethex(h + 20, 16, &ts)
		|| t[0] != ':' || !gethex(t + 1, 8, &chk) || t[9] != line_end) {
	    failf("receiver %d: corrupt line record (stream misaligned?)", idx);
	    c->dead = 1;
	    return;
	}
	if (chk != ((seq ^ TRAILER_KEY) & 0xffffffffULL)) {
	    failf("receiver %d: corrupt line trailer at seq %" PRIu64, idx, seq);
	    c->dead = 1;
	    return;
	}
    }

    switch (type) {
    case 'P':
	if (c->started) {
	    failf("receiver %d: probe after start marker", idx);
	    return;
	}
	if (c->probes > 0 && seq != c->last_probe + 1) {
	    failf("receiver %d: probe %" PRIu64 " after probe %" PRIu64
		    " (lost or reordered)", idx, seq, c->last_probe);
	    return;
	}
	if (c->probes++ == 0) {
	    registered++;
	}
	c->last_probe = seq;
	if (seq < MAXPROBES) {
	    probe_seen[seq]++;
	}
	break;
    case 'S':
	if (c->started) {
	    failf("receiver %d: duplicate start marker", idx);
	    return;
	}
	c->started = 1;
	started_count++;
	break;
    case 'D':
	if (!c->started) {
	    failf("receiver %d: data record %" PRIu64 " before start marker",
		    idx, seq);
	    return;
	}
	if (seq != c->next_seq) {
	    if (seq > c->next_seq) {
		failf("receiver %d: LOST records %" PRIu64 "..%" PRIu64,
			idx, c->next_seq, seq - 1);
	    } else {
		failf("receiver %d: record %" PRIu64 " DUPLICATE or REORDERED"
			" (expected %" PRIu64 ")", idx, seq, c->next_seq);
	    }
	    c->dead = 1;
	    return;
	}
	if (seq >= sent) {
	    failf("receiver %d: record %" PRIu64 " never sent", idx, seq);
	    c->dead = 1;
	    return;
	}
	c->next_seq++;
	deliveries++;
	if (c->remote) {
	    deliveries_x++;
	}
	last_delivery_ns = now;
	if (seq < light_end_seq) {
	    uint64_t lat = now > ts ? now - ts : 0;
	    int part = light_part(seq);
	    hadd(&hist_light, lat);
	    hadd(&hist_light_rep[part], lat);
	    if (c->remote) {
		hadd(&hist_light_x, lat);
		hadd(&hist_light_x_rep[part], lat);
	    } else {
		hadd(&hist_light_l, lat);
		hadd(&hist_light_l_rep[part], lat);
	    }
	} else {
	    hadd(&hist_sat, now > ts ? now - ts : 0);
	}
	ring_delivered(seq);
	break;
    default:
	failf("receiver %d: unknown record type %d", idx, type);
	c->dead = 1;
    }
}

/* Feed n received bytes of connection c through the record parser. */
static void
parse(conn_t *c, const unsigned char *p, size_t n, uint64_t now)
{
    size_t B = (size_t) opt_B;
    while (n > 0 && !c->dead) {
	size_t off = c->off, k, s;
	if (off == 0 && n >= B) {
	    record(c, p, p + B - T, now);
	    p += B;
	    n -= B;
	    continue;
	}
	k = B - off < n ? B - off : n;
	if (off < (size_t) H) {
	    size_t hk = (size_t) H - off < k ? (size_t) H - off : k;
	    memcpy(c->ht + off, p, hk);
	}
	if (off + k > B - T) {
	    s = off > B - T ? off : B - T;
	    memcpy(c->ht + H + (s - (B - T)), p + (s - off), off + k - s);
	}
	c->off = (uint32_t) (off + k);
	p += k;
	n -= k;
	if (c->off == B) {
	    c->off = 0;
	    record(c, c->ht, c->ht + H, now);
	}
    }
}

/*
 * --rt-light: during the light-load phase only, run this process and every
 * thread of the servers (and of --redis-pid) under SCHED_FIFO priority 1, so that latency is not
 * set by whatever else the machine is running (on a shared box, CFS wakeup
 * delays of milliseconds otherwise dominate p99).  Both processes mostly
 * sleep in that phase, so nothing else is starved; the saturated phase runs
 * under the normal policy again.  Returns 1 if everything was switched.
 */
static int
set_rt(int on)
{
    struct sched_param sp;
    int ok = 1, i;
    char path[64];
    DIR *d;
    struct dirent *e;
    memset(&sp, 0, sizeof sp);
    sp.sched_priority = on ? 1 : 0;
    if (sched_setscheduler(0, on ? opt_rt_policy : SCHED_OTHER, &sp) < 0) {
	ok = 0;
    }
    for (i = 0; i <= npids; i++) {
	int pid = i < npids ? srv_pids[i] : opt_redis_pid;
	if (!pid || (i == npids && npids > 0 && pid == srv_pids[0])) {
	    continue;
	}
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	d = opendir(path);
	if (!d) {
	    ok = 0;
	    continue;
	}
	while ((e = readdir(d)) != NULL) {
	    if (e->d_name[0] != '.'
		    && sched_setscheduler((pid_t) atoi(e->d_name),
			on ? opt_rt_policy : SCHED_OTHER, &sp) < 0) {
		ok = 0;
	    }
	}
	closedir(d);
    }
    return ok;
}
static int rt_used = -1;

/* ------------------------------------------------------------------ */
/* WebSocket and Socket.IO: keys, masks, outgoing messages             */
/* ------------------------------------------------------------------ */

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SIO_PREFIX	"42[\"m\",\""	/* event "m", one string argument */
#define SIO_PRE		8
#define SIO_SUFFIX	"\"]"
#define SIO_POST	2

static size_t msg_size;		/* bytes on the wire per record sent */

static inline uint32_t
rol32(uint32_t v, int n)
{
    return (v << n) | (v >> (32 - n));
}

/* One 64-byte block of SHA-1 (FIPS 180-4) into the state h. */
static void
sha1_block(uint32_t h[5], const unsigned char *blk)
{
    uint32_t w[80], a, b, c, d, e, f, k, t;
    int i;
    for (i = 0; i < 16; i++) {
	w[i] = (uint32_t) blk[4 * i] << 24 | (uint32_t) blk[4 * i + 1] << 16
	    | (uint32_t) blk[4 * i + 2] << 8 | (uint32_t) blk[4 * i + 3];
    }
    for (i = 16; i < 80; i++) {
	w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
    for (i = 0; i < 80; i++) {
	if (i < 20) {
	    f = (b & c) | (~b & d);
	    k = 0x5A827999u;
	} else if (i < 40) {
	    f = b ^ c ^ d;
	    k = 0x6ED9EBA1u;
	} else if (i < 60) {
	    f = (b & c) | (b & d) | (c & d);
	    k = 0x8F1BBCDCu;
	} else {
	    f = b ^ c ^ d;
	    k = 0xCA62C1D6u;
	}
	t = rol32(a, 5) + f + e + k + w[i];
	e = d;
	d = c;
	c = rol32(b, 30);
	b = a;
	a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* SHA-1 of len bytes (short inputs only: the handshake key). */
static void
sha1(const unsigned char *msg, size_t len, unsigned char out[20])
{
    uint32_t h[5] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
	0xC3D2E1F0u };
    unsigned char last[128];
    uint64_t bits = (uint64_t) len * 8;
    size_t rest, n, i;
    while (len >= 64) {
	sha1_block(h, msg);
	msg += 64;
	len -= 64;
    }
    rest = len;
    memset(last, 0, sizeof last);
    memcpy(last, msg, rest);
    last[rest] = 0x80;
    n = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++) {
	last[n - 1 - i] = (unsigned char) (bits >> (8 * i));
    }
    sha1_block(h, last);
    if (n == 128) {
	sha1_block(h, last + 64);
    }
    for (i = 0; i < 5; i++) {
	out[4 * i] = (unsigned char) (h[i] >> 24);
	out[4 * i + 1] = (unsigned char) (h[i] >> 16);
	out[4 * i + 2] = (unsigned char) (h[i] >> 8);
	out[4 * i + 3] = (unsigned char) h[i];
    }
}

/* Base64 (RFC 4648, padded) of n bytes into out (4 * ceil(n / 3) + 1). */
static void
base64(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    for (i = 0; i + 2 < n; i += 3) {
	uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
	*out++ = tab[v >> 18];
	*out++ = tab[(v >> 12) & 63];
	*out++ = tab[(v >> 6) & 63];
	*out++ = tab[v & 63];
    }
    if (i < n) {
	uint32_t v = (uint32_t) in[i] << 16
	    | (i + 1 < n ? (uint32_t) in[i + 1] << 8 : 0);
	*out++ = tab[v >> 18];
	*out++ = tab[(v >> 12) & 63];
	*out++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
	*out++ = '=';
    }
    *out = '\0';
}

/* The Sec-WebSocket-Accept for a key: base64(SHA-1(key GUID)). */
static void
ws_accept_for(const char *key, char out[29])
{
    unsigned char buf[128], dig[20];
    size_t kl = strlen(key);
    memcpy(buf, key, kl);
    memcpy(buf + kl, WS_GUID, sizeof WS_GUID - 1);
    sha1(buf, kl + sizeof WS_GUID - 1, dig);
    base64(dig, 20, out);
}

/* Masks: xorshift64*, seeded from the kernel's random source. */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static void
random_bytes(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
	ssize_t r = getrandom(p + got, n - got, 0);
	if (r <= 0) {
	    /* No kernel randomness: the generator will do for a benchmark. */
	    for (; got < n; got++) {
		p[got] = (unsigned char) rng_next();
	    }
	    return;
	}
	got += (size_t) r;
    }
}

/* XOR n bytes with the 4-byte mask m (RFC 6455 5.3), 8 bytes at a time. */
static void
ws_mask(unsigned char *p, size_t n, const unsigned char m[4])
{
    unsigned char m8[8];
    uint64_t m64, v;
    size_t i;
    memcpy(m8, m, 4);
    memcpy(m8 + 4, m, 4);
    memcpy(&m64, m8, 8);
    for (i = 0; i + 8 <= n; i += 8) {
	memcpy(&v, p + i, 8);
	v ^= m64;
	memcpy(p + i, &v, 8);
    }
    for (; i < n; i++) {
	p[i] ^= m[i & 3];
    }
}

/*
 * Header of a masked client frame (FIN set) of opcode op and payload
 * length plen into buf, with a fresh mask; returns the header length (the
 * mask is its last 4 bytes).
 */
static size_t
ws_header(unsigned char *buf, int op, uint64_t plen)
{
    size_t hl;
    uint32_t m = (uint32_t) rng_next();
    buf[0] = (unsigned char) (0x80 | op);
    if (plen < 126) {
	buf[1] = (unsigned char) (0x80 | plen);
	hl = 2;
    } else if (plen < 65536) {
	buf[1] = 0x80 | 126;
	buf[2] = (unsigned char) (plen >> 8);
	buf[3] = (unsigned char) plen;
	hl = 4;
    } else {
	int i;
	buf[1] = 0x80 | 127;
	for (i = 0; i < 8; i++) {
	    buf[2 + i] = (unsigned char) (plen >> (56 - 8 * i));
	}
	hl = 10;
    }
    memcpy(buf + hl, &m, 4);
    return hl + 4;
}

/* Bytes of the frame header ws_header writes for plen payload bytes. */
static size_t
ws_header_len(uint64_t plen)
{
    return (plen < 126 ? 2 : plen < 65536 ? 4 : 10) + 4;
}

/*
 * --redis: the fixed parts of what goes over a connection to Redis (RESP2),
 * made once the channel and B are known (redis_init):
 *   the sender's command   *3 $7 PUBLISH $n <channel> $B <record>
 *   a receiver's command   *2 $9 SUBSCRIBE $n <channel>
 *   its answer             *3 $9 subscribe $n <channel> :1
 *   a message pushed to it *3 $7 message $n <channel> $B <record>
 * (each element ending in CRLF); the sender's answer to each PUBLISH is
 * an integer reply ":<receivers>".
 */
static char redis_pub[256], redis_subcmd[256], redis_subok[256], redis_msg[256];
static size_t redis_pub_len, redis_subcmd_len, redis_subok_len, redis_msg_len;

static void
redis_init(void)
{
    size_t cl = strlen(opt_channel);
    redis_pub_len = (size_t) snprintf(redis_pub, sizeof redis_pub,
	    "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%d\r\n", cl, opt_channel,
	    opt_B);
    redis_subcmd_len = (size_t) snprintf(redis_subcmd, sizeof redis_subcmd,
	    "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", cl, opt_channel);
    redis_subok_len = (size_t) snprintf(redis_subok, sizeof redis_subok,
	    "*3\r\n$9\r\nsubscribe\r\n$%zu\r\n%s\r\n:1\r\n", cl, opt_channel);
    redis_msg_len = (size_t) snprintf(redis_msg, sizeof redis_msg,
	    "*3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%d\r\n", cl, opt_channel,
	    opt_B);
}

/*
 * One record as the sender puts it on the wire: the bare record (TCP), or
 * a masked WebSocket message carrying it (--ws), or the Socket.IO event
 * carrying it (--socketio), or a PUBLISH of it (--redis).  Returns its
 * length (msg_size).
 */
static size_t
make_msg(unsigned char *buf, int type, uint64_t seq, uint64_t ts)
{
    size_t hl, plen;
    unsigned char *pl;
    if (opt_proto == P_TCP) {
	make_record(buf, type, seq, ts);
	return (size_t) opt_B;
    }
    if (opt_proto == P_REDIS) {
	memcpy(buf, redis_pub, redis_pub_len);
	make_record(buf + redis_pub_len, type, seq, ts);
	memcpy(buf + redis_pub_len + opt_B, "\r\n", 2);
	return redis_pub_len + (size_t) opt_B + 2;
    }
    plen = (size_t) opt_B + (opt_proto == P_SIO ? SIO_PRE + SIO_POST : 0);
    hl = ws_header(buf, opt_line ? 1 : 2, plen);
    pl = buf + hl;
    if (opt_proto == P_SIO) {
	memcpy(pl, SIO_PREFIX, SIO_PRE);
	make_record(pl + SIO_PRE, type, seq, ts);
	memcpy(pl + SIO_PRE + opt_B, SIO_SUFFIX, SIO_POST);
    } else {
	make_record(pl, type, seq, ts);
    }
    ws_mask(pl, plen, buf + hl - 4);
    return hl + plen;
}

/* ------------------------------------------------------------------ */
/* Plain or TLS I/O                                                    */
/* ------------------------------------------------------------------ */

/* Why the last TLS call failed, for the messages (see io_err). */
static char tls_why[200];

/*
 * Note a failed TLS call (SSL_get_error() gave e) in tls_why and set errno
 * to EPROTO; the error queue is emptied, as the next SSL_get_error() on
 * any connection requires.
 */
static void
tls_note(int e)
{
    int saved = errno;
    unsigned long code = ERR_get_error();
    if (code) {
	ERR_error_string_n(code, tls_why, sizeof tls_why);
    } else if (e == SSL_ERROR_SYSCALL) {
	snprintf(tls_why, sizeof tls_why, "TLS: %s",
		saved ? strerror(saved) : "eof without close_notify");
    } else {
	snprintf(tls_why, sizeof tls_why, "TLS error %d", e);
    }
    ERR_clear_error();
    errno = EPROTO;
}

/* strerror(errno), or what the TLS failure was. */
static const char *
io_err(void)
{
    return errno == EPROTO && tls_why[0] ? tls_why : strerror(errno);
}

/*
 * write() on c, through OpenSSL with --tls: the bytes written, or -1 with
 * errno EAGAIN (call again later with the same bytes and the same length:
 * OpenSSL may have taken them already) or another errno.  With
 * SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_write() reports each record written
 * (16 KiB at most), as write() reports what the socket took.
 */
static ssize_t
conn_write(conn_t *c, const void *buf, size_t n)
{
    int w, e;
    if (!c->ssl) {
	return write(c->fd, buf, n);
    }
    if (n > INT_MAX) {
	n = INT_MAX;
    }
    w = SSL_write(c->ssl, buf, (int) n);
    if (w > 0) {
	return w;
    }
    e = SSL_get_error(c->ssl, w);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
	errno = EAGAIN;
	return -1;
    }
    tls_note(e);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Sender                                                              */
/* ------------------------------------------------------------------ */

static unsigned char *outbuf;
static size_t out_cap;		/* its size: max(B, --sendbuf) */
static size_t out_off, out_len;	/* pending bytes of the current write */
static int out_armed;
static int W;

static uint64_t probe_next;		/* next probe seq */
static uint64_t probe_sent_ns;
static int probe_reg_at_send;
static int start_sent;

/*
 * Frames the sender must write after what outbuf holds (pongs, Engine.IO
 * answers): a frame is never put in the middle of another.
 */
static unsigned char sender_ctl[1024];
static size_t sender_ctl_len;

static void
sender_arm(int on)
{
    struct epoll_event ev;
    if (on == out_armed) {
	return;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.u32 = 0;
    epoll_ctl(epfd, EPOLL_CTL_MOD, conns[0].fd, &ev);
    out_armed = on;
}

/*
 * --tls: OpenSSL needs (on) or no longer needs (off) to know when c is
 * writable, in its handshake or in an SSL_read() that has to write.  The
 * sender shares EPOLLOUT with its own output (sender_flush disarms it
 * once that is written).
 */
static void
tls_want_out(conn_t *c, int on)
{
    struct epoll_event ev;
    if (c->is_sender) {
	if (on || (out_off == out_len && sender_ctl_len == 0)) {
	    sender_arm(on);
	}
	return;
    }
    if (c->tls_out == on) {
	return;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
    ev.data.u32 = (uint32_t) (c - conns);
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->tls_out = (unsigned char) on;
}

/* Write pending bytes; 1 if all written, 0 if blocked, -1 on error. */
static int
sender_flush(void)
{
    while (out_off < out_len || sender_ctl_len > 0) {
	ssize_t w;
	if (out_off == out_len) {
	    memcpy(outbuf, sender_ctl, sender_ctl_len);
	    out_off = 0;
	    out_len = sender_ctl_len;
	    sender_ctl_len = 0;
	}
	w = conn_write(&conns[0], outbuf + out_off, out_len - out_off);
	if (w > 0) {
	    out_off += (size_t) w;
	} else if (w < 0 && errno == EINTR) {
	    continue;
	} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
	    sender_arm(1);
	    return 0;
	} else {
	    failf("sender: write: %s", w < 0 ? io_err() : "0 bytes");
	    conns[0].dead = 1;
	    return -1;
	}
    }
    out_off = out_len = 0;
    sender_arm(0);
    return 1;
}

static int
sender_queue(int type, uint64_t seq, uint64_t ts)
{
    out_off = 0;
    out_len = make_msg(outbuf, type, seq, ts);
    return sender_flush();
}

/* Phase timing (ns) and measurement snapshots. */
static uint64_t t_light0, t_light_end, t_sat0, t_sat_end;
static uint64_t sat_deliv0, sat_deliv_x0;
static long redis_sat0 = -1, redis_sat1 = -1;
static long cpu_light0 = -1, cpu_light1 = -1, cpu_sat0 = -1, cpu_sat1 = -1;
static uint64_t light_t_first, light_t_last, sat_t_first, sat_t_last;
static uint64_t light_lag_max;
static uint64_t sat_first_seq;

/*
 * The saturated phase is run --sat-reps times (each --sat / reps seconds
 * and --sat-max / reps records at most, each drained before the next): the
 * best repetition gives deliveries/s (other work on the machine can only
 * slow a repetition down), all of them together give CPU per delivery and
 * the latency distribution.
 */
#define MAXREPS 16
static int opt_sat_reps = 1;
static int sat_rep;			/* repetitions done */
static double rep_secs[MAXREPS], rep_cpu[MAXREPS];
static uint64_t rep_deliv[MAXREPS], rep_msgs[MAXREPS];
static uint64_t rep_deliv_x[MAXREPS];
static double rep_redis_cpu[MAXREPS];

static void
sat_begin(uint64_t now)
{
    phase = PH_SAT;
    t_sat0 = now;
    t_sat_end = now + (uint64_t) (opt_sat / opt_sat_reps * 1e9);
    cpu_sat0 = server_cpu_ticks();
    redis_sat0 = pid_cpu_ticks(opt_redis_pid);
    sat_first_seq = sent;
    sat_deliv0 = deliveries;
    sat_deliv_x0 = deliveries_x;
}

/* The current repetition is drained: record it.  1 if another follows. */
static int
sat_done(void)
{
    long clk = sysconf(_SC_CLK_TCK);
    sat_t_last = last_delivery_ns;
    cpu_sat1 = server_cpu_ticks();
    redis_sat1 = pid_cpu_ticks(opt_redis_pid);
    if (sat_rep < MAXREPS) {
	rep_secs[sat_rep] = (double) (sat_t_last - sat_t_first) / 1e9;
	rep_deliv[sat_rep] = deliveries - sat_deliv0;
	rep_deliv_x[sat_rep] = deliveries_x - sat_deliv_x0;
	rep_redis_cpu[sat_rep] = (redis_sat0 >= 0 && redis_sat1 >= 0)
	    ? (double) (redis_sat1 - redis_sat0) / (double) clk : -1;
	rep_msgs[sat_rep] = sent - sat_first_seq;
	rep_cpu[sat_rep] = (cpu_sat0 >= 0 && cpu_sat1 >= 0)
	    ? (double) (cpu_sat1 - cpu_sat0) / (double) clk : -1;
    }
    sat_rep++;
    return sat_rep < opt_sat_reps;
}

/* Send whatever the current phase allows. */
static void
sender_pump(uint64_t now)
{
    if (conns[0].dead) {
	return;
    }
    if (out_off < out_len && sender_flush() != 1) {
	return;
    }
    for (;;) {
	switch (phase) {
	case PH_PROBE:
	    if (registered >= nrecv) {
		if (!start_sent) {
		    start_sent = 1;
		    logf_("all %d receivers registered after %" PRIu64
			    " probe(s); start", nrecv, probe_next);
		    if (sender_queue('S', 0, now) != 1) {
			/* Fall through to the data phase once flushed. */
		    }
		    phase = opt_light > 0 ? PH_LIGHT : PH_SAT;
		    now = now_ns();
		    if (phase == PH_LIGHT) {
			if (opt_rt_light) {
			    rt_used = set_rt(1);
			    now = now_ns();
			}
			t_light0 = now;
			t_light_end = now + (uint64_t) (opt_light * 1e9);
			cpu_light0 = server_cpu_ticks();
			light_first = 0;
		    } else {
			sat_begin(now);
		    }
		    if (out_off < out_len) {
			return;
		    }
		    continue;
		}
		return;
	    }
	    /* One probe in flight at a time, at most every 10 ms. */
	    if (probe_next > 0) {
		uint64_t last = probe_next - 1;
		if (now - probe_sent_ns < 10000000ULL) {
		    return;
		}
		if (last < MAXPROBES
			&& probe_seen[last] < (uint32_t) probe_reg_at_send
			&& now - probe_sent_ns < 2000000000ULL) {
		    return;
		}
	    }
	    if (probe_next >= MAXPROBES) {
		return;
	    }
	    probe_reg_at_send = registered;
	    probe_sent_ns = now;
	    if (sender_queue('P', probe_next++, now) != 1) {
		return;
	    }
	    return;

	case PH_LIGHT: {
	    uint64_t i = sent - light_first;
	    uint64_t due = t_light0 + (uint64_t) ((double) i * 1e9 / opt_rate);
	    if (due >= t_light_end || now >= t_light_end) {
		phase = PH_LIGHT_DRAIN;
		light_end_seq = sent;
		return;
	    }
	    if (now < due || sent - min_done >= (uint64_t) W) {
		return;
	    }
	    if (now - due > light_lag_max) {
		light_lag_max = now - due;
	    }
	    if (sent == light_first) {
		light_t_first = now;
	    }
	    sent++;
	    if (sender_queue('D', sent - 1, now) != 1) {
		return;
	    }
	    now = now_ns();
	    continue;
	}

	case PH_SAT: {
	    /*
	     * As many records as the window allows, up to --sendbuf bytes per
	     * write(): one write per record would make the sender, not the
	     * server, the bottleneck with small records.
	     */
	    uint64_t room, k;
	    uint64_t rep_max = opt_sat_max > 0
		? (uint64_t) (opt_sat_max / opt_sat_reps > 0
			? opt_sat_max / opt_sat_reps : 1) : 0;
	    if (now >= t_sat_end
		    || (rep_max > 0 && sent - sat_first_seq >= rep_max)) {
		phase = PH_SAT_DRAIN;
		t_sat_end = now;
		return;
	    }
	    if (sent - min_done >= (uint64_t) W) {
		return;
	    }
	    room = (uint64_t) W - (sent - min_done);
	    if (room > out_cap / msg_size) {
		room = out_cap / msg_size;
	    }
	    if (rep_max > 0 && room > rep_max - (sent - sat_first_seq)) {
		room = rep_max - (sent - sat_first_seq);
	    }
	    if (sent == sat_first_seq) {
		sat_t_first = now;
	    }
	    out_off = out_len = 0;
	    for (k = 0; k < room; k++) {
		out_len += make_msg(outbuf + out_len, 'D', sent++, now);
	    }
	    if (sender_flush() != 1) {
		return;
	    }
	    now = now_ns();
	    continue;
	}

	default:
	    return;
	}
    }
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static struct sockaddr_in srv_addrs[MAXSRV];

/*
 * Parses --hosts: n comma-separated IPv4 addresses into srv_addrs[0..n-1]
 * (whose family and port are set already).  Returns 0, or -1 if there are
 * not exactly n valid addresses.
 */
static int
host_list(const char *list, int n)
{
    char buf[64];
    int i = 0;
    const char *p = list;
    while (*p) {
	size_t len = strcspn(p, ",");
	if (i >= n || len == 0 || len >= sizeof buf) {
	    return -1;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, &srv_addrs[i].sin_addr) != 1) {
	    return -1;
	}
	i++;
	p += len;
	if (*p == ',') {
	    p++;
	}
    }
    return i == n ? 0 : -1;
}

/*
 * Blocking connect (bounded), then non-blocking; -errno on failure.
 *
 * To a loopback server, connections are spread over 64 source addresses
 * 127.0.2.1-64 (IP_BIND_ADDRESS_NO_PORT leaves the port to connect):
 * with one source address the kernel's search for a free 4-tuple grows
 * with the number of connections already open, and connecting 20,000
 * clients would take seconds of system time.
 */
static int
connect_one(int srv)
{
    const struct sockaddr_in *sa = &srv_addrs[srv];
    static unsigned k;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = { 5, 0 };
    int one = 1;
    if (fd < 0) {
	return -errno;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if ((ntohl(sa->sin_addr.s_addr) >> 24) == 127) {
	struct sockaddr_in src;
	memset(&src, 0, sizeof src);
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000201u + (k++ % 64));
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	if (bind(fd, (struct sockaddr *) &src, sizeof src) < 0) {
	    int e = errno;
	    close(fd);
	    return -e;
	}
    }
    if (connect(fd, (const struct sockaddr *) sa, sizeof *sa) < 0) {
	int e = errno;
	close(fd);
	return -(e == EINPROGRESS ? ETIMEDOUT : e);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Per server watched (--pid, --pids). */
static long srv_fd_base[MAXSRV];	/* descriptors before our clients */
static long srv_fd_top[MAXSRV];		/* highest descriptor number then */
static long srv_acc_max[MAXSRV];	/* our connections seen accepted */
static long srv_nconn[MAXSRV];		/* our connections made to it */
static long accepted_max = 0;		/* srv_acc_max, summed */

/*
 * Wait until every server watched holds all the connections made to it
 * (the sender included).  Returns 1 when they do, 0 if one stopped
 * accepting (timeout), -1 if one died.
 *
 * Descriptors are allocated lowest-first, so once the holes below the
 * highest descriptor number of the idle server are filled, the server holds
 * j of our connections when descriptor top + j - holes exists: a constant
 * time test, confirmed by one full count of /proc/PID/fd.
 */
static int
wait_accepted(double secs)
{
    uint64_t until = now_ns() + (uint64_t) (secs * 1e9);
    long sleep_us = 200;
    int i;
    if (npids == 0) {
	return 1;
    }
    for (;;) {
	int all = 1, waiting = 0;
	if (!server_alive()) {
	    return -1;
	}
	accepted_max = 0;
	for (i = 0; i < npids; i++) {
	    long want = srv_nconn[i], n;
	    long holes = srv_fd_top[i] + 1 - srv_fd_base[i];
	    long probe_fd = srv_fd_top[i] + want - holes;
	    int have = 0;
	    if (want <= holes || fd_exists(srv_pids[i], probe_fd)
		    || sleep_us >= 20000) {
		n = pid_fds(srv_pids[i], NULL);
		if (n >= 0 && n - srv_fd_base[i] > srv_acc_max[i]) {
		    srv_acc_max[i] = n - srv_fd_base[i];
		}
		have = n >= 0 && n - srv_fd_base[i] >= want;
	    } else {
		waiting = 1;
	    }
	    all &= have;
	    accepted_max += srv_acc_max[i];
	}
	if (all) {
	    return 1;
	}
	if (now_ns() > until) {
	    return 0;
	}
	{
	    struct timespec ts = { 0, sleep_us * 1000 };
	    nanosleep(&ts, NULL);
	}
	if (now_ns() + 1000000000ULL > until && sleep_us < 20000) {
	    sleep_us = 20000;	/* last second: full counts only */
	} else if (sleep_us < 20000 && waiting) {
	    sleep_us = sleep_us * 3 / 2;
	    if (sleep_us > 5000) {
		sleep_us = 5000;
	    }
	}
    }
}

/*
 * After the server died: receivers it had accepted see an orderly EOF when
 * it exits, those still in its listen queue see a reset.  Count the former.
 */
static long
count_accepted_by_eof(void)
{
    long n = 0;
    int i;
    struct timespec ts = { 0, 100000000 };
    nanosleep(&ts, NULL);
    for (i = 0; i < nconn; i++) {
	char b[4096];
	ssize_t r;
	do {
	    r = read(conns[i].fd, b, sizeof b);
	} while (r > 0);
	if (r == 0) {
	    n++;
	}
    }
    return n;
}

static void
add_conn(int fd, int is_sender, int srv)
{
    struct epoll_event ev;
    conn_t *c = &conns[nconn];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->is_sender = is_sender;
    c->srv = (unsigned char) srv;
    c->remote = !is_sender && (srv != 0 || opt_proto == P_REDIS);
    nremote += c->remote;
    if (srv < npids) {
	srv_nconn[srv]++;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u32 = (uint32_t) nconn;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
	perror("epoll_ctl");
	exit(2);
    }
    nconn++;
    if (!is_sender) {
	nrecv++;
    }
}

/* ------------------------------------------------------------------ */
/* Incoming bytes: records, WebSocket frames, Socket.IO packets        */
/* ------------------------------------------------------------------ */

static unsigned char rbuf[256 * 1024];
static int hs_ready;		/* connections whose handshake is done */
static int hs_failed;		/* --capacity: handshakes that failed */

/*
 * Connection idx is gone or unusable for the reason given.  In --capacity
 * mode a connection still in its handshake only counts as a failed
 * handshake (the batch it belongs to is dropped); the sender may go in
 * the final linger; anything else fails the run.
 */
static void
conn_lost(conn_t *c, const char *why)
{
    int idx = (int) (c - conns);
    if (!c->dead) {
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    }
    c->dead = 1;
    if (c->hs != HS_READY && opt_capacity) {
	hs_failed++;
	logf_("connection %d: handshake failed: %s", idx, why);
    } else if (c->is_sender) {
	if (phase != PH_LINGER) {
	    failf("sender disconnected by the server (%s)", why);
	}
    } else {
	failf("receiver %d disconnected by the server (%s)", idx, why);
    }
}

/* Write a whole frame from connection c (queued behind the sender's). */
static void
ws_write_frame(conn_t *c, const unsigned char *buf, size_t n)
{
    if (c->is_sender) {
	if (out_off < out_len || sender_ctl_len > 0) {
	    if (sender_ctl_len + n > sizeof sender_ctl) {
		failf("sender: too many control frames queued");
		return;
	    }
	    memcpy(sender_ctl + sender_ctl_len, buf, n);
	    sender_ctl_len += n;
	    return;
	}
	memcpy(outbuf, buf, n);
	out_off = 0;
	out_len = n;
	sender_flush();
	return;
    }
    while (n > 0) {
	ssize_t w = conn_write(c, buf, n);
	if (w > 0) {
	    buf += w;
	    n -= (size_t) w;
	} else if (w < 0 && errno == EINTR) {
	    continue;
	} else {
	    /* A receiver writes only these few bytes: its buffer is empty. */
	    conn_lost(c, w < 0 ? io_err() : "write returned 0");
	    return;
	}
    }
}

/* Send a masked frame of opcode op with payload p (at most 125 bytes). */
static void
ws_send(conn_t *c, int op, const unsigned char *p, size_t n)
{
    unsigned char buf[256];
    size_t hl = ws_header(buf, op, n);
    memcpy(buf + hl, p, n);
    ws_mask(buf + hl, n, buf + hl - 4);
    ws_write_frame(c, buf, hl + n);
}

static void
hs_done(conn_t *c)
{
    c->hs = HS_READY;
    hs_ready++;
}

/* Payload bytes of the message in progress on c. */
static void
msg_bytes(conn_t *c, const unsigned char *p, size_t n, uint64_t now)
{
    uint64_t B = (uint64_t) opt_B;
    if (opt_proto == P_WS) {
	if (c->is_sender) {
	    stray_bytes += n;
	} else {
	    parse(c, p, n, now);
	}
	c->mpos += n;
	return;
    }
    while (n > 0 && !c->dead) {
	uint64_t pos = c->mpos;
	size_t k = 1;
	if (pos < 2) {
	    c->sio2[pos] = *p;
	} else if (c->sio2[0] != '4' || c->sio2[1] != '2') {
	    k = n;	/* not an event: only its first two bytes matter */
	} else if (pos < SIO_PRE) {
	    if (*p != (unsigned char) SIO_PREFIX[pos]) {
		failf("connection %d: unexpected Socket.IO event (not"
			" 42[\"m\",\"...\"])", (int) (c - conns));
		c->dead = 1;
		return;
	    }
	} else if (pos < SIO_PRE + B) {
	    k = SIO_PRE + B - pos < n ? (size_t) (SIO_PRE + B - pos) : n;
	    if (c->is_sender) {
		stray_bytes += k;
	    } else {
		parse(c, p, k, now);
	    }
	} else if (pos < SIO_PRE + B + SIO_POST
		&& *p == (unsigned char) SIO_SUFFIX[pos - SIO_PRE - B]) {
	    /* The closing "]. */
	} else {
	    failf("connection %d: Socket.IO event is not one %d-byte record",
		    (int) (c - conns), opt_B);
	    c->dead = 1;
	    return;
	}
	c->mpos += k;
	p += k;
	n -= k;
    }
}

/* The message in progress on c is complete. */
static void
msg_end(conn_t *c)
{
    int idx = (int) (c - conns);
    uint64_t want = (uint64_t) opt_B
	+ (opt_proto == P_SIO ? SIO_PRE + SIO_POST : 0);
    if (opt_proto == P_SIO && (c->mpos < 2 || c->sio2[0] != '4'
	    || c->sio2[1] != '2')) {
	/* An Engine.IO / Socket.IO packet other than an event. */
	switch (c->mpos ? c->sio2[0] : 0) {
	case '2':				/* ping */
	    ws_send(c, 1, (const unsigned char *) "3", 1);
	    break;
	case '0':				/* open */
	    if (c->hs == HS_EIO_OPEN) {
		c->hs = HS_SIO_CONNECT;
		ws_send(c, 1, (const unsigned char *) "40", 2);
	    }
	    break;
	case '4':
	    if (c->mpos >= 2 && c->sio2[1] == '0') {
		if (c->hs == HS_SIO_CONNECT) {
		    hs_done(c);
		}
	    } else {
		conn_lost(c, "Socket.IO disconnect or error packet");
	    }
	    break;
	case '1':
	    conn_lost(c, "Engine.IO close packet");
	    break;
	case '3': case '6':
	    break;
	default:
	    failf("connection %d: unknown Engine.IO packet", idx);
	    c->dead = 1;
	}
    } else if (!c->is_sender && c->mpos != want) {
	failf("receiver %d: message of %" PRIu64 " bytes, expected %" PRIu64,
		idx, c->mpos, want);
	c->dead = 1;
    }
    c->mop = 0;
    c->mpos = 0;
    c->sio2[0] = c->sio2[1] = 0;
}

/* The control frame of c (c->op, payload c->ctl) is complete. */
static void
ctl_end(conn_t *c)
{
    char why[64];
    switch (c->op) {
    case 9:					/* ping */
	ws_send(c, 10, c->ctl, c->ctllen);
	break;
    case 10:					/* pong */
	break;
    default:					/* close */
	snprintf(why, sizeof why, "close frame, code %d",
		c->ctllen >= 2 ? c->ctl[0] << 8 | c->ctl[1] : 1005);
	conn_lost(c, why);
    }
}

/* Feed n bytes received on c through the WebSocket frame parser. */
static void
ws_input(conn_t *c, const unsigned char *p, size_t n, uint64_t now)
{
    int idx = (int) (c - conns);
    while (n > 0 && !c->dead) {
	size_t k;
	/*
	 * Fast path: a whole unfragmented data frame with a 7- or 16-bit
	 * length at hand (every relayed record, normally).
	 */
	if (!c->in_frame && c->fhlen == 0 && c->mop == 0 && n >= 4
		&& (p[0] == 0x81 || p[0] == 0x82) && p[1] <= 126) {
	    size_t hl = p[1] < 126 ? 2 : 4;
	    size_t len = p[1] < 126 ? p[1] : (size_t) p[2] << 8 | p[3];
	    if (n >= hl + len && len == (size_t) opt_B && opt_proto == P_WS
		    && !c->is_sender && c->off == 0) {
		/* One record: straight to the record checker. */
		record(c, p + hl, p + hl + len - T, now);
		p += hl + len;
		n -= hl + len;
		continue;
	    }
	    if (n >= hl + len) {
		c->op = c->mop = p[0] & 15;
		c->fin = 1;
		c->mpos = 0;
		c->sio2[0] = c->sio2[1] = 0;
		msg_bytes(c, p + hl, len, now);
		p += hl + len;
		n -= hl + len;
		if (!c->dead) {
		    msg_end(c);
		}
		continue;
	    }
	}
	if (!c->in_frame) {
	    size_t need = 2;
	    uint64_t len;
	    int i;
	    for (;;) {
		if (c->fhlen >= 2) {
		    need = 2 + ((c->fh[1] & 127) == 126 ? 2
			    : (c->fh[1] & 127) == 127 ? 8 : 0);
		}
		if (n == 0 || c->fhlen >= need) {
		    break;
		}
		c->fh[c->fhlen++] = *p++;
		n--;
	    }
	    if (c->fhlen < need) {
		return;
	    }
	    c->fhlen = 0;
	    if (c->fh[0] & 0x70) {
		failf("connection %d: frame with RSV bits set", idx);
		c->dead = 1;
		return;
	    }
	    if (c->fh[1] & 0x80) {
		failf("connection %d: masked frame from the server", idx);
		c->dead = 1;
		return;
	    }
	    len = c->fh[1] & 127;
	    if (len == 126) {
		len = (uint64_t) c->fh[2] << 8 | c->fh[3];
	    } else if (len == 127) {
		len = 0;
		for (i = 0; i < 8; i++) {
		    len = len << 8 | c->fh[2 + i];
		}
	    }
	    c->op = c->fh[0] & 15;
	    c->fin = (c->fh[0] & 0x80) != 0;
	    if (c->op >= 8) {
		if (c->op > 10 || len > 125 || !c->fin) {
		    failf("connection %d: bad control frame (opcode %d, %"
			    PRIu64 " bytes)", idx, c->op, len);
		    c->dead = 1;
		    return;
		}
		c->ctllen = 0;
	    } else if (c->op == 0) {
		if (c->mop == 0) {
		    failf("connection %d: continuation frame outside a"
			    " message", idx);
		    c->dead = 1;
		    return;
		}
	    } else if (c->op <= 2) {
		if (c->mop != 0) {
		    failf("connection %d: new message inside a fragmented"
			    " one", idx);
		    c->dead = 1;
		    return;
		}
		c->mop = c->op;
		c->mpos = 0;
		c->sio2[0] = c->sio2[1] = 0;
	    } else {
		failf("connection %d: unknown opcode %d", idx, c->op);
		c->dead = 1;
		return;
	    }
	    c->in_frame = 1;
	    c->flen_left = len;
	} else {
	    k = c->flen_left < n ? (size_t) c->flen_left : n;
	    if (c->op >= 8) {
		memcpy(c->ctl + c->ctllen, p, k);
		c->ctllen = (unsigned char) (c->ctllen + k);
	    } else {
		msg_bytes(c, p, k, now);
	    }
	    p += k;
	    n -= k;
	    c->flen_left -= k;
	}
	if (c->in_frame && c->flen_left == 0 && !c->dead) {
	    c->in_frame = 0;
	    if (c->op >= 8) {
		ctl_end(c);
	    } else if (c->fin) {
		msg_end(c);
	    }
	}
    }
}

/*
 * Send the upgrade request on a fresh connection and remember the
 * Sec-WebSocket-Accept it must be answered with.
 */
static void
ws_request(conn_t *c)
{
    unsigned char nonce[16];
    char key[25], req[1024];
    int n;
    ssize_t w;
    random_bytes(nonce, sizeof nonce);
    base64(nonce, sizeof nonce, key);
    ws_accept_for(key, c->accept);
    n = snprintf(req, sizeof req,
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s:%d\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Origin: http://%s:%d\r\n"
	    "\r\n", opt_ws_path, opt_host, srv_ports[c->srv], key, opt_host,
	    srv_ports[c->srv]);
    c->hs = HS_HTTP;
    w = conn_write(c, req, (size_t) n);
    if (w != n) {
	conn_lost(c, w < 0 ? io_err() : "short write of the request");
    }
}

/*
 * The head of the HTTP answer to the upgrade, hl bytes at buf ending in
 * "\r\n\r\n" (buf is modified): 1 if it accepts the upgrade, else 0 and
 * the connection is lost.
 */
static int
ws_head_ok(conn_t *c, char *buf, size_t hl)
{
    char *line, *next, *v;
    int upgrade = 0, accept = 0;
    buf[hl - 4] = '\0';
    if (strncmp(buf, "HTTP/1.1 101", 12) != 0) {
	char why[128];
	snprintf(why, sizeof why, "handshake answered \"%.60s\"",
		strtok(buf, "\r"));
	conn_lost(c, why);
	return 0;
    }
    for (line = strstr(buf, "\r\n"); line; line = next) {
	line += 2;
	next = strstr(line, "\r\n");
	if (next) {
	    *next = '\0';
	}
	v = strchr(line, ':');
	if (!v) {
	    continue;
	}
	*v++ = '\0';
	while (*v == ' ' || *v == '\t') {
	    v++;
	}
	if (strcasecmp(line, "Upgrade") == 0 && strcasecmp(v, "websocket") == 0) {
	    upgrade = 1;
	} else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0) {
	    size_t vl = strlen(v);
	    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
		v[--vl] = '\0';
	    }
	    accept = strcmp(v, c->accept) == 0 ? 1 : -1;
	}
    }
    if (!upgrade || accept != 1) {
	conn_lost(c, !upgrade ? "101 without Upgrade: websocket"
		: accept ? "wrong Sec-WebSocket-Accept"
		: "101 without Sec-WebSocket-Accept");
	return 0;
    }
    return 1;
}

/* The upgrade was accepted: what comes next is frames. */
static void
ws_upgraded(conn_t *c)
{
    if (opt_proto == P_SIO) {
	c->hs = HS_EIO_OPEN;
    } else {
	hs_done(c);
    }
}

/*
 * The HTTP answer to the upgrade (plain TCP): peeked until its head is
 * complete, then checked and consumed (the frames after it stay in the
 * socket).  Returns 1 when done, 0 if more is needed or it failed.
 */
static int
ws_response(conn_t *c)
{
    char buf[4097], *end;
    ssize_t r = recv(c->fd, buf, sizeof buf - 1, MSG_PEEK);
    size_t hl;
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
	conn_lost(c, r == 0 ? "eof during the handshake" : strerror(errno));
	return 0;
    }
    if (r < 0) {
	return 0;
    }
    buf[r] = '\0';
    end = memmem(buf, (size_t) r, "\r\n\r\n", 4);
    if (!end) {
	if (r == sizeof buf - 1) {
	    conn_lost(c, "handshake answer head over 4 KiB");
	}
	return 0;
    }
    hl = (size_t) (end - buf) + 4;
    if (!ws_head_ok(c, buf, hl)) {
	return 0;
    }
    if (recv(c->fd, buf, hl, 0) != (ssize_t) hl) {
	conn_lost(c, "cannot consume the handshake answer");
	return 0;
    }
    ws_upgraded(c);
    return 1;
}

/*
 * --redis, a receiver: n bytes from Redis, the answer to SUBSCRIBE, then
 * only messages of the channel, each of which must carry one record
 * (anything else fails the run).  c->mpos is the position within the
 * element being read.
 */
static void
redis_input(conn_t *c, const unsigned char *p, size_t n, uint64_t now)
{
    size_t B = (size_t) opt_B, L = redis_msg_len + B + 2;
    int idx = (int) (c - conns);
    while (n > 0 && !c->dead) {
	size_t pos = (size_t) c->mpos, k;
	if (c->hs == HS_REDIS_SUB) {
	    k = redis_subok_len - pos < n ? redis_subok_len - pos : n;
	    if (memcmp(p, redis_subok + pos, k) != 0) {
		failf("receiver %d: unexpected answer to SUBSCRIBE", idx);
		c->dead = 1;
		return;
	    }
	    c->mpos += k;
	    p += k;
	    n -= k;
	    if (c->mpos == redis_subok_len) {
		c->mpos = 0;
		hs_done(c);
	    }
	    continue;
	}
	/* Fast path: one whole message at hand. */
	if (pos == 0 && n >= L && c->off == 0
		&& memcmp(p, redis_msg, redis_msg_len) == 0
		&& p[L - 2] == '\r' && p[L - 1] == '\n') {
	    record(c, p + redis_msg_len, p + redis_msg_len + B - T, now);
	    p += L;
	    n -= L;
	    continue;
	}
	if (pos < redis_msg_len) {
	    k = redis_msg_len - pos < n ? redis_msg_len - pos : n;
	    if (memcmp(p, redis_msg + pos, k) != 0) {
		failf("receiver %d: Redis sent something other than a %d-byte"
			" message of the channel", idx, opt_B);
		c->dead = 1;
		return;
	    }
	} else if (pos < redis_msg_len + B) {
	    k = redis_msg_len + B - pos < n ? redis_msg_len + B - pos : n;
	    parse(c, p, k, now);
	} else {
	    k = L - pos < n ? L - pos : n;
	    if (memcmp(p, "\r\n" + (pos - redis_msg_len - B), k) != 0) {
		failf("receiver %d: Redis message longer than one record", idx);
		c->dead = 1;
		return;
	    }
	}
	c->mpos += k;
	if (c->mpos == L) {
	    c->mpos = 0;
	}
	p += k;
	n -= k;
    }
}

/*
 * --redis, the sender: the answers to its PUBLISH commands, one integer
 * reply ":<subscribers reached>" each; an error reply fails the run.
 */
static uint64_t redis_replies;		/* answers to PUBLISH so far */
static uint64_t redis_replies_short;	/* that reached fewer than R */
static uint64_t redis_reply_val;
static int redis_reply_mid;		/* inside a reply line */

static void
redis_sender_input(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
	unsigned char b = p[i];
	if (!redis_reply_mid) {
	    if (b != ':') {
		failf("sender: PUBLISH answered with something other than an"
			" integer (%c...)", b);
		conns[0].dead = 1;
		return;
	    }
	    redis_reply_mid = 1;
	    redis_reply_val = 0;
	} else if (b >= '0' && b <= '9') {
	    redis_reply_val = redis_reply_val * 10 + (uint64_t) (b - '0');
	} else if (b == '\n') {
	    redis_replies++;
	    if (redis_reply_val < (uint64_t) nrecv) {
		redis_replies_short++;
	    }
	    redis_reply_mid = 0;
	}
    }
}

/* n bytes received on c, past the handshakes (TCP or TLS). */
static void
conn_input(conn_t *c, const unsigned char *p, size_t n, uint64_t now)
{
    if (opt_proto == P_REDIS) {
	if (c->is_sender) {
	    redis_sender_input(p, n);
	} else {
	    redis_input(c, p, n, now);
	}
    } else if (opt_proto != P_TCP) {
	ws_input(c, p, n, now);
    } else if (c->is_sender) {
	stray_bytes += (uint64_t) n;
    } else {
	parse(c, p, n, now);
    }
}

#define HSBUF	4096

/*
 * --ws over TLS: bytes of the upgrade answer are collected until its head
 * is complete (OpenSSL cannot peek across records); the bytes after the
 * head are frames.
 */
static void
tls_ws_response(conn_t *c, const unsigned char *p, size_t n, uint64_t now)
{
    size_t k, hl;
    char *end;
    if (!c->hsbuf && !(c->hsbuf = malloc(HSBUF))) {
	conn_lost(c, "out of memory");
	return;
    }
    k = (size_t) HSBUF - c->hslen;
    if (k > n) {
	k = n;
    }
    memcpy(c->hsbuf + c->hslen, p, k);
    c->hslen = (unsigned short) (c->hslen + k);
    end = memmem(c->hsbuf, c->hslen, "\r\n\r\n", 4);
    if (!end) {
	if (c->hslen == HSBUF) {
	    conn_lost(c, "handshake answer head over 4 KiB");
	}
	return;
    }
    hl = (size_t) (end - c->hsbuf) + 4;
    if (!ws_head_ok(c, c->hsbuf, hl)) {
	return;
    }
    ws_upgraded(c);
    if (c->hslen > hl) {
	ws_input(c, (unsigned char *) c->hsbuf + hl, c->hslen - hl, now);
    }
    free(c->hsbuf);
    c->hsbuf = NULL;
    c->hslen = 0;
    if (n > k && !c->dead) {
	ws_input(c, p + k, n - k, now);
    }
}

/*
 * --tls: c is readable (or OpenSSL can go on): SSL_read() until it wants
 * to read.  Level-triggered epoll reports the socket, not OpenSSL's
 * buffer: one SSL_read() per event could leave whole records inside
 * OpenSSL (read-ahead fetches several at once; SSL_pending() counts only
 * the current one) with nothing left in the socket to report them.
 */
static void
tls_readable(conn_t *c)
{
    if (c->rd_wants_out) {
	c->rd_wants_out = 0;
	tls_want_out(c, 0);
    }
    while (!c->dead) {
	int r = SSL_read(c->ssl, rbuf, sizeof rbuf), e;
	if (r > 0) {
	    if (c->hs == HS_HTTP) {
		tls_ws_response(c, rbuf, (size_t) r, now_ns());
	    } else {
		conn_input(c, rbuf, (size_t) r, now_ns());
	    }
	    continue;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
	    return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
	    c->rd_wants_out = 1;
	    tls_want_out(c, 1);
	    return;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
	    conn_lost(c, c->hs == HS_HTTP ? "eof during the handshake"
		    : "eof (TLS close_notify)");
	} else {
	    tls_note(e);
	    conn_lost(c, tls_why);
	}
	return;
    }
}

/* --tls: one step of c's client handshake; the upgrade follows (--ws). */
static void
tls_handshake(conn_t *c)
{
    int r = SSL_connect(c->ssl), e;
    if (r == 1) {
	tls_want_out(c, 0);
	if (opt_proto == P_WS || opt_proto == P_SIO) {
	    ws_request(c);
	} else {
	    hs_done(c);
	}
	/* Records that came with the server's last handshake message. */
	if (!c->dead) {
	    tls_readable(c);
	}
	return;
    }
    e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
	tls_want_out(c, e == SSL_ERROR_WANT_WRITE);
	return;
    }
    tls_note(e);
    conn_lost(c, tls_why);
}

/* --tls: start the client handshake of the fresh connection c. */
static void
tls_start(conn_t *c)
{
    c->hs = HS_TLS;
    c->ssl = SSL_new(tls_ctx);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)
	    || !SSL_set_tlsext_host_name(c->ssl, "localhost")) {
	tls_note(SSL_ERROR_SSL);
	conn_lost(c, tls_why);
	return;
    }
    SSL_set_connect_state(c->ssl);
    tls_handshake(c);		/* sends the ClientHello */
}

/* Start whatever handshake a fresh connection c has to do. */
static void
conn_start(conn_t *c)
{
    if (opt_proto == P_REDIS) {
	ssize_t w;
	if (c->is_sender) {
	    hs_done(c);
	    return;
	}
	c->hs = HS_REDIS_SUB;
	w = write(c->fd, redis_subcmd, redis_subcmd_len);
	if (w != (ssize_t) redis_subcmd_len) {
	    conn_lost(c, w < 0 ? strerror(errno) : "short write of SUBSCRIBE");
	}
    } else if (opt_tls) {
	tls_start(c);
    } else if (opt_proto != P_TCP) {
	ws_request(c);
    }
}

/* Close c, and free its TLS state. */
static void
conn_close(conn_t *c)
{
    if (c->ssl) {
	SSL_free(c->ssl);
	c->ssl = NULL;
    }
    free(c->hsbuf);
    c->hsbuf = NULL;
    close(c->fd);
}

/* Connection c is readable (or hung up). */
static void
conn_readable(conn_t *c)
{
    ssize_t r;
    if (c->dead) {
	return;
    }
    if (c->ssl) {
	tls_readable(c);
	return;
    }
    if (c->hs == HS_HTTP && !ws_response(c)) {
	return;
    }
    r = read(c->fd, rbuf, sizeof rbuf);
    if (r > 0) {
	conn_input(c, rbuf, (size_t) r, now_ns());
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
	conn_lost(c, r == 0 ? "eof" : strerror(errno));
    }
}

/* Dispatch one epoll event. */
static void
conn_event(const struct epoll_event *ev)
{
    conn_t *c = &conns[ev->data.u32];
    if (c->dead) {
	return;
    }
    if (c->hs == HS_TLS) {
	tls_handshake(c);	/* whichever way it waited */
	return;
    }
    if (c->is_sender && (ev->events & EPOLLOUT)) {
	sender_flush();
    }
    if ((ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
	    || (c->rd_wants_out && (ev->events & EPOLLOUT))) {
	conn_readable(c);
    }
}

/*
 * --ws, --socketio: run the event loop until every connection has done its
 * handshake.  Returns 1 when they have, 0 on timeout or (--capacity) a
 * failed handshake, -1 if the run failed.
 */
static int
handshake_wait(double secs)
{
    struct epoll_event evs[256];
    uint64_t until = now_ns() + (uint64_t) (secs * 1e9);
    while (hs_ready + hs_failed < nconn) {
	int n, k;
	if (fail_reason[0]) {
	    return -1;
	}
	if (now_ns() > until) {
	    return 0;
	}
	n = epoll_wait(epfd, evs, 256, 20);
	for (k = 0; k < n; k++) {
	    conn_event(&evs[k]);
	}
    }
    return fail_reason[0] ? -1 : hs_failed ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static char result[8192];
static size_t result_len;

static void
kv(const char *key, const char *fmt, ...)
{
    va_list ap;
    result_len += (size_t) snprintf(result + result_len,
	    sizeof result - result_len, " %s=", key);
    va_start(ap, fmt);
    result_len += (size_t) vsnprintf(result + result_len,
	    sizeof result - result_len, fmt, ap);
    va_end(ap);
}

/*
 * The light phase's latency of one kind of receiver (tag x: remote, l:
 * local): light_p50_<tag>_us, light_p99_<tag>_us, and with several parts
 * the best part's p99, light_p99_<tag>_best_us.  Nothing if none.
 */
static void
light_split(const char *tag, const hist_t *h, const hist_t *parts)
{
    char key[64];
    uint64_t best = 0;
    int r, have = 0;
    if (h->n == 0) {
	return;
    }
    snprintf(key, sizeof key, "light_p50_%s_us", tag);
    kv(key, "%.1f", (double) hpct(h, 0.50) / 1e3);
    snprintf(key, sizeof key, "light_p99_%s_us", tag);
    kv(key, "%.1f", (double) hpct(h, 0.99) / 1e3);
    snprintf(key, sizeof key, "light_max_%s_us", tag);
    kv(key, "%.1f", (double) h->max / 1e3);
    if (opt_light_reps > 1) {
	for (r = 0; r < opt_light_reps; r++) {
	    uint64_t p99;
	    if (parts[r].n == 0) {
		continue;
	    }
	    p99 = hpct(&parts[r], 0.99);
	    if (!have || p99 < best) {
		best = p99;
	    }
	    have = 1;
	}
	if (have) {
	    snprintf(key, sizeof key, "light_p99_%s_best_us", tag);
	    kv(key, "%.1f", (double) best / 1e3);
	}
    }
}

static void
usage(void)
{
    fprintf(stderr,
	"usage: loadgen --port P [--host 127.0.0.1] [-R n] [-B bytes] [--line]\n"
	"         [--light secs] [--rate n] [--sat secs] [--sat-max n] [--sat-reps n]\n"
	"         [--window n] [--capacity --limit n] [--batch n] [--pid pid]\n"
	"         [--timeout secs] [--drain secs] [--sendbuf bytes] [--rt-light]\n"
	"         [--sat-spin 0|1] [--light-reps n] [--rt-policy fifo|rr]\n"
	"         [--ws PATH | --socketio | --redis [--channel NAME]] [--tls]\n"
	"         [--ports p1,p2,... [--pids pid1,pid2,...]] [--redis-pid pid]\n"
	"         [--hosts a1,a2,... (one address per --ports entry)]\n"
	"         [--quiet]\n");
    exit(2);
}

/* A comma-separated list of at most max positive integers; its length. */
static int
int_list(const char *v, int *out, int max)
{
    int n = 0;
    while (*v) {
	char *end;
	long x = strtol(v, &end, 10);
	if (end == v || x <= 0 || x > INT_MAX || n == max
		|| (*end != ',' && *end != '\0')) {
	    return -1;
	}
	out[n++] = (int) x;
	v = *end ? end + 1 : end;
    }
    return n;
}

int
main(int argc, char **argv)
{
    int i, rc;
    struct rlimit rl;
    struct epoll_event evs[1024];
    uint64_t t_begin, t_deadline, t_conn0, t_conn1, t_linger_end = 0;
    uint64_t t_drain_deadline = 0;
    long rss_base = -1, rss_conn = -1, rss_end = -1, hwm_end = -1;
    long clk = sysconf(_SC_CLK_TCK);
    const char *status = "ok";
    int aborted = 0, stalled = 0;
    long aborted_at = -1;
    int cap_stop_errno = 0;
    int hs_stop = 0;
    int target;
    struct rusage ru0, ru1;

    for (i = 1; i < argc; i++) {
	const char *a = argv[i];
	const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
	if (ARG("--port")) opt_port = atoi(v);
	else if (ARG("--host")) opt_host = v;
	else if (ARG("--hosts")) opt_hosts = v;
	else if (ARG("-R")) opt_R = atoi(v);
	else if (ARG("-B")) opt_B = atoi(v);
	else if (strcmp(a, "--line") == 0) opt_line = 1;
	else if (ARG("--window")) opt_W = atoi(v);
	else if (ARG("--light")) opt_light = atof(v);
	else if (ARG("--rate")) opt_rate = atof(v);
	else if (ARG("--sat")) opt_sat = atof(v);
	else if (ARG("--sat-max")) opt_sat_max = atol(v);
	else if (strcmp(a, "--capacity") == 0) opt_capacity = 1;
	else if (ARG("--limit")) opt_limit = atoi(v);
	else if (ARG("--batch")) opt_batch = atoi(v);
	else if (ARG("--pid")) opt_pid = atoi(v);
	else if (ARG("--ports")) {
	    if ((nsrv = int_list(v, srv_ports, MAXSRV)) < 1) usage();
	    opt_port = srv_ports[0];
	}
	else if (ARG("--pids")) {
	    if ((npids = int_list(v, srv_pids, MAXSRV)) < 1) usage();
	    opt_pid = srv_pids[0];
	}
	else if (ARG("--redis-pid")) opt_redis_pid = atoi(v);
	else if (strcmp(a, "--redis") == 0) opt_proto = P_REDIS;
	else if (ARG("--channel")) opt_channel = v;
	else if (ARG("--timeout")) opt_timeout = atof(v);
	else if (ARG("--drain")) opt_drain = atof(v);
	else if (ARG("--sendbuf")) opt_sendbuf = (size_t) atol(v);
	else if (strcmp(a, "--rt-light") == 0) opt_rt_light = 1;
	else if (ARG("--rt-policy")) {
	    if (strcmp(v, "fifo") == 0) opt_rt_policy = SCHED_FIFO;
	    else if (strcmp(v, "rr") == 0) opt_rt_policy = SCHED_RR;
	    else usage();
	}
	else if (ARG("--sat-spin")) opt_sat_spin = atoi(v) != 0;
	else if (ARG("--sat-reps")) opt_sat_reps = atoi(v);
	else if (ARG("--light-reps")) opt_light_reps = atoi(v);
	else if (strcmp(a, "--quiet") == 0) opt_quiet = 1;
	else if (strcmp(a, "--tls") == 0) opt_tls = 1;
	else if (ARG("--ws")) { opt_proto = P_WS; opt_ws_path = v; }
	else if (strcmp(a, "--socketio") == 0) {
	    opt_proto = P_SIO;
	    opt_ws_path = "/socket.io/?EIO=4&transport=websocket";
	}
	else usage();
#undef ARG
    }
    if (opt_port <= 0 || opt_R < 0 || opt_rate <= 0 || opt_batch < 1) {
	usage();
    }
    srv_ports[0] = opt_port;
    if (npids == 0 && opt_pid > 0) {
	srv_pids[0] = opt_pid;
	npids = 1;
    }
    if (npids > 0 && npids != nsrv) {
	fprintf(stderr, "loadgen: --pids must name one process per port\n");
	return 2;
    }
    if (opt_proto == P_REDIS && (opt_tls || opt_line || opt_capacity
	    || strlen(opt_channel) > 100 || strpbrk(opt_channel, " \r\n"))) {
	fprintf(stderr, "loadgen: --redis takes raw records, no --tls,"
		" --line or --capacity, and a channel name of at most 100"
		" bytes without spaces\n");
	return 2;
    }
    if (opt_B < 64 || opt_B > 1048576) {
	fprintf(stderr, "loadgen: -B must be 64..1048576\n");
	return 2;
    }
    if (opt_sat_reps < 1 || opt_sat_reps > MAXREPS) {
	fprintf(stderr, "loadgen: --sat-reps must be 1..%d\n", MAXREPS);
	return 2;
    }
    if (opt_light_reps < 1 || opt_light_reps > MAXLIGHTREPS) {
	fprintf(stderr, "loadgen: --light-reps must be 1..%d\n",
		MAXLIGHTREPS);
	return 2;
    }
    if (opt_capacity) {
	/* One broadcast record, nothing else. */
	opt_sat_reps = 1;
	opt_light = 0;
	opt_sat = 60;
	opt_sat_max = 1;
	if (opt_limit <= 0) {
	    opt_limit = opt_R;
	}
    } else if (opt_light <= 0 && opt_sat <= 0) {
	fprintf(stderr, "loadgen: nothing to do (give --light and/or --sat)\n");
	return 2;
    }
    if (opt_proto == P_SIO) {
	opt_line = 1;		/* a JSON string carries text records */
    }
    if (opt_proto == P_WS || opt_proto == P_SIO) {
	unsigned char seed[8];
	char acc[29];
	line_end = '.';
	random_bytes(seed, sizeof seed);
	memcpy(&rng_state, seed, 8);
	rng_state |= 1;
	/* The example of RFC 6455 1.3, so a broken SHA-1 is caught here. */
	ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
	if (strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0) {
	    fprintf(stderr, "loadgen: SHA-1 self-test failed (%s)\n", acc);
	    return 2;
	}
	msg_size = ws_header_len((uint64_t) opt_B
		+ (opt_proto == P_SIO ? SIO_PRE + SIO_POST : 0))
	    + (size_t) opt_B + (opt_proto == P_SIO ? SIO_PRE + SIO_POST : 0);
    } else if (opt_proto == P_REDIS) {
	redis_init();
	msg_size = redis_pub_len + (size_t) opt_B + 2;
    } else {
	msg_size = (size_t) opt_B;
    }
    if (opt_tls) {
	/*
	 * Client side: TLS 1.2 or 1.3, no verification (throwaway
	 * self-signed certificate); modes as the server's (cref_tls.c);
	 * read-ahead, so that one recv() fetches several records.
	 */
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (!tls_ctx || !SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION)) {
	    ERR_print_errors_fp(stderr);
	    fprintf(stderr, "loadgen: cannot set up TLS\n");
	    return 2;
	}
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(tls_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
		| SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(tls_ctx, 1);
    }
    H = opt_line ? LINE_H : RAW_H;
    T = opt_line ? LINE_T : RAW_T;
    light_end_seq = 0;

    signal(SIGPIPE, SIG_IGN);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    target = opt_capacity ? opt_limit : opt_R;
    if ((rlim_t) target + 16 > rl.rlim_cur) {
	if (!opt_capacity) {
	    fprintf(stderr, "loadgen: %d receivers need more descriptors than"
		    " the limit %lu\n", target, (unsigned long) rl.rlim_cur);
	    return 2;
	}
	target = (int) rl.rlim_cur - 16;
    }
    conns = calloc((size_t) target + 1, sizeof *conns);
    probe_seen = calloc(MAXPROBES, sizeof *probe_seen);
    out_cap = msg_size > opt_sendbuf ? msg_size : opt_sendbuf;
    outbuf = malloc(out_cap);
    pat_raw = malloc((size_t) opt_B + 256);
    pat_line = malloc((size_t) opt_B + 256);
    if (!conns || !probe_seen || !outbuf || !pat_raw || !pat_line) {
	fprintf(stderr, "loadgen: out of memory\n");
	return 2;
    }
    for (i = 0; i < opt_B + 256; i++) {
	pat_raw[i] = (unsigned char) i;
	pat_line[i] = (unsigned char) ('a' + i % 26);
    }
    for (i = 0; i < nsrv; i++) {
	memset(&srv_addrs[i], 0, sizeof srv_addrs[i]);
	srv_addrs[i].sin_family = AF_INET;
	srv_addrs[i].sin_port = htons((uint16_t) srv_ports[i]);
	if (inet_pton(AF_INET, opt_host, &srv_addrs[i].sin_addr) != 1) {
	    fprintf(stderr, "loadgen: bad --host %s\n", opt_host);
	    return 2;
	}
    }
    if (opt_hosts && host_list(opt_hosts, nsrv) != 0) {
	fprintf(stderr, "loadgen: --hosts needs %d IPv4 addresses, "
		"one per --ports entry: %s\n", nsrv, opt_hosts);
	return 2;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);

    t_begin = now_ns();
    t_deadline = t_begin + (uint64_t) (opt_timeout * 1e9);
    getrusage(RUSAGE_SELF, &ru0);

    /* ---- connect: sender first, then the receivers in batches ---- */
    if (npids) {
	if (!server_alive()) {
	    failf("server pid %d not running", opt_pid);
	    goto report;
	}
	for (i = 0; i < npids; i++) {
	    srv_fd_base[i] = pid_fds(srv_pids[i], &srv_fd_top[i]);
	}
	rss_base = server_status_kb("VmRSS");
    }
    t_conn0 = now_ns();
    rc = connect_one(0);
    if (rc < 0) {
	failf("sender: connect: %s", strerror(-rc));
	goto report;
    }
    add_conn(rc, 1, 0);
    conn_start(&conns[0]);
    if (npids) {
	rc = wait_accepted(10);
	if (rc < 0) {
	    aborted = 1;
	    goto report;
	}
    }
    if ((opt_proto != P_TCP || opt_tls) && handshake_wait(10) != 1) {
	if (!server_alive()) {
	    aborted = 1;
	} else if (!fail_reason[0]) {
	    failf("sender: no handshake within 10 s");
	}
	goto report;
    }
    if (npids) {
	rss_base = server_status_kb("VmRSS");
    }
    while (nrecv < target) {
	int nb = 0, first = nconn;
	while (nb < opt_batch && nrecv < target) {
	    int srv = nrecv % nsrv;	/* receivers round-robin */
	    rc = connect_one(srv);
	    if (rc < 0) {
		cap_stop_errno = -rc;
		break;
	    }
	    add_conn(rc, 0, srv);
	    conn_start(&conns[nconn - 1]);
	    nb++;
	}
	rc = wait_accepted(10);
	if (rc < 0) {
	    aborted = 1;
	    break;
	}
	if (rc == 0) {
	    stalled = 1;
	    break;
	}
	if (opt_proto != P_TCP || opt_tls) {
	    rc = handshake_wait(10);
	    if (rc < 0 || (rc == 0 && !opt_capacity)) {
		if (!server_alive()) {
		    aborted = 1;
		    accepted_max = nconn;
		    break;
		}
		if (!fail_reason[0]) {
		    failf("handshakes: only %d of %d done within 10 s",
			    hs_ready, nconn);
		}
		goto report;
	    }
	    if (rc == 0) {
		/* Capacity: keep only the batches whose handshakes all
		 * succeeded. */
		logf_("handshakes failed or stalled in the batch after %d"
			" receivers: dropping that batch", first - 1);
		hs_stop = 1;
		while (nconn > first) {
		    conn_t *c = &conns[nconn - 1];
		    if (c->hs == HS_READY) {
			hs_ready--;
		    }
		    conn_close(c);
		    nconn--;
		    nrecv--;
		}
		break;
	    }
	}
	if (cap_stop_errno) {
	    break;
	}
	if (now_ns() > t_deadline) {
	    failf("timeout while connecting (%d receivers)", nrecv);
	    goto report;
	}
    }
    t_conn1 = now_ns();
    if (aborted) {
	aborted_at = count_accepted_by_eof() - 1;	/* minus the sender */
	if (aborted_at < accepted_max - 1) {
	    aborted_at = accepted_max - 1;
	}
	logf_("server died after accepting %ld receivers (+1 sender)",
		aborted_at);
	goto report;
    }
    if (stalled || cap_stop_errno) {
	if (!opt_capacity) {
	    if (stalled) {
		failf("server stopped accepting at %ld of %d receivers",
			accepted_max - 1, target);
	    } else {
		failf("connect failed after %d receivers: %s", nrecv,
			strerror(cap_stop_errno));
	    }
	    goto report;
	}
	if (stalled) {
	    /* Keep only what the server accepted: close the rest. */
	    logf_("server stopped accepting at %ld receivers",
		    accepted_max - 1);
	    while (nrecv > accepted_max - 1 && nrecv > 0) {
		conn_close(&conns[nconn - 1]);
		nconn--;
		nrecv--;
	    }
	} else {
	    logf_("connect stopped after %d receivers: %s", nrecv,
		    strerror(cap_stop_errno));
	}
    }
    logf_("%d receivers + 1 sender connected in %.2f s", nrecv,
	    (double) (t_conn1 - t_conn0) / 1e9);
    if (npids) {
	struct timespec ts = { 0, 200000000 };
	nanosleep(&ts, NULL);
	rss_conn = server_status_kb("VmRSS");
    }
    if (nrecv == 0) {
	failf("no receivers");
	goto report;
    }

    /* Window: bounded bytes in flight over all receivers. */
    if (opt_W > 0) {
	W = opt_W;
    } else {
	double w = WINDOW_BUDGET / ((double) nrecv * (double) opt_B);
	if (w > WINDOW_PER_RECV / opt_B) {
	    w = WINDOW_PER_RECV / opt_B;
	}
	W = w > WINDOW_MAX ? WINDOW_MAX : w < WINDOW_MIN ? WINDOW_MIN : (int) w;
    }
    if (W >= RING) {
	W = RING - 1;
    }
    light_end_seq = opt_light > 0 ? UINT64_MAX : 0;

    /* ---- event loop ---- */
    {
	uint64_t reg_deadline = now_ns() + 30000000000ULL;
	while (phase != PH_DONE) {
	    int n, k, tmo;
	    uint64_t now = now_ns();

	    if (fail_reason[0]) {
		break;
	    }
	    if (now > t_deadline) {
		failf("overall timeout (phase %d, %" PRIu64 "/%" PRIu64
			" records complete)", phase, min_done, sent);
		break;
	    }
	    if (phase == PH_PROBE && now > reg_deadline) {
		failf("only %d of %d receivers registered within 30 s",
			registered, nrecv);
		break;
	    }
	    /* Phase transitions that depend on deliveries. */
	    if (phase == PH_LIGHT_DRAIN && min_done == sent) {
		light_t_last = last_delivery_ns;
		if (opt_rt_light) {
		    set_rt(0);
		}
		cpu_light1 = server_cpu_ticks();
		if (opt_sat > 0) {
		    sat_begin(now_ns());
		} else {
		    phase = PH_LINGER;
		    t_linger_end = now + 50000000ULL;
		}
		t_drain_deadline = 0;
	    }
	    if (phase == PH_SAT_DRAIN && min_done == sent) {
		if (sat_done()) {
		    sat_begin(now_ns());
		} else {
		    phase = PH_LINGER;
		    t_linger_end = now + 50000000ULL;
		}
		t_drain_deadline = 0;
	    }
	    if (phase == PH_LINGER && now >= t_linger_end) {
		phase = PH_DONE;
		break;
	    }
	    if ((phase == PH_LIGHT_DRAIN || phase == PH_SAT_DRAIN)) {
		if (t_drain_deadline == 0) {
		    t_drain_deadline = now + (uint64_t) (opt_drain * 1e9);
		} else if (now > t_drain_deadline) {
		    failf("drain timeout: %" PRIu64 " of %" PRIu64
			    " records delivered to every receiver", min_done,
			    sent);
		    break;
		}
	    }

	    sender_pump(now);

	    /* Sleep until the next thing to do. */
	    tmo = 10;
	    if (phase == PH_LIGHT) {
		uint64_t due = t_light0 + (uint64_t) ((double) (sent - light_first)
			* 1e9 / opt_rate);
		now = now_ns();
		tmo = due > now ? (int) ((due - now) / 1000000) : 0;
		if (tmo > 10) {
		    tmo = 10;
		}
	    } else if (phase == PH_SAT) {
		/*
		 * Saturated: by default poll without ever sleeping (this
		 * process has a core of its own). A sleeping load generator
		 * makes the server wake it for every write, and the pair
		 * then settles, by chance, into a fast or a slow lock-step
		 * that can differ by half (seen with the C reference as with
		 * our package); spinning measures the server's own work.
		 */
		tmo = opt_sat_spin ? 0 : 1;
	    }
	    n = epoll_wait(epfd, evs, 1024, tmo);
	    if (n < 0) {
		if (errno == EINTR) {
		    continue;
		}
		perror("epoll_wait");
		break;
	    }
	    /* Busy-poll for the few hundred microseconds before a light send. */
	    if (n == 0 && phase == PH_LIGHT) {
		uint64_t due = t_light0 + (uint64_t) ((double) (sent - light_first)
			* 1e9 / opt_rate);
		while (now_ns() < due) {
		    n = epoll_wait(epfd, evs, 1024, 0);
		    if (n != 0) {
			break;
		    }
		}
		if (n < 0) {
		    n = 0;
		}
	    }
	    for (k = 0; k < n; k++) {
		conn_event(&evs[k]);
	    }
	}
    }
    /* Final check: every receiver has every record and no partial one. */
    if (!fail_reason[0]) {
	for (i = 1; i < nconn; i++) {
	    if (conns[i].next_seq != sent || conns[i].off != 0
		    || conns[i].mop != 0 || conns[i].in_frame
		    || (opt_proto == P_REDIS && conns[i].mpos != 0)) {
		failf("receiver %d has %" PRIu64 " of %" PRIu64 " records"
			" (+%u stray bytes)", i, conns[i].next_seq, sent,
			conns[i].off);
		break;
	    }
	}
	if (deliveries != sent * (uint64_t) nrecv && !fail_reason[0]) {
	    failf("%" PRIu64 " deliveries, expected %" PRIu64, deliveries,
		    sent * (uint64_t) nrecv);
	}
    }
    if (!server_alive()) {
	aborted = 1;
	aborted_at = nrecv;
    }

  report:
    if (rt_used >= 0) {
	set_rt(0);
    }
    getrusage(RUSAGE_SELF, &ru1);
    if (npids && server_alive()) {
	rss_end = server_status_kb("VmRSS");
	hwm_end = server_status_kb("VmHWM");
    }
    if (aborted) {
	status = "ABORTED";
    } else if (fail_reason[0]) {
	status = "FAIL";
    }
    result_len = (size_t) snprintf(result, sizeof result, "RESULT status=%s",
	    status);
    kv("R", "%d", nrecv);
    kv("B", "%d", opt_B);
    kv("W", "%d", W);
    kv("framing", "%s", opt_line ? "line" : "raw");
    if (opt_proto != P_TCP) {
	kv("proto", "%s", opt_proto == P_WS ? "ws" : opt_proto == P_SIO
		? "socketio" : "redis");
	kv("wire_bytes", "%zu", msg_size);
    }
    if (nsrv > 1 || opt_proto == P_REDIS) {
	kv("nodes", "%d", nsrv);
	kv("recv_remote", "%d", nremote);
    }
    if (opt_tls) {
	kv("tls", "1");
    }
    if (aborted) {
	kv("aborted_at", "%ld", aborted_at);
    }
    if (opt_capacity) {
	kv("clients", "%d", nrecv + 1);
	kv("cap_limit", "%d", opt_limit);
	kv("cap_stop", "%s", aborted ? "server-died" : stalled ? "server-stalled"
		: hs_stop ? "handshake-failed"
		: cap_stop_errno ? strerror(cap_stop_errno) : "limit");
	if (phase == PH_DONE && !fail_reason[0] && sat_t_last >= sat_t_first) {
	    kv("bcast_ok", "1");
	    kv("bcast_ms", "%.2f", (double) (sat_t_last - sat_t_first) / 1e6);
	} else {
	    kv("bcast_ok", "0");
	}
    }
    if (rss_base >= 0) {
	kv("rss_base_kb", "%ld", rss_base);
    }
    if (rss_conn >= 0) {
	kv("rss_conn_kb", "%ld", rss_conn);
	if (nrecv > 0 && rss_base >= 0) {
	    kv("rss_per_client_b", "%.0f",
		    (double) (rss_conn - rss_base) * 1024.0 / nrecv);
	}
    }
    if (rss_end >= 0) {
	kv("rss_end_kb", "%ld", rss_end);
	kv("hwm_end_kb", "%ld", hwm_end);
    }
    if (opt_light > 0 && light_t_last > light_t_first && hist_light.n) {
	double secs = (double) (light_t_last - light_t_first) / 1e9;
	uint64_t msgs = light_end_seq - light_first;
	kv("light_msgs", "%" PRIu64, msgs);
	kv("light_deliv", "%" PRIu64, hist_light.n);
	kv("light_secs", "%.3f", secs);
	kv("light_rate", "%.1f", (double) msgs / (opt_light));
	kv("light_target", "%.1f", opt_rate);
	kv("light_lag_max_ms", "%.3f", (double) light_lag_max / 1e6);
	kv("light_rt", "%d", rt_used > 0);
	if (rt_used > 0 && opt_rt_policy == SCHED_RR) {
	    kv("light_rt_policy", "rr");
	}
	kv("light_p50_us", "%.1f", (double) hpct(&hist_light, 0.50) / 1e3);
	kv("light_p99_us", "%.1f", (double) hpct(&hist_light, 0.99) / 1e3);
	kv("light_max_us", "%.1f", (double) hist_light.max / 1e3);
	if (opt_light_reps > 1) {
	    char list[MAXLIGHTREPS * 16];
	    size_t used = 0;
	    uint64_t best = 0;
	    int r, have = 0;
	    list[0] = '\0';
	    for (r = 0; r < opt_light_reps; r++) {
		uint64_t p99;
		if (hist_light_rep[r].n == 0) {
		    continue;
		}
		p99 = hpct(&hist_light_rep[r], 0.99);
		used += (size_t) snprintf(list + used, sizeof list - used,
			"%s%.1f", have ? "," : "", (double) p99 / 1e3);
		if (used >= sizeof list) {
		    used = sizeof list - 1;	/* Cut: the list ends here. */
		}
		if (!have || p99 < best) {
		    best = p99;
		}
		have = 1;
	    }
	    if (have) {
		kv("light_p99_reps_us", "%s", list);
		kv("light_p99_best_us", "%.1f", (double) best / 1e3);
	    }
	}
	if (nsrv > 1 || opt_proto == P_REDIS) {
	    light_split("x", &hist_light_x, hist_light_x_rep);
	    light_split("l", &hist_light_l, hist_light_l_rep);
	}
	if (cpu_light0 >= 0 && cpu_light1 >= 0) {
	    kv("light_cpu_s", "%.2f", (double) (cpu_light1 - cpu_light0) / clk);
	}
    }
    if (!opt_capacity && opt_sat > 0 && sat_rep > 0 && hist_sat.n
	    && !fail_reason[0]) {
	int r, best = 0, nrep = sat_rep < MAXREPS ? sat_rep : MAXREPS;
	double secs = 0, cs = 0, bsecs;
	uint64_t msgs = 0, dl = 0;
	char list[256];
	size_t ll = 0;
	int cpu_ok = 1;
	list[0] = 0;
	for (r = 0; r < nrep; r++) {
	    double dps = rep_secs[r] > 0 ? (double) rep_deliv[r] / rep_secs[r] : 0;
	    double bdps = rep_secs[best] > 0
		? (double) rep_deliv[best] / rep_secs[best] : 0;
	    if (dps > bdps) {
		best = r;
	    }
	    secs += rep_secs[r];
	    msgs += rep_msgs[r];
	    dl += rep_deliv[r];
	    if (rep_cpu[r] < 0) {
		cpu_ok = 0;
	    }
	    cs += rep_cpu[r];
	    ll += (size_t) snprintf(list + ll, sizeof list - ll, "%s%.0f",
		    r ? "," : "", dps);
	    if (ll >= sizeof list) {
		ll = sizeof list - 1;
	    }
	}
	bsecs = rep_secs[best];
	kv("sat_reps", "%d", nrep);
	kv("sat_msgs", "%" PRIu64, msgs);
	kv("sat_deliv", "%" PRIu64, dl);
	kv("sat_secs", "%.3f", secs);
	if (bsecs > 0) {
	    kv("sat_mps", "%.0f", (double) rep_msgs[best] / bsecs);
	    kv("sat_dps", "%.0f", (double) rep_deliv[best] / bsecs);
	    kv("sat_mbps", "%.2f", (double) rep_deliv[best] * opt_B / bsecs / 1e6);
	}
	if (bsecs > 0 && (nsrv > 1 || opt_proto == P_REDIS)) {
	    kv("sat_dps_x", "%.0f", (double) rep_deliv_x[best] / bsecs);
	}
	kv("sat_dps_reps", "%s", list);
	kv("sat_dps_mean", "%.0f", secs > 0 ? (double) dl / secs : 0);
	kv("sat_p50_us", "%.1f", (double) hpct(&hist_sat, 0.50) / 1e3);
	kv("sat_p99_us", "%.1f", (double) hpct(&hist_sat, 0.99) / 1e3);
	kv("sat_max_us", "%.1f", (double) hist_sat.max / 1e3);
	if (cpu_ok && dl > 0 && secs > 0) {
	    kv("sat_cpu_s", "%.2f", cs);
	    kv("sat_cpu_per_M", "%.3f", cs / ((double) dl / 1e6));
	    kv("sat_srv_util", "%.2f", cs / secs);
	}
	if (opt_redis_pid) {
	    double rc_s = 0;
	    int rok = 1;
	    for (r = 0; r < nrep; r++) {
		if (rep_redis_cpu[r] < 0) {
		    rok = 0;
		}
		rc_s += rep_redis_cpu[r];
	    }
	    if (rok && dl > 0 && secs > 0) {
		kv("redis_cpu_s", "%.2f", rc_s);
		kv("redis_cpu_per_M", "%.5f", rc_s / ((double) dl / 1e6));
		kv("redis_util", "%.2f", rc_s / secs);
	    }
	}
    }
    {
	double lg = (double) (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec)
	    + (double) (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec)
	    + (double) (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6
	    + (double) (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	kv("lg_cpu_s", "%.2f", lg);
	kv("wall_s", "%.2f", (double) (now_ns() - t_begin) / 1e9);
    }
    if (stray_bytes) {
	kv("sender_rx_bytes", "%" PRIu64, stray_bytes);
    }
    if (opt_proto == P_REDIS) {
	kv("redis_pub_replies", "%" PRIu64, redis_replies);
	if (redis_replies_short) {
	    kv("redis_pub_short", "%" PRIu64, redis_replies_short);
	}
    }
    if (fail_reason[0]) {
	char *p;
	for (p = fail_reason; *p; p++) {
	    if (*p == ' ') {
		*p = '_';
	    }
	}
	kv("reason", "%s", fail_reason);
    }
    printf("%s\n", result);
    fflush(stdout);
    for (i = 0; i < nconn; i++) {
	conn_close(&conns[i]);
    }
    return strcmp(status, "FAIL") == 0 ? 1 : 0;
}
