/*
 * wsframeunit.c --
 *
 *	Known-answer tests of the WebSocket frame codec (generic/mpWsFrame.c,
 *	compiled in here: the Makefile builds each helper from its one source
 *	file). Prints "ok NAME" or "FAIL NAME: detail" per check and a final
 *	"N passed, M failed"; exits 1 if any check failed. Run by
 *	tests/wsframe.test.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../generic/mpWsFrame.c"

static int passed, failed;

/*
 *----------------------------------------------------------------------
 *
 * Check --
 *
 *	Records one check: prints "ok NAME" if cond holds, else "FAIL NAME:"
 *	and the detail (printf format).
 *
 * Results:
 *	cond.
 *
 * Side effects:
 *	Prints a line, counts it.
 *
 *----------------------------------------------------------------------
 */

static int
Check(
    const char *name,
    int cond,
    const char *fmt,
    ...)
{
    va_list ap;

    if (cond) {
	printf("ok %s\n", name);
	passed++;
    } else {
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed++;
    }
    return cond;
}

/*
 * A growing byte buffer for building client streams.
 */

typedef struct Buf {
    unsigned char *b;
    size_t len, cap;
} Buf;

/*
 *----------------------------------------------------------------------
 *
 * Put --
 *
 *	Appends bytes to a Buf.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Grows the buffer (exits if memory is exhausted).
 *
 *----------------------------------------------------------------------
 */

static void
Put(
    Buf *b,
    const void *data,
    size_t len)
{
    if (b->len + len > b->cap) {
	size_t cap = b->cap ? b->cap : 64;

	while (cap < b->len + len) {
	    cap *= 2;
	}
	b->b = (unsigned char *) realloc(b->b, cap);
	if (b->b == NULL) {
	    fprintf(stderr, "wsframeunit: out of memory\n");
	    exit(2);
	}
	b->cap = cap;
    }
    if (len > 0) {
	memcpy(b->b + b->len, data, len);
    }
    b->len += len;
}

static const unsigned char rfcMask[4] = {0x37, 0xfa, 0x21, 0x3d};

/*
 *----------------------------------------------------------------------
 *
 * PutFrame --
 *
 *	Appends a masked client frame (MpWsClientHeader + MpWsMask) with the
 *	given first-byte flags ORed in (for RSV bits).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Grows b.
 *
 *----------------------------------------------------------------------
 */

static void
PutFrame(
    Buf *b,
    int opcode,
    int fin,
    const char *payload,
    size_t len)
{
    unsigned char hdr[14];
    size_t n = MpWsClientHeader(opcode, fin, len, rfcMask, hdr);
    char *copy = (char *) malloc(len ? len : 1);

    if (copy == NULL) {
	exit(2);
    }
    if (len > 0) {
	memcpy(copy, payload, len);
    }
    MpWsMask(copy, len, rfcMask, 0);
    Put(b, hdr, n);
    Put(b, copy, len);
    free(copy);
}

/*
 * What the emit callback saw.
 */

typedef struct Rec {
    char log[8192];		/* One entry per event, see Emit. */
    size_t logLen;
    int count;			/* Events so far. */
    int stopEvery;		/* Ask to stop after every event. */
    char *last;			/* Copy of the last payload. */
    size_t lastLen;
} Rec;

/*
 *----------------------------------------------------------------------
 *
 * Emit --
 *
 *	The emit callback: logs "NAME(payload)" for short printable
 *	payloads, "NAME[len]" otherwise, and keeps a copy of the payload.
 *
 * Results:
 *	rec->stopEvery.
 *
 * Side effects:
 *	Updates the Rec.
 *
 *----------------------------------------------------------------------
 */

static int
Emit(
    void *ctx,
    int opcode,
    const char *payload,
    size_t len)
{
    Rec *r = (Rec *) ctx;
    const char *name;
    size_t i;
    int printable = len <= 40;

    switch (opcode) {
    case MP_WS_TEXT:	name = "TEXT";	 break;
    case MP_WS_BINARY:	name = "BINARY"; break;
    case MP_WS_CLOSE:	name = "CLOSE";	 break;
    case MP_WS_PING:	name = "PING";	 break;
    case MP_WS_PONG:	name = "PONG";	 break;
    default:		name = "?";	 break;
    }
    for (i = 0; i < len && printable; i++) {
	if (payload[i] < 0x20 || payload[i] > 0x7e) {
	    printable = 0;
	}
    }
    if (r->logLen < sizeof(r->log) - 100) {
	if (printable) {
	    r->logLen += (size_t) snprintf(r->log + r->logLen,
		    sizeof(r->log) - r->logLen, "%s(%.*s)", name, (int) len,
		    payload);
	} else {
	    r->logLen += (size_t) snprintf(r->log + r->logLen,
		    sizeof(r->log) - r->logLen, "%s[%lu]", name,
		    (unsigned long) len);
	}
    }
    free(r->last);
    r->last = (char *) malloc(len ? len : 1);
    if (r->last == NULL) {
	exit(2);
    }
    if (len > 0) {
	memcpy(r->last, payload, len);
    }
    r->lastLen = len;
    r->count++;
    return r->stopEvery;
}

/*
 * The outcome of a run.
 */

typedef struct Run {
    int rc;			/* MP_WS_OK or MP_WS_FAIL (or NOMEM). */
    int code;			/* Close code on failure. */
    size_t at;			/* On failure: stream offset just after the
				 * byte that showed it. */
    int stops;			/* MP_WS_STOPPED results seen. */
} Run;

/*
 *----------------------------------------------------------------------
 *
 * Feed --
 *
 *	Feeds a stream to a fresh parser in chunks of at most 'chunk' bytes
 *	(0: all at once) or split at the single offset 'split' (when not
 *	(size_t) -1); after MP_WS_STOPPED the rest is fed again, as a server
 *	would later.
 *
 * Results:
 *	The outcome; rec holds the events.
 *
 * Side effects:
 *	Resets rec; the parser is freed.
 *
 *----------------------------------------------------------------------
 */

static Run
Feed(
    const unsigned char *data,
    size_t len,
    size_t maxMessage,
    size_t chunk,
    size_t split,
    Rec *rec)
{
    MpWsIn in;
    Run run;
    size_t pos = 0;
    int stopEvery = rec->stopEvery;

    free(rec->last);
    memset(rec, 0, sizeof(*rec));
    rec->stopEvery = stopEvery;
    memset(&in, 0, sizeof(in));
    memset(&run, 0, sizeof(run));
    run.rc = MP_WS_OK;
    while (pos < len) {
	size_t n = len - pos, rest;
	int code = 0, rc;

	if (chunk > 0 && n > chunk) {
	    n = chunk;
	}
	if (split != (size_t) -1 && pos < split && n > split - pos) {
	    n = split - pos;
	}
	rc = MpWsFeed(&in, maxMessage, (const char *) data + pos, n, Emit,
		rec, &rest, &code);
	if (rc == MP_WS_STOPPED) {
	    run.stops++;
	    pos += n - rest;
	    continue;
	}
	if (rc != MP_WS_OK) {
	    run.rc = rc;
	    run.code = code;
	    run.at = pos + n - rest;
	    break;
	}
	pos += n;
    }
    MpWsFree(&in);
    return run;
}

/*
 *----------------------------------------------------------------------
 *
 * Expect --
 *
 *	Feeds a stream all at once, in one-byte chunks, and in 3-byte
 *	chunks with a stop after every event, and checks each time the
 *	result, the close code, where a failure was found (if at is not
 *	(size_t) -1) and the events.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	One check line.
 *
 *----------------------------------------------------------------------
 */

static void
Expect(
    const char *name,
    const Buf *b,
    size_t maxMessage,
    int code,
    size_t at,
    const char *events)
{
    static const size_t chunks[3] = {0, 1, 3};
    int i;

    for (i = 0; i < 3; i++) {
	Rec rec;
	Run run;
	int wantRc = code ? MP_WS_FAIL : MP_WS_OK;

	memset(&rec, 0, sizeof(rec));
	rec.stopEvery = (i == 2);
	run = Feed(b->b, b->len, maxMessage, chunks[i], (size_t) -1, &rec);
	free(rec.last);
	if (run.rc != wantRc || (code && run.code != code)
		|| (code && at != (size_t) -1 && run.at != at)
		|| strcmp(rec.log, events) != 0
		|| (i == 2 && run.stops != rec.count)) {
	    Check(name, 0, "chunk %lu: result %d code %d at %lu events \"%s\";"
		    " expected result %d code %d at %ld events \"%s\"",
		    (unsigned long) chunks[i], run.rc, run.code,
		    (unsigned long) run.at, rec.log, wantRc, code,
		    at == (size_t) -1 ? -1L : (long) at, events);
	    return;
	}
    }
    Check(name, 1, "");
}

/*
 *----------------------------------------------------------------------
 *
 * Raw --
 *
 *	Makes a Buf from literal bytes.
 *
 * Results:
 *	The Buf (caller frees b.b).
 *
 * Side effects:
 *	Allocates.
 *
 *----------------------------------------------------------------------
 */

static Buf
Raw(
    const char *bytes,
    size_t len)
{
    Buf b;

    memset(&b, 0, sizeof(b));
    Put(&b, bytes, len);
    return b;
}

#define RAW(s) Raw(s, sizeof(s) - 1)

/*
 *----------------------------------------------------------------------
 *
 * TestRfcExamples --
 *
 *	RFC 6455 section 5.7 examples, byte for byte.
 *
 *----------------------------------------------------------------------
 */

static void
TestRfcExamples(void)
{
    Buf b;
    unsigned char hdr[14];
    size_t n, i;
    char *big;
    Rec rec;
    Run run;

    /* Single-frame unmasked text: what a server sends; a server must
     * refuse it from a client, at the second byte. */
    n = MpWsServerHeader(MP_WS_TEXT, 5, hdr);
    Check("rfc-unmasked-hello-encode",
	    n == 2 && hdr[0] == 0x81 && hdr[1] == 0x05,
	    "got %lu bytes %02x %02x", (unsigned long) n, hdr[0], hdr[1]);
    b = RAW("\x81\x05\x48\x65\x6c\x6c\x6f");
    Expect("rfc-unmasked-hello-refused", &b, 1000, 1002, 2, "");
    free(b.b);

    /* Single-frame masked text. */
    b = RAW("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    Expect("rfc-masked-hello", &b, 1000, 0, 0, "TEXT(Hello)");
    {
	Buf c;

	memset(&c, 0, sizeof(c));
	PutFrame(&c, MP_WS_TEXT, 1, "Hello", 5);
	Check("rfc-masked-hello-encode",
		c.len == b.len && memcmp(c.b, b.b, b.len) == 0,
		"MpWsClientHeader + MpWsMask differ from the RFC bytes");
	free(c.b);
    }
    free(b.b);

    /* Fragmented unmasked text: refused; its masked form reassembled. */
    b = RAW("\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f");
    Expect("rfc-fragmented-unmasked-refused", &b, 1000, 1002, 2, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 0, "Hel", 3);
    PutFrame(&b, MP_WS_CONT, 1, "lo", 2);
    Check("rfc-fragmented-masked-bytes", b.len == 17 && b.b[0] == 0x01
	    && b.b[1] == 0x83 && b.b[9] == 0x80 && b.b[10] == 0x82,
	    "unexpected frame bytes");
    Expect("rfc-fragmented-masked", &b, 1000, 0, 0, "TEXT(Hello)");
    free(b.b);

    /* Unmasked ping: refused; masked ping and the RFC's masked pong. */
    n = MpWsServerHeader(MP_WS_PING, 5, hdr);
    Check("rfc-unmasked-ping-encode",
	    n == 2 && hdr[0] == 0x89 && hdr[1] == 0x05, "got %02x %02x",
	    hdr[0], hdr[1]);
    b = RAW("\x89\x05\x48\x65\x6c\x6c\x6f");
    Expect("rfc-unmasked-ping-refused", &b, 1000, 1002, 2, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_PING, 1, "Hello", 5);
    Expect("rfc-masked-ping", &b, 1000, 0, 0, "PING(Hello)");
    free(b.b);
    b = RAW("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    Expect("rfc-masked-pong", &b, 1000, 0, 0, "PONG(Hello)");
    free(b.b);

    /* 256 bytes binary, 16-bit length. */
    n = MpWsServerHeader(MP_WS_BINARY, 256, hdr);
    Check("rfc-binary-256-encode", n == 4 && hdr[0] == 0x82
	    && hdr[1] == 0x7e && hdr[2] == 0x01 && hdr[3] == 0x00,
	    "got %lu bytes %02x %02x %02x %02x", (unsigned long) n, hdr[0],
	    hdr[1], hdr[2], hdr[3]);
    big = (char *) malloc(65536);
    if (big == NULL) {
	exit(2);
    }
    for (i = 0; i < 65536; i++) {
	big[i] = (char) (i * 7 + (i >> 8));
    }
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_BINARY, 1, big, 256);
    Check("rfc-binary-256-client-header", b.b[0] == 0x82 && b.b[1] == 0xfe
	    && b.b[2] == 0x01 && b.b[3] == 0x00 && b.len == 8 + 256,
	    "unexpected header");
    memset(&rec, 0, sizeof(rec));
    run = Feed(b.b, b.len, 1000, 0, (size_t) -1, &rec);
    Check("rfc-binary-256", run.rc == MP_WS_OK && rec.count == 1
	    && strcmp(rec.log, "BINARY[256]") == 0 && rec.lastLen == 256
	    && memcmp(rec.last, big, 256) == 0, "events \"%s\"", rec.log);
    free(rec.last);
    free(b.b);

    /* 64 KiB binary, 64-bit length. */
    n = MpWsServerHeader(MP_WS_BINARY, 65536, hdr);
    Check("rfc-binary-64k-encode", n == 10 && hdr[0] == 0x82
	    && hdr[1] == 0x7f && memcmp(hdr + 2,
	    "\x00\x00\x00\x00\x00\x01\x00\x00", 8) == 0,
	    "got %lu bytes", (unsigned long) n);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_BINARY, 1, big, 65536);
    Check("rfc-binary-64k-client-header", b.len == 14 + 65536
	    && b.b[1] == 0xff && memcmp(b.b + 2,
	    "\x00\x00\x00\x00\x00\x01\x00\x00", 8) == 0, "unexpected header");
    memset(&rec, 0, sizeof(rec));
    run = Feed(b.b, b.len, 65536, 1000, (size_t) -1, &rec);
    Check("rfc-binary-64k", run.rc == MP_WS_OK && rec.count == 1
	    && rec.lastLen == 65536 && memcmp(rec.last, big, 65536) == 0,
	    "result %d events \"%s\"", run.rc, rec.log);
    free(rec.last);
    free(b.b);
    free(big);
}

/*
 *----------------------------------------------------------------------
 *
 * TestProtocolErrors --
 *
 *	Every 1002 case, each found at the byte that shows it.
 *
 *----------------------------------------------------------------------
 */

static void
TestProtocolErrors(void)
{
    static const int reserved[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    static const unsigned badCodes[] = {0, 999, 1004, 1005, 1006, 1015,
	    1016, 2000, 2999, 5000, 65535};
    static const unsigned goodCodes[] = {1000, 1001, 1002, 1003, 1007,
	    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    char name[64], payload[130];
    Buf b;
    size_t i;

    for (i = 0; i < 3; i++) {
	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_TEXT, 1, "Hi", 2);
	b.b[0] |= (unsigned char) (0x40 >> i);
	sprintf(name, "1002-rsv%d", (int) i + 1);
	Expect(name, &b, 1000, 1002, 1, "");
	free(b.b);
    }
    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
	memset(&b, 0, sizeof(b));
	PutFrame(&b, reserved[i], 1, "Hi", 2);
	sprintf(name, "1002-opcode-%x", reserved[i]);
	Expect(name, &b, 1000, 1002, 1, "");
	free(b.b);
    }
    for (i = MP_WS_CLOSE; i <= MP_WS_PONG; i++) {
	memset(&b, 0, sizeof(b));
	PutFrame(&b, (int) i, 0, "", 0);
	sprintf(name, "1002-control-%x-fin0", (unsigned) i);
	Expect(name, &b, 1000, 1002, 1, "");
	free(b.b);
    }
    memset(payload, 'p', sizeof(payload));
    for (i = MP_WS_CLOSE; i <= MP_WS_PONG; i++) {
	memset(&b, 0, sizeof(b));
	PutFrame(&b, (int) i, 1, payload, 126);
	sprintf(name, "1002-control-%x-126", (unsigned) i);
	Expect(name, &b, 1000, 1002, 2, "");
	free(b.b);
    }
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_PING, 1, payload, 125);
    Expect("control-125-accepted", &b, 1, 0, 0, "PING[125]");
    free(b.b);
    payload[0] = 0x03;
    payload[1] = (char) 0xe8;
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_CLOSE, 1, payload, 125);
    Expect("close-125-accepted", &b, 1000, 0, 0, "CLOSE[125]");
    free(b.b);

    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_CONT, 1, "lo", 2);
    Expect("1002-continuation-without-message", &b, 1000, 1002, 1, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 1, "Hi", 2);
    PutFrame(&b, MP_WS_CONT, 0, "lo", 2);
    Expect("1002-continuation-after-complete", &b, 1000, 1002, 9,
	    "TEXT(Hi)");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 0, "Hel", 3);
    PutFrame(&b, MP_WS_TEXT, 1, "lo", 2);
    Expect("1002-text-inside-fragmented", &b, 1000, 1002, 10, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_BINARY, 0, "Hel", 3);
    PutFrame(&b, MP_WS_BINARY, 1, "lo", 2);
    Expect("1002-binary-inside-fragmented", &b, 1000, 1002, 10, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 0, "Hel", 3);
    PutFrame(&b, MP_WS_BINARY, 1, "lo", 2);
    Expect("1002-binary-inside-text", &b, 1000, 1002, 10, "");
    free(b.b);

    b = RAW("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x05\x37\xfa\x21\x3d");
    Expect("1002-64bit-top-bit", &b, 1000, 1002, 3, "");
    free(b.b);
    b = RAW("\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x37\xfa\x21\x3d");
    Expect("1009-64bit-largest", &b, 1000, 1009, 10, "");
    free(b.b);

    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_CLOSE, 1, "\x03", 1);
    Expect("1002-close-length-1", &b, 1000, 1002, 2, "");
    free(b.b);
    for (i = 0; i < sizeof(badCodes) / sizeof(badCodes[0]); i++) {
	payload[0] = (char) (badCodes[i] >> 8);
	payload[1] = (char) badCodes[i];
	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_CLOSE, 1, payload, 2);
	sprintf(name, "1002-close-code-%u", badCodes[i]);
	Expect(name, &b, 1000, 1002, b.len, "");
	free(b.b);
    }
    for (i = 0; i < sizeof(goodCodes) / sizeof(goodCodes[0]); i++) {
	char ev[32];

	payload[0] = (char) (goodCodes[i] >> 8);
	payload[1] = (char) goodCodes[i];
	memcpy(payload + 2, "bye", 3);
	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_CLOSE, 1, payload, 5);
	sprintf(name, "close-code-%u-accepted", goodCodes[i]);
	sprintf(ev, "CLOSE[5]");
	Expect(name, &b, 1000, 0, 0, ev);
	free(b.b);
    }
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_CLOSE, 1, "", 0);
    Expect("close-empty-accepted", &b, 1000, 0, 0, "CLOSE()");
    free(b.b);

    /* After a failure the parser stays failed. */
    {
	MpWsIn in;
	Rec rec;
	size_t rest;
	int code = 0, rc1, rc2, code2 = 0;

	memset(&in, 0, sizeof(in));
	memset(&rec, 0, sizeof(rec));
	b = RAW("\x81\x05\x48\x65\x6c\x6c\x6f");
	rc1 = MpWsFeed(&in, 1000, (const char *) b.b, b.len, Emit, &rec,
		&rest, &code);
	free(b.b);
	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_TEXT, 1, "Hello", 5);
	rc2 = MpWsFeed(&in, 1000, (const char *) b.b, b.len, Emit, &rec,
		&rest, &code2);
	Check("fail-is-sticky", rc1 == MP_WS_FAIL && code == 1002
		&& rc2 == MP_WS_FAIL && code2 == 1002 && rest == b.len
		&& rec.count == 0, "rc %d/%d code %d/%d rest %lu events %d",
		rc1, rc2, code, code2, (unsigned long) rest, rec.count);
	free(b.b);
	free(rec.last);
	MpWsFree(&in);
    }

    /* A non-minimal length (5 in 16 bits) is accepted (see MpWsFeed). */
    b = RAW("\x81\xfe\x00\x05\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    Expect("nonminimal-length-accepted", &b, 1000, 0, 0, "TEXT(Hello)");
    free(b.b);
}

/*
 *----------------------------------------------------------------------
 *
 * TestInvalidUtf8 --
 *
 *	1007 cases: invalid UTF-8 in a text message found at the first bad
 *	byte (also across fragments), an incomplete sequence at the end, a
 *	bad close reason; binary messages are not checked.
 *
 *----------------------------------------------------------------------
 */

static void
TestInvalidUtf8(void)
{
    static const struct {
	const char *name;
	const char *bytes;	/* "ab" + these + "cd" */
	size_t bad;		/* Index of the first bad byte in them. */
    } cases[] = {
	{"overlong-c0", "\xc0\x80", 0},
	{"overlong-c1", "\xc1\xbf", 0},
	{"overlong-e0", "\xe0\x9f\xbf", 1},
	{"overlong-f0", "\xf0\x8f\xbf\xbf", 1},
	{"surrogate-d800", "\xed\xa0\x80", 1},
	{"surrogate-dfff", "\xed\xbf\xbf", 1},
	{"above-10ffff", "\xf4\x90\x80\x80", 1},
	{"lead-f5", "\xf5\x80\x80\x80", 0},
	{"byte-ff", "\xff", 0},
	{"stray-continuation", "\x80", 0},
	{"lead-then-ascii", "\xe2\x82" "A", 2},
	{"lead-then-lead", "\xc3\xc3\xa9", 1},
    };
    char name[80], text[32];
    Buf b;
    size_t i, k;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
	size_t blen = strlen(cases[i].bytes);

	/* In one frame: found at the bad byte, not at the frame's end. */
	sprintf(text, "ab%scd", cases[i].bytes);
	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_TEXT, 1, text, strlen(text));
	sprintf(name, "1007-%s", cases[i].name);
	Expect(name, &b, 1000, 1007, 6 + 2 + cases[i].bad + 1, "");
	free(b.b);

	/* The same bytes in a binary message are fine. */
	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_BINARY, 1, text, strlen(text));
	sprintf(name, "binary-%s-accepted", cases[i].name);
	{
	    char ev[32];

	    sprintf(ev, "BINARY[%lu]", (unsigned long) strlen(text));
	    Expect(name, &b, 1000, 0, 0, ev);
	}
	free(b.b);

	/* Split across two fragments at every position. */
	for (k = 0; k <= blen; k++) {
	    size_t at;

	    memset(&b, 0, sizeof(b));
	    memcpy(text, "ab", 2);
	    memcpy(text + 2, cases[i].bytes, k);
	    PutFrame(&b, MP_WS_TEXT, 0, text, 2 + k);
	    sprintf(text, "%scd", cases[i].bytes + k);
	    PutFrame(&b, MP_WS_CONT, 1, text, strlen(text));
	    if (cases[i].bad < k) {
		at = 6 + 2 + cases[i].bad + 1;
	    } else {
		at = 6 + 2 + k + 6 + (cases[i].bad - k) + 1;
	    }
	    sprintf(name, "1007-%s-fragments-split-%lu", cases[i].name,
		    (unsigned long) k);
	    Expect(name, &b, 1000, 1007, at, "");
	    free(b.b);
	}
    }

    /* Incomplete sequence at the message's end. */
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 1, "ab\xe2\x82", 4);
    Expect("1007-incomplete-at-end", &b, 1000, 1007, b.len, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 0, "ab\xf0\x9f\x98", 5);
    PutFrame(&b, MP_WS_PING, 1, "x", 1);
    PutFrame(&b, MP_WS_CONT, 1, "", 0);
    Expect("1007-incomplete-at-end-empty-final-fragment", &b, 1000, 1007,
	    b.len, "PING(x)");
    free(b.b);

    /* Close reasons. */
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_CLOSE, 1, "\x03\xe8" "a\xc0\x80", 5);
    Expect("1007-close-reason-invalid", &b, 1000, 1007, b.len, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_CLOSE, 1, "\x03\xe8" "a\xe2\x82", 5);
    Expect("1007-close-reason-incomplete", &b, 1000, 1007, b.len, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_CLOSE, 1, "\x03\xe8" "\xe2\x82\xac", 5);
    Expect("close-reason-utf8-accepted", &b, 1000, 0, 0, "CLOSE[5]");
    free(b.b);
}

/*
 *----------------------------------------------------------------------
 *
 * TestTooBig --
 *
 *	1009 cases: found from the header (before the masking key and any
 *	payload), counted over fragments; control frames are not limited.
 *
 *----------------------------------------------------------------------
 */

static void
TestTooBig(void)
{
    char payload[400];
    Buf b;

    memset(payload, 'x', sizeof(payload));
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 1, payload, 5);
    Expect("1009-7bit", &b, 4, 1009, 2, "");
    Expect("limit-exact-accepted", &b, 5, 0, 0, "TEXT(xxxxx)");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_BINARY, 1, payload, 300);
    Expect("1009-16bit", &b, 299, 1009, 4, "");
    free(b.b);
    b = RAW("\x82\xff\x00\x00\x00\x01\x00\x00\x00\x00\x37\xfa\x21\x3d");
    Expect("1009-64bit-4gib", &b, 1024 * 1024, 1009, 10, "");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 0, payload, 3);
    PutFrame(&b, MP_WS_PING, 1, payload, 10);
    PutFrame(&b, MP_WS_CONT, 0, payload, 2);
    PutFrame(&b, MP_WS_CONT, 1, payload, 1);
    Expect("1009-fragments", &b, 5, 1009, 9 + 16 + 8 + 2, "PING(xxxxxxxxxx)");
    Expect("fragments-at-limit-accepted", &b, 6, 0, 0,
	    "PING(xxxxxxxxxx)TEXT(xxxxxx)");
    free(b.b);
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_PING, 1, payload, 100);
    Expect("control-not-limited", &b, 1, 0, 0, "PING[100]");
    free(b.b);
}

/*
 *----------------------------------------------------------------------
 *
 * TestSplits --
 *
 *	A 4-byte character split at every byte position across two chunks
 *	and across two fragments; a ping between fragments; stopping.
 *
 *----------------------------------------------------------------------
 */

static void
TestSplits(void)
{
    static const char text[] = "a\xf0\x9f\x98\x80z";	/* a U+1F600 z */
    char name[64];
    Buf b;
    size_t k, split;
    int allOk = 1;

    /* Two chunks: every split point of the frame. */
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 1, text, 6);
    for (split = 0; split <= b.len; split++) {
	Rec rec;
	Run run;

	memset(&rec, 0, sizeof(rec));
	run = Feed(b.b, b.len, 1000, 0, split, &rec);
	if (split >= 7 && split <= 11) {
	    sprintf(name, "utf8-4byte-chunks-split-%lu",
		    (unsigned long) (split - 7));
	    Check(name, run.rc == MP_WS_OK && rec.lastLen == 6
		    && memcmp(rec.last, text, 6) == 0, "result %d events %s",
		    run.rc, rec.log);
	} else if (run.rc != MP_WS_OK || rec.count != 1) {
	    allOk = 0;
	}
	free(rec.last);
    }
    Check("utf8-4byte-chunks-every-split", allOk, "some split failed");
    free(b.b);

    /* Two fragments, the character cut at every position. */
    for (k = 0; k <= 4; k++) {
	Rec rec;
	Run run;

	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_TEXT, 0, text, 1 + k);
	PutFrame(&b, MP_WS_CONT, 1, text + 1 + k, 5 - k);
	memset(&rec, 0, sizeof(rec));
	run = Feed(b.b, b.len, 1000, 1, (size_t) -1, &rec);
	sprintf(name, "utf8-4byte-fragments-split-%lu", (unsigned long) k);
	Check(name, run.rc == MP_WS_OK && rec.count == 1 && rec.lastLen == 6
		&& memcmp(rec.last, text, 6) == 0, "result %d events %s",
		run.rc, rec.log);
	free(rec.last);
	free(b.b);
    }

    /* Control frames between fragments are delivered in wire order. */
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 0, "Hel", 3);
    PutFrame(&b, MP_WS_PING, 1, "p1", 2);
    PutFrame(&b, MP_WS_CONT, 0, "", 0);
    PutFrame(&b, MP_WS_PONG, 1, "", 0);
    PutFrame(&b, MP_WS_CONT, 1, "lo", 2);
    PutFrame(&b, MP_WS_BINARY, 1, "bin", 3);
    PutFrame(&b, MP_WS_CLOSE, 1, "\x03\xe8", 2);
    Expect("ping-between-fragments", &b, 1000, 0, 0,
	    "PING(p1)PONG()TEXT(Hello)BINARY(bin)CLOSE[2]");
    free(b.b);

    /* Empty messages. */
    memset(&b, 0, sizeof(b));
    PutFrame(&b, MP_WS_TEXT, 1, "", 0);
    PutFrame(&b, MP_WS_BINARY, 0, "", 0);
    PutFrame(&b, MP_WS_CONT, 1, "", 0);
    PutFrame(&b, MP_WS_PING, 1, "", 0);
    Expect("empty-messages", &b, 0, 0, 0, "TEXT()BINARY()PING()");
    free(b.b);

    /* Stopping: the rest is what follows the delivering frame. */
    {
	MpWsIn in;
	Rec rec;
	size_t rest = 0;
	int code = 0, rc1, rc2;

	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_TEXT, 0, "He", 2);
	PutFrame(&b, MP_WS_CONT, 1, "y", 1);
	PutFrame(&b, MP_WS_PING, 1, "pp", 2);
	memset(&in, 0, sizeof(in));
	memset(&rec, 0, sizeof(rec));
	rec.stopEvery = 1;
	rc1 = MpWsFeed(&in, 1000, (const char *) b.b, b.len, Emit, &rec,
		&rest, &code);
	Check("stop-rest", rc1 == MP_WS_STOPPED && rest == 8
		&& strcmp(rec.log, "TEXT(Hey)") == 0,
		"rc %d rest %lu events %s", rc1, (unsigned long) rest, rec.log);
	rc2 = MpWsFeed(&in, 1000, (const char *) b.b + b.len - rest, rest,
		Emit, &rec, &rest, &code);
	Check("stop-resume", rc2 == MP_WS_STOPPED && rest == 0
		&& strcmp(rec.log, "TEXT(Hey)PING(pp)") == 0,
		"rc %d rest %lu events %s", rc2, (unsigned long) rest, rec.log);
	free(rec.last);
	MpWsFree(&in);
	free(b.b);
    }

    /* A large message's buffer is released after delivery. */
    {
	MpWsIn in;
	Rec rec;
	size_t rest;
	int code = 0, rc;
	char *big = (char *) calloc(1, 100000);

	if (big == NULL) {
	    exit(2);
	}
	memset(&b, 0, sizeof(b));
	PutFrame(&b, MP_WS_BINARY, 0, big, 50000);
	PutFrame(&b, MP_WS_CONT, 1, big, 50000);
	memset(&in, 0, sizeof(in));
	memset(&rec, 0, sizeof(rec));
	rc = MpWsFeed(&in, 100000, (const char *) b.b, b.len, Emit, &rec,
		&rest, &code);
	Check("large-buffer-released", rc == MP_WS_OK && rec.lastLen == 100000
		&& in.msg == NULL && in.msgCap == 0, "rc %d cap %lu", rc,
		(unsigned long) in.msgCap);
	free(rec.last);
	MpWsFree(&in);
	free(b.b);
	free(big);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * TestUtf8 --
 *
 *	The validator on its own: boundaries of each sequence length,
 *	byte-at-a-time feeding, the index of the first bad byte.
 *
 *----------------------------------------------------------------------
 */

static void
TestUtf8(void)
{
    static const char *valid[] = {
	"", "plain ascii text longer than eight bytes",
	"\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
	"\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
	"\xf4\x8f\xbf\xbf", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
    };
    static const struct {
	const char *s;
	size_t bad;
    } invalid[] = {
	{"abcdefgh\x80", 8}, {"\xc0\xaf", 0}, {"\xe0\x80\xaf", 1},
	{"\xed\xa0\x80", 1}, {"\xf4\x90\x80\x80", 1}, {"\xf8\x88\x80\x80", 0},
	{"\xfe", 0}, {"a\xc3", (size_t) -1},
    };
    size_t i, j, bad;
    MpUtf8 u;
    int ok = 1, r;

    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
	size_t len = strlen(valid[i]);

	memset(&u, 0, sizeof(u));
	r = MpUtf8Feed(&u, valid[i], len, &bad) && MpUtf8Complete(&u);
	memset(&u, 0, sizeof(u));
	for (j = 0; j < len && r; j++) {
	    r = MpUtf8Feed(&u, valid[i] + j, 1, &bad);
	    if (j + 1 < len && MpUtf8Complete(&u) != (((unsigned char)
		    valid[i][j + 1] & 0xC0) != 0x80)) {
		r = 0;
	    }
	}
	if (!r || !MpUtf8Complete(&u)) {
	    printf("# valid string %lu refused\n", (unsigned long) i);
	    ok = 0;
	}
    }
    Check("utf8-valid-boundaries", ok, "see above");
    ok = 1;
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
	size_t len = strlen(invalid[i].s);

	memset(&u, 0, sizeof(u));
	bad = 99;
	r = MpUtf8Feed(&u, invalid[i].s, len, &bad);
	if (invalid[i].bad == (size_t) -1) {
	    if (!r || MpUtf8Complete(&u)) {
		ok = 0;
	    }
	    continue;
	}
	if (r || bad != invalid[i].bad || MpUtf8Complete(&u)
		|| MpUtf8Feed(&u, "a", 1, NULL)) {
	    printf("# invalid string %lu: r %d bad %lu\n", (unsigned long) i,
		    r, (unsigned long) bad);
	    ok = 0;
	}
    }
    Check("utf8-invalid-first-bad-byte", ok, "see above");

    /* Every code point encoded and fed byte by byte. */
    ok = 1;
    for (i = 0; i <= 0x10FFFF && ok; i++) {
	unsigned char e[4];
	size_t n;

	if (i < 0x80) {
	    e[0] = (unsigned char) i;
	    n = 1;
	} else if (i < 0x800) {
	    e[0] = (unsigned char) (0xC0 | (i >> 6));
	    e[1] = (unsigned char) (0x80 | (i & 0x3F));
	    n = 2;
	} else if (i < 0x10000) {
	    e[0] = (unsigned char) (0xE0 | (i >> 12));
	    e[1] = (unsigned char) (0x80 | ((i >> 6) & 0x3F));
	    e[2] = (unsigned char) (0x80 | (i & 0x3F));
	    n = 3;
	} else {
	    e[0] = (unsigned char) (0xF0 | (i >> 18));
	    e[1] = (unsigned char) (0x80 | ((i >> 12) & 0x3F));
	    e[2] = (unsigned char) (0x80 | ((i >> 6) & 0x3F));
	    e[3] = (unsigned char) (0x80 | (i & 0x3F));
	    n = 4;
	}
	memset(&u, 0, sizeof(u));
	r = 1;
	for (j = 0; j < n && r; j++) {
	    r = MpUtf8Feed(&u, (const char *) e + j, 1, NULL);
	}
	r = r && MpUtf8Complete(&u);
	if (r != !(i >= 0xD800 && i <= 0xDFFF)) {
	    printf("# code point %lx: %d\n", (unsigned long) i, r);
	    ok = 0;
	}
    }
    Check("utf8-every-code-point", ok, "see above");
}

/*
 *----------------------------------------------------------------------
 *
 * TestEncoders --
 *
 *	Shortest length forms, close payloads and code validity.
 *
 *----------------------------------------------------------------------
 */

static void
TestEncoders(void)
{
    static const struct {
	size_t len, server, client;
    } sizes[] = {
	{0, 2, 6}, {125, 2, 6}, {126, 4, 8}, {65535, 4, 8}, {65536, 10, 14},
    };
    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008,
	    1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999};
    static const unsigned invalid[] = {0, 1, 999, 1004, 1005, 1006, 1015,
	    1016, 2999, 5000, 65535};
    unsigned char hdr[14], out[MP_WS_CONTROL_MAX];
    char reason[200], name[64];
    size_t i, n;
    int ok;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
	unsigned char c[14];
	size_t m;
	uint64_t v = 0;
	size_t k;

	n = MpWsServerHeader(MP_WS_BINARY, sizes[i].len, hdr);
	m = MpWsClientHeader(MP_WS_BINARY, 1, sizes[i].len, rfcMask, c);
	if (n == 2) {
	    v = hdr[1];
	} else {
	    for (k = 2; k < n; k++) {
		v = (v << 8) | hdr[k];
	    }
	}
	sprintf(name, "shortest-length-%lu", (unsigned long) sizes[i].len);
	Check(name, n == sizes[i].server && m == sizes[i].client
		&& v == sizes[i].len && hdr[0] == 0x82 && !(hdr[1] & 0x80)
		&& (c[1] & 0x80) && (c[1] & 0x7F) == (hdr[1] & 0x7F)
		&& memcmp(c + m - 4, rfcMask, 4) == 0
		&& memcmp(c + 2, hdr + 2, n - 2) == 0,
		"server %lu client %lu bytes, length %lu",
		(unsigned long) n, (unsigned long) m, (unsigned long) v);
    }

    n = MpWsClosePayload(1000, "bye", 3, out);
    Check("close-payload-basic", n == 5 && memcmp(out, "\x03\xe8" "bye", 5)
	    == 0 && MpWsCheckClosePayload((char *) out, n) == 0,
	    "got %lu bytes", (unsigned long) n);
    n = MpWsClosePayload(0, "ignored", 7, out);
    Check("close-payload-no-code", n == 0, "got %lu bytes", (unsigned long) n);
    memset(reason, 'r', sizeof(reason));
    n = MpWsClosePayload(4000, reason, 200, out);
    Check("close-payload-truncated-ascii", n == 125 && out[0] == 0x0f
	    && out[1] == 0xa0, "got %lu bytes", (unsigned long) n);

    /* A 3-byte character (U+20AC) straddling byte 123 at each offset, and
     * a 4-byte one. */
    ok = 1;
    for (i = 119; i <= 124; i++) {
	static const char *chars[2] = {"\xe2\x82\xac", "\xf0\x9f\x98\x80"};
	int c;

	for (c = 0; c < 2; c++) {
	    size_t cl = strlen(chars[c]), want;

	    memset(reason, 'r', sizeof(reason));
	    memcpy(reason + i, chars[c], cl);
	    n = MpWsClosePayload(1001, reason, i + cl + 5, out);
	    want = (i + cl <= 123 || i >= 123) ? 2 + 123 : 2 + i;
	    if (n != want || MpWsCheckClosePayload((char *) out, n) != 0) {
		printf("# char at %lu (%lu bytes): %lu bytes, expected %lu\n",
			(unsigned long) i, (unsigned long) cl,
			(unsigned long) n, (unsigned long) want);
		ok = 0;
	    }
	}
    }
    Check("close-payload-truncated-utf8-boundary", ok, "see above");

    ok = 1;
    for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
	ok &= MpWsCloseCodeValid(valid[i]) == 1;
    }
    for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
	ok &= MpWsCloseCodeValid(invalid[i]) == 0;
    }
    Check("close-code-valid-table", ok, "a code classified wrongly");
    Check("close-payload-check", MpWsCheckClosePayload("\x03", 1) == 1002
	    && MpWsCheckClosePayload("\x03\xed", 2) == 1002
	    && MpWsCheckClosePayload("\x03\xe8\xff", 3) == 1007
	    && MpWsCheckClosePayload("", 0) == 0
	    && MpWsCheckClosePayload("\x0b\xb8", 2) == 0,
	    "wrong verdict");

    /* Masking at every offset is an involution matching the definition. */
    {
	char d[37], e[37];
	size_t off;

	ok = 1;
	for (off = 0; off < 8; off++) {
	    for (i = 0; i < sizeof(d); i++) {
		d[i] = e[i] = (char) (i * 13);
	    }
	    MpWsMask(d, sizeof(d), rfcMask, off);
	    for (i = 0; i < sizeof(d); i++) {
		ok &= (unsigned char) d[i] == ((unsigned char) e[i]
			^ rfcMask[(off + i) % 4]);
	    }
	    MpWsMask(d, sizeof(d), rfcMask, off);
	    ok &= memcmp(d, e, sizeof(d)) == 0;
	}
	Check("mask-offsets", ok, "masking differs from the definition");
    }
}

int
main(void)
{
    TestRfcExamples();
    TestProtocolErrors();
    TestInvalidUtf8();
    TestTooBig();
    TestSplits();
    TestUtf8();
    TestEncoders();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
