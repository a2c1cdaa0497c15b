/*
 * cref_mcast.c -- C reference for the multicast cells of the benchmark:
 * a relay between the TCP clients of one node and an IP multicast group
 * that the other nodes (each a copy of this program, in a network
 * namespace of its own) have joined too.
 *
 * Line framing, as the package's multicast column runs in those cells
 * (`Config framing line`, `Multicast join`):
 *
 *  - whatever a client sends is cut into lines ("\n"-terminated); the
 *    complete lines of one read go, as one write, to every other client
 *    of this node, and each line goes to the group as one datagram: a
 *    16-byte header (magic "CRM1", node id, sequence number; all
 *    big-endian) and the line without its "\n" (the package's datagram
 *    is its envelope and the message, also one per line);
 *  - a datagram from the group is checked (magic, length), dropped if it
 *    is this node's own (the node id: loopback is off anyway,
 *    IP_MULTICAST_LOOP 0) or older than the sender's last one
 *    (duplicate), counted as a gap if numbers are missing before it, and
 *    its line, "\n" added back, goes to every client of this node; the
 *    datagrams of one recvmmsg() (up to 64) go to each client as one
 *    write;
 *  - one thread, one epoll set, edge-triggered; TCP_NODELAY; a chunk is
 *    written straight to each recipient whose queue is empty, and only
 *    those that cannot take it all share one reference-counted copy,
 *    flushed with writev() when writable; a queue over 4 MiB disconnects
 *    the client (as bench/cref.c and the package's default);
 *  - datagrams are sent with sendmmsg() (up to 64 per call) on a
 *    blocking socket, so a full send buffer waits rather than drops;
 *    they are received with recvmmsg(MSG_DONTWAIT) into a receive buffer
 *    of RCVBUF bytes (SO_RCVBUF, default 4 MiB; the system caps it at
 *    net.core.rmem_max);
 *  - a line longer than a datagram can carry (65,491 bytes) is not sent
 *    to the group and is counted (toobig); nothing else limits lines.
 *
 * Usage: cref_mcast ADDR GROUP PORT NODEID ?RCVBUF?
 *   listens on ADDR, an ephemeral port, and prints that port on stdout as
 *   its first line; joins GROUP (IPv4) on UDP PORT on the interface that
 *   holds ADDR, and sends there (TTL 1, loopback off).  On SIGTERM or
 *   SIGINT prints its counters on stderr as one line
 *   "cref_mcast: STATS key value ..." and exits.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK		65536		/* one read() from a client */
#define HDR		16		/* datagram header */
#define DGRAM_MAX	65507		/* UDP payload over IPv4 */
#define LINE_MAX_DG	(DGRAM_MAX - HDR)
#define MAXQUEUE	(4u * 1024 * 1024)
#define IOVS		64
#define BATCH		64		/* datagrams per sendmmsg/recvmmsg */
#define MAXSENDERS	64

typedef struct chunk {
    unsigned refs;
    size_t len;
    char data[];
} chunk_t;

typedef struct {
    chunk_t *c;
    size_t off;
} qent_t;

typedef struct {
    int fd;			/* -1: slot unused */
    int pos;			/* index in the active list */
    qent_t *q;			/* ring of queued chunks */
    unsigned qhead, qn, qcap;
    size_t qbytes;
    char *in;			/* read buffer: a partial line, then a read */
    size_t inlen;		/* bytes of a partial line kept in it */
    int skipping;		/* discarding an over-long line to its end */
} client_t;

typedef struct {
    uint32_t node;
    uint64_t last;		/* last sequence number taken */
} sender_t;

/* Counters, printed to stderr on SIGTERM/SIGINT. */
static unsigned long long st_sent, st_send_calls, st_send_errors,
	st_received, st_recv_calls, st_delivered_batches, st_echoes, st_gaps,
	st_duplicates, st_malformed, st_toobig, st_reads, st_writes,
	st_queued, st_overflows;
static volatile sig_atomic_t stop;

static client_t *cl;		/* indexed by fd */
static int *active;		/* fds of connected clients */
static int nactive;
static int epfd, lfd, ufd;
static long maxfd;
static uint32_t my_node;
static uint64_t my_seq;
static struct sockaddr_in group_sa;
static sender_t senders[MAXSENDERS];
static int nsenders;

/* Outgoing datagrams, collected per read and sent with sendmmsg(). */
static struct mmsghdr out_msgs[BATCH];
static struct iovec out_iov[BATCH][2];
static unsigned char out_hdr[BATCH][HDR];
static int out_n;

/* Incoming datagrams: one buffer each for a recvmmsg() batch. */
static struct mmsghdr in_msgs[BATCH];
static struct iovec in_iov[BATCH];
static char *in_bufs;
static char *in_out;		/* the batch's lines, "\n" added */

/*
 * Signal handler: asks the main loop to stop.
 */
static void
on_signal(int sig)
{
    (void) sig;
    stop = 1;
}

/*
 * Releases one reference to a shared chunk, freeing it with the last.
 */
static void
chunk_unref(chunk_t *c)
{
    if (--c->refs == 0) {
	free(c);
    }
}

/*
 * Closes a client: releases its queue and buffer and removes it from the
 * active list (the last active client takes its place).
 */
static void
drop(int fd)
{
    client_t *c = &cl[fd];
    int last;
    if (c->fd < 0) {
	return;
    }
    while (c->qn) {
	chunk_unref(c->q[c->qhead].c);
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qn--;
    }
    free(c->q);
    free(c->in);
    c->q = NULL;
    c->in = NULL;
    c->qcap = 0;
    c->qbytes = 0;
    last = active[--nactive];
    active[c->pos] = last;
    cl[last].pos = c->pos;
    close(fd);
    c->fd = -1;
}

/*
 * Appends chunk ch from offset off to c's queue, taking a reference.
 * Returns -1 if the queue would exceed MAXQUEUE (the caller drops the
 * client) or memory runs out, 0 otherwise.
 */
static int
enqueue(client_t *c, chunk_t *ch, size_t off)
{
    if (c->qbytes + (ch->len - off) > MAXQUEUE && c->qn > 0) {
	st_overflows++;
	return -1;
    }
    if (c->qn == c->qcap) {
	unsigned ncap = c->qcap ? c->qcap * 2 : 16, i;
	qent_t *nq = malloc(ncap * sizeof *nq);
	if (!nq) {
	    return -1;
	}
	for (i = 0; i < c->qn; i++) {
	    nq[i] = c->q[(c->qhead + i) % c->qcap];
	}
	free(c->q);
	c->q = nq;
	c->qhead = 0;
	c->qcap = ncap;
    }
    c->q[(c->qhead + c->qn) % c->qcap].c = ch;
    c->q[(c->qhead + c->qn) % c->qcap].off = off;
    c->qn++;
    c->qbytes += ch->len - off;
    ch->refs++;
    return 0;
}

/*
 * Writes as much of c's queue as the socket takes (writev, up to IOVS
 * entries a call).  Returns -1 on a socket error, 0 otherwise.
 */
static int
flush_queue(client_t *c)
{
    while (c->qn) {
	struct iovec iov[IOVS];
	unsigned i, n = c->qn < IOVS ? c->qn : IOVS;
	ssize_t w;
	for (i = 0; i < n; i++) {
	    qent_t *e = &c->q[(c->qhead + i) % c->qcap];
	    iov[i].iov_base = e->c->data + e->off;
	    iov[i].iov_len = e->c->len - e->off;
	}
	w = writev(c->fd, iov, (int) n);
	if (w < 0) {
	    if (errno == EAGAIN || errno == EWOULDBLOCK) {
		break;
	    }
	    if (errno == EINTR) {
		continue;
	    }
	    return -1;
	}
	c->qbytes -= (size_t) w;
	while (w > 0) {
	    qent_t *e = &c->q[c->qhead];
	    size_t left = e->c->len - e->off;
	    if ((size_t) w >= left) {
		w -= (ssize_t) left;
		chunk_unref(e->c);
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qn--;
	    } else {
		e->off += (size_t) w;
		w = 0;
	    }
	}
    }
    return 0;
}

/*
 * Sends data[0..len) to every active client but `from` (-1: to all):
 * straight from data to each client with an empty queue, a shared copy
 * queued for the others.
 */
static void
fanout(int from, const char *data, size_t len)
{
    chunk_t *shared = NULL;
    int i;
    for (i = 0; i < nactive; i++) {
	int fd = active[i];
	client_t *c = &cl[fd];
	size_t done = 0;
	if (fd == from) {
	    continue;
	}
	if (c->qn == 0) {
	    ssize_t w = write(fd, data, len);
	    st_writes++;
	    if (w == (ssize_t) len) {
		continue;
	    }
	    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		drop(fd);
		i--;		/* the last active client moved here */
		continue;
	    }
	    done = w > 0 ? (size_t) w : 0;
	}
	if (!shared) {
	    shared = malloc(sizeof *shared + len);
	    if (!shared) {
		drop(fd);
		i--;
		continue;
	    }
	    shared->refs = 1;	/* ours, released below */
	    shared->len = len;
	    memcpy(shared->data, data, len);
	}
	st_queued++;
	if (enqueue(c, shared, done) < 0) {
	    drop(fd);
	    i--;
	    continue;
	}
    }
    if (shared) {
	chunk_unref(shared);
    }
}

/*
 * Stores v big-endian in 8 bytes at p.
 */
static void
put64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 7; i >= 0; i--) {
	p[i] = (unsigned char) v;
	v >>= 8;
    }
}

/*
 * Reads 8 big-endian bytes at p.
 */
static uint64_t
get64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) {
	v = (v << 8) | p[i];
    }
    return v;
}

/*
 * Sends the datagrams collected in out_msgs (sendmmsg, blocking socket:
 * a full send buffer waits).  A datagram the system refuses is counted
 * and skipped.
 */
static void
flush_datagrams(void)
{
    int done = 0;
    while (done < out_n) {
	int n = sendmmsg(ufd, out_msgs + done, (unsigned) (out_n - done), 0);
	st_send_calls++;
	if (n < 0) {
	    if (errno == EINTR) {
		continue;
	    }
	    st_send_errors++;	/* this one refused: go on with the rest */
	    done++;
	    continue;
	}
	st_sent += (unsigned long long) n;
	done += n;
    }
    out_n = 0;
}

/*
 * Adds one line (without its "\n") as a datagram to the outgoing batch,
 * sending the batch when full.  The line must stay in place until the
 * batch is sent (flush_datagrams() is called before its buffer changes).
 */
static void
queue_datagram(const char *line, size_t len)
{
    unsigned char *h;
    if (len > LINE_MAX_DG) {
	st_toobig++;
	return;
    }
    h = out_hdr[out_n];
    memcpy(h, "CRM1", 4);
    h[4] = (unsigned char) (my_node >> 24);
    h[5] = (unsigned char) (my_node >> 16);
    h[6] = (unsigned char) (my_node >> 8);
    h[7] = (unsigned char) my_node;
    put64(h + 8, ++my_seq);
    out_iov[out_n][0].iov_base = h;
    out_iov[out_n][0].iov_len = HDR;
    out_iov[out_n][1].iov_base = (void *) line;
    out_iov[out_n][1].iov_len = len;
    memset(&out_msgs[out_n], 0, sizeof out_msgs[out_n]);
    out_msgs[out_n].msg_hdr.msg_name = &group_sa;
    out_msgs[out_n].msg_hdr.msg_namelen = sizeof group_sa;
    out_msgs[out_n].msg_hdr.msg_iov = out_iov[out_n];
    out_msgs[out_n].msg_hdr.msg_iovlen = 2;
    if (++out_n == BATCH) {
	flush_datagrams();
    }
}

/*
 * Reads a readable client until EAGAIN.  Each read is appended to the
 * client's partial line; the complete lines go to the other clients as
 * one write and to the group one datagram each; the partial line at the
 * end is kept.  A line longer than CHUNK bytes cannot be held: it is
 * counted (toobig) and discarded up to its "\n".
 */
static void
read_client(int fd)
{
    client_t *c = &cl[fd];
    for (;;) {
	ssize_t r;
	size_t have, start = 0, end, i;
	char *nl;
	if (c->inlen == CHUNK) {
	    st_toobig++;	/* no "\n" in a whole buffer */
	    c->inlen = 0;
	    c->skipping = 1;
	}
	r = read(fd, c->in + c->inlen, CHUNK - c->inlen);
	st_reads++;
	if (r < 0 && errno == EINTR) {
	    continue;
	}
	if (r <= 0) {
	    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		drop(fd);
	    }
	    return;
	}
	have = c->inlen + (size_t) r;
	if (c->skipping) {
	    nl = memchr(c->in + c->inlen, '\n', (size_t) r);
	    if (!nl) {
		c->inlen = 0;
		continue;
	    }
	    c->skipping = 0;
	    start = (size_t) (nl - c->in) + 1;
	}
	/* The complete lines: start .. end (end just past the last "\n"). */
	nl = memrchr(c->in + start, '\n', have - start);
	end = nl ? (size_t) (nl - c->in) + 1 : start;
	if (end > start) {
	    fanout(fd, c->in + start, end - start);
	    for (i = start; i < end;) {
		char *e = memchr(c->in + i, '\n', end - i);
		size_t ll = (size_t) (e - (c->in + i));
		queue_datagram(c->in + i, ll);
		i += ll + 1;
	    }
	    flush_datagrams();	/* before the buffer is reused */
	}
	if (cl[fd].fd < 0) {
	    return;
	}
	memmove(c->in, c->in + end, have - end);
	c->inlen = have - end;
    }
}

/*
 * Reads the group's datagrams until EAGAIN, a recvmmsg() batch at a
 * time; the lines of a batch's valid datagrams of other nodes go to
 * every client as one write.
 */
static void
read_group(void)
{
    for (;;) {
	int n, k, s;
	size_t olen = 0;
	for (k = 0; k < BATCH; k++) {
	    in_iov[k].iov_base = in_bufs + (size_t) k * CHUNK;
	    in_iov[k].iov_len = CHUNK;
	    memset(&in_msgs[k], 0, sizeof in_msgs[k]);
	    in_msgs[k].msg_hdr.msg_iov = &in_iov[k];
	    in_msgs[k].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(ufd, in_msgs, BATCH, MSG_DONTWAIT, NULL);
	st_recv_calls++;
	if (n < 0) {
	    if (errno == EINTR) {
		continue;
	    }
	    return;		/* EAGAIN: drained */
	}
	for (k = 0; k < n; k++) {
	    const unsigned char *p = in_iov[k].iov_base;
	    size_t len = in_msgs[k].msg_len;
	    uint32_t node;
	    uint64_t seq;
	    sender_t *sd = NULL;
	    if (len < HDR || memcmp(p, "CRM1", 4) != 0
		    || (in_msgs[k].msg_hdr.msg_flags & MSG_TRUNC)) {
		st_malformed++;
		continue;
	    }
	    node = ((uint32_t) p[4] << 24) | ((uint32_t) p[5] << 16)
		    | ((uint32_t) p[6] << 8) | p[7];
	    seq = get64(p + 8);
	    if (node == my_node) {
		st_echoes++;
		continue;
	    }
	    for (s = 0; s < nsenders; s++) {
		if (senders[s].node == node) {
		    sd = &senders[s];
		    break;
		}
	    }
	    if (!sd) {
		if (nsenders == MAXSENDERS) {
		    st_malformed++;
		    continue;
		}
		sd = &senders[nsenders++];
		sd->node = node;
		sd->last = seq - 1;	/* counted from the first heard */
	    }
	    if (seq <= sd->last) {
		st_duplicates++;
		continue;
	    }
	    st_gaps += seq - sd->last - 1;
	    sd->last = seq;
	    st_received++;
	    memcpy(in_out + olen, p + HDR, len - HDR);
	    olen += len - HDR;
	    in_out[olen++] = '\n';
	}
	if (olen > 0) {
	    st_delivered_batches++;
	    fanout(-1, in_out, olen);
	}
	if (n < BATCH) {
	    return;
	}
    }
}

/*
 * Accepts every pending connection: non-blocking, TCP_NODELAY, a read
 * buffer, registered edge-triggered for input and output.
 */
static void
accept_all(void)
{
    for (;;) {
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
	struct epoll_event ev;
	if (fd < 0) {
	    if (errno == EINTR) {
		continue;
	    }
	    return;		/* EAGAIN, or out of descriptors */
	}
	if (fd >= maxfd || !(cl[fd].in = malloc(CHUNK))) {
	    close(fd);
	    continue;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
	    free(cl[fd].in);
	    cl[fd].in = NULL;
	    close(fd);
	    continue;
	}
	cl[fd].fd = fd;
	cl[fd].qn = cl[fd].qhead = cl[fd].qcap = 0;
	cl[fd].qbytes = 0;
	cl[fd].q = NULL;
	cl[fd].inlen = 0;
	cl[fd].skipping = 0;
	cl[fd].pos = nactive;
	active[nactive++] = fd;
    }
}

/*
 * Opens the group socket: bound to GROUP:PORT, joined on the interface
 * holding addr, sending through it with TTL 1 and loopback off, only the
 * datagrams of groups this socket joined (IP_MULTICAST_ALL 0), receive
 * buffer rcvbuf.  Returns the socket or -1 (with a message).
 */
static int
open_group(const char *addr, const char *group, int port, int rcvbuf)
{
    struct ip_mreq mr;
    struct in_addr ifa;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, zero = 0;
    unsigned char ttl = 1, loop = 0;
    if (fd < 0) {
	perror("cref_mcast: socket");
	return -1;
    }
    memset(&group_sa, 0, sizeof group_sa);
    group_sa.sin_family = AF_INET;
    group_sa.sin_port = htons((unsigned short) port);
    if (inet_pton(AF_INET, group, &group_sa.sin_addr) != 1
	    || inet_pton(AF_INET, addr, &ifa) != 1) {
	fprintf(stderr, "cref_mcast: bad address %s or group %s\n", addr, group);
	close(fd);
	return -1;
    }
    memset(&mr, 0, sizeof mr);
    mr.imr_multiaddr = group_sa.sin_addr;
    mr.imr_interface = ifa;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
	    || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0
	    || bind(fd, (struct sockaddr *) &group_sa, sizeof group_sa) < 0
	    || setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0
	    || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa) < 0
	    || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0
	    || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) < 0
	    || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero) < 0) {
	perror("cref_mcast: group socket");
	close(fd);
	return -1;
    }
    return fd;
}

/*
 * Sets everything up, prints the port, then serves until SIGTERM/SIGINT
 * and prints the counters.
 */
int
main(int argc, char **argv)
{
    struct rlimit rl;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct epoll_event evs[256], ev;
    int one = 1, rcvbuf, got = 0;
    socklen_t gl = sizeof got;
    long i;

    if (argc < 5 || argc > 6) {
	fprintf(stderr, "usage: cref_mcast ADDR GROUP PORT NODEID ?RCVBUF?\n");
	return 2;
    }
    my_node = (uint32_t) strtoul(argv[4], NULL, 10);
    rcvbuf = argc > 5 ? atoi(argv[5]) : 4 * 1024 * 1024;
    signal(SIGPIPE, SIG_IGN);
    {
	struct sigaction sa_;
	memset(&sa_, 0, sizeof sa_);
	sa_.sa_handler = on_signal;	/* no SA_RESTART: epoll_wait returns */
	sigaction(SIGTERM, &sa_, NULL);
	sigaction(SIGINT, &sa_, NULL);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    maxfd = (long) rl.rlim_cur;
    if (maxfd > 1 << 20) {
	maxfd = 1 << 20;
    }
    cl = calloc((size_t) maxfd, sizeof *cl);
    active = calloc((size_t) maxfd, sizeof *active);
    in_bufs = malloc((size_t) BATCH * CHUNK);
    in_out = malloc((size_t) BATCH * (CHUNK + 1));
    if (!cl || !active || !in_bufs || !in_out) {
	fprintf(stderr, "cref_mcast: out of memory\n");
	return 1;
    }
    for (i = 0; i < maxfd; i++) {
	cl[i].fd = -1;
    }

    if ((ufd = open_group(argv[1], argv[2], atoi(argv[3]), rcvbuf)) < 0) {
	return 1;
    }
    getsockopt(ufd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, argv[1], &sa.sin_addr);
    if (bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0
	    || listen(lfd, 4096) < 0
	    || getsockname(lfd, (struct sockaddr *) &sa, &sl) < 0) {
	perror("cref_mcast: listen");
	return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = ufd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, ufd, &ev);
    fprintf(stderr, "cref_mcast: node %u on %s, group %s port %s,"
	    " SO_RCVBUF %d (asked %d)\n", my_node, argv[1], argv[2], argv[3],
	    got, rcvbuf);
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    while (!stop) {
	int n = epoll_wait(epfd, evs, 256, -1), k;
	if (n < 0) {
	    if (errno == EINTR) {
		continue;
	    }
	    perror("cref_mcast: epoll_wait");
	    return 1;
	}
	for (k = 0; k < n; k++) {
	    int fd = evs[k].data.fd;
	    if (fd == lfd) {
		accept_all();
		continue;
	    }
	    if (fd == ufd) {
		read_group();
		continue;
	    }
	    if (cl[fd].fd < 0) {
		continue;	/* dropped earlier in this batch */
	    }
	    if ((evs[k].events & EPOLLOUT) && cl[fd].qn > 0
		    && flush_queue(&cl[fd]) < 0) {
		drop(fd);
		continue;
	    }
	    if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		read_client(fd);
	    }
	}
    }
    fprintf(stderr, "cref_mcast: STATS sent %llu send_calls %llu"
	    " dropped %llu received %llu recv_calls %llu delivered_batches %llu"
	    " echoes %llu gaps %llu duplicates %llu malformed %llu toobig %llu"
	    " reads %llu writes %llu queued %llu overflows %llu\n",
	    st_sent, st_send_calls, st_send_errors, st_received, st_recv_calls,
	    st_delivered_batches, st_echoes, st_gaps, st_duplicates,
	    st_malformed, st_toobig, st_reads, st_writes, st_queued,
	    st_overflows);
    return 0;
}
