/*
 * mpCluster.c --
 *
 *	An instance as one node of a cluster joined through Redis pub/sub.
 *	Every message the instance fans out to its own clients is published
 *	once, in an envelope (mpClusterMsg.h) carrying the node id, the
 *	node's incarnation and a sequence number, on one Redis channel; the
 *	node subscribes to that channel on a second connection and delivers
 *	what other nodes published to its clients as a local message
 *	(MpFanoutRemote), dropping its own (echoes) and counting, per
 *	sender, the sequence numbers that never arrived (gaps). Nothing is
 *	queued while Redis is unreachable: messages are dropped and counted,
 *	local fan-out goes on untouched, and the links reconnect by
 *	themselves (mpRedisLink.c).
 *
 *	Deliveries may run output filters (Tcl code) that leave the cluster
 *	or destroy the instance: the cluster record and the instance are
 *	held by reference while a delivery runs, and the links defer their
 *	own freeing (mpRedisLink.c).
 */

#include "mpCluster.h"
#include "mpClusterMsg.h"

static void		PubReady(void *clientData, MpRedisLink *link);
static void		PubReply(void *clientData, MpRedisLink *link,
			    MpRespReply *reply);
static void		PubLost(void *clientData, MpRedisLink *link,
			    const char *why, size_t dropped);
static void		SubReady(void *clientData, MpRedisLink *link);
static void		SubReply(void *clientData, MpRedisLink *link,
			    MpRespReply *reply);
static void		SubLost(void *clientData, MpRedisLink *link,
			    const char *why, size_t dropped);
static void		Receive(MpCluster *cl, const char *bytes, size_t len);
static int		Track(MpCluster *cl, const MpCmsg *msg);

static const MpRedisLinkProcs pubProcs = {PubReady, PubReply, PubLost};
static const MpRedisLinkProcs subProcs = {SubReady, SubReply, SubLost};

/*
 * The subscribing link queues only SUBSCRIBE.
 */

#define SUB_MAX_PENDING 65536

/*
 *----------------------------------------------------------------------
 *
 * MpClusterStart --
 *
 *	Makes the cluster's two links (which start connecting at once, in
 *	the background) and makes cl the instance's membership.
 *
 * Results:
 *	TCL_OK.
 *
 * Side effects:
 *	Sets mp->cluster; the cluster takes the instance's reference.
 *
 *----------------------------------------------------------------------
 */

int
MpClusterStart(
    MpInstance *mp,
    MpCluster *cl)
{
    cl->mp = mp;
    cl->refCount = 1;
    Tcl_InitHashTable(&cl->senders, TCL_STRING_KEYS);
    cl->pub = MpRedisLinkNew(mp->loop, &cl->target, "publish", &pubProcs,
	    cl, cl->maxPending);
    cl->sub = MpRedisLinkNew(mp->loop, &cl->target, "subscribe",
	    &subProcs, cl, SUB_MAX_PENDING);
    mp->cluster = cl;
    MpLog(mp, MP_LOG_INFO, "cluster %s: node %s joining through %s",
	    Tcl_GetString(cl->nameObj), cl->node, Tcl_GetString(cl->urlObj));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClusterLeave, MpClusterUnref --
 *
 *	Ends the instance's membership (Cluster leave, teardown): the links
 *	close and the record is freed once no delivery uses it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the Redis connections; clears mp->cluster.
 *
 *----------------------------------------------------------------------
 */

void
MpClusterLeave(
    MpInstance *mp)
{
    MpCluster *cl = mp->cluster;

    if (cl == NULL) {
	return;
    }
    mp->cluster = NULL;
    cl->left = 1;
    MpRedisLinkFree(cl->pub);
    MpRedisLinkFree(cl->sub);
    cl->pub = cl->sub = NULL;
    MpLog(mp, MP_LOG_INFO, "cluster %s: node %s left",
	    Tcl_GetString(cl->nameObj), cl->node);
    MpClusterUnref(cl);
}

void
MpClusterUnref(
    MpCluster *cl)
{
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;

    if (--cl->refCount > 0) {
	return;
    }
    for (hPtr = Tcl_FirstHashEntry(&cl->senders, &search); hPtr != NULL;
	    hPtr = Tcl_NextHashEntry(&search)) {
	MpFree(Tcl_GetHashValue(hPtr));
    }
    Tcl_DeleteHashTable(&cl->senders);
    Tcl_DecrRefCount(cl->urlObj);
    Tcl_DecrRefCount(cl->nameObj);
    MpFree(cl->target.host);
    if (cl->target.user != NULL) {
	MpFree(cl->target.user);
    }
    if (cl->target.password != NULL) {
	MpFree(cl->target.password);
    }
    MpFree(cl->channel);
    MpFree(cl->node);
    MpFree(cl);
}

/*
 *----------------------------------------------------------------------
 *
 * MpClusterConnected, MpClusterPending --
 *
 *	Whether the node publishes and receives (both links up, the
 *	subscription confirmed); how many bytes wait to go to Redis.
 *
 *----------------------------------------------------------------------
 */

int
MpClusterConnected(
    const MpCluster *cl)
{
    return cl->pub != NULL && MpRedisLinkReady(cl->pub)
	    && cl->sub != NULL && MpRedisLinkReady(cl->sub) && cl->subscribed;
}

size_t
MpClusterPending(
    const MpCluster *cl)
{
    return cl->pub != NULL ? MpRedisLinkPending(cl->pub) : 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClusterPublish --
 *
 *	Publishes one message the instance is fanning out to its clients:
 *	from a client (from, with the sender's groups when groupsOf is
 *	set), or from the server (from NULL, or the excluded channel of
 *	MultiPlex), to one group when group is set. The message takes the
 *	next sequence number even when it cannot be sent, so that the
 *	other nodes see the gap.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues a PUBLISH on the publish link, or counts a drop.
 *
 *----------------------------------------------------------------------
 */

void
MpClusterPublish(
    MpInstance *mp,
    MpClient *from,
    const char *data,
    size_t len,
    MpGroup *group,
    MpClient *groupsOf)
{
    MpCluster *cl = mp->cluster;
    MpCmsgName names[64], *list = names;
    unsigned count = 0, i;
    int route = MP_CMSG_ALL;
    const char *sender = "";
    size_t senderLen = 0, hlen, envLen, need, n;
    char *p;

    if (cl == NULL || cl->left) {
	return;
    }
    if (group != NULL) {
	route = MP_CMSG_GROUP;
	names[0].bytes = (const char *) Tcl_GetHashKey(&mp->groups,
		group->hPtr);
	names[0].len = strlen(names[0].bytes);
	count = 1;
    } else if (groupsOf != NULL) {
	route = MP_CMSG_GROUPS;
	if (groupsOf->groupCount == 0) {
	    return;		/* Nobody anywhere gets it. */
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
    cl->seq++;
    hlen = MpCmsgHeaderSize(cl->nodeLen, senderLen, list, count);
    envLen = hlen + len;

    /*
     * PUBLISH channel envelope, written as RESP straight into the link's
     * buffer: the message is copied once.
     */

    need = 4 + 13 + MP_RESP_HEADER_MAX + cl->channelLen + 2
	    + MP_RESP_HEADER_MAX + envLen + 2;
    p = (hlen == 0) ? NULL : MpRedisLinkReserve(cl->pub, need);
    if (p == NULL) {
	cl->stats.dropped++;
    } else {
	n = MpRespArrayHeader(p, 3);
	n += MpRespBulkHeader(p + n, 7);
	memcpy(p + n, "PUBLISH\r\n", 9);
	n += 9;
	n += MpRespBulkHeader(p + n, cl->channelLen);
	memcpy(p + n, cl->channel, cl->channelLen);
	n += cl->channelLen;
	p[n++] = '\r';
	p[n++] = '\n';
	n += MpRespBulkHeader(p + n, envLen);
	n += MpCmsgWriteHeader((unsigned char *) p + n, route,
		cl->incarnation, cl->seq, cl->node, cl->nodeLen, sender,
		senderLen, list, count);
	if (len > 0) {
	    memcpy(p + n, data, len);
	    n += len;
	}
	p[n++] = '\r';
	p[n++] = '\n';
	MpRedisLinkCommit(cl->pub, n, 1);
	cl->stats.published++;
    }
    if (list != names) {
	MpFree(list);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * NoteLost, NoteReady --
 *
 *	A link was lost (logged once until it is ready again), or became
 *	ready (logged, counted as a reconnect after a loss).
 *
 *----------------------------------------------------------------------
 */

static void
NoteLost(
    MpCluster *cl,
    MpRedisLink *link,
    int *lostFlag,
    const char *role,
    const char *why)
{
    snprintf(cl->lastError, sizeof(cl->lastError), "%s link: %s", role,
	    why);
    if (!*lostFlag) {
	*lostFlag = 1;
	MpLog(cl->mp, MpRedisLinkConnects(link) > 0 ? MP_LOG_WARN
		: MP_LOG_NOTICE, "cluster %s: %s link to %s:%d: %s; retrying",
		Tcl_GetString(cl->nameObj), role, cl->target.host,
		cl->target.port, why);
    }
}

static void
NoteReady(
    MpCluster *cl,
    MpRedisLink *link,
    int *lostFlag,
    const char *role)
{
    if (MpRedisLinkConnects(link) > 1) {
	cl->stats.reconnects++;
    }
    if (*lostFlag || MpRedisLinkConnects(link) == 1) {
	MpLog(cl->mp, MP_LOG_NOTICE, "cluster %s: %s link connected to %s:%d",
		Tcl_GetString(cl->nameObj), role, cl->target.host,
		cl->target.port);
    }
    *lostFlag = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * PubReady, PubReply, PubLost --
 *
 *	The publish link's callbacks: PUBLISH replies are counts of
 *	receivers (ignored) or errors (counted, kept as lasterror).
 *
 *----------------------------------------------------------------------
 */

static void
PubReady(
    void *clientData,
    MpRedisLink *link)
{
    MpCluster *cl = (MpCluster *) clientData;

    NoteReady(cl, link, &cl->pubLost, "publish");
}

static void
PubReply(
    void *clientData,
    MpRedisLink *link,
    MpRespReply *reply)
{
    MpCluster *cl = (MpCluster *) clientData;

    (void) link;
    if (reply->type == MP_RESP_ERROR) {
	cl->stats.redisErrors++;
	snprintf(cl->lastError, sizeof(cl->lastError), "Redis: %.200s",
		reply->str);
	if (cl->stats.redisErrors == 1) {
	    MpLog(cl->mp, MP_LOG_WARN, "cluster %s: Redis refused a "
		    "PUBLISH: %.200s", Tcl_GetString(cl->nameObj), reply->str);
	}
    }
}

static void
PubLost(
    void *clientData,
    MpRedisLink *link,
    const char *why,
    size_t dropped)
{
    MpCluster *cl = (MpCluster *) clientData;

    cl->stats.dropped += dropped;
    NoteLost(cl, link, &cl->pubLost, "publish", why);
}

/*
 *----------------------------------------------------------------------
 *
 * SubReady, SubReply, SubLost --
 *
 *	The subscribe link's callbacks: once connected it subscribes to the
 *	cluster's channel; then every pub/sub message is received.
 *
 *----------------------------------------------------------------------
 */

static void
SubReady(
    void *clientData,
    MpRedisLink *link)
{
    MpCluster *cl = (MpCluster *) clientData;
    const char *argv[2];
    size_t lens[2];

    argv[0] = "SUBSCRIBE";
    lens[0] = 9;
    argv[1] = cl->channel;
    lens[1] = cl->channelLen;
    cl->subscribed = 0;
    (void) MpRedisLinkCommand(link, 2, argv, lens);
    NoteReady(cl, link, &cl->subLost, "subscribe");
}

static void
SubReply(
    void *clientData,
    MpRedisLink *link,
    MpRespReply *reply)
{
    MpCluster *cl = (MpCluster *) clientData;
    MpRespReply *kind;

    (void) link;
    if (reply->type == MP_RESP_ERROR) {
	cl->stats.redisErrors++;
	snprintf(cl->lastError, sizeof(cl->lastError), "Redis: %.200s",
		reply->str);
	MpLog(cl->mp, MP_LOG_WARN, "cluster %s: Redis refused SUBSCRIBE: "
		"%.200s", Tcl_GetString(cl->nameObj), reply->str);
	return;
    }
    if (reply->type != MP_RESP_ARRAY || reply->count < 3
	    || (kind = reply->elem[0]) == NULL
	    || kind->type != MP_RESP_STRING) {
	return;
    }
    if (kind->len == 7 && memcmp(kind->str, "message", 7) == 0
	    && reply->elem[2] != NULL
	    && reply->elem[2]->type == MP_RESP_STRING) {
	Receive(cl, reply->elem[2]->str, reply->elem[2]->len);
    } else if (kind->len == 9 && memcmp(kind->str, "subscribe", 9) == 0) {
	cl->subscribed = 1;
    }
}

static void
SubLost(
    void *clientData,
    MpRedisLink *link,
    const char *why,
    size_t dropped)
{
    MpCluster *cl = (MpCluster *) clientData;

    (void) dropped;
    cl->subscribed = 0;
    NoteLost(cl, link, &cl->subLost, "subscribe", why);
}

/*
 *----------------------------------------------------------------------
 *
 * Track --
 *
 *	Checks a message's sequence number against what its sender sent
 *	before: a new incarnation (the sender restarted) starts afresh, a
 *	number seen before is a duplicate, a jump counts the missing ones
 *	as gaps.
 *
 * Results:
 *	1: deliver it; 0: drop it (a duplicate).
 *
 * Side effects:
 *	Updates the sender's record and the counters.
 *
 *----------------------------------------------------------------------
 */

static int
Track(
    MpCluster *cl,
    const MpCmsg *msg)
{
    char key[256];
    Tcl_HashEntry *hPtr;
    MpClusterSender *s;
    int isNew;

    memcpy(key, msg->node, msg->nodeLen);
    key[msg->nodeLen] = '\0';
    if (cl->senderCount >= MP_CLUSTER_MAX_SENDERS) {
	hPtr = Tcl_FindHashEntry(&cl->senders, key);
	if (hPtr == NULL) {
	    cl->stats.untracked++;
	    return 1;
	}
	isNew = 0;
    } else {
	hPtr = Tcl_CreateHashEntry(&cl->senders, key, &isNew);
    }
    if (isNew) {
	s = (MpClusterSender *) MpAlloc(sizeof(MpClusterSender));
	s->incarnation = msg->incarnation;
	s->lastSeq = msg->seq;
	Tcl_SetHashValue(hPtr, s);
	cl->senderCount++;
	return 1;
    }
    s = (MpClusterSender *) Tcl_GetHashValue(hPtr);
    if (s->incarnation != msg->incarnation) {
	s->incarnation = msg->incarnation;
	s->lastSeq = msg->seq;
	return 1;
    }
    if (msg->seq <= s->lastSeq) {
	cl->stats.duplicates++;
	return 0;
    }
    cl->stats.gaps += msg->seq - s->lastSeq - 1;
    s->lastSeq = msg->seq;
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * Receive --
 *
 *	One pub/sub message: parse the envelope, drop what is malformed,
 *	ours, or a duplicate, and deliver the rest to the local clients
 *	(to the local members of its groups for a group message).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Fans out (output filters may run Tcl code); counters.
 *
 *----------------------------------------------------------------------
 */

static void
Receive(
    MpCluster *cl,
    const char *bytes,
    size_t len)
{
    MpInstance *mp = cl->mp;
    MpCmsg msg;
    MpRemoteRoute route;
    MpGroup *found[64], **groups = found;
    const unsigned char *pos;
    unsigned i;
    int n;

    if (MpCmsgParse((const unsigned char *) bytes, len, &msg) != 0) {
	cl->stats.malformed++;
	return;
    }
    if (msg.nodeLen == cl->nodeLen
	    && memcmp(msg.node, cl->node, cl->nodeLen) == 0) {
	cl->stats.echoes++;
	return;
    }
    if (!Track(cl, &msg)) {
	return;
    }
    cl->stats.received++;
    if (mp->destroyed) {
	return;
    }
    route.groups = (msg.route != MP_CMSG_ALL);
    route.groupCount = 0;
    if (msg.groupCount > sizeof(found) / sizeof(found[0])) {
	groups = (MpGroup **) MpAlloc(msg.groupCount * sizeof(MpGroup *));
    }
    pos = msg.groups;
    for (i = 0; i < msg.groupCount; i++) {
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
    route.fromName = Tcl_ObjPrintf("%.*s/%.*s", (int) msg.nodeLen, msg.node,
	    (int) msg.senderLen, msg.sender);
    Tcl_IncrRefCount(route.fromName);
    cl->refCount++;
    MpInstanceRef(mp);
    n = MpFanoutRemote(mp, msg.data, msg.dataLen, &route);
    cl->stats.delivered += (Tcl_WideUInt) n;
    MpInstanceUnref(mp);
    Tcl_DecrRefCount(route.fromName);
    if (groups != found) {
	MpFree(groups);
    }
    MpClusterUnref(cl);
}
