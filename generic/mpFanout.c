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
 *	marks it for disconnect, per Config overflow.
 */

#include <stdlib.h>
#include "mpInt.h"

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
 * MpEncodeMessage --
 *
 *	Encodes a message with the instance's framing into a new buffer.
 *
 * Results:
 *	The buffer (one reference), or NULL when memory is exhausted.
 *
 * Side effects:
 *	Allocates.
 *
 *----------------------------------------------------------------------
 */

MpBuf *
MpEncodeMessage(
    MpInstance *mp,
    const char *data,
    size_t len)
{
    int mode = mp->config.framing;
    MpBuf *buf = MpBufNew(MpFrameEncodedSize(mode, len));

    if (buf != NULL) {
	MpFrameEncode(mode, data, len, buf->data);
    }
    return buf;
}

/*
 *----------------------------------------------------------------------
 *
 * QueueOrOverflow --
 *
 *	Queues a buffer for a client unless its queue would exceed maxqueue
 *	(an empty queue always takes one message, so a message larger than
 *	maxqueue can still be sent). The rest of a begun channel write
 *	("continued") may go up to twice maxqueue; past that the client is
 *	disconnected under either policy. The first "off" bytes of the
 *	buffer have already been written to the socket (only with an empty
 *	queue) and are not queued.
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
    if (c->out.bytes > 0 && (buf->len > bound
	    || c->out.bytes > bound - buf->len)) {
	if (mp->config.overflow == MP_OVERFLOW_DROP) {
	    c->drops++;
	    mp->stats.drops++;
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
    mp->stats.messagesOut++;
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
    if (c->state != MP_CLIENT_OPEN || !c->admitted) {
	return -1;
    }
    return QueueOrOverflow(c, buf, 0, 0);
}

/*
 *----------------------------------------------------------------------
 *
 * MpEnqueueBytes --
 *
 *	Queues raw bytes (no framing) for one client, admitted or not: what
 *	a script writes to the client's channel. "continued" says the bytes
 *	continue a write already partly accepted (see ChanOutput).
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
    MpBuf *buf;
    int rc;

    if (c->state != MP_CLIENT_OPEN || c->pendingClose) {
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
    rc = QueueOrOverflow(c, buf, 0, continued);
    MpBufUnref(buf);
    return rc;
}

/*
 * A message as it goes on the wire: framing prefix, message, suffix,
 * gathered without copying, and the shared encoded buffer for the
 * recipients that must queue it, made on first need.
 */

typedef struct Wire {
    MpIovec iov[3];
    int iovCount;
    size_t len;			/* Bytes on the wire. */
    char prefix[MP_FRAME_HEADER];
    const char *data;		/* The message (not owned). */
    size_t dataLen;
    MpBuf *buf;			/* Encoded copy, or NULL until needed. */
    int noMem;			/* Encoding it failed (logged once). */
} Wire;

/*
 *----------------------------------------------------------------------
 *
 * WireInit, WireFree --
 *
 *	Describe a message as it goes on the wire with the instance's
 *	framing; release the encoded copy if one was made.
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
WireInit(
    MpInstance *mp,
    Wire *w,
    const char *data,
    size_t len)
{
    int mode = mp->config.framing;
    size_t pre = MpFramePrefix(mode, len, w->prefix), sufLen;
    const char *suf = MpFrameSuffix(mode, &sufLen);

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
 * SendTo --
 *
 *	Delivers a message to one admitted, open client. When nothing is
 *	queued for it and it has not been written directly since the loop
 *	last flushed, the message is written straight to its socket (so a
 *	round that carries many messages still sends each client one
 *	gathered write of the rest); what the socket does not take, or the
 *	whole message otherwise, is queued as the shared encoded copy.
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
    size_t done = 0;

    if (c->state != MP_CLIENT_OPEN || !c->admitted || c->pendingClose) {
	return -1;
    }
    if (w->len > 0 && c->out.count == 0
	    && c->directCycle != loop->flushCycle) {
	int err = 0;
	ptrdiff_t n = MpSockWritev(c->watch.fd, w->iov, w->iovCount, &err);

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
	    mp->stats.messagesOut++;
	    return 0;
	}
	done = (size_t) n;
    }
    if (w->buf == NULL && !w->noMem) {
	w->buf = MpEncodeMessage(mp, w->data, w->dataLen);
	if (w->buf == NULL) {
	    w->noMem = 1;
	    MpLog(mp, MP_LOG_ERROR, "out of memory encoding a message of %lu"
		    " bytes", (unsigned long) w->dataLen);
	}
    }
    if (w->buf == NULL) {
	if (done > 0) {
	    c->pendingClose = MP_REASON_ERROR;	/* Cut message. */
	    MpLoopScheduleFlush(loop, c);
	}
	return -1;
    }
    return QueueOrOverflow(c, w->buf, done, 0);
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
    MpClient **list)
{
    int n = 0, cap = mp->clientCount;
    Tcl_HashSearch search, msearch;
    Tcl_HashEntry *hPtr, *mPtr;
    MpClient *c;
    Tcl_WideUInt stamp = ++mp->loop->fanoutStamp;

#define MP_TAKE(cl) \
    if ((cl) != exclude && (cl)->state == MP_CLIENT_OPEN && (cl)->admitted \
	    && (cl)->fanoutStamp != stamp && n < cap) { \
	(cl)->fanoutStamp = stamp; \
	list[n++] = (cl); \
    }

    if (group != NULL) {
	for (mPtr = Tcl_FirstHashEntry(&group->members, &msearch);
		mPtr != NULL; mPtr = Tcl_NextHashEntry(&msearch)) {
	    c = (MpClient *) Tcl_GetHashKey(&group->members, mPtr);
	    MP_TAKE(c);
	}
    } else if (groupsOf != NULL) {
	if (groupsOf->groupCount > 0) {
	    for (hPtr = Tcl_FirstHashEntry(&mp->groups, &search);
		    hPtr != NULL; hPtr = Tcl_NextHashEntry(&search)) {
		MpGroup *g = (MpGroup *) Tcl_GetHashValue(hPtr);

		if (Tcl_FindHashEntry(&g->members, (char *) groupsOf)
			== NULL) {
		    continue;
		}
		for (mPtr = Tcl_FirstHashEntry(&g->members, &msearch);
			mPtr != NULL; mPtr = Tcl_NextHashEntry(&msearch)) {
		    c = (MpClient *) Tcl_GetHashKey(&g->members, mPtr);
		    MP_TAKE(c);
		}
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
 *	Sends one message to a list of recipients (SendTo): one shared
 *	buffer at most, or, with output filters, one filter chain call and
 *	message per recipient.
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
    MpClient **list,
    int n,
    const char *data,
    size_t len)
{
    int i, sent = 0;

    if (mp->filters[MP_FILTER_OUTPUT].count == 0) {
	Wire wire;

	WireInit(mp, &wire, data, len);
	for (i = 0; i < n; i++) {
	    if (i + 1 < n) {
		MP_PREFETCH_CLIENT(list[i + 1]);
	    }
	    if (SendTo(list[i], &wire) == 0) {
		sent++;
	    }
	}
	WireFree(&wire);
    } else {
	Tcl_Obj *dataObj = Tcl_NewByteArrayObj((const unsigned char *) data,
		(Tcl_Size) len);

	Tcl_IncrRefCount(dataObj);
	MpInstanceRef(mp);
	for (i = 0; i < n; i++) {
	    MpClientRef(list[i]);
	}
	for (i = 0; i < n && !mp->destroyed; i++) {
	    MpClient *to = list[i];
	    Tcl_Obj *resObj = NULL;

	    if (to->state != MP_CLIENT_OPEN) {
		continue;
	    }
	    if (MpRunOutputFilter(from, to, dataObj, &resObj)
		    == MP_CHAIN_PASS && to->state == MP_CLIENT_OPEN) {
		Tcl_Size outLen;
		const unsigned char *out = Tcl_GetByteArrayFromObj(resObj,
			&outLen);
		Wire wire;

		WireInit(mp, &wire, (const char *) out, (size_t) outLen);
		if (SendTo(to, &wire) == 0) {
		    sent++;
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
	MpInstanceUnref(mp);
	Tcl_DecrRefCount(dataObj);
    }
    return sent;
}

/*
 *----------------------------------------------------------------------
 *
 * FanoutTo, MpFanout, MpFanoutGroups --
 *
 *	Broadcast a message from a client (or from the server when from is
 *	NULL) to every client or one group (MpFanout), or to the groups the
 *	sender belongs to (MpFanoutGroups, Config route groups). In raw mode
 *	an empty message sends nothing.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues output for the recipients.
 *
 *----------------------------------------------------------------------
 */

static void
FanoutTo(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    MpClient *exclude,
    MpGroup *group,
    MpClient *groupsOf)
{
    MpLoop *loop = mp->loop;
    MpClient **list;
    int n;

    if (len == 0 && mp->config.framing == MP_FRAME_RAW) {
	return;
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
	n = Collect(mp, exclude, group, groupsOf, loop->recipients);
	Deliver(mp, from, loop->recipients, n, data, len);
	return;
    }
    list = (MpClient **) MpAlloc(sizeof(MpClient *)
	    * (size_t) (mp->clientCount + 1));
    n = Collect(mp, exclude, group, groupsOf, list);
    Deliver(mp, from, list, n, data, len);
    MpFree(list);
}

void
MpFanout(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    MpClient *exclude,
    MpGroup *group)
{
    FanoutTo(mp, from, data, len, exclude, group, NULL);
}

void
MpFanoutGroups(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    MpClient *exclude)
{
    FanoutTo(mp, from, data, len, exclude, NULL, from);
}
