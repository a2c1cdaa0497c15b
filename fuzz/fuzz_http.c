/*
 * fuzz_http.c --
 *
 *	libFuzzer harness for the HTTP request-head parser and the WebSocket
 *	handshake checks (generic/mpHttp.c). The same byte stream is fed
 *	twice: in one chunk, and in chunks of arbitrary sizes (as the server
 *	reads them), feeding stopping at the first result other than
 *	MP_HTTP_INCOMPLETE.
 *
 *	Input layout:
 *	    byte 0-1   maxHead selector (see MaxHead)
 *	    byte 2-3   chunking seed (sizes drawn from a small PRNG)
 *	    byte 4...  the byte stream a client sends
 *
 *	Checked:
 *	  - both feedings give the same outcome: the same result, the same
 *	    status for MP_HTTP_ERROR, for MP_HTTP_DONE the same number of
 *	    bytes consumed and the same request (method, target, path, query,
 *	    version, every field's name, value and combined value);
 *	  - MP_HTTP_ERROR statuses are 400, 431 or 505 only; INCOMPLETE only
 *	    while the stream is no longer than maxHead; a DONE head ends with
 *	    an empty line, right where the parser says, and is no longer than
 *	    maxHead;
 *	  - bounded memory: the parser's buffer never exceeds maxHead;
 *	  - every string of the request lies inside the parser's buffers and
 *	    is NUL-terminated there (ASan catches reads beyond them); names
 *	    are tokens, values have no CR, LF, NUL, or surrounding whitespace;
 *	  - MpHttpHeader returns, for every name, the first field's combined
 *	    value or value; MpHttpHasToken, MpWsUpgradeCheck (0, 400 or 426)
 *	    and MpWsChooseSubprotocol run on everything; the response
 *	    builders write exactly the length they report into buffers of
 *	    exactly that size plus the NUL.
 *	Memory errors and leaks are caught by ASan/LSan, undefined behaviour
 *	by UBSan (tools/run-fuzz.sh builds with all three). MpWsAccept is not
 *	driven here: it needs libcrypto, which the harnesses do not link.
 */

#include <string.h>
#include "mpHttp.h"

#define FUZZ_NAME "fuzz_http"
#include "fuzzUtil.h"

/*
 * MaxHead --
 *	A head limit from a 16-bit selector: mostly small (1..64, 1..1024)
 *	so that 431 happens often, sometimes the default (0 = 8192) or no
 *	practical limit.
 */

static size_t
MaxHead(
    unsigned sel)
{
    switch (sel >> 14) {
    case 0:
	return 1 + (sel & 0x3F);
    case 1:
	return 1 + (sel & 0x3FF);
    case 2:
	return 0;
    default:
	return 0x7FFFFFFF;
    }
}

/*
 * Same string, both NULL allowed.
 */

static int
SameStr(
    const char *a,
    const char *b)
{
    if (a == NULL || b == NULL) {
	return a == b;
    }
    return strcmp(a, b) == 0;
}

/*
 * InBuf --
 *	The string s lies in [buf, buf + len) with its NUL.
 */

static int
InBuf(
    const char *s,
    const char *buf,
    size_t len)
{
    return s >= buf && s < buf + len
	    && memchr(s, '\0', (size_t) (buf + len - s)) != NULL;
}

static int
IsTokenChar(
    int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9')
	    || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * CaseEqual --
 *	ASCII case-insensitive string equality (written apart from the
 *	parser's own).
 */

static int
CaseEqual(
    const char *a,
    const char *b)
{
    size_t k;

    for (k = 0; a[k] != '\0' && b[k] != '\0'; k++) {
	int x = (unsigned char) a[k], y = (unsigned char) b[k];

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
    return a[k] == '\0' && b[k] == '\0';
}

/*
 * ExactBuild --
 *	Builds a response into a buffer of exactly the reported size plus
 *	the NUL, and checks the result.
 */

static void
ExactBuild(
    int status,
    const char *accept,
    const char *sub)
{
    size_t n, m;
    char *buf;

    n = status == 101 ? MpHttpBuild101(NULL, 0, accept, sub)
	    : MpHttpBuildError(NULL, 0, status, NULL);
    CHECK(n > 0);
    buf = (char *) malloc(n + 1);
    CHECK(buf != NULL);
    /* One byte short: nothing written. */
    buf[0] = '#';
    m = status == 101 ? MpHttpBuild101(buf, n, accept, sub)
	    : MpHttpBuildError(buf, n, status, NULL);
    CHECK(m == n && buf[0] == '#');
    m = status == 101 ? MpHttpBuild101(buf, n + 1, accept, sub)
	    : MpHttpBuildError(buf, n + 1, status, NULL);
    CHECK(m == n && buf[n] == '\0' && strlen(buf) == n);
    CHECK(memcmp(buf, "HTTP/1.1 ", 9) == 0);
    CHECK(status != 101
	    || (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0));
    free(buf);
}

/*
 * CheckRequest --
 *	The properties of a complete head (see the file comment).
 */

static void
CheckRequest(
    const MpHttpIn *in)
{
    static const char *const offered[] = {"chat", "superchat", "v1.x"};
    static const char *const tokens[] = {"upgrade", "websocket", "close",
	    "", "keep-alive"};
    const MpHttpRequest *r = &in->req;
    const char *buf = in->buf;
    size_t len = r->headLen, t;
    int i, j, status, up, sub;

    CHECK(InBuf(r->method, buf, len) && InBuf(r->target, buf, len));
    CHECK(*r->method != '\0' && *r->target != '\0');
    for (t = 0; r->method[t] != '\0'; t++) {
	CHECK(IsTokenChar((unsigned char) r->method[t]));
    }
    CHECK(r->path != NULL && strlen(r->path) <= strlen(r->target) + 1);
    CHECK(r->query == NULL || strlen(r->query) < strlen(r->target));
    CHECK(r->versionMinor >= 0 && r->versionMinor <= 9);
    CHECK(r->numFields >= 0 && r->numFields <= MP_HTTP_MAX_FIELDS);
    for (i = 0; i < r->numFields; i++) {
	const MpHttpField *f = &r->fields[i];
	const char *first = NULL, *v;
	size_t vl;

	CHECK(InBuf(f->name, buf, len) && InBuf(f->value, buf, len));
	CHECK(*f->name != '\0');
	for (t = 0; f->name[t] != '\0'; t++) {
	    CHECK(IsTokenChar((unsigned char) f->name[t]));
	}
	vl = strlen(f->value);
	CHECK(strpbrk(f->value, "\r\n") == NULL);
	CHECK(vl == 0 || (f->value[0] != ' ' && f->value[0] != '\t'
		&& f->value[vl - 1] != ' ' && f->value[vl - 1] != '\t'));
	if (f->combined != NULL) {
	    CHECK(strlen(f->combined) >= vl);
	    CHECK(strncmp(f->combined, f->value, vl) == 0);
	    CHECK(MpHttpHeaderCount(r, f->name) > 1);
	}
	for (j = 0; j < i && first == NULL; j++) {
	    if (CaseEqual(r->fields[j].name, f->name)) {
		first = r->fields[j].combined ? r->fields[j].combined
			: r->fields[j].value;
	    }
	}
	v = MpHttpHeader(r, f->name);
	CHECK(v != NULL);
	if (first != NULL) {
	    CHECK(v == first && f->combined == NULL);
	} else {
	    CHECK(v == (f->combined ? f->combined : f->value));
	}
	for (j = 0; j < (int) (sizeof(tokens) / sizeof(tokens[0])); j++) {
	    int has = MpHttpHasToken(v, tokens[j]);

	    CHECK(has == 0 || has == 1);
	    CHECK(!has || tokens[j][0] != '\0');
	}
    }
    status = MpWsUpgradeCheck(r, &up);
    CHECK(up == 0 || up == 1);
    CHECK(status == 0 || (up && (status == 400 || status == 426)));
    sub = MpWsChooseSubprotocol(offered, 3,
	    MpHttpHeader(r, "Sec-WebSocket-Protocol"));
    CHECK(sub >= -1 && sub < 3);
    if (sub >= 0) {
	CHECK(MpHttpHasToken(MpHttpHeader(r, "Sec-WebSocket-Protocol"),
		offered[sub]));
    }
    if (up && status == 0) {
	CHECK(strcmp(r->method, "GET") == 0 && r->versionMinor >= 1);
	CHECK(strlen(MpHttpHeader(r, "Sec-WebSocket-Key")) == 24);
	ExactBuild(101, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		sub >= 0 ? offered[sub] : NULL);
    } else if (status != 0) {
	ExactBuild(status, NULL, NULL);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    MpHttpIn whole, parts;
    const char *in;
    size_t inLen, maxHead, maxEff, usedWhole, used, pos = 0, chunkMax;
    uint32_t seed;
    int rcWhole, rc = MP_HTTP_INCOMPLETE, i;

    if (size < 4) {
	return 0;
    }
    maxHead = MaxHead(((unsigned) data[0] << 8) | data[1]);
    maxEff = maxHead ? maxHead : MP_HTTP_DEFAULT_HEAD;
    seed = ((uint32_t) data[2] << 8 | data[3]) * 2654435761u + 1;
    in = (const char *) data + 4;
    inLen = size - 4;
    switch (data[3] & 3) {
    case 0:  chunkMax = 1;	break;
    case 1:  chunkMax = 7;	break;
    case 2:  chunkMax = 64;	break;
    default: chunkMax = 65536;	break;
    }

    /* One chunk. */
    MpHttpInit(&whole);
    rcWhole = MpHttpFeed(&whole, in, inLen, maxHead, &usedWhole);
    CHECK(whole.cap <= maxEff);

    /* Arbitrary chunks. */
    MpHttpInit(&parts);
    for (;;) {
	size_t n = FuzzNext(&seed) % (chunkMax + 1);	/* 0 is allowed. */

	if (n > inLen - pos) {
	    n = inLen - pos;
	}
	rc = MpHttpFeed(&parts, in + pos, n, maxHead, &used);
	CHECK(parts.cap <= maxEff);
	if (rc != MP_HTTP_INCOMPLETE) {
	    if (rc == MP_HTTP_DONE) {
		CHECK(used <= n);
		used += pos;
	    }
	    break;
	}
	CHECK(used == n);
	pos += n;
	if (pos == inLen) {
	    break;
	}
    }

    CHECK(rc == rcWhole);
    switch (rc) {
    case MP_HTTP_INCOMPLETE:
	CHECK(usedWhole == inLen);
	CHECK(inLen <= maxEff);
	break;
    case MP_HTTP_ERROR:
	CHECK(parts.status == whole.status);
	CHECK(whole.status == 400 || whole.status == 431
		|| whole.status == 505);
	CHECK(usedWhole == 0);
	ExactBuild(whole.status, NULL, NULL);
	break;
    case MP_HTTP_DONE: {
	const MpHttpRequest *a = &whole.req, *b = &parts.req;

	CHECK(usedWhole == used);
	CHECK(usedWhole == a->headLen && a->headLen <= maxEff);
	CHECK(usedWhole >= 2 && in[usedWhole - 1] == '\n');
	CHECK(in[usedWhole - 2] == '\n'
		|| (usedWhole >= 3 && in[usedWhole - 2] == '\r'
		&& in[usedWhole - 3] == '\n'));
	CHECK(SameStr(a->method, b->method) && SameStr(a->target, b->target)
		&& SameStr(a->path, b->path) && SameStr(a->query, b->query)
		&& a->versionMinor == b->versionMinor
		&& a->numFields == b->numFields && a->headLen == b->headLen);
	for (i = 0; i < a->numFields; i++) {
	    CHECK(SameStr(a->fields[i].name, b->fields[i].name)
		    && SameStr(a->fields[i].value, b->fields[i].value)
		    && SameStr(a->fields[i].combined, b->fields[i].combined));
	}
	CheckRequest(&whole);
	CHECK(MpHttpFeed(&whole, in, inLen, maxHead, &used) == MP_HTTP_DONE
		&& used == 0);
	break;
    }
    default:
	CHECK(0);
    }
    MpHttpFree(&whole);
    MpHttpFree(&parts);
    CHECK(whole.buf == NULL && whole.extra == NULL && parts.cap == 0);
    return 0;
}
