/*
 * churn.c --
 *
 *	Connection churn against a line-framed server: TOTAL connections,
 *	at most CONCURRENCY at a time, each of which connects, sends one line
 *	"churn N", waits until that line comes back (the server must echo to
 *	the sender: Config sendtoorigin 1), then goes away in one of three
 *	ways, in turn: a normal close, a reset (SO_LINGER 0), or a half-close
 *	(shutdown for writing) followed by waiting for the server to close.
 *	Used by churn.test; the test's own Tcl process could not hold this
 *	many sockets (Tcl's select notifier stops at 1024 descriptors).
 *
 *	    churn HOST PORT TOTAL CONCURRENCY TIMEOUT_MS
 *
 *	TIMEOUT_MS bounds the whole run; one connection may take at most 10 s.
 *	Prints one line:
 *	    total T ok K failed F closes C resets R halfcloses H elapsed_ms E
 *	and exits 0 if every connection completed (K == T), 1 otherwise, 2 for
 *	bad arguments. Diagnostics for failures go to stderr (the first few).
 */

#define _DEFAULT_SOURCE 1
#define _GNU_SOURCE 1

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define CONN_TIMEOUT_MS 10000
#define TAIL 64

enum { ST_FREE, ST_CONNECTING, ST_WAIT_ECHO, ST_WAIT_EOF };

typedef struct Conn {
    int fd;
    int state;
    long index;			/* Which connection (0..TOTAL-1). */
    long long started;
    char want[32];		/* The line to wait for. */
    size_t wantLen;
    char tail[TAIL + 65536];	/* Unmatched end of what was received. */
    size_t tailLen;
} Conn;

static struct sockaddr_storage addr;
static socklen_t addrLen;
static long okCount, failCount, closes, resets, halfCloses, reported;

static long long
NowMs(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
Fail(Conn *c, const char *what, int err)
{
    if (reported++ < 5) {
	fprintf(stderr, "churn: connection %ld: %s%s%s\n", c->index, what,
		err ? ": " : "", err ? strerror(err) : "");
    }
    failCount++;
    if (c->fd >= 0) {
	close(c->fd);
    }
    c->fd = -1;
    c->state = ST_FREE;
}

static void
Start(Conn *c, long index)
{
    int fd = socket(addr.ss_family, SOCK_STREAM, 0), one = 1;

    c->index = index;
    c->started = NowMs();
    c->tailLen = 0;
    c->fd = fd;
    c->wantLen = (size_t) snprintf(c->want, sizeof(c->want), "churn %ld\n",
	    index);
    if (fd < 0) {
	Fail(c, "socket", errno);
	return;
    }
    (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *) &addr, addrLen) == 0
	    || errno == EINPROGRESS) {
	c->state = ST_CONNECTING;
    } else {
	Fail(c, "connect", errno);
    }
}

static void
Finish(Conn *c)
{
    struct linger lg;

    switch (c->index % 3) {
    case 0:
	close(c->fd);
	closes++;
	break;
    case 1:
	lg.l_onoff = 1;
	lg.l_linger = 0;
	(void) setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	resets++;
	break;
    default:
	(void) shutdown(c->fd, SHUT_WR);
	c->state = ST_WAIT_EOF;
	return;
    }
    c->fd = -1;
    c->state = ST_FREE;
    okCount++;
}

/*
 * Reads what is there; returns 1 at EOF, -1 on error, 0 otherwise. In
 * ST_WAIT_ECHO, looks for the connection's own line.
 */

static int
Drain(Conn *c, int *found)
{
    for (;;) {
	ssize_t n = recv(c->fd, c->tail + c->tailLen, 65536, 0);

	if (n == 0) {
	    return 1;
	}
	if (n < 0) {
	    if (errno == EAGAIN || errno == EWOULDBLOCK) {
		return 0;
	    }
	    if (errno == EINTR) {
		continue;
	    }
	    return -1;
	}
	c->tailLen += (size_t) n;
	if (c->state == ST_WAIT_ECHO && !*found) {
	    /* Lines are whole here only if preceded by \n or at start. */
	    size_t i;

	    for (i = 0; i + c->wantLen <= c->tailLen; i++) {
		if ((i == 0 || c->tail[i - 1] == '\n')
			&& memcmp(c->tail + i, c->want, c->wantLen) == 0) {
		    *found = 1;
		    break;
		}
	    }
	}
	/* Keep only the last TAIL bytes, from a line start if possible. */
	if (c->tailLen > TAIL) {
	    memmove(c->tail, c->tail + c->tailLen - TAIL, TAIL);
	    c->tailLen = TAIL;
	}
    }
}

int
main(int argc, char **argv)
{
    struct addrinfo hints, *res;
    struct rlimit rl;
    long total, conc, started = 0, i;
    long long timeout, t0, deadline;
    Conn *conns;
    struct pollfd *pfds;
    int *map;
    int rc;

    if (argc != 6) {
	fprintf(stderr,
		"usage: churn HOST PORT TOTAL CONCURRENCY TIMEOUT_MS\n");
	return 2;
    }
    total = atol(argv[3]);
    conc = atol(argv[4]);
    timeout = atoll(argv[5]);
    if (total < 0 || conc < 1 || timeout < 1) {
	fprintf(stderr, "churn: bad arguments\n");
	return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
	rl.rlim_cur = rl.rlim_max;
	(void) setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(argv[1], argv[2], &hints, &res);
    if (rc != 0) {
	fprintf(stderr, "churn: %s: %s\n", argv[1], gai_strerror(rc));
	return 2;
    }
    memcpy(&addr, res->ai_addr, res->ai_addrlen);
    addrLen = res->ai_addrlen;
    freeaddrinfo(res);

    conns = (Conn *) calloc((size_t) conc, sizeof(Conn));
    pfds = (struct pollfd *) calloc((size_t) conc, sizeof(struct pollfd));
    map = (int *) calloc((size_t) conc, sizeof(int));
    if (conns == NULL || pfds == NULL || map == NULL) {
	fprintf(stderr, "churn: out of memory\n");
	free(conns);
	free(pfds);
	free(map);
	return 2;
    }
    for (i = 0; i < conc; i++) {
	conns[i].fd = -1;
    }
    t0 = NowMs();
    deadline = t0 + timeout;

    for (;;) {
	int n = 0, busy = 0;
	long long now = NowMs();

	for (i = 0; i < conc; i++) {
	    Conn *c = &conns[i];

	    if (c->state == ST_FREE && started < total && now < deadline) {
		Start(c, started++);
	    }
	    if (c->state == ST_FREE) {
		continue;
	    }
	    busy++;
	    if (now - c->started > CONN_TIMEOUT_MS || now >= deadline) {
		Fail(c, "timed out", 0);
		continue;
	    }
	    pfds[n].fd = c->fd;
	    pfds[n].events = c->state == ST_CONNECTING ? POLLOUT : POLLIN;
	    pfds[n].revents = 0;
	    map[n] = (int) i;
	    n++;
	}
	if (busy == 0 && (started >= total || now >= deadline)) {
	    break;
	}
	if (n == 0) {
	    continue;
	}
	rc = poll(pfds, (nfds_t) n, 100);
	if (rc < 0 && errno != EINTR) {
	    perror("churn: poll");
	    free(conns);
	    free(pfds);
	    free(map);
	    return 2;
	}
	for (i = 0; i < n && rc > 0; i++) {
	    Conn *c = &conns[map[i]];
	    int found = 0, r;

	    if (pfds[i].revents == 0) {
		continue;
	    }
	    if (c->state == ST_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		(void) getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
		    Fail(c, "connect", err);
		    continue;
		}
		if (send(c->fd, c->want, c->wantLen, MSG_NOSIGNAL)
			!= (ssize_t) c->wantLen) {
		    Fail(c, "send", errno);
		    continue;
		}
		c->state = ST_WAIT_ECHO;
		continue;
	    }
	    r = Drain(c, &found);
	    if (c->state == ST_WAIT_ECHO) {
		if (found) {
		    Finish(c);
		} else if (r != 0) {
		    Fail(c, r > 0 ? "closed by the server before the echo"
			    : "read", r < 0 ? errno : 0);
		}
	    } else if (c->state == ST_WAIT_EOF && r != 0) {
		/* The server closed after our half-close: done. */
		close(c->fd);
		c->fd = -1;
		c->state = ST_FREE;
		halfCloses++;
		okCount++;
	    }
	}
    }
    printf("total %ld ok %ld failed %ld closes %ld resets %ld halfcloses %ld"
	    " elapsed_ms %lld\n", total, okCount, failCount + (total - started),
	    closes, resets, halfCloses, NowMs() - t0);
    fflush(stdout);
    free(conns);
    free(pfds);
    free(map);
    return okCount == total ? 0 : 1;
}
