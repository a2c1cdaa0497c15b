/*
 * mpConnect.c --
 *
 *	${mp}::Connect: outbound links. The new connection joins the instance
 *	as a client (its input is filtered and broadcast; broadcasts reach
 *	it), so two multiplexers can be linked or a server fed from upstream.
 *
 *	A connect is a job that owns a reference on its client from the
 *	command until its outcome is known: the name is resolved by a worker
 *	thread (mpResolve.c; numeric addresses need none), then each address
 *	is tried in turn, every one but the last within its share of the
 *	time left. The event loop is never blocked: without -command the
 *	command serves events while it waits. A link closed, kicked or
 *	destroyed meanwhile is noticed by a close handler on its channel.
 */

#include "mpInt.h"
#include "mpTls.h"

#define MP_CONNECT_DEFAULT_TIMEOUT 10000

/*
 * How a job ended.
 */

enum {
    JOB_OK,			/* Connected. */
    JOB_FAILED,			/* Every address failed: err. */
    JOB_TIMEDOUT,		/* -timeout elapsed. */
    JOB_ABORTED,		/* The link was closed while connecting
				 * (close, Kick, destroy). */
    JOB_TLSFAILED		/* -tls: the handshake failed or timed
				 * out (tlsWhy). */
};

typedef struct ConnectJob {
    struct ConnectJob *prev, *next; /* The thread's jobs. */
    int refCount;		/* One until finished, one more while a
				 * synchronous Connect waits for it. */
    MpClient *c;		/* The link (referenced). */
    Tcl_Interp *interp;		/* The instance's (preserved). */
    Tcl_Obj *command;		/* -command prefix, or NULL. */
    Tcl_Obj *hostObj;		/* As given, for messages. */
    int port;
    int timeout;		/* Milliseconds, as given. */
    Tcl_WideInt deadline;	/* MpNowMs() time the job fails. */
    Tcl_WideInt attemptDue;	/* When the current address's share ends
				 * (another address is waiting), or 0. */
    int startPending;		/* The timer is to start the first
				 * attempt. */
    Tcl_TimerToken timer;	/* JobTimer, or NULL. */
    Tcl_WideUInt resolveId;	/* Resolution in flight, or 0. */
    Tcl_Channel chan;		/* Channel carrying our close handler, or
				 * NULL. */
    MpAddr addrs[MP_RESOLVE_MAX];
    int count;			/* Addresses known ... */
    int nextAddr;		/* ... and the next one to try. */
    int lastErr;		/* Error of the last address tried, or 0
				 * when its share of time ran out. */
    int finished;
    int outcome;		/* JOB_*, once finished. */
    int err;			/* Socket error of JOB_FAILED. */
    MpTlsContext *tls;		/* -tls: the client context, or NULL. */
    int tlsStarted;		/* Connected; the TLS handshake goes on. */
    Tcl_WideInt tlsDue;		/* When it times out (handshaketimeout). */
    Tcl_Obj *tlsWhy;		/* Why it failed. */
} ConnectJob;

typedef struct ThreadData {
    ConnectJob *jobs;		/* Unfinished and waited-for jobs. */
    int exitHandler;		/* ConnectThreadExit registered. */
} ThreadData;

static Tcl_ThreadDataKey dataKey;

static int		Established(MpClient *c);
static void		JobRelease(ConnectJob *job);
static void		JobArm(ConnectJob *job, Tcl_WideInt due);
static void		JobTimer(ClientData clientData);
static void		JobResolved(void *clientData, const MpAddr *addrs,
			    int count, int err);
static void		JobChannelClosed(ClientData clientData);
static void		JobTryNext(ConnectJob *job);
static void		JobDropAttempt(ConnectJob *job);
static void		JobFinish(ConnectJob *job, int outcome, int err);
static void		JobConnected(ConnectJob *job);
static void		JobTlsStep(ConnectJob *job);
static Tcl_Obj *	JobAbortText(ConnectJob *job);
static void		ConnectThreadExit(ClientData clientData);
static void		ConnectCallback(MpClient *c, Tcl_Obj *command,
			    int ok, Tcl_Obj *msgObj);

/*
 *----------------------------------------------------------------------
 *
 * Established --
 *
 *	Turns a connected outbound socket into an open, admitted client.
 *
 * Results:
 *	0, or a poller error code.
 *
 * Side effects:
 *	Watches the socket.
 *
 *----------------------------------------------------------------------
 */

static int
Established(
    MpClient *c)
{
    MpInstance *mp = c->mp;

    c->state = MP_CLIENT_OPEN;
    c->admitted = 1;
    if (MpConnIsTls(&c->conn)) {
	mp->tlsAdmitted++;
	MpLoopReadAgain(mp->loop, c->conn.watch.fd);	/* Data that came
							 * with the handshake. */
    }
    MpIdleTouch(c);
    MpIdleReschedule(mp);
    return MpLoopWatch(mp->loop, &c->conn.watch,
	    MpConnWant(&c->conn, MpClientReadMask(c)));
}

/*
 *----------------------------------------------------------------------
 *
 * MpConnectObjCmd --
 *
 *	${mp}::Connect host port ?-timeout ms? ?-command cmdprefix?
 *	Without -command, waits at most -timeout ms for the connection,
 *	serving events (of every instance, and the script's) meanwhile.
 *	With -command, returns at once; later "cmdprefix chan ok" or
 *	"cmdprefix chan error message" is called, exactly once.
 *
 * Results:
 *	The new client's channel name, or an error
 *	{MULTIPLEXER CONNECT <ERRNO>} (ETIMEDOUT after the timeout,
 *	ECANCELED when the link is closed while connecting),
 *	{MULTIPLEXER DESTROYED} when the instance is destroyed meanwhile.
 *
 * Side effects:
 *	Opens a socket; without -command runs the event loop.
 *
 *----------------------------------------------------------------------
 */

int
MpConnectObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {
	"-timeout", "-command", "-tls", NULL
    };
    MpInstance *mp = (MpInstance *) clientData;
    ThreadData *tsdPtr;
    Tcl_Obj *command = NULL;
    int port, timeout = MP_CONNECT_DEFAULT_TIMEOUT, i, idx, code;
    const char *host;
    MpAddr peer, numeric;
    MpClient *c;
    ConnectJob *job;
    Tcl_Obj *tlsObj = NULL;
    MpTlsContext *tls = NULL;

    if (objc < 3 || (objc % 2) == 0) {
	return MpWrongArgs(interp, 1, objv,
		"host port ?-timeout ms? ?-command cmdprefix? ?-tls options?");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    host = Tcl_GetString(objv[1]);
    if (Tcl_GetIntFromObj(NULL, objv[2], &port) != TCL_OK || port < 1
	    || port > 65535) {
	return MpError(interp, "VALUE", "PORT",
		"expected a port number from 1 to 65535 but got \"%s\"",
		Tcl_GetString(objv[2]));
    }
    for (i = 3; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(interp, objv[i], options, "option", 0, &idx)
		!= TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "OPTION",
		    Tcl_GetString(objv[i]), NULL);
	    return TCL_ERROR;
	}
	if (idx == 2) {
	    tlsObj = objv[i + 1];
	} else if (idx == 0) {
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &timeout) != TCL_OK
		    || timeout < 1) {
		return MpError(interp, "VALUE", "TIMEOUT",
			"expected a positive timeout in ms but got \"%s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	} else {
	    Tcl_Size len;

	    if (Tcl_ListObjLength(NULL, objv[i + 1], &len) != TCL_OK
		    || len == 0) {
		return MpError(interp, "VALUE", "CMDPREFIX",
			"expected a non-empty command prefix but got \"%s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    command = objv[i + 1];
	}
    }

    if (tlsObj != NULL) {
	if (MpTlsContextNew(interp, tlsObj, 0, &tls) != TCL_OK) {
	    return TCL_ERROR;
	}
	if (MpTlsContextServerName(tls) == NULL) {
	    MpTlsContextSetServerName(tls, host);	/* Checked against the
						 * certificate. */
	}
    }

    /*
     * The link exists from now on, without a socket until an address is
     * tried (its peer is unknown until then).
     */

    memset(&peer, 0, sizeof(peer));
    c = MpClientNew(mp, MP_INVALID_SOCKET, &peer);
    c->outbound = 1;
    c->state = MP_CLIENT_CONNECTING;

    job = (ConnectJob *) MpAlloc(sizeof(ConnectJob));
    memset(job, 0, sizeof(ConnectJob));
    job->refCount = (command != NULL) ? 1 : 2;	/* + the waiting command. */
    job->c = c;
    MpClientRef(c);
    job->interp = mp->interp;
    Tcl_Preserve(job->interp);
    if (command != NULL) {
	job->command = command;
	Tcl_IncrRefCount(command);
    }
    job->hostObj = objv[1];
    Tcl_IncrRefCount(job->hostObj);
    job->port = port;
    job->timeout = timeout;
    job->tls = tls;
    job->deadline = MpNowMs() + timeout;
    tsdPtr = (ThreadData *) Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    if (!tsdPtr->exitHandler) {
	tsdPtr->exitHandler = 1;
	Tcl_CreateThreadExitHandler(ConnectThreadExit, NULL);
    }
    job->next = tsdPtr->jobs;
    if (tsdPtr->jobs != NULL) {
	tsdPtr->jobs->prev = job;
    }
    tsdPtr->jobs = job;

    Tcl_SetObjResult(interp, MpClientName(c));
    job->chan = c->chan;
    if (job->chan != NULL) {
	Tcl_CreateCloseHandler(job->chan, JobChannelClosed, job);
    }

    if (MpSockParseAddr(host, &numeric) == 0) {
	numeric.port = port;
	job->addrs[0] = numeric;
	job->count = 1;
	if (command != NULL) {
	    /*
	     * Even a connect that succeeds or fails at once is reported
	     * from the event loop, never from inside this command.
	     */

	    job->startPending = 1;
	    JobArm(job, 0);
	} else {
	    JobTryNext(job);
	}
    } else {
	job->resolveId = MpResolveStart(host, port, JobResolved, job);
	JobArm(job, job->deadline);
    }
    if (command != NULL) {
	return TCL_OK;
    }

    /*
     * Synchronous: serve events until the job is finished. Its timer
     * bounds the wait.
     */

    while (!job->finished) {
	Tcl_DoOneEvent(TCL_ALL_EVENTS);
    }
    switch (job->outcome) {
    case JOB_OK:
	code = TCL_OK;
	break;
    case JOB_TIMEDOUT:
	code = MpError(interp, "CONNECT", "ETIMEDOUT",
		"couldn't connect to %s port %d: timed out after %d ms",
		Tcl_GetString(job->hostObj), port, timeout);
	break;
    case JOB_FAILED:
	code = MpError(interp, "CONNECT", MpSockErrorId(job->err),
		"couldn't connect to %s port %d: %s",
		Tcl_GetString(job->hostObj), port,
		MpSockErrorText(job->err));
	break;
    case JOB_TLSFAILED:
	code = MpError(interp, "TLS", "HANDSHAKE",
		"couldn't connect to %s port %d: TLS handshake failed: %s",
		Tcl_GetString(job->hostObj), port,
		Tcl_GetString(job->tlsWhy));
	break;
    default:
	if (mp->destroyed) {
	    code = MpError(interp, "DESTROYED", NULL,
		    "couldn't connect to %s port %d: multiplexer instance "
		    "\"%s\" destroyed while connecting",
		    Tcl_GetString(job->hostObj), port,
		    Tcl_GetString(mp->nameObj));
	} else {
	    Tcl_Obj *textObj = JobAbortText(job);

	    Tcl_IncrRefCount(textObj);
	    code = MpError(interp, "CONNECT", "ECANCELED",
		    "couldn't connect to %s port %d: %s",
		    Tcl_GetString(job->hostObj), port,
		    Tcl_GetString(textObj));
	    Tcl_DecrRefCount(textObj);
	}
	break;
    }
    if (code == TCL_OK) {
	Tcl_SetObjResult(interp, MpClientName(c));
    }
    JobRelease(job);
    return code;
}

/*
 *----------------------------------------------------------------------
 *
 * JobRelease --
 *
 *	Drops a reference to a job; the last one frees it with the
 *	references it holds.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May free the job, the client and the instance.
 *
 *----------------------------------------------------------------------
 */

static void
JobRelease(
    ConnectJob *job)
{
    ThreadData *tsdPtr;

    if (--job->refCount > 0) {
	return;
    }
    tsdPtr = (ThreadData *) Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    if (job->prev != NULL) {
	job->prev->next = job->next;
    } else {
	tsdPtr->jobs = job->next;
    }
    if (job->next != NULL) {
	job->next->prev = job->prev;
    }
    if (job->command != NULL) {
	Tcl_DecrRefCount(job->command);
    }
    Tcl_DecrRefCount(job->hostObj);
    if (job->tls != NULL) {
	MpTlsContextUnref(job->tls);
    }
    if (job->tlsWhy != NULL) {
	Tcl_DecrRefCount(job->tlsWhy);
    }
    Tcl_Release(job->interp);
    MpClientUnref(job->c);
    MpFree(job);
}

/*
 *----------------------------------------------------------------------
 *
 * JobArm --
 *
 *	Sets the job's timer to fire at a MpNowMs() time (at once if it is
 *	past).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Replaces the timer.
 *
 *----------------------------------------------------------------------
 */

static void
JobArm(
    ConnectJob *job,
    Tcl_WideInt due)
{
    Tcl_WideInt wait = due - MpNowMs();

    if (job->timer != NULL) {
	Tcl_DeleteTimerHandler(job->timer);
    }
    if (wait < 0) {
	wait = 0;
    }
    job->timer = Tcl_CreateTimerHandler((int) wait, JobTimer, job);
}

/*
 *----------------------------------------------------------------------
 *
 * JobTimer --
 *
 *	The job's timer: notices a link closed meanwhile, the end of the
 *	-timeout or of an address's share of it, or starts the first
 *	attempt of a -command connect to a numeric address.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Tries addresses; may finish the job (running the callback).
 *
 *----------------------------------------------------------------------
 */

static void
JobTimer(
    ClientData clientData)
{
    ConnectJob *job = (ConnectJob *) clientData;
    Tcl_WideInt now = MpNowMs();

    job->timer = NULL;
    if (job->c->state != MP_CLIENT_CONNECTING) {
	JobFinish(job, JOB_ABORTED, 0);
    } else if (now >= job->deadline && !job->tlsStarted) {
	JobFinish(job, JOB_TIMEDOUT, 0);
    } else if (job->tlsStarted) {
	if (now >= job->tlsDue || now >= job->deadline) {
	    job->tlsWhy = Tcl_NewStringObj("handshake timeout", -1);
	    Tcl_IncrRefCount(job->tlsWhy);
	    JobFinish(job, JOB_TLSFAILED, 0);
	} else {
	    JobArm(job, job->tlsDue < job->deadline ? job->tlsDue
		    : job->deadline);
	}
    } else if (job->startPending) {
	job->startPending = 0;
	JobTryNext(job);
    } else if (job->attemptDue != 0 && now >= job->attemptDue) {
	JobDropAttempt(job);
	job->lastErr = 0;
	JobTryNext(job);
    } else {
	JobArm(job, (job->attemptDue != 0 && job->attemptDue < job->deadline)
		? job->attemptDue : job->deadline);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * JobResolved --
 *
 *	The resolver's answer (MpResolveProc), delivered by this thread's
 *	event loop.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Starts trying the addresses, or finishes the job.
 *
 *----------------------------------------------------------------------
 */

static void
JobResolved(
    void *clientData,
    const MpAddr *addrs,
    int count,
    int err)
{
    ConnectJob *job = (ConnectJob *) clientData;

    job->resolveId = 0;
    if (job->c->state != MP_CLIENT_CONNECTING) {
	JobFinish(job, JOB_ABORTED, 0);
	return;
    }
    if (count <= 0) {
	JobFinish(job, JOB_FAILED, err);
	return;
    }
    memcpy(job->addrs, addrs, (size_t) count * sizeof(MpAddr));
    job->count = count;
    job->nextAddr = 0;
    JobTryNext(job);
}

/*
 *----------------------------------------------------------------------
 *
 * MpConnectChannelGone --
 *
 *	Called in the owner thread when a connecting link's channel leaves
 *	it (thread::transfer, thread::detach): the job stops watching that
 *	channel for a close, since a close in another thread must not touch
 *	this thread's job (the link itself goes on connecting).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Removes the job's close handler from the channel.
 *
 *----------------------------------------------------------------------
 */

void
MpConnectChannelGone(
    MpClient *c)
{
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    ConnectJob *job;

    for (job = tsdPtr->jobs; job != NULL; job = job->next) {
	if (job->c == c && job->chan != NULL) {
	    Tcl_DeleteCloseHandler(job->chan, JobChannelClosed, job);
	    job->chan = NULL;
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * JobChannelClosed --
 *
 *	Close handler of the link's channel: the link is being closed
 *	(close $chan, Kick, destroy, interpreter deletion) while it
 *	connects. The job finishes from its timer, at once, where scripts
 *	may run; if the interpreter is going away it finishes here (no
 *	script will run).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Re-arms the job's timer, or finishes the job.
 *
 *----------------------------------------------------------------------
 */

static void
JobChannelClosed(
    ClientData clientData)
{
    ConnectJob *job = (ConnectJob *) clientData;

    job->chan = NULL;
    if (Tcl_InterpDeleted(job->interp)) {
	JobFinish(job, JOB_ABORTED, 0);
    } else {
	job->startPending = 0;
	JobArm(job, 0);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * JobTryNext --
 *
 *	Starts a connection to the next address; addresses that fail at
 *	once are skipped. All but the last get an equal share of the time
 *	left. With none left, the job fails with the last error.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Opens a socket and watches it; may finish the job.
 *
 *----------------------------------------------------------------------
 */

static void
JobTryNext(
    ConnectJob *job)
{
    MpClient *c = job->c;
    MpInstance *mp = c->mp;

    while (job->nextAddr < job->count) {
	const MpAddr *addr = &job->addrs[job->nextAddr++];
	int inProgress = 0, err = 0, left;
	MpSocket fd;
	Tcl_WideInt now;

	if (MpSockConnectAddr(addr, &fd, &inProgress, &err) != 0) {
	    job->lastErr = err;
	    continue;
	}

	/*
	 * The client is counted under its peer address: move the count.
	 */

	(void) MpPeerCountAdjust(mp, c, -1);
	c->peer = *addr;
	(void) MpPeerCountAdjust(mp, c, 1);
	if (c->addrObj != NULL) {
	    Tcl_DecrRefCount(c->addrObj);
	    c->addrObj = NULL;
	}
	if (c->portObj != NULL) {
	    Tcl_DecrRefCount(c->portObj);
	    c->portObj = NULL;
	}
	MpConnInit(&c->conn, &mpTcpTransport, fd);
	if (!inProgress) {
	    JobConnected(job);
	    return;
	}
	if ((err = MpLoopWatch(mp->loop, &c->conn.watch, MP_EV_WRITE)) != 0) {
	    JobDropAttempt(job);
	    job->lastErr = err;
	    continue;
	}
	now = MpNowMs();
	left = job->count - job->nextAddr;	/* Addresses after this one. */
	job->attemptDue = (left > 0 && job->deadline > now)
		? now + (job->deadline - now) / (left + 1) : 0;
	JobArm(job, job->attemptDue != 0 ? job->attemptDue : job->deadline);
	return;
    }
    JobFinish(job, job->lastErr != 0 ? JOB_FAILED : JOB_TIMEDOUT,
	    job->lastErr);
}

/*
 *----------------------------------------------------------------------
 *
 * JobDropAttempt --
 *
 *	Abandons the connection attempt in progress, if any.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the attempt's socket.
 *
 *----------------------------------------------------------------------
 */

static void
JobDropAttempt(
    ConnectJob *job)
{
    MpClient *c = job->c;

    job->attemptDue = 0;
    MpLoopUnwatch(c->mp->loop, &c->conn.watch);
    if (c->conn.watch.fd != MP_INVALID_SOCKET) {
	MpConnClose(&c->conn, 0);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpConnectFinish --
 *
 *	A connecting link's socket became ready: the connection is made,
 *	or this address failed and the next one is tried.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Opens or closes the client; may run the callback.
 *
 *----------------------------------------------------------------------
 */

void
MpConnectFinish(
    MpClient *c)
{
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    ConnectJob *job;
    int err;

    for (job = tsdPtr->jobs; job != NULL; job = job->next) {
	if (job->c == c && !job->finished) {
	    break;
	}
    }
    if (job == NULL) {
	MpLoopUnwatch(c->mp->loop, &c->conn.watch);	/* Not ours: be quiet. */
	return;
    }
    if (job->tlsStarted) {
	JobTlsStep(job);
	return;
    }
    err = MpSockConnectResult(c->conn.watch.fd);
    if (err == MP_CONNECT_PENDING) {
	return;			/* A stale readiness event: wait on. */
    }
    if (err == 0) {
	JobConnected(job);
	return;
    }
    JobDropAttempt(job);
    job->lastErr = err;
    JobTryNext(job);
}

/*
 *----------------------------------------------------------------------
 *
 * JobConnected, JobTlsStep --
 *
 *	The TCP connection is made: a plain link is finished at once; a -tls
 *	link starts its TLS handshake, which JobTlsStep advances as the
 *	socket becomes ready, within Config handshaketimeout and the
 *	-timeout, and which must verify the server (unless -verify 0)
 *	before the link is open.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket reads and writes; may finish the job (running the callback).
 *
 *----------------------------------------------------------------------
 */

static void
JobConnected(
    ConnectJob *job)
{
    MpClient *c = job->c;
    MpInstance *mp = c->mp;
    int err = 0;

    if (job->tls == NULL) {
	JobFinish(job, JOB_OK, 0);
	return;
    }
    if (MpTlsStart(&c->conn, job->tls, &err) != 0) {
	JobFinish(job, JOB_FAILED, err);
	return;
    }
    job->tlsStarted = 1;
    job->attemptDue = 0;
    job->tlsDue = (mp->config.handshakeTimeout > 0)
	    ? MpNowMs() + mp->config.handshakeTimeout : job->deadline;
    JobArm(job, job->tlsDue < job->deadline ? job->tlsDue : job->deadline);
    JobTlsStep(job);
}

static void
JobTlsStep(
    ConnectJob *job)
{
    MpClient *c = job->c;
    int err = 0, rc;

    rc = MpConnHandshake(&c->conn, &err);
    if (rc == 0) {
	c->mp->stats.tlsHandshakes++;
	JobFinish(job, JOB_OK, 0);
    } else if (rc == MP_IO_AGAIN) {
	err = MpLoopWatch(c->mp->loop, &c->conn.watch,
		MpConnWant(&c->conn, 0));
	if (err != 0) {
	    JobFinish(job, JOB_FAILED, err);
	}
    } else {
	c->mp->stats.tlsHandshakeFailures++;
	job->tlsWhy = Tcl_NewStringObj(MpTlsFailure(&c->conn), -1);
	Tcl_IncrRefCount(job->tlsWhy);
	JobFinish(job, JOB_TLSFAILED, err);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * JobFinish --
 *
 *	Ends a job, once: stops its timer, resolution and close handler;
 *	makes the link an open client, or closes it (unless it is closed
 *	already); calls the -command callback, or leaves the outcome to the
 *	waiting Connect.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs the callback (Tcl code) unless the interpreter is deleted;
 *	drops the job's reference.
 *
 *----------------------------------------------------------------------
 */

static void
JobFinish(
    ConnectJob *job,
    int outcome,
    int err)
{
    MpClient *c = job->c;
    Tcl_Obj *msgObj = NULL;

    if (job->finished) {
	return;
    }
    job->finished = 1;
    if (job->timer != NULL) {
	Tcl_DeleteTimerHandler(job->timer);
	job->timer = NULL;
    }
    if (job->resolveId != 0) {
	MpResolveCancel(job->resolveId);
	job->resolveId = 0;
    }
    if (job->chan != NULL) {
	Tcl_DeleteCloseHandler(job->chan, JobChannelClosed, job);
	job->chan = NULL;
    }
    job->attemptDue = 0;
    if (outcome == JOB_OK && c->state == MP_CLIENT_CONNECTING) {
	err = Established(c);
	if (err != 0) {
	    outcome = JOB_FAILED;
	}
    } else if (outcome == JOB_OK) {
	outcome = JOB_ABORTED;
    }
    if (outcome != JOB_OK && c->state == MP_CLIENT_CONNECTING) {
	JobDropAttempt(job);
    }
    job->outcome = outcome;
    job->err = err;

    switch (outcome) {
    case JOB_OK:
	break;
    case JOB_FAILED:
	msgObj = Tcl_NewStringObj(MpSockErrorText(err), -1);
	c->errCode = err;
	break;
    case JOB_TIMEDOUT:
	msgObj = Tcl_NewStringObj("connection timed out", -1);
	break;
    case JOB_TLSFAILED:
	msgObj = Tcl_ObjPrintf("TLS handshake failed: %s",
		Tcl_GetString(job->tlsWhy));
	break;
    default:
	msgObj = JobAbortText(job);
	break;
    }
    if (msgObj != NULL) {
	Tcl_IncrRefCount(msgObj);
    }
    if (job->command != NULL) {
	ConnectCallback(c, job->command, outcome == JOB_OK, msgObj);
    }
    if (outcome == JOB_FAILED || outcome == JOB_TIMEDOUT
	    || outcome == JOB_TLSFAILED) {
	MpClientClose(c, MP_REASON_CONNECTFAILED, outcome == JOB_TIMEDOUT
		? Tcl_NewStringObj("timed out", -1)
		: outcome == JOB_TLSFAILED ? Tcl_ObjPrintf("tls handshake: %s",
		Tcl_GetString(job->tlsWhy)) : NULL);
    }
    if (msgObj != NULL) {
	Tcl_DecrRefCount(msgObj);
    }
    JobRelease(job);
}

/*
 *----------------------------------------------------------------------
 *
 * JobAbortText --
 *
 *	Why a link went away while connecting, for the callback and the
 *	error of a synchronous Connect.
 *
 * Results:
 *	A new Tcl_Obj.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static Tcl_Obj *
JobAbortText(
    ConnectJob *job)
{
    MpClient *c = job->c;
    Tcl_Obj *textObj;

    switch (c->reason) {
    case MP_REASON_KICKED:
	textObj = Tcl_NewStringObj("kicked while connecting", -1);
	if (c->reasonObj != NULL) {
	    Tcl_AppendToObj(textObj, ": ", 2);
	    Tcl_AppendObjToObj(textObj, c->reasonObj);
	}
	return textObj;
    case MP_REASON_CLOSED:
	return Tcl_NewStringObj("closed while connecting", -1);
    case MP_REASON_DESTROY:
	return Tcl_NewStringObj("instance destroyed while connecting", -1);
    default:
	return Tcl_ObjPrintf("%s while connecting",
		c->reason != MP_REASON_NONE ? MpReasonText(c->reason)
		: "abandoned");
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ConnectThreadExit --
 *
 *	The thread ends with jobs that could not finish (their timer will
 *	not fire any more): they end without a callback.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Finishes and frees jobs.
 *
 *----------------------------------------------------------------------
 */

static void
ConnectThreadExit(
    ClientData clientData)
{
    ThreadData *tsdPtr = (ThreadData *)
	    Tcl_GetThreadData(&dataKey, sizeof(ThreadData));
    ConnectJob *job;

    (void) clientData;
    for (;;) {
	for (job = tsdPtr->jobs; job != NULL && job->finished;
		job = job->next) {
	    /* Finished jobs are only waited for: not ours to free. */
	}
	if (job == NULL) {
	    break;
	}
	if (job->command != NULL) {
	    Tcl_DecrRefCount(job->command);
	    job->command = NULL;
	}
	JobFinish(job, JOB_ABORTED, 0);
    }
    tsdPtr->exitHandler = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * ConnectCallback --
 *
 *	Calls the -command prefix with "chan ok" or "chan error message".
 *	Errors in it are logged.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs Tcl code.
 *
 *----------------------------------------------------------------------
 */

static void
ConnectCallback(
    MpClient *c,
    Tcl_Obj *command,
    int ok,
    Tcl_Obj *msgObj)
{
    MpInstance *mp = c->mp;
    Tcl_Interp *interp = mp->interp;
    Tcl_Obj *cmd;
    int code;

    if (Tcl_InterpDeleted(interp)) {
	return;
    }
    cmd = Tcl_DuplicateObj(command);
    Tcl_IncrRefCount(cmd);
    Tcl_ListObjAppendElement(NULL, cmd, MpClientName(c));
    Tcl_ListObjAppendElement(NULL, cmd, Tcl_NewStringObj(ok ? "ok" : "error",
	    -1));
    if (msgObj != NULL) {
	Tcl_ListObjAppendElement(NULL, cmd, msgObj);
    }
    MpInstanceRef(mp);
    MpClientRef(c);
    Tcl_Preserve(interp);
    MpLoopNoteScript(mp->loop);
    code = Tcl_EvalObjEx(interp, cmd, TCL_EVAL_GLOBAL);
    if (code == TCL_ERROR) {
	MpLogObj(mp, MP_LOG_ERROR, Tcl_ObjPrintf(
		"Connect callback failed: %s",
		Tcl_GetString(Tcl_GetObjResult(interp))));
    }
    Tcl_ResetResult(interp);
    Tcl_Release(interp);
    Tcl_DecrRefCount(cmd);
    MpClientUnref(c);
    MpInstanceUnref(mp);
}
