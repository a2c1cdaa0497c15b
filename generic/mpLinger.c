/*
 * mpLinger.c --
 *
 *	Lingering close. When a client is disconnected in an orderly way
 *	(close $chan, Kick, idle timeout, destroy, its own end of file), its
 *	socket outlives it for at most Config linger milliseconds: what is
 *	still queued is written, the sending side is shut down (the peer
 *	reads end of file after the last byte), and input is read and
 *	discarded until the peer's end of file. Only then is the socket
 *	closed, so the kernel never resets a connection whose input was left
 *	unread and never discards what the client was last sent. The client
 *	itself is gone at once (exit filters have run, its channel is closed);
 *	a lingering socket belongs to the thread's loop and runs no Tcl code.
 *	One timer per loop ends the lingers whose time is up.
 */

#include "mpInt.h"

struct MpLinger {
    MpConn conn;		/* Taken over from the client. */
    MpLoop *loop;
    MpInstance *mp;		/* Counts it in Stats "lingering"; NULL
				 * once the instance is freed. */
    MpOutQueue out;		/* What the client had not yet been sent. */
    Tcl_WideInt deadline;	/* MpNowMs() after which it is reset. */
    int shut;			/* Sending side shut down. */
    int peerDone;		/* The peer's end of file was read. */
    MpLinger *prev, *next;	/* Loop's list. */
};

/*
 * Bound on the drain buffer used when the loop's read buffer is held by an
 * outer handler, and on the reads made per readiness event.
 */

#define LINGER_STACK_BUF 4096
#define LINGER_READS 4

static void		LingerReady(void *clientData, int mask);
static int		LingerProgress(MpLinger *lg);
static void		LingerEnd(MpLinger *lg, int reset);
static void		LingerTimerProc(ClientData clientData);
static Tcl_WideInt	EndExpired(MpLoop *loop, Tcl_WideInt now);
static void		LingerArm(MpLoop *loop, Tcl_WideInt due);

/*
 *----------------------------------------------------------------------
 *
 * MpLingerStart --
 *
 *	Takes over the socket and the unsent queue of a client of mp being
 *	closed in an orderly way, for Config linger milliseconds at most.
 *	peerDone says the peer's end of file was already read. With linger
 *	0 it writes what the socket takes now and closes at once.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	The queue is moved out of *q (left empty). The socket is watched
 *	until done, or closed.
 *
 *----------------------------------------------------------------------
 */

void
MpLingerStart(
    MpInstance *mp,
    MpConn *conn,		/* The client's connection, no longer
				 * watched; taken over (left empty). */
    MpOutQueue *q,
    int peerDone)
{
    MpLoop *loop = mp->loop;
    long timeoutMs = mp->config.linger;
    MpLinger *lg;

    if (timeoutMs <= 0) {
	int err = 0;

	(void) MpQueueWrite(conn, q, &mp->stats.bytesOut, &err);
	MpQueueClear(q);
	MpConnClose(conn, 0);
	return;
    }
    lg = (MpLinger *) MpAlloc(sizeof(MpLinger));
    memset(lg, 0, sizeof(MpLinger));
    lg->loop = loop;
    lg->mp = mp;
    mp->stats.lingering++;
    lg->out = *q;
    memset(q, 0, sizeof(MpOutQueue));
    MpConnInit(&lg->conn, conn->type, conn->watch.fd);
    lg->conn.state = conn->state;
    conn->watch.fd = MP_INVALID_SOCKET;
    conn->state = NULL;
    lg->conn.watch.proc = LingerReady;
    lg->conn.watch.clientData = lg;
    lg->deadline = MpNowMs() + timeoutMs;
    lg->peerDone = peerDone;
    lg->next = loop->lingerFirst;
    if (lg->next != NULL) {
	lg->next->prev = lg;
    }
    loop->lingerFirst = lg;
    if (LingerProgress(lg)) {
	LingerEnd(lg, 0);
	return;
    }
    LingerArm(loop, lg->deadline);
}

/*
 *----------------------------------------------------------------------
 *
 * LingerProgress --
 *
 *	Writes what the socket takes of the queue, shuts the sending side
 *	down once the queue is empty, and sets the poller interest for what
 *	is left to do.
 *
 * Results:
 *	1 when the linger is over (all sent and the peer's end of file
 *	seen, or a socket error), 0 while it goes on.
 *
 * Side effects:
 *	Socket writes (counted in the instance's bytes_out) and shutdown;
 *	poller changes.
 *
 *----------------------------------------------------------------------
 */

static int
LingerProgress(
    MpLinger *lg)
{
    int err = 0, mask;

    if (MpQueueWrite(&lg->conn, &lg->out,
	    lg->mp != NULL ? &lg->mp->stats.bytesOut : NULL, &err) != 0) {
	return 1;
    }
    if (lg->out.count == 0 && !lg->shut && !MpConnHoldsOutput(&lg->conn)) {
	MpConnShutdown(&lg->conn);
	lg->shut = 1;
    }
    if (lg->shut && lg->peerDone) {
	return 1;
    }
    mask = MpConnWant(&lg->conn, (lg->peerDone ? 0 : MP_EV_READ)
	    | (lg->out.count > 0 ? MP_EV_WRITE : 0));
    return MpLoopWatch(lg->loop, &lg->conn.watch, mask) != 0;
}

/*
 *----------------------------------------------------------------------
 *
 * LingerReady --
 *
 *	The loop's callback for a lingering socket: discards input (a few
 *	reads per event), notes the peer's end of file, writes the queue.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket reads and writes; may end the linger (frees it).
 *
 *----------------------------------------------------------------------
 */

static void
LingerReady(
    void *clientData,
    int mask)
{
    MpLinger *lg = (MpLinger *) clientData;
    MpLoop *loop = lg->loop;

    if (((mask & MP_EV_READ) || MpConnPending(&lg->conn) > 0)
	    && !lg->peerDone) {
	char stackBuf[LINGER_STACK_BUF];
	char *buf = stackBuf;
	size_t len = sizeof(stackBuf);
	int i;

	if (!loop->readBufBusy) {
	    buf = loop->readBuf;
	    len = MP_READ_CHUNK;
	}
	for (i = 0; i < LINGER_READS; i++) {
	    int err = 0;
	    ptrdiff_t r = MpConnRead(&lg->conn, buf, len, &err);

	    if (r == 0) {
		lg->peerDone = 1;
		break;
	    }
	    if (r == MP_IO_ERROR) {
		LingerEnd(lg, 0);
		return;
	    }
	    if (r == MP_IO_AGAIN || (size_t) r < len) {
		break;
	    }
	}
    }
    if (LingerProgress(lg)) {
	LingerEnd(lg, 0);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * LingerEnd --
 *
 *	Closes a lingering socket (with a reset if asked: its time is up)
 *	and frees the linger.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the socket; drops what is still queued.
 *
 *----------------------------------------------------------------------
 */

static void
LingerEnd(
    MpLinger *lg,
    int reset)
{
    MpLoop *loop = lg->loop;

    MpLoopUnwatch(loop, &lg->conn.watch);
    MpConnClose(&lg->conn, reset);
    MpQueueClear(&lg->out);
    if (lg->prev != NULL) {
	lg->prev->next = lg->next;
    } else {
	loop->lingerFirst = lg->next;
    }
    if (lg->next != NULL) {
	lg->next->prev = lg->prev;
    }
    if (lg->mp != NULL) {
	lg->mp->stats.lingering--;
    }
    MpFree(lg);
    if (loop->lingerFirst == NULL && loop->lingerTimer != NULL) {
	Tcl_DeleteTimerHandler(loop->lingerTimer);
	loop->lingerTimer = NULL;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * EndExpired --
 *
 *	Resets every linger whose deadline has passed.
 *
 * Results:
 *	The earliest deadline of those left, or 0 if none is left.
 *
 * Side effects:
 *	Ends lingers.
 *
 *----------------------------------------------------------------------
 */

static Tcl_WideInt
EndExpired(
    MpLoop *loop,
    Tcl_WideInt now)
{
    Tcl_WideInt earliest = 0;
    MpLinger *lg, *next;

    for (lg = loop->lingerFirst; lg != NULL; lg = next) {
	next = lg->next;
	if (lg->deadline <= now) {
	    LingerEnd(lg, 1);
	} else if (earliest == 0 || lg->deadline < earliest) {
	    earliest = lg->deadline;
	}
    }
    return earliest;
}

/*
 *----------------------------------------------------------------------
 *
 * LingerArm, LingerTimerProc --
 *
 *	One timer per loop while sockets linger. LingerArm makes it due no
 *	later than `due` (so starting a linger costs no scan); the timer
 *	resets the sockets whose time is up and arms itself again for the
 *	earliest deadline left.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Creates or replaces the loop's linger timer; closes sockets.
 *
 *----------------------------------------------------------------------
 */

static void
LingerArm(
    MpLoop *loop,
    Tcl_WideInt due)
{
    Tcl_WideInt wait;

    if (loop->lingerTimer != NULL) {
	if (loop->lingerDue <= due) {
	    return;
	}
	Tcl_DeleteTimerHandler(loop->lingerTimer);
    }
    wait = due - MpNowMs();
    if (wait < 1) {
	wait = 1;
    }
    loop->lingerDue = due;
    loop->lingerTimer = Tcl_CreateTimerHandler((int) wait, LingerTimerProc,
	    loop);
}

static void
LingerTimerProc(
    ClientData clientData)
{
    MpLoop *loop = (MpLoop *) clientData;
    Tcl_WideInt earliest;

    loop->lingerTimer = NULL;
    earliest = EndExpired(loop, MpNowMs());
    if (earliest != 0) {
	LingerArm(loop, earliest);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpLingerCloseAll --
 *
 *	Ends every linger of a loop that is going away: what was not sent
 *	by now is dropped.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the sockets; deletes the timer.
 *
 *----------------------------------------------------------------------
 */

void
MpLingerCloseAll(
    MpLoop *loop)
{
    if (loop->lingerTimer != NULL) {
	Tcl_DeleteTimerHandler(loop->lingerTimer);
	loop->lingerTimer = NULL;
    }
    while (loop->lingerFirst != NULL) {
	LingerEnd(loop->lingerFirst, 0);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpLingerDrain --
 *
 *	Serves the loop's lingering sockets, and nothing else, until each
 *	has delivered its queue and closed or reached its deadline (then it
 *	is reset). Used when the process exits, where Tcl's event loop will
 *	not run again: what a linger holds is delivered within its bound
 *	(Config linger) instead of being lost.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Blocks for as long as the lingers last; closes their sockets.
 *	Descriptors that are not lingers and report ready are no longer
 *	watched (nothing serves them any more).
 *
 *----------------------------------------------------------------------
 */

void
MpLingerDrain(
    MpLoop *loop)
{
    MpFired fired[64];

    if (loop->lingerTimer != NULL) {
	Tcl_DeleteTimerHandler(loop->lingerTimer);
	loop->lingerTimer = NULL;
    }
    while (loop->lingerFirst != NULL) {
	Tcl_WideInt now = MpNowMs(), earliest = EndExpired(loop, now);
	int i, n, wait;

	if (loop->lingerFirst == NULL) {
	    break;
	}
	wait = (earliest - now > 100) ? 100 : (int) (earliest - now);
	n = MpPollerWait(loop->poller, fired, 64, wait);
	for (i = 0; i < n; i++) {
	    Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&loop->watches,
		    (char *) (size_t) fired[i].fd);
	    MpWatch *w;

	    if (hPtr == NULL) {
		continue;
	    }
	    w = (MpWatch *) Tcl_GetHashValue(hPtr);
	    if (w->proc == LingerReady) {
		LingerReady(w->clientData, fired[i].mask & w->mask);
	    } else {
		(void) MpLoopWatch(loop, w, 0);
	    }
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpLingerForget --
 *
 *	Cuts the lingers of an instance being freed from it; they go on, no
 *	longer counted anywhere.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	None beyond the lingers' instance pointers.
 *
 *----------------------------------------------------------------------
 */

void
MpLingerForget(
    MpInstance *mp)
{
    MpLinger *lg;

    if (mp->loop == NULL) {
	return;
    }
    for (lg = mp->loop->lingerFirst; lg != NULL; lg = lg->next) {
	if (lg->mp == mp) {
	    lg->mp = NULL;
	}
    }
    mp->stats.lingering = 0;
}
