/*
 * mpWrite.c --
 *
 *	Writing an output queue to a socket: used for connected clients and
 *	for sockets lingering after their client is gone (mpLinger.c).
 */

#include "mpInt.h"

/*
 *----------------------------------------------------------------------
 *
 * MpQueueWrite --
 *
 *	Writes as much of a queue as the socket takes without blocking, in
 *	batches of up to MP_IOV_MAX buffers per gathered write.
 *
 * Results:
 *	0 (all written, or the socket is full), or -1 with *errPtr set on a
 *	write error. The bytes written are added to *bytesOutPtr (a Stats
 *	counter) unless it is NULL.
 *
 * Side effects:
 *	Socket writes; consumes the queue.
 *
 *----------------------------------------------------------------------
 */

int
MpQueueWrite(
    MpConn *conn,
    MpOutQueue *q,
    Tcl_WideUInt *bytesOutPtr,
    int *errPtr)
{
    MpIovec iov[MP_IOV_MAX];

    while (q->count > 0) {
	int i, n = MpQueueFillIov(q, iov, MP_IOV_MAX);
	size_t total = 0;
	ptrdiff_t w;

	for (i = 0; i < n; i++) {
	    total += MP_IOV_LEN(iov[i]);
	}
	w = MpConnWritev(conn, iov, n, errPtr);
	if (w == MP_IO_AGAIN) {
	    break;
	}
	if (w < 0) {
	    return -1;
	}
	MpQueueConsume(q, (size_t) w);
	if (bytesOutPtr != NULL) {
	    *bytesOutPtr += (Tcl_WideUInt) w;
	}
	if ((size_t) w < total) {
	    break;
	}
    }
    if (q->count == 0 && MpConnHoldsOutput(conn)
	    && MpConnWritev(conn, iov, 0, errPtr) == MP_IO_ERROR) {
	return -1;		/* The transport's own output failed. */
    }
    return 0;
}
