/*
 * mpGroupsock.c --
 *
 *	::multiplexer::groupsock open: multicast group sockets as Tcl
 *	channels of the package's own type, served by its poller (so not
 *	limited by Tcl 8.6's 1024 descriptors). One flush sends one datagram
 *	(-buffering full and a buffer of 65,536 bytes: a write larger than a
 *	datagram is an error, EMSGSIZE); one read takes one datagram: after
 *	returning a datagram the driver reports "would block" once, so that
 *	a read on the non-blocking channel (the default) ends at the
 *	datagram's end. fconfigure reports and sets -ttl and -loop, reports
 *	-interface, -group, -port and -peer (the address and port of the
 *	last datagram's sender). The option names follow the udp package
 *	(tcl-udp) where they overlap.
 *
 *	Readiness goes to Tcl by a timer (never from inside the poller's
 *	dispatch), as for the client channels.
 */

#include <errno.h>
#include "mpInt.h"
#include "mpDgram.h"

/*
 * Channel buffer: room for the largest datagram, so that a flush is one
 * datagram and a read is never cut short.
 */

#define GS_BUFFER 65536

typedef struct Groupsock {
    Tcl_Channel chan;
    MpLoop *loop;
    MpWatch watch;
    MpAddr group;		/* Group and port datagrams go to. */
    Tcl_Obj *groupObj;		/* As given. */
    Tcl_Obj *ifaceObj;		/* Or NULL. */
    Tcl_Obj *sourceObj;		/* -source, or NULL. */
    int ttl, loop_;		/* As set. */
    int blocking;
    int interest;		/* TCL_READABLE | TCL_WRITABLE wanted. */
    int readable;		/* The poller said so since the last read. */
    int boundary;		/* A datagram was just returned: the next
				 * input call ends the read (EAGAIN). */
    Tcl_TimerToken timer;	/* Notifies Tcl. */
    MpAddr peer;		/* Sender of the last datagram read. */
    int havePeer;
} Groupsock;

static int		GsClose(ClientData instanceData, Tcl_Interp *interp);
static int		GsInput(ClientData instanceData, char *buf,
			    int toRead, int *errorCodePtr);
static int		GsOutput(ClientData instanceData, const char *buf,
			    int toWrite, int *errorCodePtr);
static int		GsSetOption(ClientData instanceData,
			    Tcl_Interp *interp, const char *optionName,
			    const char *value);
static int		GsGetOption(ClientData instanceData,
			    Tcl_Interp *interp, const char *optionName,
			    Tcl_DString *dsPtr);
static void		GsWatch(ClientData instanceData, int mask);
static int		GsGetHandle(ClientData instanceData, int direction,
			    ClientData *handlePtr);
static int		GsBlockMode(ClientData instanceData, int mode);
static void		GsReady(void *clientData, int mask);
static void		GsNotify(ClientData clientData);
static void		GsArm(Groupsock *gs);

static const Tcl_ChannelType groupsockChannelType = {
    "mpgroupsock",
    TCL_CHANNEL_VERSION_5,
    GsClose,
    GsInput,
    GsOutput,
    NULL,			/* Seek. */
    GsSetOption,
    GsGetOption,
    GsWatch,
    GsGetHandle,
    NULL,			/* Close2. */
    GsBlockMode,
    NULL,			/* Flush. */
    NULL,			/* Handler. */
    NULL,			/* Wide seek. */
    NULL,			/* Thread action. */
    NULL			/* Truncate. */
};

/*
 *----------------------------------------------------------------------
 *
 * MpGroupsockObjCmd --
 *
 *	::multiplexer::groupsock open group port ?-ttl n? ?-interface addr?
 *	?-loop bool? ?-source addr? ?-reuse bool?
 *
 * Results:
 *	The channel's name, or an error: {MULTIPLEXER GROUPSOCK GROUP} (not
 *	a multicast group), {MULTIPLEXER GROUPSOCK OPTION}, or
 *	{MULTIPLEXER GROUPSOCK <errno id>} when the socket cannot be opened
 *	or joined.
 *
 * Side effects:
 *	Opens a socket, joins the group, registers the channel.
 *
 *----------------------------------------------------------------------
 */

int
MpGroupsockObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const subs[] = {"open", NULL};
    static const char *const options[] = {
	"-interface", "-loop", "-rcvbuf", "-reuse", "-source", "-ttl", NULL
    };
    enum {
	OPT_INTERFACE, OPT_LOOP, OPT_RCVBUF, OPT_REUSE, OPT_SOURCE, OPT_TTL
    };
    MpDgramOpts opts;
    Groupsock *gs;
    MpLoop *loop;
    MpSocket fd;
    MpAddr group;
    char name[64];
    int i, index, port, err = 0;
    const char *groupText;

    (void) clientData;
    if (objc < 2) {
	return MpWrongArgs(interp, 1, objv, "open group port ?option value?");
    }
    if (Tcl_GetIndexFromObj(interp, objv[1], subs, "subcommand", 0,
	    &index) != TCL_OK) {
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "GROUPSOCK", "SUBCOMMAND",
		NULL);
	return TCL_ERROR;
    }
    if (objc < 4 || (objc % 2) != 0) {
	return MpWrongArgs(interp, 2, objv, "group port ?-ttl n? "
		"?-interface addr? ?-loop bool? ?-source addr? ?-reuse bool? "
		"?-rcvbuf bytes?");
    }
    groupText = Tcl_GetString(objv[2]);
    if (!MpDgramIsMulticast(groupText)) {
	return MpError(interp, "GROUPSOCK", "GROUP", "\"%.100s\" is not a "
		"multicast group address (224.0.0.0/4 or ff00::/8)",
		groupText);
    }
    if (Tcl_GetIntFromObj(NULL, objv[3], &port) != TCL_OK || port < 1
	    || port > 65535) {
	return MpError(interp, "GROUPSOCK", "OPTION",
		"port must be 1 to 65535, not \"%.100s\"",
		Tcl_GetString(objv[3]));
    }
    opts.ttl = 1;
    opts.loop = 1;
    opts.iface = NULL;
    opts.source = NULL;
    opts.reuse = 1;
    opts.rcvbuf = 0;
    for (i = 4; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(interp, objv[i], options, "option", 0,
		&index) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "GROUPSOCK", "OPTION",
		    NULL);
	    return TCL_ERROR;
	}
	switch (index) {
	case OPT_TTL:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &opts.ttl) != TCL_OK
		    || opts.ttl < 0 || opts.ttl > 255) {
		return MpError(interp, "GROUPSOCK", "OPTION",
			"-ttl must be 0 to 255, not \"%.100s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_LOOP:
	case OPT_REUSE:
	    if (Tcl_GetBooleanFromObj(NULL, objv[i + 1],
		    index == OPT_LOOP ? &opts.loop : &opts.reuse) != TCL_OK) {
		return MpError(interp, "GROUPSOCK", "OPTION",
			"%s must be a boolean, not \"%.100s\"",
			options[index], Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_RCVBUF:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &opts.rcvbuf) != TCL_OK
		    || opts.rcvbuf < 0) {
		return MpError(interp, "GROUPSOCK", "OPTION",
			"-rcvbuf must be a byte count (0: the system's), not "
			"\"%.100s\"", Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_INTERFACE:
	    opts.iface = Tcl_GetString(objv[i + 1]);
	    break;
	case OPT_SOURCE:
	    opts.source = Tcl_GetString(objv[i + 1]);
	    break;
	}
    }
    loop = MpLoopAcquire(interp);
    if (loop == NULL) {
	return TCL_ERROR;
    }
    if (MpDgramOpen(groupText, port, &opts, &fd, &group, &err) != 0) {
	MpLoopRelease(loop);
	return MpError(interp, "GROUPSOCK", MpSockErrorId(err),
		"cannot join group %s port %d: %s", groupText, port,
		MpSockErrorText(err));
    }
    gs = (Groupsock *) MpAlloc(sizeof(Groupsock));
    memset(gs, 0, sizeof(Groupsock));
    gs->loop = loop;
    gs->watch.fd = fd;
    gs->watch.proc = GsReady;
    gs->watch.clientData = gs;
    gs->group = group;
    gs->groupObj = objv[2];
    Tcl_IncrRefCount(gs->groupObj);
    for (i = 4; i < objc; i += 2) {
	if (strcmp(Tcl_GetString(objv[i]), "-interface") == 0) {
	    if (gs->ifaceObj != NULL) {
		Tcl_DecrRefCount(gs->ifaceObj);
	    }
	    gs->ifaceObj = objv[i + 1];
	    Tcl_IncrRefCount(gs->ifaceObj);
	} else if (strcmp(Tcl_GetString(objv[i]), "-source") == 0) {
	    if (gs->sourceObj != NULL) {
		Tcl_DecrRefCount(gs->sourceObj);
	    }
	    gs->sourceObj = objv[i + 1];
	    Tcl_IncrRefCount(gs->sourceObj);
	}
    }
    gs->ttl = opts.ttl;
    gs->loop_ = opts.loop;
    gs->blocking = 0;
    snprintf(name, sizeof(name), "mpgroupsock%" TCL_LL_MODIFIER "u",
	    (Tcl_WideUInt) MpNextChannelId());
    gs->chan = Tcl_CreateChannel(&groupsockChannelType, name, gs,
	    TCL_READABLE | TCL_WRITABLE);
    Tcl_RegisterChannel(interp, gs->chan);
    Tcl_SetChannelBufferSize(gs->chan, GS_BUFFER);
    (void) Tcl_SetChannelOption(NULL, gs->chan, "-translation", "binary");
    (void) Tcl_SetChannelOption(NULL, gs->chan, "-buffering", "full");
    (void) Tcl_SetChannelOption(NULL, gs->chan, "-blocking", "0");
    Tcl_SetObjResult(interp, Tcl_NewStringObj(name, -1));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * GsClose --
 *
 *	Leaves the group and frees the channel's state.
 *
 *----------------------------------------------------------------------
 */

static int
GsClose(
    ClientData instanceData,
    Tcl_Interp *interp)
{
    Groupsock *gs = (Groupsock *) instanceData;

    (void) interp;
    if (gs->timer != NULL) {
	Tcl_DeleteTimerHandler(gs->timer);
    }
    MpLoopUnwatch(gs->loop, &gs->watch);
    MpSockClose(gs->watch.fd);
    MpLoopRelease(gs->loop);
    Tcl_DecrRefCount(gs->groupObj);
    if (gs->sourceObj != NULL) {
	Tcl_DecrRefCount(gs->sourceObj);
    }
    if (gs->ifaceObj != NULL) {
	Tcl_DecrRefCount(gs->ifaceObj);
    }
    MpFree(gs);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * GsInput --
 *
 *	One datagram per read: returns the next datagram, or "would block"
 *	right after one (the end of the read). In blocking mode it waits for
 *	a datagram.
 *
 * Results:
 *	Bytes read, or -1 with *errorCodePtr (EAGAIN).
 *
 *----------------------------------------------------------------------
 */

static int
GsInput(
    ClientData instanceData,
    char *buf,
    int toRead,
    int *errorCodePtr)
{
    Groupsock *gs = (Groupsock *) instanceData;

    if (gs->boundary) {
	gs->boundary = 0;
	*errorCodePtr = EAGAIN;
	return -1;
    }
    for (;;) {
	int err = 0, truncated = 0;
	ptrdiff_t n = MpDgramRecv(gs->watch.fd, buf, (size_t) toRead,
		&gs->peer, &truncated, &err);

	if (n >= 0) {
	    gs->havePeer = 1;
	    gs->boundary = !gs->blocking;
	    gs->readable = 0;
	    GsArm(gs);
	    return (int) n;
	}
	if (n == MP_IO_AGAIN && gs->blocking) {
	    if (MpSockWait(gs->watch.fd, MP_EV_READ, &err) < 0) {
		*errorCodePtr = MpSockPosixError(err);
		return -1;
	    }
	    continue;
	}
	gs->readable = 0;
	GsArm(gs);
	*errorCodePtr = (n == MP_IO_AGAIN) ? EAGAIN : MpSockPosixError(err);
	return -1;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * GsOutput --
 *
 *	Sends what Tcl flushes as one datagram.
 *
 * Results:
 *	toWrite, or -1 with *errorCodePtr (EMSGSIZE for more than a
 *	datagram holds, EAGAIN when the socket is full and the channel does
 *	not block, or the system's error).
 *
 *----------------------------------------------------------------------
 */

static int
GsOutput(
    ClientData instanceData,
    const char *buf,
    int toWrite,
    int *errorCodePtr)
{
    Groupsock *gs = (Groupsock *) instanceData;
    MpIovec iov;

    if (toWrite > MP_DGRAM_MAX) {
	*errorCodePtr = EMSGSIZE;
	return -1;
    }
    MP_IOV_SET(iov, buf, toWrite);
    for (;;) {
	int err = 0;
	ptrdiff_t n = MpDgramSend(gs->watch.fd, &gs->group, &iov, 1, &err);

	if (n >= 0) {
	    return toWrite;
	}
	if (n == MP_IO_AGAIN && gs->blocking) {
	    if (MpSockWait(gs->watch.fd, MP_EV_WRITE, &err) < 0) {
		*errorCodePtr = MpSockPosixError(err);
		return -1;
	    }
	    continue;
	}
	*errorCodePtr = (n == MP_IO_AGAIN) ? EAGAIN : MpSockPosixError(err);
	return -1;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * GsSetOption, GsGetOption --
 *
 *	-ttl, -loop and -interface (read and set), -group, -port, -peer
 *	(read only).
 *
 *----------------------------------------------------------------------
 */

static int
GsSetOption(
    ClientData instanceData,
    Tcl_Interp *interp,
    const char *optionName,
    const char *value)
{
    Groupsock *gs = (Groupsock *) instanceData;
    int v, err;

    if (strcmp(optionName, "-ttl") == 0) {
	if (Tcl_GetInt(NULL, value, &v) != TCL_OK || v < 0 || v > 255) {
	    return MpError(interp, "GROUPSOCK", "OPTION",
		    "-ttl must be 0 to 255, not \"%.100s\"", value);
	}
	if ((err = MpDgramSetHops(gs->watch.fd, gs->group.family, v)) != 0) {
	    return MpError(interp, "GROUPSOCK", MpSockErrorId(err),
		    "cannot set -ttl: %s", MpSockErrorText(err));
	}
	gs->ttl = v;
	return TCL_OK;
    }
    if (strcmp(optionName, "-loop") == 0) {
	if (Tcl_GetBoolean(NULL, value, &v) != TCL_OK) {
	    return MpError(interp, "GROUPSOCK", "OPTION",
		    "-loop must be a boolean, not \"%.100s\"", value);
	}
	if ((err = MpDgramSetLoop(gs->watch.fd, gs->group.family, v)) != 0) {
	    return MpError(interp, "GROUPSOCK", MpSockErrorId(err),
		    "cannot set -loop: %s", MpSockErrorText(err));
	}
	gs->loop_ = v;
	return TCL_OK;
    }
    if (strcmp(optionName, "-interface") == 0) {
	/*
	 * An address of the interface to receive and send on; empty: the
	 * one the routing table picks.
	 */

	const char *to = (value[0] != '\0') ? value : NULL;
	const char *from = (gs->ifaceObj != NULL
		&& Tcl_GetString(gs->ifaceObj)[0] != '\0')
		? Tcl_GetString(gs->ifaceObj) : NULL;

	err = MpDgramSetInterface(gs->watch.fd, Tcl_GetString(gs->groupObj),
		gs->group.family,
		gs->sourceObj != NULL ? Tcl_GetString(gs->sourceObj) : NULL,
		from, to);
	if (err != 0) {
	    return MpError(interp, "GROUPSOCK", MpSockErrorId(err),
		    "cannot set -interface to \"%.100s\": %s", value,
		    MpSockErrorText(err));
	}
	if (gs->ifaceObj != NULL) {
	    Tcl_DecrRefCount(gs->ifaceObj);
	}
	gs->ifaceObj = Tcl_NewStringObj(value, -1);
	Tcl_IncrRefCount(gs->ifaceObj);
	return TCL_OK;
    }
    if (strcmp(optionName, "-group") == 0
	    || strcmp(optionName, "-port") == 0
	    || strcmp(optionName, "-peer") == 0) {
	return MpError(interp, "GROUPSOCK", "READONLY",
		"%s cannot be changed on an open group socket", optionName);
    }
    return Tcl_BadChannelOption(interp, optionName, "interface loop ttl");
}

static int
GsGetOption(
    ClientData instanceData,
    Tcl_Interp *interp,
    const char *optionName,
    Tcl_DString *dsPtr)
{
    Groupsock *gs = (Groupsock *) instanceData;
    static const char *const names[] = {
	"-group", "-interface", "-loop", "-peer", "-port", "-ttl", NULL
    };
    char text[64];
    int i, all = (optionName == NULL);

    for (i = 0; names[i] != NULL; i++) {
	if (!all && strcmp(optionName, names[i]) != 0) {
	    continue;
	}
	if (all) {
	    Tcl_DStringAppendElement(dsPtr, names[i]);
	}
	switch (i) {
	case 0:
	    Tcl_DStringAppendElement(dsPtr, Tcl_GetString(gs->groupObj));
	    break;
	case 1:
	    Tcl_DStringAppendElement(dsPtr, gs->ifaceObj != NULL
		    ? Tcl_GetString(gs->ifaceObj) : "");
	    break;
	case 2:
	    Tcl_DStringAppendElement(dsPtr, gs->loop_ ? "1" : "0");
	    break;
	case 3:
	    if (all) {
		Tcl_DStringStartSublist(dsPtr);
	    }
	    if (gs->havePeer) {
		Tcl_DStringAppendElement(dsPtr, gs->peer.host);
		snprintf(text, sizeof(text), "%d", gs->peer.port);
		Tcl_DStringAppendElement(dsPtr, text);
	    }
	    if (all) {
		Tcl_DStringEndSublist(dsPtr);
	    }
	    break;
	case 4:
	    snprintf(text, sizeof(text), "%d", gs->group.port);
	    Tcl_DStringAppendElement(dsPtr, text);
	    break;
	case 5:
	    snprintf(text, sizeof(text), "%d", gs->ttl);
	    Tcl_DStringAppendElement(dsPtr, text);
	    break;
	}
	if (!all) {
	    return TCL_OK;
	}
    }
    if (all) {
	return TCL_OK;
    }
    return Tcl_BadChannelOption(interp, optionName,
	    "group interface loop peer port ttl");
}

/*
 *----------------------------------------------------------------------
 *
 * GsWatch, GsArm, GsReady, GsNotify --
 *
 *	fileevent: the poller watches the socket for input while Tcl wants
 *	readable events and none is pending; a timer tells Tcl (readable
 *	when the poller said so, writable at once: a datagram socket takes
 *	a datagram unless the system is out of buffers).
 *
 *----------------------------------------------------------------------
 */

static void
GsWatch(
    ClientData instanceData,
    int mask)
{
    Groupsock *gs = (Groupsock *) instanceData;

    gs->interest = mask & (TCL_READABLE | TCL_WRITABLE);
    GsArm(gs);
}

static void
GsArm(
    Groupsock *gs)
{
    int wantPoll = (gs->interest & TCL_READABLE) && !gs->readable;
    int now = (gs->interest & TCL_WRITABLE)
	    || ((gs->interest & TCL_READABLE) && gs->readable);

    if (wantPoll && gs->watch.mask != MP_EV_READ) {
	(void) MpLoopWatch(gs->loop, &gs->watch, MP_EV_READ);
    } else if (!wantPoll && gs->watch.registered) {
	MpLoopUnwatch(gs->loop, &gs->watch);
    }
    if (now && gs->timer == NULL) {
	gs->timer = Tcl_CreateTimerHandler(0, GsNotify, gs);
    } else if (!now && gs->timer != NULL) {
	Tcl_DeleteTimerHandler(gs->timer);
	gs->timer = NULL;
    }
}

static void
GsReady(
    void *clientData,
    int mask)
{
    Groupsock *gs = (Groupsock *) clientData;

    (void) mask;
    gs->readable = 1;
    GsArm(gs);
}

static void
GsNotify(
    ClientData clientData)
{
    Groupsock *gs = (Groupsock *) clientData;
    int mask = gs->interest & TCL_WRITABLE;

    gs->timer = NULL;
    if ((gs->interest & TCL_READABLE) && gs->readable) {
	mask |= TCL_READABLE;
	gs->boundary = 0;	/* A new read begins. */
    }
    if (mask) {
	Tcl_NotifyChannel(gs->chan, mask);
    }
}

static int
GsGetHandle(
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
GsBlockMode(
    ClientData instanceData,
    int mode)
{
    ((Groupsock *) instanceData)->blocking = (mode == TCL_MODE_BLOCKING);
    return 0;
}
