/*
 * mpTransportTcp.c --
 *
 *	The plain TCP transport (mpTransport.h): the socket calls of mpSock.h
 *	as they are, no handshake, no state. Also the transport-neutral
 *	set-up and closing of a connection.
 */

#include "mpInt.h"

static ptrdiff_t	TcpRead(MpConn *conn, void *buf, size_t len,
			    int *errPtr);
static ptrdiff_t	TcpWritev(MpConn *conn, MpIovec *iov, int iovcnt,
			    int *errPtr);
static int		TcpHandshake(MpConn *conn, int *errPtr);
static int		TcpWant(MpConn *conn, int mask);
static size_t		TcpPending(MpConn *conn);
static void		TcpShutdown(MpConn *conn);
static int		TcpWait(MpConn *conn, int events, int *errPtr);
static void		TcpClose(MpConn *conn, int abortive);

const MpTransportType mpTcpTransport = {
    "tcp",
    TcpRead,
    TcpWritev,
    TcpHandshake,
    TcpWant,
    TcpPending,
    TcpShutdown,
    TcpWait,
    TcpClose,
    0				/* Write at once. */
};

/*
 *----------------------------------------------------------------------
 *
 * MpConnInit, MpConnClose --
 *
 *	MpConnInit makes a connection of a transport over a socket; the
 *	owner fills in the watch's callback. MpConnClose closes it through
 *	its transport (abortive: with a reset) and leaves it empty; closing
 *	an empty connection does nothing.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	MpConnClose closes the socket and frees the transport's state.
 *
 *----------------------------------------------------------------------
 */

void
MpConnInit(
    MpConn *conn,
    const MpTransportType *type,
    MpSocket fd)
{
    conn->watch.fd = fd;
    conn->type = type;
    conn->state = NULL;
}

void
MpConnClose(
    MpConn *conn,
    int abortive)
{
    if (conn->watch.fd != MP_INVALID_SOCKET) {
	conn->type->closeProc(conn, abortive);
    }
    conn->watch.fd = MP_INVALID_SOCKET;
    conn->state = NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * TcpRead, TcpWritev, TcpHandshake, TcpWant, TcpPending, TcpShutdown,
 * TcpWait, TcpClose --
 *
 *	The TCP transport's procedures: see mpTransport.h for what each
 *	does. A TCP connection carries data from the start, wants exactly
 *	what its owner wants and holds no input of its own.
 *
 * Results:
 *	As mpTransport.h says.
 *
 * Side effects:
 *	Socket calls.
 *
 *----------------------------------------------------------------------
 */

static ptrdiff_t
TcpRead(
    MpConn *conn,
    void *buf,
    size_t len,
    int *errPtr)
{
    return MpSockRead(conn->watch.fd, buf, len, errPtr);
}

static ptrdiff_t
TcpWritev(
    MpConn *conn,
    MpIovec *iov,
    int iovcnt,
    int *errPtr)
{
    return MpSockWritev(conn->watch.fd, iov, iovcnt, errPtr);
}

static int
TcpHandshake(
    MpConn *conn,
    int *errPtr)
{
    (void) conn;
    (void) errPtr;
    return 0;
}

static int
TcpWant(
    MpConn *conn,
    int mask)
{
    (void) conn;
    return mask;
}

static size_t
TcpPending(
    MpConn *conn)
{
    (void) conn;
    return 0;
}

static void
TcpShutdown(
    MpConn *conn)
{
    MpSockShutdownWrite(conn->watch.fd);
}

static int
TcpWait(
    MpConn *conn,
    int events,
    int *errPtr)
{
    return MpSockWait(conn->watch.fd, events, errPtr);
}

static void
TcpClose(
    MpConn *conn,
    int abortive)
{
    if (abortive) {
	MpSockAbort(conn->watch.fd);
    } else {
	MpSockClose(conn->watch.fd);
    }
}
