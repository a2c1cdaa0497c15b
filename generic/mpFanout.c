/*
 * mpFanout.c --
 *
 *	One-to-many delivery. A recipient with nothing queued gets the
 *	message written straight to its socket, gathered from the message
 *	and its framing without a copy; for the others (and the part a
 *	socket did not take) the message is encoded once into one shared
 *	buffer and a reference to it is queued: no per-recipient copy and,
 *	without output filters, no per-recipient Tcl call. Queues are bounded
 *	by Config maxqueue; a full queue drops the message for that client or
 *	marks it for disconnect, per Config overflow. A span (several framed
 *	messages forwarded as they arrived, see MpFrameFeedSpans) goes the
 *	same way as one message, with one write per recipient; a recipient
 *	whose queue cannot take all of it gets its messages one by one, so
 *	the bound applies to each message as if they had come separately.
 */

#include <stdlib.h>
#include "mpInt.h"
#include "mpWsFrame.h"

/*
 * Hands a message the instance fans out to its own clients to the members
 * that carry it to other nodes: the cluster (Redis) and the multicast
 * group, when joined.
 */

static void
PublishName(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    const char *groupName,	/* One group's, or NULL. */
    MpClient *groupsOf)		/* Or the sender's groups, or NULL. */
{
    if (mp->cluster != NULL) {
	MpClusterPublish(mp, from, data, len, groupName, groupsOf);
    }
    if (mp->multicast != NULL) {
	MpMulticastPublish(mp, from, data, len, groupName, groupsOf);
    }
}

static void
Publish(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    MpGroup *group,		/* One group, or NULL. */
    MpClient *groupsOf)		/* Or the sender's groups, or NULL. */
{
    const char *name = NULL;

    if (mp->cluster == NULL && mp->multicast == NULL) {
	return;
    }
    if (group != NULL) {
	name = (const char *) Tcl_GetHashKey(&mp->groups, group->hPtr);
    }
    PublishName(mp, from, data, len, name, groupsOf);
}

/*
 *----------------------------------------------------------------------
 *
 * MpPublishToGroup --
 *
 *	Broadcast -group of a group with no member here: nobody here gets
 *	the message, but the members of that group on other nodes do.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Publishes (cluster, multicast).
 *
 *----------------------------------------------------------------------
 */

void
MpPublishToGroup(
    MpInstance *mp,
    const char *data,
    size_t len,
    const char *groupName)
{
    PublishName(mp, NULL, data, len, groupName, NULL);
}

/*
 * Fetches the start of a recipient's record (its fan-out fields, see
 * MpClient) into the cache while the previous recipient's socket write
 * runs: with thousands of recipients each record is otherwise a miss.
 */

#if defined(__GNUC__)
#   define MP_PREFETCH_CLIENT(c) \
	(__builtin_prefetch((const char *) (c)), \
	 __builtin_prefetch((const char *) (c) + 64), \
	 __builtin_prefetch((const char *) (c) + 128))
#else
#   define MP_PREFETCH_CLIENT(c) ((void) (c))
#endif

/*
 *----------------------------------------------------------------------
 *
 * Encode, MpEncodeFor --
 *
 *	Encode a message for a codec (mpCodec.h) into a new buffer:
 *	Encode for any codec, MpEncodeFor for one client's. text says the
 *	message is known to be valid UTF-8 (0: unknown).
 *
 * Results:
 *	The buffer (one reference), or NULL when memory is exhausted.
 *
 * Side effects:
 *	Allocates.
 *
 *----------------------------------------------------------------------
 */

static MpBuf *
Encode(
    MpInstance *mp,
    int codec,
    const char *data,
    size_t len,
    int text)
{
    char hdr[MP_CODEC_HEADER_MAX];
    const char *suf;
    size_t sufLen, hlen = mpCodecs[codec]->frameProc(mp, data, len, text,
	    hdr, &suf, &sufLen);
    MpBuf *buf = MpBufNew(hlen + len + sufLen);

    if (buf != NULL) {
	memcpy(buf->data, hdr, hlen);
	if (len > 0) {
	    memcpy(buf->data + hlen, data, len);
	}
	if (sufLen > 0) {
	    memcpy(buf->data + hlen + len, suf, sufLen);
	}
    }
    return buf;
}

MpBuf *
MpEncodeFor(
    MpClient *c,
    const char *data,
    size_t len)
{
    return Encode(c->mp, c->codec, data, len, 0);
}

/*
 * What one queue entry costs besides its bytes, counted against maxqueue:
 * its slot in the ring (which may be up to half empty) and the header and
 * allocator overhead of its buffer. Without it a client sent many tiny
 * messages would hold many times maxqueue.
 */

#define MP_QUEUE_ENTRY_COST (2 * sizeof(MpQItem) + sizeof(MpBuf) + 16)

/*
 *----------------------------------------------------------------------
 *
 * QueueHasRoom --
 *
 *	Whether a client's queue can take one more entry of len bytes
 *	within a bound, counting each entry's bookkeeping
 *	(MP_QUEUE_ENTRY_COST) as well as its bytes: an empty queue always
 *	takes one message, so a message larger than the bound can still be
 *	sent.
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
QueueHasRoom(
    const MpClient *c,
    size_t len,
    size_t bound)
{
    size_t used, need;

    if (c->out.count == 0) {
	return 1;
    }
    used = c->out.bytes + c->out.count * MP_QUEUE_ENTRY_COST;
    need = len + MP_QUEUE_ENTRY_COST;
    return need <= bound && used <= bound - need;
}

/*
 *----------------------------------------------------------------------
 *
 * QueueOrOverflow --
 *
 *	Queues a buffer holding count messages for a client unless its
 *	queue would exceed maxqueue (see QueueHasRoom). The rest of a begun
 *	channel write ("continued") may go up to twice maxqueue; past that
 *	the client is disconnected under either policy. The first "off"
 *	bytes of the buffer have already been written to the socket (only
 *	with an empty queue) and are not queued.
 *
 * Results:
 *	0 if queued, -1 if dropped or the client is to be disconnected.
 *
 * Side effects:
 *	Queues; schedules the flush; counts drops; may mark the client for
 *	disconnect (done at the flush, never here, so no Tcl code runs in
 *	the middle of a fan-out).
 *
 *----------------------------------------------------------------------
 */

static int
QueueOrOverflow(
    MpClient *c,
    MpBuf *buf,
    size_t count,
    size_t off,
    int continued)
{
    MpInstance *mp = c->mp;
    size_t bound = mp->config.maxQueue;

    c->writeEpoch = 0;		/* Whatever follows starts a new write. */
    if (c->pendingClose) {
	return -1;
    }
    if (buf->len == 0) {
	return 0;		/* Nothing to write (empty raw message). */
    }
    if (continued) {
	/*
	 * The rest of a write whose beginning was accepted: allowed past
	 * maxqueue (so the write is not cut), up to twice the bound.
	 */

	bound = (bound > ((size_t) -1) / 2) ? (size_t) -1 : bound * 2;
    }
    if (!QueueHasRoom(c, buf->len, bound)) {
	if (mp->config.overflow == MP_OVERFLOW_DROP) {
	    c->drops += count;
	    mp->stats.drops += count;
	    if (!continued) {
		return -1;
	    }
	    /*
	     * A begun write that cannot be completed: the client would be
	     * left with a cut message, so it goes whatever the policy.
	     */
	}
	c->pendingClose = MP_REASON_OVERFLOW;
	MpLoopScheduleFlush(mp->loop, c);
	return -1;
    }
    if (MpQueuePush(&c->out, buf) != 0) {
	c->pendingClose = MP_REASON_ERROR;
	MpLoopScheduleFlush(mp->loop, c);
	return -1;
    }
    if (off > 0) {
	MpQueueConsume(&c->out, off);
    }
    mp->stats.messagesOut += count;
    if (c->out.bytes > mp->stats.queueHighWater) {
	mp->stats.queueHighWater = c->out.bytes;
    }
    MpLoopScheduleFlush(mp->loop, c);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpEnqueue --
 *
 *	Queues a shared buffer for one admitted, open client.
 *
 * Results:
 *	0 if queued, -1 if not (closed, not admitted, dropped, overflow).
 *
 * Side effects:
 *	See QueueOrOverflow.
 *
 *----------------------------------------------------------------------
 */

int
MpEnqueue(
    MpClient *c,
    MpBuf *buf)
{
    if (c->state != MP_CLIENT_OPEN || !c->admitted || c->sendShut) {
	return -1;
    }
    return QueueOrOverflow(c, buf, 1, 0, 0);
}

/*
 * What the framer callback of MpEnqueueBytes works with.
 */

typedef struct ChanFeed {
    MpClient *c;
    int continued;		/* See MpEnqueueBytes. */
    int rc;			/* -1 once a message was refused. */
} ChanFeed;

static int		EmitChanMessage(void *ctx, const char *msg,
			    size_t len);

/*
 *----------------------------------------------------------------------
 *
 * MpEnqueueBytes, MpEnqueueRaw --
 *
 *	Queue bytes for one client, admitted or not: what a script writes to
 *	the client's channel (MpEnqueueBytes: as they are for a TCP client;
 *	for a WebSocket client cut into messages as the instance's framing
 *	cuts input, one frame per line or length-prefixed message, or per
 *	write with raw framing), or bytes to go on the
 *	wire exactly as given (MpEnqueueRaw: HTTP answers, control frames).
 *	"continued" says the bytes continue a write already partly accepted
 *	(see ChanOutput).
 *
 * Results:
 *	0 if queued, -1 if dropped or overflowing, -2 if the client is
 *	closed.
 *
 * Side effects:
 *	Copies the bytes into a new buffer; see QueueOrOverflow.
 *
 *----------------------------------------------------------------------
 */

int
MpEnqueueBytes(
    MpClient *c,
    const char *data,
    size_t len,
    int continued)
{
    MpInstance *mp = c->mp;
    ChanFeed feed;
    int rc;

    if (!mpCodecs[c->codec]->channelMessages) {
	return MpEnqueueRaw(c, data, len, continued);
    }
    if (c->state != MP_CLIENT_OPEN || c->pendingClose || c->sendShut) {
	return -2;
    }
    feed.c = c;
    feed.continued = continued;
    feed.rc = 0;
    if (mp->config.framing == MP_FRAME_RAW) {
	(void) EmitChanMessage(&feed, data, len);
	return feed.rc;
    }

    /*
     * The client's input framer is not used for a WebSocket client (its
     * frames have their own parser): it holds the start of a line (or
     * length-prefixed message) written to its channel until the rest
     * comes.
     */

    rc = MpFrameFeed(&c->in, mp->config.framing, mp->config.maxMessage,
	    data, len, EmitChanMessage, &feed);
    if (rc != MP_FRAME_OK) {
	MpFrameFree(&c->in);
	return -1;
    }
    return feed.rc;
}

/*
 *----------------------------------------------------------------------
 *
 * EmitChanMessage --
 *
 *	Queues one message written to a client's channel, encoded by its
 *	codec (framer callback of MpEnqueueBytes).
 *
 * Results:
 *	0 (go on); the ChanFeed's rc becomes -1 if a message was refused.
 *
 * Side effects:
 *	See QueueOrOverflow.
 *
 *----------------------------------------------------------------------
 */

static int
EmitChanMessage(
    void *ctx,
    const char *msg,
    size_t len)
{
    ChanFeed *feed = (ChanFeed *) ctx;
    MpBuf *buf = MpEncodeFor(feed->c, msg, len);

    if (buf == NULL) {
	feed->rc = -1;
	return 0;
    }
    if (QueueOrOverflow(feed->c, buf, 1, 0, feed->continued) != 0) {
	feed->rc = -1;
    }
    MpBufUnref(buf);
    return 0;
}

int
MpEnqueueRaw(
    MpClient *c,
    const char *data,
    size_t len,
    int continued)
{
    MpBuf *buf;
    int rc;

    if (c->state != MP_CLIENT_OPEN || c->pendingClose || c->sendShut) {
	return -2;
    }
    if (len == 0) {
	return 0;
    }
    buf = MpBufNew(len);
    if (buf == NULL) {
	return -1;
    }
    memcpy(buf->data, data, len);
    rc = QueueOrOverflow(c, buf, 1, 0, continued);
    MpBufUnref(buf);
    return rc;
}

/*
 * A message as it goes on the wire: framing prefix, message, suffix,
 * gathered without copying, or a span of messages already framed; and the
 * shared buffer for the recipients that must queue it, made on first need.
 */

typedef struct Wire {
    MpIovec iov[3];
    int iovCount;
    size_t len;			/* Bytes on the wire. */
    int codec;			/* MP_CODEC_* it is encoded for. */
    char prefix[MP_CODEC_HEADER_MAX]; /* What the codec puts before the
				 * message. */
    const char *data;		/* The message, or the span (not owned). */
    size_t dataLen;
    size_t count;		/* 0: one message, to be framed; N > 0: a
				 * span of N messages, framed already. */
    const size_t *ends;		/* A batch's span: the offset past each
				 * message, or NULL (found by framing). */
    MpBuf *buf;			/* Encoded copy, or NULL until needed. */
    int noMem;			/* Encoding it failed (logged once the
				 * fan-out is over). */
} Wire;

/*
 *----------------------------------------------------------------------
 *
 * WireInit, WireInitCodec, WireInitSpan, WireFree --
 *
 *	Describe a message as it goes on the wire for a codec
 *	(WireInitCodec: what the codec puts around it is built here once for
 *	all its recipients; WireInit: the stream codec, the instance's
 *	framing), or a span of encoded messages as it is; release the
 *	encoded copy if one was made.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	WireFree drops the buffer reference.
 *
 *----------------------------------------------------------------------
 */

static void
WireInitCodec(
    MpInstance *mp,
    Wire *w,
    int codec,
    const char *data,
    size_t len)
{
    const char *suf;
    size_t sufLen, pre = mpCodecs[codec]->frameProc(mp, data, len, 0,
	    w->prefix, &suf, &sufLen);

    w->codec = codec;
    w->iovCount = 0;
    if (pre > 0) {
	MP_IOV_SET(w->iov[w->iovCount], w->prefix, pre);
	w->iovCount++;
    }
    if (len > 0) {
	MP_IOV_SET(w->iov[w->iovCount], data, len);
	w->iovCount++;
    }
    if (sufLen > 0) {
	MP_IOV_SET(w->iov[w->iovCount], suf, sufLen);
	w->iovCount++;
    }
    w->len = pre + len + sufLen;
    w->data = data;
    w->dataLen = len;
    w->count = 0;
    w->ends = NULL;
    w->buf = NULL;
    w->noMem = 0;
}

static void
WireInit(
    MpInstance *mp,
    Wire *w,
    const char *data,
    size_t len)
{
    WireInitCodec(mp, w, MP_CODEC_STREAM, data, len);
}

static void
WireInitSpan(
    Wire *w,
    const char *bytes,
    size_t len,
    size_t count)
{
    w->codec = MP_CODEC_STREAM;
    w->ends = NULL;
    MP_IOV_SET(w->iov[0], bytes, len);
    w->iovCount = 1;
    w->len = len;
    w->data = bytes;
    w->dataLen = len;
    w->count = count;
    w->buf = NULL;
    w->noMem = 0;
}

static void
WireFree(
    Wire *w)
{
    if (w->buf != NULL) {
	MpBufUnref(w->buf);
	w->buf = NULL;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * WireBuffer --
 *
 *	The shared buffer of a message or span, made on first need: a copy
 *	of what the Wire gathers.
 *
 * Results:
 *	The buffer (owned by the Wire), or NULL when memory is exhausted
 *	(noMem is then set, for the caller to log once the fan-out is over:
 *	logging runs Tcl code).
 *
 * Side effects:
 *	Allocates.
 *
 *----------------------------------------------------------------------
 */

static MpBuf *
WireBuffer(
    Wire *w)
{
    if (w->buf == NULL && !w->noMem) {
	if ((w->buf = MpBufNew(w->len)) != NULL) {
	    size_t off = 0;
	    int i;

	    for (i = 0; i < w->iovCount; i++) {
		memcpy(w->buf->data + off, MP_IOV_BASE(w->iov[i]),
			MP_IOV_LEN(w->iov[i]));
		off += MP_IOV_LEN(w->iov[i]);
	    }
	}
	w->noMem = (w->buf == NULL);
    }
    return w->buf;
}

static int		SendTo(MpClient *c, Wire *w);

/*
 *----------------------------------------------------------------------
 *
 * SendSpanByMessage --
 *
 *	Sends the messages of a span to one client one by one: for a client
 *	whose queue cannot take the whole span, so that as many of them are
 *	queued as fit and the rest dropped or refused one at a time, exactly
 *	as if they had come separately. Each message queued is encoded for
 *	this client alone (a copy, on this rare path only).
 *
 * Results:
 *	0 if at least one message was queued, -1 otherwise.
 *
 * Side effects:
 *	See SendTo.
 *
 *----------------------------------------------------------------------
 */

static int
SendSpanByMessage(
    MpClient *c,
    Wire *span)
{
    MpInstance *mp = c->mp;
    const char *p = span->data;
    size_t left = span->dataLen, i = 0;
    int sent = 0;

    while (left > 0) {
	const char *msg;
	size_t msgLen, wireLen;
	Wire w;

	if (span->ends != NULL) {
	    /*
	     * A batch: its messages are encoded already; each is sent as a
	     * span of one.
	     */

	    wireLen = span->ends[i] - (i > 0 ? span->ends[i - 1] : 0);
	    WireInitSpan(&w, p, wireLen, 1);
	    w.codec = span->codec;
	    i++;
	} else {
	    wireLen = MpFrameSpanFirst(mp->config.framing, p, left, &msg,
		    &msgLen);
	    WireInit(mp, &w, msg, msgLen);
	}
	if (SendTo(c, &w) == 0) {
	    sent = 1;
	}
	span->noMem |= w.noMem;
	WireFree(&w);
	p += wireLen;
	left -= wireLen;
    }
    return sent ? 0 : -1;
}

/*
 *----------------------------------------------------------------------
 *
 * SendTo --
 *
 *	Delivers a message or span to one admitted, open client. When
 *	nothing is queued for it and it has not been written directly since
 *	the loop last flushed, it is written straight to its socket (so a
 *	round that carries many messages still sends each client one
 *	gathered write of the rest); what the socket does not take, or the
 *	whole of it otherwise, is queued as the shared buffer.
 *
 * Results:
 *	0 if written or queued, -1 if not (closed, not admitted, dropped,
 *	overflow, write error, no memory).
 *
 * Side effects:
 *	Socket writes; see QueueOrOverflow. A write error, or no memory for
 *	the rest of a message partly written, marks the client for closing
 *	at the flush (no Tcl code runs here).
 *
 *----------------------------------------------------------------------
 */

static int
SendTo(
    MpClient *c,
    Wire *w)
{
    MpInstance *mp = c->mp;
    MpLoop *loop = mp->loop;
    size_t done = 0, count = w->count ? w->count : 1;

    if (c->state != MP_CLIENT_OPEN || !c->admitted || c->pendingClose
	    || w->len == 0) {
	return -1;		/* w->len 0: an empty raw message, which
				 * sends a TCP client nothing. */
    }
    if (c->out.count == 0 && c->directCycle != loop->flushCycle
	    && !c->conn.type->deferWrites) {
	int err = 0;
	ptrdiff_t n = MpConnWritev(&c->conn, w->iov, w->iovCount, &err);

	c->directCycle = loop->flushCycle;
	if (n == MP_IO_AGAIN) {
	    n = 0;
	} else if (n < 0) {
	    c->errCode = err;
	    c->pendingClose = MpReasonForError(err);
	    MpLoopScheduleFlush(loop, c);
	    return -1;
	}
	mp->stats.bytesOut += (Tcl_WideUInt) n;
	if ((size_t) n == w->len) {
	    c->writeEpoch = 0;
	    mp->stats.messagesOut += count;
	    return 0;
	}
	done = (size_t) n;
    }
    if (count > 1 && done == 0
	    && !QueueHasRoom(c, w->len, mp->config.maxQueue)) {
	return SendSpanByMessage(c, w);
    }
    if (WireBuffer(w) == NULL) {
	if (done > 0) {
	    c->pendingClose = MP_REASON_ERROR;	/* Cut message. */
	    MpLoopScheduleFlush(loop, c);
	}
	return -1;
    }
    return QueueOrOverflow(c, w->buf, count, done, 0);
}

/*
 *----------------------------------------------------------------------
 *
 * NoMemLog --
 *
 *	Logs that a message or span could not be queued for want of memory.
 *	Called once the fan-out of it is over (the logger runs Tcl code).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Logs at level error.
 *
 *----------------------------------------------------------------------
 */

static void
NoMemLog(
    MpInstance *mp,
    const Wire *w)
{
    MpLog(mp, MP_LOG_ERROR, "out of memory encoding a message of %lu bytes",
	    (unsigned long) w->dataLen);
}

/*
 *----------------------------------------------------------------------
 *
 * Collect --
 *
 *	Lists the recipients of a message: the members of group, or of any
 *	group of groupsOf (each client once), or every client; never exclude,
 *	and only admitted, open clients.
 *
 * Results:
 *	The number of recipients, stored in list (room for clientCount).
 *
 * Side effects:
 *	Bumps the loop's fan-out stamp.
 *
 *----------------------------------------------------------------------
 */

static int
Collect(
    MpInstance *mp,
    MpClient *exclude,
    MpGroup *group,
    MpClient *groupsOf,
    const MpRemoteRoute *remote,
    MpClient **list)
{
    int n = 0, cap = mp->clientCount;
    Tcl_HashSearch msearch;
    Tcl_HashEntry *mPtr;
    MpClient *c;
    Tcl_WideUInt stamp = ++mp->loop->fanoutStamp;

#define MP_TAKE(cl) \
    if ((cl) != exclude && (cl)->state == MP_CLIENT_OPEN && (cl)->admitted \
	    && !(cl)->sendShut && (cl)->fanoutStamp != stamp && n < cap) { \
	(cl)->fanoutStamp = stamp; \
	list[n++] = (cl); \
    }

    if (group != NULL) {
	for (mPtr = Tcl_FirstHashEntry(&group->members, &msearch);
		mPtr != NULL; mPtr = Tcl_NextHashEntry(&msearch)) {
	    c = (MpClient *) Tcl_GetHashKey(&group->members, mPtr);
	    MP_TAKE(c);
	}
    } else if (groupsOf != NULL || (remote != NULL && remote->groups)) {
	int i, count = groupsOf != NULL ? groupsOf->groupCount
		: remote->groupCount;

	for (i = 0; i < count; i++) {
	    MpGroup *g = groupsOf != NULL ? groupsOf->groups[i]
		    : remote->groupList[i];

	    for (mPtr = Tcl_FirstHashEntry(&g->members, &msearch);
		    mPtr != NULL; mPtr = Tcl_NextHashEntry(&msearch)) {
		c = (MpClient *) Tcl_GetHashKey(&g->members, mPtr);
		MP_TAKE(c);
	    }
	}
    } else {
	for (c = mp->first; c != NULL; c = c->next) {
	    MP_TAKE(c);
	}
    }
#undef MP_TAKE
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * Deliver --
 *
 *	Sends one message, or a span of count framed messages, or a batch
 *	(one span per codec), to a list of recipients (SendTo): one shared
 *	buffer per codec at most, or, with output filters (never with a span
 *	or a batch), one filter chain call and message per recipient.
 *
 * Results:
 *	Number of recipients it was written or queued for.
 *
 * Side effects:
 *	Socket writes, queued output; output filters run Tcl code.
 *
 *----------------------------------------------------------------------
 */

static int
Deliver(
    MpInstance *mp,
    MpClient *from,
    Tcl_Obj *fromName,		/* Names a sender on another node, or
				 * NULL. */
    MpClient **list,
    int n,
    const char *data,
    size_t len,
    size_t count,		/* 0: one message; N: a span of N. */
    MpBatch *batch)		/* Or a batch of count messages, or NULL. */
{
    int i, sent = 0;

    if (mp->filters[MP_FILTER_OUTPUT].count == 0) {
	Wire wires[MP_CODECS];
	int ready[MP_CODECS], k;

	for (k = 0; k < MP_CODECS; k++) {
	    ready[k] = 0;
	}
	for (i = 0; i < n; i++) {
	    MpClient *to = list[i];

	    if (i + 1 < n) {
		MP_PREFETCH_CLIENT(list[i + 1]);
	    }
	    k = to->codec;
	    if (!ready[k]) {
		if (batch != NULL) {
		    if (!batch->want[k]) {
			continue;	/* Cannot happen: see MpBatchBegin. */
		    }
		    WireInitSpan(&wires[k], batch->data[k], batch->len[k],
			    count);
		    wires[k].codec = k;
		    wires[k].ends = batch->ends[k];
		} else if (count == 0) {
		    WireInitCodec(mp, &wires[k], k, data, len);
		} else {
		    WireInitSpan(&wires[k], data, len, count);
		}
		ready[k] = 1;
	    }
	    if (SendTo(to, &wires[k]) == 0) {
		sent++;
	    }
	}
	for (k = 0; k < MP_CODECS; k++) {
	    if (!ready[k]) {
		continue;
	    }
	    if (wires[k].noMem) {
		NoMemLog(mp, &wires[k]);
	    }
	    WireFree(&wires[k]);
	}
    } else {
	Tcl_Obj *dataObj = Tcl_NewByteArrayObj((const unsigned char *) data,
		(Tcl_Size) len);

	Tcl_IncrRefCount(dataObj);
	MpInstanceRef(mp);
	if (from != NULL) {
	    MpClientRef(from);	/* The filters may close the sender. */
	}
	for (i = 0; i < n; i++) {
	    MpClientRef(list[i]);
	}
	for (i = 0; i < n && !mp->destroyed; i++) {
	    MpClient *to = list[i];
	    Tcl_Obj *resObj = NULL;

	    if (to->state != MP_CLIENT_OPEN) {
		continue;
	    }
	    if (MpRunOutputFilter(from, fromName, to, dataObj, &resObj)
		    == MP_CHAIN_PASS && to->state == MP_CLIENT_OPEN) {
		size_t outLen;
		const char *out = MpFilterResultBytes(mp, "output filter",
			resObj, &outLen);
		Wire wire;

		if (out == NULL) {
		    mp->stats.filterDrops++;
		    Tcl_DecrRefCount(resObj);
		    continue;
		}
		WireInitCodec(mp, &wire, to->codec, out, outLen);
		if (SendTo(to, &wire) == 0) {
		    sent++;
		}
		if (wire.noMem) {
		    NoMemLog(mp, &wire);
		}
		WireFree(&wire);
	    }
	    if (resObj != NULL) {
		Tcl_DecrRefCount(resObj);
	    }
	}
	for (i = 0; i < n; i++) {
	    MpClientUnref(list[i]);
	}
	if (from != NULL) {
	    MpClientUnref(from);
	}
	MpInstanceUnref(mp);
	Tcl_DecrRefCount(dataObj);
    }
    return sent;
}

/*
 *----------------------------------------------------------------------
 *
 * FanoutTo, MpFanout, MpFanoutFrom --
 *
 *	Broadcast a message from a client (or from the server when from is
 *	NULL) to every client or one group (MpFanout). MpFanoutFrom sends
 *	what a client sent as the instance routes it: to every other client
 *	(every client with Config sendtoorigin), or to the groups the sender
 *	belongs to (Config route groups); count 0 is one message, count N a
 *	span of N messages framed already (see MpFrameFeedSpans), sent as
 *	each of them would be, only while no output filter is registered
 *	(they see each message). In raw mode an empty message sends nothing.
 *
 * Results:
 *	FanoutTo and MpFanout: how many recipients the message was queued
 *	for (what output filters sent themselves is not counted).
 *
 * Side effects:
 *	Queues output for the recipients.
 *
 *----------------------------------------------------------------------
 */

static int
FanoutTo(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    size_t count,		/* 0: one message; N: a span of N. */
    MpClient *exclude,
    MpGroup *group,
    MpClient *groupsOf,
    const MpRemoteRoute *remote, /* A message from another node, or
				 * NULL. */
    MpBatch *batch)		/* Or a batch of count messages, or NULL. */
{
    MpLoop *loop = mp->loop;
    Tcl_Obj *fromName = remote != NULL ? remote->fromName : NULL;
    MpClient **list;
    int n;

    if (len == 0 && mp->config.framing == MP_FRAME_RAW
	    && mp->wsAdmitted == 0 && batch == NULL) {
	return 0;
    }
    if (count > 0 && mp->wsAdmitted > 0 && batch == NULL) {
	/*
	 * A span is only forwarded whole to TCP clients (see SpansAllowed
	 * in mpInput.c); should WebSocket clients have come since, each of
	 * its messages goes on its own.
	 */

	int total = 0;

	while (len > 0) {
	    const char *msg;
	    size_t msgLen, wireLen = MpFrameSpanFirst(mp->config.framing,
		    data, len, &msg, &msgLen);

	    total += FanoutTo(mp, from, msg, msgLen, 0, exclude, group,
		    groupsOf, remote, NULL);
	    data += wireLen;
	    len -= wireLen;
	}
	return total;
    }
    if (mp->filters[MP_FILTER_OUTPUT].count == 0) {
	/*
	 * No Tcl code runs until delivery ends, so the loop's scratch list
	 * cannot be reused underneath us.
	 */

	if (loop->recipientsCap < mp->clientCount) {
	    loop->recipientsCap = mp->clientCount * 2;
	    loop->recipients = (MpClient **) MpRealloc(loop->recipients,
		    sizeof(MpClient *) * (size_t) loop->recipientsCap);
	}
	n = Collect(mp, exclude, group, groupsOf, remote, loop->recipients);
	return Deliver(mp, from, fromName, loop->recipients, n, data, len,
		count, batch);
    }
    list = (MpClient **) MpAlloc(sizeof(MpClient *)
	    * (size_t) (mp->clientCount + 1));
    n = Collect(mp, exclude, group, groupsOf, remote, list);
    n = Deliver(mp, from, fromName, list, n, data, len, 0, NULL);
    MpFree(list);
    return n;
}

int
MpFanout(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    MpClient *exclude,
    MpGroup *group)
{
    Publish(mp, from, data, len, group, NULL);
    return FanoutTo(mp, from, data, len, 0, exclude, group, NULL, NULL,
	    NULL);
}

/*
 *----------------------------------------------------------------------
 *
 * MpFanoutRemote --
 *
 *	Delivers a message that another node of the cluster published to
 *	this node's clients, as a local one would go: to every client, or
 *	(remote->groups) to the members of the listed groups (none when no
 *	listed group exists here). Output filters see remote->fromName as
 *	the sender. Nothing is published again.
 *
 * Results:
 *	How many recipients it was queued for.
 *
 * Side effects:
 *	As MpFanout.
 *
 *----------------------------------------------------------------------
 */

int
MpFanoutRemote(
    MpInstance *mp,
    const char *data,
    size_t len,
    const MpRemoteRoute *remote)
{
    if (remote->groups && remote->groupCount == 0) {
	return 0;
    }
    return FanoutTo(mp, NULL, data, len, 0, NULL, NULL, NULL, remote, NULL);
}

void
MpFanoutFrom(
    MpClient *from,
    const char *data,
    size_t len,
    size_t count)		/* 0: one message; N: a span of N. */
{
    MpInstance *mp = from->mp;
    MpClient *groupsOf = mp->config.route == MP_ROUTE_GROUPS ? from : NULL;

    if (mp->cluster != NULL || mp->multicast != NULL) {
	if (count == 0) {
	    Publish(mp, from, data, len, NULL, groupsOf);
	} else {
	    const char *p = data;
	    size_t left = len;

	    while (left > 0) {
		const char *msg;
		size_t msgLen, wireLen = MpFrameSpanFirst(mp->config.framing,
			p, left, &msg, &msgLen);

		if (wireLen == 0) {
		    break;
		}
		Publish(mp, from, msg, msgLen, NULL, groupsOf);
		p += wireLen;
		left -= wireLen;
	    }
	}
    }
    FanoutTo(mp, from, data, len, count,
	    mp->config.sendToOrigin ? NULL : from, NULL, groupsOf, NULL, NULL);
}

/*
 *----------------------------------------------------------------------
 *
 * MpBatchBegin, MpBatchAdd, MpBatchFlush, MpBatchEnd, MpBatchFree,
 * MpBatchRelease --
 *
 *	Batches of messages from one client (see MpBatch): begun for a read
 *	when no data or output filter is registered (they see each message)
 *	and no other batch is in progress in the thread; each message added
 *	is encoded for every codec in use; a batch is fanned out as the
 *	client's messages are routed (MpFanoutFrom) when a buffer reaches
 *	its bound, when the caller flushes it (before anything that may run
 *	Tcl code), and at its end. MpBatchFree releases the loop's buffers,
 *	MpBatchRelease those of any batch. Messages of other nodes are
 *	batched the same way, with no sender (MpRemoteBatchAdd).
 *
 * Results:
 *	MpBatchBegin: the batch, or NULL when messages must go one by one.
 *	MpBatchAdd: 0.
 *
 * Side effects:
 *	Allocates; fans out (socket writes, queued output); counts the
 *	messages in.
 *
 *----------------------------------------------------------------------
 */

/*
 * BatchBound --
 *	Bytes a batch gathers before it is fanned out: 256 KiB, or the
 *	instance's queue bound when that is smaller.
 */

static size_t
BatchBound(
    const MpInstance *mp)
{
    return mp->config.maxQueue < 262144 ? (size_t) mp->config.maxQueue
	    : 262144;
}

MpBatch *
MpBatchBegin(
    MpClient *from)
{
    MpInstance *mp = from->mp;
    MpLoop *loop = mp->loop;
    MpBatch *b = &loop->batch;
    int k;

    if (loop->batchBusy || mp->filters[MP_FILTER_DATA].count > 0
	    || mp->filters[MP_FILTER_OUTPUT].count > 0) {
	return NULL;
    }
    loop->batchBusy = 1;
    for (k = 0; k < MP_CODECS; k++) {
	b->len[k] = 0;
    }
    b->count = 0;
    b->from = from;
    b->mp = mp;

    /*
     * No Tcl code runs while the batch fills (the caller flushes first),
     * so no client can be admitted meanwhile: the codecs in use now are
     * those of every recipient.
     */

    b->want[MP_CODEC_WS] = (mp->wsAdmitted > 0);
    b->want[MP_CODEC_STREAM] = (mp->clientCount > mp->wsAdmitted);
    b->bound = BatchBound(mp);
    return b;
}

int
MpBatchAdd(
    MpBatch *b,
    const char *data,
    size_t len,
    int text)			/* Known to be valid UTF-8 (a WebSocket
				 * text message), or 0. */
{
    MpInstance *mp = b->mp;
    int k;

    if (b->count == b->endsCap) {
	size_t cap = b->endsCap ? b->endsCap * 2 : 256;

	for (k = 0; k < MP_CODECS; k++) {
	    b->ends[k] = (size_t *) MpRealloc(b->ends[k],
		    cap * sizeof(size_t));
	}
	b->endsCap = cap;
    }
    for (k = 0; k < MP_CODECS; k++) {
	char hdr[MP_CODEC_HEADER_MAX];
	const char *suf;
	size_t hlen, sufLen, need;
	char *p;

	if (b->want[k]) {
	    hlen = mpCodecs[k]->frameProc(mp, data, len, text, hdr, &suf,
		    &sufLen);
	    need = hlen + len + sufLen;
	    if (b->len[k] + need > b->cap[k]) {
		size_t cap = b->cap[k] ? b->cap[k] : 65536;

		while (cap < b->len[k] + need) {
		    cap *= 2;
		}
		b->data[k] = (char *) MpRealloc(b->data[k], cap);
		b->cap[k] = cap;
	    }
	    p = b->data[k] + b->len[k];
	    memcpy(p, hdr, hlen);
	    if (len > 0) {
		memcpy(p + hlen, data, len);
	    }
	    if (sufLen > 0) {
		memcpy(p + hlen + len, suf, sufLen);
	    }
	    b->len[k] += need;
	}
	b->ends[k][b->count] = b->len[k];
    }
    b->count++;
    if (b->from != NULL) {
	mp->stats.messagesIn++;
	Publish(mp, b->from, data, len, NULL,
		mp->config.route == MP_ROUTE_GROUPS ? b->from : NULL);
    }
    for (k = 0; k < MP_CODECS; k++) {
	if (b->len[k] >= b->bound) {
	    MpBatchFlush(b);
	    break;
	}
    }
    return 0;
}

void
MpBatchFlush(
    MpBatch *b)
{
    MpClient *from = b->from;
    MpInstance *mp = b->mp;
    int k;

    if (b->count > 0 && !mp->destroyed
	    && (from == NULL || from->state == MP_CLIENT_OPEN)) {
	int n;

	if (from == NULL) {
	    n = FanoutTo(mp, NULL, NULL, 0, b->count, NULL, NULL, NULL, NULL,
		    b);
	} else {
	    n = FanoutTo(mp, from, NULL, 0, b->count,
		    mp->config.sendToOrigin ? NULL : from, NULL,
		    mp->config.route == MP_ROUTE_GROUPS ? from : NULL, NULL, b);
	}
	b->delivered += (Tcl_WideUInt) n * b->count;
    }
    for (k = 0; k < MP_CODECS; k++) {
	b->len[k] = 0;
    }
    b->count = 0;
}

void
MpBatchEnd(
    MpBatch *b)
{
    MpBatchFlush(b);
    b->from->mp->loop->batchBusy = 0;
    b->from = NULL;
}

void
MpBatchFree(
    MpLoop *loop)
{
    MpBatchRelease(&loop->batch);
}

void
MpBatchRelease(
    MpBatch *b)
{
    int k;

    for (k = 0; k < MP_CODECS; k++) {
	if (b->data[k] != NULL) {
	    MpFree(b->data[k]);
	}
	if (b->ends[k] != NULL) {
	    MpFree(b->ends[k]);
	}
    }
    memset(b, 0, sizeof(MpBatch));
}

/*
 *----------------------------------------------------------------------
 *
 * MpRemoteBatchAdd, MpRemoteBatchFlush --
 *
 *	Batches of messages from other nodes (a cluster's or a multicast
 *	group's member owns one, outside the loop's): the messages that one
 *	read of a Redis connection or a socket of datagrams brings, when
 *	they go to every client, are fanned out together as a batch from
 *	the server (each recipient gets them in one write or one queued
 *	buffer, not one per message). The owner flushes before anything that
 *	may run Tcl code and at the end of the read; no Tcl code runs while
 *	a batch holds messages, so no client or filter can come meanwhile.
 *
 * Results:
 *	MpRemoteBatchAdd: 0 if the message was added; -1 if it must go on
 *	its own (output filters see each message; an empty message; one
 *	larger than the batch's bound), after the caller flushed.
 *	MpRemoteBatchFlush: the deliveries (recipients times messages)
 *	since the last flush.
 *
 * Side effects:
 *	Allocates; fans out when a buffer reaches its bound and at a flush.
 *
 *----------------------------------------------------------------------
 */

int
MpRemoteBatchAdd(
    MpBatch *b,
    MpInstance *mp,
    const char *data,
    size_t len)
{
    if (len == 0 || mp->destroyed
	    || mp->filters[MP_FILTER_OUTPUT].count > 0
	    || len > BatchBound(mp)) {
	return -1;		/* A message over the bound goes alone: the
				 * batch's buffers stay within about twice
				 * the bound. */
    }
    if (b->count > 0 && b->mp != mp) {
	(void) MpRemoteBatchFlush(b);
    }
    if (b->count == 0) {
	int k;

	for (k = 0; k < MP_CODECS; k++) {
	    b->len[k] = 0;
	}
	b->from = NULL;
	b->mp = mp;
	b->want[MP_CODEC_WS] = (mp->wsAdmitted > 0);
	b->want[MP_CODEC_STREAM] = (mp->clientCount > mp->wsAdmitted);
	b->bound = BatchBound(mp);
    }
    return MpBatchAdd(b, data, len, 0);
}

Tcl_WideUInt
MpRemoteBatchFlush(
    MpBatch *b)
{
    Tcl_WideUInt n;

    if (b->count > 0) {
	MpBatchFlush(b);
    }
    n = b->delivered;
    b->delivered = 0;
    return n;
}
