/*
 * fuzz_wsframe.c --
 *
 *	libFuzzer harness for the WebSocket frame parser (MpWsFeed,
 *	generic/mpWsFrame.c) and its encoders, in two modes chosen by the
 *	input.
 *
 *	Input layout:
 *	    byte 0-1   maxMessage selector (see FuzzMaxMessage, fuzzUtil.h)
 *	    byte 2-3   chunking seed (sizes drawn from a small PRNG)
 *	    byte 4     bit 0: mode (0 stream, 1 round trip); bits 1-2: when
 *		       the emit callback asks to stop (0 never, 1 after
 *		       every event, 2 after every third, 3 after the first)
 *	    byte 5...  the stream (mode 0) or the recipe (mode 1)
 *
 *	Mode 0, stream: the bytes are what a client sends. They are fed all
 *	at once, and again in chunks of arbitrary sizes (zero-length ones
 *	included), each time resuming after MP_WS_STOPPED with the rest, as
 *	the server would. Checked:
 *	  - both feeds give the same events (opcode, payload), in the same
 *	    order, each stop at the same stream offset, and the same end:
 *	    all consumed with the same partial state (header bytes held,
 *	    payload received, message length, open message), or failure
 *	    with the same close code found at the same stream offset;
 *	  - every event is sane: TEXT payloads are complete valid UTF-8
 *	    (MpUtf8Feed), CLOSE payloads pass MpWsCheckClosePayload, control
 *	    payloads are at most 125 bytes, messages at most maxMessage;
 *	  - the close code of a failure is 1002, 1007 or 1009; MP_WS_NOMEM
 *	    never happens; a failed parser stays failed (same code, nothing
 *	    consumed) and holds no message buffer;
 *	  - the message buffer never grows beyond maxMessage.
 *
 *	Mode 1, round trip: the bytes are a recipe for a conversation, built
 *	with MpWsClientHeader and MpWsMask: text (valid UTF-8 of 1- to
 *	4-byte characters), binary, ping, pong and close (MpWsClosePayload
 *	with a valid code and a reason, possibly truncated), data messages
 *	cut into fragments at arbitrary points (inside characters, empty
 *	fragments) with control frames between them, arbitrary masks, some
 *	payloads over 65535 bytes (64-bit lengths). Fed in chunks. Checked:
 *	  - the events are exactly the recipe's messages and control frames,
 *	    in wire order, payloads byte for byte;
 *	  - a message over maxMessage fails with 1009 at the header of the
 *	    fragment that crosses the limit, after exactly the events before
 *	    it;
 *	  - MpWsServerHeader gives the same length encoding as the client
 *	    header, without the mask bit and key.
 *	Memory errors and leaks are caught by ASan/LSan, undefined behaviour
 *	by UBSan (tools/run-fuzz.sh builds with all three).
 */

#include <string.h>
#include "mpWsFrame.h"

#define FUZZ_NAME "fuzz_wsframe"
#include "fuzzUtil.h"

/*
 * Events seen by the emit callback (or expected, in mode 1).
 */

typedef struct Ev {
    int opcode;
    size_t len;			/* Payload length. */
    size_t off;			/* Payload offset in Log.bytes. */
    size_t at;			/* Stream offset after a stop here, or
				 * (size_t) -1. */
} Ev;

typedef struct Log {
    Ev *ev;
    size_t n, cap;
    unsigned char *bytes;	/* All payloads, one after the other. */
    size_t blen, bcap;
    int stopMode;		/* See the input layout. */
    size_t maxMessage;
} Log;

/*
 * Grow --
 *	realloc that aborts on failure, with doubling.
 */

static void *
Grow(void *p, size_t *capPtr, size_t need, size_t elem)
{
    if (need > *capPtr) {
	size_t cap = *capPtr ? *capPtr : 16;

	while (cap < need) {
	    cap *= 2;
	}
	p = realloc(p, cap * elem);
	CHECK(p != NULL);
	*capPtr = cap;
    }
    return p;
}

/*
 * LogAdd --
 *	Appends an event and its payload.
 */

static void
LogAdd(Log *log, int opcode, const void *payload, size_t len)
{
    Ev *e;

    log->ev = (Ev *) Grow(log->ev, &log->cap, log->n + 1, sizeof(Ev));
    log->bytes = (unsigned char *) Grow(log->bytes, &log->bcap,
	    log->blen + len + 1, 1);
    e = &log->ev[log->n++];
    e->opcode = opcode;
    e->len = len;
    e->off = log->blen;
    e->at = (size_t) -1;
    if (len > 0) {
	memcpy(log->bytes + log->blen, payload, len);
    }
    log->blen += len;
}

static void
LogFree(Log *log)
{
    free(log->ev);
    free(log->bytes);
    memset(log, 0, sizeof(*log));
}

/*
 * Emit --
 *	The emit callback: checks the event, logs it, and asks to stop as
 *	the stop mode says.
 */

static int
Emit(void *ctx, int opcode, const char *payload, size_t len)
{
    Log *log = (Log *) ctx;

    CHECK(payload != NULL);
    switch (opcode) {
    case MP_WS_TEXT: {
	MpUtf8 u;

	memset(&u, 0, sizeof(u));
	CHECK(MpUtf8Feed(&u, payload, len, NULL) && MpUtf8Complete(&u));
    }
	/* FALLTHRU */
    case MP_WS_BINARY:
	CHECK(len <= log->maxMessage);
	break;
    case MP_WS_CLOSE:
	CHECK(MpWsCheckClosePayload(payload, len) == 0);
	/* FALLTHRU */
    case MP_WS_PING:
    case MP_WS_PONG:
	CHECK(len <= MP_WS_CONTROL_MAX);
	break;
    default:
	CHECK(!"bad opcode");
    }
    LogAdd(log, opcode, payload, len);
    switch (log->stopMode) {
    case 1:
	return 1;
    case 2:
	return log->n % 3 == 0;
    case 3:
	return log->n == 1;
    default:
	return 0;
    }
}

/*
 * How a drive ended.
 */

typedef struct End {
    int rc;			/* MP_WS_OK or MP_WS_FAIL. */
    int code;
    size_t at;			/* Failure: offset after the showing byte. */
    MpWsIn in;			/* Final state (buffer freed). */
} End;

/*
 * Drive --
 *	Feeds a stream to a fresh parser in chunks (chunkMax 0: all at
 *	once), resuming after each stop; records the end.
 */

static void
Drive(const unsigned char *s, size_t len, size_t maxMessage, uint32_t seed,
	size_t chunkMax, Log *log, End *end)
{
    MpWsIn in;
    size_t pos = 0;
    int zeros = 0;

    memset(&in, 0, sizeof(in));
    memset(end, 0, sizeof(*end));
    end->rc = MP_WS_OK;
    while (pos < len) {
	size_t n = len - pos, rest = 12345;
	int code = 0, rc;

	if (chunkMax > 0) {
	    size_t want = FuzzNext(&seed) % (chunkMax + 1);

	    if (want == 0 && ++zeros > 64) {
		want = 1;		/* Bound the loop. */
	    }
	    if (want < n) {
		n = want;
	    }
	}
	rc = MpWsFeed(&in, maxMessage, (const char *) s + pos, n, Emit, log,
		&rest, &code);
	CHECK(rc != MP_WS_NOMEM);
	CHECK(rest <= n);
	CHECK(in.msgCap <= maxMessage && in.msgLen <= in.msgCap);
	if (rc == MP_WS_STOPPED) {
	    CHECK(log->stopMode != 0 && log->n > 0);
	    CHECK(log->ev[log->n - 1].at == (size_t) -1);
	    pos += n - rest;
	    log->ev[log->n - 1].at = pos;
	    continue;
	}
	if (rc == MP_WS_FAIL) {
	    size_t rest2 = 0;
	    int code2 = 0;

	    CHECK(code == 1002 || code == 1007 || code == 1009);
	    CHECK(in.msg == NULL);
	    end->rc = rc;
	    end->code = code;
	    end->at = pos + n - rest;
	    CHECK(end->at > pos && end->at <= pos + n);
	    CHECK(MpWsFeed(&in, maxMessage, "\x81", 1, Emit, log, &rest2,
		    &code2) == MP_WS_FAIL && code2 == code && rest2 == 1);
	    break;
	}
	CHECK(rc == MP_WS_OK && rest == 0);
	pos += n;
    }
    end->in = in;
    MpWsFree(&in);
    end->in.msg = NULL;
}

/*
 * SameLogs --
 *	Whether two logs hold the same events and stops.
 */

static void
SameLogs(const Log *a, const Log *b, int compareStops)
{
    size_t i;

    CHECK(a->n == b->n);
    for (i = 0; i < a->n; i++) {
	const Ev *x = &a->ev[i], *y = &b->ev[i];

	CHECK(x->opcode == y->opcode && x->len == y->len);
	CHECK(x->len == 0 || memcmp(a->bytes + x->off, b->bytes + y->off,
		x->len) == 0);
	if (compareStops) {
	    CHECK(x->at == y->at);
	}
    }
}

/*
 * StreamMode --
 *	Mode 0: all at once against chunked.
 */

static void
StreamMode(const unsigned char *s, size_t len, size_t maxMessage,
	uint32_t seed, size_t chunkMax, int stopMode)
{
    Log whole, chunked;
    End e1, e2;

    memset(&whole, 0, sizeof(whole));
    memset(&chunked, 0, sizeof(chunked));
    whole.stopMode = chunked.stopMode = stopMode;
    whole.maxMessage = chunked.maxMessage = maxMessage;
    Drive(s, len, maxMessage, seed, 0, &whole, &e1);
    Drive(s, len, maxMessage, seed, chunkMax, &chunked, &e2);
    SameLogs(&whole, &chunked, 1);
    CHECK(e1.rc == e2.rc);
    if (e1.rc == MP_WS_FAIL) {
	CHECK(e1.code == e2.code && e1.at == e2.at);
    } else {
	CHECK(e1.in.hdrLen == e2.in.hdrLen);
	CHECK(e1.in.hdrLen == 0 || memcmp(e1.in.hdr, e2.in.hdr,
		e1.in.hdrLen) == 0);
	CHECK(e1.in.inPayload == e2.in.inPayload);
	CHECK(e1.in.frameGot == e2.in.frameGot);
	CHECK(e1.in.msgLen == e2.in.msgLen);
	CHECK(e1.in.msgOpcode == e2.in.msgOpcode);
	CHECK(e1.in.ctlLen == e2.in.ctlLen);
    }
    LogFree(&whole);
    LogFree(&chunked);
}

/*
 * The recipe reader for mode 1: input bytes, then zeros.
 */

typedef struct Recipe {
    const unsigned char *p;
    size_t len, pos;
    uint32_t rng;		/* For bulk contents. */
} Recipe;

static unsigned
Byte(Recipe *r)
{
    return r->pos < r->len ? r->p[r->pos++] : 0;
}

/*
 * PutUtf8 --
 *	Appends the UTF-8 encoding of code point c (not a surrogate).
 */

static size_t
PutUtf8(unsigned char *o, uint32_t c)
{
    if (c < 0x80) {
	o[0] = (unsigned char) c;
	return 1;
    }
    if (c < 0x800) {
	o[0] = (unsigned char) (0xC0 | (c >> 6));
	o[1] = (unsigned char) (0x80 | (c & 0x3F));
	return 2;
    }
    if (c < 0x10000) {
	o[0] = (unsigned char) (0xE0 | (c >> 12));
	o[1] = (unsigned char) (0x80 | ((c >> 6) & 0x3F));
	o[2] = (unsigned char) (0x80 | (c & 0x3F));
	return 3;
    }
    o[0] = (unsigned char) (0xF0 | (c >> 18));
    o[1] = (unsigned char) (0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char) (0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char) (0x80 | (c & 0x3F));
    return 4;
}

/*
 * Content --
 *	Fills o with len bytes: valid UTF-8 (text: the last character may
 *	make it up to 3 bytes shorter; returns the real length) or any
 *	bytes.
 */

static size_t
Content(Recipe *r, unsigned char *o, size_t len, int text)
{
    size_t n = 0;

    if (!text) {
	for (n = 0; n < len; n++) {
	    o[n] = (unsigned char) FuzzNext(&r->rng);
	}
	return len;
    }
    while (n + 4 <= len) {
	uint32_t v = FuzzNext(&r->rng), c;

	switch (v & 3) {
	case 0:  c = (v >> 8) & 0x7F;			break;
	case 1:  c = 0x80 + (v >> 8) % (0x800 - 0x80);	break;
	case 2:  c = 0x800 + (v >> 8) % (0x10000 - 0x800); break;
	default: c = 0x10000 + (v >> 8) % 0x100000;	break;
	}
	if (c >= 0xD800 && c <= 0xDFFF) {
	    c = 0xFFFD;
	}
	n += PutUtf8(o + n, c);
    }
    while (n < len) {
	o[n++] = 'a';
    }
    return n;
}

/*
 * Out --
 *	The stream being built in mode 1.
 */

typedef struct Out {
    unsigned char *b;
    size_t len, cap;
} Out;

/*
 * PutClientFrame --
 *	Appends one masked client frame; checks the server header's length
 *	encoding against it. Returns the frame's header length.
 */

static size_t
PutClientFrame(Out *o, Recipe *r, int opcode, int fin,
	const unsigned char *payload, size_t len)
{
    unsigned char hdr[14], shdr[10], mask[4];
    uint32_t m = FuzzNext(&r->rng);
    size_t n, sn;

    mask[0] = (unsigned char) m;
    mask[1] = (unsigned char) (m >> 8);
    mask[2] = (unsigned char) (m >> 16);
    mask[3] = (unsigned char) (m >> 24);
    if ((m & 0xF00) == 0) {
	memset(mask, 0, 4);
    }
    n = MpWsClientHeader(opcode, fin, len, mask, hdr);
    sn = MpWsServerHeader(opcode, len, shdr);
    CHECK(n == sn + 4);
    CHECK((hdr[0] & 0x0F) == (shdr[0] & 0x0F) && (shdr[0] & 0x80));
    CHECK(hdr[1] == (shdr[1] | 0x80));
    CHECK(memcmp(hdr + 2, shdr + 2, sn - 2) == 0);
    CHECK(memcmp(hdr + sn, mask, 4) == 0);
    o->b = (unsigned char *) Grow(o->b, &o->cap, o->len + n + len + 1, 1);
    memcpy(o->b + o->len, hdr, n);
    if (len > 0) {
	memcpy(o->b + o->len + n, payload, len);
    }
    MpWsMask((char *) o->b + o->len + n, len, mask, 0);
    o->len += n + len;
    return n;
}

/*
 * PutControl --
 *	Appends a random control frame and its expected event.
 */

static void
PutControl(Out *o, Recipe *r, Log *expect, unsigned sel)
{
    unsigned char p[MP_WS_CONTROL_MAX];
    size_t len = Byte(r) % (MP_WS_CONTROL_MAX + 1);
    int opcode;

    switch (sel % 3) {
    case 0:
	opcode = MP_WS_PING;
	Content(r, p, len, 0);
	break;
    case 1:
	opcode = MP_WS_PONG;
	Content(r, p, len, 0);
	break;
    default: {
	static const unsigned codes[] = {1000, 1001, 1002, 1003, 1007, 1008,
		1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
	unsigned char reason[200];
	size_t rlen = Byte(r) % 200;

	opcode = MP_WS_CLOSE;
	rlen = Content(r, reason, rlen, 1);
	if (sel & 8) {
	    len = 0;
	} else {
	    len = MpWsClosePayload(codes[Byte(r) % 16], (const char *) reason,
		    rlen, p);
	    CHECK(len >= 2 && len <= MP_WS_CONTROL_MAX);
	    if (rlen <= MP_WS_REASON_MAX) {
		CHECK(len - 2 == rlen);
	    } else {
		/* Cut at a character boundary: at most 3 bytes short. */
		CHECK(len - 2 <= MP_WS_REASON_MAX
			&& len - 2 + 3 >= MP_WS_REASON_MAX);
	    }
	    CHECK(len == 2 || memcmp(p + 2, reason, len - 2) == 0);
	}
    }
    }
    PutClientFrame(o, r, opcode, 1, p, len);
    LogAdd(expect, opcode, p, len);
}

/*
 * RoundTripMode --
 *	Mode 1: build a conversation, parse it, compare.
 */

static void
RoundTripMode(const unsigned char *in, size_t inLen, size_t maxMessage,
	uint32_t seed, size_t chunkMax, int stopMode)
{
    Recipe r;
    Out o;
    Log expect, got;
    End end;
    unsigned char *msg = NULL;
    size_t msgCap = 0, failAt = 0;
    int failCode = 0, frames = 0;

    memset(&r, 0, sizeof(r));
    memset(&o, 0, sizeof(o));
    memset(&expect, 0, sizeof(expect));
    memset(&got, 0, sizeof(got));
    r.p = in;
    r.len = inLen;
    r.rng = seed | 1;
    while (r.pos < r.len && !failCode && frames < 200
	    && o.len < 96 * 1024) {
	unsigned c = Byte(&r);
	size_t len, nfrag, k, done;
	int text;

	if (c % 4 == 3) {
	    PutControl(&o, &r, &expect, c >> 2);
	    frames++;
	    continue;
	}
	text = (c % 4) != 2;
	len = Byte(&r);
	if ((c & 0xC0) == 0xC0) {
	    len = len * 300 + Byte(&r);		/* Up to 76 KiB. */
	} else if (c & 0x40) {
	    len = len * 2 + Byte(&r);
	}
	nfrag = 1 + ((c >> 2) & 7) % 5;
	msg = (unsigned char *) Grow(msg, &msgCap, len + 1, 1);
	len = Content(&r, msg, len, text);
	done = 0;
	for (k = 0; k < nfrag && !failCode; k++) {
	    size_t n, start, hlen;
	    int last = (k + 1 == nfrag);

	    n = last ? len - done : (len - done == 0 ? 0
		    : FuzzNext(&r.rng) % (len - done + 1));
	    start = o.len;
	    hlen = PutClientFrame(&o, &r, k == 0 ? (text ? MP_WS_TEXT
		    : MP_WS_BINARY) : MP_WS_CONT, last, msg + done, n);
	    frames++;
	    if (done + n > maxMessage) {
		/* Refused once its length is known: before the mask key. */
		failCode = 1009;
		failAt = start + hlen - 4;
		break;
	    }
	    done += n;
	    if (!last && (Byte(&r) & 3) == 0) {
		PutControl(&o, &r, &expect, Byte(&r));
		frames++;
	    }
	}
	if (!failCode) {
	    LogAdd(&expect, text ? MP_WS_TEXT : MP_WS_BINARY, msg, len);
	}
    }
    free(msg);

    /* Long conversations in tiny chunks would be slow to fuzz. */
    if (o.len > 8192 && chunkMax < 64) {
	chunkMax *= 64;
    }
    got.stopMode = stopMode;
    got.maxMessage = maxMessage;
    Drive(o.b, o.len, maxMessage, seed, chunkMax, &got, &end);
    SameLogs(&expect, &got, 0);
    if (failCode) {
	CHECK(end.rc == MP_WS_FAIL && end.code == failCode
		&& end.at == failAt);
    } else {
	CHECK(end.rc == MP_WS_OK);
	CHECK(end.in.hdrLen == 0 && !end.in.inPayload
		&& end.in.msgOpcode == 0 && end.in.msgLen == 0);
    }
    LogFree(&expect);
    LogFree(&got);
    free(o.b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t maxMessage, chunkMax;
    uint32_t seed;
    int stopMode;

    if (size < 5) {
	return 0;
    }
    maxMessage = FuzzMaxMessage(((unsigned) data[0] << 8) | data[1], 0xFFF);
    seed = ((uint32_t) data[2] << 8 | data[3]) * 2654435761u + 1;
    switch (data[3] & 3) {
    case 0:  chunkMax = 1;	break;
    case 1:  chunkMax = 7;	break;
    case 2:  chunkMax = 64;	break;
    default: chunkMax = 65536;	break;
    }
    stopMode = (data[4] >> 1) & 3;
    if (data[4] & 1) {
	RoundTripMode(data + 5, size - 5, maxMessage, seed, chunkMax,
		stopMode);
    } else {
	StreamMode(data + 5, size - 5, maxMessage, seed, chunkMax, stopMode);
    }
    return 0;
}
