/*
 * mpChannel.c --
 *
 *	Tcl channel views of clients and listeners. A client's channel is a
 *	real Tcl channel (puts, flush, fconfigure -peername/-sockname, close,
 *	chan names) whose output goes into the client's ordered queue in C.
 *	The channel has no OS handle to give Tcl, so Tcl's own notifier never
 *	watches the socket; the extension's poller serves it.
 */

#include <errno.h>
#include <stdio.h>
#include "mpInt.h"

#ifndef ENOBUFS
#   define ENOBUFS ENOMEM
#endif

/*
 * What a client channel points at; the client pointer is cleared when the
 * client goes first.
 */

typedef struct ChanData {
    MpClient *client;		/* NULL once detached. */
    MpListener *listener;	/* For listener channels. */
    Tcl_Channel chan;
} ChanData;

static int		ChanClose2(ClientData instanceData,
			    Tcl_Interp *interp, int flags);
static int		ChanInput(ClientData instanceData, char *buf,
			    int toRead, int *errorCodePtr);
static int		ChanOutput(ClientData instanceData, const char *buf,
			    int toWrite, int *errorCodePtr);
static int		ChanGetOption(ClientData instanceData,
			    Tcl_Interp *interp, const char *optionName,
			    Tcl_DString *dsPtr);
static void		ChanWatch(ClientData instanceData, int mask);
static int		ChanGetHandle(ClientData instanceData, int direction,
			    ClientData *handlePtr);
static int		ChanBlockMode(ClientData instanceData, int mode);

static const Tcl_ChannelType clientChannelType = {
    "multiplexer",		/* Type name. */
    TCL_CHANNEL_VERSION_5,
    TCL_CLOSE2PROC,		/* Close: use close2Proc. */
    ChanInput,
    ChanOutput,
    NULL,			/* Seek. */
    NULL,			/* Set option. */
    ChanGetOption,
    ChanWatch,
    ChanGetHandle,
    ChanClose2,
    ChanBlockMode,
    NULL,			/* Flush. */
    NULL,			/* Handler. */
    NULL,			/* Wide seek. */
    NULL,			/* Thread action. */
    NULL			/* Truncate. */
};

static const Tcl_ChannelType listenerChannelType = {
    "multiplexer-listener",
    TCL_CHANNEL_VERSION_5,
    TCL_CLOSE2PROC,
    ChanInput,
    ChanOutput,
    NULL,
    NULL,
    ChanGetOption,
    ChanWatch,
    ChanGetHandle,
    ChanClose2,
    ChanBlockMode,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL
};

/*
 *----------------------------------------------------------------------
 *
 * MpChannelCreate --
 *
 *	Creates and registers a client's channel: binary, unbuffered,
 *	non-blocking, as tcllib configured its client sockets.
 *
 * Results:
 *	The channel.
 *
 * Side effects:
 *	Registers the channel in the instance's interpreter.
 *
 *----------------------------------------------------------------------
 */

Tcl_Channel
MpChannelCreate(
    MpClient *c,
    const char *name)
{
    Tcl_Interp *interp = c->mp->interp;
    ChanData *cd = (ChanData *) MpAlloc(sizeof(ChanData));

    cd->client = c;
    cd->listener = NULL;
    cd->chan = Tcl_CreateChannel(&clientChannelType, name, cd,
	    TCL_READABLE | TCL_WRITABLE);
    Tcl_RegisterChannel(interp, cd->chan);
    Tcl_SetChannelOption(NULL, cd->chan, "-translation", "binary");
    Tcl_SetChannelOption(NULL, cd->chan, "-buffering", "none");
    Tcl_SetChannelOption(NULL, cd->chan, "-blocking", "0");
    return cd->chan;
}

/*
 *----------------------------------------------------------------------
 *
 * MpChannelDetach --
 *
 *	Cuts a departing client from its channel and unregisters the channel
 *	(which closes it unless a script shared it elsewhere; a surviving
 *	channel then fails every operation).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May close the channel.
 *
 *----------------------------------------------------------------------
 */

void
MpChannelDetach(
    MpClient *c)
{
    Tcl_Channel chan = c->chan;
    ChanData *cd;

    if (chan == NULL) {
	return;
    }
    c->chan = NULL;
    cd = (ChanData *) Tcl_GetChannelInstanceData(chan);
    cd->client = NULL;
    if (!Tcl_InterpDeleted(c->mp->interp)
	    || Tcl_IsChannelRegistered(c->mp->interp, chan)) {
	Tcl_UnregisterChannel(c->mp->interp, chan);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpListenerChannelCreate, MpListenerChannelDetach --
 *
 *	The listener's channel (returned by Init, like tcllib's server
 *	socket): fconfigure -sockname works on it and close stops listening.
 *
 * Results:
 *	The channel / none.
 *
 * Side effects:
 *	Registers / unregisters the channel.
 *
 *----------------------------------------------------------------------
 */

Tcl_Channel
MpListenerChannelCreate(
    MpListener *l,
    const char *name)
{
    ChanData *cd = (ChanData *) MpAlloc(sizeof(ChanData));

    cd->client = NULL;
    cd->listener = l;
    cd->chan = Tcl_CreateChannel(&listenerChannelType, name, cd, 0);
    Tcl_RegisterChannel(l->mp->interp, cd->chan);
    return cd->chan;
}

void
MpListenerChannelDetach(
    MpListener *l)
{
    Tcl_Channel chan = l->chan;
    ChanData *cd;

    if (chan == NULL) {
	return;
    }
    l->chan = NULL;
    cd = (ChanData *) Tcl_GetChannelInstanceData(chan);
    cd->listener = NULL;
    if (!Tcl_InterpDeleted(l->mp->interp)
	    || Tcl_IsChannelRegistered(l->mp->interp, chan)) {
	Tcl_UnregisterChannel(l->mp->interp, chan);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ChanClose2 --
 *
 *	close $chan: disconnects the client (exit filters run once, reason
 *	"closed"), or stops the listener. Half-closes are not supported.
 *
 * Results:
 *	0, or EINVAL for a half-close.
 *
 * Side effects:
 *	Closes the client or listener; frees the channel data.
 *
 *----------------------------------------------------------------------
 */

static int
ChanClose2(
    ClientData instanceData,
    Tcl_Interp *interp,
    int flags)
{
    ChanData *cd = (ChanData *) instanceData;

    (void) interp;
    if (flags & (TCL_CLOSE_READ | TCL_CLOSE_WRITE)) {
	return EINVAL;
    }
    if (cd->client != NULL) {
	MpClient *c = cd->client;

	cd->client = NULL;
	c->chan = NULL;
	MpClientClose(c, MP_REASON_CLOSED, NULL);
    }
    if (cd->listener != NULL) {
	MpListener *l = cd->listener;

	cd->listener = NULL;
	l->chan = NULL;
	MpListenerClose(l->mp);
    }
    MpFree(cd);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * ChanInput --
 *
 *	Reading is the extension's job, not the script's: a read finds no
 *	data (the channel is non-blocking) and never EOF.
 *
 * Results:
 *	-1 with EAGAIN.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
ChanInput(
    ClientData instanceData,
    char *buf,
    int toRead,
    int *errorCodePtr)
{
    (void) instanceData;
    (void) buf;
    (void) toRead;
    *errorCodePtr = EAGAIN;
    return -1;
}

/*
 *----------------------------------------------------------------------
 *
 * ChanOutput --
 *
 *	puts $chan: appends the bytes to the client's queue, after anything
 *	already queued, and never blocks. A full queue is an error (ENOBUFS);
 *	under "overflow disconnect" the client is also disconnected (at the
 *	end of the event being served or when the event loop is next idle);
 *	a closed client gives EPIPE. Outside events the bytes are written at
 *	once.
 *
 * Results:
 *	toWrite, or -1 with *errorCodePtr set.
 *
 * Side effects:
 *	Queues output and schedules its writing.
 *
 *----------------------------------------------------------------------
 */

static int
ChanOutput(
    ClientData instanceData,
    const char *buf,
    int toWrite,
    int *errorCodePtr)
{
    ChanData *cd = (ChanData *) instanceData;
    MpClient *c = cd->client;
    MpLoop *loop;
    int rc, continued;

    if (c == NULL || toWrite < 0) {
	*errorCodePtr = EPIPE;
	return -1;
    }
    loop = c->mp->loop;

    /*
     * Tcl hands a long puts over in pieces of the channel's buffer size,
     * each a full buffer but the last, with no return to the event loop
     * in between. A piece that follows a full one in the same loop epoch
     * continues the same write and is not refused for maxqueue (up to a
     * hard limit), so a puts is queued whole or, if refused at its
     * start, not at all.
     */

    continued = (c->writeEpoch != 0 && c->writeEpoch == loop->epoch);
    rc = MpEnqueueBytes(c, buf, (size_t) toWrite, continued);
    if (rc == 0 && toWrite >= Tcl_GetChannelBufferSize(cd->chan)) {
	c->writeEpoch = loop->epoch;
    }

    /*
     * No Tcl code may run here (a disconnect runs exit filters, which may
     * close this very channel). Outside an event the bytes are written at
     * once; the rest of the work (a disconnect decided while queueing,
     * what the socket did not take) is done at the end of the event being
     * served or when the event loop is next idle.
     */

    if (rc == 0 && loop->dispatchDepth == 0) {
	MpClientWriteNow(c);
    }
    MpLoopFlushSoon(loop);
    if (rc == -2) {
	*errorCodePtr = EPIPE;
	return -1;
    }
    if (rc == -1) {
	*errorCodePtr = ENOBUFS;
	return -1;
    }
    return toWrite;
}

/*
 *----------------------------------------------------------------------
 *
 * ChanGetOption --
 *
 *	-peername and -sockname, as Tcl's sockets give them ({address host
 *	port}; host is the numeric address: no reverse lookup is made), and
 *	-queued, the bytes waiting in the client's output queue.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR for an unknown option.
 *
 * Side effects:
 *	Appends to dsPtr.
 *
 *----------------------------------------------------------------------
 */

static void
AppendAddr(
    Tcl_DString *dsPtr,
    const MpAddr *a)
{
    char port[16];

    snprintf(port, sizeof(port), "%d", a->port);
    Tcl_DStringAppendElement(dsPtr, a->host);
    Tcl_DStringAppendElement(dsPtr, a->host);
    Tcl_DStringAppendElement(dsPtr, port);
}

static int
ChanGetOption(
    ClientData instanceData,
    Tcl_Interp *interp,
    const char *optionName,
    Tcl_DString *dsPtr)
{
    ChanData *cd = (ChanData *) instanceData;
    MpClient *c = cd->client;
    MpListener *l = cd->listener;
    MpAddr local;
    int all = (optionName == NULL || optionName[0] == '\0');
    const char *valid = (l != NULL) ? "sockname" : "peername sockname queued";

    if (c == NULL && l == NULL) {
	if (all) {
	    return TCL_OK;
	}
	if (interp != NULL) {
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf(
		    "channel \"%s\" is no longer connected",
		    Tcl_GetChannelName(cd->chan)));
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "CLOSED", NULL);
	}
	errno = ENOTCONN;
	return TCL_ERROR;
    }
    if (c != NULL && (all || strcmp(optionName, "-peername") == 0)) {
	if (all) {
	    Tcl_DStringAppendElement(dsPtr, "-peername");
	    Tcl_DStringStartSublist(dsPtr);
	}
	AppendAddr(dsPtr, &c->peer);
	if (all) {
	    Tcl_DStringEndSublist(dsPtr);
	} else {
	    return TCL_OK;
	}
    }
    if (all || strcmp(optionName, "-sockname") == 0) {
	if (l != NULL) {
	    local = l->local;
	} else if (MpSockLocalAddr(c->watch.fd, &local) != 0) {
	    memset(&local, 0, sizeof(local));
	}
	if (all) {
	    Tcl_DStringAppendElement(dsPtr, "-sockname");
	    Tcl_DStringStartSublist(dsPtr);
	}
	AppendAddr(dsPtr, &local);
	if (all) {
	    Tcl_DStringEndSublist(dsPtr);
	} else {
	    return TCL_OK;
	}
    }
    if (c != NULL && (all || strcmp(optionName, "-queued") == 0)) {
	char num[32];

	snprintf(num, sizeof(num), "%lu", (unsigned long) c->out.bytes);
	if (all) {
	    Tcl_DStringAppendElement(dsPtr, "-queued");
	}
	Tcl_DStringAppendElement(dsPtr, num);
	return TCL_OK;
    }
    if (all) {
	return TCL_OK;
    }
    return Tcl_BadChannelOption(interp, optionName, valid);
}

/*
 *----------------------------------------------------------------------
 *
 * ChanWatch, ChanGetHandle, ChanBlockMode --
 *
 *	No OS handle is given to Tcl (so its notifier never sees the socket);
 *	fileevent on these channels never fires; blocking mode is accepted
 *	and ignored (output never blocks).
 *
 * Results:
 *	None / TCL_ERROR / 0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static void
ChanWatch(
    ClientData instanceData,
    int mask)
{
    (void) instanceData;
    (void) mask;
}

static int
ChanGetHandle(
    ClientData instanceData,
    int direction,
    ClientData *handlePtr)
{
    (void) instanceData;
    (void) direction;
    (void) handlePtr;
    return TCL_ERROR;
}

static int
ChanBlockMode(
    ClientData instanceData,
    int mode)
{
    (void) instanceData;
    (void) mode;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLookupClient --
 *
 *	Finds the client of this instance behind a channel name.
 *
 * Results:
 *	The client, or NULL with an error {MULTIPLEXER LOOKUP CLIENT name}
 *	in interp (when interp is not NULL).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

MpClient *
MpLookupClient(
    Tcl_Interp *interp,
    MpInstance *mp,
    Tcl_Obj *nameObj)
{
    const char *name = Tcl_GetString(nameObj);
    Tcl_Channel chan = Tcl_GetChannel(mp->interp, name, NULL);
    MpClient *c = NULL;

    if (chan != NULL && Tcl_GetChannelType(chan) == &clientChannelType) {
	c = ((ChanData *) Tcl_GetChannelInstanceData(chan))->client;
    }
    if (c == NULL) {
	/* A client in its exit filters after close $chan has no channel. */
	for (c = mp->exiting; c != NULL; c = c->exitingNext) {
	    if (c->nameObj && strcmp(Tcl_GetString(c->nameObj), name) == 0) {
		break;
	    }
	}
    }
    if (c == NULL || c->mp != mp || c->state >= MP_CLIENT_DEAD) {
	if (interp != NULL) {
	    Tcl_ResetResult(interp);
	    MpError(interp, "LOOKUP", "CLIENT",
		    "no client \"%s\" in %s", name,
		    Tcl_GetString(mp->nameObj));
	}
	return NULL;
    }
    if (interp == NULL) {
	Tcl_ResetResult(mp->interp);
    }
    return c;
}
