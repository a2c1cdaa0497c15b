/*
 * mpListener.c --
 *
 *	The listening socket of an instance: opening, accepting (with limits
 *	and allow/deny checked before any Tcl code runs), pausing, and
 *	surviving descriptor exhaustion without spinning.
 */

#include "mpInt.h"

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

/*
 *----------------------------------------------------------------------
 *
 * MpListenerOpen --
 *
 *	Opens and starts watching the instance's listening socket.
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
    int reusePort)
{
    MpListener *l;
    MpSocket fd;
    int err = 0, werr;
    char name[48];

    if (MpSockListen(host, port, backlog,
	    reusePort ? MP_LISTEN_REUSEPORT : 0, &fd, &err) != 0) {
	return MpError(interp, "LISTEN", MpSockErrorId(err),
		"couldn't open socket on %s port %d: %s",
		host ? host : "all interfaces", port, MpSockErrorText(err));
    }
    l = (MpListener *) MpAlloc(sizeof(MpListener));
    memset(l, 0, sizeof(MpListener));
    l->mp = mp;
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
	MpFree(l);
	return MpError(interp, "POLLER", MpSockErrorId(werr),
		"cannot watch the listening socket: %s",
		MpSockErrorText(werr));
    }
    mp->listener = l;
    snprintf(name, sizeof(name), "mplisten%llu",
	    (unsigned long long) MpNextChannelId());
    l->chan = MpListenerChannelCreate(l, name);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(name, -1));
    MpLog(mp, MP_LOG_INFO, "listening on %s port %d",
	    host ? host : "all interfaces", l->local.port);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpListenerClose --
 *
 *	Stops listening; connected clients stay. The port can be bound again
 *	at once.
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
    MpInstance *mp)
{
    MpListener *l = mp->listener;

    if (l == NULL) {
	return;
    }
    mp->listener = NULL;
    if (l->retryTimer != NULL) {
	Tcl_DeleteTimerHandler(l->retryTimer);
    }
    MpLoopUnwatch(mp->loop, &l->watch);
    MpSockClose(l->watch.fd);
    MpListenerChannelDetach(l);
    MpFree(l);
}

/*
 *----------------------------------------------------------------------
 *
 * MpListenerPause --
 *
 *	Stops or restarts accepting.
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
    MpListener *l = mp->listener;

    if (l == NULL) {
	return;
    }
    l->paused = paused;
    if (!l->fdStarved) {
	(void) MpLoopWatch(mp->loop, &l->watch, paused ? 0 : MP_EV_READ);
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
    for (i = 0; i < MP_ACCEPT_BATCH && mp->listener == l && !l->paused;
	    i++) {
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
	scripts = loop->scriptCalls;
	(void) MpClientAdmit(c);
	if (loop->scriptCalls != scripts) {
	    break;		/* One admission that ran access filters per
				 * Tcl event (see MpLoopDispatch). */
	}
    }
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
