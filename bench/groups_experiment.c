/*
 * groups_experiment.c -- issue #18's question "per-group channels or a
 * group tag: measure which is better at 10,000 groups", against a
 * redis-server (bench/groups_experiment.sh starts one).
 *
 *   groups_experiment --port P [--redis-pid PID] --mode channels|tag
 *                     [--groups 10000] [--nodes 3] [--interest 1.0]
 *                     [--messages 200000] [--bytes 64] [--window 2000]
 *                     [--timeout 60]
 *
 * N "nodes" (subscriber connections) each have members in a random
 * fraction --interest of the G groups (at least one group each); one
 * publisher connection sends M messages of B payload bytes, each to a
 * group drawn at random (a fixed seed: both modes send the same
 * sequence):
 *
 *   channels  each node SUBSCRIBEs to one channel per group it has members
 *             in ("g:<k>", up to 10,000 on one connection); a message is
 *             PUBLISHed to its group's channel, so Redis sends it only to
 *             the nodes that want it;
 *   tag       each node SUBSCRIBEs to one channel ("g"); a message is
 *             PUBLISHed there with its group number in its first 4 bytes,
 *             and every node receives every message and drops those of
 *             groups it has no members in.
 *
 * Checked: every node receives, exactly once and in order, every message
 * of its groups (channels: nothing else; tag: everything, of which it
 * keeps its groups' messages).  Reported on one line: the time to
 * subscribe, the time to move the messages (publisher's first write to
 * the last delivery), messages/s, Redis's CPU seconds (from
 * /proc/PID/stat, subscription and messages apart), this process's CPU
 * seconds (the publisher and the nodes' parsing and filtering), Redis's
 * used_memory after subscribing (INFO memory), and the bytes the nodes
 * received.  Every wait is bounded (--timeout); connections go to
 * 127.0.0.1 only.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXNODES 16

static int opt_port, opt_redis_pid, opt_groups = 10000, opt_nodes = 3;
static double opt_interest = 1.0, opt_timeout = 60;
static long opt_messages = 200000;
static int opt_bytes = 64, opt_window = 2000;
static int mode_tag;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double t_deadline;

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("groups_experiment: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    printf("RESULT status=FAIL\n");
    exit(1);
}

static double
self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
	+ (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static double
redis_cpu(void)
{
    char path[64], buf[1024], *p;
    unsigned long ut, st;
    int field;
    size_t n;
    FILE *f;
    if (!opt_redis_pid) {
	return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/stat", opt_redis_pid);
    if (!(f = fopen(path, "r"))) {
	return -1;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    if (!(p = strrchr(buf, ')'))) {
	return -1;
    }
    p += 2;
    for (field = 3; field < 14 && p; field++) {
	p = strchr(p, ' ');
	if (p) {
	    p++;
	}
    }
    if (!p || sscanf(p, "%lu %lu", &ut, &st) != 2) {
	return -1;
    }
    return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

static int
connect_redis(void)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct timeval tv = { 5, 0 };
    if (fd < 0) {
	die("socket: %s", strerror(errno));
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) opt_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
	die("connect 127.0.0.1:%d: %s", opt_port, strerror(errno));
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
	ssize_t w = write(fd, p, n);
	if (w < 0 && errno == EINTR) {
	    continue;
	}
	if (w <= 0) {
	    die("write: %s", w < 0 ? strerror(errno) : "0 bytes");
	}
	p += w;
	n -= (size_t) w;
    }
}

/* A growable input buffer per connection. */
typedef struct {
    int fd;
    char *buf;
    size_t len, cap, pos;
    /* node state */
    unsigned char *want;	/* per group: has members here */
    long *next;			/* per group: next sequence number due */
    long got, kept, dropped;
    long expect;		/* messages of its groups */
    uint64_t bytes;
    long subs_left;		/* subscribe confirmations still due */
} conn_t;

static void
fill(conn_t *c)
{
    ssize_t r;
    if (c->pos > 0 && c->pos == c->len) {
	c->pos = c->len = 0;
    } else if (c->pos > c->cap / 2) {
	memmove(c->buf, c->buf + c->pos, c->len - c->pos);
	c->len -= c->pos;
	c->pos = 0;
    }
    if (c->cap - c->len < 65536) {
	c->cap = c->cap ? c->cap * 2 : 1 << 20;
	if (!(c->buf = realloc(c->buf, c->cap))) {
	    die("out of memory");
	}
    }
    r = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (r == 0) {
	die("Redis closed a connection");
    }
    if (r < 0) {
	if (errno == EAGAIN || errno == EINTR) {
	    return;
	}
	die("read: %s", strerror(errno));
    }
    c->len += (size_t) r;
    c->bytes += (uint64_t) r;
}

/* A CRLF-terminated line at c->pos: its length without CRLF, or -1. */
static long
line_at(conn_t *c, size_t at)
{
    char *p = memchr(c->buf + at, '\n', c->len - at);
    if (!p) {
	return -1;
    }
    if (p == c->buf + at || p[-1] != '\r') {
	die("malformed reply");
    }
    return (long) (p - (c->buf + at)) - 1;
}

/*
 * One push message (an array of 3 bulk strings, or of a string and an
 * integer for subscribe) at c->pos: 1 and its parts if complete, 0 if not.
 */
static int
parse_push(conn_t *c, char **kind, long *klen, char **chan, long *clen,
	char **data, long *dlen, long *num)
{
    size_t at = c->pos;
    long l, i, n;
    char *parts[3];
    long lens[3];
    if ((l = line_at(c, at)) < 0) {
	return 0;
    }
    if (c->buf[at] != '*' || strtol(c->buf + at + 1, NULL, 10) != 3) {
	die("unexpected reply %.20s", c->buf + at);
    }
    at += (size_t) l + 2;
    *num = -1;
    for (i = 0; i < 3; i++) {
	if ((l = line_at(c, at)) < 0) {
	    return 0;
	}
	if (c->buf[at] == ':') {
	    *num = strtol(c->buf + at + 1, NULL, 10);
	    parts[i] = NULL;
	    lens[i] = 0;
	    at += (size_t) l + 2;
	    continue;
	}
	if (c->buf[at] != '$') {
	    die("unexpected element %.20s", c->buf + at);
	}
	n = strtol(c->buf + at + 1, NULL, 10);
	at += (size_t) l + 2;
	if (c->len - at < (size_t) n + 2) {
	    return 0;
	}
	parts[i] = c->buf + at;
	lens[i] = n;
	at += (size_t) n + 2;
    }
    *kind = parts[0]; *klen = lens[0];
    *chan = parts[1]; *clen = lens[1];
    *data = parts[2]; *dlen = lens[2];
    c->pos = at;
    return 1;
}

/* xorshift64*, fixed seed: the same groups and messages every run. */
static uint64_t rng = 88172645463325252ULL;
static uint64_t
rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

/* Handle what a node has received; returns messages completed. */
static void
node_input(conn_t *c)
{
    char *kind, *chan, *data;
    long klen, clen, dlen, num;
    while (parse_push(c, &kind, &klen, &chan, &clen, &data, &dlen, &num)) {
	long g, seq;
	if (klen == 9 && memcmp(kind, "subscribe", 9) == 0) {
	    if (c->subs_left-- <= 0) {
		die("unexpected subscribe confirmation");
	    }
	    continue;
	}
	if (klen != 7 || memcmp(kind, "message", 7) != 0) {
	    die("unexpected push %.*s", (int) klen, kind);
	}
	if (dlen != opt_bytes) {
	    die("message of %ld bytes, expected %d", dlen, opt_bytes);
	}
	c->got++;
	{
	    uint32_t g32;
	    int64_t s64;
	    memcpy(&g32, data, 4);
	    memcpy(&s64, data + 4, 8);
	    g = (long) g32;
	    seq = (long) s64;
	}
	if (g < 0 || g >= opt_groups) {
	    die("bad group %ld", g);
	}
	if (!mode_tag) {
	    /* The channel must be the message's group's. */
	    char name[32];
	    int nl = snprintf(name, sizeof name, "g:%ld", g);
	    if (clen != nl || memcmp(chan, name, (size_t) nl) != 0) {
		die("message of group %ld on channel %.*s", g, (int) clen, chan);
	    }
	    if (!c->want[g]) {
		die("message of group %ld this node has no members in", g);
	    }
	}
	if (!c->want[g]) {
	    c->dropped++;		/* tag: not ours, filtered here */
	    continue;
	}
	if (seq != c->next[g]) {
	    die("group %ld: message %ld where %ld was due (lost, duplicated"
		    " or reordered)", g, seq, c->next[g]);
	}
	c->next[g]++;
	c->kept++;
    }
}

/* used_memory from INFO memory, on a fresh connection. */
static long
redis_used_memory(void)
{
    conn_t c;
    long l, n, v = -1;
    char *p;
    memset(&c, 0, sizeof c);
    c.fd = connect_redis();
    write_all(c.fd, "*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n", 26);
    for (;;) {
	fill(&c);
	if ((l = line_at(&c, 0)) < 0) {
	    continue;
	}
	n = strtol(c.buf + 1, NULL, 10);
	if (c.len >= (size_t) l + 2 + (size_t) n + 2) {
	    break;
	}
	if (now_s() > t_deadline) {
	    die("timeout reading INFO");
	}
    }
    c.buf[c.len - 1] = 0;
    if ((p = strstr(c.buf, "used_memory:"))) {
	v = strtol(p + 12, NULL, 10);
    }
    close(c.fd);
    free(c.buf);
    return v;
}

int
main(int argc, char **argv)
{
    conn_t nodes[MAXNODES], pub;
    struct pollfd pfd[MAXNODES + 1];
    long *msg_group, m, sent = 0, replied = 0, expect_total = 0, i;
    int k, g;
    double t0, t_sub0, t_sub, t_msgs0, t_end, r0, r1, r2, c0, c1, c2;
    long mem0, mem1, subs_total = 0;
    char *cmd;
    size_t cmdcap;

    for (i = 1; i < argc; i++) {
	const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
	if (!v) {
	    goto usage;
	}
	if (!strcmp(a, "--port")) opt_port = atoi(v);
	else if (!strcmp(a, "--redis-pid")) opt_redis_pid = atoi(v);
	else if (!strcmp(a, "--mode")) mode_tag = !strcmp(v, "tag");
	else if (!strcmp(a, "--groups")) opt_groups = atoi(v);
	else if (!strcmp(a, "--nodes")) opt_nodes = atoi(v);
	else if (!strcmp(a, "--interest")) opt_interest = atof(v);
	else if (!strcmp(a, "--messages")) opt_messages = atol(v);
	else if (!strcmp(a, "--bytes")) opt_bytes = atoi(v);
	else if (!strcmp(a, "--window")) opt_window = atoi(v);
	else if (!strcmp(a, "--timeout")) opt_timeout = atof(v);
	else goto usage;
	i++;
    }
    if (opt_port <= 0 || opt_groups < 1 || opt_nodes < 1
	    || opt_nodes > MAXNODES || opt_interest <= 0 || opt_interest > 1
	    || opt_messages < 1 || opt_bytes < 12 || opt_window < 1) {
usage:
	fprintf(stderr, "usage: groups_experiment --port P [--redis-pid PID]"
		" --mode channels|tag [--groups G] [--nodes N] [--interest F]"
		" [--messages M] [--bytes B>=12] [--window W] [--timeout S]\n");
	return 2;
    }
    t0 = now_s();
    t_deadline = t0 + opt_timeout;
    mem0 = redis_used_memory();

    /* The nodes and their groups (at least one each). */
    for (k = 0; k < opt_nodes; k++) {
	conn_t *c = &nodes[k];
	memset(c, 0, sizeof *c);
	c->fd = connect_redis();
	c->want = calloc((size_t) opt_groups, 1);
	c->next = calloc((size_t) opt_groups, sizeof *c->next);
	if (!c->want || !c->next) {
	    die("out of memory");
	}
	for (g = 0; g < opt_groups; g++) {
	    c->want[g] = (double) (rnd() >> 11) / 9007199254740992.0
		< opt_interest;
	}
	c->want[rnd() % (uint64_t) opt_groups] = 1;
    }
    /* The messages' groups, and what each node is due. */
    msg_group = malloc((size_t) opt_messages * sizeof *msg_group);
    if (!msg_group) {
	die("out of memory");
    }
    for (m = 0; m < opt_messages; m++) {
	msg_group[m] = (long) (rnd() % (uint64_t) opt_groups);
	for (k = 0; k < opt_nodes; k++) {
	    nodes[k].expect += nodes[k].want[msg_group[m]];
	}
    }
    for (k = 0; k < opt_nodes; k++) {
	expect_total += nodes[k].expect;
    }

    /* Subscribe: one command per node, all its channels (pipelined). */
    t_sub0 = now_s();
    r0 = redis_cpu();
    c0 = self_cpu();
    cmdcap = (size_t) opt_groups * 32 + 64;
    cmd = malloc(cmdcap > (size_t) opt_window * ((size_t) opt_bytes + 64)
	    ? cmdcap : (size_t) opt_window * ((size_t) opt_bytes + 64));
    if (!cmd) {
	die("out of memory");
    }
    for (k = 0; k < opt_nodes; k++) {
	conn_t *c = &nodes[k];
	size_t n = 0;
	long nch = 0;
	if (mode_tag) {
	    n = (size_t) sprintf(cmd, "*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\ng\r\n");
	    nch = 1;
	} else {
	    for (g = 0; g < opt_groups; g++) {
		nch += c->want[g];
	    }
	    n = (size_t) sprintf(cmd, "*%ld\r\n$9\r\nSUBSCRIBE\r\n", nch + 1);
	    for (g = 0; g < opt_groups; g++) {
		if (c->want[g]) {
		    char name[32];
		    int nl = snprintf(name, sizeof name, "g:%d", g);
		    n += (size_t) sprintf(cmd + n, "$%d\r\n%s\r\n", nl, name);
		}
	    }
	}
	c->subs_left = nch;
	subs_total += nch;
	write_all(c->fd, cmd, n);
    }
    for (k = 0; k < opt_nodes; k++) {
	while (nodes[k].subs_left > 0) {
	    fill(&nodes[k]);
	    node_input(&nodes[k]);
	    if (now_s() > t_deadline) {
		die("timeout subscribing");
	    }
	}
    }
    t_sub = now_s();
    r1 = redis_cpu();
    c1 = self_cpu();
    mem1 = redis_used_memory();

    /* Publish, at most --window messages unanswered. */
    memset(&pub, 0, sizeof pub);
    pub.fd = connect_redis();
    t_msgs0 = now_s();
    for (;;) {
	long got = 0;
	int npfd = 0;
	for (k = 0; k < opt_nodes; k++) {
	    got += nodes[k].kept;
	}
	if (replied == opt_messages && got == expect_total) {
	    int done = 1;
	    for (k = 0; k < opt_nodes; k++) {
		/* tag: every node also sees every other message. */
		if (mode_tag && nodes[k].got != opt_messages) {
		    done = 0;
		}
	    }
	    if (done) {
		break;
	    }
	}
	if (now_s() > t_deadline) {
	    die("timeout: %ld of %ld published, %ld of %ld kept", replied,
		    opt_messages, got, expect_total);
	}
	if (sent < opt_messages && sent - replied < opt_window) {
	    size_t n = 0;
	    long room = opt_window - (sent - replied);
	    while (room-- > 0 && sent < opt_messages) {
		long grp = msg_group[sent];
		char name[32];
		int nl;
		uint32_t g32 = (uint32_t) grp;
		int64_t seq = 0;
		/* Sequence number within the group: counted as sent. */
		static long *gseq;
		if (!gseq && !(gseq = calloc((size_t) opt_groups, sizeof *gseq))) {
		    die("out of memory");
		}
		seq = gseq[grp]++;
		nl = mode_tag ? snprintf(name, sizeof name, "g")
		    : snprintf(name, sizeof name, "g:%ld", grp);
		n += (size_t) sprintf(cmd + n, "*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n",
			nl, name, opt_bytes);
		memcpy(cmd + n, &g32, 4);
		memcpy(cmd + n + 4, &seq, 8);
		memset(cmd + n + 12, 'x', (size_t) opt_bytes - 12);
		n += (size_t) opt_bytes;
		memcpy(cmd + n, "\r\n", 2);
		n += 2;
		sent++;
	    }
	    write_all(pub.fd, cmd, n);
	}
	pfd[npfd].fd = pub.fd;
	pfd[npfd++].events = POLLIN;
	for (k = 0; k < opt_nodes; k++) {
	    pfd[npfd].fd = nodes[k].fd;
	    pfd[npfd++].events = POLLIN;
	}
	if (poll(pfd, (nfds_t) npfd, 100) < 0 && errno != EINTR) {
	    die("poll: %s", strerror(errno));
	}
	if (pfd[0].revents) {
	    long l;
	    fill(&pub);
	    while ((l = line_at(&pub, pub.pos)) >= 0) {
		if (pub.buf[pub.pos] != ':') {
		    die("PUBLISH answered %.20s", pub.buf + pub.pos);
		}
		pub.pos += (size_t) l + 2;
		replied++;
	    }
	}
	for (k = 0; k < opt_nodes; k++) {
	    if (pfd[k + 1].revents) {
		fill(&nodes[k]);
		node_input(&nodes[k]);
	    }
	}
    }
    t_end = now_s();
    r2 = redis_cpu();
    c2 = self_cpu();
    {
	uint64_t bytes = 0;
	long dropped = 0;
	for (k = 0; k < opt_nodes; k++) {
	    bytes += nodes[k].bytes;
	    dropped += nodes[k].dropped;
	    if (nodes[k].kept != nodes[k].expect) {
		die("node %d kept %ld of %ld", k, nodes[k].kept, nodes[k].expect);
	    }
	}
	printf("RESULT status=ok mode=%s groups=%d nodes=%d interest=%.3f"
		" messages=%ld bytes=%d subscriptions=%ld subscribe_s=%.3f"
		" redis_sub_cpu_s=%.2f redis_mem_sub_kb=%ld msgs_s=%.3f"
		" msgs_per_s=%.0f deliveries_kept=%ld deliveries_dropped=%ld"
		" redis_cpu_s=%.2f redis_cpu_per_M_msgs=%.3f"
		" client_cpu_s=%.2f client_sub_cpu_s=%.2f node_rx_bytes=%" PRIu64 "\n",
		mode_tag ? "tag" : "channels", opt_groups, opt_nodes,
		opt_interest, opt_messages, opt_bytes, subs_total,
		t_sub - t_sub0,
		r1 - r0, mem0 >= 0 && mem1 >= 0 ? (mem1 - mem0) / 1024 : -1,
		t_end - t_msgs0, (double) opt_messages / (t_end - t_msgs0),
		expect_total, dropped, r2 - r1,
		(r2 - r1) / ((double) opt_messages / 1e6), c2 - c1, c1 - c0,
		bytes);
    }
    return 0;
}
