/*
 * httpunit.c --
 *
 *	Known-answer checks of the HTTP side of the WebSocket listener
 *	(generic/mpHttp.c, generic/mpWsAccept.c, compiled in here): the
 *	request-head parser fed whole and in pieces, the handshake checks
 *	with each refusal status, the subprotocol choice, the accept value
 *	and the exact bytes of the responses.
 *
 *	    httpunit		runs the checks: "ok NAME" or "FAIL NAME:
 *				detail" per check, then "N passed, M failed";
 *				exit status 1 if any failed.
 *	    httpunit accept KEY ...
 *				prints the Sec-WebSocket-Accept value of each
 *				KEY, one a line (for comparison with another
 *				implementation).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../generic/mpHttp.c"
#include "../../generic/mpWsAccept.c"

static int passed = 0, failed = 0;

/*
 *----------------------------------------------------------------------
 *
 * Check --
 *
 *	Reports one check.
 *
 * Results:
 *	cond.
 *
 * Side effects:
 *	Prints "ok NAME" or "FAIL NAME: DETAIL"; counts.
 *
 *----------------------------------------------------------------------
 */

static int
Check(
    const char *name,
    int cond,
    const char *detail)
{
    if (cond) {
	printf("ok %s\n", name);
	passed++;
    } else {
	printf("FAIL %s: %s\n", name, detail ? detail : "");
	failed++;
    }
    return cond;
}

/*
 *----------------------------------------------------------------------
 *
 * Parse --
 *
 *	Feeds 'text' to a fresh parser in pieces: cut at the offsets in
 *	cuts[] (ascending, ncuts of them), or byte by byte if ncuts < 0.
 *	Stops at the first result other than MP_HTTP_INCOMPLETE.
 *
 * Results:
 *	The last result; *usedPtr is the offset in text just after the head
 *	(for MP_HTTP_DONE).
 *
 * Side effects:
 *	Initialises *in (the caller frees it).
 *
 *----------------------------------------------------------------------
 */

static int
Parse(
    MpHttpIn *in,
    const char *text,
    size_t len,
    size_t maxHead,
    const size_t *cuts,
    int ncuts,
    size_t *usedPtr)
{
    size_t pos = 0, used = 0;
    int i = 0, rc = MP_HTTP_INCOMPLETE;

    MpHttpInit(in);
    *usedPtr = 0;
    while (rc == MP_HTTP_INCOMPLETE) {
	size_t end;

	if (ncuts < 0) {
	    end = pos < len ? pos + 1 : len;
	} else {
	    end = i < ncuts ? cuts[i++] : len;
	}
	rc = MpHttpFeed(in, text + pos, end - pos, maxHead, &used);
	if (rc == MP_HTTP_DONE) {
	    *usedPtr = pos + used;
	}
	if (end == len) {
	    break;
	}
	pos = end;
    }
    return rc;
}

/*
 * Outcome --
 *	A printable summary of a parse: result, status, and for a complete
 *	head the request (method, target, path, query, version, every field
 *	and every combined value). Two parses are the same if their
 *	summaries are.
 */

static void
Outcome(
    MpHttpIn *in,
    int rc,
    size_t used,
    char *out,
    size_t outLen)
{
    const MpHttpRequest *r = &in->req;
    size_t n;
    int i;

    if (rc != MP_HTTP_DONE) {
	snprintf(out, outLen, "rc=%d status=%d", rc, in->status);
	return;
    }
    n = (size_t) snprintf(out, outLen, "DONE used=%lu head=%lu %s|%s|%s|%s|1.%d",
	    (unsigned long) used, (unsigned long) r->headLen, r->method,
	    r->target, r->path, r->query ? r->query : "(none)",
	    r->versionMinor);
    for (i = 0; i < r->numFields && n < outLen; i++) {
	n += (size_t) snprintf(out + n, outLen - n, "|%s=%s/%s",
		r->fields[i].name, r->fields[i].value,
		r->fields[i].combined ? r->fields[i].combined : "-");
    }
}

/*
 * A request as Chrome sends it, followed by the first bytes of a frame
 * (which belong to the next layer).
 */

static const char chromeHead[] =
    "GET /chat/room?id=42&x=%20y HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"
	" (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "\r\n";
static const char frameBytes[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f";

/*
 *----------------------------------------------------------------------
 *
 * Status --
 *
 *	Parses a complete text in one chunk and runs the handshake check.
 *
 * Results:
 *	The parser's status for MP_HTTP_ERROR, else the handshake check's
 *	status (0 for a valid handshake or a plain request); *isUpgradePtr
 *	as MpWsUpgradeCheck sets it (-1 if the head was refused).
 *
 * Side effects:
 *	None (frees the parser).
 *
 *----------------------------------------------------------------------
 */

static int
Status(
    const char *text,
    size_t maxHead,
    int *isUpgradePtr)
{
    MpHttpIn in;
    size_t used;
    int rc, status;

    *isUpgradePtr = -1;
    rc = Parse(&in, text, strlen(text), maxHead, NULL, 0, &used);
    if (rc == MP_HTTP_ERROR) {
	status = in.status;
    } else if (rc == MP_HTTP_DONE) {
	status = MpWsUpgradeCheck(&in.req, isUpgradePtr);
    } else {
	status = -1;			/* Incomplete. */
    }
    MpHttpFree(&in);
    return status;
}

/*
 * CheckStatus --
 *	One check: 'text' gets 'want' (and isUpgrade 'wantUp', unless -2).
 */

static void
CheckStatus(
    const char *name,
    const char *text,
    size_t maxHead,
    int want,
    int wantUp)
{
    char detail[200];
    int up, got = Status(text, maxHead, &up);

    snprintf(detail, sizeof(detail), "status %d isUpgrade %d, want %d %d",
	    got, up, want, wantUp);
    Check(name, got == want && (wantUp == -2 || up == wantUp), detail);
}

/*
 * A valid handshake with a header replaced: 'drop' names the field line to
 * leave out (prefix match, NULL for none), 'add' is inserted before the
 * empty line, 'requestLine' replaces the request line if not NULL.
 */

static char *
Variant(
    const char *requestLine,
    const char *drop,
    const char *add)
{
    static char buf[4096];
    static const char *lines[] = {
	"Host: server.example.com\r\n",
	"Upgrade: websocket\r\n",
	"Connection: Upgrade\r\n",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
	"Sec-WebSocket-Version: 13\r\n",
	NULL
    };
    int i;

    strcpy(buf, requestLine ? requestLine : "GET /chat HTTP/1.1\r\n");
    for (i = 0; lines[i] != NULL; i++) {
	if (drop == NULL || strncmp(lines[i], drop, strlen(drop)) != 0) {
	    strcat(buf, lines[i]);
	}
    }
    if (add != NULL) {
	strcat(buf, add);
    }
    strcat(buf, "\r\n");
    return buf;
}

static void
TestAccept(void)
{
    char out[29];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

    Check("accept-rfc6455-1.3",
	    MpWsAccept(key, strlen(key), out) == 0
	    && strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, out);
    Check("accept-length-only",
	    MpWsAccept("dGhlIHNhbXBsZSBub25jZQ==XYZ", 24, out) == 0
	    && strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, out);
}

static void
TestChrome(void)
{
    char text[2048], want[4096], got[4096], detail[8400];
    size_t len, headLen = sizeof(chromeHead) - 1, used, cut;
    MpHttpIn in;
    const MpHttpRequest *r;
    int rc, up, status, allSame = 1;

    memcpy(text, chromeHead, headLen);
    memcpy(text + headLen, frameBytes, sizeof(frameBytes) - 1);
    len = headLen + sizeof(frameBytes) - 1;

    rc = Parse(&in, text, len, 0, NULL, 0, &used);
    r = &in.req;
    Check("chrome-done", rc == MP_HTTP_DONE, "not MP_HTTP_DONE");
    if (rc != MP_HTTP_DONE) {
	MpHttpFree(&in);
	return;
    }
    Check("chrome-used", used == headLen && r->headLen == headLen,
	    "the head's length, not the frame bytes after it");
    Check("chrome-request-line", strcmp(r->method, "GET") == 0
	    && strcmp(r->target, "/chat/room?id=42&x=%20y") == 0
	    && strcmp(r->path, "/chat/room") == 0
	    && strcmp(r->query, "id=42&x=%20y") == 0
	    && r->versionMinor == 1, r->target);
    Check("chrome-fields", r->numFields == 13
	    && strcmp(r->fields[4].name, "User-Agent") == 0
	    && strcmp(MpHttpHeader(r, "accept-language"), "en-US,en;q=0.9") == 0
	    && strcmp(MpHttpHeader(r, "SEC-WEBSOCKET-EXTENSIONS"),
		    "permessage-deflate; client_max_window_bits") == 0
	    && MpHttpHeader(r, "Cookie") == NULL, "fields");
    status = MpWsUpgradeCheck(r, &up);
    Check("chrome-upgrade-valid", status == 0 && up == 1, "refused");
    Outcome(&in, rc, used, want, sizeof(want));
    MpHttpFree(&in);

    /* Split in two at every position, and byte by byte. */
    for (cut = 0; cut <= len; cut++) {
	rc = Parse(&in, text, len, 0, &cut, 1, &used);
	Outcome(&in, rc, used, got, sizeof(got));
	MpHttpFree(&in);
	if (strcmp(got, want) != 0) {
	    snprintf(detail, sizeof(detail), "cut at %lu: %s",
		    (unsigned long) cut, got);
	    Check("chrome-split-every-byte", 0, detail);
	    allSame = 0;
	    break;
	}
    }
    if (allSame) {
	Check("chrome-split-every-byte", 1, NULL);
    }
    rc = Parse(&in, text, len, 0, NULL, -1, &used);
    Outcome(&in, rc, used, got, sizeof(got));
    MpHttpFree(&in);
    Check("chrome-byte-by-byte", strcmp(got, want) == 0, got);

    /* After the head the parser takes nothing more. */
    rc = Parse(&in, text, len, 0, NULL, 0, &used);
    rc = MpHttpFeed(&in, "more", 4, 0, &used);
    Check("done-is-final", rc == MP_HTTP_DONE && used == 0, "fed again");
    MpHttpFree(&in);
}

static void
TestParsing(void)
{
    MpHttpIn in;
    const MpHttpRequest *r;
    size_t used;
    int rc, up;
    const char *t;

    t = "gEt / HTTP/1.1\r\nhOsT: x\r\nuPgRaDe: WebSocket\r\n"
	"CONNECTION: keep-alive, Upgrade\r\nsec-websocket-key: "
	"dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n";
    CheckStatus("method-case-sensitive", t, 0, 400, 1);
    CheckStatus("mixed-case-names-valid",
	    "GET / HTTP/1.1\r\nhOsT: x\r\nuPgRaDe: WebSocket\r\n"
	    "CONNECTION: keep-alive, Upgrade\r\nsec-websocket-key: "
	    "dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n",
	    0, 0, 1);
    CheckStatus("connection-list-any-case",
	    Variant(NULL, "Connection", "Connection: keep-alive ,  UPGRADE\r\n"),
	    0, 0, 1);
    CheckStatus("connection-split-lines",
	    Variant(NULL, "Connection", "Connection: keep-alive\r\n"
		    "Connection: upgrade\r\n"), 0, 0, 1);
    CheckStatus("upgrade-list", Variant(NULL, "Upgrade",
	    "Upgrade: h2c, WEBSOCKET\r\n"), 0, 0, 1);
    CheckStatus("plain-get", "GET /index.html HTTP/1.1\r\nHost: a\r\n"
	    "Accept: */*\r\n\r\n", 0, 0, 0);
    CheckStatus("plain-other-upgrade", "GET / HTTP/1.1\r\nHost: a\r\n"
	    "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n", 0, 0, 0);
    CheckStatus("plain-post", "POST /f HTTP/1.1\r\nHost: a\r\n"
	    "Content-Length: 0\r\n\r\n", 0, 0, 0);
    CheckStatus("http10-no-host", "GET / HTTP/1.0\r\n\r\n", 0, 0, 0);
    CheckStatus("bare-lf-lines", "GET / HTTP/1.1\nHost: a\n\n", 0, 0, 0);
    CheckStatus("leading-empty-lines", "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    0, 0, 0);

    /* Values, trimming, combining, targets. */
    t = "OPTIONS * HTTP/1.1\r\nHost: [::1]:80\r\nX-A: \t one \t\r\n"
	"x-a:two\r\nX-Empty:\r\nX-B: 1\r\nX-A:   \r\n\r\n";
    rc = Parse(&in, t, strlen(t), 0, NULL, 0, &used);
    r = &in.req;
    Check("trim-and-combine", rc == MP_HTTP_DONE && used == strlen(t)
	    && strcmp(r->fields[1].value, "one") == 0
	    && strcmp(MpHttpHeader(r, "x-a"), "one, two, ") == 0
	    && strcmp(MpHttpHeader(r, "x-empty"), "") == 0
	    && MpHttpHeaderCount(r, "X-A") == 3
	    && r->fields[2].combined == NULL
	    && strcmp(r->path, "*") == 0 && r->query == NULL, "values");
    MpHttpFree(&in);
    t = "GET http://h.example:81?a=b HTTP/1.1\r\nHost: h.example:81\r\n\r\n";
    rc = Parse(&in, t, strlen(t), 0, NULL, 0, &used);
    Check("absolute-form", rc == MP_HTTP_DONE
	    && strcmp(in.req.path, "/") == 0
	    && strcmp(in.req.query, "a=b") == 0, "path/query");
    MpHttpFree(&in);
    t = "GET /a/b?c?d= HTTP/1.1\r\nHost: h\r\n\r\n";
    rc = Parse(&in, t, strlen(t), 0, NULL, 0, &used);
    Check("query-first-question-mark", rc == MP_HTTP_DONE
	    && strcmp(in.req.path, "/a/b") == 0
	    && strcmp(in.req.query, "c?d=") == 0, "path/query");
    MpHttpFree(&in);
    t = "GET /x? HTTP/1.1\r\nHost: h\r\n\r\n";
    rc = Parse(&in, t, strlen(t), 0, NULL, 0, &used);
    Check("empty-query", rc == MP_HTTP_DONE && in.req.query != NULL
	    && in.req.query[0] == '\0', "query");
    MpHttpFree(&in);

    /* Incomplete stays incomplete. */
    t = "GET / HTTP/1.1\r\nHost: a\r\n";
    rc = Parse(&in, t, strlen(t), 0, NULL, 0, &used);
    Check("incomplete", rc == MP_HTTP_INCOMPLETE, "no empty line yet");
    MpHttpFree(&in);
    (void) up;
}

static void
TestErrors(void)
{
    char *big;
    size_t n, i;
    int k;
    char line[64];

    CheckStatus("obs-fold-400", "GET / HTTP/1.1\r\nHost: a\r\nX-F: a\r\n"
	    " b\r\n\r\n", 0, 400, -2);
    CheckStatus("obs-fold-tab-400", "GET / HTTP/1.1\r\nHost: a\r\nX-F: a\r\n"
	    "\tb\r\n\r\n", 0, 400, -2);
    CheckStatus("space-before-first-field-400", "GET / HTTP/1.1\r\n"
	    " Host: a\r\n\r\n", 0, 400, -2);
    CheckStatus("space-before-colon-400", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	    0, 400, -2);
    CheckStatus("bare-cr-in-value-400", "GET / HTTP/1.1\r\nHost: a\r\n"
	    "X: a\rb\r\n\r\n", 0, 400, -2);
    CheckStatus("bare-cr-request-line-400", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
	    0, 400, -2);
    CheckStatus("nul-in-value-400", "GET / HTTP/1.1\r\nHost: a\r\nX: \001\r\n\r\n",
	    0, 400, -2);
    CheckStatus("no-colon-400", "GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n",
	    0, 400, -2);
    CheckStatus("missing-host-400", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 0, 400, -2);
    CheckStatus("two-hosts-400", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	    0, 400, -2);
    CheckStatus("bad-host-400", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, 400, -2);
    CheckStatus("double-space-400", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	    0, 400, -2);
    CheckStatus("lower-http-400", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, 400, -2);
    CheckStatus("version-junk-400", "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
	    0, 400, -2);
    CheckStatus("http2-505", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, 505, -2);
    CheckStatus("http09-505", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 0, 505, -2);
    CheckStatus("asterisk-not-options-400", "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	    0, 400, -2);
    CheckStatus("fragment-400", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
	    0, 400, -2);
    CheckStatus("relative-target-400", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
	    0, 400, -2);

    /* Handshake refusals. */
    CheckStatus("ws-valid", Variant(NULL, NULL, NULL), 0, 0, 1);
    CheckStatus("ws-key-15-bytes-400", Variant(NULL, "Sec-WebSocket-Key",
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n"), 0, 400, 1);
    CheckStatus("ws-key-17-bytes-400", Variant(NULL, "Sec-WebSocket-Key",
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n"), 0, 400, 1);
    CheckStatus("ws-key-not-base64-400", Variant(NULL, "Sec-WebSocket-Key",
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!=\r\n"), 0, 400, 1);
    CheckStatus("ws-key-missing-400", Variant(NULL, "Sec-WebSocket-Key",
	    NULL), 0, 400, 1);
    CheckStatus("ws-key-twice-400", Variant(NULL, NULL,
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), 0, 400, 1);
    CheckStatus("ws-version-8-426", Variant(NULL, "Sec-WebSocket-Version",
	    "Sec-WebSocket-Version: 8\r\n"), 0, 426, 1);
    CheckStatus("ws-version-missing-400", Variant(NULL,
	    "Sec-WebSocket-Version", NULL), 0, 400, 1);
    CheckStatus("ws-post-400", Variant("POST /chat HTTP/1.1\r\n", NULL, NULL),
	    0, 400, 1);
    CheckStatus("ws-http10-400", Variant("GET /chat HTTP/1.0\r\n", NULL, NULL),
	    0, 400, 1);
    CheckStatus("ws-no-connection-upgrade-400", Variant(NULL, "Connection",
	    "Connection: keep-alive\r\n"), 0, 400, 1);
    CheckStatus("ws-upgrade-token-exact", Variant(NULL, "Upgrade",
	    "Upgrade: websocket2\r\n"), 0, 0, 0);

    /* Size: 8192 bytes pass, 8193 get 431 (the default limit). */
    big = (char *) malloc(8300);
    for (k = 0; k < 2; k++) {
	const char *pre = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";

	n = 8192 + (size_t) k;
	strcpy(big, pre);
	for (i = strlen(pre); i < n - 4; i++) {
	    big[i] = 'p';
	}
	strcpy(big + n - 4, "\r\n\r\n");
	CheckStatus(k ? "head-8193-431" : "head-8192-ok", big, 0, k ? 431 : 0,
		k ? -2 : 0);
    }
    CheckStatus("head-limit-given-431", Variant(NULL, NULL, NULL), 100, 431, -2);
    free(big);

    /* Fields: 64 pass, 65 get 431. */
    big = (char *) malloc(4096);
    for (k = 0; k < 2; k++) {
	strcpy(big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < 64 + (size_t) k; i++) {
	    snprintf(line, sizeof(line), "X-%lu: v\r\n", (unsigned long) i);
	    strcat(big, line);
	}
	strcat(big, "\r\n");
	CheckStatus(k ? "fields-65-431" : "fields-64-ok", big, 0,
		k ? 431 : 0, k ? -2 : 0);
    }
    free(big);
}

static void
TestTokens(void)
{
    Check("token-simple", MpHttpHasToken("Upgrade", "upgrade"), NULL);
    Check("token-list", MpHttpHasToken("keep-alive, Upgrade", "UPGRADE"), NULL);
    Check("token-ows", MpHttpHasToken(" a ,\t b\t, ,c ", "b"), NULL);
    Check("token-empty-elements", MpHttpHasToken(",,x,,", "x"), NULL);
    Check("token-no-substring", !MpHttpHasToken("upgrades, xupgrade", "upgrade"),
	    NULL);
    Check("token-null", !MpHttpHasToken(NULL, "a") && !MpHttpHasToken("a", "")
	    && !MpHttpHasToken("", "a"), NULL);
}

static void
TestSubprotocol(void)
{
    const char *offered[] = {"v2.chat", "chat", "superchat"};
    char detail[64];
    int i;

    i = MpWsChooseSubprotocol(offered, 3, "superchat, chat");
    snprintf(detail, sizeof(detail), "got %d", i);
    Check("subprotocol-server-order", i == 1, detail);
    i = MpWsChooseSubprotocol(offered, 3, "superchat");
    Check("subprotocol-only-one", i == 2, "");
    i = MpWsChooseSubprotocol(offered, 3, "Chat, v2");
    Check("subprotocol-case-sensitive", i == -1, "");
    i = MpWsChooseSubprotocol(offered, 3, NULL);
    Check("subprotocol-none-offered", i == -1, "");
    i = MpWsChooseSubprotocol(offered, 0, "chat");
    Check("subprotocol-server-has-none", i == -1, "");
    i = MpWsChooseSubprotocol(offered, 3, "x, v2.chat");
    Check("subprotocol-first", i == 0, "");
}

static void
TestResponses(void)
{
    char buf[512];
    size_t n;
    const char *want;

    want = "HTTP/1.1 101 Switching Protocols\r\n"
	"Upgrade: websocket\r\n"
	"Connection: Upgrade\r\n"
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	"\r\n";
    n = MpHttpBuild101(buf, sizeof(buf), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", NULL);
    Check("build-101", n == strlen(want) && strcmp(buf, want) == 0, buf);

    want = "HTTP/1.1 101 Switching Protocols\r\n"
	"Upgrade: websocket\r\n"
	"Connection: Upgrade\r\n"
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	"Sec-WebSocket-Protocol: chat\r\n"
	"\r\n";
    n = MpHttpBuild101(buf, sizeof(buf), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat");
    Check("build-101-subprotocol", n == strlen(want) && strcmp(buf, want) == 0,
	    buf);
    Check("build-101-bad-args",
	    MpHttpBuild101(buf, sizeof(buf), "short", NULL) == 0
	    && MpHttpBuild101(buf, sizeof(buf), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		    "a\r\nX: y") == 0
	    && MpHttpBuild101(buf, sizeof(buf), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		    "") == 0, "accepted");

    memset(buf, 'Z', sizeof(buf));
    n = MpHttpBuild101(buf, strlen(want), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat");
    Check("build-too-small-writes-nothing", n == strlen(want) && buf[0] == 'Z',
	    "wrote");
    Check("build-measure", MpHttpBuild101(NULL, 0,
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "chat") == strlen(want), "size");

    want = "HTTP/1.1 400 Bad Request\r\n"
	"Connection: close\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 16\r\n"
	"\r\n"
	"400 Bad Request\n";
    n = MpHttpBuildError(buf, sizeof(buf), 400, NULL);
    Check("build-400", n == strlen(want) && strcmp(buf, want) == 0, buf);

    want = "HTTP/1.1 426 Upgrade Required\r\n"
	"Connection: Upgrade, close\r\n"
	"Upgrade: websocket\r\n"
	"Sec-WebSocket-Version: 13\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 21\r\n"
	"\r\n"
	"426 Upgrade Required\n";
    n = MpHttpBuildError(buf, sizeof(buf), 426, NULL);
    Check("build-426", n == strlen(want) && strcmp(buf, want) == 0, buf);

    want = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	"Connection: close\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 36\r\n"
	"\r\n"
	"431 Request Header Fields Too Large\n";
    n = MpHttpBuildError(buf, sizeof(buf), 431, NULL);
    Check("build-431", n == strlen(want) && strcmp(buf, want) == 0, buf);

    want = "HTTP/1.1 505 HTTP Version Not Supported\r\n"
	"Connection: close\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 31\r\n"
	"\r\n"
	"505 HTTP Version Not Supported\n";
    n = MpHttpBuildError(buf, sizeof(buf), 505, NULL);
    Check("build-505", n == strlen(want) && strcmp(buf, want) == 0, buf);

    want = "HTTP/1.1 405 Method Not Allowed\r\n"
	"Connection: close\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 23\r\n"
	"Allow: GET\r\n"
	"X-Why: test\r\n"
	"\r\n"
	"405 Method Not Allowed\n";
    n = MpHttpBuildError(buf, sizeof(buf), 405, "Allow: GET\r\nX-Why: test\r\n");
    Check("build-extra-lines", n == strlen(want) && strcmp(buf, want) == 0, buf);

    want = "HTTP/1.1 499 \r\n"
	"Connection: close\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"499\n";
    n = MpHttpBuildError(buf, sizeof(buf), 499, NULL);
    Check("build-no-reason", n == strlen(want) && strcmp(buf, want) == 0, buf);

    Check("build-error-bad-args",
	    MpHttpBuildError(buf, sizeof(buf), 200, NULL) == 0
	    && MpHttpBuildError(buf, sizeof(buf), 600, NULL) == 0
	    && MpHttpBuildError(buf, sizeof(buf), 400, "X: a") == 0
	    && MpHttpBuildError(buf, sizeof(buf), 400, "X: a\n") == 0
	    && MpHttpBuildError(buf, sizeof(buf), 400, "X: a\r\n\r\n") == 0
	    && MpHttpBuildError(buf, sizeof(buf), 400, " X: a\r\n") == 0,
	    "accepted");
}

int
main(
    int argc,
    char **argv)
{
    if (argc > 1 && strcmp(argv[1], "accept") == 0) {
	int i;

	for (i = 2; i < argc; i++) {
	    char out[29];

	    if (MpWsAccept(argv[i], strlen(argv[i]), out) != 0) {
		fprintf(stderr, "httpunit: libcrypto failed\n");
		return 1;
	    }
	    printf("%s\n", out);
	}
	return 0;
    }
    if (argc > 1) {
	fprintf(stderr, "usage: httpunit ?accept KEY ...?\n");
	return 2;
    }
    TestAccept();
    TestChrome();
    TestParsing();
    TestErrors();
    TestTokens();
    TestSubprotocol();
    TestResponses();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
