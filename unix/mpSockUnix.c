/*
 * mpSockUnix.c --
 *
 *	POSIX implementation of mpSock.h: listening, accepting and connecting
 *	non-blocking TCP sockets, reads and writes that never raise SIGPIPE,
 *	and the naming of error codes (numeric address conversion is shared
 *	with Windows, in generic/mpAddr.c).
 */

#ifndef _GNU_SOURCE
#   define _GNU_SOURCE		/* accept4() on glibc. */
#endif

#include "mpSock.h"

#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <poll.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#   define MP_SEND_FLAGS MSG_NOSIGNAL
#else
#   define MP_SEND_FLAGS 0	/* SO_NOSIGPIPE is set on the socket. */
#endif

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
#   define MP_SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)
#   define MP_HAVE_ACCEPT4 1
#else
#   define MP_SOCK_FLAGS 0
#endif

/*
 * Tcl 8.6's select-based notifier can watch only descriptors below
 * FD_SETSIZE, and aborts the process when a script's channel with a file
 * event has a higher one. Our sockets are never handed to that notifier,
 * so they are moved to MP_FD_FLOOR and above, leaving the low numbers to
 * the script. The soft descriptor limit is raised at most to
 * MP_FD_LIMIT_CAP: a larger one only slows programs that walk every
 * possible descriptor (child processes inherit it).
 */

#ifdef FD_SETSIZE
#   define MP_FD_FLOOR FD_SETSIZE
#else
#   define MP_FD_FLOOR 1024
#endif
#define MP_FD_LIMIT_CAP ((rlim_t) 1 << 20)

#if defined(SO_REUSEPORT_LB)
#   define MP_REUSEPORT SO_REUSEPORT_LB	/* FreeBSD: load-balancing kind. */
#elif defined(SO_REUSEPORT)
#   define MP_REUSEPORT SO_REUSEPORT
#endif

/*
 * Symbolic names and texts of the errors a socket layer meets. The first
 * entry with a matching code wins (EAGAIN and EWOULDBLOCK may be equal).
 */

static const struct {
    int code;
    const char *id;
    const char *text;
} errTable[] = {
    {EAGAIN, "EAGAIN", "resource temporarily unavailable"},
    {EWOULDBLOCK, "EWOULDBLOCK", "operation would block"},
    {EINTR, "EINTR", "interrupted system call"},
    {EINPROGRESS, "EINPROGRESS", "operation now in progress"},
    {EALREADY, "EALREADY", "operation already in progress"},
    {EBADF, "EBADF", "bad file descriptor"},
    {EINVAL, "EINVAL", "invalid argument"},
    {EPERM, "EPERM", "operation not permitted"},
    {EACCES, "EACCES", "permission denied"},
    {EMFILE, "EMFILE", "too many open files"},
    {ENFILE, "ENFILE", "too many open files in system"},
    {ENOMEM, "ENOMEM", "not enough memory"},
    {ENOBUFS, "ENOBUFS", "no buffer space available"},
    {EPIPE, "EPIPE", "broken pipe"},
    {EIO, "EIO", "I/O error"},
    {ENOTSOCK, "ENOTSOCK", "socket operation on non-socket"},
    {EMSGSIZE, "EMSGSIZE", "message too long"},
    {EPROTO, "EPROTO", "protocol error"},
    {EPROTOTYPE, "EPROTOTYPE", "protocol wrong type for socket"},
    {ENOPROTOOPT, "ENOPROTOOPT", "protocol option not available"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT", "protocol not supported"},
    {EOPNOTSUPP, "EOPNOTSUPP", "operation not supported on socket"},
    {EAFNOSUPPORT, "EAFNOSUPPORT", "address family not supported"},
    {EADDRINUSE, "EADDRINUSE", "address already in use"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL",
	    "address not available (unknown host or not a local address)"},
    {ENETDOWN, "ENETDOWN", "network is down"},
    {ENETUNREACH, "ENETUNREACH", "network is unreachable"},
    {ENETRESET, "ENETRESET", "network dropped connection on reset"},
    {ECONNABORTED, "ECONNABORTED", "software caused connection abort"},
    {ECONNRESET, "ECONNRESET", "connection reset by peer"},
    {ECONNREFUSED, "ECONNREFUSED", "connection refused"},
    {EISCONN, "EISCONN", "socket is already connected"},
    {ENOTCONN, "ENOTCONN", "socket is not connected"},
    {ESHUTDOWN, "ESHUTDOWN", "cannot send after socket shutdown"},
    {ETIMEDOUT, "ETIMEDOUT", "connection timed out"},
    {EHOSTDOWN, "EHOSTDOWN", "host is down"},
    {EHOSTUNREACH, "EHOSTUNREACH", "host is unreachable"},
};

#define ERR_COUNT ((int) (sizeof(errTable) / sizeof(errTable[0])))

static __thread char errRing[4][128];	/* Texts of codes not in errTable: */
static __thread unsigned errNext;	/* a few calls may be in use at once. */

/*
 *----------------------------------------------------------------------
 *
 * SetFlags, MoveHigh, NewSocket, TuneStream, ListenOn --
 *
 *	Socket helpers: make a descriptor non-blocking and close-on-exec;
 *	move a descriptor to MP_FD_FLOOR or above (a close-on-exec duplicate
 *	replaces it) when the descriptor limit leaves room there, else keep
 *	it; create a TCP socket that is non-blocking, close-on-exec and high
 *	where possible; set TCP_NODELAY (and SO_NOSIGPIPE where it exists) on
 *	a stream; create, configure, bind and listen one listening socket
 *	(SO_REUSEADDR, optionally SO_REUSEPORT, and IPV6_V6ONLY=0 when
 *	dualStack).
 *
 * Results:
 *	SetFlags: 0 or errno. MoveHigh: the descriptor to use from now on
 *	(fd itself when it cannot be moved). NewSocket, ListenOn: the socket,
 *	or -1 with *errPtr set.
 *
 * Side effects:
 *	Creates sockets, changes descriptor flags and socket options.
 *
 *----------------------------------------------------------------------
 */

static int
SetFlags(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);

    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
	return errno;
    }
    fl = fcntl(fd, F_GETFD, 0);
    if (fl == -1 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1) {
	return errno;
    }
    return 0;
}

static int
MoveHigh(int fd)
{
    int high;

    if (fd < 0 || fd >= MP_FD_FLOOR) {
	return fd;
    }
#ifdef F_DUPFD_CLOEXEC
    high = fcntl(fd, F_DUPFD_CLOEXEC, MP_FD_FLOOR);
#else
    high = fcntl(fd, F_DUPFD, MP_FD_FLOOR);
    if (high != -1 && fcntl(high, F_SETFD, FD_CLOEXEC) == -1) {
	(void) close(high);
	high = -1;
    }
#endif
    if (high == -1) {
	return fd;		/* EINVAL or EMFILE: the limit is too low. */
    }
    (void) close(fd);		/* The flags live on in the duplicate. */
    return high;
}

static int
NewSocket(int family, int *errPtr)
{
    int fd = socket(family, SOCK_STREAM | MP_SOCK_FLAGS, 0);

    if (fd == -1) {
	*errPtr = errno;
	return -1;
    }
    if (MP_SOCK_FLAGS == 0 && (*errPtr = SetFlags(fd)) != 0) {
	close(fd);
	return -1;
    }
    return MoveHigh(fd);
}

static void
TuneStream(int fd)
{
    int on = 1;

    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
#ifdef SO_NOSIGPIPE
    (void) setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on));
#endif
}

static int
ListenOn(const struct sockaddr *sa, socklen_t len, int backlog, int flags,
	int dualStack, int *errPtr)
{
    int on = 1, off = 0, fd = NewSocket(sa->sa_family, errPtr);

    if (fd == -1) {
	return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1) {
	goto fail;
    }
    if (flags & MP_LISTEN_REUSEPORT) {
#ifdef MP_REUSEPORT
	if (setsockopt(fd, SOL_SOCKET, MP_REUSEPORT, &on, sizeof(on)) == -1) {
	    goto fail;
	}
#else
	errno = ENOPROTOOPT;
	goto fail;
#endif
    }
    if (dualStack && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
	    sizeof(off)) == -1) {
	goto fail;
    }
    if (bind(fd, sa, len) == 0 && listen(fd, backlog) == 0) {
	return fd;
    }
  fail:
    *errPtr = errno;
    close(fd);
    return -1;
}

/*
 *----------------------------------------------------------------------
 *
 * GaiError --
 *
 *	Maps a getaddrinfo() failure to an errno value (resolution failures
 *	all become EADDRNOTAVAIL, whose text mentions an unknown host).
 *
 * Results:
 *	An errno value.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
GaiError(int rc)
{
    if (rc == EAI_SYSTEM && errno != 0) {
	return errno;
    }
    return (rc == EAI_MEMORY) ? ENOMEM : EADDRNOTAVAIL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockStartup --
 *
 *	Initialisation when the package is loaded into an interpreter. It
 *	raises the descriptor limit (MpSockRaiseFdLimit), so that sockets
 *	can be kept above the ones Tcl's notifier watches. SIGPIPE needs
 *	nothing: it is avoided per call (MSG_NOSIGNAL) or per socket
 *	(SO_NOSIGPIPE).
 *
 * Results:
 *	Always 0 (a limit that cannot be raised is not an error).
 *
 * Side effects:
 *	May raise the process's soft RLIMIT_NOFILE.
 *
 *----------------------------------------------------------------------
 */

int
MpSockStartup(void)
{
    (void) MpSockRaiseFdLimit();
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockListen --
 *
 *	Open a non-blocking, close-on-exec listening TCP socket. A NULL or
 *	empty host means every interface, IPv4 and IPv6 on one dual-stack
 *	socket (IPv4 only where IPv6 is unavailable); otherwise the first
 *	address of host that can be bound is used. port 0 is ephemeral,
 *	backlog <= 0 means SOMAXCONN.
 *
 * Results:
 *	0 with *sockPtr set, or -1 with *errPtr set.
 *
 * Side effects:
 *	Opens a socket; may resolve host (numeric or via the resolver).
 *
 *----------------------------------------------------------------------
 */

int
MpSockListen(const char *host, int port, int backlog, int flags,
	MpSocket *sockPtr, int *errPtr)
{
    struct addrinfo hints, *res, *ai;
    char service[16];
    int fd = -1, err = EADDRNOTAVAIL, rc;

    if (port < 0 || port > 65535) {
	*errPtr = EINVAL;
	return -1;
    }
    if (backlog <= 0) {
	backlog = SOMAXCONN;
    }
    if (host == NULL || *host == '\0') {
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_any;
	sin6.sin6_port = htons((unsigned short) port);
	fd = ListenOn((struct sockaddr *) &sin6, sizeof(sin6), backlog, flags,
		1, &err);
	if (fd == -1 && err != EADDRINUSE && err != EACCES) {
	    memset(&sin, 0, sizeof(sin));
	    sin.sin_family = AF_INET;
	    sin.sin_addr.s_addr = htonl(INADDR_ANY);
	    sin.sin_port = htons((unsigned short) port);
	    fd = ListenOn((struct sockaddr *) &sin, sizeof(sin), backlog,
		    flags, 0, &err);
	}
    } else {
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
	    *errPtr = GaiError(rc);
	    return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
	    fd = ListenOn(ai->ai_addr, ai->ai_addrlen, backlog, flags, 0,
		    &err);
	}
	freeaddrinfo(res);
    }
    if (fd == -1) {
	*errPtr = err;
	return -1;
    }
    *sockPtr = fd;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockAccept --
 *
 *	Accept one pending connection as a non-blocking, close-on-exec socket
 *	with TCP_NODELAY (and SO_NOSIGPIPE where it exists), moved out of the
 *	descriptors Tcl's notifier can watch where the limit allows.
 *
 * Results:
 *	0 with *sockPtr and *peerPtr set; MP_IO_AGAIN when nothing is pending
 *	or the connection vanished (transient errors); MP_IO_ERROR with
 *	*errPtr set otherwise (EMFILE, ENFILE, ENOBUFS, ENOMEM ...).
 *
 * Side effects:
 *	Opens a socket.
 *
 *----------------------------------------------------------------------
 */

int
MpSockAccept(MpSocket listener, MpSocket *sockPtr, MpAddr *peerPtr,
	int *errPtr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, e;

    do {
	len = sizeof(ss);
#ifdef MP_HAVE_ACCEPT4
	fd = accept4(listener, (struct sockaddr *) &ss, &len, MP_SOCK_FLAGS);
#else
	fd = accept(listener, (struct sockaddr *) &ss, &len);
#endif
    } while (fd == -1 && errno == EINTR);
    if (fd == -1) {
	e = errno;
	if (e == EAGAIN || e == EWOULDBLOCK || e == ECONNABORTED
		|| e == EPROTO || e == EPERM || e == ENETDOWN
		|| e == ENETUNREACH || e == EHOSTDOWN || e == EHOSTUNREACH) {
	    return MP_IO_AGAIN;
	}
	*errPtr = e;
	return MP_IO_ERROR;
    }
#ifndef MP_HAVE_ACCEPT4
    if ((e = SetFlags(fd)) != 0) {
	close(fd);
	*errPtr = e;
	return MP_IO_ERROR;
    }
#endif
    fd = MoveHigh(fd);
    TuneStream(fd);
    if (peerPtr != NULL) {
	(void) MpAddrFromSockaddr((struct sockaddr *) &ss, peerPtr);
    }
    *sockPtr = fd;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockResolve --
 *
 *	Resolves host (a name or a numeric address; empty means the
 *	loopback addresses) for a TCP connection to port. May block for
 *	as long as the system's resolver takes: called from a worker
 *	thread (generic/mpResolve.c). Thread-safe.
 *
 * Results:
 *	The number of addresses stored in addrs (at most max, in the order
 *	getaddrinfo() gives them, each with the port), or -1 with *errPtr
 *	set.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpSockResolve(const char *host, int port, MpAddr *addrs, int max,
	int *errPtr)
{
    struct addrinfo hints, *res, *ai;
    char service[16];
    int rc, count = 0;

    if (port < 0 || port > 65535) {
	*errPtr = EINVAL;
	return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo((host != NULL && *host) ? host : NULL, service, &hints,
	    &res);
    if (rc != 0) {
	*errPtr = GaiError(rc);
	return -1;
    }
    for (ai = res; ai != NULL && count < max; ai = ai->ai_next) {
	if (MpAddrFromSockaddr(ai->ai_addr, &addrs[count]) == 0) {
	    count++;
	}
    }
    freeaddrinfo(res);
    if (count == 0) {
	*errPtr = EADDRNOTAVAIL;
	return -1;
    }
    return count;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockConnectAddr --
 *
 *	Starts a non-blocking TCP connection to one numeric address (as
 *	MpSockResolve gives them; never a name lookup).
 *
 * Results:
 *	0 with *sockPtr and *inProgressPtr (1 while the connection is
 *	pending, 0 if it completed at once) set; -1 with *errPtr set.
 *
 * Side effects:
 *	Opens a socket.
 *
 *----------------------------------------------------------------------
 */

int
MpSockConnectAddr(const MpAddr *addr, MpSocket *sockPtr, int *inProgressPtr,
	int *errPtr)
{
    struct addrinfo hints, *res;
    char service[16];
    int fd, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", addr->port);
    rc = getaddrinfo(addr->host, service, &hints, &res);
    if (rc != 0) {
	*errPtr = GaiError(rc);
	return -1;
    }
    if ((fd = NewSocket(res->ai_family, errPtr)) == -1) {
	freeaddrinfo(res);
	return -1;
    }
    TuneStream(fd);
    if (connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
	*inProgressPtr = 0;
    } else if (errno == EINPROGRESS || errno == EINTR) {
	*inProgressPtr = 1;
    } else {
	*errPtr = errno;
	close(fd);
	freeaddrinfo(res);
	return -1;
    }
    freeaddrinfo(res);
    *sockPtr = fd;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockConnectResult --
 *
 *	Outcome of a pending connect once the socket reports writable.
 *
 * Results:
 *	0 if connected, MP_CONNECT_PENDING if it is still in progress (the
 *	readiness was not for it: a stale event), else the error code
 *	(SO_ERROR).
 *
 * Side effects:
 *	Clears the socket's pending error.
 *
 *----------------------------------------------------------------------
 */

int
MpSockConnectResult(MpSocket sock)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(sock, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
	return errno;
    }
    if (err == 0) {
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	if (getpeername(sock, (struct sockaddr *) &ss, &sslen) == -1
		&& errno == ENOTCONN) {
	    return MP_CONNECT_PENDING;
	}
    }
    return err;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockRead, MpSockWritev --
 *
 *	Read what is available, up to len bytes; gathered write of up to
 *	MP_IOV_MAX buffers (one buffer goes by send(), more by sendmsg())
 *	that never raises SIGPIPE. Both retry on EINTR.
 *
 * Results:
 *	Bytes transferred (MpSockRead: 0 means orderly EOF), MP_IO_AGAIN, or
 *	MP_IO_ERROR with *errPtr set.
 *
 * Side effects:
 *	Consumes socket input or queues output.
 *
 *----------------------------------------------------------------------
 */

ptrdiff_t
MpSockRead(MpSocket sock, void *buf, size_t len, int *errPtr)
{
    ssize_t n;

    do {
	n = recv(sock, buf, len, 0);
    } while (n == -1 && errno == EINTR);
    if (n >= 0) {
	return (ptrdiff_t) n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
	return MP_IO_AGAIN;
    }
    *errPtr = errno;
    return MP_IO_ERROR;
}

ptrdiff_t
MpSockWritev(MpSocket sock, MpIovec *iov, int iovcnt, int *errPtr)
{
    struct msghdr msg;
    ssize_t n;

    if (iovcnt <= 0) {
	return 0;
    }
    if (iovcnt == 1) {
	/*
	 * One buffer, the common case of a recipient that keeps up: send()
	 * spares the kernel the copy of a message header and iovec array.
	 */

	do {
	    n = send(sock, iov[0].iov_base, iov[0].iov_len, MP_SEND_FLAGS);
	} while (n == -1 && errno == EINTR);
    } else {
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;
	do {
	    n = sendmsg(sock, &msg, MP_SEND_FLAGS);
	} while (n == -1 && errno == EINTR);
    }
    if (n >= 0) {
	return (ptrdiff_t) n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
	return MP_IO_AGAIN;
    }
    *errPtr = errno;
    return MP_IO_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockClose, MpSockAbort --
 *
 *	Close a socket; MpSockAbort first sets a zero linger time so that
 *	the close discards unsent data and sends a reset.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	The descriptor is released.
 *
 *----------------------------------------------------------------------
 */

void
MpSockClose(MpSocket sock)
{
    (void) close(sock);
}

void
MpSockAbort(MpSocket sock)
{
    struct linger lg;

    lg.l_onoff = 1;
    lg.l_linger = 0;
    (void) setsockopt(sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    (void) close(sock);
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockShutdownWrite --
 *
 *	Ends the sending direction (the peer reads end of file once it has
 *	read what was sent), keeping the socket open for reading.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Sends FIN after any data the kernel still holds.
 *
 *----------------------------------------------------------------------
 */

void
MpSockShutdownWrite(MpSocket sock)
{
    (void) shutdown(sock, SHUT_WR);
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockWait --
 *
 *	Waits, as a blocking socket would, until a socket can be read
 *	(events has MP_WAIT_READ: data, end of file or an error is waiting)
 *	or written (MP_WAIT_WRITE), whichever comes first. Used only where a
 *	script asked for blocking I/O on a client channel; the event loop
 *	does not run meanwhile.
 *
 * Results:
 *	The MP_WAIT_* bits that are ready (an error or hang-up counts as
 *	every bit asked for), or -1 with *errPtr set if the wait itself
 *	failed.
 *
 * Side effects:
 *	Blocks the calling thread, without limit.
 *
 *----------------------------------------------------------------------
 */

int
MpSockWait(MpSocket sock, int events, int *errPtr)
{
    struct pollfd pfd;
    int n, ready = 0;

    pfd.fd = sock;
    pfd.events = (short) (((events & MP_WAIT_READ) ? POLLIN : 0)
	    | ((events & MP_WAIT_WRITE) ? POLLOUT : 0));
    pfd.revents = 0;
    do {
	n = poll(&pfd, 1, -1);
    } while (n == -1 && errno == EINTR);
    if (n < 0) {
	*errPtr = errno;
	return -1;
    }
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
	return events;
    }
    if (pfd.revents & POLLIN) {
	ready |= MP_WAIT_READ;
    }
    if (pfd.revents & POLLOUT) {
	ready |= MP_WAIT_WRITE;
    }
    return ready;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockPosixError --
 *
 *	The POSIX errno value for a socket error code, for Tcl's channel
 *	layer (which reports driver errors as errno values). On Unix they
 *	are the same.
 *
 * Results:
 *	err.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpSockPosixError(int err)
{
    return err;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockLocalAddr --
 *
 *	The local address of a socket (getsockname), an IPv4-mapped IPv6
 *	address as IPv4.
 *
 * Results:
 *	0 with *addrPtr set, or -1.
 *
 * Side effects:
 *	Overwrites *addrPtr.
 *
 *----------------------------------------------------------------------
 */

int
MpSockLocalAddr(MpSocket sock, MpAddr *addrPtr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(sock, (struct sockaddr *) &ss, &len) == -1) {
	return -1;
    }
    return MpAddrFromSockaddr((struct sockaddr *) &ss, addrPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockIsExhausted, MpSockErrorText, MpSockErrorId --
 *
 *	Interpret error codes: resource exhaustion, after which retrying at
 *	once would fail again (EMFILE, ENFILE, ENOBUFS, ENOMEM); a
 *	lower-case human text (thread-safe: unlisted codes use a per-thread
 *	ring of four buffers, like strerror); the POSIX symbolic name or
 *	"EUNKNOWN".
 *
 * Results:
 *	A boolean; static or thread-local strings.
 *
 * Side effects:
 *	MpSockErrorText may overwrite this thread's buffer.
 *
 *----------------------------------------------------------------------
 */

int
MpSockIsExhausted(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

const char *
MpSockErrorText(int err)
{
    char *buf = errRing[errNext++ % 4];
    const char *s;
    int i;

    for (i = 0; i < ERR_COUNT; i++) {
	if (errTable[i].code == err) {
	    return errTable[i].text;
	}
    }
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    s = strerror_r(err, buf, sizeof(errRing[0]));	/* GNU variant. */
#else
    s = (strerror_r(err, buf, sizeof(errRing[0])) == 0) ? buf : NULL;
#endif
    if (s == NULL || *s == '\0') {
	snprintf(buf, sizeof(errRing[0]), "socket error %d", err);
	return buf;
    }
    if (s != buf) {
	snprintf(buf, sizeof(errRing[0]), "%s", s);
    }
    if (buf[0] >= 'A' && buf[0] <= 'Z' && buf[1] >= 'a' && buf[1] <= 'z') {
	buf[0] = (char) (buf[0] - 'A' + 'a');
    }
    return buf;
}

const char *
MpSockErrorId(int err)
{
    int i;

    for (i = 0; i < ERR_COUNT; i++) {
	if (errTable[i].code == err) {
	    return errTable[i].id;
	}
    }
    return "EUNKNOWN";
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockRaiseFdLimit, MpSockFdFloor --
 *
 *	Raise the soft RLIMIT_NOFILE to the hard limit, but not above
 *	MP_FD_LIMIT_CAP (nor above OPEN_MAX on macOS when the hard limit is
 *	unlimited or the larger value is refused); a soft limit already
 *	higher is left alone. The lowest descriptor number our sockets are
 *	moved to: MP_FD_FLOOR when the soft limit leaves room above it,
 *	else 0 (sockets keep the number the system gives them).
 *
 * Results:
 *	MpSockRaiseFdLimit: the soft limit in force afterwards (LONG_MAX if
 *	unlimited), or -1. MpSockFdFloor: MP_FD_FLOOR or 0.
 *
 * Side effects:
 *	MpSockRaiseFdLimit changes the process resource limit.
 *
 *----------------------------------------------------------------------
 */

long
MpSockRaiseFdLimit(void)
{
    struct rlimit rl;
    rlim_t target;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
	return -1;
    }
    target = rl.rlim_max;
    if (target == RLIM_INFINITY || target > MP_FD_LIMIT_CAP) {
	target = MP_FD_LIMIT_CAP;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < target) {
	struct rlimit want = rl;

	want.rlim_cur = target;
#if defined(__APPLE__) && defined(OPEN_MAX)
	if (rl.rlim_max == RLIM_INFINITY && want.rlim_cur > OPEN_MAX) {
	    want.rlim_cur = OPEN_MAX;
	}
#endif
	if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
#ifdef OPEN_MAX
	    if (rl.rlim_cur < OPEN_MAX && want.rlim_cur > OPEN_MAX) {
		want.rlim_cur = OPEN_MAX;
		(void) setrlimit(RLIMIT_NOFILE, &want);
	    }
#endif
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
	    return -1;
	}
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t) LONG_MAX) {
	return LONG_MAX;
    }
    return (long) rl.rlim_cur;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockMoveHigh --
 *
 *	For sockets made elsewhere (datagram sockets, mpDgramUnix.c): moves
 *	the descriptor to MP_FD_FLOOR or above as the package's TCP sockets
 *	are (MoveHigh), leaving the low numbers to the script.
 *
 * Results:
 *	The descriptor to use from now on (sock itself when it cannot be
 *	moved).
 *
 * Side effects:
 *	May close sock (its duplicate replaces it).
 *
 *----------------------------------------------------------------------
 */

MpSocket
MpSockMoveHigh(
    MpSocket sock)
{
    return MoveHigh(sock);
}

int
MpSockFdFloor(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
	return 0;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t) MP_FD_FLOOR) {
	return MP_FD_FLOOR;
    }
    return 0;
}
