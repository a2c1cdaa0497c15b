/*
 * mpCmdSend.c --
 *
 *	Instance commands that send and inspect: MultiPlex (tcllib 0.2),
 *	Broadcast, Send, Clients, Kick, Reason, Stats.
 */

#include "mpInt.h"
#include "mpTls.h"

static Tcl_ObjCmdProc MultiPlexObjCmd;
static Tcl_ObjCmdProc BroadcastObjCmd;
static Tcl_ObjCmdProc SendObjCmd;
static Tcl_ObjCmdProc ClientsObjCmd;
static Tcl_ObjCmdProc KickObjCmd;
static Tcl_ObjCmdProc ReasonObjCmd;
static Tcl_ObjCmdProc StatsObjCmd;
static Tcl_ObjCmdProc PeerObjCmd;

/*
 *----------------------------------------------------------------------
 *
 * MpCmdRegisterSend --
 *
 *	Creates this file's commands in the instance namespace.
 *
 * Results:
 *	TCL_OK.
 *
 * Side effects:
 *	Creates commands.
 *
 *----------------------------------------------------------------------
 */

int
MpCmdRegisterSend(
    MpInstance *mp,
    const char *prefix)
{
    static const struct {
	const char *name;
	Tcl_ObjCmdProc *proc;
    } cmds[] = {
	{"MultiPlex", MultiPlexObjCmd},
	{"Broadcast", BroadcastObjCmd},
	{"Send", SendObjCmd},
	{"Clients", ClientsObjCmd},
	{"Kick", KickObjCmd},
	{"Reason", ReasonObjCmd},
	{"Stats", StatsObjCmd},
	{"Peer", PeerObjCmd},
	{NULL, NULL}
    };
    int i;

    for (i = 0; cmds[i].name != NULL; i++) {
	MpCmdCreate(mp, prefix, cmds[i].name, cmds[i].proc);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpGetBytes --
 *
 *	The bytes of a data argument or filter result (characters above \xFF
 *	are an error, not silently truncated). interp may be NULL.
 *
 * Results:
 *	The bytes (valid while objPtr is), or NULL with an error in interp.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

const char *
MpGetBytes(
    Tcl_Interp *interp,
    Tcl_Obj *objPtr,
    size_t *lenPtr)
{
#if TCL_MAJOR_VERSION >= 9
    Tcl_Size len;
    const unsigned char *bytes = Tcl_GetBytesFromObj(interp, objPtr, &len);

    if (bytes == NULL) {
	if (interp != NULL) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "BINARY", NULL);
	}
	return NULL;
    }
    *lenPtr = (size_t) len;
    return (const char *) bytes;
#else
    Tcl_Size len, i;
    const char *s;

    if (objPtr->typePtr != NULL && objPtr->bytes == NULL
	    && strcmp(objPtr->typePtr->name, "bytearray") == 0) {
	/* A pure byte array (data read from a socket, binary format). */
	const unsigned char *bytes = Tcl_GetByteArrayFromObj(objPtr, &len);

	*lenPtr = (size_t) len;
	return (const char *) bytes;
    }

    /*
     * Pure ASCII strings are their own bytes; anything else goes through
     * the byte-array conversion, which must not lose characters.
     */

    s = Tcl_GetStringFromObj(objPtr, &len);
    for (i = 0; i < len; i++) {
	if ((unsigned char) s[i] >= 0x80) {
	    break;
	}
    }
    if (i == len) {
	*lenPtr = (size_t) len;
	return s;
    }
    len = Tcl_GetCharLength(objPtr);
    for (i = 0; i < len; i++) {
	if (Tcl_GetUniChar(objPtr, i) > 0xFF) {
	    MpError(interp, "VALUE", "BINARY",
		    "data contains a character above \\xFF at index %ld: "
		    "convert it with \"encoding convertto\" first", (long) i);
	    return NULL;
	}
    }
    s = (const char *) Tcl_GetByteArrayFromObj(objPtr, &len);
    *lenPtr = (size_t) len;
    return s;
#endif
}

/*
 *----------------------------------------------------------------------
 *
 * MultiPlexObjCmd --
 *
 *	${mp}::MultiPlex data ?chan?: tcllib's broadcast: to every client
 *	except chan (unless sendtoorigin is set). An unknown chan excludes
 *	nobody, as in tcllib.
 *
 * Results:
 *	Empty, or an error.
 *
 * Side effects:
 *	Queues output and writes it.
 *
 *----------------------------------------------------------------------
 */

static int
MultiPlexObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *exclude = NULL;
    const char *data;
    size_t len;

    if (objc != 2 && objc != 3) {
	return MpWrongArgs(interp, 1, objv, "data ?chan?");
    }
    if (mp->destroyed) {
	/*
	 * tcllib ran no exit filters at destroy; 0.2 exit filters that
	 * broadcast a farewell must not fail now that they run: no-op.
	 */
	return TCL_OK;
    }
    data = MpGetBytes(interp, objv[1], &len);
    if (data == NULL) {
	return TCL_ERROR;
    }
    if (objc == 3 && !mp->config.sendToOrigin) {
	exclude = MpLookupClient(NULL, mp, objv[2]);
    }
    MpFanout(mp, exclude, data, len, exclude, NULL);
    MpLoopFlushIfIdle(mp->loop);
    Tcl_ResetResult(interp);	/* 0.2 returned nothing, whatever chan is. */
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * BroadcastObjCmd --
 *
 *	${mp}::Broadcast data ?-exclude chan? ?-group name?
 *
 * Results:
 *	The number of clients the message was queued for.
 *
 * Side effects:
 *	Queues output and writes it.
 *
 *----------------------------------------------------------------------
 */

static int
BroadcastObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {"-exclude", "-group", NULL};
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *exclude = NULL;
    MpGroup *group = NULL;
    const char *data, *groupName = NULL;
    size_t len;
    int i, idx, sent;

    if (objc < 2 || (objc % 2) != 0) {
	return MpWrongArgs(interp, 1, objv,
		"data ?-exclude chan? ?-group name?");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    data = MpGetBytes(interp, objv[1], &len);
    if (data == NULL) {
	return TCL_ERROR;
    }
    for (i = 2; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(interp, objv[i], options, "option", 0, &idx)
		!= TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "OPTION",
		    Tcl_GetString(objv[i]), NULL);
	    return TCL_ERROR;
	}
	if (idx == 0) {
	    exclude = MpLookupClient(interp, mp, objv[i + 1]);
	    if (exclude == NULL) {
		return TCL_ERROR;
	    }
	} else {
	    groupName = Tcl_GetString(objv[i + 1]);
	    group = MpGroupFind(mp, groupName);
	}
    }
    if (groupName != NULL && group == NULL) {
	/*
	 * An empty or unknown group reaches nobody here; its members on
	 * other nodes (cluster, multicast) get it.
	 */

	MpPublishToGroup(mp, data, len, groupName);
	Tcl_SetObjResult(interp, Tcl_NewIntObj(0));
	return TCL_OK;
    }
    sent = MpFanout(mp, NULL, data, len, exclude, group);
    MpLoopFlushIfIdle(mp->loop);
    Tcl_SetObjResult(interp, Tcl_NewIntObj(sent));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * SendObjCmd --
 *
 *	${mp}::Send chan data: one message (framed) to one client.
 *
 * Results:
 *	1 if queued, 0 if dropped (full queue under "overflow drop", or the
 *	client is being disconnected); an error for an unknown client.
 *
 * Side effects:
 *	Queues output and writes it.
 *
 *----------------------------------------------------------------------
 */

static int
SendObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *c;
    MpBuf *buf;
    const char *data;
    size_t len;
    int ok;

    if (objc != 3) {
	return MpWrongArgs(interp, 1, objv, "chan data");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    c = MpLookupClient(interp, mp, objv[1]);
    if (c == NULL) {
	return TCL_ERROR;
    }
    data = MpGetBytes(interp, objv[2], &len);
    if (data == NULL) {
	return TCL_ERROR;
    }
    buf = MpEncodeFor(c, data, len);
    if (buf == NULL) {
	return MpError(interp, "NOMEM", NULL,
		"out of memory queueing %lu bytes", (unsigned long) len);
    }
    ok = (c->state == MP_CLIENT_OPEN && c->admitted)
	    ? (MpEnqueue(c, buf) == 0)
	    : (MpEnqueueRaw(c, buf->data, buf->len, 0) == 0);
    MpBufUnref(buf);
    MpLoopFlushIfIdle(mp->loop);
    Tcl_SetObjResult(interp, Tcl_NewBooleanObj(ok));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ClientsObjCmd --
 *
 *	${mp}::Clients: every admitted client as {chan address port}.
 *
 * Results:
 *	A list of triples, oldest activity first.
 *
 * Side effects:
 *	Creates the channels of clients that had none yet.
 *
 *----------------------------------------------------------------------
 */

static int
ClientsObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    Tcl_Obj *result, *triple[3];
    MpClient *c;

    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    result = Tcl_NewListObj(0, NULL);
    for (c = mp->first; c != NULL; c = c->next) {
	if (!c->admitted || c->state != MP_CLIENT_OPEN) {
	    continue;
	}
	triple[0] = MpClientName(c);
	triple[1] = MpClientAddrObj(c);
	triple[2] = MpClientPortObj(c);
	Tcl_ListObjAppendElement(NULL, result, Tcl_NewListObj(3, triple));
    }
    Tcl_SetObjResult(interp, result);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * PeerObjCmd --
 *
 *	${mp}::Peer chan: what is known of a client's connection, for
 *	access filters and others that authenticate or log it.
 *
 * Results:
 *	A dict: address, port, protocol (tcp or websocket), outbound (1 for
 *	a link made by Connect); a WebSocket client adds request (its
 *	request line), path, query, headers (lower-case names), subprotocol
 *	(the one chosen, or empty) and origin; tls is a dict of what the
 *	TLS handshake settled (MpTlsPeerInfo), empty without TLS.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
PeerObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *c;
    Tcl_Obj *dict;

    if (objc != 2) {
	return MpWrongArgs(interp, 1, objv, "chan");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    c = MpLookupClient(interp, mp, objv[1]);
    if (c == NULL) {
	return TCL_ERROR;
    }
    dict = (c->ws != NULL) ? MpWsPeerInfo(c) : Tcl_NewDictObj();
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("address", -1),
	    MpClientAddrObj(c));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("port", -1),
	    MpClientPortObj(c));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("protocol", -1),
	    Tcl_NewStringObj(c->ws != NULL ? "websocket" : "tcp",
	    -1));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("outbound", -1),
	    Tcl_NewBooleanObj(c->outbound));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("tls", -1),
	    MpTlsPeerInfo(&c->conn));
    Tcl_SetObjResult(interp, dict);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * KickObjCmd --
 *
 *	${mp}::Kick chan ?reason?: writes what is queued for the client (as
 *	far as its socket takes it now) and disconnects it; exit filters see
 *	the reason "kicked ?reason?".
 *
 * Results:
 *	Empty, or an error for an unknown client.
 *
 * Side effects:
 *	Closes the client; runs exit filters.
 *
 *----------------------------------------------------------------------
 */

static int
KickObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *c;

    if (objc != 2 && objc != 3) {
	return MpWrongArgs(interp, 1, objv, "chan ?reason?");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    c = MpLookupClient(interp, mp, objv[1]);
    if (c == NULL) {
	return TCL_ERROR;
    }
    MpInstanceRef(mp);
    MpClientRef(c);
    MpClientFlush(c);
    MpClientClose(c, MP_REASON_KICKED, objc == 3 ? objv[2] : NULL);
    MpClientUnref(c);
    MpInstanceUnref(mp);
    Tcl_ResetResult(interp);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * ReasonObjCmd --
 *
 *	${mp}::Reason chan: why the client is going away (eof, error, reset,
 *	closed, kicked, timeout, overflow, toobig, destroy, possibly followed
 *	by detail), meaningful inside exit filters; empty while connected.
 *
 * Results:
 *	The reason text, or an error for an unknown client.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
ReasonObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *c;

    if (objc != 2) {
	return MpWrongArgs(interp, 1, objv, "chan");
    }
    c = MpLookupClient(interp, mp, objv[1]);
    if (c == NULL) {
	return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, MpClientReasonObj(c));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * StatsObjCmd --
 *
 *	${mp}::Stats: the instance's counters as a dict.
 *
 * Results:
 *	A dict.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
StatsObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpStats *s = &mp->stats;
    Tcl_Obj *dict;
    MpClient *c;
    size_t queued = 0;
    int ktls = 0;

    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    for (c = mp->first; c != NULL; c = c->next) {
	queued += c->out.bytes;
	if (mp->tlsAdmitted > 0 && c->admitted) {
	    ktls += MpTlsKernelSend(&c->conn);
	}
    }
    dict = Tcl_NewDictObj();
#define PUT(key, val) Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj(key, -1), \
	Tcl_NewWideIntObj((Tcl_WideInt) (val)))
    PUT("clients", mp->clientCount);
    PUT("accepted", s->accepted);
    PUT("refused", s->refused);
    PUT("disconnected", s->disconnected);
    PUT("messages_in", s->messagesIn);
    PUT("bytes_in", s->bytesIn);
    PUT("messages_out", s->messagesOut);
    PUT("bytes_out", s->bytesOut);
    PUT("drops", s->drops);
    PUT("filter_drops", s->filterDrops);
    PUT("overflows", s->overflows);
    PUT("toobig", s->tooBig);
    PUT("timeouts", s->timeouts);
    PUT("accept_errors", s->acceptErrors);
    PUT("queued_bytes", queued);
    PUT("queue_highwater", s->queueHighWater);
    PUT("lingering", s->lingering);
    PUT("log_dropped", s->logDropped);
    PUT("websocket_clients", mp->wsAdmitted);
    PUT("http_requests", s->httpRequests);
    PUT("handshake_failures", s->handshakeFailures);
    PUT("ws_protocol_errors", s->wsProtocolErrors);
    PUT("ping_timeouts", s->pingTimeouts);
    PUT("tls_clients", mp->tlsAdmitted);
    PUT("ktls_clients", ktls);
    PUT("tls_handshakes", s->tlsHandshakes);
    PUT("tls_handshake_failures", s->tlsHandshakeFailures);
#undef PUT
    Tcl_SetObjResult(interp, dict);
    return TCL_OK;
}
