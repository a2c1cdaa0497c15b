/*
 * mpRemote.c --
 *
 *	Delivery of a message another node sent (through Redis, mpCluster.c,
 *	or a multicast group, mpMulticast.c) to this instance's clients, from
 *	its envelope (mpClusterMsg.h): to every client, or to the local
 *	members of the groups it names, with "NODE/CHAN" as the sender the
 *	output filters see.
 */

#include "mpInt.h"
#include "mpClusterMsg.h"

/*
 *----------------------------------------------------------------------
 *
 * MpFanoutEnvelope --
 *
 *	Delivers the message of a parsed envelope (not a heartbeat) as a
 *	local one (MpFanoutRemote). The caller holds a reference on
 *	whatever of its own the output filters (Tcl code) might free; the
 *	instance is held here.
 *
 * Results:
 *	How many recipients it was queued for.
 *
 * Side effects:
 *	Fans out; output filters may run Tcl code.
 *
 *----------------------------------------------------------------------
 */

int
MpFanoutEnvelope(
    MpInstance *mp,
    const MpCmsg *msg)
{
    MpRemoteRoute route;
    MpGroup *found[64], **groups = found;
    const unsigned char *pos = msg->groups;
    unsigned i;
    int n;

    if (mp->destroyed) {
	return 0;
    }
    route.groups = (msg->route != MP_CMSG_ALL);
    route.groupCount = 0;
    if (msg->groupCount > sizeof(found) / sizeof(found[0])) {
	groups = (MpGroup **) MpAlloc(msg->groupCount * sizeof(MpGroup *));
    }
    for (i = 0; i < msg->groupCount; i++) {
	MpCmsgName name;
	char small[256], *text = small;
	MpGroup *g;

	pos = MpCmsgNextGroup(pos, &name);
	if (name.len >= sizeof(small)) {
	    text = (char *) MpAlloc(name.len + 1);
	}
	memcpy(text, name.bytes, name.len);
	text[name.len] = '\0';
	g = MpGroupFind(mp, text);
	if (g != NULL) {
	    groups[route.groupCount++] = g;
	}
	if (text != small) {
	    MpFree(text);
	}
    }
    route.groupList = groups;
    route.fromName = NULL;	/* Only output filters see it. */
    if (mp->filters[MP_FILTER_OUTPUT].count > 0) {
	route.fromName = Tcl_ObjPrintf("%.*s/%.*s", (int) msg->nodeLen,
		msg->node, (int) msg->senderLen, msg->sender);
	Tcl_IncrRefCount(route.fromName);
    }
    MpInstanceRef(mp);
    n = MpFanoutRemote(mp, msg->data, msg->dataLen, &route);
    MpInstanceUnref(mp);
    if (route.fromName != NULL) {
	Tcl_DecrRefCount(route.fromName);
    }
    if (groups != found) {
	MpFree(groups);
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRemoteDeliver --
 *
 *	Delivers the message of a parsed envelope as MpFanoutEnvelope does,
 *	but a message to every client goes into the member's batch b (see
 *	MpRemoteBatchAdd), to be fanned out with the others of the same
 *	read when the member flushes it; anything else first flushes the
 *	batch, so that the messages keep their order.
 *
 * Results:
 *	The deliveries made now (recipients times messages): a message
 *	batched is counted when the batch is flushed (MpRemoteBatchFlush).
 *
 * Side effects:
 *	Fans out; output filters may run Tcl code (never while the batch
 *	holds messages: with output filters nothing is batched).
 *
 *----------------------------------------------------------------------
 */

Tcl_WideUInt
MpRemoteDeliver(
    MpInstance *mp,
    MpBatch *b,
    const MpCmsg *msg)
{
    Tcl_WideUInt n;

    if (msg->route == MP_CMSG_ALL
	    && MpRemoteBatchAdd(b, mp, msg->data, msg->dataLen) == 0) {
	return 0;
    }
    n = MpRemoteBatchFlush(b);
    return n + (Tcl_WideUInt) MpFanoutEnvelope(mp, msg);
}

/*
 *----------------------------------------------------------------------
 *
 * MpRemoteNoteGap --
 *
 *	Logs (at warn level) that the messages first..last of a node's
 *	incarnation never came: one line for this gap, unless a line about
 *	gaps was logged less than a second ago, in which case the gap is
 *	only counted, and the next line says how many went unlogged. The
 *	member's status counts every gap, per sender.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	A line in the instance's log queue (MpLog: no Tcl code runs here);
 *	updates g.
 *
 *----------------------------------------------------------------------
 */

void
MpRemoteNoteGap(
    MpInstance *mp,
    MpGapLog *g,
    const char *kind,		/* "cluster", "multicast" ... */
    const char *name,		/* ... and its name, or "". */
    const char *node,		/* The sender's node id ... */
    size_t nodeLen,		/* ... of this many bytes. */
    unsigned long long incarnation,
    unsigned long long first,
    unsigned long long last)
{
    Tcl_WideInt now = MpNowMs();
    unsigned long long n = last - first + 1;

    if (g->at != 0 && now - g->at < 1000) {
	g->quiet++;
	return;
    }
    if (g->quiet > 0) {
	MpLog(mp, MP_LOG_WARN, "%s%s%s: %llu message%s of node %.*s"
		" (incarnation %llu) missing: %llu to %llu (and %llu more"
		" gap%s since the last line)", kind, name[0] ? " " : "", name,
		n, n == 1 ? "" : "s", (int) nodeLen, node, incarnation, first,
		last, (unsigned long long) g->quiet, g->quiet == 1 ? "" : "s");
    } else {
	MpLog(mp, MP_LOG_WARN, "%s%s%s: %llu message%s of node %.*s"
		" (incarnation %llu) missing: %llu to %llu", kind,
		name[0] ? " " : "", name, n, n == 1 ? "" : "s", (int) nodeLen,
		node, incarnation, first, last);
    }
    g->at = now;
    g->quiet = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpNodeIdentity --
 *
 *	A new incarnation for a node joining a cluster or a multicast group
 *	(the wall clock in microseconds, so that a node that starts again
 *	has a larger one, times 4096 plus 12 bits mixed from addresses that
 *	differ between processes), and a default node id drawn from it and salt
 *	("n" and 12 hex digits).
 *
 * Results:
 *	The incarnation; the id in idBuf (idSize >= 16).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static unsigned long long
Mix(
    unsigned long long x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

unsigned long long
MpNodeIdentity(
    const void *salt,
    char *idBuf,
    size_t idSize)
{
    Tcl_Time now;
    unsigned long long inc;

    Tcl_GetTime(&now);
    inc = (unsigned long long) now.sec * 1000000ULL
	    + (unsigned long long) now.usec;
    inc = (inc << 12) | (Mix((unsigned long long) (size_t) salt
	    ^ (unsigned long long) MpNowMs()) & 0xfffULL);
    snprintf(idBuf, idSize, "n%012llx",
	    Mix(inc ^ (unsigned long long) (size_t) salt) & 0xffffffffffffULL);
    return inc;
}
