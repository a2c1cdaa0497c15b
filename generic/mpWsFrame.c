/*
 * mpWsFrame.c --
 *
 *	WebSocket framing (RFC 6455 section 5): parses the frames a server
 *	receives into messages and control frames, checking everything the
 *	RFC asks a server to check (masking, reserved bits and opcodes,
 *	control frame rules, fragmentation, close payloads, UTF-8 of text),
 *	and encodes frame headers and close payloads. No Tcl here: the fuzz
 *	harness links this file alone.
 */

#include <stdlib.h>
#include <string.h>
#include "mpWsFrame.h"

/*
 * A message buffer larger than this is released once its message has been
 * delivered (smaller ones are kept for the next message).
 */

#define MP_WS_KEEP	16384

/*
 *----------------------------------------------------------------------
 *
 * MpUtf8Feed --
 *
 *	Validates the next bytes of a UTF-8 stream (RFC 3629): well-formed
 *	sequences only, no overlong forms, no surrogates (U+D800..U+DFFF),
 *	nothing above U+10FFFF. A sequence may be split across calls. The
 *	stream is invalid from the first byte that cannot be part of a valid
 *	encoding, given those before it: a stray continuation byte, C0, C1 or
 *	F5..FF, a lead byte where a continuation byte is due, or a second
 *	byte outside the range its lead byte allows (E0 A0..BF, ED 80..9F,
 *	F0 90..BF, F4 80..8F).
 *
 * Results:
 *	1 if the stream is valid so far (possibly ending inside a sequence:
 *	see MpUtf8Complete), 0 if it is invalid; then *badPtr, if badPtr is
 *	not NULL, is the index in data of the first invalid byte (0 if the
 *	stream was invalid already).
 *
 * Side effects:
 *	Updates *u; an invalid state stays invalid.
 *
 *----------------------------------------------------------------------
 */

int
MpUtf8Feed(
    MpUtf8 *u,
    const char *data,
    size_t len,
    size_t *badPtr)
{
    const unsigned char *p = (const unsigned char *) data;
    unsigned need = u->need, lo = u->lo, hi = u->hi;
    size_t i = 0;

    if (u->bad) {
	i = 0;
	goto invalid;
    }
    while (i < len) {
	unsigned c = p[i];

	if (need > 0) {
	    if (c < lo || c > hi) {
		goto invalid;
	    }
	    need--;
	    lo = 0x80;
	    hi = 0xBF;
	    i++;
	    continue;
	}
	if (c < 0x80) {
	    /*
	     * ASCII: skip runs of it eight bytes at a time.
	     */

	    i++;
	    while (len - i >= 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w & UINT64_C(0x8080808080808080)) {
		    break;
		}
		i += 8;
	    }
	    continue;
	}
	lo = 0x80;
	hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
	    need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
	    need = 2;
	    if (c == 0xE0) {
		lo = 0xA0;		/* Else overlong. */
	    } else if (c == 0xED) {
		hi = 0x9F;		/* Else a surrogate. */
	    }
	} else if (c >= 0xF0 && c <= 0xF4) {
	    need = 3;
	    if (c == 0xF0) {
		lo = 0x90;		/* Else overlong. */
	    } else if (c == 0xF4) {
		hi = 0x8F;		/* Else above U+10FFFF. */
	    }
	} else {
	    goto invalid;		/* 80..C1, F5..FF. */
	}
	i++;
    }
    u->need = (unsigned char) need;
    u->lo = (unsigned char) lo;
    u->hi = (unsigned char) hi;
    return 1;

  invalid:
    u->bad = 1;
    u->need = 0;
    if (badPtr != NULL) {
	*badPtr = i;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpUtf8Complete --
 *
 *	Whether a UTF-8 stream fed so far may end here: it is valid and does
 *	not stop inside a sequence.
 *
 * Results:
 *	1 if so, 0 otherwise.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpUtf8Complete(
    const MpUtf8 *u)
{
    return !u->bad && u->need == 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsCloseCodeValid --
 *
 *	Whether a status code may appear in a close frame received from a
 *	peer (RFC 6455 section 7.4). Valid: 1000-1003 and 1007-1011 (defined
 *	by the RFC), 1012-1014 (registered with IANA after the RFC, in the
 *	"WebSocket Close Code Number Registry": 1012 Service Restart, 1013
 *	Try Again Later, 1014 Bad Gateway), 3000-3999 (for libraries and
 *	frameworks, registered with IANA) and 4000-4999 (private use).
 *	Invalid: below 1000 (unused), 1004 (reserved), 1005, 1006 and 1015
 *	(reserved to report "no status", "abnormal closure" and "TLS
 *	handshake failure" locally: never sent in a close frame), 1016-2999
 *	(reserved for future revisions and extensions) and 5000 up.
 *
 * Results:
 *	1 if valid, 0 if not.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpWsCloseCodeValid(
    unsigned code)
{
    return (code >= 1000 && code <= 1003)
	    || (code >= 1007 && code <= 1014)
	    || (code >= 3000 && code <= 4999);
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsCheckClosePayload --
 *
 *	Checks the (unmasked) payload of a received close frame: empty, or
 *	a 2-byte big-endian status code valid per MpWsCloseCodeValid followed
 *	by a reason in valid UTF-8 (RFC 6455 sections 5.5.1, 7.4, 8.1).
 *
 * Results:
 *	0 if valid; MP_WS_PROTOCOL_ERROR (1002) for a 1-byte payload or an
 *	invalid code; MP_WS_INVALID_DATA (1007) for a reason that is not
 *	valid UTF-8.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpWsCheckClosePayload(
    const char *payload,
    size_t len)
{
    const unsigned char *p = (const unsigned char *) payload;
    MpUtf8 u;

    if (len == 0) {
	return 0;
    }
    if (len == 1 || !MpWsCloseCodeValid(((unsigned) p[0] << 8) | p[1])) {
	return MP_WS_PROTOCOL_ERROR;
    }
    memset(&u, 0, sizeof(u));
    if (!MpUtf8Feed(&u, payload + 2, len - 2, NULL) || !MpUtf8Complete(&u)) {
	return MP_WS_INVALID_DATA;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * CheckLength --
 *
 *	Checks the payload length of the frame whose header is being read,
 *	once it is known: a data frame must keep its message within
 *	maxMessage (counted over all its fragments).
 *
 * Results:
 *	0, or MP_WS_TOO_BIG (1009).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
CheckLength(
    const MpWsIn *in,
    size_t maxMessage)
{
    if (in->opcode < MP_WS_CLOSE && (in->msgLen > maxMessage
	    || in->frameLen > (uint64_t) (maxMessage - in->msgLen))) {
	return MP_WS_TOO_BIG;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * HeaderByte --
 *
 *	Takes the next byte of a frame header and checks what can be checked
 *	with it, as early as possible: the first byte's reserved bits,
 *	opcode and FIN (a control frame cannot be fragmented; a continuation
 *	needs an open message; a new data message cannot start while one is
 *	open), the second byte's MASK bit (a client must mask) and length
 *	(control frames carry at most 125 bytes, a close frame not exactly
 *	1), the top bit of a 64-bit length, and the message size.
 *
 * Results:
 *	0, or the close code to fail with.
 *
 * Side effects:
 *	Stores the byte; when the header is complete, switches to reading
 *	the payload. A TEXT or BINARY first byte opens the message.
 *
 *----------------------------------------------------------------------
 */

static int
HeaderByte(
    MpWsIn *in,
    unsigned char b,
    size_t maxMessage)
{
    unsigned n = ++in->hdrLen;
    unsigned len7 = in->hdr[1] & 0x7F;

    in->hdr[n - 1] = b;
    if (n == 1) {
	int op = b & 0x0F, fin = b >> 7;

	if (b & 0x70) {
	    return MP_WS_PROTOCOL_ERROR;	/* RSV1-3 without extension. */
	}
	switch (op) {
	case MP_WS_CONT:
	    if (in->msgOpcode == 0) {
		return MP_WS_PROTOCOL_ERROR;
	    }
	    break;
	case MP_WS_TEXT:
	case MP_WS_BINARY:
	    if (in->msgOpcode != 0) {
		return MP_WS_PROTOCOL_ERROR;
	    }
	    in->msgOpcode = op;
	    break;
	case MP_WS_CLOSE:
	case MP_WS_PING:
	case MP_WS_PONG:
	    if (!fin) {
		return MP_WS_PROTOCOL_ERROR;
	    }
	    break;
	default:
	    return MP_WS_PROTOCOL_ERROR;	/* Reserved opcode. */
	}
	in->opcode = op;
	in->fin = fin;
	return 0;
    }
    if (n == 2) {
	len7 = b & 0x7F;
	if (!(b & 0x80)) {
	    return MP_WS_PROTOCOL_ERROR;	/* Not masked. */
	}
	if (in->opcode >= MP_WS_CLOSE && (len7 > MP_WS_CONTROL_MAX
		|| (in->opcode == MP_WS_CLOSE && len7 == 1))) {
	    return MP_WS_PROTOCOL_ERROR;
	}
	in->hdrNeed = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
	if (len7 < 126) {
	    in->frameLen = len7;
	    return CheckLength(in, maxMessage);
	}
	return 0;
    }
    if (n == 3 && len7 == 127 && (b & 0x80)) {
	return MP_WS_PROTOCOL_ERROR;		/* 64-bit length, top bit. */
    }
    if (n == in->hdrNeed - 4 && len7 >= 126) {
	uint64_t v = 0;
	unsigned i;

	for (i = 2; i < n; i++) {
	    v = (v << 8) | in->hdr[i];
	}
	in->frameLen = v;
	return CheckLength(in, maxMessage);
    }
    if (n == in->hdrNeed) {
	in->inPayload = 1;
	in->frameGot = 0;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MsgReserve --
 *
 *	Makes room in the message buffer for n more bytes of the current
 *	frame, growing it geometrically but never beyond what the rest of
 *	the frame needs (so never beyond maxMessage: CheckLength has passed).
 *
 * Results:
 *	0 on success, -1 when memory is exhausted.
 *
 * Side effects:
 *	May reallocate in->msg.
 *
 *----------------------------------------------------------------------
 */

static int
MsgReserve(
    MpWsIn *in,
    size_t n)
{
    size_t need = in->msgLen + n;
    size_t limit = in->msgLen + (size_t) (in->frameLen - in->frameGot);
    size_t cap;
    char *p;

    if (need <= in->msgCap) {
	return 0;
    }
    if (in->msgCap == 0) {
	cap = 256;
    } else if (in->msgCap > limit / 2) {
	cap = limit;
    } else {
	cap = in->msgCap * 2;
    }
    if (cap > limit) {
	cap = limit;
    }
    if (cap < need) {
	cap = need;
    }
    p = (char *) realloc(in->msg, cap);
    if (p == NULL) {
	return -1;
    }
    in->msg = p;
    in->msgCap = cap;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * FrameDone --
 *
 *	Finishes the frame just read: delivers a control frame (a close
 *	frame once its payload is checked), or, after the final frame of a
 *	data message, the message (a text message once its UTF-8 is known
 *	not to end inside a sequence).
 *
 * Results:
 *	0, or the close code to fail with. *stopPtr is set to whether the
 *	callback asked to stop (0 when it was not called).
 *
 * Side effects:
 *	Calls emit; the parser is ready for the next frame header before the
 *	call. May release a large message buffer after it.
 *
 *----------------------------------------------------------------------
 */

static int
FrameDone(
    MpWsIn *in,
    MpWsEmitProc *emit,
    void *ctx,
    int *stopPtr)
{
    int opcode = in->opcode;
    size_t len;

    *stopPtr = 0;
    in->inPayload = 0;
    in->hdrLen = 0;
    in->hdrNeed = 0;
    if (opcode >= MP_WS_CLOSE) {
	len = in->ctlLen;
	in->ctlLen = 0;
	if (opcode == MP_WS_CLOSE) {
	    int code = MpWsCheckClosePayload((const char *) in->ctl, len);

	    if (code != 0) {
		return code;
	    }
	}
	*stopPtr = emit(ctx, opcode, (const char *) in->ctl, len);
	return 0;
    }
    if (!in->fin) {
	return 0;
    }
    opcode = in->msgOpcode;
    if (opcode == MP_WS_TEXT && !MpUtf8Complete(&in->utf8)) {
	return MP_WS_INVALID_DATA;
    }
    len = in->msgLen;
    in->msgOpcode = 0;
    in->msgLen = 0;
    memset(&in->utf8, 0, sizeof(in->utf8));
    *stopPtr = emit(ctx, opcode, in->msg != NULL ? in->msg : "", len);
    if (in->msgCap > MP_WS_KEEP) {
	free(in->msg);
	in->msg = NULL;
	in->msgCap = 0;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsFeed --
 *
 *	Parses the next bytes a server received on a WebSocket connection.
 *	Frames and their headers may be split anywhere across calls. Each
 *	complete data message (TEXT or BINARY, unmasked, its fragments
 *	reassembled) and each control frame (PING, PONG, CLOSE with its raw
 *	payload) goes to emit, in wire order; control frames between the
 *	fragments of a message are delivered when they arrive. Protocol
 *	violations are detected at the first byte that shows them (see
 *	HeaderByte; invalid UTF-8 in a text message at the first byte that
 *	cannot continue a valid sequence, even across fragments and calls;
 *	an incomplete sequence and a bad close payload at the end of their
 *	frame). Non-minimal length encodings are accepted.
 *
 *	The emit callback must not free the parser (it returns non-zero to
 *	stop instead); the payload it gets is valid during the call only.
 *
 * Results:
 *	MP_WS_OK: all of data consumed (*restPtr 0).
 *	MP_WS_STOPPED: emit asked to stop; *restPtr is the number of bytes
 *	    of data after the frame that completed the delivery: feed them
 *	    later to go on.
 *	MP_WS_FAIL: the peer broke the protocol; *closeCodePtr is the close
 *	    code to send: 1002 (protocol error), 1007 (invalid UTF-8) or
 *	    1009 (message larger than maxMessage, found from the frame
 *	    header before any of its payload is buffered); *restPtr is the
 *	    number of bytes of data after the one that showed the violation.
 *	MP_WS_NOMEM: no memory for the message; *closeCodePtr is 1011,
 *	    *restPtr the bytes not consumed.
 *	After MP_WS_FAIL or MP_WS_NOMEM the parser stays failed: every
 *	later call returns the same result and code (and *restPtr len).
 *
 * Side effects:
 *	Calls emit; buffers the partial frame header, control frame and
 *	message; on failure, releases the message buffer.
 *
 *----------------------------------------------------------------------
 */

int
MpWsFeed(
    MpWsIn *in,
    size_t maxMessage,
    const char *data,
    size_t len,
    MpWsEmitProc *emit,
    void *ctx,
    size_t *restPtr,
    int *closeCodePtr)
{
    const unsigned char *p = (const unsigned char *) data;
    size_t pos = 0;
    int code, stop;

    *restPtr = 0;
    if (in->failed) {
	*restPtr = len;
	*closeCodePtr = in->closeCode;
	return in->failed;
    }
    for (;;) {
	if (!in->inPayload) {
	    if (pos == len) {
		break;
	    }
	    code = HeaderByte(in, p[pos++], maxMessage);
	    if (code != 0) {
		goto fail;
	    }
	    if (!in->inPayload || in->frameLen > 0) {
		continue;
	    }

	    /*
	     * An empty payload: the frame is complete with its header.
	     */
	} else {
	    const unsigned char *mask = in->hdr + in->hdrNeed - 4;
	    uint64_t left = in->frameLen - in->frameGot;
	    size_t n = len - pos;

	    if (n == 0) {
		break;
	    }
	    if ((uint64_t) n > left) {
		n = (size_t) left;
	    }
	    if (in->opcode >= MP_WS_CLOSE) {
		char *dst = (char *) in->ctl + in->ctlLen;

		memcpy(dst, p + pos, n);
		MpWsMask(dst, n, mask, (size_t) (in->frameGot & 3));
		in->ctlLen += n;
	    } else {
		char *dst;

		if (MsgReserve(in, n) != 0) {
		    in->failed = MP_WS_NOMEM;
		    in->closeCode = MP_WS_INTERNAL_ERROR;
		    goto failed;
		}
		dst = in->msg + in->msgLen;
		memcpy(dst, p + pos, n);
		MpWsMask(dst, n, mask, (size_t) (in->frameGot & 3));
		if (in->msgOpcode == MP_WS_TEXT) {
		    size_t bad;

		    if (!MpUtf8Feed(&in->utf8, dst, n, &bad)) {
			pos += bad + 1;
			code = MP_WS_INVALID_DATA;
			goto fail;
		    }
		}
		in->msgLen += n;
	    }
	    pos += n;
	    in->frameGot += n;
	    if (in->frameGot < in->frameLen) {
		continue;
	    }
	}
	code = FrameDone(in, emit, ctx, &stop);
	if (code != 0) {
	    goto fail;
	}
	if (stop) {
	    *restPtr = len - pos;
	    return MP_WS_STOPPED;
	}
    }
    return MP_WS_OK;

  fail:
    in->failed = MP_WS_FAIL;
    in->closeCode = code;
  failed:
    free(in->msg);
    in->msg = NULL;
    in->msgLen = in->msgCap = 0;
    *restPtr = len - pos;
    *closeCodePtr = in->closeCode;
    return in->failed;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsFree --
 *
 *	Releases a parser's buffer.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees memory; the parser is in its initial state afterwards.
 *
 *----------------------------------------------------------------------
 */

void
MpWsFree(
    MpWsIn *in)
{
    free(in->msg);
    memset(in, 0, sizeof(*in));
}

/*
 *----------------------------------------------------------------------
 *
 * PutLength --
 *
 *	Writes the length part of a frame header (the second byte and any
 *	extended length) in its shortest form: 7 bits up to 125, 16 bits up
 *	to 65535, else 64 bits.
 *
 * Results:
 *	The number of bytes written (1, 3 or 9).
 *
 * Side effects:
 *	Writes out[0..].
 *
 *----------------------------------------------------------------------
 */

static size_t
PutLength(
    unsigned char *out,
    size_t len,
    unsigned maskBit)
{
    uint64_t v = len;
    int i;

    if (len <= MP_WS_CONTROL_MAX) {
	out[0] = (unsigned char) (maskBit | len);
	return 1;
    }
    if (len <= 0xFFFF) {
	out[0] = (unsigned char) (maskBit | 126);
	out[1] = (unsigned char) (len >> 8);
	out[2] = (unsigned char) len;
	return 3;
    }
    out[0] = (unsigned char) (maskBit | 127);
    for (i = 8; i >= 1; i--) {
	out[i] = (unsigned char) v;
	v >>= 8;
    }
    return 9;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsServerHeader --
 *
 *	Encodes the header of an unfragmented frame a server sends: FIN set,
 *	no mask, the shortest length form.
 *
 * Results:
 *	The header size (2, 4 or 10).
 *
 * Side effects:
 *	Writes out.
 *
 *----------------------------------------------------------------------
 */

size_t
MpWsServerHeader(
    int opcode,
    size_t payloadLen,
    unsigned char out[10])
{
    out[0] = (unsigned char) (0x80 | (opcode & 0x0F));
    return 1 + PutLength(out + 1, payloadLen, 0);
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsClientHeader --
 *
 *	Encodes the header of a frame a client sends: the FIN bit as given,
 *	the shortest length form, the MASK bit and masking key. The payload
 *	must then be masked with MpWsMask. For tests and load generators.
 *
 * Results:
 *	The header size (6, 8 or 14).
 *
 * Side effects:
 *	Writes out.
 *
 *----------------------------------------------------------------------
 */

size_t
MpWsClientHeader(
    int opcode,
    int fin,
    size_t len,
    const unsigned char mask[4],
    unsigned char out[14])
{
    size_t n;

    out[0] = (unsigned char) ((fin ? 0x80 : 0) | (opcode & 0x0F));
    n = 1 + PutLength(out + 1, len, 0x80);
    memcpy(out + n, mask, 4);
    return n + 4;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsMask --
 *
 *	Masks or unmasks (the same XOR) bytes of a payload in place: byte i
 *	of data is payload byte offset + i, XORed with mask[(offset + i) %
 *	4] (RFC 6455 section 5.3).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Modifies data.
 *
 *----------------------------------------------------------------------
 */

void
MpWsMask(
    char *data,
    size_t len,
    const unsigned char mask[4],
    size_t offset)
{
    unsigned char m[8];
    uint64_t w, mw;
    size_t i = 0;
    int k;

    for (k = 0; k < 8; k++) {
	m[k] = mask[(offset + (size_t) k) & 3];
    }
    memcpy(&mw, m, 8);
    for (; len - i >= 8; i += 8) {
	memcpy(&w, data + i, 8);
	w ^= mw;
	memcpy(data + i, &w, 8);
    }
    for (; i < len; i++) {
	data[i] = (char) (data[i] ^ m[i & 7]);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsClosePayload --
 *
 *	Builds the payload of a close frame: the status code (2 bytes,
 *	big-endian) and the reason, which is truncated to 123 bytes if
 *	longer, at a UTF-8 character boundary (the reason is expected to be
 *	valid UTF-8). Code 0 means no status: an empty payload.
 *
 * Results:
 *	The payload size (0, or 2 to 125).
 *
 * Side effects:
 *	Writes out, which must hold MP_WS_CONTROL_MAX (125) bytes.
 *
 *----------------------------------------------------------------------
 */

size_t
MpWsClosePayload(
    unsigned code,
    const char *reason,
    size_t reasonLen,
    unsigned char *out)
{
    if (code == 0) {
	return 0;
    }
    if (reasonLen > MP_WS_REASON_MAX) {
	reasonLen = MP_WS_REASON_MAX;

	/*
	 * Back up over the continuation bytes of a character cut in two,
	 * and over its lead byte.
	 */

	while (reasonLen > 0
		&& (((unsigned char) reason[reasonLen]) & 0xC0) == 0x80) {
	    reasonLen--;
	}
    }
    out[0] = (unsigned char) (code >> 8);
    out[1] = (unsigned char) code;
    if (reasonLen > 0) {
	memcpy(out + 2, reason, reasonLen);
    }
    return 2 + reasonLen;
}
