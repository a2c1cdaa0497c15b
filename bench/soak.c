/*
 * soak.c --
 *
 *	Load and bookkeeping side of the soak test (bench/soak.sh): several
 *	well-behaved clients send sequence-numbered lines at a steady rate
 *	through a line-framed multiplexer server and read everything the
 *	others send; optionally one slow client reads at a trickle, so that
 *	under "overflow drop" the server must drop messages for it (and only
 *	for it).
 *
 *	    soak HOST PORT CLIENTS RATE SECONDS SIZE SLOW_BPS
 *
 *	CLIENTS   well-behaved clients (at least 2)
 *	RATE      lines per second each of them sends
 *	SECONDS   how long they send
 *	SIZE      bytes per line, LF included (at least 32)
 *	SLOW_BPS  read rate of the slow client in bytes per second; 0 = no
 *		  slow client
 *
 *	Each line is "SENDER SEQ xxxx...\n". A well-behaved receiver must see,
 *	from every other sender, SEQ 0, 1, 2, ... with nothing missing,
 *	repeated or out of order; the slow client may miss lines (dropped by
 *	the server) but never get one twice, out of order, or damaged.
 *
 *	After SECONDS the senders stop; everyone then reads (the slow client
 *	at full speed) until every well-behaved client has everything and
 *	nothing arrived for a second, or 20 s passed. Progress goes to
 *	stdout every 10 s; the last line is the summary, "key value" pairs:
 *
 *	    summary clients N sent N expected N delivered N lost N
 *		disorder N bad N slow_received N slow_missing N
 *		slow_disorder N seconds N rate_in N rate_out N
 *
 *	"expected" counts the deliveries due to well-behaved clients (every
 *	line to each other well-behaved client); "lost" what they missed;
 *	"disorder" lines they got a second time or after a later line of the
 *	same sender; "bad" damaged lines (any client). Exit status: 0 if
 *	lost, disorder, bad and slow_disorder are all 0; 1 otherwise; 2 for
 *	bad arguments or a connect failure.
 */

#define _DEFAULT_SOURCE 1

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
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define INBUF 262144

typedef struct Client {
    int fd;
    int id;			/* Sender id (slow client: -1). */
    int slow;
    long sent;			/* Lines sent. */
    char *out;			/* Pending output (partial writes). */
    size_t outLen, outOff, outCap;
    char *in;			/* Partial input line. */
    size_t inLen;
    long *expect;		/* Next SEQ expected, per sender. */
    long received;		/* Lines received. */
    long lost;			/* Lines never received. */
    long disorder;		/* Lines received twice or out of order. */
    long bad;			/* Damaged lines. */
    long long lastRead;		/* Slow client: time of the last read. */
    long long budget;		/* Slow client: bytes it may read now. */
} Client;

static int nClients;		/* Well-behaved clients. */
static long lineSize;

static long long
NowMs(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int
Connect(const char *host, const char *port, int rcvbuf)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
	return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
	    continue;
	}
	if (rcvbuf > 0) {
	    (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
	    break;
	}
	close(fd);
	fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
	(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
}

/*
 * Appends one numbered line to the client's output.
 */

static void
QueueLine(Client *c)
{
    char head[48];
    int n = snprintf(head, sizeof(head), "%d %ld ", c->id, c->sent);

    if (c->outLen + (size_t) lineSize > c->outCap) {
	c->outCap = (c->outLen + (size_t) lineSize) * 2;
	c->out = (char *) realloc(c->out, c->outCap);
	if (c->out == NULL) {
	    perror("soak: realloc");
	    exit(2);
	}
    }
    memcpy(c->out + c->outLen, head, (size_t) n);
    memset(c->out + c->outLen + n, 'x', (size_t) lineSize - (size_t) n - 1);
    c->out[c->outLen + (size_t) lineSize - 1] = '\n';
    c->outLen += (size_t) lineSize;
    c->sent++;
}

static int
Flush(Client *c)
{
    while (c->outOff < c->outLen) {
	ssize_t w = send(c->fd, c->out + c->outOff, c->outLen - c->outOff,
		MSG_NOSIGNAL);

	if (w < 0) {
	    if (errno == EAGAIN || errno == EWOULDBLOCK) {
		break;
	    }
	    if (errno == EINTR) {
		continue;
	    }
	    return -1;
	}
	c->outOff += (size_t) w;
    }
    if (c->outOff == c->outLen) {
	c->outOff = c->outLen = 0;
    } else if (c->outOff > 65536) {
	memmove(c->out, c->out + c->outOff, c->outLen - c->outOff);
	c->outLen -= c->outOff;
	c->outOff = 0;
    }
    return 0;
}

/*
 * Checks one received line.
 */

static void
Line(Client *c, const char *p, size_t len)
{
    int from;
    long seq;
    char *end;
    size_t i;

    c->received++;
    from = (int) strtol(p, &end, 10);
    if (end == p || *end != ' ' || from < 0 || from >= nClients
	    || from == c->id || (long) len != lineSize - 1) {
	c->bad++;
	return;
    }
    seq = strtol(end + 1, &end, 10);
    if (*end != ' ') {
	c->bad++;
	return;
    }
    for (i = (size_t) (end + 1 - p); i < len; i++) {
	if (p[i] != 'x') {
	    c->bad++;
	    return;
	}
    }
    if (seq == c->expect[from]) {
	c->expect[from]++;
    } else if (seq > c->expect[from]) {
	c->lost += seq - c->expect[from];
	c->expect[from] = seq + 1;
    } else {
	/* Seen before, or older than something seen. */
	c->disorder++;
    }
}

/*
 * Reads up to max bytes. Returns bytes read, or -1 at EOF or error.
 */

static long
Read(Client *c, long max)
{
    char buf[65536];
    long total = 0;

    while (max > 0) {
	ssize_t n = recv(c->fd, buf, max < (long) sizeof(buf)
		? (size_t) max : sizeof(buf), 0);
	size_t i, start = 0;

	if (n == 0) {
	    return -1;
	}
	if (n < 0) {
	    if (errno == EAGAIN || errno == EWOULDBLOCK) {
		break;
	    }
	    if (errno == EINTR) {
		continue;
	    }
	    return -1;
	}
	total += n;
	max -= n;
	for (i = 0; i < (size_t) n; i++) {
	    if (buf[i] != '\n') {
		continue;
	    }
	    if (c->inLen > 0) {
		if (c->inLen + (i - start) < INBUF) {
		    memcpy(c->in + c->inLen, buf + start, i - start);
		}
		Line(c, c->in, c->inLen + (i - start));
		c->inLen = 0;
	    } else {
		Line(c, buf + start, i - start);
	    }
	    start = i + 1;
	}
	if (start < (size_t) n) {
	    size_t rest = (size_t) n - start;

	    if (c->inLen + rest < INBUF) {
		memcpy(c->in + c->inLen, buf + start, rest);
		c->inLen += rest;
	    } else {
		c->bad++;
		c->inLen = 0;
	    }
	}
    }
    return total;
}

int
main(int argc, char **argv)
{
    Client *cl;
    struct pollfd *pfds;
    long rate, seconds, slowBps, i, j;
    long long t0, sendEnd, now, lastProgress, lastData, drainEnd;
    int nAll, hasSlow, sending = 1;
    long totalSent = 0, expected = 0, delivered = 0, lost = 0,
	    disorder = 0, bad = 0, slowMissing = 0, slowDisorder = 0;
    int rc;

    if (argc != 8) {
	fprintf(stderr, "usage: soak HOST PORT CLIENTS RATE SECONDS SIZE"
		" SLOW_BPS\n");
	return 2;
    }
    nClients = atoi(argv[3]);
    rate = atol(argv[4]);
    seconds = atol(argv[5]);
    lineSize = atol(argv[6]);
    slowBps = atol(argv[7]);
    if (nClients < 2 || rate < 1 || seconds < 1 || lineSize < 32
	    || lineSize > 65536 || slowBps < 0) {
	fprintf(stderr, "soak: bad arguments\n");
	return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    hasSlow = slowBps > 0;
    nAll = nClients + hasSlow;
    cl = (Client *) calloc((size_t) nAll, sizeof(Client));
    pfds = (struct pollfd *) calloc((size_t) nAll, sizeof(struct pollfd));
    if (cl == NULL || pfds == NULL) {
	return 2;
    }
    for (i = 0; i < nAll; i++) {
	Client *c = &cl[i];

	c->slow = (i == nClients);
	c->id = c->slow ? -1 : (int) i;
	c->fd = Connect(argv[1], argv[2], c->slow ? 4096 : 0);
	c->in = (char *) malloc(INBUF);
	c->expect = (long *) calloc((size_t) nClients, sizeof(long));
	if (c->fd < 0 || c->in == NULL || c->expect == NULL) {
	    fprintf(stderr, "soak: cannot connect to %s port %s\n", argv[1],
		    argv[2]);
	    return 2;
	}
    }
    /* Let the server admit everyone before the first line. */
    usleep(300000);

    t0 = NowMs();
    sendEnd = t0 + seconds * 1000;
    lastProgress = t0;
    lastData = t0;
    drainEnd = 0;
    for (;;) {
	int anyData = 0, complete;

	now = NowMs();
	if (sending && now >= sendEnd) {
	    sending = 0;
	    drainEnd = now + 20000;
	}
	for (i = 0; i < nAll; i++) {
	    Client *c = &cl[i];

	    if (sending && !c->slow) {
		long due = (long) ((now - t0) * rate / 1000) - c->sent;

		/* Catch up at most a second's worth at once. */
		if (due > rate) {
		    due = rate;
		}
		while (due-- > 0) {
		    QueueLine(c);
		}
		if (Flush(c) < 0) {
		    fprintf(stderr, "soak: client %ld: send failed: %s\n", i,
			    strerror(errno));
		    return 1;
		}
	    }
	    if (c->slow && now > c->lastRead) {
		c->budget += (now - c->lastRead) * slowBps / 1000;
		if (c->budget > slowBps) {
		    c->budget = slowBps;
		}
		c->lastRead = now;
	    }
	    pfds[i].fd = c->fd;
	    pfds[i].events = POLLIN | (c->outLen > c->outOff ? POLLOUT : 0);
	    if (c->slow && sending && c->budget <= 0) {
		pfds[i].events &= ~POLLIN;
	    }
	    pfds[i].revents = 0;
	}
	(void) poll(pfds, (nfds_t) nAll, 10);
	for (i = 0; i < nAll; i++) {
	    Client *c = &cl[i];
	    long got;

	    if (pfds[i].revents & POLLOUT) {
		(void) Flush(c);
	    }
	    if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
		continue;
	    }
	    got = Read(c, (c->slow && sending) ? c->budget : 1L << 30);
	    if (got < 0) {
		fprintf(stderr, "soak: client %ld: disconnected by the"
			" server\n", i);
		return 1;
	    }
	    if (c->slow && sending) {
		c->budget -= got;
	    }
	    if (got > 0) {
		anyData = 1;
	    }
	}
	now = NowMs();
	if (anyData) {
	    lastData = now;
	}
	if (now - lastProgress >= 10000) {
	    long s = 0, r = 0;

	    for (i = 0; i < nAll; i++) {
		s += cl[i].sent;
		r += cl[i].received;
	    }
	    printf("progress t %lld sent %ld received %ld\n",
		    (now - t0) / 1000, s, r);
	    fflush(stdout);
	    lastProgress = now;
	}
	if (sending) {
	    continue;
	}
	complete = 1;
	for (i = 0; i < nClients && complete; i++) {
	    for (j = 0; j < nClients; j++) {
		if (j != i && cl[i].expect[j] < cl[j].sent) {
		    complete = 0;
		    break;
		}
	    }
	}
	if ((complete && now - lastData >= 1000) || now >= drainEnd) {
	    break;
	}
    }

    for (i = 0; i < nClients; i++) {
	totalSent += cl[i].sent;
    }
    for (i = 0; i < nClients; i++) {
	Client *c = &cl[i];

	expected += totalSent - c->sent;
	delivered += c->received;
	for (j = 0; j < nClients; j++) {
	    if (j != i) {
		c->lost += cl[j].sent - c->expect[j];
	    }
	}
	lost += c->lost;
	disorder += c->disorder;
	bad += c->bad;
    }
    if (hasSlow) {
	Client *s = &cl[nClients];

	for (j = 0; j < nClients; j++) {
	    s->lost += cl[j].sent - s->expect[j];
	}
	slowMissing = s->lost;
	slowDisorder = s->disorder;
	bad += s->bad;
    }
    printf("summary clients %d sent %ld expected %ld delivered %ld lost %ld"
	    " disorder %ld bad %ld slow_received %ld slow_missing %ld"
	    " slow_disorder %ld seconds %ld rate_in %ld rate_out %ld\n",
	    nClients, totalSent, expected, delivered, lost, disorder, bad,
	    hasSlow ? cl[nClients].received : 0L, slowMissing, slowDisorder,
	    seconds, totalSent / seconds, delivered / seconds);
    fflush(stdout);
    rc = (lost || disorder || bad || slowDisorder) ? 1 : 0;
    for (i = 0; i < nAll; i++) {
	close(cl[i].fd);
	free(cl[i].in);
	free(cl[i].expect);
	free(cl[i].out);
    }
    free(cl);
    free(pfds);
    return rc;
}
