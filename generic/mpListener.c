/*
 * mpListener.c --
 *
 *	The listening sockets of an instance (one per Init call, TCP or
 *	WebSocket): opening, accepting (with limits and allow/deny checked
 *	before any Tcl code runs), pausing, and surviving descriptor
 *	exhaustion without spinning.
 */

#include "mpInt.h"
#include "mpTls.h"

/*
 * Accepts per readable event, so a connection flood cannot starve the
 * clients already connected.
 */

#define MP_ACCEPT_BATCH 64

/*
 * After accept() failed for lack of descriptors, wait this long before
 * trying again (the kernel keeps reporting the listener readable).
 */

#define MP_ACCEPT_RETRY_MS 100

static void		ListenerReady(void *clientData, int mask);
static void		RetryAccept(ClientData clientData);
static void		Refuse(MpInstance *mp, MpSocket fd,
			    const MpAddr *peer, const char *why);
static void		ListenerRelease(MpListener *l);

/*
 *----------------------------------------------------------------------
 *
 * MpListenerOpen --
 *
 *	Opens and starts watching a listening socket of the instance, added
 *	after those it has. wsOptions (one reference, taken over) makes it a
 *	WebSocket listener; NULL a TCP one.
 *
 * Results:
 *	TCL_OK with the listener's channel name as result, or TCL_ERROR with
 *	a message and -errorcode {MULTIPLEXER LISTEN <ERRNO>}.
 *
 * Side effects:
 *	Binds a socket; creates a channel.
 *
 *----------------------------------------------------------------------
 */

int
MpListenerOpen(
    Tcl_Interp *interp,
    MpInstance *mp,
    const char *host,
    int port,
    int backlog,
    int reusePort,
    MpWsOptions *wsOptions,	/* WebSocket listener: taken over. */
    MpTlsContext *tls)		/* TLS listener: taken over. */
{
    MpListener *l, **lp;
    MpSocket fd;
    int err = 0, werr;
    char name[48];

    if (MpSockListen(host, port, backlog,
	    reusePort ? MP_LISTEN_REUSEPORT : 0, &fd, &err) != 0) {
	if (wsOptions != NULL) {
	    MpWsOptionsUnref(wsOptions);
	}
	if (tls != NULL) {
	    MpTlsContextUnref(tls);
	}
	return MpError(interp, "LISTEN", MpSockErrorId(err),
		"couldn't open socket on %s port %d: %s",
		host ? host : "all interfaces", port, MpSockErrorText(err));
    }
    l = (MpListener *) MpAlloc(sizeof(MpListener));
    memset(l, 0, sizeof(MpListener));
    l->mp = mp;
    l->refCount = 1;
    l->protocol = wsOptions ? MP_PROTO_WEBSOCKET : MP_PROTO_TCP;
    l->wsOptions = wsOptions;
    l->tls = tls;
    l->watch.fd = fd;
    l->watch.proc = ListenerReady;
    l->watch.clientData = l;
    if (MpSockLocalAddr(fd, &l->local) != 0) {
	l->local.port = port;
    }
    werr = MpLoopWatch(mp->loop, &l->watch, MP_EV_READ);
    if (werr != 0) {
	MpLoopUnwatch(mp->loop, &l->watch);
	MpSockClose(fd);
	if (wsOptions != NULL) {
	    MpWsOptionsUnref(wsOptions);
	}
	if (tls != NULL) {
	    MpTlsContextUnref(tls);
	}
	MpFree(l);
	return MpError(interp, "POLLER", MpSockErrorId(werr),
		"cannot watch the listening socket: %s",
		MpSockErrorText(werr));
    }
    for (lp = &mp->listeners; *lp != NULL; lp = &(*lp)->nextListener) {
	/* To the end. */
    }
    *lp = l;
    snprintf(name, sizeof(name), "mplisten%llu",
	    (unsigned long long) MpNextChannelId());
    l->chan = MpListenerChannelCreate(l, name);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(name, -1));
    MpLog(mp, MP_LOG_INFO, "listening on %s port %d (%s%s)",
	    host ? host : "all interfaces", l->local.port,
	    wsOptions ? "websocket" : "tcp", tls ? ", tls" : "");
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpListenerClose, MpListenerCloseAll, ListenerRelease --
 *
 *	Stop listening on one socket, or on all of the instance's;
 *	connected clients stay. The port can be bound again at once. The
 *	record lives on while an accept loop holds it (ListenerReady).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the socket; unregisters the listener channel.
 *
 *----------------------------------------------------------------------
 */

void
MpListenerClose(
    MpListener *l)
{
    MpInstance *mp = l->mp;
    MpListener **lp;

    if (l->closed) {
	return;
    }
    l->closed = 1;
    for (lp = &mp->listeners; *lp != NULL; lp = &(*lp)->nextListener) {
	if (*lp == l) {
	    *lp = l->nextListener;
	    break;
	}
    }
    l->nextListener = NULL;
    if (l->retryTimer != NULL) {
	Tcl_DeleteTimerHandler(l->retryTimer);
	l->retryTimer = NULL;
    }
    MpLoopUnwatch(mp->loop, &l->watch);
    MpSockClose(l->watch.fd);
    l->watch.fd = MP_INVALID_SOCKET;
    MpListenerChannelDetach(l);
    ListenerRelease(l);
}

void
MpListenerCloseAll(
    MpInstance *mp)
{
    while (mp->listeners != NULL) {
	MpListenerClose(mp->listeners);
    }
}

static void
ListenerRelease(
    MpListener *l)
{
    if (--l->refCount > 0) {
	return;
    }
    if (l->wsOptions != NULL) {
	MpWsOptionsUnref(l->wsOptions);
    }
    if (l->tls != NULL) {
	MpTlsContextUnref(l->tls);
    }
    MpFree(l);
}

/*
 *----------------------------------------------------------------------
 *
 * MpListenerPause --
 *
 *	Stops or restarts accepting on every listener of the instance.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Changes the listener's interest mask.
 *
 *----------------------------------------------------------------------
 */

void
MpListenerPause(
    MpInstance *mp,
    int paused)
{
    MpListener *l;

    for (l = mp->listeners; l != NULL; l = l->nextListener) {
	l->paused = paused;
	if (!l->fdStarved) {
	    (void) MpLoopWatch(mp->loop, &l->watch,
		    paused ? 0 : MP_EV_READ);
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Refuse --
 *
 *	Closes a connection that is not admitted, counting it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes fd; logs at info level.
 *
 *----------------------------------------------------------------------
 */

static void
Refuse(
    MpInstance *mp,
    MpSocket fd,
    const MpAddr *peer,
    const char *why)
{
    MpSockClose(fd);
    mp->stats.refused++;
    MpLog(mp, MP_LOG_INFO, "refused %s port %d: %s", peer->host, peer->port,
	    why);
}

/*
 *----------------------------------------------------------------------
 *
 * ListenerReady --
 *
 *	Accepts pending connections: limits and allow/deny first, then the
 *	access filters, then the client is watched for input.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Creates clients; runs access filters.
 *
 *----------------------------------------------------------------------
 */

static void
ListenerReady(
    void *clientData,
    int mask)
{
    MpListener *l = (MpListener *) clientData;
    MpInstance *mp = l->mp;
    MpLoop *loop = mp->loop;	/* Held by the dispatch that calls. */
    Tcl_WideUInt scripts;
    int i;

    (void) mask;
    Tcl_Preserve(mp->interp);
    MpInstanceRef(mp);
    l->refCount++;
    for (i = 0; i < MP_ACCEPT_BATCH && !l->closed && !l->paused; i++) {
	MpSocket fd;
	MpAddr peer;
	int err = 0, rc;
	MpClient *c;

	rc = MpSockAccept(l->watch.fd, &fd, &peer, &err);
	if (rc == MP_IO_AGAIN) {
	    break;
	}
	if (rc != 0) {
	    mp->stats.acceptErrors++;
	    if (MpSockIsExhausted(err)) {
		/*
		 * Out of descriptors or kernel memory: the pending
		 * connection stays in the backlog and the listener stays
		 * readable. Stop watching it for a while instead of spinning.
		 */

		MpLog(mp, MP_LOG_WARN, "accept: %s; retrying in %d ms",
			MpSockErrorText(err), MP_ACCEPT_RETRY_MS);
		l->fdStarved = 1;
		(void) MpLoopWatch(mp->loop, &l->watch, 0);
		l->retryTimer = Tcl_CreateTimerHandler(MP_ACCEPT_RETRY_MS,
			RetryAccept, l);
	    } else {
		MpLog(mp, MP_LOG_WARN, "accept: %s", MpSockErrorText(err));
	    }
	    break;
	}
	if (mp->config.maxClients > 0
		&& mp->clientCount >= mp->config.maxClients) {
	    Refuse(mp, fd, &peer, "maxclients reached");
	    continue;
	}
	if (!MpAccessAllowed(mp, &peer)) {
	    Refuse(mp, fd, &peer, "address not allowed");
	    continue;
	}
	c = MpClientNew(mp, fd, &peer);
	if (mp->config.maxPerAddr > 0
		&& MpPeerCountAdjust(mp, c, 0) > mp->config.maxPerAddr) {
	    c->admitted = 0;
	    MpClientClose(c, MP_REASON_DENIED, NULL);
	    mp->stats.refused++;
	    MpLog(mp, MP_LOG_INFO, "refused %s: maxperaddr reached",
		    peer.host);
	    continue;
	}
	if (l->tls != NULL) {
	    MpTlsClientStart(c, l);	/* Then as below, once its TLS
					 * handshake is over. */
	    continue;
	}
	if (l->protocol == MP_PROTO_WEBSOCKET) {
	    MpWsClientStart(c, l->wsOptions);	/* Admitted after its
						 * handshake. */
	    continue;
	}
	scripts = loop->scriptCalls;
	(void) MpClientAdmit(c);
	if (loop->scriptCalls != scripts) {
	    break;		/* One admission that ran access filters per
				 * Tcl event (see MpLoopDispatch). */
	}
    }
    ListenerRelease(l);
    {
	Tcl_Interp *interp = mp->interp;

	MpInstanceUnref(mp);
	Tcl_Release(interp);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * RetryAccept --
 *
 *	Timer after descriptor exhaustion: watch the listener again.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Re-arms the listener.
 *
 *----------------------------------------------------------------------
 */

static void
RetryAccept(
    ClientData clientData)
{
    MpListener *l = (MpListener *) clientData;

    l->retryTimer = NULL;
    l->fdStarved = 0;
    if (!l->paused) {
	(void) MpLoopWatch(l->mp->loop, &l->watch, MP_EV_READ);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpListenerTlsReload --
 *
 *	${mp}::TlsReload: re-reads the certificate, key and CA files of
 *	every open TLS listener of the instance. A listener whose files do
 *	not all load keeps what it had; the others take the new files.
 *
 * Results:
 *	TCL_OK with the number of listeners reloaded, or TCL_ERROR with the
 *	first failure's message (-errorcode {MULTIPLEXER TLS}).
 *
 * Side effects:
 *	Reads files; connections made from now on use the new certificates.
 *
 *----------------------------------------------------------------------
 */

int
MpListenerTlsReload(
    Tcl_Interp *interp,
    MpInstance *mp)
{
    MpListener *l;
    Tcl_Obj *failure = NULL, *code = NULL;
    int reloaded = 0, failPort = 0;

    for (l = mp->listeners; l != NULL; l = l->nextListener) {
	if (l->tls == NULL || l->closed) {
	    continue;
	}
	if (MpTlsContextReload(interp, l->tls) == TCL_OK) {
	    reloaded++;
	} else if (failure == NULL) {
	    Tcl_Obj *options = Tcl_GetReturnOptions(interp, TCL_ERROR);
	    Tcl_Obj *key = Tcl_NewStringObj("-errorcode", -1);

	    /*
	     * The error code of this failure (::errorCode is only set once
	     * the error leaves the command).
	     */

	    Tcl_IncrRefCount(options);
	    Tcl_IncrRefCount(key);
	    if (Tcl_DictObjGet(NULL, options, key, &code) != TCL_OK) {
		code = NULL;
	    }
	    if (code != NULL) {
		Tcl_IncrRefCount(code);
	    }
	    Tcl_DecrRefCount(key);
	    Tcl_DecrRefCount(options);
	    failPort = l->local.port;
	    failure = Tcl_GetObjResult(interp);
	    Tcl_IncrRefCount(failure);
	}
    }
    if (failure != NULL) {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf("listener port %d kept its "
		"certificates: %s", failPort, Tcl_GetString(failure)));
	Tcl_DecrRefCount(failure);
	if (code != NULL) {
	    Tcl_SetObjErrorCode(interp, code);
	    Tcl_DecrRefCount(code);
	}
	return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, Tcl_NewIntObj(reloaded));
    return TCL_OK;
}
