/*
 * rawclient.c --
 *
 *	A TCP client doing what a Tcl script cannot: reset the connection
 *	(SO_LINGER 0), half-close it (shutdown for writing), shrink its
 *	receive buffer and never read. Used by faults.test and hostile.test.
 *
 *	    rawclient HOST PORT STEP ...
 *
 *	Steps, run in order after connecting:
 *	    rcvbuf=N      (applied before connecting, wherever it is given)
 *			  SO_RCVBUF of N bytes
 *	    text=TEXT     send TEXT; \n \r \t \\ \xHH are unescaped
 *	    fill=N:C      send N bytes of character C (stops at an error)
 *	    sleep=MS      wait MS milliseconds
 *	    waitin        wait for a line (or EOF) on standard input
 *	    shutwr        shutdown(SHUT_WR): half-close
 *	    read=MS       read until EOF, reset, or MS milliseconds without
 *			  EOF; prints "read N eof|reset|timeout"
 *	    drain=MS      like read but silent unless something arrived
 *	    rst           close with SO_LINGER 0 (the peer gets a RST)
 *	    close         close normally
 *
 *	Prints "connected LOCALPORT" once connected, and one line per step
 *	("sent N", "send-error ERRNAME after N", "read ...", "slept",
 *	"input", "shutwr", "rst", "closed"), then "done". Exit status 0, or
 *	2 for bad arguments or a failed connect ("connect-error ERRNAME").
 */

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#   define MSG_NOSIGNAL 0
#endif

static const char *
ErrName(int e)
{
    switch (e) {
    case EPIPE:		return "EPIPE";
    case ECONNRESET:	return "ECONNRESET";
    case ECONNREFUSED:	return "ECONNREFUSED";
    case ETIMEDOUT:	return "ETIMEDOUT";
    case ENOTCONN:	return "ENOTCONN";
    case EBADF:		return "EBADF";
    default:		return strerror(e);
    }
}

static long long
NowMs(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
Say(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#include <stdarg.h>

static void
Say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/*
 * Unescape: \n \r \t \\ \xHH. Returns the length.
 */

static size_t
Unescape(const char *in, char *out)
{
    size_t n = 0;

    while (*in) {
	if (*in == '\\' && in[1]) {
	    in++;
	    switch (*in) {
	    case 'n': out[n++] = '\n'; in++; break;
	    case 'r': out[n++] = '\r'; in++; break;
	    case 't': out[n++] = '\t'; in++; break;
	    case 'x': {
		char hex[3] = {0, 0, 0};

		if (in[1] && in[2]) {
		    hex[0] = in[1];
		    hex[1] = in[2];
		    out[n++] = (char) strtol(hex, NULL, 16);
		    in += 3;
		} else {
		    out[n++] = 'x';
		    in++;
		}
		break;
	    }
	    default: out[n++] = *in++; break;
	    }
	} else {
	    out[n++] = *in++;
	}
    }
    return n;
}

/*
 * Sends everything (blocking socket). Returns bytes sent; *errPtr is set
 * on failure.
 */

static size_t
SendAll(int fd, const char *p, size_t len, int *errPtr)
{
    size_t done = 0;

    *errPtr = 0;
    while (done < len) {
	ssize_t w = send(fd, p + done, len - done, MSG_NOSIGNAL);

	if (w < 0) {
	    if (errno == EINTR) {
		continue;
	    }
	    *errPtr = errno;
	    break;
	}
	done += (size_t) w;
    }
    return done;
}

static void
ReadStep(int fd, long ms, int quiet)
{
    char buf[65536];
    long long deadline = NowMs() + ms, total = 0;
    const char *how = "timeout";

    for (;;) {
	long long left = deadline - NowMs();
	struct pollfd pfd;
	int r;
	ssize_t n;

	if (left <= 0) {
	    break;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	r = poll(&pfd, 1, (int) left);
	if (r < 0 && errno == EINTR) {
	    continue;
	}
	if (r <= 0) {
	    break;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n == 0) {
	    how = "eof";
	    break;
	}
	if (n < 0) {
	    if (errno == EINTR || errno == EAGAIN) {
		continue;
	    }
	    how = "reset";
	    break;
	}
	total += n;
    }
    if (!quiet || total > 0 || strcmp(how, "timeout") != 0) {
	Say("read %lld %s", total, how);
    }
}

int
main(int argc, char **argv)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    int fd = -1, i, rcvbuf = 0, err = 0, rc;
    char *buf;

    if (argc < 3) {
	fprintf(stderr, "usage: rawclient HOST PORT STEP ...\n");
	return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    for (i = 3; i < argc; i++) {
	if (strncmp(argv[i], "rcvbuf=", 7) == 0) {
	    rcvbuf = atoi(argv[i] + 7);
	}
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(argv[1], argv[2], &hints, &res);
    if (rc != 0) {
	Say("connect-error %s", gai_strerror(rc));
	return 2;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
	    err = errno;
	    continue;
	}
	if (rcvbuf > 0) {
	    (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
	    break;
	}
	err = errno;
	close(fd);
	fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
	Say("connect-error %s", ErrName(err));
	return 2;
    }
    if (getsockname(fd, (struct sockaddr *) &ss, &sslen) == 0) {
	int port = ss.ss_family == AF_INET
		? ntohs(((struct sockaddr_in *) &ss)->sin_port)
		: ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);

	Say("connected %d", port);
    } else {
	Say("connected 0");
    }

    for (i = 3; i < argc; i++) {
	const char *a = argv[i];

	if (strncmp(a, "rcvbuf=", 7) == 0) {
	    continue;
	} else if (strncmp(a, "text=", 5) == 0) {
	    size_t len, sent;

	    buf = (char *) malloc(strlen(a) + 1);
	    if (buf == NULL) {
		return 2;
	    }
	    len = Unescape(a + 5, buf);
	    sent = SendAll(fd, buf, len, &err);
	    free(buf);
	    if (err) {
		Say("send-error %s after %zu", ErrName(err), sent);
	    } else {
		Say("sent %zu", sent);
	    }
	} else if (strncmp(a, "fill=", 5) == 0) {
	    long long n = atoll(a + 5), sent = 0;
	    const char *colon = strchr(a, ':');
	    char chunk[65536];

	    memset(chunk, colon && colon[1] ? colon[1] : 'x', sizeof(chunk));
	    err = 0;
	    while (sent < n) {
		size_t want = (size_t) (n - sent < (long long) sizeof(chunk)
			? n - sent : (long long) sizeof(chunk));

		sent += (long long) SendAll(fd, chunk, want, &err);
		if (err) {
		    break;
		}
	    }
	    if (err) {
		Say("send-error %s after %lld", ErrName(err), sent);
	    } else {
		Say("sent %lld", sent);
	    }
	} else if (strncmp(a, "sleep=", 6) == 0) {
	    usleep((useconds_t) atoi(a + 6) * 1000);
	    Say("slept");
	} else if (strcmp(a, "waitin") == 0) {
	    char line[256];

	    if (fgets(line, sizeof(line), stdin) == NULL) {
		clearerr(stdin);
	    }
	    Say("input");
	} else if (strcmp(a, "shutwr") == 0) {
	    (void) shutdown(fd, SHUT_WR);
	    Say("shutwr");
	} else if (strncmp(a, "read=", 5) == 0) {
	    ReadStep(fd, atol(a + 5), 0);
	} else if (strncmp(a, "drain=", 6) == 0) {
	    ReadStep(fd, atol(a + 6), 1);
	} else if (strcmp(a, "rst") == 0) {
	    struct linger lg;

	    lg.l_onoff = 1;
	    lg.l_linger = 0;
	    (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	    close(fd);
	    fd = -1;
	    Say("rst");
	    break;
	} else if (strcmp(a, "close") == 0) {
	    close(fd);
	    fd = -1;
	    Say("closed");
	    break;
	} else {
	    fprintf(stderr, "rawclient: unknown step \"%s\"\n", a);
	    return 2;
	}
    }
    if (fd >= 0) {
	close(fd);
    }
    Say("done");
    return 0;
}
