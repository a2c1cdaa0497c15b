/*
 * mpTransport.h --
 *
 *	The transport contract: how a connection's bytes move. A connection
 *	(MpConn, defined in mpInt.h: the poller watch, a transport and its
 *	state) is driven only through the procedures of its transport's
 *	table, so the members that own connections (clients, lingering
 *	sockets) never know what kind of connection they hold. Plain TCP
 *	(mpTransportTcp.c) is the first transport; one that encrypts (TLS)
 *	fills the same table.
 *
 *	Byte counts and MP_IO_AGAIN / MP_IO_ERROR results are those of
 *	mpSock.h; error codes are the platform's socket error codes.
 */

#ifndef MP_TRANSPORT_H
#define MP_TRANSPORT_H

#include "mpPoller.h"

typedef struct MpConn MpConn;

typedef struct MpTransportType {
    const char *name;		/* "tcp" ... */

    /*
     * Reads up to len bytes: a count (0 at end of input), MP_IO_AGAIN or
     * MP_IO_ERROR with *errPtr set.
     */

    ptrdiff_t (*readProc)(MpConn *conn, void *buf, size_t len,
	    int *errPtr);

    /*
     * Writes from iovcnt buffers in order: a count of bytes taken,
     * MP_IO_AGAIN or MP_IO_ERROR with *errPtr set.
     */

    ptrdiff_t (*writevProc)(MpConn *conn, MpIovec *iov, int iovcnt,
	    int *errPtr);

    /*
     * Advances the connection's opening exchange: 0 when the connection
     * carries data, MP_IO_AGAIN while it goes on (wantProc says what it
     * waits for), MP_IO_ERROR with *errPtr set when it failed.
     */

    int (*handshakeProc)(MpConn *conn, int *errPtr);

    /*
     * The poller interest (MP_EV_*) that serves what the owner wants
     * (mask): a transport may need to read before it can write, or the
     * other way round.
     */

    int (*wantProc)(MpConn *conn, int mask);

    /*
     * Input the transport holds that a read would return although the
     * socket does not signal it.
     */

    size_t (*pendingProc)(MpConn *conn);

    /*
     * Ends the sending direction in an orderly way; the connection can
     * still be read.
     */

    void (*shutdownProc)(MpConn *conn);

    /*
     * Blocks until the connection can be read (forWrite 0) or written
     * (forWrite 1): 0, or -1 with *errPtr set.
     */

    int (*waitProc)(MpConn *conn, int forWrite, int *errPtr);

    /*
     * Closes the connection and frees the transport's state; abortive
     * discards what the kernel still holds (a reset).
     */

    void (*closeProc)(MpConn *conn, int abortive);
} MpTransportType;

/*
 * Calls through a connection's transport.
 */

#define MpConnRead(conn, buf, len, errPtr) \
    ((conn)->type->readProc((conn), (buf), (len), (errPtr)))
#define MpConnWritev(conn, iov, iovcnt, errPtr) \
    ((conn)->type->writevProc((conn), (iov), (iovcnt), (errPtr)))
#define MpConnHandshake(conn, errPtr) \
    ((conn)->type->handshakeProc((conn), (errPtr)))
#define MpConnWant(conn, mask) \
    ((conn)->type->wantProc((conn), (mask)))
#define MpConnPending(conn) \
    ((conn)->type->pendingProc((conn)))
#define MpConnShutdown(conn) \
    ((conn)->type->shutdownProc((conn)))
#define MpConnWait(conn, forWrite, errPtr) \
    ((conn)->type->waitProc((conn), (forWrite), (errPtr)))

MODULE_SCOPE const MpTransportType mpTcpTransport;

MODULE_SCOPE void	MpConnInit(MpConn *conn,
			    const MpTransportType *type, MpSocket fd);
MODULE_SCOPE void	MpConnClose(MpConn *conn, int abortive);

#endif /* MP_TRANSPORT_H */
