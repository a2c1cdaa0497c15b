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
static void		HeartbeatProc(ClientData clientData);
static void		Receive(MpMulticast *mc, const char *bytes,
			    size_t len);
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
    if (MpDgramOpen(group, mc->port, &opts, &fd, &mc->group, &err) != 0) {
	return MpError(interp, "MULTICAST", MpSockErrorId(err),
		"cannot join group %s port %d%s%s: %s", group, mc->port,
		iface != NULL ? " on " : "", iface != NULL ? iface : "",
		MpSockErrorText(err));
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
    mc->buf = (char *) MpAlloc(MP_DGRAM_MAX + 1);
    if (mc->heartbeatMs > 0) {
	mc->heartbeatTimer = Tcl_CreateTimerHandler(mc->heartbeatMs,
		HeartbeatProc, mc);
    }
    mp->multicast = mc;
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
    mp->multicast = NULL;
    mc->left = 1;
    if (mc->heartbeatTimer != NULL) {
	Tcl_DeleteTimerHandler(mc->heartbeatTimer);
	mc->heartbeatTimer = NULL;
    }
    MpLoopUnwatch(mp->loop, &mc->watch);
    MpSockClose(mc->watch.fd);
    mc->watch.fd = MP_INVALID_SOCKET;
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
	MpFree(Tcl_GetHashValue(hPtr));
    }
    Tcl_DeleteHashTable(&mc->senders);
    Tcl_DecrRefCount(mc->groupObj);
    if (mc->ifaceObj != NULL) {
	Tcl_DecrRefCount(mc->ifaceObj);
    }
    MpFree(mc->buf);
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
    ptrdiff_t rc;

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
    rc = MpDgramSend(mc->watch.fd, &mc->group, iov, n, &err);
    if (rc < 0) {
	mc->stats.dropped++;
    } else if (route == MP_CMSG_HEARTBEAT) {
	mc->stats.heartbeats++;
    } else {
	mc->stats.sent++;
    }
    if (hdr != small) {
	MpFree(hdr);
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
    int i;

    (void) mask;
    mc->refCount++;
    for (i = 0; i < MP_MCAST_READS_MAX && !mc->left; i++) {
	int err = 0, truncated = 0;
	ptrdiff_t n = MpDgramRecv(mc->watch.fd, mc->buf, MP_DGRAM_MAX + 1,
		NULL, &truncated, &err);

	if (n < 0) {
	    break;		/* Would block, or an error (ICMP): go on. */
	}
	if (truncated) {
	    mc->stats.malformed++;
	    continue;
	}
	Receive(mc, mc->buf, (size_t) n);
    }
    MpMulticastUnref(mc);
}

/*
 *----------------------------------------------------------------------
 *
 * Receive --
 *
 *	One datagram: parse its envelope; drop what is malformed, ours,
 *	stale or a duplicate; count gaps (a heartbeat only updates the
 *	sender's last number); deliver the rest as a local message.
 *
 *----------------------------------------------------------------------
 */

static void
Receive(
    MpMulticast *mc,
    const char *bytes,
    size_t len)
{
    MpInstance *mp = mc->mp;
    MpCmsg msg;
    MpMcastSender *s = NULL;
    char key[256];
    Tcl_HashEntry *hPtr;
    int isNew = 0, n;

    if (MpCmsgParse((const unsigned char *) bytes, len, &msg) != 0) {
	mc->stats.malformed++;
	return;
    }
    if (msg.nodeLen == mc->nodeLen
	    && memcmp(msg.node, mc->node, mc->nodeLen) == 0) {
	mc->stats.echoes++;
	return;
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
	s->incarnation = msg.incarnation;
	s->lastSeq = msg.seq;
	Tcl_SetHashValue(hPtr, s);
	mc->senderCount++;
    } else if (hPtr != NULL) {
	s = (MpMcastSender *) Tcl_GetHashValue(hPtr);
	if (msg.incarnation < s->incarnation) {
	    mc->stats.stale++;
	    return;
	}
	if (msg.incarnation > s->incarnation) {
	    s->incarnation = msg.incarnation;	/* Restarted. */
	    s->lastSeq = msg.seq;
	} else if (msg.seq <= s->lastSeq) {
	    if (msg.route != MP_CMSG_HEARTBEAT) {
		mc->stats.duplicates++;
	    }
	    return;
	} else {
	    unsigned long long missing = msg.seq - s->lastSeq
		    - (msg.route == MP_CMSG_HEARTBEAT ? 0 : 1);

	    mc->stats.gaps += missing;
	    s->lastSeq = msg.seq;
	}
    } else {
	mc->stats.untracked++;
    }
    if (msg.route == MP_CMSG_HEARTBEAT) {
	return;
    }
    mc->stats.received++;
    if (mp->destroyed) {
	return;
    }
    mc->refCount++;
    n = MpFanoutEnvelope(mp, &msg);
    mc->stats.delivered += (Tcl_WideUInt) n;
    MpMulticastUnref(mc);
}
