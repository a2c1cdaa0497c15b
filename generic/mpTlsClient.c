/*
 * mpTlsClient.c --
 *
 *	A TLS listener's client before it is a member: its connection is
 *	switched to the TLS transport when accepted, the handshake is
 *	advanced as the poller reports the socket ready (no Tcl code runs
 *	meanwhile), within Config handshaketimeout; then the client goes on
 *	as a plain listener's would: access filters (MpClientAdmit), or, on a
 *	wss listener, the WebSocket handshake (MpWsClientStart). A failed or
 *	late handshake closes the connection at once and is counted
 *	(Stats tls_handshake_failures); the client was never admitted, so no
 *	exit filter runs.
 */

#include "mpInt.h"
#include "mpTls.h"

static void		HandshakeTimeout(ClientData clientData);
static void		CancelTimer(MpClient *c);
static void		HandshakeFailed(MpClient *c, const char *why);

/*
 *----------------------------------------------------------------------
 *
 * MpTlsClientStart --
 *
 *	Starts the TLS handshake of a client just accepted on listener l
 *	(l->tls set).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	The client's connection becomes a TLS one and is watched; a timer
 *	starts; may close the client (no memory in OpenSSL).
 *
 *----------------------------------------------------------------------
 */

void
MpTlsClientStart(
    MpClient *c,
    MpListener *l)
{
    MpInstance *mp = c->mp;
    int err = 0;

    if (MpTlsStart(&c->conn, l->tls, &err) != 0) {
	HandshakeFailed(c, "cannot start TLS (out of memory)");
	return;
    }
    c->tlsHandshaking = 1;
    if (l->wsOptions != NULL) {
	MpWsOptionsRef(l->wsOptions);
	c->tlsThenWs = l->wsOptions;
    }
    if (mp->config.handshakeTimeout > 0) {
	MpClientRef(c);
	c->tlsTimer = Tcl_CreateTimerHandler(
		(int) mp->config.handshakeTimeout, HandshakeTimeout, c);
    }
    MpTlsClientStep(c);
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsClientStep --
 *
 *	Advances a client's TLS handshake (the loop's callback calls this
 *	while c->tlsHandshaking). When it ends, the client goes on to its
 *	WebSocket handshake or its access filters; input that arrived with
 *	the handshake's last flight is read at once (MpLoopReadAgain).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket reads and writes; may run access filters; may close the
 *	client.
 *
 *----------------------------------------------------------------------
 */

void
MpTlsClientStep(
    MpClient *c)
{
    MpInstance *mp = c->mp;
    int err = 0, rc, werr;

    if (c->state != MP_CLIENT_OPEN || !c->tlsHandshaking) {
	return;
    }
    rc = MpConnHandshake(&c->conn, &err);
    if (rc == MP_IO_AGAIN) {
	werr = MpLoopWatch(mp->loop, &c->conn.watch,
		MpConnWant(&c->conn, 0));
	if (werr != 0) {
	    HandshakeFailed(c, MpSockErrorText(werr));
	}
	return;
    }
    if (rc != 0) {
	HandshakeFailed(c, MpTlsFailure(&c->conn));
	return;
    }
    c->tlsHandshaking = 0;
    CancelTimer(c);
    mp->stats.tlsHandshakes++;
    MpClientRef(c);
    if (c->tlsThenWs != NULL) {
	MpWsOptions *ws = c->tlsThenWs;

	c->tlsThenWs = NULL;
	MpWsClientStart(c, ws);		/* Watches for the request. */
	MpWsOptionsUnref(ws);
    } else {
	(void) MpClientAdmit(c);
    }
    if (c->state == MP_CLIENT_OPEN) {
	MpLoopReadAgain(mp->loop, c->conn.watch.fd);
    }
    MpClientUnref(c);
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsClientClosing --
 *
 *	A client closes: its handshake timer stops and a pending wss start
 *	is dropped.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Releases references.
 *
 *----------------------------------------------------------------------
 */

void
MpTlsClientClosing(
    MpClient *c)
{
    CancelTimer(c);
    c->tlsHandshaking = 0;
    if (c->tlsThenWs != NULL) {
	MpWsOptionsUnref(c->tlsThenWs);
	c->tlsThenWs = NULL;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * HandshakeTimeout, CancelTimer --
 *
 *	The handshake timer (it holds a client reference): a client still in
 *	its TLS handshake when it fires is closed.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May close the client.
 *
 *----------------------------------------------------------------------
 */

static void
HandshakeTimeout(
    ClientData clientData)
{
    MpClient *c = (MpClient *) clientData;

    c->tlsTimer = NULL;
    if (c->state == MP_CLIENT_OPEN && c->tlsHandshaking) {
	HandshakeFailed(c, "handshake timeout");
    }
    MpClientUnref(c);
}

static void
CancelTimer(
    MpClient *c)
{
    if (c->tlsTimer != NULL) {
	Tcl_DeleteTimerHandler(c->tlsTimer);
	c->tlsTimer = NULL;
	MpClientUnref(c);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * HandshakeFailed --
 *
 *	Counts, logs and closes a client whose TLS handshake failed (why:
 *	OpenSSL's or the certificate check's reason, or the timeout).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the client (reason error, "tls handshake: WHY").
 *
 *----------------------------------------------------------------------
 */

static void
HandshakeFailed(
    MpClient *c,
    const char *why)
{
    MpInstance *mp = c->mp;

    mp->stats.tlsHandshakeFailures++;
    MpLog(mp, MP_LOG_INFO, "TLS handshake with %s port %d failed: %s",
	    c->peer.host, c->peer.port, why);
    MpClientClose(c, MP_REASON_ERROR,
	    Tcl_ObjPrintf("tls handshake: %s", why));
}
