/*
 * mpLoop.c --
 *
 *	The per-thread event loop: one poller shared by every instance of the
 *	thread, a table from descriptor to watcher, dispatch of ready events,
 *	and the list of clients whose queued output is written at the end of
 *	each dispatch round. It is hooked into Tcl's event loop by the
 *	platform glue (MpNotifyAttach), so vwait, update and Tk keep working.
 */

#include "mpInt.h"

typedef struct ThreadData {
    MpLoop *loop;
} ThreadData;

static Tcl_ThreadDataKey dataKey;

/*
 * How long the event-source fallback lets Tcl sleep before polling again,
 * for backends that have no descriptor to hand to Tcl's notifier.
 */

#define MP_POLL_INTERVAL_MS 5

/*
 * Most poll rounds, and milliseconds, one dispatch may take before
 * returning to Tcl's event loop.
 */

#define MP_DISPATCH_ROUNDS 64
#define MP_DISPATCH_BUDGET_MS 10

/*
 * While a client streams (its reads fill the read buffer), a round that
 * finds nothing ready waits this long for more before returning to Tcl's
 * event loop: waking up through Tcl's notifier (a thread hop with the
 * threaded notifier of Tcl 8.6) costs far more than this wait, and the
 * next chunk is usually microseconds away. Bounded by the budget above.
 */

#ifdef _WIN32
#   define MP_DISPATCH_LINGER_MS 0	/* WSAPoll rounds 1 ms up to a tick. */
#else
#   define MP_DISPATCH_LINGER_MS 1
#endif

static void		LoopExitHandler(ClientData clientData);
static void		ProcessExitHandler(ClientData clientData);
static void		ContinueSoon(MpLoop *loop);
static int		ContinueEventProc(Tcl_Event *evPtr, int flags);

/*
 * The event that goes on with a dispatch that stopped after a script ran
 * (see MpLoopDispatch).
 */

typedef struct ContinueEvent {
    Tcl_Event header;
    MpLoop *loop;		/* Referenced. */
} ContinueEvent;
static void		IdleFlushProc(ClientData clientData);
static void		SourceSetup(ClientData clientData, int flags);
static void		SourceCheck(ClientData clientData, int flags);
static int		SourceEventProc(Tcl_Event *evPtr, int flags);

/*
 *----------------------------------------------------------------------
 *
 * MpLoopAcquire --
 *
 *	Returns this thread's loop, creating it (and its poller) on first
 *	use, with one more reference.
 *
 * Results:
 *	The loop, or NULL with an error in interp.
 *
 * Side effects:
 *	May create the poller and hook it into Tcl's notifier.
 *
 *----------------------------------------------------------------------
 */

MpLoop *
MpLoopAcquire(
    Tcl_Interp *interp)
{
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    MpLoop *loop = tsdPtr->loop;
    int err = 0;

    if (loop != NULL) {
	loop->refCount++;
	return loop;
    }
    loop = (MpLoop *) MpAlloc(sizeof(MpLoop));
    memset(loop, 0, sizeof(MpLoop));
    loop->notifyFd = -1;
    loop->epoch = 1;
    loop->flushCycle = 1;
    loop->poller = MpPollerCreate(&err);
    if (loop->poller == NULL) {
	MpFree(loop);
	if (interp != NULL) {
	    MpError(interp, "POLLER", MpSockErrorId(err),
		    "cannot create %s poller: %s", MpPollerName(),
		    MpSockErrorText(err));
	}
	return NULL;
    }
    Tcl_InitHashTable(&loop->watches, TCL_ONE_WORD_KEYS);
    loop->readBuf = (char *) MpAlloc(MP_READ_MAX);
    if (MpNotifyAttach(loop) != TCL_OK) {
	MpPollerFree(loop->poller);
	Tcl_DeleteHashTable(&loop->watches);
	MpFree(loop->readBuf);
	MpFree(loop);
	if (interp != NULL) {
	    MpError(interp, "POLLER", "NOTIFIER",
		    "cannot hook the %s poller into Tcl's event loop",
		    MpPollerName());
	}
	return NULL;
    }
    loop->attached = 1;

    /*
     * The thread holds one reference until it exits, so that the poller
     * descriptor is made early (while descriptor numbers are low, which
     * Tcl's select-based notifier needs) and kept.
     */

    loop->refCount = 2;
    tsdPtr->loop = loop;
    Tcl_CreateThreadExitHandler(LoopExitHandler, NULL);
    Tcl_CreateExitHandler(ProcessExitHandler, loop);
    return loop;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopRelease --
 *
 *	Drops a reference to the loop; the last one frees it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May unhook and free the poller.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopRelease(
    MpLoop *loop)
{
    ThreadData *tsdPtr;

    if (--loop->refCount > 0) {
	return;
    }
    tsdPtr = (ThreadData *) Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    if (tsdPtr->loop == loop) {
	tsdPtr->loop = NULL;
    }
    Tcl_DeleteExitHandler(ProcessExitHandler, loop);
    MpLingerCloseAll(loop);
    if (loop->attached) {
	MpNotifyDetach(loop);
    }
    if (loop->idleFlushPending) {
	Tcl_CancelIdleCall(IdleFlushProc, loop);
    }
    MpPollerFree(loop->poller);
    Tcl_DeleteHashTable(&loop->watches);
    MpFree(loop->readBuf);
    if (loop->recipients != NULL) {
	MpFree(loop->recipients);
    }
    MpBatchFree(loop);
    if (loop->again != NULL) {
	MpFree(loop->again);
    }
    MpFree(loop);
}

/*
 *----------------------------------------------------------------------
 *
 * ProcessExitHandler --
 *
 *	Runs when the process exits (exit, Tcl_Exit), before Tcl closes any
 *	channel or stops its timers. If the exiting thread is the one that
 *	owns this loop, every instance still alive is destroyed as by
 *	${mp}::destroy (exit filters run, with the event loop still
 *	working), then what the lingers hold is delivered, within each one's
 *	Config linger bound, before the process goes. Handlers of other
 *	threads' loops do nothing: that loop is not theirs to touch.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs exit filters; may block up to the longest linger bound.
 *
 *----------------------------------------------------------------------
 */

static void
ProcessExitHandler(
    ClientData clientData)	/* The loop that registered it. */
{
    MpLoop *loop = (MpLoop *) clientData;
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));

    if (tsdPtr->loop != loop) {
	return;
    }
    loop->refCount++;
    MpInstanceDestroyAll(loop);
    MpLingerDrain(loop);
    MpLoopRelease(loop);
}

/*
 *----------------------------------------------------------------------
 *
 * LoopExitHandler --
 *
 *	Drops the thread's own reference to its loop when the thread exits.
 *	If instances still use the loop (their interpreter was not deleted
 *	before the thread ended, as with thread::exit), every descriptor the
 *	loop watches (clients, listeners, connects in progress) is closed,
 *	and every linger ended, now: nothing will serve them again. Their
 *	records stay with the interpreter, marked as having no descriptor,
 *	so that Tcl's closing of the thread's channels afterwards (exit
 *	filters run for clients with a channel) touches no closed or reused
 *	descriptor.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes sockets; may free the loop.
 *
 *----------------------------------------------------------------------
 */

static void
LoopExitHandler(
    ClientData clientData)
{
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    MpLoop *loop = tsdPtr->loop;
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;

    (void) clientData;
    if (loop == NULL) {
	return;
    }
    if (loop->refCount > 1) {
	MpLingerCloseAll(loop);
	while ((hPtr = Tcl_FirstHashEntry(&loop->watches, &search)) != NULL) {
	    MpWatch *w = (MpWatch *) Tcl_GetHashValue(hPtr);
	    MpSocket fd = w->fd;

	    MpLoopUnwatch(loop, w);
	    hPtr = Tcl_FindHashEntry(&loop->watches, (char *) (size_t) fd);
	    if (hPtr != NULL && Tcl_GetHashValue(hPtr) == (void *) w) {
		Tcl_DeleteHashEntry(hPtr);	/* Never left behind. */
	    }
	    if (fd != MP_INVALID_SOCKET) {
		MpSockClose(fd);
	    }
	    w->fd = MP_INVALID_SOCKET;
	}
    }
    MpLoopRelease(loop);
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopWatch --
 *
 *	Registers a watcher (first call) or changes its interest mask. A mask
 *	of 0 keeps the watcher known but asks the kernel for nothing.
 *
 * Results:
 *	0 on success, or the poller's error code.
 *
 * Side effects:
 *	Updates the poller and the descriptor table.
 *
 *----------------------------------------------------------------------
 */

int
MpLoopWatch(
    MpLoop *loop,
    MpWatch *w,
    int mask)
{
    int err;

    if (!w->registered) {
	Tcl_HashEntry *hPtr;
	int isNew;

	hPtr = Tcl_CreateHashEntry(&loop->watches,
		(char *) (size_t) w->fd, &isNew);
	Tcl_SetHashValue(hPtr, w);
	w->registered = 1;
	w->mask = 0;
	loop->watchCount++;
    }
    if (mask == w->mask) {
	return 0;
    }
    err = MpPollerSet(loop->poller, w->fd, w->mask, mask);
    if (err == 0) {
	w->mask = mask;
    }
    return err;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopUnwatch --
 *
 *	Forgets a watcher. Events already collected for its descriptor in a
 *	dispatch round in progress are not delivered to it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Updates the poller and the descriptor table.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopUnwatch(
    MpLoop *loop,
    MpWatch *w)
{
    Tcl_HashEntry *hPtr;

    if (!w->registered) {
	return;
    }
    if (w->mask) {
	(void) MpPollerSet(loop->poller, w->fd, w->mask, 0);
	w->mask = 0;
    }
    hPtr = Tcl_FindHashEntry(&loop->watches, (char *) (size_t) w->fd);
    if (hPtr != NULL && Tcl_GetHashValue(hPtr) == (void *) w) {
	Tcl_DeleteHashEntry(hPtr);
    }
    w->registered = 0;
    loop->watchCount--;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopDispatch --
 *
 *	Collects ready descriptors without blocking and calls their watchers,
 *	then writes queued output. Each watcher is looked up again by
 *	descriptor just before its call, so one closed by an earlier callback
 *	of the same round is skipped. Callbacks may re-enter the event loop
 *	(update, vwait), which may dispatch again: each round has its own
 *	array of events.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Whatever the callbacks do; output is written.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopDispatch(
    MpLoop *loop)
{
    int n, rounds = 0, timeout = 0, ranScript = 0;
    Tcl_WideInt start = MpNowMs();
    Tcl_WideUInt scripts = loop->scriptCalls;

    loop->refCount++;
    loop->dispatchDepth++;
    loop->epoch++;
    loop->streaming = 0;
    for (;;) {
	/*
	 * Events left by a dispatch that stopped after a script ran are
	 * served first, without asking the poller again (readiness may
	 * have gone since: the handlers take a would-block in their
	 * stride). A nested dispatch (a filter that runs update) takes
	 * them from the same list, so none is served twice.
	 */

	if (loop->firedPos < loop->firedCount) {
	    n = loop->firedCount - loop->firedPos;
	} else {
	    n = MpPollerWait(loop->poller, loop->fired, MP_FIRED_MAX,
		    loop->againCount > 0 ? 0 : timeout);
	    loop->firedPos = 0;
	    loop->firedCount = (n > 0) ? n : 0;

	    /*
	     * Input a transport holds (decrypted TLS records) is served as
	     * if the poller had reported it.
	     */

	    while (n >= 0 && loop->againCount > 0
		    && loop->firedCount < MP_FIRED_MAX) {
		MpFired *ev = &loop->fired[loop->firedCount++];

		ev->fd = loop->again[--loop->againCount];
		ev->mask = MP_EV_READ;
		n++;
	    }
	}
	timeout = 0;
	while (loop->firedPos < loop->firedCount) {
	    MpFired ev = loop->fired[loop->firedPos++];
	    Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&loop->watches,
		    (char *) (size_t) ev.fd);
	    MpWatch *w;
	    int mask;

	    if (hPtr == NULL) {
		continue;
	    }
	    w = (MpWatch *) Tcl_GetHashValue(hPtr);
	    mask = ev.mask & (w->mask ? w->mask : 0);
	    if (mask) {
		w->proc(w->clientData, mask);
		if (loop->scriptCalls != scripts) {
		    /*
		     * The handler ran a script (a filter, a callback): as in
		     * tcllib, where every socket event is one Tcl event, this
		     * Tcl event ends here, so a script that waits for one
		     * callback at a time (vwait) sees one. The rest goes on
		     * in an event of its own (ContinueSoon).
		     */

		    ranScript = 1;
		    break;
		}
	    }
	}
	MpLoopFlushAll(loop);
	if (ranScript) {
	    ContinueSoon(loop);
	    break;
	}

	/*
	 * Keep serving while the poller reports events (or, while a client
	 * streams, for a short wait): each return to Tcl's notifier costs a
	 * round trip through its thread. Bounded in rounds and time so
	 * timers and other event sources get their turn.
	 */

	if (++rounds >= MP_DISPATCH_ROUNDS
		|| MpNowMs() - start >= MP_DISPATCH_BUDGET_MS) {
	    if (loop->againCount > 0) {
		ContinueSoon(loop);	/* Held input waits for no socket. */
	    }
	    break;
	}
	if (n < 0) {
	    break;		/* Poller failure: let Tcl's loop call again. */
	}
	if (n == 0) {
	    if (!loop->streaming || MP_DISPATCH_LINGER_MS == 0) {
		break;
	    }
	    loop->streaming = 0;
	    timeout = MP_DISPATCH_LINGER_MS;
	}
    }
    loop->dispatchDepth--;
    MpLoopRelease(loop);
}

/*
 *----------------------------------------------------------------------
 *
 * ContinueSoon, ContinueEventProc --
 *
 *	A dispatch that stopped after a socket event that ran a script goes
 *	on in a Tcl event of its own, queued at the tail of Tcl's event
 *	queue: the next Tcl event serves it without a round trip through
 *	Tcl's notifier (which costs thread switches in Tcl 8.6), while a
 *	script waiting with vwait still sees one callback per event, and
 *	events queued before it run first.
 *
 * Results:
 *	ContinueEventProc: 1 when handled, 0 for an update idletasks.
 *
 * Side effects:
 *	Queues an event holding a reference on the loop (at most one at a
 *	time); the event dispatches the loop.
 *
 *----------------------------------------------------------------------
 */

static void
ContinueSoon(
    MpLoop *loop)
{
    ContinueEvent *ev;

    if (loop->continuePending) {
	return;
    }
    ev = (ContinueEvent *) ckalloc(sizeof(ContinueEvent));
    ev->header.proc = ContinueEventProc;
    ev->loop = loop;
    loop->refCount++;
    loop->continuePending = 1;
    Tcl_QueueEvent((Tcl_Event *) ev, TCL_QUEUE_TAIL);
}

static int
ContinueEventProc(
    Tcl_Event *evPtr,
    int flags)
{
    MpLoop *loop = ((ContinueEvent *) evPtr)->loop;

    if (!(flags & TCL_FILE_EVENTS)) {
	return 0;
    }
    loop->continuePending = 0;
    if (loop->attached) {
	MpLoopDispatch(loop);
    }
    MpLoopRelease(loop);
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpNextChannelId --
 *
 *	The number for the next channel name (mpsock<N>, mplisten<N>),
 *	unique in the process, so that a channel moved to another thread
 *	(thread::transfer, thread::attach) never meets one of the same name
 *	there.
 *
 * Results:
 *	A number never returned before.
 *
 * Side effects:
 *	Advances the process-wide counter (under its mutex).
 *
 *----------------------------------------------------------------------
 */

Tcl_WideUInt
MpNextChannelId(void)
{
    static Tcl_Mutex idMutex;	/* The process's one counter of channel */
    static Tcl_WideUInt nextId = 1;	/* names: not per thread. */
    Tcl_WideUInt id;

    Tcl_MutexLock(&idMutex);
    id = nextId++;
    Tcl_MutexUnlock(&idMutex);
    return id;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopNoteScript --
 *
 *	Records that the package is about to call a Tcl script (a filter or
 *	a callback) from a socket or timer event. MpLoopDispatch and the
 *	listener use the count to end a Tcl event after the first socket
 *	event that ran a script, as tcllib's package (one Tcl event per
 *	socket event) does.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Increments loop->scriptCalls.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopNoteScript(
    MpLoop *loop)
{
    loop->scriptCalls++;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopScheduleFlush, MpLoopCancelFlush --
 *
 *	Put a client on, or take it off, the list of clients whose queue is
 *	written at the end of the dispatch round.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Links or unlinks the client.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopScheduleFlush(
    MpLoop *loop,
    MpClient *c)
{
    if (c->onFlushList) {
	return;
    }
    c->onFlushList = 1;
    c->flushPrev = NULL;
    c->flushNext = loop->flushFirst;
    if (loop->flushFirst != NULL) {
	loop->flushFirst->flushPrev = c;
    }
    loop->flushFirst = c;
}

void
MpLoopCancelFlush(
    MpLoop *loop,
    MpClient *c)
{
    if (!c->onFlushList) {
	return;
    }
    if (c->flushPrev != NULL) {
	c->flushPrev->flushNext = c->flushNext;
    } else {
	loop->flushFirst = c->flushNext;
    }
    if (c->flushNext != NULL) {
	c->flushNext->flushPrev = c->flushPrev;
    }
    c->flushPrev = c->flushNext = NULL;
    c->onFlushList = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopFlushAll --
 *
 *	Writes the queued output of every client on the flush list. Clients
 *	whose socket is full are left to their writable event. Starts a new
 *	flush cycle (see MpLoop.flushCycle).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket writes; clients may be closed on write errors or overflow.
 *	After one whose exit filters ran, the rest are flushed in a Tcl
 *	event of their own (ContinueSoon).
 *
 *----------------------------------------------------------------------
 */

static void
FlushClients(
    MpLoop *loop)
{
    Tcl_WideUInt scripts = loop->scriptCalls;

    loop->flushCycle++;
    while (loop->flushFirst != NULL) {
	MpClient *c = loop->flushFirst;

	MpLoopCancelFlush(loop, c);
	MpClientFlush(c);
	if (loop->scriptCalls != scripts && loop->flushFirst != NULL) {
	    /*
	     * A client closed here (overflow, write error) ran its exit
	     * filters: the others are flushed in an event of their own.
	     */

	    ContinueSoon(loop);
	    break;
	}
    }
}

void
MpLoopFlushAll(
    MpLoop *loop)
{
    FlushClients(loop);
    loop->hookCycle++;
    while (loop->hooks != NULL) {
	MpFlushHook *hook = loop->hooks;

	loop->hooks = hook->next;
	hook->next = NULL;
	hook->listed = 0;
	hook->proc(hook->clientData);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopScheduleHook, MpLoopCancelHook --
 *
 *	List a flush hook (see MpFlushHook) to be called when the dispatch
 *	round in progress ends, or, outside any round (a script's command),
 *	when the event loop is next idle, so that what a script queues in
 *	one go leaves in one write; or take it off the list.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May schedule an idle flush.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopScheduleHook(
    MpLoop *loop,
    MpFlushHook *hook)
{
    if (!hook->listed) {
	hook->listed = 1;
	hook->next = loop->hooks;
	loop->hooks = hook;
    }
    if (loop->dispatchDepth == 0) {
	MpLoopFlushSoon(loop);
    }
}

void
MpLoopCancelHook(
    MpLoop *loop,
    MpFlushHook *hook)
{
    MpFlushHook **pp;

    if (!hook->listed) {
	return;
    }
    for (pp = &loop->hooks; *pp != NULL; pp = &(*pp)->next) {
	if (*pp == hook) {
	    *pp = hook->next;
	    break;
	}
    }
    hook->next = NULL;
    hook->listed = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopFlushIfIdle --
 *
 *	Writes queued output now unless a dispatch round is in progress
 *	(which writes it when it ends). Commands that queue output call this
 *	so that data sent from a script outside any event is not delayed.
 *	Clients whose transport gathers writes (TLS: one record for many
 *	small messages) are written when the script returns to the event
 *	loop instead (an idle callback), so that a script's many sends to
 *	them leave together.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	See MpLoopFlushAll; may schedule an idle flush.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopFlushIfIdle(
    MpLoop *loop)
{
    MpClient *c, *next;
    int deferred = 0;

    if (loop->dispatchDepth != 0) {
	return;
    }
    for (c = loop->flushFirst; c != NULL; c = c->flushNext) {
	if (c->conn.type->deferWrites) {
	    deferred = 1;
	    break;
	}
    }
    if (!deferred) {
	FlushClients(loop);	/* Hooks wait for the idle flush. */
	return;
    }

    /*
     * Write the others now; the gathering ones stay listed for the idle
     * flush. Each is written once: MpClientFlush runs no Tcl code unless
     * it closes the client (then the rest waits for the idle flush too).
     */

    MpLoopFlushSoon(loop);
    loop->flushCycle++;
    for (c = loop->flushFirst; c != NULL; c = next) {
	Tcl_WideUInt scripts = loop->scriptCalls;

	next = c->flushNext;
	if (c->conn.type->deferWrites) {
	    continue;
	}
	MpLoopCancelFlush(loop, c);
	MpClientFlush(c);
	if (loop->scriptCalls != scripts) {
	    break;
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopFlushSoon, IdleFlushProc --
 *
 *	For callers that must not run Tcl code (a channel driver's output
 *	procedure: closing a client runs exit filters and closes channels):
 *	queued output, and disconnects decided while queueing, are carried
 *	out at the end of the dispatch round in progress or when the event
 *	loop is next idle, whichever comes first (a filter that writes and
 *	then waits in vwait gets its output written).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Schedules / runs MpLoopFlushAll.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopFlushSoon(
    MpLoop *loop)
{
    if (loop->idleFlushPending) {
	return;
    }
    loop->idleFlushPending = 1;
    Tcl_DoWhenIdle(IdleFlushProc, loop);
}

static void
IdleFlushProc(
    ClientData clientData)
{
    MpLoop *loop = (MpLoop *) clientData;

    loop->idleFlushPending = 0;
    loop->epoch++;
    loop->refCount++;
    MpLoopFlushAll(loop);
    MpLoopRelease(loop);
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopAttachEventSource, MpLoopDetachEventSource --
 *
 *	For backends without a descriptor Tcl could watch (poll, WSAPoll):
 *	a Tcl event source that polls without blocking and lets Tcl sleep at
 *	most MP_POLL_INTERVAL_MS while descriptors are watched. An event is
 *	queued only when a descriptor is ready, as Tcl's own notifier does
 *	for a file handler: one queued on every check made each
 *	Tcl_DoOneEvent report work forever, so that update never returned
 *	and idle callbacks never ran while anything was watched.
 *
 * Results:
 *	TCL_OK.
 *
 * Side effects:
 *	Creates or deletes the event source.
 *
 *----------------------------------------------------------------------
 */

int
MpLoopAttachEventSource(
    MpLoop *loop)
{
    Tcl_CreateEventSource(SourceSetup, SourceCheck, loop);
    return TCL_OK;
}

void
MpLoopDetachEventSource(
    MpLoop *loop)
{
    Tcl_DeleteEventSource(SourceSetup, SourceCheck, loop);
}

typedef struct SourceEvent {
    Tcl_Event header;
    MpLoop *loop;
} SourceEvent;

/*
 *----------------------------------------------------------------------
 *
 * SourceReady --
 *
 *	Asks the poller, without waiting, whether any watched descriptor is
 *	ready. Readiness is level-triggered, so the dispatch that follows
 *	sees the same descriptors again.
 *
 * Results:
 *	1 if at least one descriptor is ready, else 0 (also when the poller
 *	fails: a dispatch could do nothing either).
 *
 * Side effects:
 *	May move the poller's scan position.
 *
 *----------------------------------------------------------------------
 */

static int
SourceReady(
    MpLoop *loop)
{
    MpFired fired[1];

    return MpPollerWait(loop->poller, fired, 1, 0) > 0;
}

/*
 *----------------------------------------------------------------------
 *
 * SourceSetup --
 *
 *	Tcl's setup procedure for the event source: while descriptors are
 *	watched, Tcl may sleep at most MP_POLL_INTERVAL_MS, and not at all
 *	when one is ready already.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May lower Tcl's block time.
 *
 *----------------------------------------------------------------------
 */

static void
SourceSetup(
    ClientData clientData,
    int flags)
{
    MpLoop *loop = (MpLoop *) clientData;
    Tcl_Time block;

    if (!(flags & TCL_FILE_EVENTS) || loop->watchCount == 0
	    || (flags & TCL_DONT_WAIT)) {
	return;			/* TCL_DONT_WAIT: Tcl does not block. */
    }
    block.sec = 0;
    block.usec = SourceReady(loop) ? 0 : MP_POLL_INTERVAL_MS * 1000;
    Tcl_SetMaxBlockTime(&block);
}

/*
 *----------------------------------------------------------------------
 *
 * SourceCheck --
 *
 *	Tcl's check procedure for the event source: queues an event that
 *	dispatches the loop when a watched descriptor is ready.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May queue a SourceEvent holding a reference to the loop.
 *
 *----------------------------------------------------------------------
 */

static void
SourceCheck(
    ClientData clientData,
    int flags)
{
    MpLoop *loop = (MpLoop *) clientData;
    SourceEvent *evPtr;

    if (!(flags & TCL_FILE_EVENTS) || loop->watchCount == 0
	    || !SourceReady(loop)) {
	return;
    }
    evPtr = (SourceEvent *) ckalloc(sizeof(SourceEvent));
    evPtr->header.proc = SourceEventProc;
    evPtr->loop = loop;
    loop->refCount++;
    Tcl_QueueEvent((Tcl_Event *) evPtr, TCL_QUEUE_TAIL);
}

/*
 *----------------------------------------------------------------------
 *
 * SourceEventProc --
 *
 *	Services a queued SourceEvent: dispatches the loop (unless it has
 *	been unhooked meanwhile).
 *
 * Results:
 *	0 (leave it queued) when file events are not being serviced, else 1.
 *
 * Side effects:
 *	See MpLoopDispatch; drops the event's reference to the loop.
 *
 *----------------------------------------------------------------------
 */

static int
SourceEventProc(
    Tcl_Event *evPtr,
    int flags)
{
    MpLoop *loop = ((SourceEvent *) evPtr)->loop;

    if (!(flags & TCL_FILE_EVENTS)) {
	return 0;
    }
    if (loop->attached) {
	MpLoopDispatch(loop);
    }
    MpLoopRelease(loop);
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLoopReadAgain --
 *
 *	Notes that the connection on socket fd holds input of its own that
 *	the poller will not report (a TLS record decrypted but not yet
 *	read): the dispatch serves it as a read event before it sleeps
 *	again, in this dispatch or in one queued for it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Grows the list; may queue a dispatch.
 *
 *----------------------------------------------------------------------
 */

void
MpLoopReadAgain(
    MpLoop *loop,
    MpSocket fd)
{
    if (loop->againCount == loop->againCap) {
	int cap = loop->againCap ? 2 * loop->againCap : 16;

	loop->again = (MpSocket *) MpRealloc(loop->again,
		sizeof(MpSocket) * (size_t) cap);
	loop->againCap = cap;
    }
    loop->again[loop->againCount++] = fd;
    if (loop->dispatchDepth == 0) {
	ContinueSoon(loop);
    }
}
