/*
 * fuzz_frame_length.c --
 *
 *	libFuzzer harness for length framing (MpFrameFeed in MP_FRAME_LENGTH
 *	mode, generic/mpFrame.c: a 4-byte big-endian length, then that many
 *	bytes), driven as the server drives it: arbitrary chunk sizes, one
 *	call per chunk, feeding stops at the first result other than
 *	MP_FRAME_OK. Also round-trips every message through MpFrameEncode.
 *
 *	Input layout:
 *	    byte 0-1   maxMessage selector (see FuzzMaxMessage, fuzzUtil.h)
 *	    byte 2-3   chunking seed
 *	    byte 4     index of the message at which the emit callback asks
 *		       to stop (255: never)
 *	    byte 5...  the byte stream a client sends
 *
 *	Checked after every call:
 *	  - each emitted message is exactly the payload of the next frame of
 *	    the stream; its re-encoding (MpFrameEncodedSize/MpFrameEncode)
 *	    is byte for byte the frame as it was sent;
 *	  - no message is longer than maxMessage;
 *	  - the bytes buffered between calls are exactly the unconsumed tail
 *	    of the input, never more than maxMessage + 4;
 *	  - MP_FRAME_TOOBIG is returned exactly by the call whose chunk
 *	    completes a header announcing more than maxMessage (so a 4 GiB
 *	    length is refused before any of its body is buffered);
 *	  - MP_FRAME_STOPPED right after the callback asked to stop, with
 *	    the chunk's bytes after the stopping message reported as the
 *	    rest (MpFrameFeedRest) and none buffered;
 *	  - no MP_FRAME_NOMEM.
 *	ASan/LSan/UBSan catch memory errors, leaks and undefined behaviour.
 */

#include <string.h>
#include "mpFrame.h"

#define FUZZ_NAME "fuzz_frame_length"
#include "fuzzUtil.h"

typedef struct State {
    const unsigned char *in;
    size_t inLen;
    size_t cursor;		/* Start of the first unconsumed frame. */
    size_t maxMessage;
    size_t emitted;
    size_t stopAt;
    int stopped;
    size_t chunkEnd;
} State;

static size_t
BE32(const unsigned char *p)
{
    return ((size_t) p[0] << 24) | ((size_t) p[1] << 16)
	    | ((size_t) p[2] << 8) | (size_t) p[3];
}

static int
Emit(void *ctx, const char *msg, size_t len)
{
    State *st = (State *) ctx;
    const unsigned char *p = st->in + st->cursor;
    size_t avail = st->chunkEnd - st->cursor;
    size_t encLen;
    char *enc;

    CHECK(!st->stopped);
    CHECK(len <= st->maxMessage);
    CHECK(avail >= MP_FRAME_HEADER);
    CHECK(BE32(p) == len);
    CHECK(avail - MP_FRAME_HEADER >= len);
    if (len > 0) {
	CHECK(memcmp(p + MP_FRAME_HEADER, msg, len) == 0);
    }

    /* The encoder reproduces the frame as sent. */
    encLen = MpFrameEncodedSize(MP_FRAME_LENGTH, len);
    CHECK(encLen == len + MP_FRAME_HEADER);
    enc = (char *) malloc(encLen);
    CHECK(enc != NULL);
    MpFrameEncode(MP_FRAME_LENGTH, msg, len, enc);
    CHECK(memcmp(enc, p, encLen) == 0);
    free(enc);

    st->cursor += MP_FRAME_HEADER + len;
    st->emitted++;
    if (st->emitted == st->stopAt) {
	st->stopped = 1;
	return 1;
    }
    return 0;
}

/*
 * ViolationAt --
 *	Offset of the last header byte of the frame at 'start' if that
 *	header is complete within 'end' and announces more than maxMessage,
 *	else (size_t) -1.
 */

static size_t
ViolationAt(const unsigned char *in, size_t start, size_t end,
	size_t maxMessage)
{
    if (end - start >= MP_FRAME_HEADER && BE32(in + start) > maxMessage) {
	return start + MP_FRAME_HEADER - 1;
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
    st.maxMessage = FuzzMaxMessage(((unsigned) data[0] << 8) | data[1], 0xFFF);
    seed = ((uint32_t) data[2] << 8 | data[3]) * 2654435761u + 1;
    st.stopAt = data[4] == 255 ? (size_t) -1 : data[4];
    st.in = data + 5;
    st.inLen = size - 5;

    switch (data[3] & 3) {
    case 0:  chunkMax = 1;	break;
    case 1:  chunkMax = 5;	break;
    case 2:  chunkMax = 64;	break;
    default: chunkMax = 65536;	break;
    }

    for (;;) {
	size_t n = FuzzNext(&seed) % (chunkMax + 1);
	size_t before = st.emitted, viol, rest = 0;

	if (n > st.inLen - pos) {
	    n = st.inLen - pos;
	}
	st.chunkEnd = pos + n;
	rc = MpFrameFeedRest(&fin, MP_FRAME_LENGTH, st.maxMessage,
		(const char *) st.in + pos, n, Emit, &st, &rest);
	viol = ViolationAt(st.in, st.cursor, st.chunkEnd, st.maxMessage);
	CHECK(rc != MP_FRAME_NOMEM);
	if (rc == MP_FRAME_TOOBIG) {
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

	/* Whatever is left is buffered, and it is a partial frame. */
	CHECK(fin.len == st.chunkEnd - st.cursor);
	CHECK(fin.len <= st.maxMessage + MP_FRAME_HEADER);
	CHECK(fin.len <= fin.cap);
	if (fin.len > 0) {
	    CHECK(memcmp(fin.data, st.in + st.cursor, fin.len) == 0);
	}
	if (fin.len >= MP_FRAME_HEADER) {
	    CHECK(fin.len < MP_FRAME_HEADER + BE32(st.in + st.cursor));
	}
	pos += n;
	if (pos == st.inLen) {
	    break;
	}
    }
    MpFrameFree(&fin);
    CHECK(fin.data == NULL && fin.len == 0 && fin.cap == 0);
    return 0;
}
