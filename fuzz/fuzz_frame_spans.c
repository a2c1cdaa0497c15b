/*
 * fuzz_frame_spans.c --
 *
 *	libFuzzer harness for spans (MpFrameFeedSpans, generic/mpFrame.c):
 *	the server's fast path for line and length framing without filters,
 *	checked against the one-message-at-a-time path (MpFrameFeed) on the
 *	same stream cut into the same chunks.
 *
 *	Input layout:
 *	    byte 0     bit 0: framing (0 line, 1 length); bits 1-7: maxSpan
 *		       selector (see MaxSpan below)
 *	    byte 1-2   maxMessage selector
 *	    byte 3-4   chunking seed (sizes drawn from a small PRNG)
 *	    byte 5     index of the callback (emit or span) at which the
 *		       span feed asks to stop (255: never)
 *	    byte 6...  the byte stream a client sends
 *
 *	Checked after every call:
 *	  - both feeds return the same result, until the span feed stops;
 *	  - the messages delivered so far are the same, in the same order,
 *	    whether one by one or in spans (a span taken apart with
 *	    MpFrameSpanFirst);
 *	  - a span is never empty, never longer than maxSpan, lies inside the
 *	    chunk just fed, and is exactly the encoding (MpFrameEncode) of
 *	    its messages, one after the other;
 *	  - both framers buffer the same partial message between calls;
 *	  - a callback that asks to stop ends the call with MP_FRAME_STOPPED
 *	    and no callback follows; what was delivered is a prefix of what
 *	    the one-by-one feed delivers.
 *	Memory errors and leaks are caught by ASan/LSan, undefined behaviour
 *	by UBSan (tools/run-fuzz.sh builds with all three).
 */

#include <string.h>
#include "mpFrame.h"

#define FUZZ_NAME "fuzz_frame_spans"
#include "fuzzUtil.h"

/*
 * The messages one feed delivered: their bytes one after the other, and
 * where each ends.
 */

typedef struct Log {
    char *bytes;
    size_t len, cap;
    size_t *ends;
    size_t count, endsCap;
} Log;

typedef struct State {
    int mode;
    Log log;
    const char *chunk;		/* The chunk being fed. */
    size_t chunkLen;
    size_t maxSpan;
    size_t calls;		/* Callbacks so far. */
    size_t stopAt;		/* Ask to stop at this callback, or -1. */
    int stopped;
} State;

static void
LogAdd(
    Log *log,
    const char *msg,
    size_t len)
{
    if (log->len + len > log->cap) {
	size_t cap = log->cap ? log->cap : 256;

	while (cap < log->len + len) {
	    cap *= 2;
	}
	log->bytes = (char *) realloc(log->bytes, cap);
	CHECK(log->bytes != NULL);
	log->cap = cap;
    }
    if (log->count == log->endsCap) {
	log->endsCap = log->endsCap ? log->endsCap * 2 : 64;
	log->ends = (size_t *) realloc(log->ends,
		log->endsCap * sizeof(size_t));
	CHECK(log->ends != NULL);
    }
    if (len > 0) {
	memcpy(log->bytes + log->len, msg, len);
    }
    log->len += len;
    log->ends[log->count++] = log->len;
}

static void
LogFree(
    Log *log)
{
    free(log->bytes);
    free(log->ends);
}

/*
 * Whether the first n messages of two logs are the same.
 */

static int
LogSamePrefix(
    const Log *a,
    const Log *b,
    size_t n)
{
    size_t len;

    if (a->count < n || b->count < n) {
	return 0;
    }
    if (n == 0) {
	return 1;
    }
    len = a->ends[n - 1];
    return b->ends[n - 1] == len
	    && memcmp(a->ends, b->ends, n * sizeof(size_t)) == 0
	    && (len == 0 || memcmp(a->bytes, b->bytes, len) == 0);
}

/*
 * The one-by-one feed's callback: records the message.
 */

static int
EmitRef(void *ctx, const char *msg, size_t len)
{
    LogAdd(&((State *) ctx)->log, msg, len);
    return 0;
}

/*
 * The span feed's callbacks: record the message(s), check spans, stop
 * when told to.
 */

static int
Called(State *st)
{
    CHECK(!st->stopped);
    if (st->calls++ == st->stopAt) {
	st->stopped = 1;
	return 1;
    }
    return 0;
}

static int
EmitSpanFeed(void *ctx, const char *msg, size_t len)
{
    State *st = (State *) ctx;

    CHECK(!st->stopped);
    LogAdd(&st->log, msg, len);
    return Called(st);
}

static int
Span(void *ctx, const char *bytes, size_t len, size_t count)
{
    State *st = (State *) ctx;
    const char *p = bytes;
    size_t left = len, n = 0;

    CHECK(!st->stopped);
    CHECK(count > 0 && len > 0 && len <= st->maxSpan);
    CHECK(bytes >= st->chunk && len <= st->chunkLen
	    && (size_t) (bytes - st->chunk) <= st->chunkLen - len);
    while (left > 0) {
	const char *msg;
	size_t msgLen, wireLen;
	char *enc;

	wireLen = MpFrameSpanFirst(st->mode, p, left, &msg, &msgLen);
	CHECK(wireLen > 0 && wireLen <= left);
	CHECK(MpFrameEncodedSize(st->mode, msgLen) == wireLen);
	enc = (char *) malloc(wireLen);
	CHECK(enc != NULL);
	MpFrameEncode(st->mode, msg, msgLen, enc);
	CHECK(memcmp(enc, p, wireLen) == 0);
	free(enc);
	LogAdd(&st->log, msg, msgLen);
	p += wireLen;
	left -= wireLen;
	n++;
    }
    CHECK(n == count);
    return Called(st);
}

/*
 * MaxSpan --
 *	The span limit from a 7-bit selector: mostly small (0..95 bytes, so
 *	that spans are cut often), sometimes 64 bytes to 2^37.
 */

static size_t
MaxSpan(unsigned sel)			/* 0..127 */
{
    if (sel < 96) {
	return sel;				/* 0..95 */
    }
    return (size_t) 1 << (sel - 90);	/* 64 .. 2^37 */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    MpFrameIn refIn, spanIn;
    State ref, st;
    uint32_t seed;
    size_t pos = 0, chunkMax, maxMessage, inLen;
    const char *in;

    if (size < 6) {
	return 0;
    }
    memset(&refIn, 0, sizeof(refIn));
    memset(&spanIn, 0, sizeof(spanIn));
    memset(&ref, 0, sizeof(ref));
    memset(&st, 0, sizeof(st));
    st.mode = ref.mode = (data[0] & 1) ? MP_FRAME_LENGTH : MP_FRAME_LINE;
    st.maxSpan = MaxSpan(data[0] >> 1);
    maxMessage = FuzzMaxMessage(((unsigned) data[1] << 8) | data[2], 0x3FF);
    seed = ((uint32_t) data[3] << 8 | data[4]) * 2654435761u + 1;
    st.stopAt = data[5] == 255 ? (size_t) -1 : data[5];
    ref.stopAt = (size_t) -1;
    in = (const char *) data + 6;
    inLen = size - 6;

    switch (data[4] & 3) {
    case 0:  chunkMax = 1;	break;
    case 1:  chunkMax = 7;	break;
    case 2:  chunkMax = 64;	break;
    default: chunkMax = 65536;	break;
    }

    while (pos < inLen) {
	size_t n = FuzzNext(&seed) % (chunkMax + 1);	/* 0 is allowed. */
	size_t before = st.log.count;
	int rcRef, rcSpan;

	if (n > inLen - pos) {
	    n = inLen - pos;
	}
	st.chunk = in + pos;
	st.chunkLen = n;
	rcRef = MpFrameFeed(&refIn, ref.mode, maxMessage, in + pos, n,
		EmitRef, &ref);
	rcSpan = MpFrameFeedSpans(&spanIn, st.mode, maxMessage, st.maxSpan,
		in + pos, n, EmitSpanFeed, Span, &st);
	CHECK(rcRef != MP_FRAME_NOMEM && rcSpan != MP_FRAME_NOMEM);
	if (rcSpan == MP_FRAME_STOPPED) {
	    /* Stopped by our callback: a prefix of the same messages. */
	    CHECK(st.stopped && st.log.count > before);
	    CHECK(LogSamePrefix(&ref.log, &st.log, st.log.count));
	    break;
	}
	CHECK(!st.stopped);
	CHECK(rcSpan == rcRef);
	CHECK(st.log.count == ref.log.count);
	CHECK(LogSamePrefix(&ref.log, &st.log, st.log.count));
	if (rcRef != MP_FRAME_OK) {
	    break;
	}
	CHECK(spanIn.len == refIn.len);
	CHECK(spanIn.len == 0
		|| memcmp(spanIn.data, refIn.data, spanIn.len) == 0);
	pos += n;
    }
    MpFrameFree(&refIn);
    MpFrameFree(&spanIn);
    LogFree(&ref.log);
    LogFree(&st.log);
    return 0;
}
