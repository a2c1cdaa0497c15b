/*
 * mpResolve.c --
 *
 *	Host name resolution away from the event loop's thread. The
 *	platform's resolver (MpSockResolve: getaddrinfo) may block for
 *	seconds, so a small pool of worker threads runs it. A request is
 *	known to its owner by a number, never by a pointer: the owner may
 *	cancel it at any time, and a result whose owner gave up is dropped
 *	by whichever side sees it last. Results go back to the owning thread
 *	with Tcl_ThreadQueueEvent; the event carries nothing but a nudge, and
 *	the owner takes its finished requests from the shared list.
 */

#include "mpInt.h"

/*
 * Most worker threads running at once (resolutions in flight). Further
 * requests wait in the list for a worker to become free.
 */

#define MP_RESOLVE_THREADS 4

enum {
    REQ_QUEUED,			/* Waiting for a worker. */
    REQ_RUNNING,		/* A worker is resolving it. */
    REQ_DONE			/* Result ready for the owner. */
};

typedef struct ResolveReq {
    struct ResolveReq *next;	/* In the shared list. */
    Tcl_WideUInt id;		/* The owner's handle. */
    int state;			/* REQ_*. */
    int cancelled;		/* Owner gave up while a worker ran it: the
				 * worker frees it. */
    Tcl_ThreadId owner;		/* Thread that gets the result. */
    MpResolveProc *proc;	/* Called there with the result ... */
    void *clientData;		/* ... and this. */
    int port;
    int count;			/* Addresses found, or -1 ... */
    int err;			/* ... with this error code. */
    MpAddr addrs[MP_RESOLVE_MAX];
    char host[1];		/* The name; allocated longer. */
} ResolveReq;

/*
 * The nudge queued to the owner's thread.
 */

typedef struct ResolvedEvent {
    Tcl_Event header;
} ResolvedEvent;

typedef struct ThreadData {
    int exitHandler;		/* 1: ResolveThreadExit is registered;
				 * 2: it ran (the thread is ending). */
} ThreadData;

static Tcl_ThreadDataKey dataKey;

/*
 * Shared by all threads, under resolveMutex.
 */

TCL_DECLARE_MUTEX(resolveMutex)
static ResolveReq *reqFirst = NULL;	/* Oldest first. */
static ResolveReq *reqLast = NULL;
static int workerCount = 0;
static Tcl_WideUInt nextId = 1;

static Tcl_ThreadCreateProc ResolveWorker;
static int		ResolvedEventProc(Tcl_Event *evPtr, int flags);
static void		ResolveThreadExit(ClientData clientData);
static void		Unlink(ResolveReq *req);
static void		RunRequest(ResolveReq *req);

/*
 *----------------------------------------------------------------------
 *
 * Unlink --
 *
 *	Removes a request from the shared list. The caller holds
 *	resolveMutex.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Updates the list.
 *
 *----------------------------------------------------------------------
 */

static void
Unlink(
    ResolveReq *req)
{
    ResolveReq **pp, *prev = NULL;

    for (pp = &reqFirst; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
	if (*pp == req) {
	    *pp = req->next;
	    if (reqLast == req) {
		reqLast = prev;
	    }
	    req->next = NULL;
	    return;
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpResolveStart --
 *
 *	Asks for host:port to be resolved off this thread. Later, from this
 *	thread's event loop, proc(clientData, addrs, count, err) is called
 *	once (count > 0, or count -1 with a socket error code in err),
 *	unless MpResolveCancel is called first.
 *
 * Results:
 *	The request's number, for MpResolveCancel; 0 (nothing will be
 *	called) once the thread's exit handlers have run.
 *
 * Side effects:
 *	May start a worker thread (or, if none can be started and none is
 *	running, resolves at once on this thread).
 *
 *----------------------------------------------------------------------
 */

Tcl_WideUInt
MpResolveStart(
    const char *host,
    int port,
    MpResolveProc *proc,
    void *clientData)
{
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    size_t len = strlen(host);
    ResolveReq *req;
    Tcl_WideUInt id;
    int startWorker = 0;

    if (tsdPtr->exitHandler == 2) {
	/*
	 * The thread is ending (its exit handler ran): no result could be
	 * delivered to it. The caller's own deadline ends its wait.
	 */

	return 0;
    }
    req = (ResolveReq *) MpAlloc(sizeof(ResolveReq) + len);
    if (!tsdPtr->exitHandler) {
	tsdPtr->exitHandler = 1;
	Tcl_CreateThreadExitHandler(ResolveThreadExit, NULL);
    }
    memset(req, 0, sizeof(ResolveReq));
    memcpy(req->host, host, len + 1);
    req->port = port;
    req->owner = Tcl_GetCurrentThread();
    req->proc = proc;
    req->clientData = clientData;
    req->state = REQ_QUEUED;

    Tcl_MutexLock(&resolveMutex);
    id = req->id = nextId++;
    if (reqLast != NULL) {
	reqLast->next = req;
    } else {
	reqFirst = req;
    }
    reqLast = req;
    if (workerCount < MP_RESOLVE_THREADS) {
	workerCount++;
	startWorker = 1;
    }
    Tcl_MutexUnlock(&resolveMutex);

    if (startWorker) {
	Tcl_ThreadId tid;

	if (Tcl_CreateThread(&tid, ResolveWorker, NULL,
		TCL_THREAD_STACK_DEFAULT, TCL_THREAD_NOFLAGS) != TCL_OK) {
	    int none;

	    Tcl_MutexLock(&resolveMutex);
	    none = (--workerCount == 0);
	    if (none && req->state == REQ_QUEUED) {
		req->state = REQ_RUNNING;
	    } else {
		none = 0;
	    }
	    Tcl_MutexUnlock(&resolveMutex);
	    if (none) {
		RunRequest(req);	/* No worker at all: block instead. */
	    }
	}
    }
    return id;
}

/*
 *----------------------------------------------------------------------
 *
 * MpResolveCancel --
 *
 *	Forgets a request of this thread: its proc will not be called.
 *	Unknown or finished numbers are ignored.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees the request, or leaves it to the worker running it.
 *
 *----------------------------------------------------------------------
 */

void
MpResolveCancel(
    Tcl_WideUInt id)
{
    ResolveReq *req, *dead = NULL;

    Tcl_MutexLock(&resolveMutex);
    for (req = reqFirst; req != NULL; req = req->next) {
	if (req->id == id) {
	    break;
	}
    }
    if (req != NULL) {
	if (req->state == REQ_RUNNING) {
	    req->cancelled = 1;
	} else {
	    Unlink(req);
	    dead = req;
	}
    }
    Tcl_MutexUnlock(&resolveMutex);
    if (dead != NULL) {
	MpFree(dead);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * RunRequest --
 *
 *	Resolves one request taken by the calling thread (state
 *	REQ_RUNNING), then hands it to its owner or, if cancelled, frees
 *	it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Blocks in the resolver; queues an event to the owner's thread.
 *
 *----------------------------------------------------------------------
 */

static void
RunRequest(
    ResolveReq *req)
{
    int err = 0, count;

    count = MpSockResolve(req->host, req->port, req->addrs, MP_RESOLVE_MAX,
	    &err);
    Tcl_MutexLock(&resolveMutex);
    req->count = count;
    req->err = err;
    if (req->cancelled) {
	Unlink(req);
    } else {
	ResolvedEvent *evPtr = (ResolvedEvent *)
		ckalloc(sizeof(ResolvedEvent));

	evPtr->header.proc = ResolvedEventProc;
	evPtr->header.nextPtr = NULL;
	req->state = REQ_DONE;

	/*
	 * Queued while the mutex is held: the owner's thread, which
	 * cancels its requests when it exits (ResolveThreadExit), is still
	 * there.
	 */

	Tcl_ThreadQueueEvent(req->owner, (Tcl_Event *) evPtr, TCL_QUEUE_TAIL);
	Tcl_ThreadAlert(req->owner);
	req = NULL;
    }
    Tcl_MutexUnlock(&resolveMutex);
    if (req != NULL) {
	MpFree(req);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ResolveWorker --
 *
 *	A worker thread: resolves queued requests, oldest first, until none
 *	is left, then ends.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	See RunRequest.
 *
 *----------------------------------------------------------------------
 */

static Tcl_ThreadCreateType
ResolveWorker(
    ClientData clientData)
{
    (void) clientData;
    for (;;) {
	ResolveReq *req;

	Tcl_MutexLock(&resolveMutex);
	for (req = reqFirst; req != NULL; req = req->next) {
	    if (req->state == REQ_QUEUED) {
		break;
	    }
	}
	if (req == NULL) {
	    workerCount--;
	    Tcl_MutexUnlock(&resolveMutex);
	    break;
	}
	req->state = REQ_RUNNING;
	Tcl_MutexUnlock(&resolveMutex);
	RunRequest(req);
    }
    Tcl_ExitThread(0);
    TCL_THREAD_CREATE_RETURN;
}

/*
 *----------------------------------------------------------------------
 *
 * ResolvedEventProc --
 *
 *	The nudge from a worker, on the owner's thread: delivers every
 *	finished request of this thread, one at a time (a delivery may run
 *	scripts that re-enter the event loop).
 *
 * Results:
 *	1 (the event is done), or 0 when file events are not served now.
 *
 * Side effects:
 *	Calls the requests' procs; frees the requests.
 *
 *----------------------------------------------------------------------
 */

static int
ResolvedEventProc(
    Tcl_Event *evPtr,
    int flags)
{
    Tcl_ThreadId self = Tcl_GetCurrentThread();

    (void) evPtr;
    if (!(flags & TCL_FILE_EVENTS)) {
	return 0;
    }
    for (;;) {
	ResolveReq *req;

	Tcl_MutexLock(&resolveMutex);
	for (req = reqFirst; req != NULL; req = req->next) {
	    if (req->state == REQ_DONE && req->owner == self) {
		Unlink(req);
		break;
	    }
	}
	Tcl_MutexUnlock(&resolveMutex);
	if (req == NULL) {
	    break;
	}
	req->proc(req->clientData, req->addrs, req->count, req->err);
	MpFree(req);
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * ResolveThreadExit --
 *
 *	A thread that made requests is ending: its requests are dropped
 *	(those being resolved are freed by their worker).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees requests.
 *
 *----------------------------------------------------------------------
 */

static void
ResolveThreadExit(
    ClientData clientData)
{
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    Tcl_ThreadId self = Tcl_GetCurrentThread();
    ResolveReq *req, *next, *dead = NULL;

    (void) clientData;
    tsdPtr->exitHandler = 2;	/* No request is taken any more. */
    Tcl_MutexLock(&resolveMutex);
    for (req = reqFirst; req != NULL; req = next) {
	next = req->next;
	if (req->owner != self) {
	    continue;
	}
	if (req->state == REQ_RUNNING) {
	    req->cancelled = 1;
	} else {
	    Unlink(req);
	    req->next = dead;
	    dead = req;
	}
    }
    Tcl_MutexUnlock(&resolveMutex);
    while (dead != NULL) {
	req = dead;
	dead = req->next;
	MpFree(req);
    }
}
