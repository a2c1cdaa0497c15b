/*
 * mpTlsContext.c --
 *
 *	TLS contexts made from -tls option lists. A server context is what a
 *	TLS listener hands every connection it accepts: the default
 *	certificate and key, one more per name for SNI (-servernames), client
 *	certificate checking (-cafile, -require), the offered ciphers and
 *	ALPN protocols. TLS 1.2 and 1.3 only; no compression, no
 *	renegotiation, session tickets on, and OpenSSL's buffers released
 *	while a connection is idle (SSL_MODE_RELEASE_BUFFERS), since most
 *	members are idle most of the time. MpTlsContextReload re-reads the
 *	files into new OpenSSL contexts and swaps them in only when all
 *	loaded: connections keep the context they started with (OpenSSL
 *	counts its references).
 */

#include "mpInt.h"
#include "mpTls.h"
#include "mpTlsHello.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/*
 * OPENSSL_strncasecmp (ASCII only, locale independent) came with OpenSSL
 * 3.0.3; before, the C library's.
 */

#if OPENSSL_VERSION_NUMBER < 0x30000030L
#include <strings.h>
#define OPENSSL_strncasecmp strncasecmp
#endif

/*
 * One certificate (the default, or one per SNI name) and its OpenSSL
 * context.
 */

typedef struct TlsCert {
    char *name;			/* SNI name (NULL for the default). */
    SSL_CTX *sslCtx;
} TlsCert;

struct MpTlsContext {
    int refCount;
    int server;			/* Accepts (1) or connects (0). */
    Tcl_Obj *options;		/* The -tls list, kept for reloads. */
    TlsCert *certs;		/* [0] the default, then by name. */
    int certCount;
    unsigned char *alpn;	/* Offered ALPN protocols, wire format. */
    size_t alpnLen;
    char *serverName;		/* Client: the name to ask for and check. */
};

/*
 * What a -tls list holds, once parsed.
 */

typedef struct TlsOptions {
    Tcl_Obj *certFile, *keyFile, *caFile, *ciphers, *cipherSuites;
    Tcl_Obj *alpn, *password, *serverNames, *serverName;
    int require, verify;
} TlsOptions;

static int		ParseOptions(Tcl_Interp *interp, Tcl_Obj *list,
			    int server, int nested, TlsOptions *o);
static SSL_CTX *	MakeSslCtx(Tcl_Interp *interp, const TlsOptions *o,
			    int server, const unsigned char *alpn,
			    size_t alpnLen, MpTlsContext *owner);
static int		Build(Tcl_Interp *interp, Tcl_Obj *options,
			    int server, MpTlsContext *ctx);
static void		FreeCerts(MpTlsContext *ctx);
static int		TlsError(Tcl_Interp *interp, const char *what,
			    const char *file);
static int		PasswordCb(char *buf, int size, int rwflag,
			    void *userdata);
static int		SelectAlpn(SSL *ssl, const unsigned char **out,
			    unsigned char *outlen, const unsigned char *in,
			    unsigned int inlen, void *arg);
static int		SelectCert(SSL *ssl, int *alert, void *arg);

/*
 *----------------------------------------------------------------------
 *
 * TlsError --
 *
 *	Leaves a Tcl error for a TLS set-up failure, with OpenSSL's reason
 *	when it gave one: -errorcode {MULTIPLEXER TLS}.
 *
 * Results:
 *	TCL_ERROR.
 *
 * Side effects:
 *	Clears OpenSSL's error queue.
 *
 *----------------------------------------------------------------------
 */

static int
TlsError(
    Tcl_Interp *interp,
    const char *what,
    const char *file)		/* The file concerned, or NULL. */
{
    unsigned long e = ERR_get_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    if (interp != NULL) {
	Tcl_SetObjResult(interp, Tcl_ObjPrintf("TLS: %s%s%s%s%s%s", what,
		file ? " \"" : "", file ? file : "", file ? "\"" : "",
		reason ? ": " : "", reason ? reason : ""));
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "TLS", NULL);
    }
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * ParseOptions --
 *
 *	Reads a -tls list: server lists take -certfile -keyfile -cafile
 *	-require -ciphers -ciphersuites -alpn -password -servernames (the
 *	entries of -servernames take -certfile -keyfile -password only:
 *	nested); client lists take -cafile -certfile -keyfile -servername
 *	-verify -ciphers -ciphersuites -alpn -password.
 *
 * Results:
 *	TCL_OK with *o filled, or TCL_ERROR with -errorcode {MULTIPLEXER
 *	OPTION ...} or {MULTIPLEXER VALUE ...}.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
ParseOptions(
    Tcl_Interp *interp,
    Tcl_Obj *list,
    int server,
    int nested,
    TlsOptions *o)
{
    static const char *const names[] = {
	"-certfile", "-keyfile", "-cafile", "-require", "-ciphers",
	"-ciphersuites", "-alpn", "-password", "-servernames",
	"-servername", "-verify", NULL
    };
    enum {
	O_CERT, O_KEY, O_CA, O_REQUIRE, O_CIPHERS, O_SUITES, O_ALPN,
	O_PASSWORD, O_SERVERNAMES, O_SERVERNAME, O_VERIFY
    };
    Tcl_Size objc, i;
    Tcl_Obj **objv;
    int idx;

    memset(o, 0, sizeof(*o));
    o->verify = 1;
    if (Tcl_ListObjGetElements(interp, list, &objc, &objv) != TCL_OK) {
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "TLS", NULL);
	return TCL_ERROR;
    }
    if (objc % 2 != 0) {
	return MpError(interp, "VALUE", "TLS",
		"TLS options must be option value pairs: \"%s\"",
		Tcl_GetString(list));
    }
    for (i = 0; i < objc; i += 2) {
	Tcl_Obj *v = objv[i + 1];

	if (Tcl_GetIndexFromObj(interp, objv[i], names, "TLS option", 0,
		&idx) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "OPTION",
		    Tcl_GetString(objv[i]), NULL);
	    return TCL_ERROR;
	}
	if ((nested && idx != O_CERT && idx != O_KEY && idx != O_PASSWORD)
		|| (server && (idx == O_SERVERNAME || idx == O_VERIFY))
		|| (!server && (idx == O_REQUIRE || idx == O_SERVERNAMES))) {
	    return MpError(interp, "OPTION", Tcl_GetString(objv[i]),
		    "TLS option %s does not apply %s", Tcl_GetString(objv[i]),
		    nested ? "to a -servernames entry"
		    : server ? "to a listener" : "to an outbound link");
	}
	switch (idx) {
	case O_CERT:	o->certFile = v;	break;
	case O_KEY:	o->keyFile = v;		break;
	case O_CA:	o->caFile = v;		break;
	case O_CIPHERS:	o->ciphers = v;		break;
	case O_SUITES:	o->cipherSuites = v;	break;
	case O_ALPN:	o->alpn = v;		break;
	case O_PASSWORD: o->password = v;	break;
	case O_SERVERNAMES: o->serverNames = v;	break;
	case O_SERVERNAME: o->serverName = v;	break;
	case O_REQUIRE:
	case O_VERIFY:
	    if (Tcl_GetBooleanFromObj(NULL, v,
		    idx == O_REQUIRE ? &o->require : &o->verify) != TCL_OK) {
		return MpError(interp, "VALUE", "BOOLEAN",
			"expected boolean value for %s but got \"%s\"",
			names[idx], Tcl_GetString(v));
	    }
	    break;
	}
    }
    if (server && (o->certFile == NULL || o->keyFile == NULL)) {
	return MpError(interp, "OPTION", "TLS",
		"a TLS listener needs -certfile and -keyfile");
    }
    if ((o->certFile == NULL) != (o->keyFile == NULL)) {
	return MpError(interp, "OPTION", "TLS",
		"-certfile and -keyfile go together");
    }
    if (o->require && o->caFile == NULL) {
	return MpError(interp, "OPTION", "TLS",
		"-require needs -cafile (the certificates to check against)");
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * PasswordCb --
 *
 *	OpenSSL's callback for an encrypted key: the -password given.
 *
 * Results:
 *	The password's length (0 if none was given).
 *
 * Side effects:
 *	Writes buf.
 *
 *----------------------------------------------------------------------
 */

static int
PasswordCb(
    char *buf,
    int size,
    int rwflag,
    void *userdata)
{
    const char *pw = (const char *) userdata;
    int n;

    (void) rwflag;
    if (pw == NULL || size <= 0) {
	return 0;
    }
    n = (int) strlen(pw);
    if (n > size) {
	n = size;
    }
    memcpy(buf, pw, (size_t) n);
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * SelectAlpn --
 *
 *	Server side ALPN: the first of our protocols (in our order) that the
 *	client also offers (MpTlsChooseAlpn); none in common means no ALPN
 *	(the connection goes on without, as RFC 7301 permits a server that
 *	chooses so).
 *
 * Results:
 *	SSL_TLSEXT_ERR_OK with *out set (pointing into ctx->alpn), or
 *	SSL_TLSEXT_ERR_NOACK.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
SelectAlpn(
    SSL *ssl,
    const unsigned char **out,
    unsigned char *outlen,
    const unsigned char *in,
    unsigned int inlen,
    void *arg)
{
    MpTlsContext *ctx = (MpTlsContext *) arg;

    (void) ssl;
    if (ctx->alpnLen == 0 || !MpTlsChooseAlpn(ctx->alpn, ctx->alpnLen, in,
	    inlen, out, outlen)) {
	return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * SelectCert --
 *
 *	Server side SNI (the client hello callback): the host name of the
 *	hello's server_name extension (MpTlsSniName), if it is one given
 *	with -servernames, switches the connection to that certificate
 *	(names compared without regard to ASCII case, as DNS names are);
 *	any other name, none, or a malformed extension keeps the default.
 *
 * Results:
 *	SSL_CLIENT_HELLO_SUCCESS.
 *
 * Side effects:
 *	May change the connection's SSL_CTX.
 *
 *----------------------------------------------------------------------
 */

static int
SelectCert(
    SSL *ssl,
    int *alert,
    void *arg)
{
    MpTlsContext *ctx = (MpTlsContext *) arg;
    const unsigned char *ext, *host;
    size_t extLen, hostLen;
    int i;

    (void) alert;
    if (ctx->certCount < 2 || !SSL_client_hello_get0_ext(ssl,
	    TLSEXT_TYPE_server_name, &ext, &extLen)
	    || !MpTlsSniName(ext, extLen, &host, &hostLen)) {
	return SSL_CLIENT_HELLO_SUCCESS;
    }
    for (i = 1; i < ctx->certCount; i++) {
	const char *name = ctx->certs[i].name;

	if (strlen(name) == hostLen && OPENSSL_strncasecmp(name,
		(const char *) host, hostLen) == 0) {
	    (void) SSL_set_SSL_CTX(ssl, ctx->certs[i].sslCtx);
	    break;
	}
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 *----------------------------------------------------------------------
 *
 * MakeSslCtx --
 *
 *	Makes one OpenSSL context from parsed options.
 *
 * Results:
 *	The context, or NULL with a Tcl error (file that failed and why).
 *
 * Side effects:
 *	Reads certificate and key files.
 *
 *----------------------------------------------------------------------
 */

static SSL_CTX *
MakeSslCtx(
    Tcl_Interp *interp,
    const TlsOptions *o,
    int server,
    const unsigned char *alpn,	/* Wire-format ALPN list, or NULL. */
    size_t alpnLen,
    MpTlsContext *owner)	/* Callbacks' argument. */
{
    SSL_CTX *sc = SSL_CTX_new(server ? TLS_server_method()
	    : TLS_client_method());
    const char *file;

    if (sc == NULL) {
	(void) TlsError(interp, "cannot make a context", NULL);
	return NULL;
    }
    (void) SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
    SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	    | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
#ifdef SSL_OP_ENABLE_KTLS
	    | SSL_OP_ENABLE_KTLS	/* Used where the kernel has it. */
#endif
	    | (server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
    SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE
	    | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /*
     * Read ahead: one read(2) takes what the socket holds, up to the
     * record buffer, instead of a record's 5-byte header and then its
     * body, each read on its own (records already read wait in OpenSSL's
     * buffer: the transport's TlsPending reports them).
     */

    SSL_CTX_set_read_ahead(sc, 1);
    /*
     * Always our callback: without -password an encrypted key fails to
     * load rather than OpenSSL asking on the terminal.
     */

    SSL_CTX_set_default_passwd_cb(sc, PasswordCb);
    SSL_CTX_set_default_passwd_cb_userdata(sc, o->password != NULL
	    ? (void *) Tcl_GetString(o->password) : NULL);
    if (o->ciphers != NULL
	    && SSL_CTX_set_cipher_list(sc, Tcl_GetString(o->ciphers)) != 1) {
	(void) TlsError(interp, "no usable cipher in -ciphers", NULL);
	goto fail;
    }
    if (o->cipherSuites != NULL && SSL_CTX_set_ciphersuites(sc,
	    Tcl_GetString(o->cipherSuites)) != 1) {
	(void) TlsError(interp, "no usable suite in -ciphersuites", NULL);
	goto fail;
    }
    if (o->certFile != NULL) {
	file = Tcl_GetString(o->certFile);
	if (SSL_CTX_use_certificate_chain_file(sc, file) != 1) {
	    (void) TlsError(interp, "cannot load certificate", file);
	    goto fail;
	}
	file = Tcl_GetString(o->keyFile);
	if (SSL_CTX_use_PrivateKey_file(sc, file, SSL_FILETYPE_PEM) != 1) {
	    (void) TlsError(interp, "cannot load key", file);
	    goto fail;
	}
	if (SSL_CTX_check_private_key(sc) != 1) {
	    (void) TlsError(interp, "key does not match certificate", file);
	    goto fail;
	}
    }
    if (o->caFile != NULL) {
	file = Tcl_GetString(o->caFile);
	if (SSL_CTX_load_verify_locations(sc, file, NULL) != 1) {
	    (void) TlsError(interp, "cannot load CA certificates", file);
	    goto fail;
	}
	if (server) {
	    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(file);

	    if (names != NULL) {
		SSL_CTX_set_client_CA_list(sc, names);
	    }
	}
    } else if (!server && o->verify
	    && SSL_CTX_set_default_verify_paths(sc) != 1) {
	(void) TlsError(interp, "cannot load the system's CA certificates",
		NULL);
	goto fail;
    }
    if (server) {
	if (o->caFile != NULL) {
	    SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | (o->require
		    ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	}
	if (alpn != NULL) {
	    SSL_CTX_set_alpn_select_cb(sc, SelectAlpn, owner);
	}
	SSL_CTX_set_client_hello_cb(sc, SelectCert, owner);
	(void) SSL_CTX_set_session_id_context(sc,
		(const unsigned char *) "multiplexer", 11);
    } else {
	SSL_CTX_set_verify(sc, o->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
		NULL);
	if (alpn != NULL && SSL_CTX_set_alpn_protos(sc, alpn,
		(unsigned) alpnLen) != 0) {
	    (void) TlsError(interp, "bad -alpn list", NULL);
	    goto fail;
	}
    }
    SSL_CTX_set_default_passwd_cb_userdata(sc, NULL);	/* Keys loaded. */
    ERR_clear_error();
    return sc;

  fail:
    SSL_CTX_free(sc);
    return NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * Build --
 *
 *	Parses options and makes every OpenSSL context they call for into
 *	ctx (whose certs must be empty).
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with ctx's certs left empty.
 *
 * Side effects:
 *	Reads files; fills ctx.
 *
 *----------------------------------------------------------------------
 */

static int
Build(
    Tcl_Interp *interp,
    Tcl_Obj *options,
    int server,
    MpTlsContext *ctx)
{
    TlsOptions o;
    Tcl_Size n = 0, i, k;
    Tcl_Obj **names = NULL;

    if (ParseOptions(interp, options, server, 0, &o) != TCL_OK) {
	return TCL_ERROR;
    }
    if (o.serverNames != NULL && (Tcl_ListObjGetElements(interp,
	    o.serverNames, &n, &names) != TCL_OK || n % 2 != 0)) {
	return MpError(interp, "VALUE", "TLS",
		"-servernames must be a list of name and option list pairs");
    }

    /*
     * ALPN protocols in wire format: a length byte before each.
     */

    ctx->alpnLen = 0;
    if (o.alpn != NULL) {
	Tcl_Size m;
	Tcl_Obj **protos;
	size_t need = 0;

	if (Tcl_ListObjGetElements(interp, o.alpn, &m, &protos) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "TLS", NULL);
	    return TCL_ERROR;
	}
	for (i = 0; i < m; i++) {
	    Tcl_Size len;

	    (void) Tcl_GetStringFromObj(protos[i], &len);
	    if (len < 1 || len > 255) {
		return MpError(interp, "VALUE", "TLS",
			"an ALPN protocol name has 1 to 255 bytes: \"%s\"",
			Tcl_GetString(protos[i]));
	    }
	    need += 1 + (size_t) len;
	}
	if (ctx->alpn != NULL) {
	    MpFree(ctx->alpn);
	}
	ctx->alpn = (unsigned char *) MpAlloc(need + 1);
	for (i = 0; i < m; i++) {
	    Tcl_Size len;
	    const char *s = Tcl_GetStringFromObj(protos[i], &len);

	    ctx->alpn[ctx->alpnLen++] = (unsigned char) len;
	    memcpy(ctx->alpn + ctx->alpnLen, s, (size_t) len);
	    ctx->alpnLen += (size_t) len;
	}
    }
    ctx->certs = (TlsCert *) MpAlloc(sizeof(TlsCert) * (size_t) (1 + n / 2));
    ctx->certCount = 0;
    ctx->certs[0].name = NULL;
    ctx->certs[0].sslCtx = MakeSslCtx(interp, &o, server,
	    ctx->alpnLen ? ctx->alpn : NULL, ctx->alpnLen, ctx);
    if (ctx->certs[0].sslCtx == NULL) {
	goto fail;
    }
    ctx->certCount = 1;
    for (i = 0; i < n; i += 2) {
	TlsOptions sub;
	Tcl_Size len;
	const char *name = Tcl_GetStringFromObj(names[i], &len);

	if (ParseOptions(interp, names[i + 1], server, 1, &sub) != TCL_OK) {
	    goto fail;
	}

	/* The listener's other settings apply to every name. */
	k = ctx->certCount;
	o.certFile = sub.certFile;
	o.keyFile = sub.keyFile;
	o.password = sub.password ? sub.password : o.password;
	ctx->certs[k].sslCtx = MakeSslCtx(interp, &o, server,
		ctx->alpnLen ? ctx->alpn : NULL, ctx->alpnLen, ctx);
	if (ctx->certs[k].sslCtx == NULL) {
	    goto fail;
	}
	ctx->certs[k].name = (char *) MpAlloc((size_t) len + 1);
	memcpy(ctx->certs[k].name, name, (size_t) len + 1);
	ctx->certCount++;
    }
    if (ctx->serverName != NULL) {
	MpFree(ctx->serverName);
	ctx->serverName = NULL;
    }
    if (o.serverName != NULL) {
	Tcl_Size len;
	const char *s = Tcl_GetStringFromObj(o.serverName, &len);

	ctx->serverName = (char *) MpAlloc((size_t) len + 1);
	memcpy(ctx->serverName, s, (size_t) len + 1);
    }
    return TCL_OK;

  fail:
    FreeCerts(ctx);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * FreeCerts --
 *
 *	Drops a context's OpenSSL contexts (connections made from them keep
 *	their own references).
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
FreeCerts(
    MpTlsContext *ctx)
{
    int i;

    if (ctx->certs == NULL) {
	return;
    }
    for (i = 0; i < ctx->certCount; i++) {
	SSL_CTX_free(ctx->certs[i].sslCtx);
	if (ctx->certs[i].name != NULL) {
	    MpFree(ctx->certs[i].name);
	}
    }
    MpFree(ctx->certs);
    ctx->certs = NULL;
    ctx->certCount = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsContextNew, MpTlsContextRef, MpTlsContextUnref --
 *
 *	Make a context from a -tls list (server: a listener's; else an
 *	outbound link's), and count its users.
 *
 * Results:
 *	MpTlsContextNew: TCL_OK with *ctxPtr set (one reference), or
 *	TCL_ERROR with -errorcode {MULTIPLEXER TLS} (a file that failed),
 *	{MULTIPLEXER OPTION ...} or {MULTIPLEXER VALUE ...}.
 *
 * Side effects:
 *	Reads files; the last unref frees the context.
 *
 *----------------------------------------------------------------------
 */

int
MpTlsContextNew(
    Tcl_Interp *interp,
    Tcl_Obj *options,
    int server,
    MpTlsContext **ctxPtr)
{
    MpTlsContext *ctx = (MpTlsContext *) MpAlloc(sizeof(MpTlsContext));

    memset(ctx, 0, sizeof(MpTlsContext));
    ctx->refCount = 1;
    ctx->server = server;
    ERR_clear_error();
    if (Build(interp, options, server, ctx) != TCL_OK) {
	if (ctx->alpn != NULL) {
	    MpFree(ctx->alpn);
	}
	MpFree(ctx);
	return TCL_ERROR;
    }
    ctx->options = Tcl_DuplicateObj(options);
    Tcl_IncrRefCount(ctx->options);
    *ctxPtr = ctx;
    return TCL_OK;
}

void
MpTlsContextRef(
    MpTlsContext *ctx)
{
    ctx->refCount++;
}

void
MpTlsContextUnref(
    MpTlsContext *ctx)
{
    if (--ctx->refCount > 0) {
	return;
    }
    FreeCerts(ctx);
    if (ctx->alpn != NULL) {
	MpFree(ctx->alpn);
    }
    if (ctx->serverName != NULL) {
	MpFree(ctx->serverName);
    }
    Tcl_DecrRefCount(ctx->options);
    MpFree(ctx);
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsContextReload --
 *
 *	Re-reads a context's files. Everything is loaded into new OpenSSL
 *	contexts first; only if all load are they swapped in, so a file
 *	that fails leaves the context as it was.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with -errorcode {MULTIPLEXER TLS}.
 *
 * Side effects:
 *	Reads files; new connections get the new certificates.
 *
 *----------------------------------------------------------------------
 */

int
MpTlsContextReload(
    Tcl_Interp *interp,
    MpTlsContext *ctx)
{
    MpTlsContext fresh;

    memset(&fresh, 0, sizeof(fresh));
    fresh.server = ctx->server;
    if (Build(interp, ctx->options, ctx->server, &fresh) != TCL_OK) {
	if (fresh.alpn != NULL) {
	    MpFree(fresh.alpn);
	}
	return TCL_ERROR;
    }

    /*
     * The new OpenSSL contexts' callbacks were given &fresh: point them at
     * ctx, which they now belong to.
     */

    {
	int i;

	for (i = 0; i < fresh.certCount; i++) {
	    SSL_CTX *sc = fresh.certs[i].sslCtx;

	    if (ctx->server) {
		if (fresh.alpnLen > 0) {
		    SSL_CTX_set_alpn_select_cb(sc, SelectAlpn, ctx);
		}
		SSL_CTX_set_client_hello_cb(sc, SelectCert, ctx);
	    }
	}
    }
    FreeCerts(ctx);
    if (ctx->alpn != NULL) {
	MpFree(ctx->alpn);
    }
    if (ctx->serverName != NULL) {
	MpFree(ctx->serverName);
    }
    ctx->certs = fresh.certs;
    ctx->certCount = fresh.certCount;
    ctx->alpn = fresh.alpn;
    ctx->alpnLen = fresh.alpnLen;
    ctx->serverName = fresh.serverName;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsContextNewSession, MpTlsContextServerName --
 *
 *	A new OpenSSL connection over socket fd from the context's default
 *	OpenSSL context (a client one asks for and checks its -servername);
 *	the name an outbound link asks for.
 *
 * Results:
 *	The SSL (as void *), or NULL with *errPtr set (ENOMEM); the name or
 *	NULL.
 *
 * Side effects:
 *	Allocates in OpenSSL.
 *
 *----------------------------------------------------------------------
 */

void *
MpTlsContextNewSession(
    MpTlsContext *ctx,
    MpSocket fd,
    int *errPtr)
{
    SSL *ssl = SSL_new(ctx->certs[0].sslCtx);

    if (ssl == NULL || SSL_set_fd(ssl, (int) fd) != 1) {
	if (ssl != NULL) {
	    SSL_free(ssl);
	}
	ERR_clear_error();
	*errPtr = ENOMEM;
	return NULL;
    }
    if (ctx->server) {
	SSL_set_accept_state(ssl);
    } else {
	SSL_set_connect_state(ssl);
	if (ctx->serverName != NULL) {
	    MpAddr ip;
	    int verify = (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0;

	    if (MpSockParseAddr(ctx->serverName, &ip) == 0) {
		/* An address: no SNI (RFC 6066); checked as an IP SAN. */
		if (verify) {
		    (void) X509_VERIFY_PARAM_set1_ip_asc(
			    SSL_get0_param(ssl), ctx->serverName);
		}
	    } else {
		(void) SSL_set_tlsext_host_name(ssl, ctx->serverName);
		if (verify) {
		    (void) SSL_set1_host(ssl, ctx->serverName);
		}
	    }
	}
    }
    return ssl;
}

const char *
MpTlsContextServerName(
    const MpTlsContext *ctx)
{
    return ctx->serverName;
}

void
MpTlsContextSetServerName(
    MpTlsContext *ctx,
    const char *name)
{
    size_t len = strlen(name);

    if (ctx->serverName != NULL) {
	MpFree(ctx->serverName);
    }
    ctx->serverName = (char *) MpAlloc(len + 1);
    memcpy(ctx->serverName, name, len + 1);
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsBuildInfo --
 *
 *	What ::multiplexer::build-info says of TLS: the OpenSSL version
 *	running, and whether it can hand a connection's encryption to the
 *	kernel (kernel TLS; used per connection only where the kernel has
 *	it too: see Stats ktls_clients).
 *
 * Results:
 *	A new dict {openssl VERSION ktls 0|1}.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

Tcl_Obj *
MpTlsBuildInfo(void)
{
    Tcl_Obj *dict = Tcl_NewDictObj();

    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("openssl", -1),
	    Tcl_NewStringObj(OpenSSL_version(OPENSSL_VERSION), -1));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("ktls", -1),
#if defined(SSL_OP_ENABLE_KTLS) && !defined(OPENSSL_NO_KTLS)
	    Tcl_NewIntObj(1)
#else
	    Tcl_NewIntObj(0)
#endif
	    );
    return dict;
}
