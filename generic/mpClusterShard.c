/*
 * mpClusterShard.c --
 *
 *	A cluster over a Redis Cluster with sharded pub/sub (-sharded 1,
 *	Redis 7: SPUBLISH, SSUBSCRIBE). The cluster's messages go over
 *	MP_CLUSTER_SHARD_CHANNELS channels whose hash slots spread them over
 *	the Redis masters; a sharded channel is served by the master of its
 *	slot only, so the node reads the slot map (CLUSTER SLOTS, on a
 *	control connection to the URL's server), publishes to the master of
 *	its own channel and subscribes on one connection per master. It
 *	reads the map again, and moves its connections to follow it, when
 *	Redis answers MOVED or ASK, ends a subscription because a slot moved
 *	(sunsubscribe), or a connection to a master is lost (a failover).
 */

#include "mpCluster.h"

static void		ControlReady(void *clientData, MpRedisLink *link);
static void		ControlReply(void *clientData, MpRedisLink *link,
			    MpRespReply *reply);
static void		ControlLost(void *clientData, MpRedisLink *link,
			    const char *why, size_t dropped);
static void		RefreshProc(ClientData clientData);
static int		SameTarget(const MpRedisTarget *t, const char *host,
			    int port);

static const MpRedisLinkProcs controlProcs = {
    ControlReady, ControlReply, ControlLost, NULL
};

/*
 * A master and the slots it serves, from CLUSTER SLOTS.
 */

typedef struct SlotRange {
    long long first, last;
    char *host;			/* Points into the reply. */
    int port;
} SlotRange;

/*
 *----------------------------------------------------------------------
 *
 * MpClusterKeySlot --
 *
 *	The hash slot of a key or sharded channel, as Redis Cluster computes
 *	it: CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key,
 *	or of the part between the first "{" and the next "}" when that part
 *	is not empty, modulo 16384.
 *
 * Results:
 *	The slot, 0 to 16383.
 *
 *----------------------------------------------------------------------
 */

unsigned
MpClusterKeySlot(
    const char *key,
    size_t len)
{
    size_t i, open = len, close;
    unsigned crc = 0;
    int bit;

    for (i = 0; i < len; i++) {
	if (key[i] == '{') {
	    open = i;
	    break;
	}
    }
    if (open < len) {
	for (close = open + 1; close < len; close++) {
	    if (key[close] == '}') {
		break;
	    }
	}
	if (close < len && close > open + 1) {
	    key += open + 1;
	    len = close - open - 1;
	}
    }
    for (i = 0; i < len; i++) {
	crc ^= (unsigned) (unsigned char) key[i] << 8;
	for (bit = 0; bit < 8; bit++) {
	    crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
	    crc &= 0xffff;
	}
    }
    return crc & 16383;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClusterShardStart, MpClusterShardStop, MpClusterShardRefresh --
 *
 *	Open the control connection (the map is read when it is ready);
 *	close it and forget a planned refresh; plan a refresh of the map in
 *	delay ms (one at a time).
 *
 * Results:
 *	MpClusterShardStart: TCL_OK.
 *
 * Side effects:
 *	Connections, timers.
 *
 *----------------------------------------------------------------------
 */

int
MpClusterShardStart(
    MpCluster *cl)
{
    cl->controlAt = -1;
    cl->control = MpRedisLinkNew(cl->mp->loop, &cl->target, "control",
	    &controlProcs, cl, 65536);
    return TCL_OK;
}

void
MpClusterShardStop(
    MpCluster *cl)
{
    if (cl->mapTimer != NULL) {
	Tcl_DeleteTimerHandler(cl->mapTimer);
	cl->mapTimer = NULL;
    }
    MpRedisLinkFree(cl->control);
    cl->control = NULL;
    while (cl->knownCount > 0) {
	MpFree(cl->known[--cl->knownCount].host);
    }
}

void
MpClusterShardRefresh(
    MpCluster *cl,
    int delay)
{
    if (!cl->sharded || cl->left || cl->mapState == 1) {
	return;
    }
    if (cl->mapTimer != NULL) {
	if (delay > 0) {
	    return;		/* One is planned already. */
	}
	Tcl_DeleteTimerHandler(cl->mapTimer);	/* Sooner: now. */
    }
    cl->mapTimer = Tcl_CreateTimerHandler(delay, RefreshProc, cl);
}

static void
AskMap(
    MpCluster *cl)
{
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    size_t lens[2] = {7, 5};

    if (cl->control != NULL && MpRedisLinkReady(cl->control)
	    && MpRedisLinkCommand(cl->control, 2, argv, lens) == 0) {
	cl->mapState = 1;
    }
}

static void
RefreshProc(
    ClientData clientData)
{
    MpCluster *cl = (MpCluster *) clientData;

    cl->mapTimer = NULL;
    AskMap(cl);			/* Or when the control link is back. */
}

/*
 *----------------------------------------------------------------------
 *
 * ControlReady, ControlLost --
 *
 *	The control link is up: read the map; it is down: it reconnects by
 *	itself, to the next server in turn of the URL's and the masters
 *	earlier maps named (so that a node whose URL named a master that
 *	died still follows the cluster's changes).
 *
 *----------------------------------------------------------------------
 */

static void
ControlReady(
    void *clientData,
    MpRedisLink *link)
{
    MpCluster *cl = (MpCluster *) clientData;

    MpClusterNoteReady(cl, link, &cl->controlLost, "control");
    cl->mapState = 0;
    AskMap(cl);
}

static void
ControlLost(
    void *clientData,
    MpRedisLink *link,
    const char *why,
    size_t dropped)
{
    MpCluster *cl = (MpCluster *) clientData;

    (void) dropped;
    if (cl->mapState == 1) {
	cl->mapState = 0;
    }
    MpClusterNoteLost(cl, link, &cl->controlLost, "control", why);
    if (cl->knownCount > 0) {
	if (++cl->controlAt >= cl->knownCount) {
	    cl->controlAt = -1;
	}
	MpRedisLinkRebind(link, cl->controlAt < 0 ? &cl->target
		: &cl->known[cl->controlAt], cl);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Remember --
 *
 *	Adds a master of a slot map to those the control link may read the
 *	map from (MP_CLUSTER_KNOWN_MAX at most; the URL's server is not
 *	added).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May add an entry to cl->known.
 *
 *----------------------------------------------------------------------
 */

static void
Remember(
    MpCluster *cl,
    const char *host,
    int port)
{
    int i;
    size_t len;

    if (SameTarget(&cl->target, host, port)
	    || cl->knownCount >= MP_CLUSTER_KNOWN_MAX) {
	return;
    }
    for (i = 0; i < cl->knownCount; i++) {
	if (SameTarget(&cl->known[i], host, port)) {
	    return;
	}
    }
    len = strlen(host);
    cl->known[i].host = (char *) MpAlloc(len + 1);
    memcpy(cl->known[i].host, host, len + 1);
    cl->known[i].port = port;
    cl->known[i].user = cl->target.user;
    cl->known[i].password = cl->target.password;
    cl->known[i].db = 0;
    cl->knownCount++;
}

/*
 *----------------------------------------------------------------------
 *
 * SameTarget --
 *
 *	Whether a link target is host:port.
 *
 *----------------------------------------------------------------------
 */

static int
SameTarget(
    const MpRedisTarget *t,
    const char *host,
    int port)
{
    return t->host != NULL && t->port == port && strcmp(t->host, host) == 0;
}

/*
 *----------------------------------------------------------------------
 *
 * ControlReply --
 *
 *	The slot map: find the master of each channel's slot; if anything
 *	changed (or there were no links yet) make the publish link to the
 *	master of our channel and one subscribed link per master with
 *	channels. A map that does not serve every channel is not used (read
 *	again in a second).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May replace the connections whose master changed.
 *
 *----------------------------------------------------------------------
 */

static void
ControlReply(
    void *clientData,
    MpRedisLink *link,
    MpRespReply *reply)
{
    MpCluster *cl = (MpCluster *) clientData;
    SlotRange *ranges;
    int nRanges = 0, *owner, i, k, changed, masters, keepPub;
    MpClusterSub *subs;
    MpRedisTarget pubTarget;
    size_t r;

    (void) link;
    cl->mapState = 0;
    if (reply->type == MP_RESP_ERROR) {
	cl->stats.redisErrors++;
	snprintf(cl->lastError, sizeof(cl->lastError),
		"Redis: CLUSTER SLOTS: %.180s", reply->str);
	if (!cl->mapErrorLogged) {
	    cl->mapErrorLogged = 1;
	    MpLog(cl->mp, MP_LOG_ERROR, "cluster %s: -sharded needs a Redis "
		    "Cluster: %.180s", Tcl_GetString(cl->nameObj), reply->str);
	}
	MpClusterShardRefresh(cl, 1000);
	return;
    }
    if (reply->type != MP_RESP_ARRAY) {
	return;
    }
    cl->stats.mapRefreshes++;
    ranges = (SlotRange *) MpAlloc(sizeof(SlotRange) * (reply->count + 1));
    for (r = 0; r < reply->count; r++) {
	MpRespReply *e = reply->elem[r], *m;

	if (e == NULL || e->type != MP_RESP_ARRAY || e->count < 3
		|| e->elem[0]->type != MP_RESP_INTEGER
		|| e->elem[1]->type != MP_RESP_INTEGER
		|| (m = e->elem[2])->type != MP_RESP_ARRAY || m->count < 2
		|| m->elem[0]->type != MP_RESP_STRING
		|| m->elem[1]->type != MP_RESP_INTEGER
		|| m->elem[1]->integer < 1 || m->elem[1]->integer > 65535) {
	    continue;
	}
	ranges[nRanges].first = e->elem[0]->integer;
	ranges[nRanges].last = e->elem[1]->integer;
	ranges[nRanges].host = (m->elem[0]->len > 0
		&& strcmp(m->elem[0]->str, "?") != 0) ? m->elem[0]->str
		: cl->target.host;
	ranges[nRanges].port = (int) m->elem[1]->integer;
	Remember(cl, ranges[nRanges].host, ranges[nRanges].port);
	nRanges++;
    }

    /*
     * owner[k]: the range serving channel k.
     */

    owner = (int *) MpAlloc(sizeof(int) * (size_t) cl->chanCount);
    for (k = 0; k < cl->chanCount; k++) {
	long long slot = (long long) MpClusterKeySlot(cl->chans[k],
		cl->chanLens[k]);

	owner[k] = -1;
	for (i = 0; i < nRanges; i++) {
	    if (slot >= ranges[i].first && slot <= ranges[i].last) {
		owner[k] = i;
		break;
	    }
	}
	if (owner[k] < 0) {
	    snprintf(cl->lastError, sizeof(cl->lastError), "the slot map "
		    "serves no master for slot %lld", slot);
	    MpFree(owner);
	    MpFree(ranges);
	    MpClusterShardRefresh(cl, 1000);
	    return;
	}
    }

    /*
     * Anything changed? The publish link's master, or the master of any
     * channel's subscription.
     */

    changed = (cl->pub == NULL || cl->subCount == 0
	    || !SameTarget(&cl->pubTarget, ranges[owner[cl->pubChan]].host,
		ranges[owner[cl->pubChan]].port));
    for (i = 0; i < cl->subCount && !changed; i++) {
	MpClusterSub *sub = &cl->subs[i];

	if (MpRedisLinkReady(sub->link) && sub->confirmed < sub->chanCount
		&& sub->subscribedOnce
		&& MpNowMs() - sub->subscribedAt > 2000) {
	    /*
	     * A subscription Redis ended or refused (a slot moved), not one
	     * still being confirmed: make the links again, even where the
	     * map looks the same.
	     */

	    changed = 1;
	    break;
	}
	for (k = 0; k < sub->chanCount; k++) {
	    SlotRange *o = &ranges[owner[sub->chans[k]]];

	    if (!SameTarget(&sub->target, o->host, o->port)) {
		changed = 1;
		break;
	    }
	}
    }
    cl->mapErrorLogged = 0;
    if (!changed) {
	MpFree(owner);
	MpFree(ranges);
	if (!MpClusterConnected(cl)) {
	    MpClusterShardRefresh(cl, 1000);	/* Until it is whole. */
	}
	return;
    }

    /*
     * One subscribed link per distinct master, with its channels.
     */

    subs = (MpClusterSub *) MpAlloc(sizeof(MpClusterSub)
	    * (size_t) cl->chanCount);
    memset(subs, 0, sizeof(MpClusterSub) * (size_t) cl->chanCount);
    masters = 0;
    for (k = 0; k < cl->chanCount; k++) {
	SlotRange *o = &ranges[owner[k]];

	for (i = 0; i < masters; i++) {
	    if (SameTarget(&subs[i].target, o->host, o->port)) {
		break;
	    }
	}
	if (i == masters) {
	    size_t hlen = strlen(o->host);

	    subs[i].target.host = (char *) MpAlloc(hlen + 1);
	    memcpy(subs[i].target.host, o->host, hlen + 1);
	    subs[i].target.port = o->port;
	    subs[i].target.user = cl->target.user;
	    subs[i].target.password = cl->target.password;
	    subs[i].chans = (int *) MpAlloc(sizeof(int)
		    * (size_t) cl->chanCount);
	    masters++;
	}
	subs[i].chans[subs[i].chanCount++] = k;
    }
    {
	const char *h = ranges[owner[cl->pubChan]].host;
	size_t hlen = strlen(h);

	pubTarget.host = (char *) MpAlloc(hlen + 1);
	memcpy(pubTarget.host, h, hlen + 1);
    }
    pubTarget.port = ranges[owner[cl->pubChan]].port;
    pubTarget.user = cl->target.user;
    pubTarget.password = cl->target.password;
    pubTarget.db = 0;
    MpLog(cl->mp, MP_LOG_NOTICE, "cluster %s: slot map: %d masters carry "
	    "the %d channels; this node publishes to %s:%d",
	    Tcl_GetString(cl->nameObj), masters, cl->chanCount,
	    pubTarget.host, pubTarget.port);

    /*
     * The publish link stays where its master is the same (it points at
     * cl->pubTarget, whose contents are then the same); so do the
     * subscribed links whose master and channels are (MpClusterSetLinks).
     */

    keepPub = (cl->pub != NULL && SameTarget(&cl->pubTarget,
	    pubTarget.host, pubTarget.port));
    if (!keepPub) {
	MpRedisLinkFree(cl->pub);	/* It points at the old target. */
	cl->pub = NULL;
    }
    if (cl->pubTarget.host != NULL) {
	MpFree(cl->pubTarget.host);
    }
    cl->pubTarget = pubTarget;
    MpClusterSetLinks(cl, &cl->pubTarget, keepPub, subs, masters);
    MpFree(owner);
    MpFree(ranges);
}
