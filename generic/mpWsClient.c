/*
 * mpWsClient.c --
 *
 *	WebSocket members (RFC 6455). A connection accepted by a WebSocket
 *	listener first sends an HTTP request head (bounded, within Config
 *	handshaketimeout): an upgrade is checked (path, origin, version,
 *	key), answered with 101 and the client then goes through the access
 *	filters like any other; a plain GET or HEAD goes to the listener's
 *	-httpcommand and is answered and closed. Once open, the client's
 *	frames are parsed (mpWsFrame.c): each data message is one message
 *	through the filters, pings are answered, a close is answered and
 *	ends the connection, and a protocol error closes it with the code
 *	the RFC asks for. Messages sent to the client are one frame each
 *	(the codec mpWsCodec; the fan-out shares one encoding among all WebSocket
 *	recipients). An orderly disconnect (Kick, close, idle timeout,
 *	destroy) sends a close frame after what is queued. Silent clients
 *	are pinged (Config pinginterval) and closed when they do not answer.
 *
 *	Script callbacks (-httpcommand, the filters) are called from the
 *	client's read handler with references held on the client and the
 *	instance (MpClientReadable), and the client's state is checked
 *	again after each.
 */

#include "mpWs.h"
#include "mpWsFrame.h"
#include "mpHttp.h"

/*
 * Phases of a WebSocket client.
 */

enum {
    WS_HANDSHAKE,		/* Receiving the request head. */
    WS_OPEN,			/* 101 sent: frames both ways. */
    WS_HTTP			/* A plain HTTP request: answered, then
				 * closed. */
};

struct MpWsClient {
    int phase;
    MpWsOptions *opts;		/* The listener's options, held until the
				 * handshake ends. */
    MpHttpIn *http;		/* The request head, until then (malloc),
				 * or NULL. */
    MpWsIn in;			/* Frame parser. */
    char *peerText;		/* What ${mp}::Peer adds for it (request,
				 * path, query, headers ...): the string
				 * form of a dict, which costs an idle
				 * client far less memory than the dict
				 * (malloc), or NULL. */
    Tcl_TimerToken handshakeTimer; /* Holds a client reference. */
    int closeSent;		/* A close frame is queued. */
    Tcl_WideInt lastHeard;	/* MpNowMs() of its last input. */
    Tcl_WideInt pingSent;	/* When the unanswered ping went, or 0. */
};

/*
 * Largest HTTP answer to a refused handshake (MpHttpBuildError) and the
 * 101 (MpHttpBuild101).
 */

#define WS_ANSWER_MAX 1024

static void		HandshakeTimeout(ClientData clientData);
static void		CancelHandshakeTimer(MpClient *c);
static void		HandleRequest(MpClient *c);
static void		HandleHttp(MpClient *c, const MpHttpRequest *r);
static int		SendHttpAnswer(MpClient *c, int head,
			    Tcl_Obj *answerObj);
static void		Refuse(MpClient *c, int status, const char *extra,
			    const char *why);
static void		EndHandshake(MpClient *c, int phase);
static void		FreeHttp(MpWsClient *ws);
static Tcl_Obj *	HeadersDict(const MpHttpRequest *r);
static int		OriginAllowed(const MpWsOptions *o,
			    const char *origin);

/*
 * ASCII letters in lower case, other bytes as they are.
 */

#define LOWER(ch) \
    ((ch) >= 'A' && (ch) <= 'Z' ? (ch) - 'A' + 'a' : (ch))
static const char *	ChooseSubprotocol(const MpWsOptions *o,
			    const MpHttpRequest *r);
static void		FeedFrames(MpClient *c, const char *data,
			    size_t len);

/*
 * What the frame parser's callback works with: the client, and the batch
 * its messages are gathered in (or NULL: one by one).
 */

typedef struct Frames {
    MpClient *c;
    MpBatch *batch;
} Frames;

static int		EmitFrame(void *ctx, int opcode, const char *payload,
			    size_t len);
static void		PeerClosed(MpClient *c, const char *payload,
			    size_t len);
static int		QueueControl(MpClient *c, int opcode,
			    const char *payload, size_t len, int force);
static void		PingTimerProc(ClientData clientData);
static void		WsInput(MpClient *c, const char *data, size_t len);
static size_t		WsFrame(MpInstance *mp, const char *data,
			    size_t len, int text, char *hdr,
			    const char **sufPtr, size_t *sufLenPtr);

/*
 * The WebSocket codec: one frame per message out; frames in.
 */

const MpCodecType mpWsCodec = {
    "websocket",
    WsInput,
    WsFrame,
    1,				/* Channel writes are cut into messages. */
    0,				/* Input is frames: not readable. */
    MP_READ_MAX			/* A sender's burst of small frames is
				 * larger than the same messages on TCP:
				 * one read takes it whole. */
};

/*
 *----------------------------------------------------------------------
 *
 * MpWsClientStart --
 *
 *	Makes a client accepted by a WebSocket listener wait for its request
 *	head: it is watched for input, not yet admitted, and closed if the
 *	head has not arrived within Config handshaketimeout.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Allocates the client's WebSocket state; starts a timer; may close
 *	the client (it cannot be watched).
 *
 *----------------------------------------------------------------------
 */

void
MpWsClientStart(
    MpClient *c,
    MpWsOptions *opts)
{
    MpInstance *mp = c->mp;
    MpWsClient *ws = (MpWsClient *) MpAlloc(sizeof(MpWsClient));
    int err;

    memset(ws, 0, sizeof(MpWsClient));
    ws->phase = WS_HANDSHAKE;
    ws->opts = opts;
    MpWsOptionsRef(opts);
    ws->http = (MpHttpIn *) MpAlloc(sizeof(MpHttpIn));
    MpHttpInit(ws->http);
    ws->lastHeard = MpNowMs();
    c->ws = ws;
    c->codec = MP_CODEC_WS;
    if (mp->config.handshakeTimeout > 0) {
	MpClientRef(c);
	ws->handshakeTimer = Tcl_CreateTimerHandler(
		(int) mp->config.handshakeTimeout, HandshakeTimeout, c);
    }
    err = MpLoopWatch(mp->loop, &c->conn.watch,
	    MpConnWant(&c->conn, MP_EV_READ));
    if (err != 0) {
	MpLog(mp, MP_LOG_ERROR, "cannot watch client %s: %s", c->peer.host,
		MpSockErrorText(err));
	MpClientClose(c, MP_REASON_ERROR, NULL);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * HandshakeTimeout, CancelHandshakeTimer --
 *
 *	The handshake timer: a client whose request head has not arrived
 *	in time is answered 408 and closed. The timer holds a reference on
 *	the client, dropped when it fires or is cancelled.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May close the client (no exit filters: it was never admitted).
 *
 *----------------------------------------------------------------------
 */

static void
HandshakeTimeout(
    ClientData clientData)
{
    MpClient *c = (MpClient *) clientData;
    MpInstance *mp = c->mp;

    MpInstanceRef(mp);
    if (c->ws != NULL) {
	c->ws->handshakeTimer = NULL;
	if (c->state == MP_CLIENT_OPEN && c->ws->phase == WS_HANDSHAKE
		&& !mp->destroyed) {
	    Refuse(c, 408, NULL, "handshake timeout");
	    MpLoopFlushSoon(mp->loop);
	}
    }
    MpClientUnref(c);
    MpInstanceUnref(mp);
}

static void
CancelHandshakeTimer(
    MpClient *c)
{
    if (c->ws->handshakeTimer != NULL) {
	Tcl_DeleteTimerHandler(c->ws->handshakeTimer);
	c->ws->handshakeTimer = NULL;
	MpClientUnref(c);	/* Never the last: the caller holds one. */
    }
}

/*
 *----------------------------------------------------------------------
 *
 * WsInput --
 *
 *	Handles bytes read from a WebSocket client: the request head while
 *	handshaking (what follows it in the same read is frames), frames
 *	afterwards: the WebSocket codec's input (mpCodec.h). Called by
 *	MpClientReadable, which holds references on the client and the
 *	instance.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Answers the handshake; runs -httpcommand, access and data filters;
 *	fans messages out; may close the client.
 *
 *----------------------------------------------------------------------
 */

static void
WsInput(
    MpClient *c,
    const char *data,
    size_t len)
{
    MpWsClient *ws = c->ws;

    ws->lastHeard = MpNowMs();
    ws->pingSent = 0;
    if (ws->phase == WS_HTTP) {
	return;			/* Answered and closing: the rest is not
				 * read (one request per connection). */
    }
    if (ws->phase == WS_HANDSHAKE) {
	size_t used = 0;
	int rc = MpHttpFeed(ws->http, data, len, MP_HTTP_DEFAULT_HEAD,
		&used);

	if (rc == MP_HTTP_INCOMPLETE) {
	    return;
	}
	if (rc == MP_HTTP_ERROR) {
	    Refuse(c, ws->http->status, NULL, "malformed request head");
	    return;
	}
	HandleRequest(c);
	if (c->state != MP_CLIENT_OPEN || c->mp->destroyed
		|| ws->phase != WS_OPEN || used >= len) {
	    return;
	}
	data += used;
	len -= used;
    }
    FeedFrames(c, data, len);
}

/*
 *----------------------------------------------------------------------
 *
 * Refuse --
 *
 *	Answers a request with an HTTP error and closes the connection once
 *	the answer is written (the linger delivers it).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues the answer; counts a handshake failure; logs; closes the
 *	client (not admitted: no exit filters).
 *
 *----------------------------------------------------------------------
 */

static void
Refuse(
    MpClient *c,
    int status,
    const char *extra,		/* Field lines to add, or NULL. */
    const char *why)
{
    MpInstance *mp = c->mp;
    char buf[WS_ANSWER_MAX];
    size_t n = MpHttpBuildError(buf, sizeof(buf), status, extra);

    if (n > 0 && n < sizeof(buf)) {
	(void) MpEnqueueRaw(c, buf, n, 0);
    }
    mp->stats.handshakeFailures++;
    MpLog(mp, MP_LOG_INFO, "websocket handshake from %s port %d refused "
	    "(%d): %s", c->peer.host, c->peer.port, status, why);
    MpClientClose(c, MP_REASON_CLOSED, NULL);
}

/*
 *----------------------------------------------------------------------
 *
 * HandleRequest --
 *
 *	Decides what a complete request head gets: a plain request goes to
 *	HandleHttp; an upgrade is checked (RFC 6455 section 4.2.1, then the
 *	listener's -path and -origins), answered with 101 (with the first
 *	of the listener's -subprotocols the client also offers), and the
 *	client goes through the access filters.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues the answer; runs Tcl code; may close the client.
 *
 *----------------------------------------------------------------------
 */

static void
HandleRequest(
    MpClient *c)
{
    MpWsClient *ws = c->ws;
    MpWsOptions *o = ws->opts;
    const MpHttpRequest *r = &ws->http->req;
    const char *key, *origin, *sub;
    char accept[29], buf[WS_ANSWER_MAX];
    int isUpgrade, status;
    size_t n;
    Tcl_Obj *peerObj;

    status = MpWsUpgradeCheck(r, &isUpgrade);
    if (!isUpgrade) {
	HandleHttp(c, r);
	return;
    }
    if (status != 0) {
	Refuse(c, status, NULL, "invalid upgrade request");
	return;
    }
    if (o->pathObj != NULL && strcmp(r->path, Tcl_GetString(o->pathObj))
	    != 0) {
	Refuse(c, 404, NULL, "no WebSocket at this path");
	return;
    }
    origin = MpHttpHeader(r, "Origin");
    if (origin != NULL && !OriginAllowed(o, origin)) {
	Refuse(c, 403, NULL, "origin not allowed");
	return;
    }
    key = MpHttpHeader(r, "Sec-WebSocket-Key");
    if (MpWsAccept(key, strlen(key), accept) != 0) {
	Refuse(c, 500, NULL, "cannot compute Sec-WebSocket-Accept");
	return;
    }
    sub = ChooseSubprotocol(o, r);
    n = MpHttpBuild101(buf, sizeof(buf), accept, sub);
    if (n == 0 || n >= sizeof(buf)) {
	Refuse(c, 500, NULL, "cannot build the 101 answer");
	return;
    }

    /*
     * What Peer reports: the request as the client made it.
     */

    peerObj = Tcl_NewDictObj();
    Tcl_DictObjPut(NULL, peerObj, Tcl_NewStringObj("request", -1),
	    Tcl_ObjPrintf("%s %s HTTP/1.%d", r->method, r->target,
	    r->versionMinor));
    Tcl_DictObjPut(NULL, peerObj, Tcl_NewStringObj("path", -1),
	    Tcl_NewStringObj(r->path, -1));
    Tcl_DictObjPut(NULL, peerObj, Tcl_NewStringObj("query", -1),
	    Tcl_NewStringObj(r->query ? r->query : "", -1));
    Tcl_DictObjPut(NULL, peerObj, Tcl_NewStringObj("headers", -1),
	    HeadersDict(r));
    Tcl_DictObjPut(NULL, peerObj, Tcl_NewStringObj("subprotocol", -1),
	    Tcl_NewStringObj(sub ? sub : "", -1));
    Tcl_DictObjPut(NULL, peerObj, Tcl_NewStringObj("origin", -1),
	    Tcl_NewStringObj(origin ? origin : "", -1));
    {
	Tcl_Size textLen;
	const char *text = Tcl_GetStringFromObj(peerObj, &textLen);

	ws->peerText = (char *) MpAlloc((size_t) textLen + 1);
	memcpy(ws->peerText, text, (size_t) textLen + 1);
	Tcl_IncrRefCount(peerObj);
	Tcl_DecrRefCount(peerObj);
    }

    if (MpEnqueueRaw(c, buf, n, 0) != 0) {
	MpClientClose(c, MP_REASON_ERROR,
		Tcl_NewStringObj("cannot queue the 101 answer", -1));
	return;
    }
    EndHandshake(c, WS_OPEN);
    MpClientWriteNow(c);
    if (c->state == MP_CLIENT_OPEN) {
	(void) MpClientAdmit(c);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * EndHandshake --
 *
 *	The request head has been dealt with: the client carries frames
 *	from now on (phase WS_OPEN) or is being answered (WS_HTTP); the
 *	parser, the options and the timer are let go.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees the head; cancels the timer.
 *
 *----------------------------------------------------------------------
 */

static void
EndHandshake(
    MpClient *c,
    int phase)
{
    MpWsClient *ws = c->ws;

    ws->phase = phase;
    CancelHandshakeTimer(c);
    FreeHttp(ws);
    if (ws->opts != NULL) {
	MpWsOptionsUnref(ws->opts);
	ws->opts = NULL;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * FreeHttp --
 *
 *	Frees the request head parser once the handshake is over.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees memory.
 *
 *----------------------------------------------------------------------
 */

static void
FreeHttp(
    MpWsClient *ws)
{
    if (ws->http != NULL) {
	MpHttpFree(ws->http);
	MpFree(ws->http);
	ws->http = NULL;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * HeadersDict --
 *
 *	The request's header fields as a dict: names in lower case, the
 *	values of a repeated name joined with ", " (RFC 9110 section 5.3).
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
HeadersDict(
    const MpHttpRequest *r)
{
    Tcl_Obj *dict = Tcl_NewDictObj();
    int i;

    for (i = 0; i < r->numFields; i++) {
	const MpHttpField *f = &r->fields[i];
	Tcl_Obj *nameObj;

	if (f->combined == NULL && MpHttpHeaderCount(r, f->name) > 1) {
	    continue;		/* Its value is on the first of its name. */
	}
	nameObj = Tcl_NewStringObj(f->name, -1);
	Tcl_SetObjLength(nameObj, Tcl_UtfToLower(Tcl_GetString(nameObj)));
	Tcl_DictObjPut(NULL, dict, nameObj, Tcl_NewStringObj(
		f->combined ? f->combined : f->value, -1));
    }
    return dict;
}

/*
 *----------------------------------------------------------------------
 *
 * OriginAllowed --
 *
 *	Whether an Origin value is one the listener allows (-origins; any
 *	when not given). Origins are compared without regard to case (a
 *	browser sends the scheme and host in lower case). A request without
 *	Origin (not from a browser) is not checked by the caller: the check
 *	keeps pages of other sites out, it does not authenticate.
 *
 * Results:
 *	1 or 0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
OriginAllowed(
    const MpWsOptions *o,
    const char *origin)
{
    Tcl_Size n, i;
    Tcl_Obj **elems;

    if (o->originsObj == NULL) {
	return 1;
    }
    if (Tcl_ListObjGetElements(NULL, o->originsObj, &n, &elems) != TCL_OK) {
	return 0;
    }
    for (i = 0; i < n; i++) {
	const char *a = Tcl_GetString(elems[i]), *b = origin;

	while (*a != '\0' && *b != '\0' && LOWER(*a) == LOWER(*b)) {
	    a++;
	    b++;
	}
	if (*a == '\0' && *b == '\0') {
	    return 1;
	}
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * ChooseSubprotocol --
 *
 *	The first of the listener's -subprotocols that the client also
 *	offers (Sec-WebSocket-Protocol).
 *
 * Results:
 *	The name (valid while the options live), or NULL for none.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static const char *
ChooseSubprotocol(
    const MpWsOptions *o,
    const MpHttpRequest *r)
{
    const char *offered[32];
    Tcl_Size n, i;
    Tcl_Obj **elems;
    int k;

    if (o->subprotocolsObj == NULL || Tcl_ListObjGetElements(NULL,
	    o->subprotocolsObj, &n, &elems) != TCL_OK) {
	return NULL;
    }
    if (n > 32) {
	n = 32;
    }
    for (i = 0; i < n; i++) {
	offered[i] = Tcl_GetString(elems[i]);
    }
    k = MpWsChooseSubprotocol(offered, (int) n,
	    MpHttpHeader(r, "Sec-WebSocket-Protocol"));
    return k < 0 ? NULL : offered[k];
}

/*
 *----------------------------------------------------------------------
 *
 * HandleHttp --
 *
 *	Answers a plain HTTP request on a WebSocket listener: GET and HEAD
 *	go to the listener's -httpcommand, called as "cmdprefix request"
 *	(a dict: method, path, query, headers, address, port), whose result
 *	{status headers body} is sent with Content-Length and "Connection:
 *	close"; without the command the answer is 426 (this port speaks
 *	WebSocket). Other methods get 405. The connection closes after the
 *	answer.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs Tcl code; queues the answer; closes the client.
 *
 *----------------------------------------------------------------------
 */

static void
HandleHttp(
    MpClient *c,
    const MpHttpRequest *r)
{
    MpInstance *mp = c->mp;
    MpWsOptions *o = c->ws->opts;
    int head = (strcmp(r->method, "HEAD") == 0), code;
    Tcl_Obj *reqObj, *cmdObj;

    if (!head && strcmp(r->method, "GET") != 0) {
	Refuse(c, 405, "Allow: GET, HEAD\r\n", "method not allowed");
	return;
    }
    if (o->httpCommand == NULL) {
	Refuse(c, 426, NULL, "plain HTTP request and no -httpcommand");
	return;
    }
    mp->stats.httpRequests++;
    reqObj = Tcl_NewDictObj();
    Tcl_DictObjPut(NULL, reqObj, Tcl_NewStringObj("method", -1),
	    Tcl_NewStringObj(r->method, -1));
    Tcl_DictObjPut(NULL, reqObj, Tcl_NewStringObj("path", -1),
	    Tcl_NewStringObj(r->path, -1));
    Tcl_DictObjPut(NULL, reqObj, Tcl_NewStringObj("query", -1),
	    Tcl_NewStringObj(r->query ? r->query : "", -1));
    Tcl_DictObjPut(NULL, reqObj, Tcl_NewStringObj("headers", -1),
	    HeadersDict(r));
    Tcl_DictObjPut(NULL, reqObj, Tcl_NewStringObj("address", -1),
	    MpClientAddrObj(c));
    Tcl_DictObjPut(NULL, reqObj, Tcl_NewStringObj("port", -1),
	    MpClientPortObj(c));
    Tcl_IncrRefCount(reqObj);

    /*
     * The head is no longer needed; the options are held across the call
     * (the listener may be closed by it).
     */

    cmdObj = o->httpCommand;
    Tcl_IncrRefCount(cmdObj);
    MpWsOptionsRef(o);
    EndHandshake(c, WS_HTTP);
    code = MpCallPrefix(mp, cmdObj, 1, &reqObj);
    Tcl_DecrRefCount(reqObj);
    if (c->state != MP_CLIENT_OPEN || mp->destroyed) {
	Tcl_ResetResult(mp->interp);	/* Nobody to answer. */
    } else if (code != TCL_OK) {
	MpReportScriptError(mp, "httpcommand", cmdObj, code);
	Refuse(c, 500, NULL, "httpcommand failed");
    } else {
	Tcl_Obj *answerObj = Tcl_GetObjResult(mp->interp);

	Tcl_IncrRefCount(answerObj);
	Tcl_ResetResult(mp->interp);
	if (SendHttpAnswer(c, head, answerObj) != TCL_OK) {
	    MpLogObj(mp, MP_LOG_ERROR, Tcl_ObjPrintf("httpcommand \"%s\": "
		    "%s", Tcl_GetString(cmdObj),
		    Tcl_GetString(Tcl_GetObjResult(mp->interp))));
	    Tcl_ResetResult(mp->interp);
	    Refuse(c, 500, NULL, "httpcommand result not {status headers "
		    "body}");
	} else {
	    MpClientClose(c, MP_REASON_CLOSED, NULL);
	}
	Tcl_DecrRefCount(answerObj);
    }
    MpWsOptionsUnref(o);
    Tcl_DecrRefCount(cmdObj);
}

/*
 *----------------------------------------------------------------------
 *
 * SendHttpAnswer --
 *
 *	Queues the answer an -httpcommand returned: a list {status headers
 *	body}, status 200..599 (1xx cannot end a request), headers a dict of
 *	field names and values (no CR or LF; Content-Length and Connection
 *	are the server's), body bytes (not sent for HEAD, 204 and 304),
 *	queued as one message (so of any size: nothing else is queued for
 *	the connection yet).
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message in the interpreter (nothing
 *	queued).
 *
 * Side effects:
 *	Queues the answer.
 *
 *----------------------------------------------------------------------
 */

static int
SendHttpAnswer(
    MpClient *c,
    int head,
    Tcl_Obj *answerObj)
{
    Tcl_Interp *interp = c->mp->interp;
    Tcl_Obj **parts, **hdrs, *out;
    Tcl_Size nparts, nhdrs, i;
    int status;
    size_t bodyLen;
    const char *body, *reason;

    if (Tcl_ListObjGetElements(interp, answerObj, &nparts, &parts)
	    != TCL_OK) {
	return TCL_ERROR;
    }
    if (nparts != 3) {
	Tcl_SetObjResult(interp, Tcl_NewStringObj(
		"expected a list {status headers body}", -1));
	return TCL_ERROR;
    }
    if (Tcl_GetIntFromObj(NULL, parts[0], &status) != TCL_OK
	    || status < 200 || status > 599) {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf(
		"expected a status from 200 to 599 but got \"%s\"",
		Tcl_GetString(parts[0])));
	return TCL_ERROR;
    }
    if (Tcl_ListObjGetElements(interp, parts[1], &nhdrs, &hdrs) != TCL_OK) {
	return TCL_ERROR;
    }
    if (nhdrs % 2 != 0) {
	Tcl_SetObjResult(interp, Tcl_NewStringObj(
		"expected headers as a dict (name value ...)", -1));
	return TCL_ERROR;
    }
    body = MpGetBytes(interp, parts[2], &bodyLen);
    if (body == NULL) {
	return TCL_ERROR;
    }
    reason = MpHttpReason(status);
    out = Tcl_ObjPrintf("HTTP/1.1 %d %s\r\n", status,
	    reason[0] ? reason : "Status");
    Tcl_IncrRefCount(out);
    for (i = 0; i < nhdrs; i += 2) {
	const char *name = Tcl_GetString(hdrs[i]);
	const char *value = Tcl_GetString(hdrs[i + 1]);
	const char *p;

	for (p = name; *p != '\0'; p++) {
	    if ((unsigned char) *p <= 32 || *p == ':' || *p == 127) {
		break;
	    }
	}
	if (*name == '\0' || *p != '\0' || strpbrk(value, "\r\n") != NULL) {
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf(
		    "invalid header field \"%s\"", name));
	    Tcl_DecrRefCount(out);
	    return TCL_ERROR;
	}
	if (strcasecmp(name, "Content-Length") == 0
		|| strcasecmp(name, "Connection") == 0
		|| strcasecmp(name, "Transfer-Encoding") == 0) {
	    continue;
	}
	Tcl_AppendPrintfToObj(out, "%s: %s\r\n", name, value);
    }
    if (status == 204 || status == 304) {
	bodyLen = 0;
	Tcl_AppendToObj(out, "Connection: close\r\n\r\n", -1);
    } else {
	Tcl_AppendPrintfToObj(out, "Content-Length: %lu\r\n"
		"Connection: close\r\n\r\n", (unsigned long) bodyLen);
    }
    if (head) {
	bodyLen = 0;
    }
    {
	/*
	 * Head and body in one buffer, queued as one message: the queue is
	 * empty before the answer, and an empty queue takes a message of
	 * any size (maxqueue bounds what follows it).
	 */

	Tcl_Size headLen;
	const char *headBytes = Tcl_GetStringFromObj(out, &headLen);
	size_t total = (size_t) headLen + bodyLen;
	char *answer = (char *) MpAlloc(total);
	int rc;

	memcpy(answer, headBytes, (size_t) headLen);
	if (bodyLen > 0) {
	    memcpy(answer + headLen, body, bodyLen);
	}
	rc = MpEnqueueRaw(c, answer, total, 0);
	MpFree(answer);
	Tcl_DecrRefCount(out);
	if (rc != 0) {
	    Tcl_SetObjResult(interp, Tcl_NewStringObj(
		    "answer refused: the client's queue is full", -1));
	    return TCL_ERROR;
	}
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * FeedFrames --
 *
 *	Parses frames from an open WebSocket client (mpWsFrame.c): messages
 *	and control frames are handled in order (EmitFrame), the messages of
 *	one read in batches when no filter needs to see each (MpBatchBegin);
 *	a protocol
 *	error closes the client with its close code (1002, 1007, or 1009
 *	for a message over Config maxmessage).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs filters; fans out; may close the client.
 *
 *----------------------------------------------------------------------
 */

static void
FeedFrames(
    MpClient *c,
    const char *data,
    size_t len)
{
    MpInstance *mp = c->mp;
    size_t rest = 0;
    int code = 0, rc;
    Frames frames;

    frames.c = c;
    frames.batch = MpBatchBegin(c);
    rc = MpWsFeed(&c->ws->in, mp->config.maxMessage, data, len, EmitFrame,
	    &frames, &rest, &code);
    if (frames.batch != NULL) {
	MpBatchEnd(frames.batch);
    }
    if (c->state != MP_CLIENT_OPEN || mp->destroyed) {
	return;
    }
    if (rc == MP_WS_FAIL) {
	QueueControl(c, MP_WS_CLOSE, NULL, (size_t) code, 1);
	if (code == MP_WS_TOO_BIG) {
	    MpLog(mp, MP_LOG_WARN, "client %s port %d: message longer than "
		    "maxmessage (%lu bytes), closing with 1009",
		    c->peer.host, c->peer.port,
		    (unsigned long) mp->config.maxMessage);
	    MpClientClose(c, MP_REASON_TOOBIG, NULL);
	} else {
	    mp->stats.wsProtocolErrors++;
	    MpLog(mp, MP_LOG_WARN, "client %s port %d: WebSocket protocol "
		    "error, closing with %d", c->peer.host, c->peer.port,
		    code);
	    MpClientClose(c, MP_REASON_PROTOCOL, Tcl_ObjPrintf("%d", code));
	}
    } else if (rc == MP_WS_NOMEM) {
	QueueControl(c, MP_WS_CLOSE, NULL, MP_WS_INTERNAL_ERROR, 1);
	MpClientClose(c, MP_REASON_ERROR,
		Tcl_NewStringObj("out of memory", -1));
    }
}

/*
 *----------------------------------------------------------------------
 *
 * EmitFrame --
 *
 *	Parser callback: a data message goes through the filters and the
 *	fan-out (MpHandleMessage) and counts as activity for Config
 *	idletimeout; a ping is answered with a pong carrying its payload; a
 *	pong only shows the peer is alive; a close is answered (PeerClosed).
 *
 * Results:
 *	Non-zero to stop parsing (the client closed, the instance
 *	destroyed).
 *
 * Side effects:
 *	See above.
 *
 *----------------------------------------------------------------------
 */

static int
EmitFrame(
    void *ctx,
    int opcode,
    const char *payload,
    size_t len)
{
    Frames *frames = (Frames *) ctx;
    MpClient *c = frames->c;
    MpInstance *mp = c->mp;

    switch (opcode) {
    case MP_WS_TEXT:
    case MP_WS_BINARY:
	MpIdleTouch(c);
	if (frames->batch != NULL) {
	    (void) MpBatchAdd(frames->batch, payload, len,
		    opcode == MP_WS_TEXT);
	} else {
	    MpHandleMessage(c, payload, len);
	}
	break;
    case MP_WS_PING:
	(void) QueueControl(c, MP_WS_PONG, payload, len, 0);
	break;
    case MP_WS_CLOSE:
	if (frames->batch != NULL) {
	    MpBatchFlush(frames->batch);	/* Before the exit filters. */
	}
	PeerClosed(c, payload, len);
	break;
    default:
	break;			/* Pong: the peer is alive. */
    }
    return c->state != MP_CLIENT_OPEN || mp->destroyed;
}

/*
 *----------------------------------------------------------------------
 *
 * PeerClosed --
 *
 *	The client sent a close frame (its payload checked by the parser):
 *	the same status code goes back (RFC 6455 section 5.5.1) after what
 *	is queued, and the server then ends the TCP connection first. The
 *	client's reason reads "eof close CODE ?TEXT?".
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues the close frame; closes the client (exit filters run).
 *
 *----------------------------------------------------------------------
 */

static void
PeerClosed(
    MpClient *c,
    const char *payload,
    size_t len)
{
    unsigned code = 0;
    Tcl_Obj *why;

    if (len >= 2) {
	code = ((unsigned) (unsigned char) payload[0] << 8)
		| (unsigned char) payload[1];
    }
    (void) QueueControl(c, MP_WS_CLOSE, NULL, code, 1);
    why = Tcl_NewStringObj("close", -1);
    if (code != 0) {
	Tcl_AppendPrintfToObj(why, " %u", code);
	if (len > 2) {
	    Tcl_AppendToObj(why, " ", 1);
	    Tcl_AppendToObj(why, payload + 2, (Tcl_Size) (len - 2));
	}
    }
    MpClientClose(c, MP_REASON_EOF, why);
}

/*
 *----------------------------------------------------------------------
 *
 * QueueControl --
 *
 *	Queues a control frame for a client. For MP_WS_CLOSE, len is the
 *	status code (0 for none) and payload the reason text or NULL; only
 *	one close frame is ever sent. force queues it whatever the state
 *	and the queue bound (a close frame is at most 127 bytes); otherwise
 *	the frame is queued as any message is (Config maxqueue, overflow).
 *
 * Results:
 *	0 if queued, -1 if not.
 *
 * Side effects:
 *	Queues; schedules the flush.
 *
 *----------------------------------------------------------------------
 */

static int
QueueControl(
    MpClient *c,
    int opcode,
    const char *payload,
    size_t len,
    int force)
{
    MpWsClient *ws = c->ws;
    unsigned char body[MP_WS_CONTROL_MAX];
    unsigned char hdr[10];
    size_t hlen;
    MpBuf *buf;

    if (opcode == MP_WS_CLOSE) {
	if (ws->closeSent || ws->phase != WS_OPEN) {
	    return -1;
	}
	len = MpWsClosePayload((unsigned) len, payload,
		payload ? strlen(payload) : 0, body);
	payload = (const char *) body;
	ws->closeSent = 1;
    } else if (len > MP_WS_CONTROL_MAX) {
	return -1;
    }
    hlen = MpWsServerHeader(opcode, len, hdr);
    buf = MpBufNew(hlen + len);
    if (buf == NULL) {
	return -1;
    }
    memcpy(buf->data, hdr, hlen);
    if (len > 0) {
	memcpy(buf->data + hlen, payload, len);
    }
    if (force) {
	int rc = MpQueuePush(&c->out, buf);

	MpBufUnref(buf);
	if (rc == 0 && c->state == MP_CLIENT_OPEN) {
	    MpLoopScheduleFlush(c->mp->loop, c);
	}
	return rc == 0 ? 0 : -1;
    }
    {
	int rc = MpEnqueueRaw(c, buf->data, buf->len, 0);

	MpBufUnref(buf);
	return rc == 0 ? 0 : -1;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsClientSendClose --
 *
 *	close $chan write on a WebSocket client: a close frame (1000) after
 *	what is queued, the end of what the server sends. The client is
 *	expected to answer with its own close, which ends the connection.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues the close frame.
 *
 *----------------------------------------------------------------------
 */

void
MpWsClientSendClose(
    MpClient *c)
{
    (void) QueueControl(c, MP_WS_CLOSE, NULL, MP_WS_NORMAL, 1);
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsClientClosing --
 *
 *	Called by MpClientClose for a WebSocket client, before its socket is
 *	closed: an orderly disconnect of an open client sends a close frame
 *	after what is queued (Kick and close: 1000 with the kick text as
 *	reason; idle or ping timeout and destroy: 1001; refused by an access
 *	filter: 1008); the handshake timer stops and the parsers are freed.
 *
 * Results:
 *	1 if a close frame is queued (the connection should linger so that
 *	it is delivered), 0 otherwise.
 *
 * Side effects:
 *	Queues; frees parser memory; counts the admitted WebSocket clients.
 *
 *----------------------------------------------------------------------
 */

int
MpWsClientClosing(
    MpClient *c,
    int reason)
{
    MpWsClient *ws = c->ws;
    unsigned code = 0;

    if (c->admitted) {
	c->mp->wsAdmitted--;
    }
    CancelHandshakeTimer(c);
    if (ws->phase == WS_OPEN && !ws->closeSent) {
	switch (reason) {
	case MP_REASON_KICKED:
	case MP_REASON_CLOSED:
	    code = MP_WS_NORMAL;
	    break;
	case MP_REASON_TIMEOUT:
	case MP_REASON_DESTROY:
	    code = 1001;	/* Going away. */
	    break;
	case MP_REASON_DENIED:
	    code = 1008;	/* Policy violation. */
	    break;
	default:
	    break;
	}
	if (code != 0) {
	    char text[MP_WS_REASON_MAX + 1];
	    const char *reasonText = NULL;

	    if (reason == MP_REASON_KICKED && c->reasonObj != NULL) {
		Tcl_Size n;
		const char *s = Tcl_GetStringFromObj(c->reasonObj, &n);

		/*
		 * Tcl's string form is UTF-8 but for NUL (two bytes);
		 * MpWsClosePayload cuts it at a character boundary.
		 */

		if ((size_t) n > MP_WS_REASON_MAX) {
		    n = MP_WS_REASON_MAX + 3;
		}
		snprintf(text, sizeof(text), "%.*s", (int) n, s);
		reasonText = text;
	    }
	    (void) QueueControl(c, MP_WS_CLOSE, reasonText, code, 1);
	}
    }
    FreeHttp(ws);
    MpWsFree(&ws->in);
    return ws->closeSent;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsClientFree --
 *
 *	Frees a WebSocket client's state with the client record.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees memory.
 *
 *----------------------------------------------------------------------
 */

void
MpWsClientFree(
    MpClient *c)
{
    MpWsClient *ws = c->ws;

    if (ws == NULL) {
	return;
    }
    FreeHttp(ws);
    MpWsFree(&ws->in);
    if (ws->opts != NULL) {
	MpWsOptionsUnref(ws->opts);
    }
    if (ws->peerText != NULL) {
	MpFree(ws->peerText);
    }
    MpFree(ws);
    c->ws = NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsOpcodeFor --
 *
 *	Whether a message goes to WebSocket clients as a text or a binary
 *	frame: Config wsmessagetype, and with "auto" text exactly when its
 *	bytes are valid UTF-8.
 *
 * Results:
 *	MP_WS_TEXT or MP_WS_BINARY.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpWsOpcodeFor(
    MpInstance *mp,
    const char *data,
    size_t len)
{
    MpUtf8 u;
    size_t bad;

    switch (mp->config.wsMessageType) {
    case MP_WSTYPE_TEXT:
	return MP_WS_TEXT;
    case MP_WSTYPE_BINARY:
	return MP_WS_BINARY;
    default:
	memset(&u, 0, sizeof(u));
	if (MpUtf8Feed(&u, data, len, &bad) && MpUtf8Complete(&u)) {
	    return MP_WS_TEXT;
	}
	return MP_WS_BINARY;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * WsFrame --
 *
 *	The WebSocket codec's encoding of a message: the header of one
 *	unmasked, unfragmented frame, text or binary (MpWsOpcodeFor; a
 *	message known to be text is not checked again).
 *
 * Results:
 *	The header length (2, 4 or 10, written into hdr); no suffix.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static size_t
WsFrame(
    MpInstance *mp,
    const char *data,
    size_t len,
    int text,
    char *hdr,
    const char **sufPtr,
    size_t *sufLenPtr)
{
    int opcode = (text && mp->config.wsMessageType == MP_WSTYPE_AUTO)
	    ? MP_WS_TEXT : MpWsOpcodeFor(mp, data, len);

    *sufPtr = "";
    *sufLenPtr = 0;
    return MpWsServerHeader(opcode, len, (unsigned char *) hdr);
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsPeerInfo --
 *
 *	What ${mp}::Peer reports for a WebSocket client besides address,
 *	port and protocol: request, path, query, headers, subprotocol,
 *	origin (empty before the handshake ended).
 *
 * Results:
 *	A new dict object.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
MpWsPeerInfo(
    MpClient *c)
{
    if (c->ws == NULL || c->ws->peerText == NULL) {
	return Tcl_NewDictObj();
    }
    return Tcl_NewStringObj(c->ws->peerText, -1);
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsPingReschedule, PingTimerProc --
 *
 *	Dead peer detection (Config pinginterval). Every half interval the
 *	admitted WebSocket clients are looked at: one that has sent nothing
 *	for an interval is pinged; one that has not answered (sent anything)
 *	within an interval of its ping is marked for closing with reason
 *	"timeout ping". The timer runs only while there are WebSocket
 *	clients and runs no Tcl code (closes happen at the flush).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues pings; marks clients for closing; re-arms the timer.
 *
 *----------------------------------------------------------------------
 */

void
MpWsPingReschedule(
    MpInstance *mp)
{
    long every = mp->config.pingInterval / 2;

    if (mp->pingTimer != NULL) {
	Tcl_DeleteTimerHandler(mp->pingTimer);
	mp->pingTimer = NULL;
    }
    if (mp->destroyed || mp->config.pingInterval <= 0
	    || mp->wsAdmitted <= 0) {
	return;
    }
    if (every < 1) {
	every = 1;
    }
    mp->pingTimer = Tcl_CreateTimerHandler((int) every, PingTimerProc, mp);
}

static void
PingTimerProc(
    ClientData clientData)
{
    MpInstance *mp = (MpInstance *) clientData;
    Tcl_WideInt now = MpNowMs(), interval = mp->config.pingInterval;
    MpClient *c;
    int any = 0;

    mp->pingTimer = NULL;
    for (c = mp->first; c != NULL; c = c->next) {
	MpWsClient *ws = c->ws;

	if (ws == NULL || !c->admitted || c->state != MP_CLIENT_OPEN
		|| c->pendingClose || ws->closeSent) {
	    continue;
	}
	if (ws->pingSent != 0 && now - ws->pingSent >= interval) {
	    if (c->reasonObj == NULL) {
		c->reasonObj = Tcl_NewStringObj("ping", -1);
		Tcl_IncrRefCount(c->reasonObj);
	    }
	    mp->stats.pingTimeouts++;
	    c->pendingClose = MP_REASON_TIMEOUT;
	    MpLoopScheduleFlush(mp->loop, c);
	    any = 1;
	} else if (ws->pingSent == 0 && now - ws->lastHeard >= interval) {
	    char payload[24];
	    int n = snprintf(payload, sizeof(payload), "%lld",
		    (long long) now);

	    if (QueueControl(c, MP_WS_PING, payload, (size_t) n, 0) == 0) {
		ws->pingSent = now;
		any = 1;
	    }
	}
    }
    if (any) {
	MpLoopFlushSoon(mp->loop);
    }
    MpWsPingReschedule(mp);
}
