/*
 * fuzz_tls.c --
 *
 *	libFuzzer harness for the server side of a TLS handshake (issue
 *	#17): the bytes a client would send are fed, through a memory BIO,
 *	to an OpenSSL server set up as a TLS listener's (MakeSslCtx,
 *	generic/mpTlsContext.c), whose client hello and ALPN callbacks call
 *	the server's own functions (generic/mpTlsHello.c: MpTlsSniName,
 *	MpTlsChooseAlpn). Both functions are also fed slices of the input
 *	directly.
 *
 *	The server, made at the first call, in memory (no files): TLS 1.2
 *	at least, no compression, no renegotiation, unexpected EOF ignored,
 *	the listener's SSL_MODE flags, server cipher preference, a session
 *	id context; two self-signed EC P-256 certificates: the default one,
 *	and one in a second SSL_CTX for the name SNI_NAME, which the client
 *	hello callback switches to as SelectCert does for -servernames. The
 *	default certificate is also the CA for client certificates.
 *
 *	Input layout:
 *	    byte 0     bits 0-1: client certificates (0 not asked, 1 asked,
 *		       2 required, 3 asked and any accepted, as if its
 *		       chain were good); bits 2-3: our ALPN list (none,
 *		       "http/1.1", "h2" "http/1.1", or four protocols); bit 4:
 *		       after the last chunk, end of file; bits 5-7 unused
 *	    byte 1-2   chunking seed (sizes drawn from a small PRNG; the low
 *		       bits of byte 2 choose the largest chunk: 1, 7, 64
 *		       bytes or 64 KiB)
 *	    byte 3     split point for the direct calls
 *	    byte 4...  the bytes a client sends
 *
 *	Handshake: a new SSL with a memory BIO pair per input; after each
 *	chunk SSL_do_handshake (then SSL_read once it is done, which cannot
 *	happen without a client's keys), and the output drained. Checked:
 *	  - OpenSSL never wants to write (the write BIO is memory) and
 *	    nothing is fed after a failure; the client hello callback runs
 *	    at most twice (a hello, and another after HelloRetryRequest);
 *	  - in the client hello callback: MpTlsSniName on an exact-size copy
 *	    of the server_name extension gives the same as the harness's own
 *	    parser (result, name's place and length); the connection moves
 *	    to the second certificate exactly when the name is SNI_NAME in
 *	    any ASCII case;
 *	  - in the ALPN callback: the client's list (checked by OpenSSL) is
 *	    well-formed, and MpTlsChooseAlpn (exact-size copies) chooses
 *	    what the harness's own choice does; no list of ours: no ALPN;
 *	  - afterwards: a non-empty SSL_get_servername is the name
 *	    MpTlsSniName found in one of the hellos (OpenSSL's parser and
 *	    ours agree); the protocol selected (SSL_get0_alpn_selected), if
 *	    any, is one our callback chose, in our list; the SSL_CTX is the
 *	    second exactly when a hello named SNI_NAME; no compression;
 *	  - the output: whole records only, of type 20 to 23, version 3.0
 *	    to 3.4, length 1 to 2^14 + 2048 (an alert may carry any
 *	    version: OpenSSL answers a hello or record of a wrong version in
 *	    that version); plaintext alerts of 2 bytes, nothing after a
 *	    fatal one; in TLS 1.3 nothing but encrypted records after the
 *	    first. Its plaintext handshake messages: at most as many
 *	    ServerHellos as hellos, each with legacy version 3.3 and null
 *	    compression, all picking the same version (1.2, or 1.3 by
 *	    supported_versions), the one SSL_version reports unless the
 *	    connection failed; TLS 1.3 sends nothing else in plaintext;
 *	    TLS 1.2 sends a prefix of ServerHello, Certificate,
 *	    ServerKeyExchange, CertificateRequest (exactly when client
 *	    certificates are asked), ServerHelloDone, and its certificate
 *	    is the second exactly when the SNI switched.
 *
 *	Direct: MpTlsSniName on exact-size copies of the stream and of its
 *	tail from the split point; MpTlsChooseAlpn on the stream's head and
 *	tail (split point), and on each of our lists and the tail. Checked:
 *	  - the same results as the harness's own parsers; nothing written
 *	    on failure;
 *	  - a host name found lies inside the buffer, 1 to 65535 bytes, no
 *	    NUL, preceded by its type (0) and length;
 *	  - a protocol chosen lies inside our list, preceded by its length,
 *	    and is in the client's list; swapping the lists also finds one;
 *	    a valid list against itself gives its first protocol.
 *	Memory errors and leaks are caught by ASan/LSan, undefined behaviour
 *	by UBSan (tools/run-fuzz.sh builds with all three). OpenSSL itself is
 *	not instrumented (its branches do not guide the fuzzer, and ASan
 *	sees only its allocations): of OpenSSL, what it hands our callbacks
 *	and what it writes are checked.
 */

#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "mpTlsHello.h"

#define FUZZ_NAME "fuzz_tls"
#include "fuzzUtil.h"

#define SNI_NAME	"sni.fuzz.example"
#define MAX_HELLOS	4		/* Recorded per input. */
#define GET16(p)	(((size_t) (p)[0] << 8) | (size_t) (p)[1])
#define GET24(p)	(((size_t) (p)[0] << 16) | ((size_t) (p)[1] << 8) \
			| (size_t) (p)[2])

/*
 * Our ALPN lists (wire format), chosen by bits 2-3 of byte 0. The first is
 * none: no ALPN configured.
 */

static const struct {
    const char *list;
    size_t len;
} ourAlpn[4] = {
    {"", 0},
    {"\010http/1.1", 9},
    {"\002h2\010http/1.1", 12},
    {"\015x-multiplexer\002h2\010http/1.1\012acme-tls/1", 37}
};

/*
 * The server, made once.
 */

static SSL_CTX *defCtx, *sniCtx;
static X509 *defCert, *sniCert;
static unsigned char *defDer, *sniDer;
static int defDerLen, sniDerLen;

/*
 * What one input's handshake saw.
 */

typedef struct Run {
    int verifyMode;		/* Bits 0-1 of byte 0. */
    const unsigned char *ours;	/* Our ALPN list, */
    size_t oursLen;		/* and its length (0: none). */
    int hellos;			/* Client hello callbacks. */
    int sniFound[MAX_HELLOS];	/* MpTlsSniName's result per hello, */
    unsigned char *sni[MAX_HELLOS];	/* the name (copy), */
    size_t sniLen[MAX_HELLOS];	/* and its length. */
    int sniMatched;		/* A hello named SNI_NAME. */
    int alpnCalls;		/* ALPN callbacks, */
    const unsigned char *chosen[MAX_HELLOS];
				/* What each chose (into ours), or NULL, */
    unsigned char chosenLen[MAX_HELLOS];	/* and its length. */
    unsigned char *out;		/* Everything the server wrote. */
    size_t outLen, outCap;
    int failed;			/* OpenSSL reported the end. */
} Run;

/*
 * Copy --
 *	An exact-size heap copy (so that ASan sees any read past its end).
 */

static unsigned char *
Copy(const unsigned char *p, size_t n)
{
    unsigned char *c = (unsigned char *) malloc(n);

    CHECK(c != NULL);
    if (n > 0) {
	memcpy(c, p, n);
    }
    return c;
}

/*
 * RefSni --
 *	The harness's own reading of a server_name extension (RFC 6066
 *	section 3): 1 with the host name's offset and length, or 0.
 */

static int
RefSni(const unsigned char *p, size_t n, size_t *offPtr, size_t *lenPtr)
{
    size_t k = 2, off = 0, len = 0, t;
    int names = 0;

    if (n <= 2 || GET16(p) + 2 != n) {
	return 0;
    }
    while (k != n) {
	size_t l;

	if (k + 3 > n) {
	    return 0;
	}
	l = GET16(p + k + 1);
	if (k + 3 + l > n) {
	    return 0;
	}
	if (p[k] == 0) {
	    if (++names > 1 || l == 0) {
		return 0;
	    }
	    for (t = 0; t < l; t++) {
		if (p[k + 3 + t] == 0) {
		    return 0;
		}
	    }
	    off = k + 3;
	    len = l;
	}
	k += 3 + l;
    }
    if (names == 0) {
	return 0;
    }
    *offPtr = off;
    *lenPtr = len;
    return 1;
}

/*
 * CheckSni --
 *	MpTlsSniName on an exact-size copy of p against RefSni. Returns its
 *	result; with 1, a malloc'd copy of the name in *namePtr.
 */

static int
CheckSni(const unsigned char *p, size_t n, unsigned char **namePtr,
	size_t *lenPtr)
{
    unsigned char *c = Copy(p, n);
    const unsigned char *name = (const unsigned char *) "untouched";
    size_t len = 12345, off = 0, refLen = 0;
    int rc = MpTlsSniName(c, n, &name, &len);
    int ref = RefSni(c, n, &off, &refLen);

    CHECK(rc == 0 || rc == 1);
    CHECK(rc == ref);
    if (rc == 0) {
	CHECK(len == 12345 && memcmp(name, "untouched", 10) == 0);
    } else {
	CHECK(name == c + off && len == refLen);
	CHECK(name >= c + 5 && len >= 1 && len <= 65535);
	CHECK(len <= (size_t) (c + n - name));
	CHECK(memchr(name, '\0', len) == NULL);
	CHECK(name[-3] == 0 && GET16(name - 2) == len);
	if (namePtr != NULL) {
	    *namePtr = Copy(name, len);
	    *lenPtr = len;
	}
    }
    free(c);
    return rc;
}

/*
 * RefAlpnSplit --
 *	The harness's own reading of an ALPN list: the offsets of its
 *	protocols (their length bytes) into offs, and their count; -1 if
 *	the list is empty or malformed.
 */

static int
RefAlpnSplit(const unsigned char *p, size_t n, size_t *offs)
{
    size_t k = 0;
    int count = 0;

    while (k < n) {
	if (p[k] == 0 || k + 1 + p[k] > n) {
	    return -1;
	}
	offs[count++] = k;
	k += 1 + p[k];
    }
    return count > 0 ? count : -1;
}

/*
 * RefAlpn --
 *	The harness's own ALPN choice: the offset in ours of the chosen
 *	protocol's length byte, or -1.
 */

static long
RefAlpn(const unsigned char *ours, size_t oursLen,
	const unsigned char *theirs, size_t theirsLen)
{
    size_t *a = (size_t *) malloc(sizeof(size_t) * (oursLen / 2 + 1));
    size_t *b = (size_t *) malloc(sizeof(size_t) * (theirsLen / 2 + 1));
    int na, nb, i, j;
    long found = -1;

    CHECK(a != NULL && b != NULL);
    na = RefAlpnSplit(ours, oursLen, a);
    nb = RefAlpnSplit(theirs, theirsLen, b);
    for (i = 0; i < na && nb > 0 && found < 0; i++) {
	for (j = 0; j < nb; j++) {
	    const unsigned char *x = ours + a[i], *y = theirs + b[j];

	    if (x[0] == y[0] && memcmp(x, y, 1 + (size_t) x[0]) == 0) {
		found = (long) a[i];
		break;
	    }
	}
    }
    free(a);
    free(b);
    return found;
}

/*
 * CheckAlpn --
 *	MpTlsChooseAlpn on exact-size copies against RefAlpn, and the
 *	properties of a choice. Returns the offset of the chosen name (its
 *	bytes, after the length) in ours, or -1.
 */

static long
CheckAlpn(const unsigned char *ours, size_t oursLen,
	const unsigned char *theirs, size_t theirsLen)
{
    unsigned char *a = Copy(ours, oursLen), *b = Copy(theirs, theirsLen);
    const unsigned char *out = (const unsigned char *) "untouched";
    unsigned char outLen = 77;
    int rc = MpTlsChooseAlpn(a, oursLen, b, theirsLen, &out, &outLen);
    long ref = RefAlpn(a, oursLen, b, theirsLen), res = -1;

    CHECK(rc == 0 || rc == 1);
    CHECK(rc == (ref >= 0));
    if (rc == 0) {
	CHECK(outLen == 77 && memcmp(out, "untouched", 10) == 0);
    } else {
	const unsigned char *o2 = NULL;
	unsigned char l2 = 0;
	size_t k;
	int inTheirs = 0;

	CHECK(out == a + ref + 1);
	CHECK(outLen >= 1 && out[-1] == outLen);
	CHECK((size_t) (out - a) + outLen <= oursLen);
	for (k = 0; k < theirsLen; k += 1 + (size_t) b[k]) {
	    inTheirs |= b[k] == outLen && memcmp(b + k + 1, out, outLen) == 0;
	}
	CHECK(inTheirs);

	/* Something in common either way round. */
	CHECK(MpTlsChooseAlpn(b, theirsLen, a, oursLen, &o2, &l2) == 1);
	CHECK(l2 >= 1 && o2 > b && (size_t) (o2 - b) + l2 <= theirsLen);

	/* A valid list against itself: its first protocol. */
	CHECK(MpTlsChooseAlpn(a, oursLen, a, oursLen, &o2, &l2) == 1);
	CHECK(o2 == a + 1 && l2 == a[0]);
	res = (long) (out - a);
    }
    free(a);
    free(b);
    return res;
}

/*
 * CaseEqual --
 *	ASCII case-insensitive comparison of n bytes with a C string
 *	(written apart from the server's).
 */

static int
CaseEqual(const unsigned char *p, size_t n, const char *s)
{
    size_t k;

    if (strlen(s) != n) {
	return 0;
    }
    for (k = 0; k < n; k++) {
	int x = p[k], y = (unsigned char) s[k];

	if (x >= 'A' && x <= 'Z') {
	    x += 'a' - 'A';
	}
	if (y >= 'A' && y <= 'Z') {
	    y += 'a' - 'A';
	}
	if (x != y) {
	    return 0;
	}
    }
    return 1;
}

/*
 * HelloCb --
 *	The client hello callback: SelectCert's work, checked.
 */

static int
HelloCb(SSL *ssl, int *alert, void *arg)
{
    Run *run = (Run *) SSL_get_app_data(ssl);
    const unsigned char *ext;
    size_t extLen;
    int h;

    (void) alert;
    (void) arg;
    CHECK(run != NULL);
    h = run->hellos++;
    CHECK(h < 2);
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext,
	    &extLen)) {
	return SSL_CLIENT_HELLO_SUCCESS;
    }
    run->sniFound[h] = CheckSni(ext, extLen, &run->sni[h], &run->sniLen[h]);
    if (run->sniFound[h] && CaseEqual(run->sni[h], run->sniLen[h],
	    SNI_NAME)) {
	run->sniMatched = 1;
	CHECK(SSL_set_SSL_CTX(ssl, sniCtx) == sniCtx);
	CHECK(SSL_get_SSL_CTX(ssl) == sniCtx);
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * AlpnCb --
 *	The ALPN callback: SelectAlpn's work, checked.
 */

static int
AlpnCb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
	const unsigned char *in, unsigned int inlen, void *arg)
{
    Run *run = (Run *) SSL_get_app_data(ssl);
    size_t *offs = (size_t *) malloc(sizeof(size_t) * (inlen / 2 + 1));
    long off;
    int c;

    (void) arg;
    CHECK(run != NULL && offs != NULL);
    CHECK(RefAlpnSplit(in, inlen, offs) > 0);	/* OpenSSL checked it. */
    free(offs);
    c = run->alpnCalls++;
    CHECK(c < MAX_HELLOS);
    if (run->oursLen == 0) {
	return SSL_TLSEXT_ERR_NOACK;
    }
    off = CheckAlpn(run->ours, run->oursLen, in, inlen);
    if (off < 0) {
	return SSL_TLSEXT_ERR_NOACK;
    }
    run->chosen[c] = run->ours + off;
    run->chosenLen[c] = run->ours[off - 1];
    *out = run->chosen[c];
    *outlen = run->chosenLen[c];
    return SSL_TLSEXT_ERR_OK;
}

/*
 * AcceptAnyCert --
 *	Verify callback of mode 3: every client certificate passes.
 */

static int
AcceptAnyCert(int ok, X509_STORE_CTX *store)
{
    (void) ok;
    (void) store;
    return 1;
}

/*
 * MakeCert --
 *	A self-signed certificate for a fresh EC P-256 key.
 */

static X509 *
MakeCert(const char *cn, long serial, EVP_PKEY **keyPtr)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    EVP_PKEY *key = NULL;
    X509 *x = X509_new();
    X509_NAME *name;

    CHECK(pc != NULL && x != NULL);
    CHECK(EVP_PKEY_keygen_init(pc) == 1);
    CHECK(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc,
	    NID_X9_62_prime256v1) == 1);
    CHECK(EVP_PKEY_keygen(pc, &key) == 1);
    EVP_PKEY_CTX_free(pc);
    CHECK(X509_set_version(x, 2) == 1);
    CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1);
    CHECK(X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL);
    CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 86400) != NULL);
    CHECK(X509_set_pubkey(x, key) == 1);
    name = X509_get_subject_name(x);
    CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *) cn, -1, -1, 0) == 1);
    CHECK(X509_set_issuer_name(x, name) == 1);
    CHECK(X509_sign(x, key, EVP_sha256()) > 0);
    *keyPtr = key;
    return x;
}

/*
 * MakeCtx --
 *	A server SSL_CTX as MakeSslCtx makes one for a listener.
 */

static SSL_CTX *
MakeCtx(X509 *cert, EVP_PKEY *key, X509 *ca)
{
    SSL_CTX *sc = SSL_CTX_new(TLS_server_method());

    CHECK(sc != NULL);
    CHECK(SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION) == 1);
    SSL_CTX_set_options(sc, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	    | SSL_OP_IGNORE_UNEXPECTED_EOF
#endif
	    | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(sc, SSL_MODE_ENABLE_PARTIAL_WRITE
	    | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    CHECK(SSL_CTX_use_certificate(sc, cert) == 1);
    CHECK(SSL_CTX_use_PrivateKey(sc, key) == 1);
    CHECK(SSL_CTX_check_private_key(sc) == 1);
    CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(sc), ca) == 1);
    CHECK(SSL_CTX_add_client_CA(sc, ca) == 1);
    SSL_CTX_set_alpn_select_cb(sc, AlpnCb, NULL);
    SSL_CTX_set_client_hello_cb(sc, HelloCb, NULL);
    CHECK(SSL_CTX_set_session_id_context(sc,
	    (const unsigned char *) "multiplexer", 11) == 1);
    return sc;
}

/*
 * Setup --
 *	The server's two contexts, once.
 */

static void
Setup(void)
{
    EVP_PKEY *defKey, *sniKey;
    int i;

    for (i = 0; i < 4; i++) {
	CHECK(strlen(ourAlpn[i].list) == ourAlpn[i].len);
    }
    defCert = MakeCert("default.fuzz.example", 1, &defKey);
    sniCert = MakeCert(SNI_NAME, 2, &sniKey);
    defCtx = MakeCtx(defCert, defKey, defCert);
    sniCtx = MakeCtx(sniCert, sniKey, defCert);
    EVP_PKEY_free(defKey);	/* The contexts hold them. */
    EVP_PKEY_free(sniKey);
    defDerLen = i2d_X509(defCert, &defDer);
    sniDerLen = i2d_X509(sniCert, &sniDer);
    CHECK(defDerLen > 0 && sniDerLen > 0);
}

/*
 * Drain --
 *	Moves what the server wrote into run->out.
 */

static void
Drain(BIO *wbio, Run *run)
{
    int n;

    for (;;) {
	if (run->outCap - run->outLen < 4096) {
	    run->outCap = run->outCap * 2 + 8192;
	    run->out = (unsigned char *) realloc(run->out, run->outCap);
	    CHECK(run->out != NULL);
	}
	n = BIO_read(wbio, run->out + run->outLen, 4096);
	if (n <= 0) {
	    break;
	}
	run->outLen += (size_t) n;
    }
    CHECK(BIO_ctrl_pending(wbio) == 0);
}

/*
 * Settle --
 *	Sorts out an OpenSSL call that returned rc <= 0: 1 to go on (it
 *	wants more input), 0 if the connection has ended.
 */

static int
Settle(SSL *ssl, int rc)
{
    int e = SSL_get_error(ssl, rc);

    CHECK(e != SSL_ERROR_WANT_WRITE);
    CHECK(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_SSL
	    || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN);
    return e == SSL_ERROR_WANT_READ;
}

/*
 * Step --
 *	Advances the handshake, then reads what application data there is.
 */

static void
Step(SSL *ssl, Run *run)
{
    unsigned char buf[4096];
    int rc;

    CHECK(!run->failed);
    if (!SSL_is_init_finished(ssl)) {
	rc = SSL_do_handshake(ssl);
	if (rc <= 0) {
	    run->failed = !Settle(ssl, rc);
	    return;
	}
	CHECK(rc == 1);
    }
    for (;;) {
	rc = SSL_read(ssl, buf, (int) sizeof(buf));
	if (rc <= 0) {
	    run->failed = !Settle(ssl, rc);
	    return;
	}
    }
}

/*
 * CheckServerHello --
 *	A ServerHello's body (or a HelloRetryRequest's): legacy version 3.3,
 *	null compression. Returns the version it picks.
 */

static int
CheckServerHello(const unsigned char *b, size_t n)
{
    size_t k, extEnd;
    int version = TLS1_2_VERSION;

    CHECK(n >= 38 && b[0] == 3 && b[1] == 3);
    k = 35 + (size_t) b[34];		/* After the session id. */
    CHECK(n >= k + 3);
    CHECK(b[k + 2] == 0);		/* Compression: null. */
    k += 3;
    if (k == n) {
	return version;
    }
    CHECK(n - k >= 2 && GET16(b + k) == n - k - 2);
    extEnd = n;
    for (k += 2; k < extEnd; k += 4 + GET16(b + k + 2)) {
	CHECK(extEnd - k >= 4 && GET16(b + k + 2) <= extEnd - k - 4);
	if (GET16(b + k) == 43) {		/* supported_versions */
	    CHECK(GET16(b + k + 2) == 2 && GET16(b + k + 4) == 0x0304);
	    version = TLS1_3_VERSION;
	}
    }
    return version;
}

/*
 * CheckOutput --
 *	The server's output (see the file comment).
 */

static void
CheckOutput(const Run *run, SSL *ssl)
{
    static const int flight12[] = {2, 11, 12, 13, 14};
    const unsigned char *o = run->out;
    unsigned char *hs = NULL;
    size_t n = run->outLen, pos = 0, hsLen = 0, k;
    int plain = 1, fatal = 0, encrypted = 0, version = 0, msgs = 0;
    int hellos = 0, step = 0, certReq = 0, done = 0;

    hs = (unsigned char *) malloc(n + 1);
    CHECK(hs != NULL);
    while (pos < n) {
	const unsigned char *body;
	size_t len;
	int type;

	CHECK(!fatal);
	CHECK(n - pos >= 5);
	type = o[pos];
	len = GET16(o + pos + 3);
	CHECK(type >= 20 && type <= 23);
	/*
	 * A hello or record of a wrong version is answered with an alert
	 * of that version (OpenSSL's choice): alerts may carry any.
	 */
	CHECK(type == 21 || (o[pos + 1] == 3 && o[pos + 2] <= 4));
	CHECK(len >= 1 && len <= 16384 + 2048);
	CHECK(n - pos - 5 >= len);
	body = o + pos + 5;
	pos += 5 + len;
	if (encrypted) {
	    CHECK(type == 23);		/* TLS 1.3, once encrypted. */
	    continue;
	}
	if (!plain) {
	    continue;
	}
	switch (type) {
	case 20:
	    CHECK(len == 1 && body[0] == 1);
	    if (hsLen >= 4 && hs[0] == 2) {
		CHECK(GET24(hs + 1) <= hsLen - 4);
		version = CheckServerHello(hs + 4, GET24(hs + 1));
	    }
	    CHECK(version != 0);	/* After a ServerHello only. */
	    plain = version == TLS1_3_VERSION;	/* TLS 1.2: Finished. */
	    break;
	case 21:
	    CHECK(len == 2 && (body[0] == 1 || body[0] == 2));
	    fatal = body[0] == 2;
	    break;
	case 22:
	    memcpy(hs + hsLen, body, len);
	    hsLen += len;
	    break;
	default:
	    encrypted = 1;
	    break;
	}
    }
    CHECK(pos == n);

    /*
     * The plaintext handshake messages.
     */

    version = 0;
    for (k = 0; k < hsLen; k += 4 + GET24(hs + k + 1)) {
	const unsigned char *b = hs + k + 4;
	size_t len;

	CHECK(hsLen - k >= 4 && GET24(hs + k + 1) <= hsLen - k - 4);
	len = GET24(hs + k + 1);
	msgs++;
	if (hs[k] == 2) {
	    int v = CheckServerHello(b, len);

	    CHECK(version == 0 || v == version);
	    version = v;
	    hellos++;
	}
	if (version == TLS1_3_VERSION) {
	    CHECK(hs[k] == 2);
	    continue;
	}

	/* TLS 1.2: a prefix of the flight. */
	CHECK(version == TLS1_2_VERSION);
	if (step == 3 && run->verifyMode == 0) {
	    step++;			/* No CertificateRequest. */
	}
	CHECK(step < 5 && hs[k] == flight12[step]);
	step++;
	if (hs[k] == 11) {
	    const unsigned char *der = run->sniMatched ? sniDer : defDer;
	    size_t derLen = (size_t) (run->sniMatched ? sniDerLen
		    : defDerLen);

	    CHECK(len >= 6 && GET24(b) == len - 3);
	    CHECK(GET24(b + 3) == derLen && len - 6 >= derLen);
	    CHECK(memcmp(b + 6, der, derLen) == 0);
	}
	certReq |= hs[k] == 13;
	done |= hs[k] == 14;
    }
    CHECK(hellos <= run->hellos);
    CHECK(!certReq || run->verifyMode != 0);
    CHECK(!done || certReq == (run->verifyMode != 0));
    if (version != 0) {
	/* The same, unless a record of another version ended it. */
	CHECK(SSL_version(ssl) == version || run->failed);
    }
    free(hs);
}

/*
 * CheckSession --
 *	What the connection says, against what the callbacks saw.
 */

static void
CheckSession(const Run *run, SSL *ssl)
{
    const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const unsigned char *sel = NULL;
    unsigned int selLen = 0;
    int h, ok;

    if (sn != NULL && sn[0] != '\0') {
	/* OpenSSL's own parser took the name ours found. */
	for (ok = 0, h = 0; h < run->hellos && h < MAX_HELLOS; h++) {
	    ok |= run->sniFound[h] && run->sniLen[h] == strlen(sn)
		    && memcmp(run->sni[h], sn, run->sniLen[h]) == 0;
	}
	CHECK(ok);
    }
    CHECK(SSL_get_SSL_CTX(ssl) == (run->sniMatched ? sniCtx : defCtx));
    SSL_get0_alpn_selected(ssl, &sel, &selLen);
    if (selLen > 0) {
	CHECK(run->oursLen > 0);
	for (ok = 0, h = 0; h < run->alpnCalls && h < MAX_HELLOS; h++) {
	    ok |= run->chosen[h] != NULL && run->chosenLen[h] == selLen
		    && memcmp(run->chosen[h], sel, selLen) == 0;
	}
	CHECK(ok);
    }
#ifndef OPENSSL_NO_COMP
    CHECK(SSL_get_current_compression(ssl) == NULL);
#endif
}

/*
 * Direct --
 *	MpTlsSniName and MpTlsChooseAlpn on slices of the stream.
 */

static void
Direct(const unsigned char *in, size_t n, size_t split)
{
    int i;

    if (split > n) {
	split = n;
    }
    (void) CheckSni(in, n, NULL, NULL);
    (void) CheckSni(in + split, n - split, NULL, NULL);
    (void) CheckAlpn(in, split, in + split, n - split);
    for (i = 1; i < 4; i++) {
	(void) CheckAlpn((const unsigned char *) ourAlpn[i].list,
		ourAlpn[i].len, in + split, n - split);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = 0;
    const unsigned char *in;
    size_t inLen, pos = 0, chunkMax;
    uint32_t seed;
    SSL *ssl;
    BIO *rbio, *wbio;
    Run run;
    int h, mode;

    if (size < 4) {
	return 0;
    }
    if (!ready) {
	Setup();
	ready = 1;
    }
    in = data + 4;
    inLen = size - 4;
    Direct(in, inLen, data[3]);

    memset(&run, 0, sizeof(run));
    run.verifyMode = data[0] & 3;
    run.ours = (const unsigned char *) ourAlpn[(data[0] >> 2) & 3].list;
    run.oursLen = ourAlpn[(data[0] >> 2) & 3].len;
    seed = ((uint32_t) data[1] << 8 | data[2]) * 2654435761u + 1;
    switch (data[2] & 3) {
    case 0:  chunkMax = 1;	break;
    case 1:  chunkMax = 7;	break;
    case 2:  chunkMax = 64;	break;
    default: chunkMax = 65536;	break;
    }

    ssl = SSL_new(defCtx);
    rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(BIO_s_mem());
    CHECK(ssl != NULL && rbio != NULL && wbio != NULL);
    SSL_set_bio(ssl, rbio, wbio);	/* ssl owns both. */
    SSL_set_accept_state(ssl);
    SSL_set_app_data(ssl, &run);
    mode = run.verifyMode == 0 ? SSL_VERIFY_NONE : SSL_VERIFY_PEER;
    if (run.verifyMode == 2) {
	mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_set_verify(ssl, mode, run.verifyMode == 3 ? AcceptAnyCert : NULL);

    while (!run.failed) {
	size_t n = FuzzNext(&seed) % (chunkMax + 1);	/* 0 is allowed. */

	if (n > inLen - pos) {
	    n = inLen - pos;
	}
	if (n > 0) {
	    CHECK(BIO_write(rbio, in + pos, (int) n) == (int) n);
	}
	pos += n;
	Step(ssl, &run);
	Drain(wbio, &run);
	if (pos == inLen) {
	    break;
	}
    }
    if (!run.failed && (data[0] & 0x10)) {
	BIO_set_mem_eof_return(rbio, 0);	/* The client is gone. */
	Step(ssl, &run);
	Drain(wbio, &run);
    }
    CheckOutput(&run, ssl);
    CheckSession(&run, ssl);

    SSL_free(ssl);
    ERR_clear_error();
    for (h = 0; h < MAX_HELLOS; h++) {
	free(run.sni[h]);
    }
    free(run.out);
    return 0;
}
