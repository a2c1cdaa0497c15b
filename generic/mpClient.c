/*
 * mpClient.c --
 *
 *	Client records: creation, admission, writing the output queue, and
 *	the single teardown path every disconnect goes through (so exit
 *	filters run exactly once, whatever ended the client).
 */

#include <errno.h>
#include <stdio.h>
#include "mpInt.h"
#include "mpTls.h"

static int		WriteQueued(MpClient *c, int *errPtr);
static void		RunExitFilters(MpClient *c);
static void		ClientReady(void *clientData, int mask);

static const char *const reasonNames[] = {
    "", "eof", "error", "reset", "closed", "kicked", "timeout", "overflow",
    "toobig", "destroy", "denied", "connectfailed", "protocol"
};

/*
 *----------------------------------------------------------------------
 *
 * MpReasonText --
 *
 *	The word for a disconnect reason.
 *
 * Results:
 *	A static string.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

const char *
MpReasonText(
    int reason)
{
    if (reason < 0 || reason > MP_REASON_PROTOCOL) {
	return "";
    }
    return reasonNames[reason];
}

/*
 *----------------------------------------------------------------------
 *
 * MpReasonForError --
 *
 *	Classifies a socket error as a reset by the peer or another error.
 *
 * Results:
 *	MP_REASON_RESET or MP_REASON_ERROR.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpReasonForError(
    int err)
{
    const char *id = MpSockErrorId(err);

    if (strcmp(id, "ECONNRESET") == 0 || strcmp(id, "EPIPE") == 0) {
	return MP_REASON_RESET;
    }
    return MP_REASON_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientNew --
 *
 *	Makes the record of a newly accepted (or connecting) socket and links
 *	it into the instance. Not yet watched nor admitted.
 *
 * Results:
 *	The client, with one reference held by the instance's list.
 *
 * Side effects:
 *	Allocates memory; counts the peer address.
 *
 *----------------------------------------------------------------------
 */

MpClient *
MpClientNew(
    MpInstance *mp,
    MpSocket fd,
    const MpAddr *peer)
{
    MpClient *c = (MpClient *) MpAlloc(sizeof(MpClient));

    memset(c, 0, sizeof(MpClient));
    MpConnInit(&c->conn, &mpTcpTransport, fd);
    c->conn.watch.proc = ClientReady;
    c->conn.watch.clientData = c;
    c->mp = mp;
    c->refCount = 1;
    c->state = MP_CLIENT_OPEN;
    c->id = MpNextChannelId();
    c->peer = *peer;
    c->lastActive = MpNowMs();
    c->prev = mp->last;
    if (mp->last != NULL) {
	mp->last->next = c;
    } else {
	mp->first = c;
    }
    mp->last = c;
    mp->clientCount++;
    MpInstanceRef(mp);
    (void) MpPeerCountAdjust(mp, c, 1);
    return c;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientAdmit --
 *
 *	Runs the access filters; if they admit the client it is watched for
 *	input, otherwise closed at once (no exit filters).
 *
 * Results:
 *	1 if admitted, 0 if not.
 *
 * Side effects:
 *	Runs Tcl code; may close the client.
 *
 *----------------------------------------------------------------------
 */

int
MpClientAdmit(
    MpClient *c)
{
    MpInstance *mp = c->mp;
    int verdict, err, admitted = 0;

    MpClientRef(c);
    verdict = MpRunAccessFilters(c);
    if (c->state != MP_CLIENT_OPEN) {
	/* Closed by a filter (close $chan, destroy ...). */
    } else if (verdict == MP_CHAIN_DENY || mp->destroyed) {
	mp->stats.refused++;
	MpLog(mp, MP_LOG_DEBUG, "access denied to %s port %d", c->peer.host,
		c->peer.port);
	MpClientFlush(c);	/* What the access filters wrote. */
	MpClientClose(c, MP_REASON_DENIED, NULL);
    } else if ((err = MpLoopWatch(mp->loop, &c->conn.watch,
	    MpConnWant(&c->conn, MpClientReadMask(c)))) != 0) {
	MpLog(mp, MP_LOG_ERROR, "cannot watch client %s: %s", c->peer.host,
		MpSockErrorText(err));
	MpClientClose(c, MP_REASON_ERROR, NULL);
    } else {
	c->admitted = 1;
	admitted = 1;
	mp->stats.accepted++;
	if (MpConnIsTls(&c->conn)) {
	    mp->tlsAdmitted++;
	}
	if (c->ws != NULL) {
	    mp->wsAdmitted++;
	    if (mp->pingTimer == NULL) {
		MpWsPingReschedule(mp);
	    }
	}
	MpIdleTouch(c);
	MpIdleReschedule(mp);
	MpLog(mp, MP_LOG_DEBUG, "client %s port %d connected", c->peer.host,
		c->peer.port);
	/* Output queued by access filters (puts $chan) goes out now. */
	if (c->out.count > 0) {
	    MpLoopScheduleFlush(mp->loop, c);
	}
    }
    MpClientUnref(c);
    return admitted;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientRef, MpClientUnref --
 *
 *	Keep a client's memory alive across code that may close it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	The last unref frees the record.
 *
 *----------------------------------------------------------------------
 */

void
MpClientRef(
    MpClient *c)
{
    c->refCount++;
}

void
MpClientUnref(
    MpClient *c)
{
    if (--c->refCount > 0) {
	return;
    }
    if (c->nameObj != NULL) {
	Tcl_DecrRefCount(c->nameObj);
    }
    if (c->addrObj != NULL) {
	Tcl_DecrRefCount(c->addrObj);
    }
    if (c->portObj != NULL) {
	Tcl_DecrRefCount(c->portObj);
    }
    if (c->reasonObj != NULL) {
	Tcl_DecrRefCount(c->reasonObj);
    }
    if (c->connectCallback != NULL) {
	Tcl_DecrRefCount(c->connectCallback);
    }
    if (c->dataObj != NULL) {
	Tcl_DecrRefCount(c->dataObj);
    }
    MpQueueClear(&c->out);
    MpFrameFree(&c->in);
    MpWsClientFree(c);
    if (c->groups != NULL) {
	MpFree(c->groups);
    }
    MpInstanceUnref(c->mp);
    MpFree(c);
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientName, MpClientChannel, MpClientAddrObj, MpClientPortObj --
 *
 *	The Tcl forms of a client, made on first need: a script never sees a
 *	client except through them, so a server without filters creates no
 *	channel at all. Naming a client creates its channel.
 *
 * Results:
 *	Borrowed Tcl_Obj or the channel.
 *
 * Side effects:
 *	May create and register the channel.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
MpClientName(
    MpClient *c)
{
    if (c->nameObj == NULL) {
	char name[40];

	snprintf(name, sizeof(name), "mpsock%llu", (unsigned long long) c->id);
	c->nameObj = Tcl_NewStringObj(name, -1);
	Tcl_IncrRefCount(c->nameObj);
	if (c->state < MP_CLIENT_DEAD && !Tcl_InterpDeleted(c->mp->interp)) {
	    c->chan = MpChannelCreate(c, name);
	}
    }
    return c->nameObj;
}

Tcl_Channel
MpClientChannel(
    MpClient *c)
{
    (void) MpClientName(c);
    return c->chan;
}

Tcl_Obj *
MpClientAddrObj(
    MpClient *c)
{
    if (c->addrObj == NULL) {
	c->addrObj = Tcl_NewStringObj(c->peer.host, -1);
	Tcl_IncrRefCount(c->addrObj);
    }
    return c->addrObj;
}

Tcl_Obj *
MpClientPortObj(
    MpClient *c)
{
    if (c->portObj == NULL) {
	c->portObj = Tcl_NewIntObj(c->peer.port);
	Tcl_IncrRefCount(c->portObj);
    }
    return c->portObj;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientReasonObj --
 *
 *	Why a client went (or is going) away: the reason word, followed by
 *	the kick text or socket error when there is one.
 *
 * Results:
 *	A new Tcl_Obj (empty while the client is open).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
MpClientReasonObj(
    MpClient *c)
{
    Tcl_Obj *objPtr = Tcl_NewStringObj(MpReasonText(c->reason), -1);

    if (c->reasonObj != NULL) {
	Tcl_AppendToObj(objPtr, " ", 1);
	Tcl_AppendObjToObj(objPtr, c->reasonObj);
    } else if ((c->reason == MP_REASON_ERROR || c->reason == MP_REASON_RESET
	    || c->reason == MP_REASON_CONNECTFAILED) && c->errCode != 0) {
	Tcl_AppendPrintfToObj(objPtr, " {%s}", MpSockErrorText(c->errCode));
    }
    return objPtr;
}

/*
 *----------------------------------------------------------------------
 *
 * WriteQueued --
 *
 *	Writes as much of the client's queue as the socket takes without
 *	blocking (MpQueueWrite) and counts it.
 *
 * Results:
 *	0 (all written, or the socket is full), or -1 with *errPtr set on a
 *	write error.
 *
 * Side effects:
 *	Socket writes; consumes the queue; counts bytes out.
 *
 *----------------------------------------------------------------------
 */

static int
WriteQueued(
    MpClient *c,
    int *errPtr)
{
    return MpQueueWrite(&c->conn, &c->out, &c->mp->stats.bytesOut,
	    errPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * RunExitFilters --
 *
 *	Runs a departing client's exit filters with the client on the
 *	instance's "exiting" list, so that its name (Reason, Clients ...)
 *	still resolves after close $chan has removed its channel.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs Tcl code; names the client.
 *
 *----------------------------------------------------------------------
 */

static void
RunExitFilters(
    MpClient *c)
{
    MpInstance *mp = c->mp;
    MpClient **pp;

    (void) MpClientName(c);
    c->exitingNext = mp->exiting;
    mp->exiting = c;
    MpRunExitFilters(c);
    for (pp = &mp->exiting; *pp != NULL; pp = &(*pp)->exitingNext) {
	if (*pp == c) {
	    *pp = c->exitingNext;
	    break;
	}
    }
    c->exitingNext = NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientClose --
 *
 *	Disconnects a client, once: stops watching it, closes its socket,
 *	unlinks it, runs the exit filters (if it was admitted and the
 *	interpreter is not being deleted), and drops its channel. Calls after
 *	the first do nothing.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the socket; runs Tcl code; may free the client.
 *
 *----------------------------------------------------------------------
 */

void
MpClientClose(
    MpClient *c,
    int reason,
    Tcl_Obj *reasonObj)
{
    MpInstance *mp = c->mp;
    int wasOpen, orderly = 0;

    if (c->state >= MP_CLIENT_CLOSING) {
	return;
    }
    wasOpen = (c->state == MP_CLIENT_OPEN);
    MpClientRef(c);
    MpInstanceRef(mp);
    if (c->admitted && MpConnIsTls(&c->conn)) {
	mp->tlsAdmitted--;
    }
    MpTlsClientClosing(c);	/* Its handshake timer, a wss start. */
    c->state = MP_CLIENT_CLOSING;
    c->reason = reason;
    if (reasonObj != NULL) {
	c->reasonObj = reasonObj;
	Tcl_IncrRefCount(reasonObj);
    }
    if (c->connectTimer != NULL) {
	Tcl_DeleteTimerHandler(c->connectTimer);
	c->connectTimer = NULL;
    }
    if (c->ws != NULL && wasOpen) {
	/*
	 * A WebSocket client is sent a close frame after its queue when the
	 * close is orderly (or a protocol error): the socket lingers.
	 */

	orderly = MpWsClientClosing(c, reason);
    }
    MpLoopUnwatch(mp->loop, &c->conn.watch);
    MpLoopCancelFlush(mp->loop, c);
    if (c->conn.watch.fd == MP_INVALID_SOCKET) {
	/* Nothing to close. */
    } else if (orderly) {
	MpLingerStart(mp, &c->conn, &c->out, 0);
    } else if (reason == MP_REASON_OVERFLOW || reason == MP_REASON_TOOBIG) {
	MpConnClose(&c->conn, 1);	/* Discard what the kernel holds. */
    } else if (!wasOpen || reason == MP_REASON_ERROR
	    || reason == MP_REASON_RESET || reason == MP_REASON_CONNECTFAILED
	    || reason == MP_REASON_DENIED) {
	/*
	 * A denied client is closed at once, as tcllib closes it: what the
	 * access filters wrote was flushed without blocking by the caller
	 * (MpClientAdmit); there is no linger for it.
	 */

	MpConnClose(&c->conn, 0);
    } else {
	/*
	 * An orderly close (close $chan, Kick, timeout, destroy, EOF) hands
	 * the socket and what is still queued to a linger, which delivers
	 * the queue and closes without resetting the connection, within
	 * Config linger milliseconds (mpLinger.c).
	 */

	MpLingerStart(mp, &c->conn, &c->out, reason == MP_REASON_EOF);
    }
    c->conn.watch.fd = MP_INVALID_SOCKET;
    MpQueueClear(&c->out);
    MpFrameFree(&c->in);

    /*
     * Unlink from the instance.
     */

    if (c->prev != NULL) {
	c->prev->next = c->next;
    } else {
	mp->first = c->next;
    }
    if (c->next != NULL) {
	c->next->prev = c->prev;
    } else {
	mp->last = c->prev;
    }
    c->prev = c->next = NULL;
    mp->clientCount--;
    (void) MpPeerCountAdjust(mp, c, -1);

    switch (reason) {
    case MP_REASON_TIMEOUT:	mp->stats.timeouts++;	break;
    case MP_REASON_OVERFLOW:	mp->stats.overflows++;	break;
    case MP_REASON_TOOBIG:	mp->stats.tooBig++;	break;
    default:						break;
    }
    if (c->admitted) {
	mp->stats.disconnected++;
	MpLog(mp, MP_LOG_DEBUG, "client %s port %d gone: %s", c->peer.host,
		c->peer.port, MpReasonText(reason));
	RunExitFilters(c);
    }
    MpGroupLeaveAll(mp, c);	/* After the exit filters, which may still
				 * list its groups (it receives nothing). */
    c->state = MP_CLIENT_DEAD;
    MpChannelDetach(c);
    MpIdleReschedule(mp);
    MpInstanceUnref(mp);
    MpClientUnref(c);		/* The instance list's reference. */
    MpClientUnref(c);
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientShutSend --
 *
 *	Half-closes a client (close $chan write): it is sent nothing more,
 *	what is queued for it is still written, and then its connection's
 *	sending side is shut (it reads end of file). It stays a member: what
 *	it sends is filtered and broadcast as before, until it closes.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Marks the client; schedules the flush that shuts the socket.
 *
 *----------------------------------------------------------------------
 */

void
MpClientShutSend(
    MpClient *c)
{
    if (c->state != MP_CLIENT_OPEN || c->sendShut) {
	return;
    }
    if (c->ws != NULL) {
	MpWsClientSendClose(c);		/* A WebSocket's end of output. */
    }
    c->sendShut = 1;
    MpLoopScheduleFlush(c->mp->loop, c);
    MpLoopFlushSoon(c->mp->loop);	/* Also outside a socket event. */
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientFlush --
 *
 *	Writes as much of the client's queue as the socket takes, in batches
 *	of up to MP_IOV_MAX buffers per writev. What remains is written when
 *	the socket becomes writable. A close deferred by the fan-out
 *	(overflow) happens here.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket writes; may close the client on error.
 *
 *----------------------------------------------------------------------
 */

void
MpClientFlush(
    MpClient *c)
{
    int err = 0;

    if (c->state != MP_CLIENT_OPEN) {
	return;
    }
    if (c->pendingClose) {
	MpClientClose(c, c->pendingClose, NULL);
	return;
    }
    if (WriteQueued(c, &err) != 0) {
	c->errCode = err;
	MpClientClose(c, MpReasonForError(err), NULL);
	return;
    }
    if (c->sendShut == 1 && c->out.count == 0
	    && !MpConnHoldsOutput(&c->conn)) {
	MpConnShutdown(&c->conn);	/* Its end of file. */
	c->sendShut = 2;
    }
    MpClientUpdateWatch(c);
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientReadMask, MpClientUpdateWatch --
 *
 *	The read interest a client wants from the poller: none while its
 *	read handler runs a nested event loop (readSuspended), and, once a
 *	script has taken its input (MpClientTakeInput), only while the
 *	channel asks to hear of input and end of file has not been read;
 *	otherwise always. MpClientUpdateWatch sets the poller interest of
 *	an admitted client, or of a WebSocket client (watched from its
 *	handshake on), to that and to writing while output is queued.
 *
 * Results:
 *	MpClientReadMask: MP_EV_READ or 0.
 *
 * Side effects:
 *	MpClientUpdateWatch may change the poller interest.
 *
 *----------------------------------------------------------------------
 */

int
MpClientReadMask(
    const MpClient *c)
{
    if (c->readSuspended) {
	return 0;
    }
    if (c->scriptInput) {
	return (c->scriptWantsRead && !c->inputEnded) ? MP_EV_READ : 0;
    }
    return MP_EV_READ;
}

void
MpClientUpdateWatch(
    MpClient *c)
{
    int want;

    if (c->state != MP_CLIENT_OPEN || (!c->admitted && c->ws == NULL)) {
	return;
    }
    want = MpConnWant(&c->conn,
	    MpClientReadMask(c) | (c->out.count > 0 ? MP_EV_WRITE : 0));
    if (want != c->conn.watch.mask) {
	(void) MpLoopWatch(c->mp->loop, &c->conn.watch, want);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientWriteNow --
 *
 *	Writes what the socket takes now of a client's queue, running no Tcl
 *	code: for callers that must not (a channel driver's output
 *	procedure). A write error only marks the client for closing.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket writes; puts the client on the flush list, where the rest of
 *	the queue, the poller interest and any close are dealt with.
 *
 *----------------------------------------------------------------------
 */

void
MpClientWriteNow(
    MpClient *c)
{
    int err = 0;

    if (c->state != MP_CLIENT_OPEN || c->pendingClose || c->out.count == 0) {
	return;
    }
    if (WriteQueued(c, &err) != 0) {
	c->errCode = err;
	c->pendingClose = MpReasonForError(err);
    }
    MpLoopScheduleFlush(c->mp->loop, c);
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientWriteWait --
 *
 *	A write on a client channel the script made blocking: what is queued
 *	is written first, then buf, waiting for the socket as a blocking
 *	socket would (the event loop does not run meanwhile), so the call
 *	returns once the kernel holds every byte. maxqueue does not apply:
 *	nothing is left queued. Runs no Tcl code.
 *
 * Results:
 *	0, or -1 with *errPtr set (EPIPE for a client that is closing or
 *	half-closed; otherwise the socket's error, after which the client
 *	is marked for closing).
 *
 * Side effects:
 *	Socket writes; may block; counts bytes out.
 *
 *----------------------------------------------------------------------
 */

int
MpClientWriteWait(
    MpClient *c,
    const char *buf,
    size_t len,
    int *errPtr)
{
    int err = 0;

    if (c->state != MP_CLIENT_OPEN || c->pendingClose || c->sendShut) {
	*errPtr = EPIPE;
	return -1;
    }
    while (c->out.count > 0) {
	if (WriteQueued(c, &err) != 0) {
	    goto failed;
	}
	if (c->out.count > 0 && MpConnWait(&c->conn, MP_EV_WRITE, &err) < 0) {
	    goto failed;
	}
    }
    while (len > 0) {
	MpIovec iov;
	ptrdiff_t n;

	MP_IOV_SET(iov, buf, len);
	n = MpConnWritev(&c->conn, &iov, 1, &err);
	if (n == MP_IO_ERROR) {
	    goto failed;
	}
	if (n == MP_IO_AGAIN) {
	    if (MpConnWait(&c->conn, MP_EV_WRITE, &err) < 0) {
		goto failed;
	    }
	    continue;
	}
	c->mp->stats.bytesOut += (Tcl_WideUInt) n;
	buf += n;
	len -= (size_t) n;
    }
    MpLoopScheduleFlush(c->mp->loop, c);	/* Poller interest. */
    return 0;

  failed:
    c->errCode = err;
    c->pendingClose = MpReasonForError(err);
    MpLoopScheduleFlush(c->mp->loop, c);
    *errPtr = err;
    return -1;
}

/*
 *----------------------------------------------------------------------
 *
 * ClientReady --
 *
 *	The loop's callback for a client socket.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Writes queued output, reads and handles input, completes outbound
 *	connects; closes a client marked for closing.
 *
 *----------------------------------------------------------------------
 */

static void
ClientReady(
    void *clientData,
    int mask)
{
    MpClient *c = (MpClient *) clientData;
    Tcl_Interp *interp = c->mp->interp;

    Tcl_Preserve(interp);
    MpClientRef(c);
    if (c->state == MP_CLIENT_CONNECTING) {
	MpConnectFinish(c);
    } else if (c->tlsHandshaking) {
	MpTlsClientStep(c);		/* Before any data. */
    } else {
	/*
	 * A client marked for closing where no Tcl code could run (a write
	 * error during a fan-out, an overflow) is closed now, with that
	 * reason, rather than read: after a reset was reported by a write,
	 * a read would only see end-of-file.
	 */

	if (((mask & MP_EV_WRITE) || c->pendingClose)
		&& c->state == MP_CLIENT_OPEN) {
	    MpClientFlush(c);
	}
	if (((mask & MP_EV_READ) || ((mask & MP_EV_WRITE)
		&& MpClientReadMask(c) && MpConnPending(&c->conn) > 0))
		&& c->state == MP_CLIENT_OPEN) {
	    MpClientReadable(c);	/* Also a TLS read that waited to
					 * write. */
	}
    }
    MpClientUnref(c);
    Tcl_Release(interp);
}
