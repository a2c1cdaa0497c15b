/*
 * cref_tls.c -- the C reference fan-out server (cref.c) over TLS.
 *
 * Whatever one client sends is relayed, as the same chunk of bytes, to every
 * other client, in order, exactly as cref.c does, but every client socket
 * carries TLS (server side, OpenSSL 3, TLS 1.2 or 1.3).  It is what the
 * multiplexer package is measured against when its clients use TLS: the
 * practical limit a careful C programmer reaches with OpenSSL on one core.
 *
 *  - one thread, one epoll set, edge-triggered: every client is registered
 *    once for input and output, so no epoll_ctl() is needed as queues fill
 *    and drain or as OpenSSL asks to read or to write;
 *  - TCP_NODELAY on every client socket; the soft descriptor limit is
 *    raised to the hard limit;
 *  - handshakes are non-blocking and run in the same loop (SSL_accept() on
 *    every event of the client until it completes); a client becomes a
 *    recipient once its handshake is done; no session tickets or session
 *    cache (nothing resumes), no renegotiation;
 *  - a message is one chunk SSL_read() returns (TLS hands over at most one
 *    record, 16 KiB of plaintext, per call); a readable client is read
 *    until SSL_read() wants to read, each chunk fanned out at once;
 *  - a chunk is written straight from the read buffer, with ONE
 *    SSL_write() per recipient (one TLS record each: every recipient has
 *    its own keys, so the encryption is done once per recipient); only
 *    recipients that cannot take it get a queue entry, and those share one
 *    reference-counted copy of the chunk;
 *  - an SSL_write() that wants to write (socket full) has already
 *    encrypted its record inside OpenSSL; it must be retried with the same
 *    bytes and the same length, so the queue's head entry is retried as
 *    it stands, one entry per SSL_write() (no coalescing as cref's
 *    writev() does: that would change the length);
 *    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the retry come from the
 *    shared copy when the first attempt came from the read buffer;
 *    SSL_MODE_ENABLE_PARTIAL_WRITE makes SSL_write() report each record
 *    written, as write() reports bytes (a chunk is one record, so this
 *    only matters for safety); SSL_MODE_RELEASE_BUFFERS frees OpenSSL's
 *    per-connection read and write buffers while idle (500 idle clients:
 *    about 20 KiB of RSS each with it, 36 KiB without; it costs a
 *    malloc() and free() per SSL_write(), roughly 5 to 8 % of the CPU
 *    per delivery at 100 x 1024 in a short check);
 *  - OpenSSL may hold received bytes the kernel no longer reports
 *    (read-ahead is on: one recv() fetches as much as OpenSSL's buffer
 *    holds, about 16 KiB, so several small records at once): with edge-triggered
 *    epoll, a client is therefore read until SSL_read() wants to read
 *    (then no complete record is left inside OpenSSL, SSL_pending() is
 *    0, and the next bytes come with a new edge), and read at once when
 *    its handshake completes (records that came with the last handshake
 *    message are already buffered and no edge will announce them);
 *  - a recipient whose queue exceeds 4 MiB is disconnected (the package's
 *    default maxqueue/overflow), without a close_notify.
 *
 * Usage: cref_tls certfile keyfile ?port? ?address?   (defaults 0, 127.0.0.1)
 * certfile is a PEM certificate chain, keyfile its PEM private key.
 * Prints the listening port on stdout as its first line; on SIGTERM or
 * SIGINT prints its counters (reads, writes, ...) on stderr and exits.
 *
 * Build: cc -O2 -g -Wall -Wextra -o cref_tls cref_tls.c -lssl -lcrypto
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
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define CHUNK		65536		/* read buffer; SSL_read gives <= 16 KiB */
#define MAXQUEUE	(4u * 1024 * 1024)

typedef struct chunk {
    unsigned refs;
    size_t len;
    char data[];
} chunk_t;

typedef struct {
    chunk_t *c;
    size_t off;			/* bytes of c SSL_write() has taken */
} qent_t;

typedef struct {
    int fd;			/* -1: slot unused */
    int pos;			/* index in the active list, -1 in handshake */
    SSL *ssl;
    unsigned char wr_wants_in;	/* the queue's SSL_write() wants to read */
    unsigned char rd_wants_out;	/* SSL_read() wants to write */
    qent_t *q;			/* ring of queued chunks */
    unsigned qhead, qn, qcap;
    size_t qbytes;
} client_t;

/* Counters, printed to stderr on SIGTERM/SIGINT. */
static unsigned long long st_reads, st_bytes_in, st_writes, st_flushes,
	st_blocked, st_queued, st_chunks_copied, st_wakeups, st_handshakes,
	st_hs_failed, st_overflows;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void) sig;
    stop = 1;
}

static client_t *cl;		/* indexed by fd */
static int *active;		/* fds of clients past their handshake */
static int nactive;
static int epfd, lfd;
static long maxfd;
static SSL_CTX *ctx;

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
    if (c->pos >= 0) {
	int last = active[--nactive];
	active[c->pos] = last;
	cl[last].pos = c->pos;
	c->pos = -1;
    }
    /* No SSL_shutdown(): a dropped client gets no close_notify. */
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(fd);
    c->fd = -1;
    /* Whatever made us drop it stays out of the next SSL_get_error(). */
    ERR_clear_error();
}

static int
enqueue(client_t *c, chunk_t *ch, size_t off)
{
    if (c->qbytes + (ch->len - off) > MAXQUEUE && c->qn > 0) {
	st_overflows++;
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

/*
 * SSL_write() of n bytes at p on c, repeated while it reports progress
 * short of n (partial writes: a chunk larger than a record).  Returns the
 * bytes written; *blocked is set if OpenSSL must be called again with the
 * rest (same bytes, same length), -1 in *blocked on a fatal error.
 */
static size_t
write_some(client_t *c, const char *p, size_t n, int *blocked,
	unsigned long long *calls)
{
    size_t done = 0;
    *blocked = 0;
    while (done < n) {
	int w = SSL_write(c->ssl, p + done, (int) (n - done)), e;
	(*calls)++;
	if (w > 0) {
	    done += (size_t) w;
	    continue;
	}
	e = SSL_get_error(c->ssl, w);
	if (e == SSL_ERROR_WANT_WRITE) {
	    *blocked = 1;
	} else if (e == SSL_ERROR_WANT_READ) {
	    /* Only a handshake message could need this; none is expected. */
	    c->wr_wants_in = 1;
	    *blocked = 1;
	} else {
	    *blocked = -1;
	}
	st_blocked += *blocked > 0;
	break;
    }
    return done;
}

/* Write as much of c's queue as the socket takes; -1 on error. */
static int
flush_queue(client_t *c)
{
    c->wr_wants_in = 0;
    while (c->qn) {
	qent_t *e = &c->q[c->qhead];
	int blocked;
	size_t w = write_some(c, e->c->data + e->off, e->c->len - e->off,
		&blocked, &st_flushes);
	e->off += w;
	c->qbytes -= w;
	if (blocked < 0) {
	    return -1;
	}
	if (blocked) {
	    break;		/* retried from e->off on the next edge */
	}
	chunk_unref(e->c);
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qn--;
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
	    int blocked;
	    done = write_some(c, rbuf, len, &blocked, &st_writes);
	    if (blocked < 0) {
		drop(fd);
		i--;
		continue;
	    }
	    if (!blocked) {
		continue;
	    }
	    /* Socket full: the rest waits, and is retried as it stands. */
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

/*
 * Read fd until SSL_read() wants to read (nothing left in the socket nor
 * inside OpenSSL), fanning out each chunk.
 */
static void
read_all(int fd)
{
    client_t *c = &cl[fd];
    c->rd_wants_out = 0;
    for (;;) {
	int r = SSL_read(c->ssl, rbuf, sizeof rbuf), e;
	if (r > 0) {
	    st_reads++;
	    st_bytes_in += (unsigned long long) r;
	    fanout(fd, (size_t) r);
	    continue;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
	    if (SSL_pending(c->ssl) > 0) {
		continue;	/* cannot happen: a whole record is left */
	    }
	    return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
	    c->rd_wants_out = 1;	/* resumed on the next output edge */
	    return;
	}
	/* close_notify, EOF, reset or a TLS error. */
	drop(fd);
	return;
    }
}

/* One step of c's handshake; once done, c is a recipient and is read. */
static void
handshake(int fd)
{
    client_t *c = &cl[fd];
    int r = SSL_accept(c->ssl), e;
    if (r == 1) {
	st_handshakes++;
	c->pos = nactive;
	active[nactive++] = fd;
	read_all(fd);
	return;
    }
    e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
	return;		/* both directions are watched: any edge resumes */
    }
    st_hs_failed++;
    drop(fd);
}

static void
accept_all(void)
{
    for (;;) {
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
	struct epoll_event ev;
	SSL *ssl;
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
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
	    SSL_free(ssl);
	    ERR_clear_error();
	    close(fd);
	    continue;
	}
	SSL_set_accept_state(ssl);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
	    SSL_free(ssl);
	    close(fd);
	    continue;
	}
	cl[fd].fd = fd;
	cl[fd].pos = -1;
	cl[fd].ssl = ssl;
	cl[fd].wr_wants_in = cl[fd].rd_wants_out = 0;
	cl[fd].qn = cl[fd].qhead = cl[fd].qcap = 0;
	cl[fd].qbytes = 0;
	cl[fd].q = NULL;
	/* The ClientHello is often there already. */
	handshake(fd);
    }
}

static SSL_CTX *
make_ctx(const char *cert, const char *key)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (!c
	    || !SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION)
	    || SSL_CTX_use_certificate_chain_file(c, cert) != 1
	    || SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1
	    || SSL_CTX_check_private_key(c) != 1) {
	ERR_print_errors_fp(stderr);
	return NULL;
    }
    SSL_CTX_set_mode(c, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
	    | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_read_ahead(c, 1);
    return c;
}

int
main(int argc, char **argv)
{
    struct rlimit rl;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct epoll_event evs[256], ev;
    int port, one = 1;
    const char *addr;
    long i;

    if (argc < 3 || argc > 5) {
	fprintf(stderr, "usage: cref_tls certfile keyfile ?port? ?address?\n");
	return 2;
    }
    port = argc > 3 ? atoi(argv[3]) : 0;
    addr = argc > 4 ? argv[4] : "127.0.0.1";

    signal(SIGPIPE, SIG_IGN);
    {
	struct sigaction sa_;
	memset(&sa_, 0, sizeof sa_);
	sa_.sa_handler = on_signal;
	sigaction(SIGTERM, &sa_, NULL);
	sigaction(SIGINT, &sa_, NULL);
    }
    ctx = make_ctx(argv[1], argv[2]);
    if (!ctx) {
	fprintf(stderr, "cref_tls: cannot use certificate %s / key %s\n",
		argv[1], argv[2]);
	return 1;
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
	fprintf(stderr, "cref_tls: out of memory\n");
	return 1;
    }
    for (i = 0; i < maxfd; i++) {
	cl[i].fd = -1;
	cl[i].pos = -1;
    }

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short) port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
	fprintf(stderr, "cref_tls: bad address %s\n", addr);
	return 1;
    }
    if (bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0
	    || listen(lfd, 4096) < 0
	    || getsockname(lfd, (struct sockaddr *) &sa, &sl) < 0) {
	perror("cref_tls: listen");
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
	    perror("cref_tls: epoll_wait");
	    return 1;
	}
	for (k = 0; k < n; k++) {
	    int fd = evs[k].data.fd;
	    unsigned evm = evs[k].events;
	    client_t *c;
	    if (fd == lfd) {
		accept_all();
		continue;
	    }
	    c = &cl[fd];
	    if (c->fd < 0) {
		continue;	/* dropped earlier in this batch */
	    }
	    if (c->pos < 0) {
		handshake(fd);	/* reads at once if it completes */
		continue;
	    }
	    /*
	     * Output first, as cref: a queue waits for EPOLLOUT, or for
	     * EPOLLIN if its SSL_write() wanted to read.
	     */
	    if (c->qn > 0 && ((evm & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		    || (c->wr_wants_in && (evm & EPOLLIN)))) {
		if (flush_queue(c) < 0) {
		    drop(fd);
		    continue;
		}
	    }
	    if ((evm & (EPOLLIN | EPOLLHUP | EPOLLERR))
		    || (c->rd_wants_out && (evm & EPOLLOUT))) {
		read_all(fd);
	    }
	}
    }
    fprintf(stderr, "cref_tls: wakeups %llu handshakes %llu hs_failed %llu"
	    " reads %llu bytes_in %llu writes %llu blocked %llu queued %llu"
	    " chunk_copies %llu flushes %llu overflows %llu\n",
	    st_wakeups, st_handshakes, st_hs_failed, st_reads, st_bytes_in,
	    st_writes, st_blocked, st_queued, st_chunks_copied, st_flushes,
	    st_overflows);
    return 0;
}
