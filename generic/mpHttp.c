/*
 * mpHttp.c --
 *
 *	The HTTP side of the WebSocket listener: an incremental parser for
 *	an HTTP/1.x request head, the checks of a WebSocket opening
 *	handshake and the builders of the server's answers. No Tcl and no
 *	OpenSSL here: the fuzz harness links this file alone.
 *
 *	What the parser accepts (RFC 9112 sections 2, 3 and 5; RFC 9110
 *	section 5):
 *	  - lines end with CRLF or with a bare LF (RFC 9112 section 2.2
 *	    allows the latter); a CR anywhere else is refused (400);
 *	  - empty lines before the request line are skipped (they count in
 *	    the size limit);
 *	  - request line: method SP request-target SP HTTP-version, single
 *	    spaces; the method a token (any token: whether the method is
 *	    implemented is the caller's business, so no 501 here), the target
 *	    visible ASCII only, in origin form ("/..."), absolute form
 *	    ("scheme:..."), authority form (CONNECT only) or asterisk form
 *	    ("*", OPTIONS only); version "HTTP/" DIGIT "." DIGIT: 1.x is
 *	    accepted, any other well-formed version gets 505, anything else
 *	    400;
 *	  - field lines: token ":" OWS value OWS; whitespace before the colon
 *	    (400), a line starting with whitespace (obs-fold, or whitespace
 *	    between the request line and the first field: 400), control
 *	    characters other than HTAB in a value (400);
 *	  - Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, its value
 *	    made of the characters of uri-host [":" port] (400 otherwise);
 *	  - more than MP_HTTP_MAX_FIELDS field lines, or a head longer than
 *	    maxHead bytes: 431.
 *	The message body, if any, is not looked at: it is what follows the
 *	head, for the next layer.
 */

#include <stdlib.h>
#include <string.h>
#include "mpHttp.h"

/*
 * Characters of a token (RFC 9110 section 5.6.2): tchar.
 */

static int
IsTchar(
    int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9')) {
	return 1;
    }
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * Lower case of an ASCII letter (locale independent).
 */

static int
Lower(
    int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/*
 *----------------------------------------------------------------------
 *
 * NameEqual --
 *
 *	Compares two NUL-terminated strings, ASCII case-insensitively.
 *
 * Results:
 *	1 if they are equal, 0 if not.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
NameEqual(
    const char *a,
    const char *b)
{
    while (*a != '\0'
	    && Lower((unsigned char) *a) == Lower((unsigned char) *b)) {
	a++;
	b++;
    }
    return *a == '\0' && *b == '\0';
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpInit --
 *
 *	Prepares a parser for a new request head.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Zeroes *in (which must not hold memory: see MpHttpFree).
 *
 *----------------------------------------------------------------------
 */

void
MpHttpInit(
    MpHttpIn *in)
{
    memset(in, 0, sizeof(*in));
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpFree --
 *
 *	Releases what a parser holds; the strings of its request are gone
 *	afterwards.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees the buffers and leaves *in as MpHttpInit does, ready for
 *	another head.
 *
 *----------------------------------------------------------------------
 */

void
MpHttpFree(
    MpHttpIn *in)
{
    free(in->buf);
    free(in->extra);
    MpHttpInit(in);
}

/*
 *----------------------------------------------------------------------
 *
 * Fail --
 *
 *	Records that the head is refused.
 *
 * Results:
 *	MP_HTTP_ERROR.
 *
 * Side effects:
 *	Sets in->result and in->status; clears the request.
 *
 *----------------------------------------------------------------------
 */

static int
Fail(
    MpHttpIn *in,
    int status)
{
    memset(&in->req, 0, sizeof(in->req));
    in->result = MP_HTTP_ERROR;
    in->status = status;
    return MP_HTTP_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * ParseTarget --
 *
 *	Checks the request target (NUL-terminated, visible ASCII already
 *	checked) against the forms RFC 9112 section 3.2 allows for the
 *	method, and splits off its path and query into 'store'.
 *
 * Results:
 *	0, or the status code (400) for a target the method cannot have.
 *
 * Side effects:
 *	Sets r->path and r->query; writes up to strlen(target) + 2 bytes
 *	at store.
 *
 *----------------------------------------------------------------------
 */

static int
ParseTarget(
    MpHttpRequest *r,
    const char *target,
    char *store)
{
    const char *path, *q;
    size_t pathLen;

    if (target[0] == '*' && target[1] == '\0') {
	if (strcmp(r->method, "OPTIONS") != 0) {
	    return 400;
	}
	r->path = target;
	r->query = NULL;
	return 0;
    }
    if (strcmp(r->method, "CONNECT") == 0) {
	/*
	 * Authority form only: host ":" port, no path.
	 */

	if (target[0] == '/' || strpbrk(target, "/?#@") != NULL
		|| strchr(target, ':') == NULL) {
	    return 400;
	}
	r->path = target;
	r->query = NULL;
	return 0;
    }
    if (target[0] == '/') {
	path = target;
    } else {
	/*
	 * Absolute form: scheme ":" hier-part. The scheme is a letter
	 * followed by letters, digits, '+', '-', '.'.
	 */

	const char *p = target;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
	    return 400;
	}
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		|| (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'
		|| *p == '.') {
	    p++;
	}
	if (*p != ':') {
	    return 400;
	}
	p++;
	if (p[0] == '/' && p[1] == '/') {
	    p += 2;
	    p += strcspn(p, "/?#");
	}
	path = p;
    }
    if (strchr(target, '#') != NULL) {
	return 400;			/* No fragment in a request target. */
    }
    q = strchr(path, '?');
    pathLen = q ? (size_t) (q - path) : strlen(path);
    if (pathLen == 0) {
	store[0] = '/';
	store[1] = '\0';
	pathLen = 1;
    } else {
	memcpy(store, path, pathLen);
	store[pathLen] = '\0';
    }
    r->path = store;
    if (q != NULL) {
	store += pathLen + 1;
	memcpy(store, q + 1, strlen(q + 1) + 1);
	r->query = store;
    } else {
	r->query = NULL;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * ParseRequestLine --
 *
 *	Parses the request line [p, end) (without its line terminator).
 *
 * Results:
 *	0, or the status code: 400 malformed, 505 a version other than 1.x.
 *
 * Side effects:
 *	Sets r->method, r->target and r->versionMinor; overwrites the two
 *	spaces with NULs. The line's terminator (at end) is overwritten by
 *	the caller.
 *
 *----------------------------------------------------------------------
 */

static int
ParseRequestLine(
    MpHttpRequest *r,
    char *p,
    char *end)
{
    char *sp, *v;

    /* Method: 1*tchar SP */
    sp = p;
    while (sp < end && IsTchar((unsigned char) *sp)) {
	sp++;
    }
    if (sp == p || sp == end || *sp != ' ') {
	return 400;
    }
    *sp = '\0';
    r->method = p;

    /* Target: 1*(visible ASCII) SP */
    p = sp + 1;
    sp = p;
    while (sp < end && (unsigned char) *sp > 0x20
	    && (unsigned char) *sp < 0x7F) {
	sp++;
    }
    if (sp == p || sp == end || *sp != ' ') {
	return 400;
    }
    *sp = '\0';
    r->target = p;

    /* Version: "HTTP/" DIGIT "." DIGIT, and nothing after it. */
    v = sp + 1;
    if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0
	    || v[5] < '0' || v[5] > '9' || v[6] != '.'
	    || v[7] < '0' || v[7] > '9') {
	return 400;
    }
    if (v[5] != '1') {
	return 505;
    }
    r->versionMinor = v[7] - '0';
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * HostValueOk --
 *
 *	Checks a Host value: uri-host [":" port] (RFC 9110 section 7.2),
 *	by its characters (reg-name, IPv4 and IP-literal characters, one
 *	optional port of digits).
 *
 * Results:
 *	1 if acceptable, 0 if not.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
HostValueOk(
    const char *v)
{
    const char *p = v;

    if (*p == '[') {
	/* IP-literal: up to ']'. */
	p++;
	while (*p != '\0' && *p != ']') {
	    if (strchr("0123456789abcdefABCDEF:.vV", *p) == NULL) {
		return 0;
	    }
	    p++;
	}
	if (*p != ']') {
	    return 0;
	}
	p++;
    } else {
	while (*p != '\0' && *p != ':') {
	    int c = (unsigned char) *p;

	    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9')
		    || strchr("-._~%!$&'()*+,;=", c) != NULL)) {
		return 0;
	    }
	    p++;
	}
    }
    if (*p == '\0') {
	return 1;
    }
    if (*p != ':') {
	return 0;
    }
    p++;
    while (*p >= '0' && *p <= '9') {
	p++;
    }
    return *p == '\0';
}

/*
 *----------------------------------------------------------------------
 *
 * ParseHead --
 *
 *	Parses the complete head held in in->buf (in->req.headLen bytes,
 *	the last one the LF of the empty line that ends it).
 *
 * Results:
 *	MP_HTTP_DONE or MP_HTTP_ERROR (Fail).
 *
 * Side effects:
 *	Fills in->req; writes NULs into in->buf at the ends of the strings;
 *	allocates in->extra.
 *
 *----------------------------------------------------------------------
 */

static int
ParseHead(
    MpHttpIn *in)
{
    MpHttpRequest *r = &in->req;
    char *p = in->buf, *end = in->buf + r->headLen;
    char *lineEnd, *contentEnd, *store;
    size_t targetLen, extraSize;
    int status, i, j, hosts;

    /*
     * Empty lines before the request line.
     */

    while (*p == '\n' || (p[0] == '\r' && p[1] == '\n')) {
	p += (*p == '\n') ? 1 : 2;
    }

    /*
     * Request line.
     */

    lineEnd = (char *) memchr(p, '\n', (size_t) (end - p));
    contentEnd = (lineEnd > p && lineEnd[-1] == '\r') ? lineEnd - 1 : lineEnd;
    status = ParseRequestLine(r, p, contentEnd);
    if (status != 0) {
	return Fail(in, status);
    }
    *contentEnd = '\0';

    /*
     * Field lines, up to the empty line.
     */

    for (;;) {
	char *colon, *v, *ve, *q;

	p = lineEnd + 1;
	lineEnd = (char *) memchr(p, '\n', (size_t) (end - p));
	contentEnd = (lineEnd > p && lineEnd[-1] == '\r') ? lineEnd - 1 : lineEnd;
	if (contentEnd == p) {
	    break;
	}
	if (*p == ' ' || *p == '\t') {
	    return Fail(in, 400);	/* obs-fold */
	}
	if (r->numFields == MP_HTTP_MAX_FIELDS) {
	    return Fail(in, 431);
	}
	colon = p;
	while (colon < contentEnd && IsTchar((unsigned char) *colon)) {
	    colon++;
	}
	if (colon == p || colon == contentEnd || *colon != ':') {
	    return Fail(in, 400);	/* Bad name, space before ':'... */
	}
	v = colon + 1;
	while (v < contentEnd && (*v == ' ' || *v == '\t')) {
	    v++;
	}
	ve = contentEnd;
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
	    ve--;
	}
	for (q = v; q < ve; q++) {
	    unsigned char c = (unsigned char) *q;

	    if ((c < 0x20 && c != '\t') || c == 0x7F) {
		return Fail(in, 400);	/* CTL, bare CR, NUL. */
	    }
	}
	*colon = '\0';
	*ve = '\0';
	r->fields[r->numFields].name = p;
	r->fields[r->numFields].value = v;
	r->fields[r->numFields].combined = NULL;
	r->numFields++;
    }

    /*
     * Host (RFC 9112 section 3.2).
     */

    hosts = 0;
    for (i = 0; i < r->numFields; i++) {
	if (NameEqual(r->fields[i].name, "host")) {
	    hosts++;
	    if (!HostValueOk(r->fields[i].value)) {
		return Fail(in, 400);
	    }
	}
    }
    if (hosts > 1 || (hosts == 0 && r->versionMinor >= 1)) {
	return Fail(in, 400);
    }

    /*
     * Storage for path and query (at most the target and two NULs) and
     * the combined values (at most the values, ", " between them and a
     * NUL each: less than the head plus three bytes per field).
     */

    targetLen = strlen(r->target);
    extraSize = targetLen + 2 + r->headLen + 3 * MP_HTTP_MAX_FIELDS;
    in->extra = (char *) malloc(extraSize);
    if (in->extra == NULL) {
	return Fail(in, 500);
    }
    status = ParseTarget(r, r->target, in->extra);
    if (status != 0) {
	return Fail(in, status);
    }
    store = in->extra + targetLen + 2;

    /*
     * Repeated names: the combined value on the first field line.
     */

    for (i = 0; i < r->numFields; i++) {
	int seenBefore = 0, more = 0;

	for (j = 0; j < i && !seenBefore; j++) {
	    seenBefore = NameEqual(r->fields[j].name, r->fields[i].name);
	}
	for (j = i + 1; j < r->numFields && !seenBefore && !more; j++) {
	    more = NameEqual(r->fields[j].name, r->fields[i].name);
	}
	if (seenBefore || !more) {
	    continue;
	}
	r->fields[i].combined = store;
	for (j = i; j < r->numFields; j++) {
	    size_t n;

	    if (!NameEqual(r->fields[j].name, r->fields[i].name)) {
		continue;
	    }
	    if (j > i) {
		*store++ = ',';
		*store++ = ' ';
	    }
	    n = strlen(r->fields[j].value);
	    memcpy(store, r->fields[j].value, n);
	    store += n;
	}
	*store++ = '\0';
    }
    in->result = MP_HTTP_DONE;
    return MP_HTTP_DONE;
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpFeed --
 *
 *	Feeds the next chunk of a connection's bytes (any size, 0 included)
 *	to the request-head parser.
 *
 * Results:
 *	MP_HTTP_INCOMPLETE: the head goes on; the whole chunk was taken
 *	(*usedPtr = len).
 *	MP_HTTP_DONE: the head is complete and valid; *usedPtr is the number
 *	of bytes of this chunk that belong to it: the rest (a body, or
 *	WebSocket frames sent early) belongs to the next layer. in->req is
 *	the request.
 *	MP_HTTP_ERROR: the head is refused; in->status is the status code to
 *	answer with (400, 431, 505, or 500 when memory ran out); *usedPtr
 *	is 0.
 *	Once DONE or ERROR, later calls return the same result and take
 *	nothing (*usedPtr = 0). maxHead 0 means MP_HTTP_DEFAULT_HEAD; the
 *	caller should pass the same value each time.
 *
 * Side effects:
 *	Buffers the head (at most maxHead bytes).
 *
 *----------------------------------------------------------------------
 */

int
MpHttpFeed(
    MpHttpIn *in,
    const char *data,
    size_t len,
    size_t maxHead,
    size_t *usedPtr)
{
    size_t pos = 0;

    *usedPtr = 0;
    if (in->result != MP_HTTP_INCOMPLETE) {
	return in->result;
    }
    if (maxHead == 0) {
	maxHead = MP_HTTP_DEFAULT_HEAD;
    }
    while (pos < len) {
	const char *nl = (const char *) memchr(data + pos, '\n', len - pos);
	size_t take = nl ? (size_t) (nl - (data + pos)) + 1 : len - pos;

	/*
	 * Whether this is the end of the head or not, a head that does not
	 * fit in maxHead bytes is refused.
	 */

	if (take > maxHead || in->len > maxHead - take) {
	    return Fail(in, 431);
	}
	if (in->len + take > in->cap) {
	    size_t cap = in->cap ? in->cap * 2 : 1024;
	    char *b;

	    if (cap < in->len + take) {
		cap = in->len + take;
	    }
	    if (cap > maxHead) {
		cap = maxHead;
	    }
	    b = (char *) realloc(in->buf, cap);
	    if (b == NULL) {
		return Fail(in, 500);
	    }
	    in->buf = b;
	    in->cap = cap;
	}
	memcpy(in->buf + in->len, data + pos, take);
	in->len += take;
	pos += take;
	if (nl != NULL) {
	    const char *line = in->buf + in->lineStart;
	    size_t lineLen = in->len - in->lineStart;

	    if (lineLen == 1 || (lineLen == 2 && line[0] == '\r')) {
		if (in->seenLine) {
		    in->req.headLen = in->len;
		    if (ParseHead(in) != MP_HTTP_DONE) {
			return MP_HTTP_ERROR;
		    }
		    *usedPtr = pos;
		    return MP_HTTP_DONE;
		}
	    } else {
		in->seenLine = 1;
	    }
	    in->lineStart = in->len;
	}
    }
    *usedPtr = len;
    return MP_HTTP_INCOMPLETE;
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpHeader --
 *
 *	Looks up a header field by name, case-insensitively.
 *
 * Results:
 *	Its value (OWS trimmed), or, when several field lines have that
 *	name, their values joined with ", " in the order received (RFC 9110
 *	section 5.3; meaningful for list fields); NULL if there is none.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

const char *
MpHttpHeader(
    const MpHttpRequest *r,
    const char *name)
{
    int i;

    for (i = 0; i < r->numFields; i++) {
	if (NameEqual(r->fields[i].name, name)) {
	    return r->fields[i].combined ? r->fields[i].combined
		    : r->fields[i].value;
	}
    }
    return NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpHeaderCount --
 *
 *	Counts the field lines with a name, case-insensitively.
 *
 * Results:
 *	The count (0 if none).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpHttpHeaderCount(
    const MpHttpRequest *r,
    const char *name)
{
    int i, n = 0;

    for (i = 0; i < r->numFields; i++) {
	n += NameEqual(r->fields[i].name, name);
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * ListHas --
 *
 *	Looks for an element in a comma-separated list (RFC 9110 section
 *	5.6.1): elements are trimmed of OWS, empty ones are skipped.
 *	Quoted strings are not recognised (the lists looked at here,
 *	Connection, Upgrade and Sec-WebSocket-Protocol, hold tokens).
 *
 * Results:
 *	1 if an element equals 'elem' (ASCII case-insensitively if nocase),
 *	0 if not, or if either is NULL or elem is empty.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
ListHas(
    const char *list,
    const char *elem,
    int nocase)
{
    size_t elemLen;

    if (list == NULL || elem == NULL || *elem == '\0') {
	return 0;
    }
    elemLen = strlen(elem);
    while (*list != '\0') {
	const char *s = list, *e;
	size_t i, n;

	while (*s == ' ' || *s == '\t') {
	    s++;
	}
	e = s + strcspn(s, ",");
	list = (*e == ',') ? e + 1 : e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
	    e--;
	}
	n = (size_t) (e - s);
	if (n != elemLen) {
	    continue;
	}
	for (i = 0; i < n; i++) {
	    int a = (unsigned char) s[i], b = (unsigned char) elem[i];

	    if (nocase ? Lower(a) != Lower(b) : a != b) {
		break;
	    }
	}
	if (i == n) {
	    return 1;
	}
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpHasToken --
 *
 *	Does a comma-separated header value (e.g. Connection, Upgrade) list
 *	a token? Elements are trimmed of OWS and compared with the token
 *	ASCII case-insensitively.
 *
 * Results:
 *	1 if it does, 0 if not (also for a NULL value or an empty token).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpHttpHasToken(
    const char *value,
    const char *token)
{
    return ListHas(value, token, 1);
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpReason --
 *
 *	The standard reason phrase of a status code (RFC 9110 section 15,
 *	RFC 6585 for 429 and 431).
 *
 * Results:
 *	The phrase, or "" for a code without one here.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

const char *
MpHttpReason(
    int status)
{
    static const struct {
	int status;
	const char *reason;
    } reasons[] = {
	{100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"},
	{204, "No Content"}, {301, "Moved Permanently"}, {302, "Found"},
	{304, "Not Modified"}, {400, "Bad Request"}, {401, "Unauthorized"},
	{403, "Forbidden"}, {404, "Not Found"},
	{405, "Method Not Allowed"}, {406, "Not Acceptable"},
	{408, "Request Timeout"}, {409, "Conflict"}, {410, "Gone"},
	{411, "Length Required"}, {413, "Content Too Large"},
	{414, "URI Too Long"}, {415, "Unsupported Media Type"},
	{426, "Upgrade Required"}, {429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"},
	{500, "Internal Server Error"}, {501, "Not Implemented"},
	{502, "Bad Gateway"}, {503, "Service Unavailable"},
	{504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"}
    };
    size_t i;

    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
	if (reasons[i].status == status) {
	    return reasons[i].reason;
	}
    }
    return "";
}

/*
 * Output of the response builders: bytes go to buf only while they fit
 * (the builders run twice, measuring, then writing).
 */

typedef struct Out {
    char *buf;			/* NULL while measuring. */
    size_t n;			/* Bytes so far. */
} Out;

static void
Put(
    Out *o,
    const char *s)
{
    size_t n = strlen(s);

    if (o->buf != NULL) {
	memcpy(o->buf + o->n, s, n);
    }
    o->n += n;
}

static void
PutInt(
    Out *o,
    size_t v)
{
    char digits[24];
    int i = (int) sizeof(digits) - 1;

    digits[i] = '\0';
    do {
	digits[--i] = (char) ('0' + v % 10);
	v /= 10;
    } while (v > 0);
    Put(o, digits + i);
}

/*
 *----------------------------------------------------------------------
 *
 * Finish --
 *
 *	Second half of a builder: decides whether the response (o->n bytes,
 *	measured) fits in the caller's buffer with a NUL after it.
 *
 * Results:
 *	1 if the builder should now write it into buf, 0 if not.
 *
 * Side effects:
 *	Resets *o for the writing pass.
 *
 *----------------------------------------------------------------------
 */

static int
Finish(
    Out *o,
    char *buf,
    size_t bufLen)
{
    if (buf == NULL || o->n >= bufLen) {
	return 0;
    }
    o->buf = buf;
    o->n = 0;
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpBuild101 --
 *
 *	Builds the server's answer to a valid WebSocket opening handshake
 *	(RFC 6455 section 4.2.2):
 *	    HTTP/1.1 101 Switching Protocols CRLF
 *	    Upgrade: websocket CRLF
 *	    Connection: Upgrade CRLF
 *	    Sec-WebSocket-Accept: ACCEPT CRLF
 *	    [Sec-WebSocket-Protocol: SUBPROTOCOL CRLF]
 *	    CRLF
 *
 * Results:
 *	The length of the response (without a NUL), or 0 if accept is not
 *	28 base64 characters or subprotocol (NULL for none) is not a token.
 *	The response and a NUL are written into buf only if bufLen is
 *	larger than that length; otherwise buf is left alone (call with
 *	buf NULL to measure).
 *
 * Side effects:
 *	Writes into buf.
 *
 *----------------------------------------------------------------------
 */

size_t
MpHttpBuild101(
    char *buf,
    size_t bufLen,
    const char *accept,
    const char *subprotocol)
{
    Out o = {NULL, 0};
    const char *p;
    int pass;

    if (accept == NULL || strlen(accept) != 28) {
	return 0;
    }
    for (p = accept; *p != '\0'; p++) {
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
		|| (*p >= '0' && *p <= '9') || *p == '+' || *p == '/'
		|| *p == '=')) {
	    return 0;
	}
    }
    if (subprotocol != NULL) {
	if (*subprotocol == '\0') {
	    return 0;
	}
	for (p = subprotocol; *p != '\0'; p++) {
	    if (!IsTchar((unsigned char) *p)) {
		return 0;
	    }
	}
    }
    for (pass = 0; pass < 2; pass++) {
	Put(&o, "HTTP/1.1 101 Switching Protocols\r\n"
		"Upgrade: websocket\r\n"
		"Connection: Upgrade\r\n"
		"Sec-WebSocket-Accept: ");
	Put(&o, accept);
	Put(&o, "\r\n");
	if (subprotocol != NULL) {
	    Put(&o, "Sec-WebSocket-Protocol: ");
	    Put(&o, subprotocol);
	    Put(&o, "\r\n");
	}
	Put(&o, "\r\n");
	if (pass == 0 && !Finish(&o, buf, bufLen)) {
	    return o.n;
	}
    }
    buf[o.n] = '\0';
    return o.n;
}

/*
 *----------------------------------------------------------------------
 *
 * ExtraLinesOk --
 *
 *	Checks the extra header lines given to MpHttpBuildError: complete
 *	field lines, each ending with CRLF, no empty line, no bare CR or
 *	LF, no line starting with whitespace.
 *
 * Results:
 *	1 if acceptable (NULL and "" are), 0 if not.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
ExtraLinesOk(
    const char *s)
{
    int atLineStart = 1;

    if (s == NULL) {
	return 1;
    }
    for (; *s != '\0'; s++) {
	if (atLineStart && (*s == '\r' || *s == '\n' || *s == ' '
		|| *s == '\t' || *s == ':')) {
	    return 0;
	}
	atLineStart = 0;
	if (*s == '\r') {
	    if (s[1] != '\n') {
		return 0;
	    }
	    s++;
	    atLineStart = 1;
	} else if (*s == '\n') {
	    return 0;
	}
    }
    return atLineStart;
}

/*
 *----------------------------------------------------------------------
 *
 * MpHttpBuildError --
 *
 *	Builds an error response that closes the connection:
 *	    HTTP/1.1 STATUS REASON CRLF
 *	    Connection: close CRLF			(426: "Upgrade, close")
 *	    [Upgrade: websocket CRLF			(426 only)
 *	     Sec-WebSocket-Version: 13 CRLF]		(426 only)
 *	    Content-Type: text/plain; charset=utf-8 CRLF
 *	    Content-Length: N CRLF
 *	    EXTRALINES
 *	    CRLF
 *	    STATUS REASON LF				(the body, N bytes)
 *	A 426 names the protocol and version required (RFC 9110 section
 *	15.5.22: Upgrade is a MUST; RFC 6455 section 4.2.2 item 4); an
 *	Upgrade field needs the "upgrade" connection option (RFC 9110
 *	section 7.8). extraLines (NULL for none) are complete field lines
 *	each ending in CRLF, e.g. "Allow: GET\r\n" for a 405.
 *
 * Results:
 *	The length of the response (without a NUL), or 0 if status is not
 *	400..599 or extraLines is malformed. As for MpHttpBuild101, written
 *	(with a NUL) only if it fits in bufLen.
 *
 * Side effects:
 *	Writes into buf.
 *
 *----------------------------------------------------------------------
 */

size_t
MpHttpBuildError(
    char *buf,
    size_t bufLen,
    int status,
    const char *extraLines)
{
    Out o = {NULL, 0};
    const char *reason = MpHttpReason(status);
    char code[4];
    size_t bodyLen;
    int pass;

    if (status < 400 || status > 599 || !ExtraLinesOk(extraLines)) {
	return 0;
    }
    code[0] = (char) ('0' + status / 100);
    code[1] = (char) ('0' + status / 10 % 10);
    code[2] = (char) ('0' + status % 10);
    code[3] = '\0';
    bodyLen = 3 + (*reason ? 1 + strlen(reason) : 0) + 1;
    for (pass = 0; pass < 2; pass++) {
	Put(&o, "HTTP/1.1 ");
	Put(&o, code);
	Put(&o, " ");
	Put(&o, reason);
	Put(&o, "\r\n");
	if (status == 426) {
	    Put(&o, "Connection: Upgrade, close\r\n"
		    "Upgrade: websocket\r\n"
		    "Sec-WebSocket-Version: " MP_WS_VERSION "\r\n");
	} else {
	    Put(&o, "Connection: close\r\n");
	}
	Put(&o, "Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: ");
	PutInt(&o, bodyLen);
	Put(&o, "\r\n");
	if (extraLines != NULL) {
	    Put(&o, extraLines);
	}
	Put(&o, "\r\n");
	Put(&o, code);
	if (*reason) {
	    Put(&o, " ");
	    Put(&o, reason);
	}
	Put(&o, "\n");
	if (pass == 0 && !Finish(&o, buf, bufLen)) {
	    return o.n;
	}
    }
    buf[o.n] = '\0';
    return o.n;
}

/*
 *----------------------------------------------------------------------
 *
 * KeyOk --
 *
 *	Is a Sec-WebSocket-Key value the base64 encoding of exactly 16
 *	bytes (RFC 6455 section 4.2.1 item 5)? That is 22 characters of
 *	the base64 alphabet followed by "==". The unused low bits of the
 *	22nd character are not required to be zero (decoders ignore them).
 *
 * Results:
 *	1 if so, 0 if not.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
KeyOk(
    const char *key)
{
    int i;

    for (i = 0; i < 22; i++) {
	int c = (unsigned char) key[i];

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		|| (c >= '0' && c <= '9') || c == '+' || c == '/')) {
	    return 0;
	}
    }
    return key[22] == '=' && key[23] == '=' && key[24] == '\0';
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsUpgradeCheck --
 *
 *	Decides whether a parsed request asks for a WebSocket and, if so,
 *	whether its opening handshake is valid (RFC 6455 section 4.2.1).
 *	A request asks for a WebSocket when its Upgrade field lists the
 *	token "websocket" (any case); others (no Upgrade, or an upgrade to
 *	another protocol, which a server may ignore: RFC 9110 section 7.8)
 *	are plain HTTP requests. The checks, in this order:
 *	    method GET					else 400
 *	    HTTP/1.1 or later				else 400
 *	    Connection lists "upgrade" (any case)	else 400
 *	    one Sec-WebSocket-Version field		else 400
 *	    ... whose value is 13			else 426
 *	    one Sec-WebSocket-Key field, the base64
 *	    of 16 bytes					else 400
 *	(Host was checked by the parser.) The version comes before the key
 *	so that a client of another protocol version learns which one to
 *	use.
 *
 * Results:
 *	0 for a valid handshake or a plain request, else the status code
 *	to answer with (MpHttpBuildError). *isUpgradePtr is set to 1 for a
 *	WebSocket request (valid or not), 0 for a plain one.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpWsUpgradeCheck(
    const MpHttpRequest *r,
    int *isUpgradePtr)
{
    const char *v;

    *isUpgradePtr = MpHttpHasToken(MpHttpHeader(r, "Upgrade"), "websocket");
    if (!*isUpgradePtr) {
	return 0;
    }
    if (strcmp(r->method, "GET") != 0 || r->versionMinor < 1
	    || !MpHttpHasToken(MpHttpHeader(r, "Connection"), "upgrade")) {
	return 400;
    }
    if (MpHttpHeaderCount(r, "Sec-WebSocket-Version") != 1) {
	return 400;
    }
    if (strcmp(MpHttpHeader(r, "Sec-WebSocket-Version"), MP_WS_VERSION) != 0) {
	return 426;
    }
    v = MpHttpHeader(r, "Sec-WebSocket-Key");
    if (MpHttpHeaderCount(r, "Sec-WebSocket-Key") != 1 || strlen(v) != 24
	    || !KeyOk(v)) {
	return 400;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsChooseSubprotocol --
 *
 *	Picks the subprotocol of a connection: the first of the server's
 *	(in the server's order of preference) that the client lists in its
 *	Sec-WebSocket-Protocol value (the combined value of its field
 *	lines). Names compare case-sensitively: the client checks that the
 *	server's answer is one of its offers exactly.
 *
 * Results:
 *	The index in offered[], or -1 if none (or clientHeader is NULL).
 *	NULL or empty entries of offered[] never match.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpWsChooseSubprotocol(
    const char *const offered[],
    int n,
    const char *clientHeader)
{
    int i;

    for (i = 0; i < n; i++) {
	if (ListHas(clientHeader, offered[i], 0)) {
	    return i;
	}
    }
    return -1;
}
