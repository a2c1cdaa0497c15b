/*
 * mpInput.c --
 *
 *	Reading from a client: one read per readable event, framing into
 *	messages, the data filter chain, then the fan-out.
 */

#include <stdlib.h>
#include "mpInt.h"

static int		SpansAllowed(const MpInstance *mp);
/*
 * What the framer callbacks get: the client, and the framing mode the
 * read is being cut with (a data filter may change Config framing; the
 * rest of the read is then cut the new way).
 */

typedef struct Feed {
    MpClient *c;
    int mode;
    MpBatch *batch;		/* Messages gathered for one fan-out (no
				 * data or output filter, WebSocket clients
				 * present: see MpBatchBegin), or NULL. */
} Feed;

static int		EmitMessage(void *ctx, const char *msg, size_t len);
static int		EmitSpan(void *ctx, const char *bytes, size_t len,
			    size_t count);
static void		HandleSpan(MpClient *c, const char *bytes,
			    size_t len, size_t count);
static void		StreamInput(MpClient *c, const char *buf,
			    size_t len);
static size_t		StreamFrame(MpInstance *mp, const char *data,
			    size_t len, int text, char *hdr,
			    const char **sufPtr, size_t *sufLenPtr);

/*
 * The stream codec: TCP clients, framed as Config framing says.
 */

const MpCodecType mpStreamCodec = {
    "stream",
    StreamInput,
    StreamFrame,
    0,				/* Channel writes go out as written. */
    1,				/* A script may read the channel. */
    MP_READ_CHUNK
};

/*
 *----------------------------------------------------------------------
 *
 * MpClientReadable --
 *
 *	Reads one chunk (up to the codec's readSize bytes) and hands it to the
 *	client's codec (mpCodec.h: StreamInput below, or a WebSocket
 *	client's). If a filter re-enters the event loop and this client
 *	becomes readable again meanwhile, its read interest is suspended
 *	until this call returns, so messages are never handled out of order
 *	or concurrently.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Reads the socket; runs filters; may close the client.
 *
 *----------------------------------------------------------------------
 */

void
MpClientReadable(
    MpClient *c)
{
    MpInstance *mp = c->mp;
    MpLoop *loop = mp->loop;
    char *buf;
    int ownBuf = 0, err = 0;
    ptrdiff_t n;
    size_t size;

    if (c->reading) {
	c->readSuspended = 1;
	MpClientUpdateWatch(c);
	return;
    }
    if (c->scriptInput) {
	/*
	 * A script reads this client: its channel is told (in an event of
	 * its own), and the socket is not watched for input again until
	 * the channel asks, so readiness the script leaves does not spin.
	 */

	c->scriptWantsRead = 0;
	MpClientUpdateWatch(c);
	MpChannelInputReady(c);
	return;
    }
    size = mpCodecs[c->codec]->readSize;
    if (loop->readBufBusy) {
	buf = (char *) MpAlloc(size);
	ownBuf = 1;
    } else {
	buf = loop->readBuf;
	loop->readBufBusy = 1;
    }
    MpClientRef(c);
    MpInstanceRef(mp);
    c->reading = 1;

    n = MpConnRead(&c->conn, buf, size, &err);
    if (n == 0) {
	MpClientClose(c, MP_REASON_EOF, NULL);
    } else if (n == MP_IO_ERROR) {
	c->errCode = err;
	MpClientClose(c, MpReasonForError(err), NULL);
    } else if (n > 0) {
	if ((size_t) n == size) {
	    loop->streaming = 1;	/* Probably more behind: see
					 * MpLoopDispatch. */
	}
	mp->stats.bytesIn += (Tcl_WideUInt) n;
	mpCodecs[c->codec]->inputProc(c, buf, (size_t) n);
	if (c->state == MP_CLIENT_OPEN && MpConnPending(&c->conn) > 0) {
	    MpLoopReadAgain(loop, c->conn.watch.fd);	/* TLS records the
							 * poller cannot see. */
	}
    }

    c->reading = 0;
    if (ownBuf) {
	MpFree(buf);
    } else {
	loop->readBufBusy = 0;
    }
    if (c->readSuspended) {
	c->readSuspended = 0;
	if (c->state == MP_CLIENT_OPEN) {
	    MpClientUpdateWatch(c);
	}
    }
    MpInstanceUnref(mp);
    MpClientUnref(c);
}

/*
 *----------------------------------------------------------------------
 *
 * StreamFrame --
 *
 *	The stream codec's encoding of a message: the instance's framing
 *	prefix and suffix (mpFrame.c).
 *
 * Results:
 *	The prefix length (written into hdr).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static size_t
StreamFrame(
    MpInstance *mp,
    const char *data,
    size_t len,
    int text,
    char *hdr,
    const char **sufPtr,
    size_t *sufLenPtr)
{
    (void) data;
    (void) text;
    *sufPtr = MpFrameSuffix(mp->config.framing, sufLenPtr);
    return MpFramePrefix(mp->config.framing, len, hdr);
}

/*
 *----------------------------------------------------------------------
 *
 * StreamInput --
 *
 *	The stream codec's input (MP_CODEC_STREAM): feeds a chunk read from
 *	a TCP client to the framer; each complete message is handled in
 *	order. With line or length framing and no data or output filter,
 *	the messages that stand in the chunk exactly as they go out are
 *	handled in spans (up to maxqueue bytes), one fan-out each instead of
 *	one per message; when WebSocket clients are present instead, the
 *	messages of the chunk go in one batch (MpBatchBegin).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs filters; fans out; may close the client.
 *
 *----------------------------------------------------------------------
 */

static void
StreamInput(
    MpClient *c,
    const char *buf,
    size_t len)
{
    MpInstance *mp = c->mp;
    int rc;
    Feed feed;

    MpIdleTouch(c);

    feed.c = c;
    feed.mode = mp->config.framing;
    feed.batch = NULL;
    if (SpansAllowed(mp)) {
	rc = MpFrameFeedSpans(&c->in, feed.mode,
		mp->config.maxMessage, mp->config.maxQueue, buf,
		len, EmitMessage, EmitSpan, &feed);
    } else {
	const char *rest = buf;
	size_t restLen = len;

	if (feed.mode != MP_FRAME_RAW) {
	    feed.batch = MpBatchBegin(c);
	}
	for (;;) {
	    rc = MpFrameFeedRest(&c->in, feed.mode,
		    mp->config.maxMessage, rest, restLen, EmitMessage,
		    &feed, &restLen);
	    if (rc != MP_FRAME_STOPPED || c->state != MP_CLIENT_OPEN
		    || mp->destroyed || restLen == 0
		    || c->scriptInput
		    || feed.mode == mp->config.framing) {
		break;
	    }

	    /*
	     * A data filter changed the framing: what followed its
	     * message in this read is cut the new way.
	     */

	    rest = buf + len - restLen;
	    feed.mode = mp->config.framing;
	}
	if (feed.batch != NULL) {
	    MpBatchEnd(feed.batch);
	}
	if (rc == MP_FRAME_STOPPED && c->state == MP_CLIENT_OPEN
		&& !mp->destroyed && c->scriptInput) {
	    /*
	     * A data filter read the client's channel: what followed
	     * its message in this read is the script's, first.
	     */

	    if (MpFrameKeep(&c->in, buf + len - restLen, restLen) != 0) {
		rc = MP_FRAME_NOMEM;
	    } else {
		rc = MP_FRAME_OK;
		if (c->in.len > 0) {
		    MpChannelInputReady(c);
		}
	    }
	} else if (rc == MP_FRAME_STOPPED && c->state == MP_CLIENT_OPEN
		&& !mp->destroyed) {
	    rc = MP_FRAME_OK;	/* Framing changed at the end. */
	}
}
if (rc == MP_FRAME_TOOBIG && c->state == MP_CLIENT_OPEN) {
    MpLog(mp, MP_LOG_WARN, "client %s port %d: message longer than "
	    "maxmessage (%lu bytes), disconnecting", c->peer.host,
	    c->peer.port, (unsigned long) mp->config.maxMessage);
    MpClientClose(c, MP_REASON_TOOBIG, NULL);
} else if (rc == MP_FRAME_NOMEM && c->state == MP_CLIENT_OPEN) {
    MpClientClose(c, MP_REASON_ERROR,
	    Tcl_NewStringObj("out of memory", -1));
}
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientTakeInput --
 *
 *	A script reads the client's channel (read, gets, chan copy, or a
 *	readable fileevent): from now on the client's input is the
 *	script's. Its data no longer reaches data filters or other clients,
 *	and end of file no longer closes it (the script closes the channel);
 *	it stays a member for everything sent to it. wantEvents says whether
 *	the channel wants to hear of waiting input (MpChannelInputReady).
 *	Runs no Tcl code.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May change the client's poller interest.
 *
 *----------------------------------------------------------------------
 */

void
MpClientTakeInput(
    MpClient *c,
    int wantEvents)
{
    c->scriptInput = 1;
    c->scriptWantsRead = (wantEvents != 0);
    MpClientUpdateWatch(c);
}

/*
 *----------------------------------------------------------------------
 *
 * MpClientReadScript --
 *
 *	Reads for a script that took the client's input: first the bytes the
 *	framer held (the start of a message not yet complete, or what
 *	followed the message whose data filter took the input), then the
 *	socket. With wait set, waits for input as a blocking socket would,
 *	writing what is queued for the client meanwhile. Runs no Tcl code.
 *
 * Results:
 *	A byte count (0 at end of file), MP_IO_AGAIN (nothing waiting and
 *	wait not set), or MP_IO_ERROR with *errPtr set.
 *
 * Side effects:
 *	Reads the socket; may block; counts bytes in; marks end of input.
 *
 *----------------------------------------------------------------------
 */

ptrdiff_t
MpClientReadScript(
    MpClient *c,
    char *buf,
    size_t len,
    int wait,
    int *errPtr)
{
    ptrdiff_t n;
    int events;

    if (c->in.len > 0) {
	return (ptrdiff_t) MpFrameTake(&c->in, buf, len);
    }
    if (c->inputEnded) {
	return 0;
    }
    for (;;) {
	n = MpConnRead(&c->conn, buf, len, errPtr);
	if (n != MP_IO_AGAIN) {
	    break;
	}
	if (!wait) {
	    return MP_IO_AGAIN;
	}

	/*
	 * What is queued for the client goes out while the script waits
	 * for its answer (the peer may be waiting for it).
	 */

	events = MP_EV_READ;
	MpClientWriteNow(c);
	if (c->out.count > 0 && c->state == MP_CLIENT_OPEN
		&& !c->pendingClose) {
	    events |= MP_EV_WRITE;
	}
	if (MpConnWait(&c->conn, events, errPtr) < 0) {
	    return MP_IO_ERROR;
	}
    }
    if (n > 0) {
	c->mp->stats.bytesIn += (Tcl_WideUInt) n;
	MpIdleTouch(c);
    } else {
	c->inputEnded = 1;
	MpClientUpdateWatch(c);
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * EmitMessage --
 *
 *	Framer callback: handles one message, or adds it to the read's
 *	batch.
 *
 * Results:
 *	Non-zero to stop reading (client closed, instance destroyed, or
 *	framing changed by a data filter).
 *
 * Side effects:
 *	See MpHandleMessage.
 *
 *----------------------------------------------------------------------
 */

static int
EmitMessage(
    void *ctx,
    const char *msg,
    size_t len)
{
    Feed *feed = (Feed *) ctx;
    MpClient *c = feed->c;

    if (feed->batch != NULL) {
	(void) MpBatchAdd(feed->batch, msg, len, 0);
	return c->state != MP_CLIENT_OPEN || c->mp->destroyed;
    }
    MpHandleMessage(c, msg, len);
    return c->state != MP_CLIENT_OPEN || c->mp->destroyed
	    || c->scriptInput || c->mp->config.framing != feed->mode;
}

/*
 *----------------------------------------------------------------------
 *
 * SpansAllowed --
 *
 *	Whether a client's input may be forwarded in spans: line or length
 *	framing, no data or output filter (they see each message), and no
 *	WebSocket client (it gets each message as a frame of its own).
 *
 * Results:
 *	1 or 0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
SpansAllowed(
    const MpInstance *mp)
{
    return mp->config.framing != MP_FRAME_RAW && mp->wsAdmitted == 0
	    && mp->filters[MP_FILTER_DATA].count == 0
	    && mp->filters[MP_FILTER_OUTPUT].count == 0;
}

/*
 *----------------------------------------------------------------------
 *
 * EmitSpan --
 *
 *	Framer callback: handles a span of messages.
 *
 * Results:
 *	Non-zero to stop reading (client closed or instance destroyed).
 *
 * Side effects:
 *	See HandleSpan.
 *
 *----------------------------------------------------------------------
 */

static int
EmitSpan(
    void *ctx,
    const char *bytes,
    size_t len,
    size_t count)
{
    MpClient *c = ((Feed *) ctx)->c;

    HandleSpan(c, bytes, len, count);
    return c->state != MP_CLIENT_OPEN || c->mp->destroyed;
}

/*
 *----------------------------------------------------------------------
 *
 * HandleSpan --
 *
 *	Broadcasts a span of count messages from a client, framed already,
 *	as MpHandleMessage would broadcast each of them. Should spans no
 *	longer be allowed since the read began (a filter added or the
 *	framing changed: only Tcl code run by the logger could do it), the
 *	messages go through MpHandleMessage one by one instead.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues output; counts the messages in.
 *
 *----------------------------------------------------------------------
 */

static void
HandleSpan(
    MpClient *c,
    const char *bytes,
    size_t len,
    size_t count)
{
    MpInstance *mp = c->mp;

    if (!SpansAllowed(mp)) {
	while (len > 0 && c->state == MP_CLIENT_OPEN && !mp->destroyed) {
	    const char *msg;
	    size_t msgLen, wireLen = MpFrameSpanFirst(mp->config.framing,
		    bytes, len, &msg, &msgLen);

	    MpHandleMessage(c, msg, msgLen);
	    bytes += wireLen;
	    len -= wireLen;
	}
	return;
    }
    mp->stats.messagesIn += count;
    MpFanoutFrom(c, bytes, len, count);
}

/*
 *----------------------------------------------------------------------
 *
 * MpHandleMessage --
 *
 *	Runs the data filters over one message from a client and broadcasts
 *	the result: to every other client (or every client with
 *	sendtoorigin), or to the sender's groups with route groups. Without
 *	filters no Tcl object is made.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs filters; queues output.
 *
 *----------------------------------------------------------------------
 */

void
MpHandleMessage(
    MpClient *c,
    const char *data,
    size_t len)
{
    MpInstance *mp = c->mp;

    mp->stats.messagesIn++;
    if (mp->filters[MP_FILTER_DATA].count == 0) {
	MpFanoutFrom(c, data, len, 0);
    } else {
	Tcl_Obj *dataObj = Tcl_NewByteArrayObj((const unsigned char *) data,
		(Tcl_Size) len);
	int verdict;

	Tcl_IncrRefCount(dataObj);
	verdict = MpRunDataFilters(c, &dataObj);
	if (verdict == MP_CHAIN_DROP) {
	    mp->stats.filterDrops++;
	} else if (!mp->destroyed) {
	    size_t outLen;
	    const char *out = MpFilterResultBytes(mp, "data filter",
		    dataObj, &outLen);

	    if (out != NULL) {
		MpFanoutFrom(c, out, outLen, 0);
	    } else {
		mp->stats.filterDrops++;
	    }
	}
	Tcl_DecrRefCount(dataObj);
    }
}
