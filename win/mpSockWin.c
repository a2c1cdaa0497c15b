/*
 * mpSockWin.c --
 *
 *	Winsock2 implementation of mpSock.h. Error codes are WSAGetLastError()
 *	values; MpSockErrorId gives them their POSIX names so that the Tcl
 *	-errorcode of a failure is the same on every platform. Needs Windows
 *	Vista or later (WSAPoll here, inet_pton and inet_ntop in
 *	generic/mpAddr.c); link with ws2_32.
 */

#if !defined(_WIN32_WINNT) || (_WIN32_WINNT < 0x0600)
#   undef _WIN32_WINNT
#   define _WIN32_WINNT 0x0600
#endif

#include "mpSock.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#   define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif

#ifdef _MSC_VER
#   define MP_TLS __declspec(thread)
#else
#   define MP_TLS __thread
#endif

/*
 * POSIX names and texts of the Winsock errors a socket layer meets.
 */

static const struct {
    int code;
    const char *id;
    const char *text;
} errTable[] = {
    {WSAEWOULDBLOCK, "EAGAIN", "resource temporarily unavailable"},
    {WSAEINTR, "EINTR", "interrupted function call"},
    {WSAEINPROGRESS, "EINPROGRESS", "operation now in progress"},
    {WSAEALREADY, "EALREADY", "operation already in progress"},
    {WSAEBADF, "EBADF", "bad file descriptor"},
    {WSAEINVAL, "EINVAL", "invalid argument"},
    {WSAEFAULT, "EFAULT", "bad address"},
    {WSAEACCES, "EACCES", "permission denied"},
    {WSAEMFILE, "EMFILE", "too many open sockets"},
    {WSAENOBUFS, "ENOBUFS", "no buffer space available"},
    {WSA_NOT_ENOUGH_MEMORY, "ENOMEM", "not enough memory"},
    {WSAENOTSOCK, "ENOTSOCK", "socket operation on non-socket"},
    {WSAEMSGSIZE, "EMSGSIZE", "message too long"},
    {WSAEPROTOTYPE, "EPROTOTYPE", "protocol wrong type for socket"},
    {WSAENOPROTOOPT, "ENOPROTOOPT", "protocol option not available"},
    {WSAEPROTONOSUPPORT, "EPROTONOSUPPORT", "protocol not supported"},
    {WSAEOPNOTSUPP, "EOPNOTSUPP", "operation not supported on socket"},
    {WSAEAFNOSUPPORT, "EAFNOSUPPORT", "address family not supported"},
    {WSAEADDRINUSE, "EADDRINUSE", "address already in use"},
    {WSAEADDRNOTAVAIL, "EADDRNOTAVAIL",
	    "address not available (unknown host or not a local address)"},
    {WSAENETDOWN, "ENETDOWN", "network is down"},
    {WSAENETUNREACH, "ENETUNREACH", "network is unreachable"},
    {WSAENETRESET, "ENETRESET", "network dropped connection on reset"},
    {WSAECONNABORTED, "ECONNABORTED", "software caused connection abort"},
    {WSAECONNRESET, "ECONNRESET", "connection reset by peer"},
    {WSAECONNREFUSED, "ECONNREFUSED", "connection refused"},
    {WSAEISCONN, "EISCONN", "socket is already connected"},
    {WSAENOTCONN, "ENOTCONN", "socket is not connected"},
    {WSAESHUTDOWN, "ESHUTDOWN", "cannot send after socket shutdown"},
    {WSAETIMEDOUT, "ETIMEDOUT", "connection timed out"},
    {WSAEHOSTDOWN, "EHOSTDOWN", "host is down"},
    {WSAEHOSTUNREACH, "EHOSTUNREACH", "host is unreachable"},
    {WSANOTINITIALISED, "EUNKNOWN", "winsock not initialised"},
};

#define ERR_COUNT ((int) (sizeof(errTable) / sizeof(errTable[0])))

static MP_TLS char errRing[4][32];	/* Texts of unlisted codes. */
static MP_TLS unsigned errNext;
static volatile LONG started;	/* WSAStartup() done. */

/*
 *----------------------------------------------------------------------
 *
 * NewSocket, TuneStream, Prepare --
 *
 *	Socket helpers: create a non-blocking, non-inheritable TCP socket;
 *	set TCP_NODELAY on a stream; make an accepted socket non-blocking and
 *	non-inheritable.
 *
 * Results:
 *	NewSocket: the socket or INVALID_SOCKET with *errPtr set. Prepare: 0
 *	or a Winsock error.
 *
 * Side effects:
 *	Creates sockets, changes socket options.
 *
 *----------------------------------------------------------------------
 */

static int
Prepare(SOCKET s)
{
    u_long on = 1;

    (void) SetHandleInformation((HANDLE) s, HANDLE_FLAG_INHERIT, 0);
    return (ioctlsocket(s, FIONBIO, &on) == SOCKET_ERROR)
	    ? WSAGetLastError() : 0;
}

static SOCKET
NewSocket(int family, int *errPtr)
{
    SOCKET s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
	    WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);

    if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) {
	/* Before Windows 7 SP1: no WSA_FLAG_NO_HANDLE_INHERIT. */
	s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
		WSA_FLAG_OVERLAPPED);
    }
    if (s == INVALID_SOCKET) {
	*errPtr = WSAGetLastError();
    } else if ((*errPtr = Prepare(s)) != 0) {
	closesocket(s);
	s = INVALID_SOCKET;
    }
    return s;
}

static void
TuneStream(SOCKET s)
{
    BOOL on = TRUE;

    (void) setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *) &on,
	    sizeof(on));
}

/*
 *----------------------------------------------------------------------
 *
 * GaiError --
 *
 *	Maps a getaddrinfo() failure: failures other than lack of memory or
 *	of WSAStartup become WSAEADDRNOTAVAIL.
 *
 * Results:
 *	A Winsock error.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
GaiError(int rc)
{
    return (rc == WSA_NOT_ENOUGH_MEMORY || rc == WSANOTINITIALISED)
	    ? rc : WSAEADDRNOTAVAIL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockStartup --
 *
 *	Initialise Winsock 2.2 once per process (WSAStartup is reference
 *	counted, so a race only adds a harmless extra reference).
 *
 * Results:
 *	0, or the WSAStartup error.
 *
 * Side effects:
 *	Loads Winsock.
 *
 *----------------------------------------------------------------------
 */

int
MpSockStartup(void)
{
    WSADATA data;
    int rc;

    if (started) {
	return 0;
    }
    rc = WSAStartup(MAKEWORD(2, 2), &data);
    if (rc == 0) {
	InterlockedExchange(&started, 1);
    }
    return rc;
}

/*
 *----------------------------------------------------------------------
 *
 * ListenOn, MpSockListen --
 *
 *	Open a non-blocking listening socket: NULL or "" host means every
 *	interface on one dual-stack IPv6 socket (IPv4 only if IPv6 is
 *	missing); otherwise the first bindable address of host. SO_REUSEADDR
 *	is not used: on Windows it would let other sockets steal the port,
 *	and TIME_WAIT does not block a new listener. Reuse-port is not
 *	supported (WSAENOPROTOOPT).
 *
 * Results:
 *	0 with *sockPtr set, or -1 with *errPtr set.
 *
 * Side effects:
 *	Opens a socket; may resolve host.
 *
 *----------------------------------------------------------------------
 */

static SOCKET
ListenOn(const struct sockaddr *sa, int len, int backlog, int dualStack,
	int *errPtr)
{
    DWORD off = 0;
    SOCKET s = NewSocket(sa->sa_family, errPtr);

    if (s == INVALID_SOCKET) {
	return s;
    }
    if ((dualStack && setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY,
	    (const char *) &off, sizeof(off)) == SOCKET_ERROR)
	    || bind(s, sa, len) == SOCKET_ERROR
	    || listen(s, backlog) == SOCKET_ERROR) {
	*errPtr = WSAGetLastError();
	closesocket(s);
	return INVALID_SOCKET;
    }
    return s;
}

int
MpSockListen(const char *host, int port, int backlog, int flags,
	MpSocket *sockPtr, int *errPtr)
{
    struct addrinfo hints, *res, *ai;
    char service[16];
    int err = WSAEADDRNOTAVAIL, rc;
    SOCKET s = INVALID_SOCKET;

    if (port < 0 || port > 65535) {
	*errPtr = WSAEINVAL;
	return -1;
    }
    if (flags & MP_LISTEN_REUSEPORT) {
	*errPtr = WSAENOPROTOOPT;
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
	sin6.sin6_port = htons((u_short) port);
	s = ListenOn((struct sockaddr *) &sin6, sizeof(sin6), backlog, 1, &err);
	if (s == INVALID_SOCKET && err != WSAEADDRINUSE && err != WSAEACCES) {
	    memset(&sin, 0, sizeof(sin));
	    sin.sin_family = AF_INET;
	    sin.sin_addr.s_addr = htonl(INADDR_ANY);
	    sin.sin_port = htons((u_short) port);
	    s = ListenOn((struct sockaddr *) &sin, sizeof(sin), backlog, 0,
		    &err);
	}
    } else {
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%d", port);
	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
	    *errPtr = GaiError(rc);
	    return -1;
	}
	for (ai = res; ai != NULL && s == INVALID_SOCKET; ai = ai->ai_next) {
	    s = ListenOn(ai->ai_addr, (int) ai->ai_addrlen, backlog, 0, &err);
	}
	freeaddrinfo(res);
    }
    if (s == INVALID_SOCKET) {
	*errPtr = err;
	return -1;
    }
    *sockPtr = s;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockAccept --
 *
 *	Accept one pending connection as a non-blocking, non-inheritable
 *	socket with TCP_NODELAY.
 *
 * Results:
 *	0 with *sockPtr and *peerPtr set; MP_IO_AGAIN when nothing is pending
 *	or the peer reset first; MP_IO_ERROR with *errPtr set otherwise.
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
    int len = sizeof(ss), e;
    SOCKET s = accept(listener, (struct sockaddr *) &ss, &len);

    if (s == INVALID_SOCKET) {
	e = WSAGetLastError();
	if (e == WSAEWOULDBLOCK || e == WSAECONNRESET || e == WSAEINTR
		|| e == WSAEINPROGRESS || e == WSAECONNABORTED) {
	    return MP_IO_AGAIN;
	}
	*errPtr = e;
	return MP_IO_ERROR;
    }
    if ((e = Prepare(s)) != 0) {
	closesocket(s);
	*errPtr = e;
	return MP_IO_ERROR;
    }
    TuneStream(s);
    if (peerPtr != NULL) {
	(void) MpAddrFromSockaddr((struct sockaddr *) &ss, peerPtr);
    }
    *sockPtr = s;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockResolve --
 *
 *	Resolves host (a name or a numeric address; empty means the
 *	loopback addresses) for a TCP connection to port. May block: called
 *	from a worker thread (generic/mpResolve.c). Thread-safe.
 *
 * Results:
 *	The number of addresses stored in addrs (at most max, in
 *	getaddrinfo() order, each with the port), or -1 with *errPtr set.
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
	*errPtr = WSAEINVAL;
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
	*errPtr = WSAEADDRNOTAVAIL;
	return -1;
    }
    return count;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockConnectAddr, MpSockConnectResult --
 *
 *	Start a non-blocking connection to one numeric address (as
 *	MpSockResolve gives them); later, the outcome of the pending
 *	connection (SO_ERROR) once the socket reports writable.
 *
 * Results:
 *	MpSockConnectAddr: 0 with *sockPtr and *inProgressPtr set, or -1
 *	with *errPtr set. MpSockConnectResult: 0, MP_CONNECT_PENDING (still
 *	in progress: a stale readiness event) or the Winsock error.
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
    int rc, err;
    SOCKET s;

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
    if ((s = NewSocket(res->ai_family, errPtr)) == INVALID_SOCKET) {
	freeaddrinfo(res);
	return -1;
    }
    TuneStream(s);
    if (connect(s, res->ai_addr, (int) res->ai_addrlen) == 0) {
	*inProgressPtr = 0;
    } else if ((err = WSAGetLastError()) == WSAEWOULDBLOCK
	    || err == WSAEINPROGRESS) {
	*inProgressPtr = 1;
    } else {
	*errPtr = err;
	closesocket(s);
	freeaddrinfo(res);
	return -1;
    }
    freeaddrinfo(res);
    *sockPtr = s;
    return 0;
}

int
MpSockConnectResult(MpSocket sock)
{
    int err = 0, len = sizeof(err);

    if (getsockopt(sock, SOL_SOCKET, SO_ERROR, (char *) &err, &len)
	    == SOCKET_ERROR) {
	return WSAGetLastError();
    }
    if (err == 0) {
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (getpeername(sock, (struct sockaddr *) &ss, &sslen)
		== SOCKET_ERROR && WSAGetLastError() == WSAENOTCONN) {
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
 *	Read what is available (up to len bytes); gathered write (WSASend).
 *	Windows has no SIGPIPE.
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
    int n, e = 0;

    do {
	n = recv(sock, (char *) buf, (len > INT_MAX) ? INT_MAX : (int) len, 0);
    } while (n == SOCKET_ERROR && (e = WSAGetLastError()) == WSAEINTR);
    if (n != SOCKET_ERROR) {
	return n;
    }
    if (e == WSAEWOULDBLOCK) {
	return MP_IO_AGAIN;
    }
    *errPtr = e;
    return MP_IO_ERROR;
}

ptrdiff_t
MpSockWritev(MpSocket sock, MpIovec *iov, int iovcnt, int *errPtr)
{
    DWORD sent = 0;
    int e;

    if (iovcnt <= 0) {
	return 0;
    }
    while (WSASend(sock, iov, (DWORD) iovcnt, &sent, 0, NULL, NULL) != 0) {
	e = WSAGetLastError();
	if (e == WSAEINTR) {
	    continue;
	}
	if (e == WSAEWOULDBLOCK) {
	    return MP_IO_AGAIN;
	}
	*errPtr = e;
	return MP_IO_ERROR;
    }
    return (ptrdiff_t) sent;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockClose, MpSockAbort --
 *
 *	Close a socket; MpSockAbort sets a zero linger time first so that the
 *	close discards unsent data and sends a reset.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	The socket is released.
 *
 *----------------------------------------------------------------------
 */

void
MpSockClose(MpSocket sock)
{
    (void) closesocket(sock);
}

void
MpSockAbort(MpSocket sock)
{
    struct linger lg;

    lg.l_onoff = 1;
    lg.l_linger = 0;
    (void) setsockopt(sock, SOL_SOCKET, SO_LINGER, (const char *) &lg,
	    sizeof(lg));
    (void) closesocket(sock);
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
    (void) shutdown(sock, SD_SEND);
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockWait --
 *
 *	Waits, as a blocking socket would, until a socket can be read
 *	(events has MP_WAIT_READ) or written (MP_WAIT_WRITE), whichever
 *	comes first, with WSAPoll. Used only where a script asked for
 *	blocking I/O on a client channel.
 *
 * Results:
 *	The MP_WAIT_* bits that are ready (an error or hang-up counts as
 *	every bit asked for), or -1 with *errPtr set if the wait failed.
 *
 * Side effects:
 *	Blocks the calling thread, without limit.
 *
 *----------------------------------------------------------------------
 */

int
MpSockWait(MpSocket sock, int events, int *errPtr)
{
    WSAPOLLFD pfd;
    int ready = 0;

    pfd.fd = sock;
    pfd.events = (SHORT) (((events & MP_WAIT_READ) ? POLLRDNORM : 0)
	    | ((events & MP_WAIT_WRITE) ? POLLWRNORM : 0));
    pfd.revents = 0;
    if (WSAPoll(&pfd, 1, -1) == SOCKET_ERROR) {
	*errPtr = WSAGetLastError();
	return -1;
    }
    if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
	return events;
    }
    if (pfd.revents & POLLRDNORM) {
	ready |= MP_WAIT_READ;
    }
    if (pfd.revents & POLLWRNORM) {
	ready |= MP_WAIT_WRITE;
    }
    return ready;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockPosixError --
 *
 *	The POSIX errno value for a Winsock error code, for Tcl's channel
 *	layer (which reports driver errors as errno values and would call a
 *	Winsock code "unknown error"). Codes below WSABASEERR are already
 *	errno values (EPIPE from the core itself).
 *
 * Results:
 *	An errno value.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpSockPosixError(int err)
{
    switch (err) {
    case WSAECONNRESET:	return ECONNRESET;
    case WSAECONNABORTED:	return ECONNABORTED;
    case WSAENOTCONN:	return ENOTCONN;
    case WSAESHUTDOWN:	return EPIPE;
    case WSAETIMEDOUT:	return ETIMEDOUT;
    case WSAENETRESET:	return ENETRESET;
    case WSAENETDOWN:	return ENETDOWN;
    case WSAEHOSTUNREACH:	return EHOSTUNREACH;
    case WSAEWOULDBLOCK:	return EAGAIN;
    case WSAENOBUFS:	return ENOBUFS;
    case WSAEINTR:	return EINTR;
    default:
	return (err >= WSABASEERR) ? EIO : err;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockLocalAddr --
 *
 *	The local address of a socket, an IPv4-mapped address as IPv4.
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
    int len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(sock, (struct sockaddr *) &ss, &len) == SOCKET_ERROR) {
	return -1;
    }
    return MpAddrFromSockaddr((struct sockaddr *) &ss, addrPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockIsExhausted, MpSockErrorText, MpSockErrorId,
 * MpSockRaiseFdLimit, MpSockFdFloor --
 *
 *	Error interpretation: socket exhaustion (WSAEMFILE, WSAENOBUFS); a
 *	lower-case text ("socket error N" for unlisted codes, in a per-thread
 *	ring of four buffers);
 *	the POSIX symbolic name or "EUNKNOWN". Windows has no descriptor
 *	limit to raise, and its notifier has no descriptor range to keep
 *	sockets out of.
 *
 * Results:
 *	A boolean; static or thread-local strings; -1; 0.
 *
 * Side effects:
 *	MpSockErrorText may overwrite this thread's buffer.
 *
 *----------------------------------------------------------------------
 */

int
MpSockIsExhausted(int err)
{
    return err == WSAEMFILE || err == WSAENOBUFS;
}

const char *
MpSockErrorText(int err)
{
    char *buf = errRing[errNext++ % 4];
    int i;

    for (i = 0; i < ERR_COUNT; i++) {
	if (errTable[i].code == err) {
	    return errTable[i].text;
	}
    }
    snprintf(buf, sizeof(errRing[0]), "socket error %d", err);
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

long
MpSockRaiseFdLimit(void)
{
    return -1;
}

int
MpSockFdFloor(void)
{
    return 0;
}

/*
 * MpSockMoveHigh --
 *	Nothing to do on Windows: a SOCKET is a handle, and Tcl's notifier
 *	has no descriptor limit here.
 */

MpSocket
MpSockMoveHigh(
    MpSocket sock)
{
    return sock;
}
