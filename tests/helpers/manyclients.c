/*
 * manyclients.c --
 *
 *	Test helper: many TCP clients in one process, without Tcl.
 *
 *	    manyclients HOST PORT N TIMEOUT_MS EXPECT_BYTES ?SEND?
 *
 *	Raises its descriptor limit, opens N connections to HOST:PORT (at
 *	most WINDOW connects in flight, failed connects retried), prints
 *	"connected K" (K = connections established) and flushes stdout.
 *	With SEND, each connection then writes those bytes once. It then
 *	waits until every connection has received at least EXPECT_BYTES bytes
 *	(data is counted, not kept), or TIMEOUT_MS have passed, and prints
 *	"received K" (K = connections that got that many bytes).
 *
 *	Each phase (connecting, receiving) has TIMEOUT_MS of its own.
 *	Diagnostics go to stderr. Exit status: 0 if all N connections got
 *	their bytes, 1 otherwise (timeout, refused, closed early), 2 for a
 *	usage or setup error.
 *
 *	Plain POSIX C (poll), so it builds wherever the tests run.
 */

#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1
#define _DARWIN_C_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define WINDOW		256	/* Connects in flight at once. */
#define MAX_ATTEMPTS	20	/* Tries per connection. */
#define POLL_MS		50	/* Longest single poll() wait. */

enum {
    ST_FREE,			/* Not (or no longer) connecting. */
    ST_CONNECTING,		/* Non-blocking connect in progress. */
    ST_OPEN,			/* Connected. */
    ST_EOF,			/* Closed by the server. */
    ST_FAILED			/* Gave up. */
};

typedef struct Conn {
    int fd;
    int state;
    int attempts;
    long long got;		/* Bytes received. */
} Conn;

static long long
NowMs(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * RaiseLimit --
 *	Lifts the soft descriptor limit to the hard limit. Returns the soft
 *	limit in force afterwards.
 */

static long
RaiseLimit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
	return -1;
    }
    if (rl.rlim_cur < rl.rlim_max) {
	struct rlimit want = rl;

#ifdef OPEN_MAX
	if (want.rlim_max == RLIM_INFINITY) {
	    want.rlim_cur = OPEN_MAX;
	} else
#endif
	want.rlim_cur = rl.rlim_max;
	(void) setrlimit(RLIMIT_NOFILE, &want);
	(void) getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long) rl.rlim_cur;
}

/*
 * ParseLong --
 *	Strict decimal parse within [min, max]. Returns 0 on success.
 */

static int
ParseLong(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
	return -1;
    }
    *out = v;
    return 0;
}

/*
 * StartConnect --
 *	Begins a non-blocking connect for c. Returns 0 if it is in progress
 *	or done, -1 if it failed at once (c is FREE again, or FAILED after
 *	too many attempts).
 */

static int
StartConnect(Conn *c, const struct addrinfo *ai)
{
    int fd, flags;

    c->attempts++;
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
	goto failed;
    }
    flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
	close(fd);
	goto failed;
    }
    (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
	c->fd = fd;
	c->state = ST_OPEN;
	return 0;
    }
    if (errno == EINPROGRESS || errno == EINTR) {
	c->fd = fd;
	c->state = ST_CONNECTING;
	return 0;
    }
    close(fd);

  failed:
    c->fd = -1;
    c->state = (c->attempts >= MAX_ATTEMPTS) ? ST_FAILED : ST_FREE;
    return -1;
}

/*
 * Drain --
 *	Reads what c's socket holds, counting bytes. Marks EOF.
 */

static void
Drain(Conn *c)
{
    char buf[65536];

    for (;;) {
	ssize_t n = read(c->fd, buf, sizeof(buf));

	if (n > 0) {
	    c->got += n;
	    continue;
	}
	if (n == 0) {
	    c->state = ST_EOF;
	    return;
	}
	if (errno == EINTR) {
	    continue;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
	    c->state = ST_EOF;
	}
	return;
    }
}

int
main(int argc, char **argv)
{
    long port, n, timeoutMs, expect, limit;
    const char *send = NULL;
    size_t sendLen = 0;
    struct addrinfo hints, *ai = NULL;
    Conn *conns;
    struct pollfd *pfds;
    int *index;
    long connected = 0, inflight = 0, received = 0, eofs = 0, failed = 0;
    long i;
    long long deadline;
    int rc;

    if (argc != 6 && argc != 7) {
	fprintf(stderr, "usage: %s HOST PORT N TIMEOUT_MS EXPECT_BYTES ?SEND?\n",
		argv[0]);
	return 2;
    }
    if (ParseLong(argv[2], 1, 65535, &port) != 0
	    || ParseLong(argv[3], 1, 1000000, &n) != 0
	    || ParseLong(argv[4], 1, 86400000L, &timeoutMs) != 0
	    || ParseLong(argv[5], 0, LONG_MAX, &expect) != 0) {
	fprintf(stderr, "manyclients: bad numeric argument\n");
	return 2;
    }
    if (argc == 7) {
	send = argv[6];
	sendLen = strlen(send);
    }
    signal(SIGPIPE, SIG_IGN);

    limit = RaiseLimit();
    if (limit != -1 && limit < n + 16) {
	fprintf(stderr, "manyclients: descriptor limit %ld is too low for %ld "
		"connections\n", limit, n);
	printf("connected 0\n");
	printf("received 0\n");
	fflush(stdout);
	return 1;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (rc != 0 || ai == NULL) {
	fprintf(stderr, "manyclients: %s: %s\n", argv[1], gai_strerror(rc));
	return 2;
    }

    conns = calloc((size_t) n, sizeof(Conn));
    pfds = calloc((size_t) n, sizeof(struct pollfd));
    index = calloc((size_t) n, sizeof(int));
    if (conns == NULL || pfds == NULL || index == NULL) {
	fprintf(stderr, "manyclients: out of memory\n");
	return 2;
    }
    for (i = 0; i < n; i++) {
	conns[i].fd = -1;
	conns[i].state = ST_FREE;
    }

    /*
     * Phase 1: connect everything, WINDOW connects at a time.
     */

    deadline = NowMs() + timeoutMs;
    while (connected + failed < n && NowMs() < deadline) {
	int npfd = 0, ready;

	for (i = 0; i < n && inflight < WINDOW; i++) {
	    if (conns[i].state != ST_FREE) {
		continue;
	    }
	    if (StartConnect(&conns[i], ai) != 0) {
		if (conns[i].state == ST_FAILED) {
		    fprintf(stderr, "manyclients: connection %ld: %s\n", i,
			    strerror(errno));
		    failed++;
		    continue;
		}
		break;		/* Try again after a pause. */
	    }
	    if (conns[i].state == ST_OPEN) {
		connected++;
	    } else {
		inflight++;
	    }
	}
	for (i = 0; i < n; i++) {
	    if (conns[i].state == ST_CONNECTING) {
		pfds[npfd].fd = conns[i].fd;
		pfds[npfd].events = POLLOUT;
		pfds[npfd].revents = 0;
		index[npfd] = (int) i;
		npfd++;
	    }
	}
	ready = poll(pfds, (nfds_t) npfd, POLL_MS);
	if (ready < 0 && errno != EINTR) {
	    perror("manyclients: poll");
	    break;
	}
	for (i = 0; ready > 0 && i < npfd; i++) {
	    Conn *c = &conns[index[i]];
	    int err = 0;
	    socklen_t len = sizeof(err);

	    if (pfds[i].revents == 0) {
		continue;
	    }
	    inflight--;
	    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
		err = errno;
	    }
	    if (err == 0) {
		c->state = ST_OPEN;
		connected++;
	    } else {
		close(c->fd);
		c->fd = -1;
		if (c->attempts >= MAX_ATTEMPTS) {
		    fprintf(stderr, "manyclients: connection %d: %s\n",
			    index[i], strerror(err));
		    c->state = ST_FAILED;
		    failed++;
		} else {
		    c->state = ST_FREE;
		}
	    }
	}
    }
    printf("connected %ld\n", connected);
    fflush(stdout);

    /*
     * Optional: every connection says something once.
     */

    if (send != NULL && sendLen > 0) {
	for (i = 0; i < n; i++) {
	    if (conns[i].state == ST_OPEN
		    && write(conns[i].fd, send, sendLen) != (ssize_t) sendLen) {
		fprintf(stderr, "manyclients: write on connection %ld: %s\n",
			i, strerror(errno));
	    }
	}
    }

    /*
     * Phase 2: count what arrives until everyone has EXPECT_BYTES.
     */

    deadline = NowMs() + timeoutMs;
    for (;;) {
	int npfd = 0, ready;

	received = 0;
	for (i = 0; i < n; i++) {
	    Conn *c = &conns[i];

	    if (c->got >= expect && c->state != ST_FREE
		    && c->state != ST_CONNECTING && c->state != ST_FAILED) {
		received++;
	    } else if (c->state == ST_OPEN) {
		pfds[npfd].fd = c->fd;
		pfds[npfd].events = POLLIN;
		pfds[npfd].revents = 0;
		index[npfd] = (int) i;
		npfd++;
	    }
	}
	if (npfd == 0 || NowMs() >= deadline) {
	    break;
	}
	ready = poll(pfds, (nfds_t) npfd, POLL_MS);
	if (ready < 0 && errno != EINTR) {
	    perror("manyclients: poll");
	    break;
	}
	for (i = 0; ready > 0 && i < npfd; i++) {
	    if (pfds[i].revents != 0) {
		Drain(&conns[index[i]]);
	    }
	}
    }
    for (i = 0; i < n; i++) {
	if (conns[i].state == ST_EOF) {
	    eofs++;
	}
    }
    if (received < n) {
	fprintf(stderr, "manyclients: %ld of %ld connections got %ld bytes "
		"(%ld connected, %ld closed by the server)\n", received, n,
		expect, connected, eofs);
    }
    printf("received %ld\n", received);
    fflush(stdout);

    for (i = 0; i < n; i++) {
	if (conns[i].fd >= 0) {
	    close(conns[i].fd);
	}
    }
    freeaddrinfo(ai);
    free(conns);
    free(pfds);
    free(index);
    return received == n ? 0 : 1;
}
