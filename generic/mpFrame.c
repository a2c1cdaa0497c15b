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
 * Where complete messages go: each one to emit, or, when span is not NULL,
 * runs of consecutive messages that stand in the input exactly as they are
 * encoded for recipients gathered into spans for span (see
 * MpFrameFeedSpans). Every message goes one way or the other, once, in
 * order.
 */

typedef struct Sink {
    MpFrameEmitProc *emit;	/* One message, decoded. */
    MpFrameSpanProc *span;	/* A run of encoded messages, or NULL. */
    void *ctx;			/* Passed to both. */
    size_t maxSpan;		/* Most bytes in one span. */
    const char *start;		/* First byte of the span being gathered. */
    size_t len;			/* Its length. */
    size_t count;		/* Its messages (0: none gathered). */
    size_t rest;		/* On MP_FRAME_STOPPED: input bytes after
				 * the message whose callback stopped. */
} Sink;

/*
 *----------------------------------------------------------------------
 *
 * SinkFlush --
 *
 *	Hands the span being gathered, if any, to the span callback.
 *
 * Results:
 *	The callback's result (0 when there was nothing to hand over).
 *
 * Side effects:
 *	Whatever the callback does; the sink is empty afterwards.
 *
 *----------------------------------------------------------------------
 */

static int
SinkFlush(
    Sink *s)
{
    size_t count = s->count;

    if (count == 0) {
	return 0;
    }
    s->count = 0;
    return s->span(s->ctx, s->start, s->len, count);
}

/*
 *----------------------------------------------------------------------
 *
 * SinkMessage --
 *
 *	Delivers one message that cannot join a span (it was assembled from
 *	several reads, or its bytes differ from its encoding): the span
 *	gathered so far first, then the message.
 *
 * Results:
 *	Non-zero if a callback asked to stop.
 *
 * Side effects:
 *	Whatever the callbacks do.
 *
 *----------------------------------------------------------------------
 */

static int
SinkMessage(
    Sink *s,
    const char *msg,
    size_t len)
{
    if (SinkFlush(s)) {
	return 1;
    }
    return s->emit(s->ctx, msg, len);
}

/*
 *----------------------------------------------------------------------
 *
 * SinkVerbatim --
 *
 *	Delivers one complete message whose encoding is exactly the input
 *	bytes wire[0..wireLen): it joins the span being gathered if the span
 *	stays within maxSpan, or starts a new one. It always follows the
 *	span in the input: whatever comes between two such messages goes
 *	through SinkMessage, which hands the span over first. Without a span
 *	callback, or when it alone exceeds maxSpan, it goes to emit like any
 *	other.
 *
 * Results:
 *	Non-zero if a callback asked to stop.
 *
 * Side effects:
 *	May hand the previous span over.
 *
 *----------------------------------------------------------------------
 */

static int
SinkVerbatim(
    Sink *s,
    const char *wire,		/* The message as it stands in the input. */
    size_t wireLen,
    const char *msg,		/* Its content (inside wire). */
    size_t len)
{
    if (s->span == NULL || wireLen > s->maxSpan) {
	return SinkMessage(s, msg, len);
    }
    if (s->count > 0 && wireLen > s->maxSpan - s->len) {
	if (SinkFlush(s)) {
	    return 1;
	}
    }
    if (s->count == 0) {
	s->start = wire;
	s->len = 0;
    }
    s->len += wireLen;
    s->count++;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * SinkLine --
 *
 *	Delivers a complete line found whole in the input, without its LF or
 *	CRLF terminator: verbatim when it ends in a bare LF (its encoding),
 *	as a single message when a CR precedes the LF.
 *
 * Results:
 *	Non-zero if a callback asked to stop.
 *
 * Side effects:
 *	See SinkVerbatim and SinkMessage.
 *
 *----------------------------------------------------------------------
 */

static int
SinkLine(
    Sink *s,
    const char *line,
    size_t len)			/* Length up to, not including, the LF. */
{
    if (len > 0 && line[len - 1] == '\r') {
	return SinkMessage(s, line, len - 1);
    }
    return SinkVerbatim(s, line, len + 1, line, len);
}

/*
 *----------------------------------------------------------------------
 *
 * SinkBufferedLine --
 *
 *	Delivers a line assembled in the partial-message buffer, without
 *	its LF or CRLF terminator.
 *
 * Results:
 *	Non-zero if a callback asked to stop.
 *
 * Side effects:
 *	See SinkMessage.
 *
 *----------------------------------------------------------------------
 */

static int
SinkBufferedLine(
    Sink *s,
    const char *line,
    size_t len)			/* Length up to, not including, the LF. */
{
    if (len > 0 && line[len - 1] == '\r') {
	len--;
    }
    return SinkMessage(s, line, len);
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
 *	Delivers messages to the sink; buffers a trailing partial line.
 *
 *----------------------------------------------------------------------
 */

static int
FeedLine(
    MpFrameIn *in,
    size_t maxMessage,
    const char *data,
    size_t len,
    Sink *s)
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
	    if (SinkLine(s, data, take)) {
		s->rest = len - take - 1;
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
	    if (SinkBufferedLine(s, in->data, total)) {
		s->rest = len - take - 1;
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
 *	Delivers messages to the sink; buffers a trailing partial message.
 *
 *----------------------------------------------------------------------
 */

static int
FeedLength(
    MpFrameIn *in,
    size_t maxMessage,
    const char *data,
    size_t len,
    Sink *s)
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
		if (SinkVerbatim(s, data, MP_FRAME_HEADER + msgLen,
			data + MP_FRAME_HEADER, msgLen)) {
		    s->rest = len - MP_FRAME_HEADER - msgLen;
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
	if (SinkMessage(s, in->data + MP_FRAME_HEADER, msgLen)) {
	    s->rest = len;
	    return MP_FRAME_STOPPED;
	}
    }
    return MP_FRAME_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * FeedMode --
 *
 *	Feeds bytes to the framer of one mode, delivering to a sink. In raw
 *	mode the whole chunk is one message (sent past any span: raw input
 *	never goes in spans).
 *
 * Results:
 *	An MP_FRAME_* code; s->rest is set on MP_FRAME_STOPPED.
 *
 * Side effects:
 *	Delivers messages to the sink; buffers a trailing partial message.
 *
 *----------------------------------------------------------------------
 */

static int
FeedMode(
    MpFrameIn *in,
    int mode,
    size_t maxMessage,
    const char *data,
    size_t len,
    Sink *s)
{
    switch (mode) {
    case MP_FRAME_LINE:
	return FeedLine(in, maxMessage, data, len, s);
    case MP_FRAME_LENGTH:
	return FeedLength(in, maxMessage, data, len, s);
    default:
	if (len == 0) {
	    return MP_FRAME_OK;
	}
	return s->emit(s->ctx, data, len) ? MP_FRAME_STOPPED : MP_FRAME_OK;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpFrameFeed, MpFrameFeedRest --
 *
 *	Feeds bytes read from a client into its framer. In raw mode the whole
 *	chunk is one message. MpFrameFeedRest also tells, when the callback
 *	stopped, how many bytes of data came after the message it stopped
 *	on: the caller may feed them again (in another framing mode, when a
 *	filter changed it); the partial-message buffer is then empty.
 *
 * Results:
 *	MP_FRAME_OK, MP_FRAME_TOOBIG (the client broke maxMessage: its partial
 *	data is not delivered), MP_FRAME_STOPPED (the callback stopped) or
 *	MP_FRAME_NOMEM. *restPtr is set on MP_FRAME_STOPPED.
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
    size_t rest;

    return MpFrameFeedRest(in, mode, maxMessage, data, len, emit, ctx,
	    &rest);
}

int
MpFrameFeedRest(
    MpFrameIn *in,
    int mode,
    size_t maxMessage,
    const char *data,
    size_t len,
    MpFrameEmitProc *emit,
    void *ctx,
    size_t *restPtr)		/* Bytes not consumed on MP_FRAME_STOPPED. */
{
    Sink s;
    int rc;

    memset(&s, 0, sizeof(s));
    s.emit = emit;
    s.ctx = ctx;
    rc = FeedMode(in, mode, maxMessage, data, len, &s);
    *restPtr = s.rest;
    return rc;
}

/*
 *----------------------------------------------------------------------
 *
 * MpFrameFeedSpans --
 *
 *	Like MpFrameFeed, but consecutive complete messages that stand in
 *	the chunk exactly as they are encoded for recipients (line framing:
 *	lines ending in a bare LF; length framing: every message found whole
 *	in the chunk) are handed to span together, up to maxSpan bytes at a
 *	time, so that they can be forwarded with one write per recipient.
 *	The other messages (assembled across reads, lines ending in CRLF)
 *	go to emit one by one. Raw mode is as for MpFrameFeed. With span
 *	NULL, every message goes to emit (MpFrameFeed).
 *
 * Results:
 *	As for MpFrameFeed.
 *
 * Side effects:
 *	Calls emit and span: every complete message once, in order.
 *
 *----------------------------------------------------------------------
 */

int
MpFrameFeedSpans(
    MpFrameIn *in,
    int mode,
    size_t maxMessage,
    size_t maxSpan,
    const char *data,
    size_t len,
    MpFrameEmitProc *emit,
    MpFrameSpanProc *span,
    void *ctx)
{
    Sink s;
    int rc;

    memset(&s, 0, sizeof(s));
    s.emit = emit;
    s.span = span;
    s.ctx = ctx;
    s.maxSpan = maxSpan;
    rc = FeedMode(in, mode, maxMessage, data, len, &s);

    /*
     * Hand over the span still being gathered, whatever the result: the
     * messages before a fault are delivered as they would be one by one.
     */

    if (rc != MP_FRAME_STOPPED && SinkFlush(&s)) {
	rc = MP_FRAME_STOPPED;
    }
    return rc;
}

/*
 *----------------------------------------------------------------------
 *
 * MpFrameSpanFirst --
 *
 *	Takes the first message of a span (see MpFrameFeedSpans) apart.
 *
 * Results:
 *	The length of its encoding, the bytes to skip to reach the next
 *	message; its content in *msgPtr and *msgLenPtr. Bytes that are not
 *	a whole message (never the case in a span) are taken as one message
 *	running to the end of len.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

size_t
MpFrameSpanFirst(
    int mode,
    const char *bytes,
    size_t len,
    const char **msgPtr,
    size_t *msgLenPtr)
{
    if (mode == MP_FRAME_LENGTH) {
	size_t msgLen;

	if (len < MP_FRAME_HEADER) {
	    *msgPtr = bytes + len;	/* Not a span: skip what is left. */
	    *msgLenPtr = 0;
	    return len;
	}
	msgLen = HeaderLength(bytes);
	if (msgLen > len - MP_FRAME_HEADER) {
	    msgLen = len - MP_FRAME_HEADER;
	}
	*msgPtr = bytes + MP_FRAME_HEADER;
	*msgLenPtr = msgLen;
	return MP_FRAME_HEADER + msgLen;
    } else {
	const char *nl = (const char *) memchr(bytes, '\n', len);
	size_t msgLen = nl ? (size_t) (nl - bytes) : len;

	*msgPtr = bytes;
	*msgLenPtr = msgLen;
	return nl ? msgLen + 1 : len;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpFrameKeep, MpFrameTake --
 *
 *	The partial-message buffer always holds bytes exactly as they came
 *	from the wire. When a script takes a client's input over (it reads
 *	the client's channel), the bytes no message was cut from yet are
 *	kept there (MpFrameKeep: the rest of a read) and handed to the
 *	script first (MpFrameTake: up to len bytes from the front).
 *
 * Results:
 *	MpFrameKeep: 0, or -1 when memory is exhausted. MpFrameTake: the
 *	number of bytes copied to buf.
 *
 * Side effects:
 *	Grow or shrink the buffer.
 *
 *----------------------------------------------------------------------
 */

int
MpFrameKeep(
    MpFrameIn *in,
    const char *data,
    size_t len)
{
    return len == 0 ? 0 : Append(in, data, len);
}

size_t
MpFrameTake(
    MpFrameIn *in,
    char *buf,
    size_t len)
{
    if (len > in->len) {
	len = in->len;
    }
    if (len > 0) {
	memcpy(buf, in->data, len);
	memmove(in->data, in->data + len, in->len - len);
	in->len -= len;
    }
    return len;
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
