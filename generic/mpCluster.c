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
static void		QueryReady(void *clientData, MpRedisLink *link);
static void		QueryReply(void *clientData, MpRedisLink *link,
			    MpRespReply *reply);
static void		QueryLost(void *clientData, MpRedisLink *link,
			    const char *why, size_t dropped);
static void		Receive(MpCluster *cl, const char *bytes, size_t len,
			    int how);
static void		StartRecovery(MpCluster *cl);
static void		Query(MpCluster *cl);
static void		EndRecovery(MpCluster *cl);
static void		FlushBatch(MpCluster *cl);
static void		FreeSubs(MpCluster *cl);
static void		SubReadDone(void *clientData, MpRedisLink *link);
static void		QueryReadDone(void *clientData, MpRedisLink *link);
static int		SendCmd(MpCluster *cl, MpClusterCmd *cmd);

/*
 * How Receive got a message.
 */

enum {
    RECV_LIVE,			/* From the subscription. */
    RECV_RECOVERY,		/* From the stream (XRANGE). */
    RECV_HELD			/* Held during a recovery, delivered after it:
				 * a gap it shows is not recovered again. */
};

/*
 * The script that publishes with -recover: the message goes into the
 * capped stream (which expires -recoverttl seconds after the last one,
 * so that a cluster no node uses any more leaves nothing behind), and is
 * published with its stream id in front, so that receivers know where
 * to resume.
 */

static const char recoverScript[] =
    "local id=redis.call('XADD',KEYS[1],'MAXLEN','~',ARGV[2],'*','m',"
    "ARGV[1]) redis.call('EXPIRE',KEYS[1],ARGV[4]) "
    "redis.call('PUBLISH',ARGV[3],id..' '..ARGV[1]) return id";

/*
 * Stream entries fetched per XRANGE.
 */

#define RECOVER_PAGE 1000

static const MpRedisLinkProcs pubProcs = {PubReady, PubReply, PubLost,
	NULL};
static const MpRedisLinkProcs subProcs = {SubReady, SubReply, SubLost,
	SubReadDone};
static const MpRedisLinkProcs queryProcs = {QueryReady, QueryReply,
	QueryLost, QueryReadDone};

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
    cl->pubVerb = cl->sharded ? "SPUBLISH" : "PUBLISH";
    if (cl->sharded) {
	(void) MpClusterShardStart(cl);
    } else {
	MpClusterSub *sub = (MpClusterSub *) MpAlloc(sizeof(MpClusterSub));

	memset(sub, 0, sizeof(MpClusterSub));
	sub->chans = (int *) MpAlloc(sizeof(int));
	sub->chans[0] = 0;
	sub->chanCount = 1;
	MpClusterSetLinks(cl, &cl->target, 0, sub, 1);
    }
    if (cl->recover > 0) {
	cl->query = MpRedisLinkNew(mp->loop, &cl->target, "query",
		&queryProcs, cl, SUB_MAX_PENDING);
    }
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
    FlushBatch(cl);
    mp->cluster = NULL;
    cl->left = 1;
    MpClusterShardStop(cl);
    MpClusterFreeLinks(cl);
    MpRedisLinkFree(cl->query);
    cl->query = NULL;
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
    int i;

    if (--cl->refCount > 0) {
	return;
    }
    for (hPtr = Tcl_FirstHashEntry(&cl->senders, &search); hPtr != NULL;
	    hPtr = Tcl_NextHashEntry(&search)) {
	MpFree(Tcl_GetHashValue(hPtr));
    }
    Tcl_DeleteHashTable(&cl->senders);
    MpBatchRelease(&cl->batch);
    while (cl->unackedFirst != NULL) {
	MpClusterCmd *cmd = cl->unackedFirst;

	cl->unackedFirst = cmd->next;
	MpFree(cmd);
    }
    while (cl->retainedFirst != NULL) {
	MpClusterCmd *cmd = cl->retainedFirst;

	cl->retainedFirst = cmd->next;
	MpFree(cmd);
    }
    while (cl->heldFirst != NULL) {
	MpClusterHeld *h = cl->heldFirst;

	cl->heldFirst = h->next;
	MpFree(h);
    }
    if (cl->streamKey != NULL) {
	MpFree(cl->streamKey);
    }
    if (cl->pubTarget.host != NULL) {
	MpFree(cl->pubTarget.host);
    }
    Tcl_DecrRefCount(cl->urlObj);
    Tcl_DecrRefCount(cl->nameObj);
    MpFree(cl->target.host);
    if (cl->target.user != NULL) {
	MpFree(cl->target.user);
    }
    if (cl->target.password != NULL) {
	MpFree(cl->target.password);
    }
    for (i = 0; i < cl->chanCount; i++) {
	MpFree(cl->chans[i]);
    }
    MpFree(cl->chans);
    MpFree(cl->chanLens);
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
    int i;

    if (cl->pub == NULL || !MpRedisLinkReady(cl->pub) || cl->subCount == 0) {
	return 0;
    }
    for (i = 0; i < cl->subCount; i++) {
	const MpClusterSub *sub = &cl->subs[i];

	if (!MpRedisLinkReady(sub->link)
		|| sub->confirmed < sub->chanCount) {
	    return 0;
	}
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClusterSetLinks, MpClusterFreeLinks --
 *
 *	Replace the publish link (unless keepPub: its master is the same)
 *	and the subscribed links (the cluster takes subs, an array of
 *	subCount; a sharded cluster's subs own their targets), or close and
 *	free them. A subscribed link whose master and channels are the same
 *	in subs and whose subscriptions are all confirmed is kept, moved to
 *	its new place: a slot map change closes only the links it touches,
 *	and the messages of the other channels flow on.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes and opens connections (in the background).
 *
 *----------------------------------------------------------------------
 */

void
MpClusterFreeLinks(
    MpCluster *cl)
{
    FlushBatch(cl);		/* What the links brought goes first. */
    MpRedisLinkFree(cl->pub);
    cl->pub = NULL;
    FreeSubs(cl);
    cl->subs = NULL;
    cl->subCount = 0;
}

/*
 * FreeSubs --
 *	Frees the cluster's subscribed links (those still there: a link
 *	kept across a map change was moved out) and the array.
 */

static void
FreeSubs(
    MpCluster *cl)
{
    int i;

    for (i = 0; i < cl->subCount; i++) {
	MpClusterSub *sub = &cl->subs[i];

	MpRedisLinkFree(sub->link);
	if (sub->target.host != NULL) {
	    MpFree(sub->target.host);
	}
	MpFree(sub->chans);
    }
    if (cl->subs != NULL) {
	MpFree(cl->subs);
    }
}

static int
SameSub(
    const MpClusterSub *a,
    const MpClusterSub *b)
{
    return a->target.host != NULL && b->target.host != NULL
	    && a->target.port == b->target.port
	    && strcmp(a->target.host, b->target.host) == 0
	    && a->chanCount == b->chanCount
	    && memcmp(a->chans, b->chans, sizeof(int) * (size_t) a->chanCount)
		== 0;
}

void
MpClusterSetLinks(
    MpCluster *cl,
    const MpRedisTarget *pubTarget,
    int keepPub,
    MpClusterSub *subs,
    int subCount)
{
    MpLoop *loop = cl->mp->loop;
    int i, j;

    FlushBatch(cl);		/* What the links brought goes first. */
    if (!keepPub || cl->pub == NULL) {
	MpRedisLinkFree(cl->pub);
	cl->shaLoading = cl->shaLive = 0;
	cl->pub = MpRedisLinkNew(loop, pubTarget, "publish", &pubProcs, cl,
		cl->maxPending);
    }
    for (i = 0; i < subCount; i++) {
	MpClusterSub *sub = &subs[i];

	sub->cl = cl;
	sub->confirmed = 0;
	sub->link = NULL;
	for (j = 0; j < cl->subCount; j++) {
	    MpClusterSub *old = &cl->subs[j];

	    if (old->link != NULL && MpRedisLinkReady(old->link)
		    && old->confirmed >= old->chanCount && SameSub(old, sub)) {
		sub->link = old->link;
		sub->confirmed = old->confirmed;
		sub->subscribedOnce = old->subscribedOnce;
		sub->subscribedAt = old->subscribedAt;
		old->link = NULL;
		MpRedisLinkRebind(sub->link, &sub->target, sub);
		cl->stats.linksKept++;
		break;
	    }
	}
    }
    FreeSubs(cl);
    cl->subs = subs;
    cl->subCount = subCount;
    for (i = 0; i < subCount; i++) {
	MpClusterSub *sub = &subs[i];

	if (sub->link == NULL) {
	    sub->link = MpRedisLinkNew(loop, sub->target.host != NULL
		    ? &sub->target : &cl->target, "subscribe", &subProcs, sub,
		    SUB_MAX_PENDING);
	}
    }
}

size_t
MpClusterPending(
    const MpCluster *cl)
{
    if (cl->recover > 0) {
	return cl->unackedBytes;
    }
    return cl->pub != NULL ? MpRedisLinkPending(cl->pub) : 0;
}

/*
 *----------------------------------------------------------------------
 *
 * PublishRecoverable, SendCmd --
 *
 *	With -recover: the message is published by the script (EVAL) that
 *	also appends it to the stream, and the command is kept until Redis
 *	answers it, so that a connection lost first does not lose it: it is
 *	sent again on the next one (receivers drop a second copy by its
 *	sequence number). While Redis cannot be reached, messages wait,
 *	within -maxpending. SendCmd queues a kept command on the link: as
 *	EVALSHA with the script's digest once SCRIPT LOAD has answered on
 *	this connection (PubReady), else as EVAL with the script's text.
 *
 * Results:
 *	SendCmd: 0, or -1 when the link is down or full.
 *
 * Side effects:
 *	Allocates; queues output; counters.
 *
 *----------------------------------------------------------------------
 */

static int
SendCmd(
    MpCluster *cl,
    MpClusterCmd *cmd)
{
    int sha = cl->shaLive && !cl->shaRefused;
    size_t rest = cmd->len - cmd->argsAt;
    size_t len = sha ? cl->shaHeadLen + rest : cmd->len;
    char *p = cl->pub != NULL ? MpRedisLinkReserve(cl->pub, len) : NULL;

    if (p == NULL) {
	return -1;
    }
    if (sha) {
	/*
	 * The script is loaded on this connection: its digest goes in
	 * place of its text (the other words are the same).
	 */

	memcpy(p, cl->shaHead, cl->shaHeadLen);
	memcpy(p + cl->shaHeadLen, cmd->bytes + cmd->argsAt, rest);
    } else {
	memcpy(p, cmd->bytes, cmd->len);
    }
    cmd->sentSha = sha;
    MpRedisLinkCommit(cl->pub, len, 1);
    return 0;
}

static void
PublishRecoverable(
    MpCluster *cl,
    int route,
    const char *sender,
    size_t senderLen,
    const MpCmsgName *list,
    unsigned count,
    const char *data,
    size_t len,
    size_t hlen)
{
    const char *argv[8];
    size_t lens[8], need, envLen = hlen + len;
    char countText[24], ttlText[24], *env;
    MpClusterCmd *cmd;

    if (hlen == 0) {
	cl->stats.dropped++;
	return;
    }
    snprintf(countText, sizeof(countText), "%d", cl->recover);
    snprintf(ttlText, sizeof(ttlText), "%d", cl->recoverTtl);
    /*
     * EVAL script 1 stream envelope count channel ttl: the stream is the
     * one key (the channel is no key: an ACL user needs the key pattern
     * of the streams and the channel pattern of the channels).
     */

    argv[0] = "EVAL";
    argv[1] = recoverScript;
    argv[2] = "1";
    argv[3] = cl->streamKey;
    argv[4] = NULL;		/* The envelope, written in place below. */
    argv[5] = countText;
    argv[6] = cl->channel;
    argv[7] = ttlText;
    lens[0] = 4;
    lens[1] = sizeof(recoverScript) - 1;
    lens[2] = 1;
    lens[3] = cl->streamKeyLen;
    lens[4] = envLen;
    lens[5] = strlen(countText);
    lens[6] = cl->channelLen;
    lens[7] = strlen(ttlText);
    need = MpRespCommandSize(8, lens);
    if (cl->unackedBytes + need > cl->maxPending) {
	cl->stats.dropped++;
	return;
    }
    cmd = (MpClusterCmd *) MpAlloc(sizeof(MpClusterCmd) + need + envLen);
    cmd->argsAt = MpRespCommandSize(2, lens);	/* "*8", EVAL, script. */
    cmd->sentSha = 0;
    env = cmd->bytes + need;	/* Scratch for the envelope. */
    (void) MpCmsgWriteHeader((unsigned char *) env, route,
	    cl->incarnation, cl->seq, cl->node, cl->nodeLen, sender,
	    senderLen, list, count);
    if (len > 0) {
	memcpy(env + hlen, data, len);
    }
    argv[4] = env;
    cmd->len = MpRespWriteCommand(cmd->bytes, 8, argv, lens);
    cmd->next = NULL;
    if (cl->unackedLast != NULL) {
	cl->unackedLast->next = cmd;
    } else {
	cl->unackedFirst = cmd;
    }
    cl->unackedLast = cmd;
    cl->unackedBytes += cmd->len;
    cl->stats.published++;
    if (cl->pub != NULL && MpRedisLinkReady(cl->pub)) {
	(void) SendCmd(cl, cmd);	/* Or sent when it is ready. */
    }
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
    const char *groupName,	/* One group's, or NULL. */
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
    if (groupName != NULL) {
	route = MP_CMSG_GROUP;
	names[0].bytes = groupName;
	names[0].len = strlen(groupName);
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

    if (cl->recover > 0) {
	PublishRecoverable(cl, route, sender, senderLen, list, count, data,
		len, hlen);
	if (list != names) {
	    MpFree(list);
	}
	return;
    }
    need = 4 + 14 + MP_RESP_HEADER_MAX + cl->channelLen + 2
	    + MP_RESP_HEADER_MAX + envLen + 2;
    p = (hlen == 0 || cl->pub == NULL) ? NULL
	    : MpRedisLinkReserve(cl->pub, need);
    if (p == NULL) {
	cl->stats.dropped++;
    } else {
	size_t verbLen = strlen(cl->pubVerb);

	n = MpRespArrayHeader(p, 3);
	n += MpRespBulkHeader(p + n, verbLen);
	memcpy(p + n, cl->pubVerb, verbLen);
	n += verbLen;
	p[n++] = '\r';
	p[n++] = '\n';
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
 * MpClusterNoteLost, MpClusterNoteReady --
 *
 *	A link was lost (logged once until it is ready again), or became
 *	ready (logged, counted as a reconnect after a loss).
 *
 *----------------------------------------------------------------------
 */

void
MpClusterNoteLost(
    MpCluster *cl,
    MpRedisLink *link,
    int *lostFlag,
    const char *role,
    const char *why)
{
    snprintf(cl->lastError, sizeof(cl->lastError), "%s link: %s", role,
	    why);
    if (!*lostFlag) {
	/*
	 * A first connection that fails is a notice (Redis may not be up
	 * yet); a lost one, or Redis refusing the node (AUTH, SELECT: a
	 * setting to mend), a warning.
	 */

	int refused = strncmp(why, MP_REDIS_REFUSED,
		sizeof(MP_REDIS_REFUSED) - 1) == 0;

	*lostFlag = 1;
	MpLog(cl->mp, MpRedisLinkConnects(link) > 0 || refused ? MP_LOG_WARN
		: MP_LOG_NOTICE, "cluster %s: %s link to %s:%d: %s; retrying",
		Tcl_GetString(cl->nameObj), role, cl->target.host,
		cl->target.port, why);
    }
}

void
MpClusterNoteReady(
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
 *	receivers (ignored) or errors (counted, kept as lasterror). With
 *	-recover, each connection first loads the publishing script (SCRIPT
 *	LOAD; its reply is the digest, after which commands go as EVALSHA);
 *	a Redis that refuses it (an ACL user without +script|load) gets EVAL
 *	with the script's text, as one that answers EVALSHA with NOSCRIPT
 *	(SCRIPT FLUSH) or NOPERM does: the connection is made again and what
 *	was not answered goes again, loaded again or as EVAL.
 *
 *----------------------------------------------------------------------
 */

static void
PubReady(
    void *clientData,
    MpRedisLink *link)
{
    MpCluster *cl = (MpCluster *) clientData;
    MpClusterCmd *cmd;

    MpClusterNoteReady(cl, link, &cl->pubLost, "publish");
    if (cl->recover > 0) {
	cl->shaLoading = cl->shaLive = 0;
	if (!cl->shaRefused) {
	    static const char *const load[3] = {"SCRIPT", "LOAD",
		    recoverScript};
	    size_t lens[3];

	    lens[0] = 6;
	    lens[1] = 4;
	    lens[2] = sizeof(recoverScript) - 1;
	    cl->shaLoading = (MpRedisLinkCommand(link, 3, load, lens) == 0);
	}
	/*
	 * What was never answered goes again, in order, before anything
	 * newer; and, first, the last messages Redis did answer: a Redis
	 * killed may have answered them without passing them on, and one
	 * restarted without persistence has lost its stream. Receivers drop
	 * the copies they had by their sequence numbers.
	 */

	if (MpRedisLinkConnects(link) > 1 && cl->retainedFirst != NULL) {
	    cl->retainedLast->next = cl->unackedFirst;
	    if (cl->unackedFirst == NULL) {
		cl->unackedLast = cl->retainedLast;
	    }
	    cl->unackedFirst = cl->retainedFirst;
	    cl->unackedBytes += cl->retainedBytes;
	    cl->retainedFirst = cl->retainedLast = NULL;
	    cl->retainedCount = cl->retainedBytes = 0;
	}

	for (cmd = cl->unackedFirst; cmd != NULL; cmd = cmd->next) {
	    if (SendCmd(cl, cmd) != 0) {
		break;
	    }
	    if (MpRedisLinkConnects(link) > 1) {
		cl->stats.resent++;
	    }
	}
    }
}

static void
PubReply(
    void *clientData,
    MpRedisLink *link,
    MpRespReply *reply)
{
    MpCluster *cl = (MpCluster *) clientData;

    if (cl->recover > 0 && cl->shaLoading) {
	/*
	 * The first reply of a connection: SCRIPT LOAD's, the script's
	 * SHA-1 digest in hex.
	 */

	cl->shaLoading = 0;
	if (reply->type == MP_RESP_STRING && reply->len == 40
		&& strspn(reply->str, "0123456789abcdef") == 40) {
	    cl->shaHeadLen = (size_t) snprintf(cl->shaHead,
		    sizeof(cl->shaHead), "*8\r\n$7\r\nEVALSHA\r\n$40\r\n%s\r\n",
		    reply->str);
	    cl->shaLive = 1;
	} else {
	    cl->shaRefused = 1;
	    MpLog(cl->mp, MP_LOG_INFO, "cluster %s: Redis refused SCRIPT "
		    "LOAD (%.200s): messages go with the script's text (EVAL)",
		    Tcl_GetString(cl->nameObj), reply->type == MP_RESP_ERROR
		    ? reply->str : "not a digest");
	}
	return;
    }
    if (cl->recover > 0 && cl->unackedFirst != NULL
	    && cl->unackedFirst->sentSha && reply->type == MP_RESP_ERROR
	    && (strncmp(reply->str, "NOSCRIPT", 8) == 0
	    || strncmp(reply->str, "NOPERM", 6) == 0)) {
	/*
	 * Not run: the script cache was flushed, or the user may not
	 * EVALSHA. Nothing after it on this connection can be trusted to
	 * have run in order: the connection is made again, and this
	 * command and those after it go again.
	 */

	char why[240];

	if (strncmp(reply->str, "NOPERM", 6) == 0) {
	    cl->shaRefused = 1;		/* NOPERM: EVAL from now on. */
	}
	cl->shaLive = 0;
	snprintf(why, sizeof(why), "Redis did not run the publishing script "
		"by its digest: %.160s", reply->str);
	MpRedisLinkRestart(link, why);
	return;
    }
    if (cl->recover > 0 && cl->unackedFirst != NULL) {
	MpClusterCmd *cmd = cl->unackedFirst;

	cl->unackedFirst = cmd->next;
	if (cl->unackedFirst == NULL) {
	    cl->unackedLast = NULL;
	}
	cl->unackedBytes -= cmd->len;
	if (reply->type == MP_RESP_ERROR) {
	    cl->stats.dropped++;
	    MpFree(cmd);
	} else {
	    /*
	     * Answered: kept among the last MP_CLUSTER_RETAIN (and within
	     * -maxpending), for a Redis that dies before passing it on.
	     */

	    cmd->next = NULL;
	    if (cl->retainedLast != NULL) {
		cl->retainedLast->next = cmd;
	    } else {
		cl->retainedFirst = cmd;
	    }
	    cl->retainedLast = cmd;
	    cl->retainedCount++;
	    cl->retainedBytes += cmd->len;
	    while (cl->retainedFirst != NULL
		    && (cl->retainedCount > MP_CLUSTER_RETAIN
		    || cl->retainedBytes > cl->maxPending)) {
		MpClusterCmd *old = cl->retainedFirst;

		cl->retainedFirst = old->next;
		if (cl->retainedFirst == NULL) {
		    cl->retainedLast = NULL;
		}
		cl->retainedCount--;
		cl->retainedBytes -= old->len;
		MpFree(old);
	    }
	}
    }
    if (reply->type == MP_RESP_ERROR && cl->sharded
	    && (strncmp(reply->str, "MOVED ", 6) == 0
	    || strncmp(reply->str, "ASK ", 4) == 0)) {
	/*
	 * The slot of our channel moved: that message is lost (counted),
	 * the map is read again and the links follow it.
	 */

	cl->stats.moved++;
	cl->stats.dropped++;
	MpClusterShardRefresh(cl, 0);
	return;
    }
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

    cl->shaLoading = cl->shaLive = 0;	/* Loaded again on the next one. */
    if (cl->recover == 0) {
	cl->stats.dropped += dropped;	/* Else they are sent again. */
    }
    MpClusterNoteLost(cl, link, &cl->pubLost, "publish", why);
    if (cl->sharded) {
	MpClusterShardRefresh(cl, 1000);	/* A failover, maybe. */
    }
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
    MpClusterSub *sub = (MpClusterSub *) clientData;
    MpCluster *cl = sub->cl;
    const char *argv[2];
    size_t lens[2];
    int i;

    /*
     * One command per channel: SSUBSCRIBE takes channels of one slot
     * only.
     */

    argv[0] = cl->sharded ? "SSUBSCRIBE" : "SUBSCRIBE";
    lens[0] = strlen(argv[0]);
    sub->confirmed = 0;
    sub->subscribedOnce = 1;
    sub->subscribedAt = MpNowMs();
    for (i = 0; i < sub->chanCount; i++) {
	argv[1] = cl->chans[sub->chans[i]];
	lens[1] = cl->chanLens[sub->chans[i]];
	(void) MpRedisLinkCommand(link, 2, argv, lens);
    }
    MpClusterNoteReady(cl, link, &sub->lost, "subscribe");
}

static int
AllSubscribed(
    const MpCluster *cl)
{
    int i;

    for (i = 0; i < cl->subCount; i++) {
	if (!MpRedisLinkReady(cl->subs[i].link)
		|| cl->subs[i].confirmed < cl->subs[i].chanCount) {
	    return 0;
	}
    }
    return cl->subCount > 0;
}

static int
KindIs(
    const MpRespReply *kind,
    const char *word)
{
    size_t n = strlen(word);

    return kind->len == n && memcmp(kind->str, word, n) == 0;
}

static void
SubReply(
    void *clientData,
    MpRedisLink *link,
    MpRespReply *reply)
{
    MpClusterSub *sub = (MpClusterSub *) clientData;
    MpCluster *cl = sub->cl;
    MpRespReply *kind;

    (void) link;
    if (reply->type == MP_RESP_ERROR) {
	cl->stats.redisErrors++;
	snprintf(cl->lastError, sizeof(cl->lastError), "Redis: %.200s",
		reply->str);
	MpLog(cl->mp, MP_LOG_WARN, "cluster %s: Redis refused to subscribe: "
		"%.200s", Tcl_GetString(cl->nameObj), reply->str);
	if (cl->sharded && (strncmp(reply->str, "MOVED ", 6) == 0
		|| strncmp(reply->str, "ASK ", 4) == 0)) {
	    cl->stats.moved++;
	    MpClusterShardRefresh(cl, 0);
	}
	return;
    }
    if (reply->type != MP_RESP_ARRAY || reply->count < 3
	    || (kind = reply->elem[0]) == NULL
	    || kind->type != MP_RESP_STRING) {
	return;
    }
    if ((KindIs(kind, "message") || KindIs(kind, "smessage"))
	    && reply->elem[2] != NULL
	    && reply->elem[2]->type == MP_RESP_STRING) {
	Receive(cl, reply->elem[2]->str, reply->elem[2]->len, RECV_LIVE);
    } else if (KindIs(kind, "subscribe") || KindIs(kind, "ssubscribe")) {
	sub->confirmed++;
	if (cl->subWasLost && AllSubscribed(cl)) {
	    /*
	     * The recovery needs the subscriptions and the query link, not
	     * the publishing link (which may come back later).
	     */

	    cl->subWasLost = 0;
	    StartRecovery(cl);
	}
    } else if (KindIs(kind, "sunsubscribe")) {
	/*
	 * Redis ends a sharded subscription when the channel's slot moves
	 * to another master: read the map again and follow it.
	 */

	cl->stats.moved++;
	if (sub->confirmed > 0) {
	    sub->confirmed--;
	}
	MpClusterShardRefresh(cl, 0);
    }
}

static void
SubLost(
    void *clientData,
    MpRedisLink *link,
    const char *why,
    size_t dropped)
{
    MpClusterSub *sub = (MpClusterSub *) clientData;
    MpCluster *cl = sub->cl;

    (void) dropped;
    sub->confirmed = 0;
    if (cl->recover > 0) {
	cl->subWasLost = 1;
    }
    MpClusterNoteLost(cl, link, &sub->lost, "subscribe", why);
    if (cl->sharded) {
	MpClusterShardRefresh(cl, 1000);	/* A failover, maybe. */
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ParseId, NoteId --
 *
 *	A stream id ("MS-SEQ", two decimal numbers) at the start of a
 *	recoverable message, followed by a space; the last id seen is kept
 *	(the largest) as where a recovery resumes.
 *
 * Results:
 *	ParseId: bytes taken (id and space), 0 when there is no id, -1 when
 *	it is malformed.
 *
 *----------------------------------------------------------------------
 */

static int
ParseNumber(
    const char **pp,
    const char *end,
    unsigned long long *valuePtr)
{
    const char *p = *pp;
    unsigned long long v = 0;

    if (p >= end || *p < '0' || *p > '9') {
	return -1;
    }
    while (p < end && *p >= '0' && *p <= '9') {
	if (v > (~0ULL - 9) / 10) {
	    return -1;
	}
	v = v * 10 + (unsigned long long) (*p - '0');
	p++;
    }
    *pp = p;
    *valuePtr = v;
    return 0;
}

static int
ParseId(
    const char *bytes,
    size_t len,
    unsigned long long *msPtr,
    unsigned long long *seqPtr)
{
    const char *p = bytes, *end = bytes + len;

    if (len == 0 || *p < '0' || *p > '9') {
	return 0;
    }
    if (ParseNumber(&p, end, msPtr) != 0 || p >= end || *p++ != '-'
	    || ParseNumber(&p, end, seqPtr) != 0) {
	return -1;
    }
    return (int) (p - bytes);
}

static void
NoteId(
    MpCluster *cl,
    unsigned long long ms,
    unsigned long long seq)
{
    if (!cl->haveLastId || ms > cl->lastIdMs
	    || (ms == cl->lastIdMs && seq > cl->lastIdSeq)) {
	cl->haveLastId = 1;
	cl->lastIdMs = ms;
	cl->lastIdSeq = seq;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * FindSender --
 *
 *	The record of a sending node (made on first sight, within
 *	MP_CLUSTER_MAX_SENDERS).
 *
 * Results:
 *	The record, NULL when the table is full; *isNewPtr says whether it
 *	was just made (its fields are then to be set).
 *
 *----------------------------------------------------------------------
 */

static MpClusterSender *
FindSender(
    MpCluster *cl,
    const MpCmsg *msg,
    int *isNewPtr)
{
    char key[256];
    Tcl_HashEntry *hPtr;
    MpClusterSender *s;

    memcpy(key, msg->node, msg->nodeLen);
    key[msg->nodeLen] = '\0';
    *isNewPtr = 0;
    if (cl->senderCount >= MP_CLUSTER_MAX_SENDERS) {
	hPtr = Tcl_FindHashEntry(&cl->senders, key);
	return hPtr != NULL ? (MpClusterSender *) Tcl_GetHashValue(hPtr)
		: NULL;
    }
    hPtr = Tcl_CreateHashEntry(&cl->senders, key, isNewPtr);
    if (*isNewPtr) {
	s = (MpClusterSender *) MpAlloc(sizeof(MpClusterSender));
	memset(s, 0, sizeof(MpClusterSender));
	Tcl_SetHashValue(hPtr, s);
	cl->senderCount++;
	return s;
    }
    return (MpClusterSender *) Tcl_GetHashValue(hPtr);
}

/*
 *----------------------------------------------------------------------
 *
 * Hold --
 *
 *	Keeps a message that arrived during a recovery, to be delivered
 *	after it, within -maxpending bytes; past that it is dropped and the
 *	recovery queries the stream once more (where the message is).
 *
 *----------------------------------------------------------------------
 */

static void
Hold(
    MpCluster *cl,
    const char *bytes,
    size_t len)
{
    MpClusterHeld *h;

    if (cl->heldBytes + len > cl->maxPending) {
	cl->heldOverflow = 1;
	return;
    }
    h = (MpClusterHeld *) MpAlloc(sizeof(MpClusterHeld) + len);
    h->next = NULL;
    h->len = len;
    memcpy(h->bytes, bytes, len);
    if (cl->heldLast != NULL) {
	cl->heldLast->next = h;
    } else {
	cl->heldFirst = h;
    }
    cl->heldLast = h;
    cl->heldBytes += len;
}

/*
 *----------------------------------------------------------------------
 *
 * Receive --
 *
 *	One message of the cluster's channel (or of its stream): parse the
 *	stream id (with -recover) and the envelope, drop what is malformed
 *	or ours, check the sender's sequence number (a new incarnation
 *	starts afresh, a number seen before is a duplicate, a jump is a
 *	gap: recovered from the stream with -recover, else counted), and
 *	deliver the rest to the local clients, to the local members of its
 *	groups for a group message. During a recovery live messages are
 *	held for after it.
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
    size_t len,
    int how)			/* RECV_*. */
{
    MpInstance *mp = cl->mp;
    MpCmsg msg;
    MpClusterSender *s;
    unsigned long long idMs = 0, idSeq = 0;
    int idLen, isNew;

    if (how == RECV_LIVE && cl->recovering) {
	Hold(cl, bytes, len);
	return;
    }
    idLen = ParseId(bytes, len, &idMs, &idSeq);
    if (idLen < 0 || (idLen > 0 && ((size_t) idLen >= len
	    || bytes[idLen] != ' '))) {
	cl->stats.malformed++;
	return;
    }
    if (idLen > 0) {
	idLen++;		/* The space. */
    }
    if (MpCmsgParse((const unsigned char *) bytes + idLen,
	    len - (size_t) idLen, &msg) != 0) {
	cl->stats.malformed++;
	return;
    }
    if (msg.route == MP_CMSG_HEARTBEAT) {
	cl->stats.malformed++;	/* Nodes send none through Redis. */
	return;
    }
    if (msg.nodeLen == cl->nodeLen
	    && memcmp(msg.node, cl->node, cl->nodeLen) == 0) {
	if (how != RECV_RECOVERY) {
	    cl->stats.echoes++;
	}
	if (idLen > 0) {
	    NoteId(cl, idMs, idSeq);
	}
	return;
    }
    s = FindSender(cl, &msg, &isNew);
    if (s == NULL) {
	cl->stats.untracked++;
    } else if (isNew || s->incarnation != msg.incarnation) {
	s->incarnation = msg.incarnation;
	s->lastSeq = msg.seq;
    } else if (msg.seq <= s->lastSeq) {
	if (how == RECV_LIVE) {
	    cl->stats.duplicates++;	/* Held copies came from the stream. */
	}
	if (idLen > 0) {
	    NoteId(cl, idMs, idSeq);
	}
	return;
    } else if (msg.seq > s->lastSeq + 1 && how == RECV_LIVE
	    && cl->recover > 0 && idLen > 0 && cl->haveLastId) {
	/*
	 * Missing messages, which the stream may hold: fetch them first;
	 * this one comes again from the stream or the held list.
	 */

	Hold(cl, bytes, len);
	StartRecovery(cl);
	return;
    } else {
	if (msg.seq > s->lastSeq + 1) {
	    cl->stats.gaps += msg.seq - s->lastSeq - 1;
	    s->gaps += msg.seq - s->lastSeq - 1;
	    MpRemoteNoteGap(mp, &cl->gapLog, "cluster",
		    Tcl_GetString(cl->nameObj), msg.node, msg.nodeLen,
		    msg.incarnation, s->lastSeq + 1, msg.seq - 1);
	}
	s->lastSeq = msg.seq;
    }
    if (idLen > 0) {
	NoteId(cl, idMs, idSeq);
    }
    cl->stats.received++;
    if (how == RECV_RECOVERY) {
	cl->stats.recovered++;
    }
    if (mp->destroyed) {
	return;
    }
    cl->refCount++;
    cl->stats.delivered += MpRemoteDeliver(mp, &cl->batch, &msg);
    MpClusterUnref(cl);
}

/*
 *----------------------------------------------------------------------
 *
 * FlushBatch, SubReadDone, QueryReadDone --
 *
 *	Fan out the messages of other nodes that Receive batched (see
 *	MpRemoteDeliver): at the end of each read of a subscribed or the
 *	query link, and before the links are closed or the node leaves.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Fans out (no Tcl code runs: nothing is batched with output
 *	filters); counts the deliveries.
 *
 *----------------------------------------------------------------------
 */

static void
FlushBatch(
    MpCluster *cl)
{
    cl->stats.delivered += MpRemoteBatchFlush(&cl->batch);
}

static void
SubReadDone(
    void *clientData,
    MpRedisLink *link)
{
    (void) link;
    FlushBatch(((MpClusterSub *) clientData)->cl);
}

static void
QueryReadDone(
    void *clientData,
    MpRedisLink *link)
{
    (void) link;
    FlushBatch((MpCluster *) clientData);
}

/*
 *----------------------------------------------------------------------
 *
 * StartRecovery, Query, EndRecovery --
 *
 *	A recovery (-recover): after the subscription was lost, or a gap,
 *	the stream is read from the last id seen (XRANGE, a page at a time
 *	on the query link) and its messages delivered, those already
 *	delivered dropped by their sequence numbers; live messages wait in
 *	the held list meanwhile and go after it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Queues XRANGE; delivers (Tcl code may run).
 *
 *----------------------------------------------------------------------
 */

static void
StartRecovery(
    MpCluster *cl)
{
    if (cl->recover == 0 || cl->recovering || cl->left) {
	return;
    }
    if (!cl->haveLastId) {
	/*
	 * Nothing was received yet: there is no place to resume from, and
	 * nothing this node had is missing.
	 */

	return;
    }
    cl->stats.recoveries++;
    cl->recovering = 2;
    Query(cl);
}

static void
Query(
    MpCluster *cl)
{
    const char *argv[6];
    size_t lens[6];
    char from[64], count[24];

    if (cl->query == NULL || !MpRedisLinkReady(cl->query)) {
	cl->recovering = 2;	/* QueryReady sends it. */
	return;
    }
    snprintf(from, sizeof(from), "(%llu-%llu", cl->lastIdMs, cl->lastIdSeq);
    snprintf(count, sizeof(count), "%d", RECOVER_PAGE);
    argv[0] = "XRANGE";
    argv[1] = cl->streamKey;
    argv[2] = from;
    argv[3] = "+";
    argv[4] = "COUNT";
    argv[5] = count;
    lens[0] = 6;
    lens[1] = cl->streamKeyLen;
    lens[2] = strlen(from);
    lens[3] = 1;
    lens[4] = 5;
    lens[5] = strlen(count);
    if (MpRedisLinkCommand(cl->query, 6, argv, lens) != 0) {
	cl->recovering = 2;
	return;
    }
    cl->recovering = 1;
}

static void
EndRecovery(
    MpCluster *cl)
{
    cl->recovering = 0;
    cl->refCount++;
    while (cl->heldFirst != NULL && !cl->left && !cl->recovering) {
	MpClusterHeld *h = cl->heldFirst;

	cl->heldFirst = h->next;
	if (cl->heldFirst == NULL) {
	    cl->heldLast = NULL;
	}
	cl->heldBytes -= h->len;
	Receive(cl, h->bytes, h->len, RECV_HELD);
	MpFree(h);
    }
    MpClusterUnref(cl);
}

/*
 *----------------------------------------------------------------------
 *
 * QueryReady, QueryReply, QueryLost --
 *
 *	The query link's callbacks: a wanted XRANGE goes once it is
 *	connected; a page of entries is delivered, and the next asked for
 *	while pages come full (or held messages were dropped).
 *
 *----------------------------------------------------------------------
 */

static void
QueryReady(
    void *clientData,
    MpRedisLink *link)
{
    MpCluster *cl = (MpCluster *) clientData;

    MpClusterNoteReady(cl, link, &cl->queryLost, "query");
    if (cl->recovering == 2) {
	Query(cl);
    }
}

static void
QueryReply(
    void *clientData,
    MpRedisLink *link,
    MpRespReply *reply)
{
    MpCluster *cl = (MpCluster *) clientData;
    size_t i, entries = 0;

    (void) link;
    if (cl->recovering != 1) {
	return;
    }
    if (reply->type == MP_RESP_ERROR) {
	cl->stats.redisErrors++;
	snprintf(cl->lastError, sizeof(cl->lastError), "Redis: %.200s",
		reply->str);
	MpLog(cl->mp, MP_LOG_WARN, "cluster %s: recovery failed: %.200s",
		Tcl_GetString(cl->nameObj), reply->str);
	EndRecovery(cl);
	return;
    }
    cl->refCount++;
    if (reply->type == MP_RESP_ARRAY) {
	entries = reply->count;
	for (i = 0; i < reply->count && !cl->left; i++) {
	    MpRespReply *e = reply->elem[i], *fields;
	    unsigned long long ms = 0, seq = 0;

	    if (e == NULL || e->type != MP_RESP_ARRAY || e->count != 2
		    || e->elem[0]->type != MP_RESP_STRING
		    || (fields = e->elem[1])->type != MP_RESP_ARRAY
		    || fields->count != 2
		    || fields->elem[1]->type != MP_RESP_STRING
		    || ParseId(e->elem[0]->str, e->elem[0]->len, &ms, &seq)
			!= (int) e->elem[0]->len) {
		cl->stats.malformed++;
		continue;
	    }
	    Receive(cl, fields->elem[1]->str, fields->elem[1]->len,
		    RECV_RECOVERY);
	    NoteId(cl, ms, seq);
	}
    }
    if (!cl->left) {
	if (entries >= RECOVER_PAGE || cl->heldOverflow) {
	    cl->heldOverflow = 0;
	    Query(cl);
	} else {
	    EndRecovery(cl);
	}
    }
    MpClusterUnref(cl);
}

static void
QueryLost(
    void *clientData,
    MpRedisLink *link,
    const char *why,
    size_t dropped)
{
    MpCluster *cl = (MpCluster *) clientData;

    (void) dropped;
    if (cl->recovering == 1) {
	cl->recovering = 2;	/* Asked again when it is back. */
    }
    MpClusterNoteLost(cl, link, &cl->queryLost, "query", why);
}
