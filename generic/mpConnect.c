/*
 * mpConnect.c --
 *
 *	${mp}::Connect: outbound links. The new connection joins the instance
 *	as a client (its input is filtered and broadcast; broadcasts reach
 *	it), so two multiplexers can be linked or a server fed from upstream.
 */

#include "mpInt.h"

#define MP_CONNECT_DEFAULT_TIMEOUT 10000

static void		ConnectTimeout(ClientData clientData);
static void		ConnectCallback(MpClient *c, int ok, Tcl_Obj *msgObj);

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
    MpIdleTouch(c);
    MpIdleReschedule(mp);
    return MpLoopWatch(mp->loop, &c->watch, MP_EV_READ);
}

/*
 *----------------------------------------------------------------------
 *
 * MpConnectObjCmd --
 *
 *	${mp}::Connect host port ?-timeout ms? ?-command cmdprefix?
 *	Without -command, waits (without serving events, like Tcl's own
 *	socket command) at most -timeout ms for the connection. With
 *	-command, returns at once; later "cmdprefix chan ok" or
 *	"cmdprefix chan error message" is called.
 *
 * Results:
 *	The new client's channel name, or an error
 *	{MULTIPLEXER CONNECT <ERRNO>} (ETIMEDOUT after the timeout).
 *
 * Side effects:
 *	Opens a socket.
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
    static const char *const options[] = {"-timeout", "-command", NULL};
    MpInstance *mp = (MpInstance *) clientData;
    Tcl_Obj *command = NULL;
    int port, timeout = MP_CONNECT_DEFAULT_TIMEOUT, i, idx, err = 0;
    int inProgress = 0;
    const char *host;
    MpSocket fd;
    MpAddr peer;
    MpClient *c;

    if (objc < 3 || (objc % 2) == 0) {
	return MpWrongArgs(interp, 1, objv,
		"host port ?-timeout ms? ?-command cmdprefix?");
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
	if (idx == 0) {
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

    memset(&peer, 0, sizeof(peer));
    if (MpSockConnect(host, port, &fd, &inProgress, &peer, &err) != 0) {
	return MpError(interp, "CONNECT", MpSockErrorId(err),
		"couldn't connect to %s port %d: %s", host, port,
		MpSockErrorText(err));
    }
    if (inProgress && command == NULL) {
	/*
	 * Synchronous: wait on a private poller for this socket alone.
	 */

	MpPoller *p = MpPollerCreate(&err);
	MpFired fired[1];
	int n = 0;
	Tcl_WideInt deadline = MpNowMs() + timeout, left;

	if (p == NULL) {
	    MpSockClose(fd);
	    return MpError(interp, "POLLER", MpSockErrorId(err),
		    "cannot create poller: %s", MpSockErrorText(err));
	}
	(void) MpPollerSet(p, fd, 0, MP_EV_WRITE);
	while ((left = deadline - MpNowMs()) > 0) {
	    n = MpPollerWait(p, fired, 1, (int) left);
	    if (n != 0) {
		break;
	    }
	}
	(void) MpPollerSet(p, fd, MP_EV_WRITE, 0);
	MpPollerFree(p);
	if (n <= 0) {
	    MpSockClose(fd);
	    return MpError(interp, "CONNECT", "ETIMEDOUT",
		    "couldn't connect to %s port %d: timed out after %d ms",
		    host, port, timeout);
	}
	err = MpSockConnectResult(fd);
	if (err != 0) {
	    MpSockClose(fd);
	    return MpError(interp, "CONNECT", MpSockErrorId(err),
		    "couldn't connect to %s port %d: %s", host, port,
		    MpSockErrorText(err));
	}
	inProgress = 0;
    }

    c = MpClientNew(mp, fd, &peer);
    c->outbound = 1;
    Tcl_SetObjResult(interp, MpClientName(c));
    if (!inProgress) {
	err = Established(c);
	if (err != 0) {
	    MpClientClose(c, MP_REASON_ERROR, NULL);
	    return MpError(interp, "POLLER", MpSockErrorId(err),
		    "cannot watch connection: %s", MpSockErrorText(err));
	}
	if (command != NULL) {
	    c->connectCallback = command;
	    Tcl_IncrRefCount(command);
	    c->connectTimer = Tcl_CreateTimerHandler(0, ConnectTimeout, c);
	}
	return TCL_OK;
    }
    c->state = MP_CLIENT_CONNECTING;
    c->connectCallback = command;
    Tcl_IncrRefCount(command);
    (void) MpLoopWatch(mp->loop, &c->watch, MP_EV_WRITE);
    c->connectTimer = Tcl_CreateTimerHandler(timeout, ConnectTimeout, c);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpConnectFinish --
 *
 *	An asynchronous connect's socket became ready: report success or
 *	failure to the -command callback.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Opens or closes the client; runs the callback.
 *
 *----------------------------------------------------------------------
 */

void
MpConnectFinish(
    MpClient *c)
{
    int err = MpSockConnectResult(c->watch.fd);

    if (c->connectTimer != NULL) {
	Tcl_DeleteTimerHandler(c->connectTimer);
	c->connectTimer = NULL;
    }
    if (err == 0) {
	err = Established(c);
    }
    if (err != 0) {
	c->errCode = err;
	ConnectCallback(c, 0, Tcl_NewStringObj(MpSockErrorText(err), -1));
	MpClientClose(c, MP_REASON_CONNECTFAILED, NULL);
	return;
    }
    ConnectCallback(c, 1, NULL);
}

/*
 *----------------------------------------------------------------------
 *
 * ConnectTimeout --
 *
 *	Timer: an asynchronous connect took too long (or, with delay 0,
 *	reports a connect that completed at once).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the client or runs the callback.
 *
 *----------------------------------------------------------------------
 */

static void
ConnectTimeout(
    ClientData clientData)
{
    MpClient *c = (MpClient *) clientData;

    c->connectTimer = NULL;
    MpClientRef(c);
    if (c->state == MP_CLIENT_CONNECTING) {
	ConnectCallback(c, 0, Tcl_NewStringObj("connection timed out", -1));
	MpClientClose(c, MP_REASON_CONNECTFAILED,
		Tcl_NewStringObj("timed out", -1));
    } else if (c->state == MP_CLIENT_OPEN) {
	ConnectCallback(c, 1, NULL);
    }
    MpClientUnref(c);
}

/*
 *----------------------------------------------------------------------
 *
 * ConnectCallback --
 *
 *	Calls the -command prefix once with "chan ok" or
 *	"chan error message". Errors in it are logged.
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
    int ok,
    Tcl_Obj *msgObj)
{
    MpInstance *mp = c->mp;
    Tcl_Obj *cmd = c->connectCallback;
    Tcl_Interp *interp = mp->interp;
    int code;

    if (cmd == NULL || Tcl_InterpDeleted(interp)) {
	if (msgObj != NULL) {
	    Tcl_IncrRefCount(msgObj);
	    Tcl_DecrRefCount(msgObj);
	}
	return;
    }
    c->connectCallback = NULL;	/* Called once; we own its reference. */
    {
	Tcl_Obj *orig = cmd;

	cmd = Tcl_DuplicateObj(orig);
	Tcl_IncrRefCount(cmd);
	Tcl_DecrRefCount(orig);
    }
    Tcl_ListObjAppendElement(NULL, cmd, MpClientName(c));
    Tcl_ListObjAppendElement(NULL, cmd, Tcl_NewStringObj(ok ? "ok" : "error",
	    -1));
    if (msgObj != NULL) {
	Tcl_ListObjAppendElement(NULL, cmd, msgObj);
    }
    MpInstanceRef(mp);
    MpLoopNoteScript(mp->loop);
    code = Tcl_EvalObjEx(interp, cmd, TCL_EVAL_GLOBAL);
    if (code == TCL_ERROR) {
	MpLogObj(mp, MP_LOG_ERROR, Tcl_ObjPrintf(
		"Connect callback failed: %s",
		Tcl_GetString(Tcl_GetObjResult(interp))));
    }
    Tcl_ResetResult(interp);
    Tcl_DecrRefCount(cmd);
    MpInstanceUnref(mp);
}
