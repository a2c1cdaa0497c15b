/*
 * fuzz_frame_line.c --
 *
 *	libFuzzer harness for line framing (MpFrameFeed in MP_FRAME_LINE
 *	mode, generic/mpFrame.c), driven exactly as the server drives it: the
 *	stream arrives in chunks of arbitrary sizes, each chunk fed with one
 *	call, and feeding stops at the first result other than MP_FRAME_OK.
 *
 *	Input layout:
 *	    byte 0-1   maxMessage selector (see FuzzMaxMessage, fuzzUtil.h)
 *	    byte 2-3   chunking seed (sizes drawn from a small PRNG)
 *	    byte 4     index of the message at which the emit callback asks
 *		       to stop (255: never)
 *	    byte 5...  the byte stream a client sends
 *
 *	Checked after every call:
 *	  - every emitted message is the stream's next line exactly, without
 *	    its LF or CRLF terminator: the emitted messages with their
 *	    terminators reproduce the consumed input, in order, nothing lost,
 *	    nothing duplicated;
 *	  - no message is longer than maxMessage;
 *	  - the partial line buffered between calls is exactly the unconsumed
 *	    tail of the input, and never longer than maxMessage + 1 (the one
 *	    extra byte may be the CR of a CRLF);
 *	  - MP_FRAME_TOOBIG is returned exactly by the call whose chunk holds
 *	    the byte that makes the current line too long, never earlier,
 *	    never later;
 *	  - MP_FRAME_STOPPED is returned right after the callback asked to
 *	    stop, and no message is emitted after that; MpFrameFeedRest
 *	    then reports as the rest exactly the chunk's bytes after the
 *	    stopping message, and buffers none;
 *	  - MP_FRAME_NOMEM never happens with these small inputs;
 *	  - MpFrameEncode gives each message followed by one LF.
 *	Memory errors and leaks are caught by ASan/LSan, undefined behaviour
 *	by UBSan (tools/run-fuzz.sh builds with all three).
 */

#include <string.h>
#include "mpFrame.h"

#define FUZZ_NAME "fuzz_frame_line"
#include "fuzzUtil.h"

typedef struct State {
    const unsigned char *in;	/* The whole stream. */
    size_t inLen;
    size_t cursor;		/* Start of the first unconsumed line. */
    size_t maxMessage;
    size_t emitted;		/* Messages emitted so far. */
    size_t stopAt;		/* Ask to stop after this many, or SIZE_MAX. */
    int stopped;		/* The callback has asked to stop. */
    size_t chunkEnd;		/* End offset of the chunk being fed. */
} State;

/*
 * Emit callback: the message must be the next line of the stream.
 */

static int
Emit(void *ctx, const char *msg, size_t len)
{
    State *st = (State *) ctx;
    const unsigned char *p = st->in + st->cursor;
    size_t avail = st->inLen - st->cursor;
    size_t encLen;
    char *enc;

    CHECK(!st->stopped);
    CHECK(len <= st->maxMessage);
    CHECK(len <= avail);
    if (len > 0) {
	CHECK(memcmp(p, msg, len) == 0);
    }
    CHECK(memchr(msg, '\n', len) == NULL);

    /* What recipients get: the message and an LF. */
    encLen = MpFrameEncodedSize(MP_FRAME_LINE, len);
    CHECK(encLen == len + 1);
    enc = (char *) malloc(encLen);
    CHECK(enc != NULL);
    MpFrameEncode(MP_FRAME_LINE, msg, len, enc);
    CHECK((len == 0 || memcmp(enc, msg, len) == 0) && enc[len] == '\n');
    free(enc);

    /*
     * The terminator: LF, or CR LF (the CR is not part of the message).
     * Either way it lies within what has been fed so far.
     */

    if (len + 1 <= avail && p[len] == '\n') {
	/* A bare LF: a CR before it would have been stripped. */
	CHECK(len == 0 || msg[len - 1] != '\r');
	st->cursor += len + 1;
    } else {
	CHECK(len + 2 <= avail && p[len] == '\r' && p[len + 1] == '\n');
	st->cursor += len + 2;
    }
    CHECK(st->cursor <= st->chunkEnd);
    st->emitted++;
    if (st->emitted == st->stopAt) {
	st->stopped = 1;
	return 1;
    }
    return 0;
}

/*
 * ViolationAt --
 *	Where the line starting at 'start' becomes too long, given the bytes
 *	available so far (limit 'end'): the offset of the byte that breaks
 *	the limit, or (size_t) -1 if the line is fine so far.
 */

static size_t
ViolationAt(const unsigned char *in, size_t start, size_t end,
	size_t maxMessage)
{
    const unsigned char *nl = memchr(in + start, '\n', end - start);
    size_t raw = nl ? (size_t) (nl - (in + start)) : end - start;

    if (raw > maxMessage + 1) {
	return start + maxMessage + 1;	/* The byte beyond max + 1. */
    }
    if (nl != NULL) {
	size_t content = raw;

	if (content > 0 && in[start + content - 1] == '\r') {
	    content--;
	}
	if (content > maxMessage) {
	    return start + raw;		/* The LF that completes it. */
	}
    }
    return (size_t) -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    MpFrameIn fin;
    State st;
    uint32_t seed;
    size_t pos = 0, chunkMax;
    int rc = MP_FRAME_OK;

    if (size < 5) {
	return 0;
    }
    memset(&fin, 0, sizeof(fin));
    memset(&st, 0, sizeof(st));
    st.maxMessage = FuzzMaxMessage(((unsigned) data[0] << 8) | data[1], 0x3FF);
    seed = ((uint32_t) data[2] << 8 | data[3]) * 2654435761u + 1;
    st.stopAt = data[4] == 255 ? (size_t) -1 : data[4];
    st.in = data + 5;
    st.inLen = size - 5;

    /* Chunk sizes: mostly tiny (byte by byte), sometimes large. */
    switch (data[3] & 3) {
    case 0:  chunkMax = 1;	break;
    case 1:  chunkMax = 7;	break;
    case 2:  chunkMax = 64;	break;
    default: chunkMax = 65536;	break;
    }

    while (pos < st.inLen || (pos == st.inLen && pos == 0)) {
	size_t n = FuzzNext(&seed) % (chunkMax + 1);	/* 0 is allowed. */
	size_t before = st.emitted, viol, rest = 0;

	if (n > st.inLen - pos) {
	    n = st.inLen - pos;
	}
	st.chunkEnd = pos + n;
	rc = MpFrameFeedRest(&fin, MP_FRAME_LINE, st.maxMessage,
		(const char *) st.in + pos, n, Emit, &st, &rest);
	viol = ViolationAt(st.in, st.cursor, st.chunkEnd, st.maxMessage);
	CHECK(rc != MP_FRAME_NOMEM);
	if (rc == MP_FRAME_TOOBIG) {
	    /* The violation is real and lies in this chunk. */
	    CHECK(!st.stopped);
	    CHECK(viol != (size_t) -1);
	    CHECK(viol >= pos && viol < st.chunkEnd);
	    break;
	}
	if (rc == MP_FRAME_STOPPED) {
	    CHECK(st.stopped && st.emitted > before);
	    /* What follows the stopping message is reported, not buffered. */
	    CHECK(rest == st.chunkEnd - st.cursor);
	    CHECK(fin.len == 0);
	    break;
	}
	CHECK(rc == MP_FRAME_OK);
	CHECK(!st.stopped);
	CHECK(viol == (size_t) -1);

	/* The buffered partial line is exactly the unconsumed tail. */
	CHECK(fin.len == st.chunkEnd - st.cursor);
	CHECK(fin.len <= st.maxMessage + 1);
	CHECK(fin.len <= fin.cap);
	if (fin.len > 0) {
	    CHECK(memcmp(fin.data, st.in + st.cursor, fin.len) == 0);
	    CHECK(memchr(fin.data, '\n', fin.len) == NULL);
	}
	pos += n;
	if (n == 0 && pos == st.inLen) {
	    break;
	}
    }
    if (rc == MP_FRAME_OK) {
	CHECK(pos == st.inLen);
    }
    MpFrameFree(&fin);
    CHECK(fin.data == NULL && fin.len == 0 && fin.cap == 0);
    return 0;
}
