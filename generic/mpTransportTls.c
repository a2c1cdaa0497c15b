/*
 * mpTransportTls.c --
 *
 *	The TLS transport (mpTransport.h): OpenSSL on the connection's own
 *	socket, non-blocking throughout. The handshake is driven by the
 *	poller (what OpenSSL waits for becomes the watch's interest);
 *	plaintext the owner writes is handed to OpenSSL at most one record
 *	(MP_TLS_RECORD_MAX bytes) at a time, gathered from the owner's
 *	queued buffers, so a recipient's small messages travel in as few
 *	records as its queue allows. A write OpenSSL could not finish must
 *	be handed to it again unchanged (SSL_write's retry rule): the
 *	transport keeps a copy of it and reports its bytes as taken, so the
 *	owner's queue never has to stay still for it; while it holds one, it
 *	asks for writing (TlsWant) and finishes it at the next write call.
 *	Input OpenSSL has decrypted but not yet returned is reported by
 *	TlsPending, for the owner to read before the loop sleeps.
 */

#include "mpInt.h"
#include "mpTls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#ifndef EPROTO
#define EPROTO 71
#endif

/*
 * A TLS connection's state (MpConn.state). It does not point back at its
 * MpConn: a linger takes the connection over by copying it.
 */

typedef struct TlsState {
    SSL *ssl;
    MpTlsContext *ctx;		/* Referenced: OpenSSL's callbacks during
				 * the handshake (SNI, ALPN) use it, even
				 * after its listener has closed. */
    int handshakeDone;		/* Application data may flow. */
    int handshakeWants;		/* MP_EV_* the handshake waits for. */
    int readWantsWrite;		/* SSL_read must write before it reads
				 * (a TLS 1.3 key update answered). */
    int writeWantsRead;		/* SSL_write must read before it writes. */
    int shutdownSent;		/* close_notify handed to OpenSSL. */
    int endPending;		/* The peer's data ended (or failed) in a
				 * read that returned data first: the next
				 * read reports it, and TlsPending says a
				 * read is due although the socket may stay
				 * silent. */
    char *retry;		/* Copy of a write to hand OpenSSL again, */
    size_t retryLen;		/* and its length (0: none). */
    char failure[160];		/* Why the handshake failed. */
} TlsState;

static ptrdiff_t	TlsRead(MpConn *conn, void *buf, size_t len,
			    int *errPtr);
static ptrdiff_t	TlsWritev(MpConn *conn, MpIovec *iov, int iovcnt,
			    int *errPtr);
static int		TlsHandshake(MpConn *conn, int *errPtr);
static int		TlsWant(MpConn *conn, int mask);
static size_t		TlsPending(MpConn *conn);
static void		TlsShutdown(MpConn *conn);
static int		TlsWait(MpConn *conn, int events, int *errPtr);
static void		TlsClose(MpConn *conn, int abortive);
static int		Failed(TlsState *st, int rc, int *errPtr);
static int		FinishRetry(TlsState *st, int *errPtr);
static void		NoteFailure(TlsState *st, const char *what);

const MpTransportType mpTlsTransport = {
    "tls",
    TlsRead,
    TlsWritev,
    TlsHandshake,
    TlsWant,
    TlsPending,
    TlsShutdown,
    TlsWait,
    TlsClose,
    1				/* One record per round, not per message. */
};

/*
 *----------------------------------------------------------------------
 *
 * MpTlsStart --
 *
 *	Switches a connection that has just been accepted (or connected) to
 *	the TLS transport, with a session of the context ctx; the handshake
 *	is then advanced by MpConnHandshake.
 *
 * Results:
 *	0, or -1 with *errPtr set (no memory in OpenSSL).
 *
 * Side effects:
 *	Allocates the session; the connection's type and state change; the
 *	connection holds a reference on ctx until it is closed.
 *
 *----------------------------------------------------------------------
 */

int
MpTlsStart(
    MpConn *conn,
    MpTlsContext *ctx,
    int *errPtr)
{
    TlsState *st;
    SSL *ssl = (SSL *) MpTlsContextNewSession(ctx, conn->watch.fd, errPtr);

    if (ssl == NULL) {
	return -1;
    }
    st = (TlsState *) MpAlloc(sizeof(TlsState));
    memset(st, 0, sizeof(TlsState));
    st->ssl = ssl;
    st->ctx = ctx;
    MpTlsContextRef(ctx);
    st->handshakeWants = MP_EV_READ | MP_EV_WRITE;
    conn->type = &mpTlsTransport;
    conn->state = st;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpConnIsTls, MpTlsFailure --
 *
 *	Whether a connection uses this transport; why its handshake failed
 *	(OpenSSL's reason, or the certificate check's), or "".
 *
 * Results:
 *	See above.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpConnIsTls(
    const MpConn *conn)
{
    return conn->type == &mpTlsTransport && conn->state != NULL;
}

const char *
MpTlsFailure(
    const MpConn *conn)
{
    if (!MpConnIsTls(conn)) {
	return "";
    }
    return ((TlsState *) conn->state)->failure;
}

/*
 *----------------------------------------------------------------------
 *
 * NoteFailure --
 *
 *	Records why the handshake failed: the certificate check's verdict
 *	when it failed, else OpenSSL's first queued error, else what.
 *	Clears OpenSSL's error queue (it is per thread: a failure must not
 *	be blamed on the next connection).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Writes st->failure.
 *
 *----------------------------------------------------------------------
 */

static void
NoteFailure(
    TlsState *st,
    const char *what)
{
    unsigned long e = ERR_get_error();
    long verify = SSL_get_verify_result(st->ssl);
    X509 *peer = SSL_get_peer_certificate(st->ssl);	/* A reference. */

    if (peer != NULL) {
	X509_free(peer);
    }
    if (verify != X509_V_OK && peer != NULL) {
	snprintf(st->failure, sizeof(st->failure), "certificate: %s",
		X509_verify_cert_error_string(verify));
    } else if (e != 0) {
	const char *reason = ERR_reason_error_string(e);

	snprintf(st->failure, sizeof(st->failure), "%s",
		reason ? reason : "TLS error");
    } else {
	snprintf(st->failure, sizeof(st->failure), "%s", what);
    }
    ERR_clear_error();
}

/*
 *----------------------------------------------------------------------
 *
 * Failed --
 *
 *	Sorts out an OpenSSL call that returned rc <= 0: would-block (and
 *	what for) or failure.
 *
 * Results:
 *	MP_IO_AGAIN with *errPtr untouched and the wanted direction in the
 *	return via st flags set by the caller, 0 for an orderly end of the
 *	peer's data (close_notify), or MP_IO_ERROR with *errPtr set (EPROTO
 *	for a TLS failure, the socket's error, ECONNRESET for an end of
 *	the connection without close_notify).
 *
 * Side effects:
 *	Clears OpenSSL's error queue on failure.
 *
 *----------------------------------------------------------------------
 */

enum { WANTS_READ = -10, WANTS_WRITE = -11 };

static int
Failed(
    TlsState *st,
    int rc,
    int *errPtr)
{
    int sslErr = SSL_get_error(st->ssl, rc);

    switch (sslErr) {
    case SSL_ERROR_WANT_READ:
	return WANTS_READ;
    case SSL_ERROR_WANT_WRITE:
	return WANTS_WRITE;
    case SSL_ERROR_ZERO_RETURN:
	return 0;
    case SSL_ERROR_SYSCALL:
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
	    return WANTS_READ;
	}
	*errPtr = (errno != 0) ? errno : ECONNRESET;
	NoteFailure(st, errno != 0 ? strerror(errno)
		: "connection closed during the handshake");
	return MP_IO_ERROR;
    default:
	*errPtr = EPROTO;
	NoteFailure(st, "TLS protocol error");
	return MP_IO_ERROR;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * TlsHandshake --
 *
 *	Advances the handshake as far as the socket allows.
 *
 * Results:
 *	0 once done, MP_IO_AGAIN while it goes on (TlsWant says for what),
 *	MP_IO_ERROR with *errPtr set (MpTlsFailure says why).
 *
 * Side effects:
 *	Socket reads and writes.
 *
 *----------------------------------------------------------------------
 */

static int
TlsHandshake(
    MpConn *conn,
    int *errPtr)
{
    TlsState *st = (TlsState *) conn->state;
    int rc, r;

    if (st->handshakeDone) {
	return 0;
    }
    errno = 0;
    rc = SSL_do_handshake(st->ssl);
    if (rc == 1) {
	st->handshakeDone = 1;
	st->handshakeWants = 0;
	return 0;
    }
    r = Failed(st, rc, errPtr);
    if (r == WANTS_READ) {
	st->handshakeWants = MP_EV_READ;
	return MP_IO_AGAIN;
    }
    if (r == WANTS_WRITE) {
	st->handshakeWants = MP_EV_WRITE;
	return MP_IO_AGAIN;
    }
    if (r == 0) {
	*errPtr = ECONNRESET;
	snprintf(st->failure, sizeof(st->failure),
		"peer closed during the handshake");
    }
    return MP_IO_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * TlsRead --
 *
 *	Reads plaintext: records are decrypted until len bytes are there or
 *	the socket has no more (OpenSSL returns at most one record per call).
 *
 * Results:
 *	A count, 0 at the end of the peer's data (close_notify, or a plain
 *	end of the connection after data), MP_IO_AGAIN, or MP_IO_ERROR
 *	with *errPtr set.
 *
 * Side effects:
 *	Socket reads (and writes OpenSSL makes on its own: key updates).
 *
 *----------------------------------------------------------------------
 */

static ptrdiff_t
TlsRead(
    MpConn *conn,
    void *buf,
    size_t len,
    int *errPtr)
{
    TlsState *st = (TlsState *) conn->state;
    size_t got = 0;

    st->readWantsWrite = 0;
    st->endPending = 0;
    while (got < len) {
	size_t n = 0;
	int rc, r;

	errno = 0;
	rc = SSL_read_ex(st->ssl, (char *) buf + got, len - got, &n);
	if (rc == 1) {
	    got += n;
	    continue;
	}
	r = Failed(st, 0, errPtr);
	if (r == WANTS_WRITE) {
	    st->readWantsWrite = 1;
	}
	if (got > 0) {
	    if (r != WANTS_READ && r != WANTS_WRITE) {
		st->endPending = 1;	/* Shows at the next read. */
	    }
	    ERR_clear_error();
	    break;
	}
	if (r == WANTS_READ || r == WANTS_WRITE) {
	    return MP_IO_AGAIN;
	}
	if (r == MP_IO_ERROR && *errPtr == ECONNRESET
		&& SSL_get_error(st->ssl, 0) == SSL_ERROR_SYSCALL) {
	    return 0;		/* End of the connection without
				 * close_notify: an end of input. */
	}
	return r;
    }
    return (ptrdiff_t) got;
}

/*
 *----------------------------------------------------------------------
 *
 * FinishRetry --
 *
 *	Hands OpenSSL the write it could not finish, again.
 *
 * Results:
 *	0 when done (or there was none), MP_IO_AGAIN, or MP_IO_ERROR with
 *	*errPtr set.
 *
 * Side effects:
 *	Socket writes; frees the copy once done.
 *
 *----------------------------------------------------------------------
 */

static int
FinishRetry(
    TlsState *st,
    int *errPtr)
{
    size_t n = 0;
    int r;

    if (st->retryLen == 0) {
	return 0;
    }
    errno = 0;
    if (SSL_write_ex(st->ssl, st->retry, st->retryLen, &n) == 1) {
	MpFree(st->retry);
	st->retry = NULL;
	st->retryLen = 0;
	st->writeWantsRead = 0;
	return 0;
    }
    r = Failed(st, 0, errPtr);
    if (r == WANTS_READ || r == WANTS_WRITE) {
	st->writeWantsRead = (r == WANTS_READ);
	return MP_IO_AGAIN;
    }
    if (r == 0) {
	*errPtr = EPIPE;
    }
    return MP_IO_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * TlsWritev --
 *
 *	Encrypts and sends plaintext from iovcnt buffers, at most one record
 *	per call to OpenSSL (small buffers are gathered into one). With
 *	iovcnt 0 it only finishes a write left over (see the file comment).
 *
 * Results:
 *	The plaintext bytes taken (including those of a write kept for
 *	retry), MP_IO_AGAIN when none, or MP_IO_ERROR with *errPtr set.
 *
 * Side effects:
 *	Socket writes; may keep a copy of one record's plaintext.
 *
 *----------------------------------------------------------------------
 */

static ptrdiff_t
TlsWritev(
    MpConn *conn,
    MpIovec *iov,
    int iovcnt,
    int *errPtr)
{
    TlsState *st = (TlsState *) conn->state;
    char gather[MP_TLS_RECORD_MAX];
    size_t taken = 0, off = 0;	/* off: bytes of iov[i] already taken. */
    int i = 0, r;

    r = FinishRetry(st, errPtr);
    if (r != 0) {
	return r;
    }
    while (i < iovcnt) {
	const char *p;
	size_t len, n = 0;

	if (off == MP_IOV_LEN(iov[i])) {
	    i++;
	    off = 0;
	    continue;
	}
	if (MP_IOV_LEN(iov[i]) - off >= MP_TLS_RECORD_MAX
		|| i == iovcnt - 1) {
	    /* Straight from the buffer, one record's worth at most. */
	    p = (const char *) MP_IOV_BASE(iov[i]) + off;
	    len = MP_IOV_LEN(iov[i]) - off;
	    if (len > MP_TLS_RECORD_MAX) {
		len = MP_TLS_RECORD_MAX;
	    }
	} else {
	    /* Gather small buffers into one record. */
	    int j = i;
	    size_t joff = off;

	    len = 0;
	    while (j < iovcnt && len < MP_TLS_RECORD_MAX) {
		size_t k = MP_IOV_LEN(iov[j]) - joff;

		if (k > MP_TLS_RECORD_MAX - len) {
		    k = MP_TLS_RECORD_MAX - len;
		}
		memcpy(gather + len, (const char *) MP_IOV_BASE(iov[j]) + joff,
			k);
		len += k;
		joff += k;
		if (joff == MP_IOV_LEN(iov[j])) {
		    j++;
		    joff = 0;
		}
	    }
	    p = gather;
	}
	errno = 0;
	if (SSL_write_ex(st->ssl, p, len, &n) != 1) {
	    r = Failed(st, 0, errPtr);
	    if (r == WANTS_READ || r == WANTS_WRITE) {
		/*
		 * OpenSSL must be handed these bytes again: keep them, and
		 * count them as taken.
		 */

		st->retry = (char *) MpAlloc(len);
		memcpy(st->retry, p, len);
		st->retryLen = len;
		st->writeWantsRead = (r == WANTS_READ);
		n = len;
	    } else {
		if (r == 0) {
		    *errPtr = EPIPE;
		}
		if (taken > 0) {
		    ERR_clear_error();
		    break;	/* The error shows at the next write. */
		}
		return MP_IO_ERROR;
	    }
	}
	taken += n;

	/*
	 * Step over the n bytes taken.
	 */

	while (n > 0 && i < iovcnt) {
	    size_t k = MP_IOV_LEN(iov[i]) - off;

	    if (k > n) {
		off += n;
		n = 0;
	    } else {
		n -= k;
		i++;
		off = 0;
	    }
	}
	if (st->retryLen > 0) {
	    break;
	}
    }
    return taken > 0 ? (ptrdiff_t) taken : MP_IO_AGAIN;
}

/*
 *----------------------------------------------------------------------
 *
 * TlsWant --
 *
 *	The poller interest for what the owner wants: during the handshake,
 *	what the handshake waits for; afterwards the owner's mask, plus
 *	writing while a write is kept for retry, plus what OpenSSL needs to
 *	go on with a read or write that could not.
 *
 * Results:
 *	MP_EV_* bits.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
TlsWant(
    MpConn *conn,
    int mask)
{
    TlsState *st = (TlsState *) conn->state;

    if (!st->handshakeDone) {
	return st->handshakeWants;
    }
    if (st->retryLen > 0) {
	mask |= st->writeWantsRead ? MP_EV_READ : MP_EV_WRITE;
    }
    if (st->readWantsWrite && (mask & MP_EV_READ)) {
	mask |= MP_EV_WRITE;
    }
    return mask;
}

/*
 *----------------------------------------------------------------------
 *
 * TlsPending --
 *
 *	Whether a read is due although the socket may not signal it:
 *	plaintext OpenSSL holds, the end of the peer's data seen by a read
 *	that returned data first, or a read that must write before it can
 *	go on (the socket is writable: the owner reads when its write
 *	readiness comes, see ClientReady).
 *
 * Results:
 *	A byte count, or 1 (non-zero when a read is due).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static size_t
TlsPending(
    MpConn *conn)
{
    TlsState *st = (TlsState *) conn->state;

    if (!st->handshakeDone) {
	return 0;
    }
    if (SSL_pending(st->ssl) > 0) {
	return (size_t) SSL_pending(st->ssl);
    }
    return (SSL_has_pending(st->ssl) || st->endPending
	    || st->readWantsWrite) ? 1 : 0;
}

/*
 *----------------------------------------------------------------------
 *
 * TlsShutdown --
 *
 *	Ends the sending direction: a write kept for retry is finished if
 *	the socket takes it, then close_notify goes out, then the socket's
 *	own sending side is shut. The peer's data can still be read.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Socket writes; shutdown(2).
 *
 *----------------------------------------------------------------------
 */

static void
TlsShutdown(
    MpConn *conn)
{
    TlsState *st = (TlsState *) conn->state;
    int err = 0;

    if (st->handshakeDone && !st->shutdownSent
	    && FinishRetry(st, &err) == 0) {
	st->shutdownSent = 1;
	(void) SSL_shutdown(st->ssl);
	ERR_clear_error();
    }
    MpSockShutdownWrite(conn->watch.fd);
}

/*
 *----------------------------------------------------------------------
 *
 * TlsWait --
 *
 *	Blocks until the connection can be read or written: input OpenSSL
 *	holds counts as readable at once; a write kept for retry also waits
 *	for what it needs.
 *
 * Results:
 *	The ready MP_EV_* bits, or -1 with *errPtr set.
 *
 * Side effects:
 *	Blocks in poll().
 *
 *----------------------------------------------------------------------
 */

static int
TlsWait(
    MpConn *conn,
    int events,
    int *errPtr)
{
    if ((events & MP_EV_READ) && TlsPending(conn) > 0) {
	return MP_EV_READ;
    }
    return MpSockWait(conn->watch.fd, TlsWant(conn, events), errPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * TlsClose --
 *
 *	Closes the connection: an orderly close of a connection that
 *	carried data sends close_notify (if not yet sent) without waiting
 *	for the peer's; an abortive one sends nothing and resets. Frees the
 *	session.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the socket; frees memory.
 *
 *----------------------------------------------------------------------
 */

static void
TlsClose(
    MpConn *conn,
    int abortive)
{
    TlsState *st = (TlsState *) conn->state;

    if (st != NULL) {
	if (!abortive && st->handshakeDone && !st->shutdownSent) {
	    int err = 0;

	    if (FinishRetry(st, &err) == 0) {
		(void) SSL_shutdown(st->ssl);
	    }
	} else {
	    SSL_set_quiet_shutdown(st->ssl, 1);
	}
	ERR_clear_error();
	SSL_free(st->ssl);
	MpTlsContextUnref(st->ctx);
	if (st->retry != NULL) {
	    MpFree(st->retry);
	}
	MpFree(st);
    }
    if (abortive) {
	MpSockAbort(conn->watch.fd);
    } else {
	MpSockClose(conn->watch.fd);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsPeerInfo --
 *
 *	What the handshake settled, for ${mp}::Peer: protocol version,
 *	cipher, ALPN protocol, the name the client asked for (SNI), whether
 *	the peer's certificate was verified, and of that certificate its
 *	subject, issuer and SHA-256 fingerprint (hex).
 *
 * Results:
 *	A new dict (empty before the handshake ended).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
MpTlsPeerInfo(
    const MpConn *conn)
{
    Tcl_Obj *dict = Tcl_NewDictObj();
    TlsState *st;
    const unsigned char *alpn = NULL;
    unsigned alpnLen = 0;
    const char *sni;
    X509 *cert;

#define PUT(key, value) \
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj((key), -1), (value))

    if (!MpConnIsTls(conn)) {
	return dict;
    }
    st = (TlsState *) conn->state;
    if (!st->handshakeDone) {
	return dict;
    }
    PUT("version", Tcl_NewStringObj(SSL_get_version(st->ssl), -1));
    PUT("cipher", Tcl_NewStringObj(SSL_get_cipher_name(st->ssl), -1));
    SSL_get0_alpn_selected(st->ssl, &alpn, &alpnLen);
    PUT("alpn", Tcl_NewStringObj((const char *) alpn,
	    alpn ? (Tcl_Size) alpnLen : 0));
    sni = SSL_get_servername(st->ssl, TLSEXT_NAMETYPE_host_name);
    PUT("servername", Tcl_NewStringObj(sni ? sni : "", -1));
    cert = SSL_get_peer_certificate(st->ssl);
    PUT("ktls", Tcl_NewBooleanObj(BIO_get_ktls_send(SSL_get_wbio(st->ssl))));
    PUT("verified", Tcl_NewBooleanObj(cert != NULL
	    && SSL_get_verify_result(st->ssl) == X509_V_OK));
    if (cert != NULL) {
	char line[512];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdLen = 0, k;
	Tcl_Obj *hex = Tcl_NewObj();

	X509_NAME_oneline(X509_get_subject_name(cert), line, sizeof(line));
	PUT("subject", Tcl_NewStringObj(line, -1));
	X509_NAME_oneline(X509_get_issuer_name(cert), line, sizeof(line));
	PUT("issuer", Tcl_NewStringObj(line, -1));
	if (X509_digest(cert, EVP_sha256(), md, &mdLen) == 1) {
	    for (k = 0; k < mdLen; k++) {
		Tcl_AppendPrintfToObj(hex, "%02x", md[k]);
	    }
	}
	PUT("fingerprint", hex);
	X509_free(cert);
    } else {
	PUT("subject", Tcl_NewObj());
	PUT("issuer", Tcl_NewObj());
	PUT("fingerprint", Tcl_NewObj());
    }
#undef PUT
    return dict;
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsKernelSend --
 *
 *	Whether the kernel encrypts what this connection sends (kernel TLS,
 *	set up by OpenSSL after the handshake where kernel and library
 *	support it).
 *
 * Results:
 *	1 or 0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpTlsKernelSend(
    const MpConn *conn)
{
    TlsState *st;

    if (!MpConnIsTls(conn)) {
	return 0;
    }
    st = (TlsState *) conn->state;
    return st->handshakeDone && BIO_get_ktls_send(SSL_get_wbio(st->ssl));
}
