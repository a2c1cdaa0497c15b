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
 *
 *	The core calls read, writev, want, shutdown, wait and close today.
 *	handshake and pending are part of the contract for transports that
 *	have an opening exchange or buffer input of their own (TLS); TCP has
 *	neither, and the core calls them once such a transport exists (a
 *	client state that waits for the handshake before access filters run,
 *	and a check of pending input before the loop sleeps).
 *
 *	What a transport with state of its own must also provide, and the
 *	core does not yet need from TCP:
 *	- writevProc reports the plaintext bytes it took; ciphertext it made
 *	  but could not send is its own to keep, and it asks for writing
 *	  (wantProc) while it holds any, since the owner only asks while its
 *	  queue is not empty.
 *	- Readiness it asked for itself (reading so that it can write) must
 *	  not reach the owner as the owner's: the owner passes the poller's
 *	  mask on as it is today.
 *	- state must not point back at its MpConn: a lingering socket takes
 *	  the connection over by copying it (MpLingerStart).
 *	- Descriptors still watched when a thread's loop ends are closed by
 *	  the loop (mpLoop.c) without their transport: every member must be
 *	  closed through MpConnClose before that.
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
     * Blocks until the connection can be read or written, as events
     * (MP_EV_READ, MP_EV_WRITE) asks, whichever comes first: the bits
     * ready, or -1 with *errPtr set. Input the transport holds itself
     * counts as readable.
     */

    int (*waitProc)(MpConn *conn, int events, int *errPtr);

    /*
     * Closes the connection and frees the transport's state; abortive
     * discards what the kernel still holds (a reset).
     */

    void (*closeProc)(MpConn *conn, int abortive);

    /*
     * 1: what the fan-out sends goes through the owner's queue and out at
     * the loop's flush, so that the messages of one round leave in one
     * write (for TLS: one record for many small messages) rather than the
     * first one alone; 0: the fan-out writes a client with nothing queued
     * at once.
     */

    int deferWrites;
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
#define MpConnWait(conn, events, errPtr) \
    ((conn)->type->waitProc((conn), (events), (errPtr)))

/*
 * Whether the transport holds output of its own (an unfinished TLS write)
 * that a write with no buffers (iovcnt 0) would go on with.
 */

#define MpConnHoldsOutput(conn) \
    ((MpConnWant((conn), 0) & MP_EV_WRITE) != 0)

MODULE_SCOPE const MpTransportType mpTcpTransport;

MODULE_SCOPE void	MpConnInit(MpConn *conn,
			    const MpTransportType *type, MpSocket fd);
MODULE_SCOPE void	MpConnClose(MpConn *conn, int abortive);

#endif /* MP_TRANSPORT_H */
