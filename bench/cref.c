/*
 * cref.c -- minimal C epoll fan-out server: the benchmark's reference.
 *
 * Whatever one client sends is relayed, as the same chunk of bytes, to every
 * other client, in order.  It is what the multiplexer package does in raw
 * framing with the default configuration, without Tcl: the practical limit
 * for such a server on one core.
 *
 *  - one thread, one epoll set, edge-triggered: every client is registered
 *    once for input and output, so no epoll_ctl() is needed as queues fill
 *    and drain (writability is only reported after a write hit EAGAIN);
 *  - TCP_NODELAY on every client socket;
 *  - the soft descriptor limit is raised to the hard limit;
 *  - a chunk (one read(), up to 64 KiB) is written straight from the read
 *    buffer to every recipient whose queue is empty; only recipients that
 *    cannot take all of it at once get a queue entry, and those share one
 *    reference-counted copy of the chunk;
 *  - a queued recipient is flushed with writev() when it becomes writable;
 *  - a readable client is read until EAGAIN, each chunk fanned out at once;
 *  - a recipient whose queue exceeds 4 MiB is disconnected (the package's
 *    default maxqueue/overflow).
 *
 * Usage: cref ?port? ?address?     (defaults 0 and 127.0.0.1)
 * Prints the listening port on stdout as its first line; on SIGTERM or
 * SIGINT prints its counters (reads, writes, ...) on stderr and exits.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK		65536
#define MAXQUEUE	(4u * 1024 * 1024)
#define IOVS		64

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
} client_t;

/* Counters, printed to stderr on SIGTERM/SIGINT. */
static unsigned long long st_reads, st_bytes_in, st_writes, st_writevs,
	st_partial, st_queued, st_chunks_copied, st_wakeups;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void) sig;
    stop = 1;
}

static client_t *cl;		/* indexed by fd */
static int *active;		/* fds of connected clients */
static int nactive;
static int epfd, lfd;
static long maxfd;

static void
chunk_unref(chunk_t *c)
{
    if (--c->refs == 0) {
	free(c);
    }
}

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
    c->q = NULL;
    c->qcap = 0;
    c->qbytes = 0;
    last = active[--nactive];
    active[c->pos] = last;
    cl[last].pos = c->pos;
    close(fd);
    c->fd = -1;
}

static int
enqueue(client_t *c, chunk_t *ch, size_t off)
{
    if (c->qbytes + (ch->len - off) > MAXQUEUE && c->qn > 0) {
	return -1;
    }
    if (c->qn == c->qcap) {
	unsigned ncap = c->qcap ? c->qcap * 2 : 8, i;
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

/* Write as much of c's queue as the socket takes; -1 on error. */
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
	st_writevs++;
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

static char rbuf[CHUNK];

static void
fanout(int from, size_t len)
{
    chunk_t *shared = NULL;
    int i;
    /* Iterate over a snapshot index: drop() reorders the active list. */
    for (i = 0; i < nactive; i++) {
	int fd = active[i];
	client_t *c = &cl[fd];
	size_t done = 0;
	if (fd == from) {
	    continue;
	}
	if (c->qn == 0) {
	    ssize_t w = write(fd, rbuf, len);
	    st_writes++;
	    if (w == (ssize_t) len) {
		continue;
	    }
	    st_partial++;
	    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		drop(fd);
		i--;
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
	    st_chunks_copied++;
	    shared->len = len;
	    memcpy(shared->data, rbuf, len);
	}
	st_queued++;
	if (enqueue(c, shared, done) < 0) {
	    drop(fd);	/* overflow */
	    i--;
	    continue;
	}
    }
    if (shared) {
	chunk_unref(shared);
    }
}

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
	    /* EAGAIN, or out of descriptors: try again on the next event. */
	    return;
	}
	if (fd >= maxfd) {
	    close(fd);
	    continue;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
	    close(fd);
	    continue;
	}
	cl[fd].fd = fd;
	cl[fd].qn = cl[fd].qhead = cl[fd].qcap = 0;
	cl[fd].qbytes = 0;
	cl[fd].q = NULL;
	cl[fd].pos = nactive;
	active[nactive++] = fd;
    }
}

int
main(int argc, char **argv)
{
    struct rlimit rl;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct epoll_event evs[256], ev;
    int port = argc > 1 ? atoi(argv[1]) : 0, one = 1;
    const char *addr = argc > 2 ? argv[2] : "127.0.0.1";
    long i;

    signal(SIGPIPE, SIG_IGN);
    {
	struct sigaction sa_;
	memset(&sa_, 0, sizeof sa_);
	sa_.sa_handler = on_signal;
	sigaction(SIGTERM, &sa_, NULL);
	sigaction(SIGINT, &sa_, NULL);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    maxfd = (long) rl.rlim_cur;
    if (maxfd > 1 << 22) {
	maxfd = 1 << 22;
    }
    cl = calloc((size_t) maxfd, sizeof *cl);
    active = calloc((size_t) maxfd, sizeof *active);
    if (!cl || !active) {
	fprintf(stderr, "cref: out of memory\n");
	return 1;
    }
    for (i = 0; i < maxfd; i++) {
	cl[i].fd = -1;
    }

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
	fprintf(stderr, "cref: bad address %s\n", addr);
	return 1;
    }
    if (bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0
	    || listen(lfd, 4096) < 0
	    || getsockname(lfd, (struct sockaddr *) &sa, &sl) < 0) {
	perror("cref: listen");
	return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);

    while (!stop) {
	int n = epoll_wait(epfd, evs, 256, -1), k;
	st_wakeups++;
	if (n < 0) {
	    if (errno == EINTR) {
		continue;
	    }
	    perror("cref: epoll_wait");
	    return 1;
	}
	for (k = 0; k < n; k++) {
	    int fd = evs[k].data.fd;
	    if (fd == lfd) {
		accept_all();
		continue;
	    }
	    if (cl[fd].fd < 0) {
		continue;	/* dropped earlier in this batch */
	    }
	    if ((evs[k].events & EPOLLOUT) && cl[fd].qn > 0) {
		if (flush_queue(&cl[fd]) < 0) {
		    drop(fd);
		    continue;
		}
	    }
	    if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
		    ssize_t r = read(fd, rbuf, sizeof rbuf);
		    st_reads++;
		    if (r > 0) {
			st_bytes_in += (unsigned long long) r;
			fanout(fd, (size_t) r);
			if (cl[fd].fd < 0) {
			    break;
			}
			continue;
		    }
		    if (r < 0 && errno == EINTR) {
			continue;
		    }
		    if (r == 0 || errno != EAGAIN) {
			drop(fd);
		    }
		    break;
		}
	    }
	}
    }
    fprintf(stderr, "cref: wakeups %llu reads %llu bytes_in %llu writes %llu"
	    " partial %llu queued %llu chunk_copies %llu writevs %llu\n",
	    st_wakeups, st_reads, st_bytes_in, st_writes, st_partial, st_queued,
	    st_chunks_copied, st_writevs);
    return 0;
}
