/*
 * mpFrame.c --
 *
 *	Splits a byte stream into messages (line and length framing) and
 *	encodes outgoing messages. No Tcl here: the fuzz harnesses link this
 *	file alone.
 */

#include <stdlib.h>
#include <string.h>
#include "mpFrame.h"

/*
 *----------------------------------------------------------------------
 *
 * Append --
 *
 *	Appends bytes to the partial-message buffer, growing it as needed.
 *
 * Results:
 *	0 on success, -1 when memory is exhausted.
 *
 * Side effects:
 *	May reallocate in->data.
 *
 *----------------------------------------------------------------------
 */

static int
Append(
    MpFrameIn *in,
    const char *data,
    size_t len)
{
    if (in->len + len > in->cap) {
	size_t cap = in->cap ? in->cap : 256;
	char *p;

	while (cap < in->len + len) {
	    cap *= 2;
	}
	p = (char *) realloc(in->data, cap);
	if (p == NULL) {
	    return -1;
	}
	in->data = p;
	in->cap = cap;
    }
    memcpy(in->data + in->len, data, len);
    in->len += len;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * EmitLine --
 *
 *	Hands one line to the callback without its LF or CRLF terminator.
 *
 * Results:
 *	The callback's result.
 *
 * Side effects:
 *	Whatever the callback does.
 *
 *----------------------------------------------------------------------
 */

static int
EmitLine(
    const char *line,
    size_t len,			/* Length up to, not including, the LF. */
    MpFrameEmitProc *emit,
    void *ctx)
{
    if (len > 0 && line[len - 1] == '\r') {
	len--;
    }
    return emit(ctx, line, len);
}

/*
 *----------------------------------------------------------------------
 *
 * FeedLine --
 *
 *	Line framing: every LF ends a message; a CR just before it is
 *	dropped too. A line longer than maxMessage (not counting its
 *	terminator) is an error, detected as soon as the partial line exceeds
 *	the limit so that an endless line is never buffered beyond it.
 *
 * Results:
 *	An MP_FRAME_* code.
 *
 * Side effects:
 *	Calls emit; buffers a trailing partial line.
 *
 *----------------------------------------------------------------------
 */

static int
FeedLine(
    MpFrameIn *in,
    size_t maxMessage,
    const char *data,
    size_t len,
    MpFrameEmitProc *emit,
    void *ctx)
{
    while (len > 0) {
	const char *nl = (const char *) memchr(data, '\n', len);
	size_t take;

	if (nl == NULL) {
	    /*
	     * One more byte than the limit is allowed while partial: it may
	     * be the CR of a CRLF.
	     */

	    if (in->len + len > maxMessage + 1) {
		return MP_FRAME_TOOBIG;
	    }
	    return Append(in, data, len) ? MP_FRAME_NOMEM : MP_FRAME_OK;
	}
	take = (size_t) (nl - data);
	if (in->len == 0) {
	    if (take > maxMessage + 1
		    || (take == maxMessage + 1 && data[take - 1] != '\r')) {
		return MP_FRAME_TOOBIG;
	    }
	    if (EmitLine(data, take, emit, ctx)) {
		return MP_FRAME_STOPPED;
	    }
	} else {
	    size_t total = in->len + take;

	    if (total > maxMessage + 1 || (total == maxMessage + 1
		    && (take ? data[take - 1] : in->data[in->len - 1])
		    != '\r')) {
		return MP_FRAME_TOOBIG;
	    }
	    if (Append(in, data, take)) {
		return MP_FRAME_NOMEM;
	    }
	    in->len = 0;
	    if (EmitLine(in->data, total, emit, ctx)) {
		return MP_FRAME_STOPPED;
	    }
	}
	data += take + 1;
	len -= take + 1;
    }
    return MP_FRAME_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * HeaderLength --
 *
 *	Decodes a 4-byte big-endian length.
 *
 * Results:
 *	The length.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static size_t
HeaderLength(
    const char *p)
{
    const unsigned char *u = (const unsigned char *) p;

    return ((size_t) u[0] << 24) | ((size_t) u[1] << 16)
	    | ((size_t) u[2] << 8) | (size_t) u[3];
}

/*
 *----------------------------------------------------------------------
 *
 * FeedLength --
 *
 *	Length framing: a 4-byte big-endian length, then that many bytes. A
 *	length above maxMessage is an error as soon as its header is
 *	complete, before any body is buffered.
 *
 * Results:
 *	An MP_FRAME_* code.
 *
 * Side effects:
 *	Calls emit; buffers a trailing partial message.
 *
 *----------------------------------------------------------------------
 */

static int
FeedLength(
    MpFrameIn *in,
    size_t maxMessage,
    const char *data,
    size_t len,
    MpFrameEmitProc *emit,
    void *ctx)
{
    while (len > 0) {
	size_t need, msgLen;

	if (in->len == 0) {
	    /*
	     * Nothing buffered: deliver complete messages straight from the
	     * caller's bytes.
	     */

	    if (len < MP_FRAME_HEADER) {
		return Append(in, data, len) ? MP_FRAME_NOMEM : MP_FRAME_OK;
	    }
	    msgLen = HeaderLength(data);
	    if (msgLen > maxMessage) {
		return MP_FRAME_TOOBIG;
	    }
	    if (len - MP_FRAME_HEADER >= msgLen) {
		if (emit(ctx, data + MP_FRAME_HEADER, msgLen)) {
		    return MP_FRAME_STOPPED;
		}
		data += MP_FRAME_HEADER + msgLen;
		len -= MP_FRAME_HEADER + msgLen;
		continue;
	    }
	    return Append(in, data, len) ? MP_FRAME_NOMEM : MP_FRAME_OK;
	}

	/*
	 * Complete the header first, then the body.
	 */

	if (in->len < MP_FRAME_HEADER) {
	    size_t take = MP_FRAME_HEADER - in->len;

	    if (take > len) {
		take = len;
	    }
	    if (Append(in, data, take)) {
		return MP_FRAME_NOMEM;
	    }
	    data += take;
	    len -= take;
	    if (in->len < MP_FRAME_HEADER) {
		return MP_FRAME_OK;
	    }
	}

	/*
	 * Checked on every call, not only when the header completes:
	 * maxMessage may have been lowered while the body was arriving.
	 */

	msgLen = HeaderLength(in->data);
	if (msgLen > maxMessage) {
	    return MP_FRAME_TOOBIG;
	}
	need = MP_FRAME_HEADER + msgLen - in->len;
	if (need > len) {
	    return Append(in, data, len) ? MP_FRAME_NOMEM : MP_FRAME_OK;
	}
	if (Append(in, data, need)) {
	    return MP_FRAME_NOMEM;
	}
	data += need;
	len -= need;
	in->len = 0;
	if (emit(ctx, in->data + MP_FRAME_HEADER, msgLen)) {
	    return MP_FRAME_STOPPED;
	}
    }
    return MP_FRAME_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpFrameFeed --
 *
 *	Feeds bytes read from a client into its framer. In raw mode the whole
 *	chunk is one message.
 *
 * Results:
 *	MP_FRAME_OK, MP_FRAME_TOOBIG (the client broke maxMessage: its partial
 *	data is not delivered), MP_FRAME_STOPPED (the callback stopped) or
 *	MP_FRAME_NOMEM.
 *
 * Side effects:
 *	Calls emit once per complete message, in order.
 *
 *----------------------------------------------------------------------
 */

int
MpFrameFeed(
    MpFrameIn *in,
    int mode,
    size_t maxMessage,
    const char *data,
    size_t len,
    MpFrameEmitProc *emit,
    void *ctx)
{
    switch (mode) {
    case MP_FRAME_LINE:
	return FeedLine(in, maxMessage, data, len, emit, ctx);
    case MP_FRAME_LENGTH:
	return FeedLength(in, maxMessage, data, len, emit, ctx);
    default:
	if (len == 0) {
	    return MP_FRAME_OK;
	}
	return emit(ctx, data, len) ? MP_FRAME_STOPPED : MP_FRAME_OK;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpFrameFree --
 *
 *	Releases a framer's buffer.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees memory; the framer is empty afterwards.
 *
 *----------------------------------------------------------------------
 */

void
MpFrameFree(
    MpFrameIn *in)
{
    free(in->data);
    in->data = NULL;
    in->len = in->cap = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpFramePrefix, MpFrameSuffix --
 *
 *	The bytes a framing puts before and after a message on the wire:
 *	length framing a 4-byte big-endian length before it, line framing a
 *	LF after it, raw nothing. The fan-out gathers them around the
 *	message itself, so a message written straight to a socket is never
 *	copied.
 *
 * Results:
 *	MpFramePrefix: the prefix length (0 or MP_FRAME_HEADER), its bytes
 *	written to out (room for MP_FRAME_HEADER). MpFrameSuffix: the suffix
 *	(static storage), its length in *lenPtr.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

size_t
MpFramePrefix(
    int mode,
    size_t len,
    char *out)
{
    if (mode != MP_FRAME_LENGTH) {
	return 0;
    }
    out[0] = (char) ((len >> 24) & 0xFF);
    out[1] = (char) ((len >> 16) & 0xFF);
    out[2] = (char) ((len >> 8) & 0xFF);
    out[3] = (char) (len & 0xFF);
    return MP_FRAME_HEADER;
}

const char *
MpFrameSuffix(
    int mode,
    size_t *lenPtr)
{
    *lenPtr = (mode == MP_FRAME_LINE) ? 1 : 0;
    return "\n";
}

/*
 *----------------------------------------------------------------------
 *
 * MpFrameEncodedSize, MpFrameEncode --
 *
 *	Size and bytes of a message as sent to recipients: its prefix, the
 *	message, its suffix (see MpFramePrefix).
 *
 * Results:
 *	The size; the encoding is written to out.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

size_t
MpFrameEncodedSize(
    int mode,
    size_t len)
{
    switch (mode) {
    case MP_FRAME_LINE:
	return len + 1;
    case MP_FRAME_LENGTH:
	return len + MP_FRAME_HEADER;
    default:
	return len;
    }
}

void
MpFrameEncode(
    int mode,
    const char *data,
    size_t len,
    char *out)
{
    size_t pre = MpFramePrefix(mode, len, out), sufLen;
    const char *suf = MpFrameSuffix(mode, &sufLen);

    memcpy(out + pre, data, len);
    memcpy(out + pre + len, suf, sufLen);
}
