/*
 * mpMcastRepair.c --
 *
 *	Retransmission for the multicast member (Multicast join -retransmit
 *	COUNT), after the re-request pattern of MoldUDP64: each node keeps
 *	the last COUNT datagrams it sent and serves them on a TCP port,
 *	which its heartbeats announce; a node that finds a gap in a sender's
 *	sequence numbers connects to that port, asks for the missing range
 *	("R incarnation first last\n") and gets the datagrams as they were
 *	sent, each after a 4-byte big-endian length; the sender closes when
 *	it has sent what it still has. Meanwhile the receiver holds that
 *	sender's newer datagrams, and processes them after the repair: what
 *	the sender no longer had is then counted as a gap.
 *
 *	Both kinds of connection are served by the package's poller, bounded
 *	in time (REPAIR_TIMEOUT) and size (a request line of 127 bytes, a
 *	range of COUNT datagrams).
 */

#include <errno.h>
#include <stdio.h>
#include "mpMulticast.h"

#define REPAIR_TIMEOUT 3000	/* ms, either side. */
#define REQUEST_MAX 127

typedef struct MpMcastRepair {
    struct MpMcastRepair *next;	/* In mc->repairs. */
    MpMulticast *mc;
    MpWatch watch;
    int serving;		/* 1: we answer a request; 0: we asked. */
    int connecting;
    int closed;
    int refCount;
    Tcl_TimerToken timer;
    char *buf;			/* Request line, or frames received ... */
    size_t len, cap;		/* ... held, and room. */
    char *out;			/* Frames (serving) or the request line ... */
    size_t outLen, outOff;	/* ... and how far it is written. */
    char senderKey[256];	/* Asking: whose datagrams. */
    unsigned long long from, to;
} MpMcastRepair;

static void		AcceptReady(void *clientData, int mask);
static void		ConnReady(void *clientData, int mask);
static void		ConnTimeout(ClientData clientData);
static void		ConnClose(MpMcastRepair *r);
static void		ConnRelease(MpMcastRepair *r);
static void		ServeRequest(MpMcastRepair *r);
static void		TakeFrames(MpMcastRepair *r);
static void		FinishAsk(MpMcastRepair *r);
static int		WriteOut(MpMcastRepair *r);

/*
 *----------------------------------------------------------------------
 *
 * MpMcastRepairStart, MpMcastRepairStop --
 *
 *	Open the repair listener (any address, a port the system picks,
 *	announced by the heartbeats) and the history; close the listener
 *	and every repair connection.
 *
 * Results:
 *	MpMcastRepairStart: TCL_OK, or TCL_ERROR with a message.
 *
 *----------------------------------------------------------------------
 */

int
MpMcastRepairStart(
    Tcl_Interp *interp,
    MpMulticast *mc)
{
    MpSocket fd;
    MpAddr local;
    int err = 0;

    if (MpSockListen(mc->group.family == 6 ? "::" : "0.0.0.0", 0, 16, 0,
	    &fd, &err) != 0 || MpSockLocalAddr(fd, &local) != 0) {
	if (err == 0) {
	    err = EINVAL;
	}
	return MpError(interp, "MULTICAST", MpSockErrorId(err),
		"cannot open the retransmission port: %s",
		MpSockErrorText(err));
    }
    mc->repairWatch.fd = fd;
    mc->repairWatch.proc = AcceptReady;
    mc->repairWatch.clientData = mc;
    if ((err = MpLoopWatch(mc->mp->loop, &mc->repairWatch,
	    MP_EV_READ)) != 0) {
	MpSockClose(fd);
	mc->repairWatch.fd = MP_INVALID_SOCKET;
	return MpError(interp, "MULTICAST", MpSockErrorId(err),
		"cannot watch the retransmission port: %s",
		MpSockErrorText(err));
    }
    mc->repairPort = local.port;
    mc->history = (MpMcastHeld **) MpAlloc(sizeof(MpMcastHeld *)
	    * (size_t) mc->retransmit);
    return TCL_OK;
}

void
MpMcastRepairStop(
    MpMulticast *mc)
{
    if (mc->repairWatch.fd != MP_INVALID_SOCKET) {
	MpLoopUnwatch(mc->mp->loop, &mc->repairWatch);
	MpSockClose(mc->repairWatch.fd);
	mc->repairWatch.fd = MP_INVALID_SOCKET;
    }
    while (mc->repairs != NULL) {
	ConnClose(mc->repairs);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpMcastRemember --
 *
 *	Keeps a datagram just sent (header and message) in the history,
 *	under the current sequence number; the oldest goes when it is full.
 *
 *----------------------------------------------------------------------
 */

void
MpMcastRemember(
    MpMulticast *mc,
    const void *hdr,
    size_t hlen,
    const char *data,
    size_t len)
{
    MpMcastHeld *h = (MpMcastHeld *) MpAlloc(sizeof(MpMcastHeld) + hlen
	    + len);
    size_t cap = (size_t) mc->retransmit;

    h->next = NULL;
    h->seq = mc->seq;
    h->len = hlen + len;
    memcpy(h->bytes, hdr, hlen);
    if (len > 0) {
	memcpy(h->bytes + hlen, data, len);
    }
    if (mc->histCount == cap) {
	MpFree(mc->history[mc->histHead]);
	mc->history[mc->histHead] = h;
	mc->histHead = (mc->histHead + 1) % cap;
    } else {
	mc->history[(mc->histHead + mc->histCount) % cap] = h;
	mc->histCount++;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * NewConn, ConnClose, ConnRelease --
 *
 *	A repair connection on the loop, with its timeout; closing it
 *	(its memory goes once no callback uses it).
 *
 *----------------------------------------------------------------------
 */

static MpMcastRepair *
NewConn(
    MpMulticast *mc,
    MpSocket fd,
    int serving,
    int mask)
{
    MpMcastRepair *r = (MpMcastRepair *) MpAlloc(sizeof(MpMcastRepair));

    memset(r, 0, sizeof(MpMcastRepair));
    r->mc = mc;
    r->serving = serving;
    r->refCount = 1;
    r->watch.fd = fd;
    r->watch.proc = ConnReady;
    r->watch.clientData = r;
    r->next = mc->repairs;
    mc->repairs = r;
    mc->refCount++;
    r->timer = Tcl_CreateTimerHandler(REPAIR_TIMEOUT, ConnTimeout, r);
    if (MpLoopWatch(mc->mp->loop, &r->watch, mask) != 0) {
	ConnClose(r);
	return NULL;
    }
    return r;
}

static void
ConnClose(
    MpMcastRepair *r)
{
    MpMulticast *mc = r->mc;
    MpMcastRepair **pp;

    if (r->closed) {
	return;
    }
    r->closed = 1;
    for (pp = &mc->repairs; *pp != NULL; pp = &(*pp)->next) {
	if (*pp == r) {
	    *pp = r->next;
	    break;
	}
    }
    if (r->timer != NULL) {
	Tcl_DeleteTimerHandler(r->timer);
	r->timer = NULL;
    }
    if (r->watch.fd != MP_INVALID_SOCKET) {
	MpLoopUnwatch(mc->mp->loop, &r->watch);
	MpSockClose(r->watch.fd);
	r->watch.fd = MP_INVALID_SOCKET;
    }
    if (!r->serving) {
	Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&mc->senders, r->senderKey);

	if (hPtr != NULL) {
	    MpMcastSender *s = (MpMcastSender *) Tcl_GetHashValue(hPtr);

	    if (s->repair == r) {
		s->repair = NULL;
	    }
	}
    }
    ConnRelease(r);
}

static void
ConnRelease(
    MpMcastRepair *r)
{
    MpMulticast *mc = r->mc;

    if (--r->refCount > 0) {
	return;
    }
    if (r->buf != NULL) {
	MpFree(r->buf);
    }
    if (r->out != NULL) {
	MpFree(r->out);
    }
    MpFree(r);
    MpMulticastUnref(mc);
}

static void
ConnTimeout(
    ClientData clientData)
{
    MpMcastRepair *r = (MpMcastRepair *) clientData;

    r->timer = NULL;
    if (r->serving) {
	ConnClose(r);
    } else {
	FinishAsk(r);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * AcceptReady --
 *
 *	A receiver connects to ask for datagrams.
 *
 *----------------------------------------------------------------------
 */

static void
AcceptReady(
    void *clientData,
    int mask)
{
    MpMulticast *mc = (MpMulticast *) clientData;
    MpSocket fd;
    MpAddr peer;
    int err = 0, i;

    (void) mask;
    for (i = 0; i < 16; i++) {
	if (MpSockAccept(mc->repairWatch.fd, &fd, &peer, &err) != 0) {
	    return;
	}
	(void) NewConn(mc, fd, 1, MP_EV_READ);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * WriteOut --
 *
 *	Writes what is left of r->out.
 *
 * Results:
 *	1 when all is written, 0 when the socket is full, -1 on an error.
 *
 *----------------------------------------------------------------------
 */

static int
WriteOut(
    MpMcastRepair *r)
{
    while (r->outOff < r->outLen) {
	MpIovec iov;
	int err = 0;
	ptrdiff_t n;

	MP_IOV_SET(iov, r->out + r->outOff, r->outLen - r->outOff);
	n = MpSockWritev(r->watch.fd, &iov, 1, &err);
	if (n == MP_IO_AGAIN) {
	    (void) MpLoopWatch(r->mc->mp->loop, &r->watch,
		    r->serving ? MP_EV_WRITE : (MP_EV_READ | MP_EV_WRITE));
	    return 0;
	}
	if (n < 0) {
	    return -1;
	}
	r->outOff += (size_t) n;
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * ConnReady --
 *
 *	A repair connection is ready: serving, read the request and write
 *	the datagrams; asking, finish the connect, write the request, read
 *	the datagrams.
 *
 *----------------------------------------------------------------------
 */

static void
ConnReady(
    void *clientData,
    int mask)
{
    MpMcastRepair *r = (MpMcastRepair *) clientData;
    MpMulticast *mc = r->mc;

    r->refCount++;
    if (r->serving) {
	if (r->out != NULL) {
	    int rc = WriteOut(r);

	    if (rc != 0) {
		ConnClose(r);	/* All written, or failed. */
	    }
	} else if (mask & MP_EV_READ) {
	    ServeRequest(r);
	}
    } else if (r->connecting) {
	int err = MpSockConnectResult(r->watch.fd);

	if (err == 0) {
	    r->connecting = 0;
	    if (WriteOut(r) < 0) {
		FinishAsk(r);
	    } else {
		(void) MpLoopWatch(mc->mp->loop, &r->watch, MP_EV_READ
			| (r->outOff < r->outLen ? MP_EV_WRITE : 0));
	    }
	} else if (err != MP_CONNECT_PENDING) {
	    FinishAsk(r);
	}
    } else {
	if ((mask & MP_EV_WRITE) && r->outOff < r->outLen) {
	    if (WriteOut(r) < 0) {
		FinishAsk(r);
	    } else if (r->outOff == r->outLen) {
		(void) MpLoopWatch(mc->mp->loop, &r->watch, MP_EV_READ);
	    }
	}
	if ((mask & MP_EV_READ) && !r->closed) {
	    TakeFrames(r);
	}
    }
    ConnRelease(r);
}

/*
 *----------------------------------------------------------------------
 *
 * ServeRequest --
 *
 *	Reads the request line; when it is complete, queues the datagrams
 *	of the range this node still has (of its current incarnation),
 *	each after its 4-byte length, and writes them; a malformed or
 *	oversized request closes the connection.
 *
 *----------------------------------------------------------------------
 */

static void
ServeRequest(
    MpMcastRepair *r)
{
    MpMulticast *mc = r->mc;
    unsigned long long inc, from, to;
    char line[REQUEST_MAX + 1], *nl;
    size_t i, total = 0;
    int err = 0;
    ptrdiff_t n;

    if (r->buf == NULL) {
	r->buf = (char *) MpAlloc(REQUEST_MAX + 1);
	r->cap = REQUEST_MAX;
    }
    n = MpSockRead(r->watch.fd, r->buf + r->len, r->cap - r->len, &err);
    if (n == MP_IO_AGAIN) {
	return;
    }
    if (n <= 0) {
	ConnClose(r);
	return;
    }
    r->len += (size_t) n;
    r->buf[r->len] = '\0';
    nl = memchr(r->buf, '\n', r->len);
    if (nl == NULL) {
	if (r->len == r->cap) {
	    ConnClose(r);	/* No request is that long. */
	}
	return;
    }
    memcpy(line, r->buf, (size_t) (nl - r->buf));
    line[nl - r->buf] = '\0';
    if (sscanf(line, "R %llu %llu %llu", &inc, &from, &to) != 3
	    || from == 0 || to < from) {
	ConnClose(r);
	return;
    }
    if (inc == mc->incarnation) {
	for (i = 0; i < mc->histCount; i++) {
	    MpMcastHeld *h = mc->history[(mc->histHead + i)
		    % (size_t) mc->retransmit];

	    if (h->seq >= from && h->seq <= to) {
		total += 4 + h->len;
	    }
	}
    }
    r->out = (char *) MpAlloc(total + 1);
    r->outLen = 0;
    if (inc == mc->incarnation) {
	for (i = 0; i < mc->histCount; i++) {
	    MpMcastHeld *h = mc->history[(mc->histHead + i)
		    % (size_t) mc->retransmit];
	    unsigned char *p = (unsigned char *) r->out + r->outLen;

	    if (h->seq < from || h->seq > to) {
		continue;
	    }
	    p[0] = (unsigned char) (h->len >> 24);
	    p[1] = (unsigned char) (h->len >> 16);
	    p[2] = (unsigned char) (h->len >> 8);
	    p[3] = (unsigned char) h->len;
	    memcpy(p + 4, h->bytes, h->len);
	    r->outLen += 4 + h->len;
	    mc->stats.served++;
	}
    }
    n = WriteOut(r);
    if (n != 0) {
	ConnClose(r);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpMcastAsk --
 *
 *	Asks sender s (at its last address, on the port its heartbeats
 *	announce) for its datagrams first..last; its newer datagrams are
 *	held until the answer is in (or REPAIR_TIMEOUT).
 *
 *----------------------------------------------------------------------
 */

void
MpMcastAsk(
    MpMulticast *mc,
    MpMcastSender *s,
    unsigned long long first,
    unsigned long long last)
{
    MpAddr addr = s->addr;
    MpMcastRepair *r;
    MpSocket fd;
    int inProgress = 0, err = 0;
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;

    mc->stats.repairs++;
    addr.port = s->repairPort;
    if (MpSockConnectAddr(&addr, &fd, &inProgress, &err) != 0) {
	MpMcastGap(mc, s, s->lastSeq + 1, last);
	s->lastSeq = last;
	MpMcastReleaseHeld(mc, s);
	return;
    }
    r = NewConn(mc, fd, 0, MP_EV_WRITE);
    if (r == NULL) {
	MpMcastGap(mc, s, s->lastSeq + 1, last);
	s->lastSeq = last;
	MpMcastReleaseHeld(mc, s);
	return;
    }
    for (hPtr = Tcl_FirstHashEntry(&mc->senders, &search); hPtr != NULL;
	    hPtr = Tcl_NextHashEntry(&search)) {
	if (Tcl_GetHashValue(hPtr) == (ClientData) s) {
	    snprintf(r->senderKey, sizeof(r->senderKey), "%s",
		    (const char *) Tcl_GetHashKey(&mc->senders, hPtr));
	    break;
	}
    }
    r->connecting = inProgress;
    r->from = first;
    r->to = last;
    r->out = (char *) MpAlloc(96);
    r->outLen = (size_t) snprintf(r->out, 96, "R %llu %llu %llu\n",
	    s->incarnation, first, last);
    s->repair = r;
    if (!inProgress) {
	(void) WriteOut(r);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * TakeFrames --
 *
 *	Reads the datagrams sent again and processes each as it completes
 *	(MP_MCAST_REPAIR); the end of the stream ends the repair.
 *
 *----------------------------------------------------------------------
 */

static void
TakeFrames(
    MpMcastRepair *r)
{
    MpMulticast *mc = r->mc;

    for (;;) {
	int err = 0;
	ptrdiff_t n;
	size_t off = 0;

	if (r->cap - r->len < 65536) {
	    r->cap = r->len + 65536 + 4;
	    r->buf = (char *) MpRealloc(r->buf, r->cap);
	}
	n = MpSockRead(r->watch.fd, r->buf + r->len, r->cap - r->len, &err);
	if (n == MP_IO_AGAIN) {
	    return;
	}
	if (n <= 0) {
	    FinishAsk(r);
	    return;
	}
	r->len += (size_t) n;
	while (r->len - off >= 4 && !r->closed && !mc->left) {
	    const unsigned char *p = (const unsigned char *) r->buf + off;
	    size_t len = ((size_t) p[0] << 24) | ((size_t) p[1] << 16)
		    | ((size_t) p[2] << 8) | p[3];

	    if (len > MP_DGRAM_MAX) {
		FinishAsk(r);	/* Not a sender of ours. */
		return;
	    }
	    if (r->len - off < 4 + len) {
		break;
	    }
	    (void) MpMcastProcess(mc, (const char *) p + 4, len, NULL,
		    MP_MCAST_REPAIR);
	    off += 4 + len;
	}
	if (r->closed || mc->left) {
	    return;
	}
	memmove(r->buf, r->buf + off, r->len - off);
	r->len -= off;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * FinishAsk, MpMcastReleaseHeld --
 *
 *	The repair is over (answered, failed or timed out): what did not
 *	come is counted by the held datagrams' numbers (or, with none held,
 *	up to the last number asked for), and the held datagrams are
 *	processed in order.
 *
 *----------------------------------------------------------------------
 */

static void
FinishAsk(
    MpMcastRepair *r)
{
    MpMulticast *mc = r->mc;
    Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&mc->senders, r->senderKey);

    if (r->closed) {
	return;
    }
    r->refCount++;
    ConnClose(r);
    if (hPtr != NULL && !mc->left) {
	MpMcastSender *s = (MpMcastSender *) Tcl_GetHashValue(hPtr);

	/*
	 * What the sender no longer had is missing for good; held
	 * datagrams after it may show more gaps, asked for in turn.
	 */

	if (s->lastSeq < r->to) {
	    MpMcastGap(mc, s, s->lastSeq + 1, r->to);
	    s->lastSeq = r->to;
	}
	MpMcastReleaseHeld(mc, s);
    }
    ConnRelease(r);
}

void
MpMcastReleaseHeld(
    MpMulticast *mc,
    MpMcastSender *s)
{
    mc->refCount++;
    while (s->heldFirst != NULL && !mc->left && s->repair == NULL) {
	MpMcastHeld *h = s->heldFirst;

	s->heldFirst = h->next;
	if (s->heldFirst == NULL) {
	    s->heldLast = NULL;
	}
	s->heldCount--;
	(void) MpMcastProcess(mc, h->bytes, h->len, NULL, MP_MCAST_HELD);
	MpFree(h);
    }
    MpMulticastUnref(mc);
}
