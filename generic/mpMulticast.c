/*
 * mpMulticast.c --
 *
 *	An instance as one node of a group of instances joined by IP
 *	multicast, with no broker: every message the instance fans out to
 *	its own clients is also sent once to the group, as one datagram in
 *	the cluster envelope (mpClusterMsg.h: node id, incarnation, sequence
 *	number, sender, groups); every datagram of another node is delivered
 *	to the local clients as a local message (MpFanoutRemote). A receiver
 *	drops its own datagrams (looped back), duplicates, and datagrams of
 *	an older incarnation of a sender (stale: a node that restarted has a
 *	larger one, and is accepted at once), and counts the sequence
 *	numbers that never came (gaps); heartbeats carry each sender's last
 *	number, so that loss at the end of a burst is seen too. Datagrams
 *	without a valid envelope are dropped and counted, never delivered.
 */

#include "mpMulticast.h"
#include "mpClusterMsg.h"

#define MP_MCAST_MAX_SENDERS 65536
#define MP_MCAST_READS_MAX 64		/* Datagrams per readiness event. */

static void		Readable(void *clientData, int mask);
static void		TakeDatagram(MpMulticast *mc, const char *data,
			    size_t len, const MpAddr *from);
static void		HeartbeatProc(ClientData clientData);
static void		Enqueue(MpMulticast *mc, const unsigned char *hdr,
			    size_t hlen, const char *data, size_t len,
			    int heartbeat);
static void		Count(MpMulticast *mc, int msgs, int beats,
			    int packed, int ok, int err);
static void		FlushOut(MpMulticast *mc);
static void		FlushHook(void *clientData);
static void		SendDatagram(MpMulticast *mc, int route,
			    const char *sender, size_t senderLen,
			    const MpCmsgName *names, unsigned count,
			    const char *data, size_t len);

/*
 *----------------------------------------------------------------------
 *
 * MpMulticastStart --
 *
 *	Opens the group socket of mc (its fields filled by the command) and
 *	puts it on the loop; starts the heartbeat.
 *
 * Results:
 *	TCL_OK with mp->multicast set, or TCL_ERROR with a message and
 *	{MULTIPLEXER MULTICAST ...} (mc is then the caller's to free).
 *
 * Side effects:
 *	Opens a socket and joins the group.
 *
 *----------------------------------------------------------------------
 */

int
MpMulticastStart(
    Tcl_Interp *interp,
    MpInstance *mp,
    MpMulticast *mc,
    const char *group,
    const char *iface)
{
    MpDgramOpts opts;
    MpSocket fd;
    int err = 0;

    opts.ttl = mc->ttl;
    opts.loop = mc->loop;
    opts.iface = iface;
    opts.source = NULL;
    opts.reuse = 1;
    opts.rcvbuf = mc->rcvbuf;
    if (MpDgramOpen(group, mc->port, &opts, &fd, &mc->group, &err) != 0) {
	return MpError(interp, "MULTICAST", MpSockErrorId(err),
		"cannot join group %s port %d%s%s: %s", group, mc->port,
		iface != NULL ? " on " : "", iface != NULL ? iface : "",
		MpSockErrorText(err));
    }
    /*
     * Datagrams of one sender that arrive together may come in one
     * buffer (Readable splits them); where the system cannot, one each.
     */

    if (mc->offload) {
	(void) MpDgramCoalesce(fd);
    }
    mc->mp = mp;
    mc->refCount = 1;
    mc->watch.fd = fd;
    mc->watch.proc = Readable;
    mc->watch.clientData = mc;
    if ((err = MpLoopWatch(mp->loop, &mc->watch, MP_EV_READ)) != 0) {
	MpSockClose(fd);
	return MpError(interp, "MULTICAST", MpSockErrorId(err),
		"cannot watch the group socket: %s", MpSockErrorText(err));
    }
    Tcl_InitHashTable(&mc->senders, TCL_STRING_KEYS);
    mc->buf = (char *) MpAlloc((size_t) MP_MCAST_BATCH * MP_MCAST_ROOM);
    mc->out = (char *) MpAlloc(MP_MCAST_OUT_BYTES);
    {
	int i;

	for (i = 0; i < MP_MCAST_BATCH; i++) {
	    mc->ins[i].buf = mc->buf + (size_t) i * MP_MCAST_ROOM;
	    mc->ins[i].cap = MP_MCAST_ROOM;
	}
    }
    (void) MpDgramDestSet(&mc->dest, &mc->group);
    mc->hook.proc = FlushHook;
    mc->hook.clientData = mc;
    if (mc->heartbeatMs > 0) {
	mc->heartbeatTimer = Tcl_CreateTimerHandler(mc->heartbeatMs,
		HeartbeatProc, mc);
    }
    mc->repairWatch.fd = MP_INVALID_SOCKET;
    if (mc->retransmit > 0 && MpMcastRepairStart(interp, mc) != TCL_OK) {
	if (mc->heartbeatTimer != NULL) {
	    Tcl_DeleteTimerHandler(mc->heartbeatTimer);
	}
	MpLoopUnwatch(mp->loop, &mc->watch);
	MpSockClose(fd);
	Tcl_DeleteHashTable(&mc->senders);
	MpFree(mc->buf);
	MpFree(mc->out);
	return TCL_ERROR;
    }
    mp->multicast = mc;
    if (mc->heartbeatMs > 0) {
	SendDatagram(mc, MP_CMSG_HEARTBEAT, "", 0, NULL, 0, NULL, 0);
    }
    MpLog(mp, MP_LOG_INFO, "multicast: node %s joined group %s port %d",
	    mc->node, mc->group.host, mc->port);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpMulticastLeave, MpMulticastUnref --
 *
 *	Leaves the group (Multicast leave, teardown): the socket closes
 *	(the kernel leaves the group); the record goes once no delivery
 *	uses it.
 *
 *----------------------------------------------------------------------
 */

void
MpMulticastLeave(
    MpInstance *mp)
{
    MpMulticast *mc = mp->multicast;

    if (mc == NULL) {
	return;
    }
    mc->stats.delivered += MpRemoteBatchFlush(&mc->batch);
    FlushOut(mc);		/* Sent before the socket closes. */
    MpLoopCancelHook(mp->loop, &mc->hook);
    mp->multicast = NULL;
    mc->left = 1;
    if (mc->heartbeatTimer != NULL) {
	Tcl_DeleteTimerHandler(mc->heartbeatTimer);
	mc->heartbeatTimer = NULL;
    }
    MpLoopUnwatch(mp->loop, &mc->watch);
    MpSockClose(mc->watch.fd);
    mc->watch.fd = MP_INVALID_SOCKET;
    MpMcastRepairStop(mc);
    MpLog(mp, MP_LOG_INFO, "multicast: node %s left group %s port %d",
	    mc->node, mc->group.host, mc->port);
    MpMulticastUnref(mc);
}

void
MpMulticastUnref(
    MpMulticast *mc)
{
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;

    if (--mc->refCount > 0) {
	return;
    }
    for (hPtr = Tcl_FirstHashEntry(&mc->senders, &search); hPtr != NULL;
	    hPtr = Tcl_NextHashEntry(&search)) {
	MpMcastSender *s = (MpMcastSender *) Tcl_GetHashValue(hPtr);

	while (s->heldFirst != NULL) {
	    MpMcastHeld *h = s->heldFirst;

	    s->heldFirst = h->next;
	    MpFree(h);
	}
	MpFree(s);
    }
    if (mc->history != NULL) {
	size_t i;

	for (i = 0; i < mc->histCount; i++) {
	    MpFree(mc->history[(mc->histHead + i) % (size_t) mc->retransmit]);
	}
	MpFree(mc->history);
    }
    Tcl_DeleteHashTable(&mc->senders);
    MpBatchRelease(&mc->batch);
    Tcl_DecrRefCount(mc->groupObj);
    if (mc->ifaceObj != NULL) {
	Tcl_DecrRefCount(mc->ifaceObj);
    }
    MpFree(mc->buf);
    MpFree(mc->out);
    MpFree(mc->node);
    MpFree(mc);
}

/*
 *----------------------------------------------------------------------
 *
 * SendDatagram --
 *
 *	Sends one envelope (header and message gathered) to the group.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	A datagram; counters (toobig, dropped).
 *
 *----------------------------------------------------------------------
 */

static void
SendDatagram(
    MpMulticast *mc,
    int route,
    const char *sender,
    size_t senderLen,
    const MpCmsgName *names,
    unsigned count,
    const char *data,
    size_t len)
{
    size_t hlen = MpCmsgHeaderSize(mc->nodeLen, senderLen, names, count);
    unsigned char small[512], *hdr = small;
    MpIovec iov[2];
    int err = 0, n = 1;
    char port[2];

    if (route == MP_CMSG_HEARTBEAT && mc->repairPort > 0) {
	port[0] = (char) ((mc->repairPort >> 8) & 0xff);
	port[1] = (char) (mc->repairPort & 0xff);
	data = port;
	len = 2;
    }
    if (hlen == 0 || hlen + len > MP_DGRAM_MAX) {
	mc->stats.toobig++;
	return;
    }
    if (hlen > sizeof(small)) {
	hdr = (unsigned char *) MpAlloc(hlen);
    }
    (void) MpCmsgWriteHeader(hdr, route, mc->incarnation, mc->seq, mc->node,
	    mc->nodeLen, sender, senderLen, names, count);
    MP_IOV_SET(iov[0], hdr, hlen);
    if (len > 0) {
	MP_IOV_SET(iov[1], data, len);
	n = 2;
    }
    if (mc->retransmit > 0 && route != MP_CMSG_HEARTBEAT) {
	MpMcastRemember(mc, hdr, hlen, data, len);
    }
    if (mc->outCount == 0 && mc->directCycle != mc->mp->loop->hookCycle) {
	/*
	 * The first datagram of a round leaves at once (light load: no
	 * wait); the others of the round wait for its end and go together.
	 */

	MpDgramOut one;
	int beat = (route == MP_CMSG_HEARTBEAT);

	mc->directCycle = mc->mp->loop->hookCycle;
	one.iov[0] = iov[0];
	if (n == 2) {
	    one.iov[1] = iov[1];
	}
	one.iovcnt = n;
	Count(mc, 1 - beat, beat, 0,
		MpDgramSendMany(mc->watch.fd, &mc->dest, &one, 1, 0, &err) == 1,
		err);
    } else {
	Enqueue(mc, hdr, hlen, data, len, route == MP_CMSG_HEARTBEAT);
	MpLoopScheduleHook(mc->mp->loop, &mc->hook);
    }
    if (hdr != small) {
	MpFree(hdr);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Enqueue, Count, FlushOut, FlushHook --
 *
 *	Enqueue: an envelope waits for the end of the round, in the last
 *	datagram waiting when it fits there (-pack), else in a new one.
 *	Count: a datagram of msgs messages and beats heartbeats sent, or
 *	refused (the reason kept in lastError). FlushOut: send the
 *	datagrams that wait, in order, with as few system calls as the
 *	system allows (at the end of the round, FlushHook; before more would
 *	not fit; at leave).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Datagrams; counters.
 *
 *----------------------------------------------------------------------
 */

static void
Enqueue(
    MpMulticast *mc,
    const unsigned char *hdr,
    size_t hlen,
    const char *data,
    size_t len,
    int heartbeat)
{
    size_t envLen = hlen + len;
    MpMcastOut *d = mc->outCount > 0 ? &mc->outq[mc->outCount - 1] : NULL;
    unsigned char *p;

    if (d == NULL || mc->pack == 0 || d->total + 2 + envLen > (size_t) mc->pack
	    || mc->outLen + 2 + envLen > MP_MCAST_OUT_BYTES) {
	if (mc->outCount == MP_MCAST_OUT_MAX || mc->outLen
		+ MP_CMSG_PACK_HEAD + 2 + envLen > MP_MCAST_OUT_BYTES) {
	    FlushOut(mc);
	}
	d = &mc->outq[mc->outCount++];
	d->start = mc->outLen;
	d->total = MP_CMSG_PACK_HEAD;
	d->count = d->beats = 0;
	p = (unsigned char *) mc->out + mc->outLen;
	p[0] = 'm';
	p[1] = 'X';
	p[2] = MP_CMSG_VERSION;
	p[3] = MP_CMSG_PACKED;
	mc->outLen += MP_CMSG_PACK_HEAD;
    }
    p = (unsigned char *) mc->out + mc->outLen;
    p[0] = (unsigned char) ((envLen >> 8) & 0xff);
    p[1] = (unsigned char) (envLen & 0xff);
    memcpy(p + 2, hdr, hlen);
    if (len > 0) {
	memcpy(p + 2 + hlen, data, len);
    }
    mc->outLen += 2 + envLen;
    d->total += 2 + envLen;
    d->count++;
    d->beats += heartbeat;
}

static void
Count(
    MpMulticast *mc,
    int msgs,
    int beats,
    int packed,
    int ok,
    int err)			/* When not ok: 0, the buffer was full; or
				 * the error. */
{
    if (!ok) {
	mc->stats.dropped += (Tcl_WideUInt) (msgs + beats);
	snprintf(mc->lastError, sizeof(mc->lastError), "%s",
		err == 0 ? "the socket's send buffer is full"
		: MpSockErrorText(err));
	return;
    }
    mc->stats.sent += (Tcl_WideUInt) msgs;
    mc->stats.heartbeats += (Tcl_WideUInt) beats;
    mc->stats.datagrams++;
    if (packed) {
	mc->stats.packed++;
    }
}

static void
FlushOut(
    MpMulticast *mc)
{
    int i, sent, err = 0;

    if (mc->outCount == 0) {
	return;
    }
    for (i = 0; i < mc->outCount; i++) {
	MpMcastOut *d = &mc->outq[i];
	size_t skip = d->count == 1 ? MP_CMSG_PACK_HEAD + 2 : 0;

	MP_IOV_SET(mc->outs[i].iov[0], mc->out + d->start + skip,
		d->total - skip);
	mc->outs[i].iovcnt = 1;
    }
    sent = MpDgramSendMany(mc->watch.fd, &mc->dest, mc->outs, mc->outCount,
	    mc->offload, &err);
    for (i = 0; i < mc->outCount; i++) {
	MpMcastOut *d = &mc->outq[i];

	Count(mc, d->count - d->beats, d->beats, d->count > 1, i < sent, err);
	if (i < sent && mc->outs[i].segmented) {
	    mc->stats.segmented++;
	}
    }
    mc->outCount = 0;
    mc->outLen = 0;
}

static void
FlushHook(
    void *clientData)
{
    MpMulticast *mc = (MpMulticast *) clientData;

    if (!mc->left) {
	FlushOut(mc);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpMulticastPublish --
 *
 *	Sends a message the instance fans out to its clients to the group
 *	(as MpClusterPublish does to Redis: from a client, or the server;
 *	to one group, or the sender's groups). It takes the next sequence
 *	number even when it cannot be sent, so that receivers see the gap.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	A datagram.
 *
 *----------------------------------------------------------------------
 */

void
MpMulticastPublish(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    const char *groupName,	/* One group's, or NULL. */
    MpClient *groupsOf)
{
    MpMulticast *mc = mp->multicast;
    MpCmsgName names[64], *list = names;
    unsigned count = 0, i;
    int route = MP_CMSG_ALL;
    const char *sender = "";
    size_t senderLen = 0;

    if (mc == NULL || mc->left) {
	return;
    }
    if (groupName != NULL) {
	route = MP_CMSG_GROUP;
	names[0].bytes = groupName;
	names[0].len = strlen(groupName);
	count = 1;
    } else if (groupsOf != NULL) {
	route = MP_CMSG_GROUPS;
	if (groupsOf->groupCount == 0) {
	    return;
	}
	count = (unsigned) groupsOf->groupCount;
	if (count > MP_CMSG_MAX_GROUPS) {
	    count = MP_CMSG_MAX_GROUPS;
	}
	if (count > sizeof(names) / sizeof(names[0])) {
	    list = (MpCmsgName *) MpAlloc(count * sizeof(MpCmsgName));
	}
	for (i = 0; i < count; i++) {
	    list[i].bytes = (const char *) Tcl_GetHashKey(&mp->groups,
		    groupsOf->groups[i]->hPtr);
	    list[i].len = strlen(list[i].bytes);
	}
    }
    if (from != NULL && from->state < MP_CLIENT_DEAD) {
	Tcl_Size slen;

	sender = Tcl_GetStringFromObj(MpClientName(from), &slen);
	senderLen = (size_t) slen;
    }
    if (mp->config.framing == MP_FRAME_RAW) {
	/*
	 * Raw framing keeps no boundaries: a read chunk longer than one
	 * datagram goes as several, each with its own sequence number.
	 */

	size_t hlen = MpCmsgHeaderSize(mc->nodeLen, senderLen, list, count);

	if (hlen > 0 && hlen < MP_DGRAM_MAX) {
	    size_t room = MP_DGRAM_MAX - hlen;

	    while (len > room) {
		mc->seq++;
		mc->stats.split++;
		SendDatagram(mc, route, sender, senderLen, list, count, data,
			room);
		data += room;
		len -= room;
	    }
	}
    }
    mc->seq++;
    SendDatagram(mc, route, sender, senderLen, list, count, data, len);
    if (list != names) {
	MpFree(list);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * HeartbeatProc --
 *
 *	Every heartbeat interval: a datagram with the last sequence number
 *	sent, so that receivers see loss at the end of a burst.
 *
 *----------------------------------------------------------------------
 */

static void
HeartbeatProc(
    ClientData clientData)
{
    MpMulticast *mc = (MpMulticast *) clientData;

    mc->heartbeatTimer = Tcl_CreateTimerHandler(mc->heartbeatMs,
	    HeartbeatProc, mc);
    SendDatagram(mc, MP_CMSG_HEARTBEAT, "", 0, NULL, 0, NULL, 0);
}

/*
 *----------------------------------------------------------------------
 *
 * Readable --
 *
 *	Datagrams arrived: receive a bounded number of them.
 *
 *----------------------------------------------------------------------
 */

static void
Readable(
    void *clientData,
    int mask)
{
    MpMulticast *mc = (MpMulticast *) clientData;
    int got = 0;

    (void) mask;
    mc->refCount++;
    while (got < MP_MCAST_READS_MAX && !mc->left) {
	int i, err = 0, n = MpDgramRecvMany(mc->watch.fd, mc->ins,
		MP_MCAST_BATCH, &err);

	if (n <= 0) {
	    break;		/* None waits, or an error (ICMP): go on. */
	}
	for (i = 0; i < n && !mc->left; i++) {
	    MpDgramIn *in = &mc->ins[i];

	    got += in->segment > 0 && !in->truncated
		    ? (int) ((in->len + in->segment - 1) / in->segment) : 1;
	    if (in->truncated) {
		mc->stats.malformed++;
	    } else if (in->segment > 0) {
		/*
		 * Several datagrams of one sender in one buffer: each but
		 * the last is segment bytes long.
		 */

		size_t at = 0;

		while (at < in->len && !mc->left) {
		    size_t len = in->len - at < in->segment ? in->len - at
			    : in->segment;

		    TakeDatagram(mc, in->buf + at, len, &in->from);
		    mc->stats.coalesced++;
		    at += len;
		}
	    } else {
		TakeDatagram(mc, in->buf, in->len, &in->from);
	    }
	}
	if (n < MP_MCAST_BATCH) {
	    break;
	}
    }
    if (got > 0 && !mc->left) {
	/*
	 * Datagrams flow: the loop waits a moment for the next ones before
	 * it returns to Tcl's notifier (see MpLoopDispatch), as it does
	 * for a client whose read filled its buffer.
	 */

	mc->mp->loop->streaming = 1;
    }
    mc->stats.delivered += MpRemoteBatchFlush(&mc->batch);
    MpMulticastUnref(mc);
}

/*
 *----------------------------------------------------------------------
 *
 * TakeDatagram --
 *
 *	One datagram received: its envelope, or each envelope of a packed
 *	one, goes to MpMcastProcess.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Deliveries; counters (malformed for a packed datagram cut short).
 *
 *----------------------------------------------------------------------
 */

static void
TakeDatagram(
    MpMulticast *mc,
    const char *data,
    size_t len,
    const MpAddr *from)
{
    const unsigned char *bytes = (const unsigned char *) data;

    if (MpCmsgIsPacked(bytes, len)) {
	const unsigned char *pos = bytes + MP_CMSG_PACK_HEAD, *env;
	size_t envLen;
	int rc = 0;

	while (!mc->left && (rc = MpCmsgNextPacked(&pos, bytes + len,
		&env, &envLen)) == 1) {
	    (void) MpMcastProcess(mc, (const char *) env, envLen, from,
		    MP_MCAST_LIVE);
	}
	if (!mc->left && rc < 0) {
	    mc->stats.malformed++;	/* The rest of it. */
	}
    } else {
	(void) MpMcastProcess(mc, data, len, from, MP_MCAST_LIVE);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpMcastGap --
 *
 *	The messages first..last of sender s's incarnation are missing
 *	for good (none if last < first): counted for the member and the
 *	sender, and logged (MpRemoteNoteGap).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Counters; a log line at most once a second.
 *
 *----------------------------------------------------------------------
 */

void
MpMcastGap(
    MpMulticast *mc,
    MpMcastSender *s,
    unsigned long long first,
    unsigned long long last)
{
    if (last < first) {
	return;
    }
    mc->stats.gaps += last - first + 1;
    s->gaps += last - first + 1;
    MpRemoteNoteGap(mc->mp, &mc->gapLog, "multicast", "", s->node,
	    strlen(s->node), s->incarnation, first, last);
}

/*
 *----------------------------------------------------------------------
 *
 * Hold --
 *
 *	Keeps a datagram of a sender whose gap is being repaired, to be
 *	processed after the repair (MP_MCAST_HELD_MAX at most; past that it
 *	is dropped: its sequence number then shows as a gap).
 *
 *----------------------------------------------------------------------
 */

static void
Hold(
    MpMulticast *mc,
    MpMcastSender *s,
    const char *bytes,
    size_t len,
    unsigned long long seq,
    int front)			/* Before the others held (a held one that
				 * waits again), else after them. */
{
    MpMcastHeld *h;

    if (s->heldCount >= MP_MCAST_HELD_MAX) {
	mc->stats.heldDropped++;
	return;
    }
    h = (MpMcastHeld *) MpAlloc(sizeof(MpMcastHeld) + len);
    h->next = NULL;
    h->seq = seq;
    h->len = len;
    memcpy(h->bytes, bytes, len);
    if (front) {
	h->next = s->heldFirst;
	s->heldFirst = h;
	if (s->heldLast == NULL) {
	    s->heldLast = h;
	}
    } else if (s->heldLast != NULL) {
	s->heldLast->next = h;
	s->heldLast = h;
    } else {
	s->heldFirst = s->heldLast = h;
    }
    s->heldCount++;
}

/*
 *----------------------------------------------------------------------
 *
 * MpMcastProcess --
 *
 *	One datagram (from the group, a repair, or held): parse its
 *	envelope; drop what is malformed, ours, stale or a duplicate; on a
 *	gap either ask the sender to retransmit (-retransmit, when it
 *	serves repairs: the datagram waits) or count it (a heartbeat's
 *	number too); deliver the rest as a local message.
 *
 * Results:
 *	1 if a message was delivered (or taken), 0 if dropped or held.
 *
 * Side effects:
 *	Fans out (output filters may run Tcl code); counters; may start a
 *	repair.
 *
 *----------------------------------------------------------------------
 */

int
MpMcastProcess(
    MpMulticast *mc,
    const char *bytes,
    size_t len,
    const MpAddr *from,		/* The sender's address, or NULL. */
    int how)			/* MP_MCAST_*. */
{
    MpInstance *mp = mc->mp;
    MpCmsg msg;
    MpMcastSender *s = NULL;
    char key[256];
    Tcl_HashEntry *hPtr;
    int isNew = 0;

    if (MpCmsgParse((const unsigned char *) bytes, len, &msg) != 0) {
	mc->stats.malformed++;
	return 0;
    }
    if (msg.nodeLen == mc->nodeLen
	    && memcmp(msg.node, mc->node, mc->nodeLen) == 0) {
	mc->stats.echoes++;
	return 0;
    }
    memcpy(key, msg.node, msg.nodeLen);
    key[msg.nodeLen] = '\0';
    if (mc->senderCount < MP_MCAST_MAX_SENDERS) {
	hPtr = Tcl_CreateHashEntry(&mc->senders, key, &isNew);
    } else {
	hPtr = Tcl_FindHashEntry(&mc->senders, key);
    }
    if (hPtr != NULL && isNew) {
	s = (MpMcastSender *) MpAlloc(sizeof(MpMcastSender));
	memset(s, 0, sizeof(MpMcastSender));
	s->node = (const char *) Tcl_GetHashKey(&mc->senders, hPtr);
	s->incarnation = msg.incarnation;
	s->lastSeq = msg.seq;
	Tcl_SetHashValue(hPtr, s);
	mc->senderCount++;
    } else if (hPtr != NULL) {
	s = (MpMcastSender *) Tcl_GetHashValue(hPtr);
	if (msg.incarnation < s->incarnation) {
	    mc->stats.stale++;
	    return 0;
	}
	if (msg.route == MP_CMSG_HEARTBEAT && msg.dataLen == 2) {
	    /*
	     * Its repair port, from every heartbeat: one that brings no
	     * news of its sequence numbers goes no further.
	     */

	    s->repairPort = ((unsigned char) msg.data[0] << 8)
		    | (unsigned char) msg.data[1];
	}
	if (how == MP_MCAST_LIVE && s->repair != NULL
		&& msg.incarnation == s->incarnation) {
	    if (msg.route == MP_CMSG_HEARTBEAT) {
		return 0;
	    }
	    Hold(mc, s, bytes, len, msg.seq, 0);	/* After the repair. */
	    return 0;
	}
	if (msg.incarnation > s->incarnation) {
	    /*
	     * Restarted: its numbers start at 1 again, so those before this
	     * one were lost.
	     */

	    unsigned long long before = msg.seq
		    - (msg.route == MP_CMSG_HEARTBEAT ? 0 : 1);

	    s->incarnation = msg.incarnation;
	    MpMcastGap(mc, s, 1, before);
	    s->lastSeq = msg.seq;
	} else if (msg.seq <= s->lastSeq) {
	    if (msg.route != MP_CMSG_HEARTBEAT && how != MP_MCAST_REPAIR) {
		mc->stats.duplicates++;
	    }
	    return 0;
	} else {
	    unsigned long long last = msg.seq
		    - (msg.route == MP_CMSG_HEARTBEAT ? 0 : 1);

	    if (last > s->lastSeq && mc->retransmit > 0 && s->repairPort > 0
		    && ((how == MP_MCAST_LIVE && from != NULL)
		    || how == MP_MCAST_HELD)) {
		/*
		 * Ask for what is missing; this datagram waits for it (a
		 * held one, after a repair that ended before it, first of
		 * those still held). Each repair moves lastSeq past its
		 * range (FinishAsk), so asks end.
		 */

		if (from != NULL) {
		    s->addr = *from;
		}
		if (msg.route != MP_CMSG_HEARTBEAT) {
		    Hold(mc, s, bytes, len, msg.seq, how == MP_MCAST_HELD);
		}
		MpMcastAsk(mc, s, s->lastSeq + 1, last);
		return 0;
	    }
	    MpMcastGap(mc, s, s->lastSeq + 1, last);
	    s->lastSeq = msg.seq;
	}
    } else {
	mc->stats.untracked++;
    }
    if (s != NULL && from != NULL && how == MP_MCAST_LIVE) {
	s->addr = *from;
    }
    if (msg.route == MP_CMSG_HEARTBEAT) {
	if (s != NULL && msg.dataLen == 2) {
	    s->repairPort = ((unsigned char) msg.data[0] << 8)
		    | (unsigned char) msg.data[1];
	}
	return 0;
    }
    mc->stats.received++;
    if (how == MP_MCAST_REPAIR) {
	mc->stats.repaired++;
    }
    if (mp->destroyed) {
	return 1;
    }
    mc->refCount++;
    if (how == MP_MCAST_LIVE) {
	/*
	 * Readable fans out the batch after its last datagram.
	 */

	mc->stats.delivered += MpRemoteDeliver(mp, &mc->batch, &msg);
    } else {
	mc->stats.delivered += MpRemoteBatchFlush(&mc->batch);
	mc->stats.delivered += (Tcl_WideUInt) MpFanoutEnvelope(mp, &msg);
    }
    MpMulticastUnref(mc);
    return 1;
}
