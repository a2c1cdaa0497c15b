/*
 * mpRedisLink.c --
 *
 *	A connection to Redis on the package's poller (see mpRedisLink.h).
 *
 *	States: WAIT (a backoff timer runs, or the first attempt is about
 *	to start), RESOLVING (the host name is looked up away from the loop,
 *	mpResolve.c), CONNECTING (a non-blocking connect to one address, a
 *	timer bounding it), OPENING (connected: AUTH, SELECT and PING were
 *	sent and their replies are awaited) and READY. Any failure closes
 *	the socket, tells the owner (lostProc) and arms the backoff timer:
 *	100 ms doubling to 5 s, each delay drawn between half and all of
 *	it, so that nodes that lost Redis together do not come back in step.
 *
 *	Output is one buffer, bounded by maxPending for what the owner
 *	queues (the opening commands are not counted against it); it is
 *	written when the loop's dispatch round ends (a flush hook), so that
 *	the commands of one round leave in one write. The link remembers
 *	where each owner message ends, so that when the connection is lost
 *	it can say how many messages went with it.
 *
 *	The owner's callbacks run with a reference held on the link; a
 *	callback may free the link (MpRedisLinkFree), which then only marks
 *	it and closes its socket, and the memory goes when the callback
 *	returns.
 */

#include "mpRedisLink.h"

enum {
    LINK_WAIT, LINK_RESOLVING, LINK_CONNECTING, LINK_OPENING, LINK_READY
};

#define MP_REDIS_CONNECT_TIMEOUT 5000	/* Per attempt, ms. */
#define MP_REDIS_BACKOFF_FIRST	100	/* First retry delay, ms ... */
#define MP_REDIS_BACKOFF_MAX	5000	/* ... doubling up to this. */
#define MP_REDIS_READ_SIZE	65536	/* One read. */
#define MP_REDIS_READS_MAX	16	/* Reads per readiness event. */
#define MP_REDIS_MAX_INPUT	(64u << 20) /* Unparsed reply bytes held. */

struct MpRedisLink {
    MpLoop *loop;
    MpConn conn;		/* watch.fd MP_INVALID_SOCKET when closed. */
    int state;			/* LINK_*. */
    const MpRedisTarget *target;
    char role[16];		/* "publish", "subscribe": for messages. */
    MpRedisLinkProcs procs;
    void *clientData;
    Tcl_WideUInt resolveId;	/* Resolution in flight, or 0. */
    MpAddr addrs[MP_RESOLVE_MAX];
    int addrCount, nextAddr;
    int lastErr;		/* Socket error of the last attempt. */
    Tcl_TimerToken timer;	/* Backoff or connect timeout. */
    int failures;		/* Attempts failed since the last READY. */
    unsigned int rng;		/* Jitter. */
    char *out;			/* Output: written bytes before outHead ... */
    size_t outHead, outLen, outCap;	/* ... unwritten up to outLen. */
    size_t maxPending;		/* Bound on the owner's unwritten bytes. */
    size_t openingBytes;	/* Unwritten bytes of the opening commands
				 * (not counted against maxPending). */
    Tcl_WideUInt outTotal;	/* Bytes ever queued ... */
    Tcl_WideUInt sentTotal;	/* ... and written. */
    Tcl_WideUInt *ends;		/* Ring: where owner messages end (as
				 * outTotal counts) ... */
    size_t endsHead, endsCount, endsCap; /* ... not yet all written. */
    MpRespReader *reader;
    int openingLeft;		/* Opening replies still awaited. */
    char *inBuf;		/* MP_REDIS_READ_SIZE bytes. */
    MpFlushHook hook;		/* Writes the output at the round's end. */
    Tcl_WideUInt directCycle;	/* The loop's hook cycle in which the link
				 * last wrote at once (see Commit). */
    int refCount;		/* The owner's, and callbacks' in progress. */
    int freed;			/* The owner let go. */
    Tcl_WideUInt connects;	/* Times READY was reached. */
    Tcl_WideUInt inputRefused;	/* Connections closed for a reply over
				 * MP_REDIS_MAX_INPUT. */
    char lastError[256];
};

static void		Attempt(MpRedisLink *link);
static void		TimerProc(ClientData clientData);
static void		Resolved(void *clientData, const MpAddr *addrs,
			    int count, int err);
static void		TryNext(MpRedisLink *link);
static void		Opened(MpRedisLink *link);
static void		Ready(void *clientData, int mask);
static void		ReadInput(MpRedisLink *link);
static void		Flush(MpRedisLink *link);
static void		HookProc(void *clientData);
static void		Lost(MpRedisLink *link, const char *why);
static void		CloseSocket(MpRedisLink *link);
static void		StopAttempt(MpRedisLink *link);
static void		SetInterest(MpRedisLink *link);
static void		Release(MpRedisLink *link);
static int		Append(MpRedisLink *link, const char *bytes,
			    size_t len);
static void		PushEnd(MpRedisLink *link, Tcl_WideUInt end);
static void		Advance(MpRedisLink *link, size_t done);

/*
 *----------------------------------------------------------------------
 *
 * MpRedisLinkNew --
 *
 *	Makes a link and starts connecting (the first attempt runs from a
 *	timer at once, never inside this call).
 *
 * Results:
 *	The link (the caller owns one reference: MpRedisLinkFree).
 *
 * Side effects:
 *	Allocates; arms a timer.
 *
 *----------------------------------------------------------------------
 */

MpRedisLink *
MpRedisLinkNew(
    MpLoop *loop,
    const MpRedisTarget *target,
    const char *role,		/* Names the link in messages. */
    const MpRedisLinkProcs *procs,
    void *clientData,
    size_t maxPending)		/* Bound on queued owner bytes. */
{
    MpRedisLink *link = (MpRedisLink *) MpAlloc(sizeof(MpRedisLink));

    memset(link, 0, sizeof(MpRedisLink));
    link->loop = loop;
    link->conn.watch.fd = MP_INVALID_SOCKET;
    link->conn.watch.proc = Ready;
    link->conn.watch.clientData = link;
    link->state = LINK_WAIT;
    link->target = target;
    snprintf(link->role, sizeof(link->role), "%s", role);
    link->procs = *procs;
    link->clientData = clientData;
    link->maxPending = maxPending;
    link->rng = (unsigned int) (MpNowMs() ^ (Tcl_WideInt) (size_t) link);
    link->inBuf = (char *) MpAlloc(MP_REDIS_READ_SIZE);
    link->hook.proc = HookProc;
    link->hook.clientData = link;
    link->refCount = 1;
    loop->refCount++;
    link->timer = Tcl_CreateTimerHandler(0, TimerProc, link);
    return link;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRedisLinkFree --
 *
 *	The owner lets go: the connection is closed (abortively: what was
 *	queued is dropped), nothing more is called back, and the memory is
 *	freed once no callback is running.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the socket; cancels timers and the resolution.
 *
 *----------------------------------------------------------------------
 */

void
MpRedisLinkFree(
    MpRedisLink *link)
{
    if (link == NULL || link->freed) {
	return;
    }
    link->freed = 1;
    StopAttempt(link);
    Release(link);
}

static void
Release(
    MpRedisLink *link)
{
    MpLoop *loop;

    if (--link->refCount > 0) {
	return;
    }
    loop = link->loop;
    MpLoopCancelHook(loop, &link->hook);
    MpRespReaderFree(link->reader);
    if (link->out != NULL) {
	MpFree(link->out);
    }
    if (link->ends != NULL) {
	MpFree(link->ends);
    }
    MpFree(link->inBuf);
    MpFree(link);
    MpLoopRelease(loop);
}

/*
 *----------------------------------------------------------------------
 *
 * MpRedisLinkReady, MpRedisLinkPending, MpRedisLinkLastError,
 * MpRedisLinkConnects, MpRedisLinkInputRefused --
 *
 *	What the link is doing: whether it carries the owner's commands,
 *	how many of the owner's bytes wait to be written, why the last
 *	connection failed or ended ("" if none did), how many times it got
 *	connected, how many connections it closed for an oversized reply.
 *
 *----------------------------------------------------------------------
 */

int
MpRedisLinkReady(
    const MpRedisLink *link)
{
    return link->state == LINK_READY;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRedisLinkRebind --
 *
 *	The owner moved the target the link connects to (the same host and
 *	port at another address) and the data its callbacks get.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Later callbacks get clientData; a reconnection reads target.
 *
 *----------------------------------------------------------------------
 */

void
MpRedisLinkRebind(
    MpRedisLink *link,
    const MpRedisTarget *target,
    void *clientData)
{
    link->target = target;
    link->clientData = clientData;
}

size_t
MpRedisLinkPending(
    const MpRedisLink *link)
{
    return link->outLen - link->outHead - link->openingBytes;
}

const char *
MpRedisLinkLastError(
    const MpRedisLink *link)
{
    return link->lastError;
}

Tcl_WideUInt
MpRedisLinkConnects(
    const MpRedisLink *link)
{
    return link->connects;
}

Tcl_WideUInt
MpRedisLinkInputRefused(
    const MpRedisLink *link)
{
    return link->inputRefused;
}

/*
 *----------------------------------------------------------------------
 *
 * TimerProc, Attempt --
 *
 *	The backoff (or first) timer starts an attempt; a connect timer
 *	ends one that took too long. An attempt looks up the host (at once
 *	for an address written as numbers) and connects to its addresses in
 *	turn.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Starts a resolution or a connection; may call lostProc.
 *
 *----------------------------------------------------------------------
 */

static void
TimerProc(
    ClientData clientData)
{
    MpRedisLink *link = (MpRedisLink *) clientData;

    link->timer = NULL;
    if (link->state == LINK_WAIT) {
	Attempt(link);
    } else if (link->state == LINK_CONNECTING
	    || link->state == LINK_OPENING
	    || link->state == LINK_RESOLVING) {
	link->refCount++;
	Lost(link, "timed out connecting");
	Release(link);
    }
}

static void
Attempt(
    MpRedisLink *link)
{
    MpAddr addr;

    link->timer = Tcl_CreateTimerHandler(MP_REDIS_CONNECT_TIMEOUT,
	    TimerProc, link);
    if (MpSockParseAddr(link->target->host, &addr) == 0) {
	addr.port = link->target->port;
	link->addrs[0] = addr;
	link->addrCount = 1;
	link->nextAddr = 0;
	link->state = LINK_CONNECTING;
	link->refCount++;
	TryNext(link);
	Release(link);
	return;
    }
    link->state = LINK_RESOLVING;
    link->resolveId = MpResolveStart(link->target->host, link->target->port,
	    Resolved, link);
}

/*
 *----------------------------------------------------------------------
 *
 * Resolved --
 *
 *	The host name's addresses (or the failure to find any).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Starts connecting, or calls lostProc.
 *
 *----------------------------------------------------------------------
 */

static void
Resolved(
    void *clientData,
    const MpAddr *addrs,
    int count,
    int err)
{
    MpRedisLink *link = (MpRedisLink *) clientData;
    int i;

    link->resolveId = 0;
    if (link->freed || link->state != LINK_RESOLVING) {
	return;
    }
    link->refCount++;
    if (count <= 0) {
	char why[200];

	snprintf(why, sizeof(why), "cannot resolve %s: %s",
		link->target->host, MpSockErrorText(err));
	Lost(link, why);
    } else {
	if (count > MP_RESOLVE_MAX) {
	    count = MP_RESOLVE_MAX;
	}
	for (i = 0; i < count; i++) {
	    link->addrs[i] = addrs[i];
	}
	link->addrCount = count;
	link->nextAddr = 0;
	link->state = LINK_CONNECTING;
	TryNext(link);
    }
    Release(link);
}

/*
 *----------------------------------------------------------------------
 *
 * TryNext --
 *
 *	Starts a non-blocking connect to the next address; when none is
 *	left the attempt has failed.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Opens a socket and watches it; may call lostProc or, when the
 *	connection is made at once, send the opening commands.
 *
 *----------------------------------------------------------------------
 */

static void
TryNext(
    MpRedisLink *link)
{
    while (link->nextAddr < link->addrCount) {
	const MpAddr *addr = &link->addrs[link->nextAddr++];
	int inProgress = 0, err = 0;
	MpSocket fd;

	if (MpSockConnectAddr(addr, &fd, &inProgress, &err) != 0) {
	    link->lastErr = err;
	    continue;
	}
	MpConnInit(&link->conn, &mpTcpTransport, fd);
	if (!inProgress) {
	    Opened(link);
	    return;
	}
	if ((err = MpLoopWatch(link->loop, &link->conn.watch,
		MP_EV_WRITE)) != 0) {
	    CloseSocket(link);
	    link->lastErr = err;
	    continue;
	}
	return;
    }
    {
	char why[200];

	snprintf(why, sizeof(why), "cannot connect to %s port %d: %s",
		link->target->host, link->target->port,
		link->lastErr ? MpSockErrorText(link->lastErr)
		: "no address");
	Lost(link, why);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Opened --
 *
 *	The connection is made: queue AUTH (with a password), SELECT (for a
 *	database other than 0) and PING, whose replies make the link READY.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues output, watches the socket.
 *
 *----------------------------------------------------------------------
 */

static int
Opening(
    MpRedisLink *link,
    int argc,
    const char *const *argv)
{
    size_t lens[3];
    size_t need;
    char *p;
    int i;

    for (i = 0; i < argc; i++) {
	lens[i] = strlen(argv[i]);
    }
    need = MpRespCommandSize(argc, lens);
    if (Append(link, NULL, need) != 0) {
	return -1;
    }
    p = link->out + link->outLen - need;
    (void) MpRespWriteCommand(p, argc, argv, lens);
    link->openingBytes += need;
    link->openingLeft++;
    return 0;
}

static void
Opened(
    MpRedisLink *link)
{
    const MpRedisTarget *t = link->target;
    char dbText[24];
    int err;

    link->state = LINK_OPENING;
    link->reader = MpRespReaderNew();
    link->openingLeft = 0;
    link->openingBytes = 0;
    if (t->password != NULL) {
	const char *argv[3];

	argv[0] = "AUTH";
	if (t->user != NULL) {
	    argv[1] = t->user;
	    argv[2] = t->password;
	    (void) Opening(link, 3, argv);
	} else {
	    argv[1] = t->password;
	    (void) Opening(link, 2, argv);
	}
    }
    if (t->db != 0) {
	const char *argv[2];

	snprintf(dbText, sizeof(dbText), "%d", t->db);
	argv[0] = "SELECT";
	argv[1] = dbText;
	(void) Opening(link, 2, argv);
    }
    {
	const char *argv[1];

	argv[0] = "PING";
	(void) Opening(link, 1, argv);
    }
    if (link->reader == NULL) {
	Lost(link, "out of memory");
	return;
    }
    if (link->conn.watch.registered) {
	SetInterest(link);
    } else if ((err = MpLoopWatch(link->loop, &link->conn.watch,
	    MP_EV_READ | MP_EV_WRITE)) != 0) {
	char why[200];

	snprintf(why, sizeof(why), "cannot watch the socket: %s",
		MpSockErrorText(err));
	Lost(link, why);
	return;
    }
    Flush(link);
}

/*
 *----------------------------------------------------------------------
 *
 * Ready --
 *
 *	The poller says the socket is ready: finish a connect, write what is
 *	queued, read replies.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket I/O; callbacks.
 *
 *----------------------------------------------------------------------
 */

static void
Ready(
    void *clientData,
    int mask)
{
    MpRedisLink *link = (MpRedisLink *) clientData;

    link->refCount++;
    if (link->state == LINK_CONNECTING) {
	int err = MpSockConnectResult(link->conn.watch.fd);

	if (err == MP_CONNECT_PENDING) {
	    Release(link);
	    return;
	}
	if (err != 0) {
	    link->lastErr = err;
	    CloseSocket(link);
	    TryNext(link);
	} else {
	    Opened(link);
	}
	Release(link);
	return;
    }
    if ((mask & MP_EV_WRITE) && !link->freed
	    && link->conn.watch.fd != MP_INVALID_SOCKET) {
	Flush(link);
    }
    if ((mask & MP_EV_READ) && !link->freed
	    && link->conn.watch.fd != MP_INVALID_SOCKET) {
	ReadInput(link);
	if (!link->freed && link->procs.readDoneProc != NULL) {
	    link->procs.readDoneProc(link->clientData, link);
	}
    }
    Release(link);
}

/*
 *----------------------------------------------------------------------
 *
 * ReadInput --
 *
 *	Reads what arrived (a bounded number of reads, then the loop serves
 *	others) and hands each complete reply on: the opening replies are
 *	checked here, the rest go to replyProc.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Reads; callbacks; may close the connection.
 *
 *----------------------------------------------------------------------
 */

static void
ReadInput(
    MpRedisLink *link)
{
    int reads;

    for (reads = 0; reads < MP_REDIS_READS_MAX; reads++) {
	int err = 0;
	ptrdiff_t n = MpConnRead(&link->conn, link->inBuf,
		MP_REDIS_READ_SIZE, &err);
	MpRespReply *reply;
	int rc;

	if (n == MP_IO_AGAIN) {
	    return;
	}
	if (n == 0 || n == MP_IO_ERROR) {
	    char why[200];

	    if (n == 0) {
		snprintf(why, sizeof(why), "connection closed by Redis");
	    } else {
		snprintf(why, sizeof(why), "read failed: %s",
			MpSockErrorText(err));
	    }
	    Lost(link, why);
	    return;
	}
	if (MpRespFeed(link->reader, link->inBuf, (size_t) n) != 0) {
	    Lost(link, "out of memory reading a reply");
	    return;
	}
	while ((rc = MpRespNext(link->reader, &reply)) == 1) {
	    if (link->state == LINK_OPENING) {
		if (reply->type == MP_RESP_ERROR) {
		    char why[200];

		    snprintf(why, sizeof(why), MP_REDIS_REFUSED "%.150s",
			    reply->str);
		    MpRespReplyFree(reply);
		    Lost(link, why);
		    return;
		}
		MpRespReplyFree(reply);
		if (--link->openingLeft == 0) {
		    link->state = LINK_READY;
		    link->failures = 0;
		    link->connects++;
		    if (link->timer != NULL) {
			Tcl_DeleteTimerHandler(link->timer);
			link->timer = NULL;
		    }
		    link->procs.readyProc(link->clientData, link);
		}
	    } else {
		link->procs.replyProc(link->clientData, link, reply);
		MpRespReplyFree(reply);
	    }
	    if (link->freed || link->conn.watch.fd == MP_INVALID_SOCKET) {
		return;
	    }
	}
	if (rc < 0) {
	    char why[200];

	    snprintf(why, sizeof(why), "protocol error: %s",
		    MpRespError(link->reader));
	    Lost(link, why);
	    return;
	}
	if (MpRespBuffered(link->reader) > MP_REDIS_MAX_INPUT) {
	    link->inputRefused++;
	    Lost(link, "a reply exceeds 64 MiB");
	    return;
	}
	if ((size_t) n < MP_REDIS_READ_SIZE) {
	    return;
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Append, PushEnd --
 *
 *	Make room for len more bytes of output (copying bytes there unless
 *	NULL); remember where an owner message ends.
 *
 * Results:
 *	Append: 0, or -1 when memory is exhausted.
 *
 * Side effects:
 *	May grow or compact the buffers.
 *
 *----------------------------------------------------------------------
 */

static int
Append(
    MpRedisLink *link,
    const char *bytes,
    size_t len)
{
    if (link->outHead > 0 && (link->outHead == link->outLen
	    || link->outLen + len > link->outCap)) {
	memmove(link->out, link->out + link->outHead,
		link->outLen - link->outHead);
	link->outLen -= link->outHead;
	link->outHead = 0;
    }
    if (link->outLen + len > link->outCap) {
	size_t cap = link->outCap ? link->outCap : 16384;
	char *out;

	while (cap < link->outLen + len) {
	    cap *= 2;
	}
	out = (char *) MpRealloc(link->out, cap);
	if (out == NULL) {
	    return -1;
	}
	link->out = out;
	link->outCap = cap;
    }
    if (bytes != NULL) {
	memcpy(link->out + link->outLen, bytes, len);
    }
    link->outLen += len;
    link->outTotal += len;
    return 0;
}

static void
PushEnd(
    MpRedisLink *link,
    Tcl_WideUInt end)
{
    if (link->endsCount == link->endsCap) {
	size_t cap = link->endsCap ? link->endsCap * 2 : 64, i;
	Tcl_WideUInt *ends = (Tcl_WideUInt *) MpAlloc(
		cap * sizeof(Tcl_WideUInt));

	for (i = 0; i < link->endsCount; i++) {
	    ends[i] = link->ends[(link->endsHead + i) % link->endsCap];
	}
	if (link->ends != NULL) {
	    MpFree(link->ends);
	}
	link->ends = ends;
	link->endsCap = cap;
	link->endsHead = 0;
    }
    link->ends[(link->endsHead + link->endsCount) % link->endsCap] = end;
    link->endsCount++;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRedisLinkReserve, MpRedisLinkCommit, MpRedisLinkCommand --
 *
 *	The owner queues a command: Reserve gives room for len bytes (NULL
 *	when the link is not READY or the bytes would pass maxPending: the
 *	caller drops and counts), the owner writes them, Commit queues them
 *	(message: they are one of the owner's messages, counted if lost)
 *	and has them written at the end of the round; the first command of
 *	a round that finds nothing waiting is written at once (as a
 *	client's first message is, see SendTo in mpFanout.c), so that at
 *	light load a message leaves for Redis before the local fan-out,
 *	while the rest of a busy round still leaves in one write. A failed
 *	write at once is left to the flush, which reports it.
 *	MpRedisLinkCommand does all three for a command given as
 *	arguments.
 *
 * Results:
 *	Reserve: where to write, or NULL. Command: 0, or -1 (not queued).
 *
 * Side effects:
 *	Grows the buffer; schedules the flush hook.
 *
 *----------------------------------------------------------------------
 */

char *
MpRedisLinkReserve(
    MpRedisLink *link,
    size_t len)
{
    if (link->state != LINK_READY
	    || MpRedisLinkPending(link) + len > link->maxPending
	    || Append(link, NULL, len) != 0) {
	return NULL;
    }
    link->outLen -= len;	/* Not queued until committed. */
    link->outTotal -= len;
    return link->out + link->outLen;
}

void
MpRedisLinkCommit(
    MpRedisLink *link,
    size_t len,
    int message)
{
    int idle = (link->outHead == link->outLen);

    link->outLen += len;
    link->outTotal += len;
    if (message) {
	PushEnd(link, link->outTotal);
    }
    if (idle && link->state == LINK_READY
	    && link->directCycle != link->loop->hookCycle
	    && link->conn.watch.fd != MP_INVALID_SOCKET) {
	MpIovec iov;
	int err = 0;
	ptrdiff_t n;

	link->directCycle = link->loop->hookCycle;
	MP_IOV_SET(iov, link->out + link->outHead,
		link->outLen - link->outHead);
	n = MpConnWritev(&link->conn, &iov, 1, &err);
	if (n > 0) {
	    Advance(link, (size_t) n);
	}
    }
    MpLoopScheduleHook(link->loop, &link->hook);
}

int
MpRedisLinkCommand(
    MpRedisLink *link,
    int argc,
    const char *const *argv,
    const size_t *lens)
{
    size_t need = MpRespCommandSize(argc, lens);
    char *p = MpRedisLinkReserve(link, need);

    if (p == NULL) {
	return -1;
    }
    (void) MpRespWriteCommand(p, argc, argv, lens);
    MpRedisLinkCommit(link, need, 0);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRedisLinkRestart --
 *
 *	The owner found the connection unusable (a reply it cannot go on
 *	after): it is closed as if lost, and made again after the usual
 *	wait. Safe from the owner's replyProc: no later reply of this
 *	connection is handed on.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the socket; what was queued is dropped; lostProc runs (with
 *	why) before this returns; a reconnection is scheduled.
 *
 *----------------------------------------------------------------------
 */

void
MpRedisLinkRestart(
    MpRedisLink *link,
    const char *why)
{
    if (link->freed || link->state == LINK_WAIT) {
	return;
    }
    Lost(link, why);
}

/*
 *----------------------------------------------------------------------
 *
 * HookProc, Flush --
 *
 *	Write what is queued, as far as the socket takes it; watch for
 *	writability while something is left.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket writes; may close the connection (lostProc).
 *
 *----------------------------------------------------------------------
 */

static void
HookProc(
    void *clientData)
{
    MpRedisLink *link = (MpRedisLink *) clientData;

    if (!link->freed && (link->state == LINK_READY
	    || link->state == LINK_OPENING)) {
	link->refCount++;
	Flush(link);
	Release(link);
    }
}

static void
Flush(
    MpRedisLink *link)
{
    while (link->outHead < link->outLen) {
	MpIovec iov;
	int err = 0;
	ptrdiff_t n;
	size_t done;

	MP_IOV_SET(iov, link->out + link->outHead,
		link->outLen - link->outHead);
	n = MpConnWritev(&link->conn, &iov, 1, &err);
	if (n == MP_IO_AGAIN) {
	    break;
	}
	if (n < 0) {
	    char why[200];

	    snprintf(why, sizeof(why), "write failed: %s",
		    MpSockErrorText(err));
	    Lost(link, why);
	    return;
	}
	done = (size_t) n;
	Advance(link, done);
    }
    SetInterest(link);
}

/*
 *----------------------------------------------------------------------
 *
 * Advance --
 *
 *	Accounts for done bytes of output written: moves the head, the
 *	count of opening bytes and the ends of owner messages past them.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Empties the buffer once everything is written.
 *
 *----------------------------------------------------------------------
 */

static void
Advance(
    MpRedisLink *link,
    size_t done)
{
    link->outHead += done;
    link->sentTotal += done;
    if (link->openingBytes > 0) {
	link->openingBytes -= (done < link->openingBytes)
		? done : link->openingBytes;
    }
    while (link->endsCount > 0
	    && link->ends[link->endsHead] <= link->sentTotal) {
	link->endsHead = (link->endsHead + 1) % link->endsCap;
	link->endsCount--;
    }
    if (link->outHead == link->outLen) {
	link->outHead = link->outLen = 0;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * SetInterest --
 *
 *	Watch the connected socket for input, and for writability while
 *	output waits.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Changes the poller's interest.
 *
 *----------------------------------------------------------------------
 */

static void
SetInterest(
    MpRedisLink *link)
{
    int mask = MP_EV_READ;

    if (link->conn.watch.fd == MP_INVALID_SOCKET) {
	return;
    }
    if (link->outHead < link->outLen) {
	mask |= MP_EV_WRITE;
    }
    if (mask != link->conn.watch.mask) {
	(void) MpLoopWatch(link->loop, &link->conn.watch, mask);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Lost, CloseSocket, StopAttempt --
 *
 *	The connection failed or ended: close it (StopAttempt: with the
 *	attempt's timer and resolution), drop what was queued, tell the
 *	owner, and try again after the backoff.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the socket; lostProc; arms the backoff timer.
 *
 *----------------------------------------------------------------------
 */

static void
CloseSocket(
    MpRedisLink *link)
{
    if (link->conn.watch.fd != MP_INVALID_SOCKET) {
	MpLoopUnwatch(link->loop, &link->conn.watch);
	MpConnClose(&link->conn, 1);
    }
    link->conn.watch.fd = MP_INVALID_SOCKET;
}

static void
StopAttempt(
    MpRedisLink *link)
{
    CloseSocket(link);
    if (link->timer != NULL) {
	Tcl_DeleteTimerHandler(link->timer);
	link->timer = NULL;
    }
    if (link->resolveId != 0) {
	MpResolveCancel(link->resolveId);
	link->resolveId = 0;
    }
}

static void
Lost(
    MpRedisLink *link,
    const char *why)
{
    size_t dropped = link->endsCount;
    int delay, shift;

    StopAttempt(link);
    MpLoopCancelHook(link->loop, &link->hook);
    MpRespReaderFree(link->reader);
    link->reader = NULL;
    link->outHead = link->outLen = 0;
    link->openingBytes = 0;
    link->openingLeft = 0;
    link->endsHead = link->endsCount = 0;
    link->sentTotal = link->outTotal;
    link->state = LINK_WAIT;
    snprintf(link->lastError, sizeof(link->lastError), "%s", why);
    if (link->freed) {
	return;
    }

    shift = link->failures < 6 ? link->failures : 6;
    delay = MP_REDIS_BACKOFF_FIRST << shift;
    if (delay > MP_REDIS_BACKOFF_MAX) {
	delay = MP_REDIS_BACKOFF_MAX;
    }
    link->rng = link->rng * 1103515245u + 12345u;
    delay = delay / 2 + (int) ((link->rng >> 8) % (unsigned) (delay / 2 + 1));
    link->failures++;
    link->timer = Tcl_CreateTimerHandler(delay, TimerProc, link);
    link->procs.lostProc(link->clientData, link, why, dropped);
}
