/*
 * mpCluster.h --
 *
 *	An instance's membership of a cluster of nodes joined through Redis
 *	pub/sub: the record shared by the member (mpCluster.c: publishing,
 *	receiving, sequence tracking) and its Tcl command (mpCmdCluster.c:
 *	join, leave, status).
 */

#ifndef MP_CLUSTER_H
#define MP_CLUSTER_H

#include "mpRedisLink.h"

/*
 * Most senders whose sequence numbers a node tracks; messages of further
 * senders are delivered untracked (counted in untracked).
 */

#define MP_CLUSTER_MAX_SENDERS 65536

/*
 * With -recover, the messages Redis answered last that a publisher keeps
 * and sends again after a lost connection (within -maxpending too).
 */

#define MP_CLUSTER_RETAIN 1024

/*
 * What a node knows of another node's messages.
 */

typedef struct MpClusterSender {
    unsigned long long incarnation;
    unsigned long long lastSeq;
    Tcl_WideUInt gaps;		/* Its messages found missing (all its
				 * incarnations). */
} MpClusterSender;

/*
 * With -sharded: the cluster's messages go over this many channels
 * (spread by their hash slots over the Redis Cluster's masters); a node
 * publishes on one of them, chosen by its id, and subscribes to all.
 */

#define MP_CLUSTER_SHARD_CHANNELS 16

/*
 * One subscribed connection and the channels it carries (all of them, or
 * with -sharded those whose slots one master serves).
 */

/*
 * -sharded: masters remembered from slot maps, to read the map from when
 * the server of the URL is gone.
 */

#define MP_CLUSTER_KNOWN_MAX 16

typedef struct MpClusterSub {
    struct MpCluster *cl;
    MpRedisLink *link;
    MpRedisTarget target;	/* With -sharded its own (host owned);
				 * else unused (the cluster's target). */
    int *chans;			/* Indices into MpCluster.chans ... */
    int chanCount;		/* ... how many ... */
    int confirmed;		/* ... and how many are confirmed. */
    int lost;			/* Lost since last ready (reported once). */
    int subscribedOnce;		/* Sent its subscriptions on this link ... */
    Tcl_WideInt subscribedAt;	/* ... at this time (MpNowMs). */
} MpClusterSub;

typedef struct MpClusterStats {
    Tcl_WideUInt published;	/* Messages handed to the publish link. */
    Tcl_WideUInt received;	/* Messages from other nodes ... */
    Tcl_WideUInt delivered;	/* ... and the local deliveries they made. */
    Tcl_WideUInt echoes;	/* Own messages back from Redis, dropped. */
    Tcl_WideUInt dropped;	/* Messages not published: link down, bound
				 * full, or lost with the connection. */
    Tcl_WideUInt gaps;		/* Messages of other nodes found missing. */
    Tcl_WideUInt duplicates;	/* Sequence numbers seen before, dropped. */
    Tcl_WideUInt malformed;	/* Pub/sub messages that are no envelope. */
    Tcl_WideUInt untracked;	/* Delivered without sequence tracking. */
    Tcl_WideUInt reconnects;	/* Links connected again after a loss. */
    Tcl_WideUInt redisErrors;	/* Error replies from Redis. */
    Tcl_WideUInt recoveries;	/* Recoveries from the stream (-recover) ... */
    Tcl_WideUInt recovered;	/* ... and the messages they delivered. */
    Tcl_WideUInt resent;	/* Messages published again after a lost
				 * connection (-recover). */
    Tcl_WideUInt mapRefreshes;	/* Slot maps read (-sharded). */
    Tcl_WideUInt moved;		/* MOVED/ASK replies and slot moves seen. */
    Tcl_WideUInt linksKept;	/* Subscribed links kept across a slot map
				 * change (their master and channels the
				 * same). */
} MpClusterStats;

/*
 * A command kept until Redis answers it (-recover): published again on
 * the next connection if the reply never came.
 */

typedef struct MpClusterCmd {
    struct MpClusterCmd *next;
    size_t len;			/* The command as EVAL ... */
    size_t argsAt;		/* ... and where its arguments after the
				 * script start (the same as EVALSHA). */
    int sentSha;		/* Last sent as EVALSHA. */
    char bytes[1];		/* Allocated to len. */
} MpClusterCmd;

/*
 * A message received while a recovery runs, delivered after it.
 */

typedef struct MpClusterHeld {
    struct MpClusterHeld *next;
    size_t len;
    char bytes[1];
} MpClusterHeld;

struct MpCluster {
    MpInstance *mp;
    int refCount;		/* The instance's, and deliveries'. */
    int left;			/* Leave (or teardown) happened. */
    MpRedisTarget target;
    Tcl_Obj *urlObj;		/* The URL, password masked. */
    Tcl_Obj *nameObj;		/* The cluster's name (-channel). */
    char *channel;		/* The Redis channel this node publishes
				 * on (one of chans) ... */
    size_t channelLen;		/* ... and its length. */
    char **chans;		/* Every channel of the cluster ... */
    size_t *chanLens;		/* ... their lengths ... */
    int chanCount;		/* ... and how many (1, or with -sharded
				 * MP_CLUSTER_SHARD_CHANNELS). */
    int pubChan;		/* Index of channel in chans. */
    int sharded;		/* -sharded: SPUBLISH/SSUBSCRIBE on the
				 * masters serving the channels' slots. */
    const char *pubVerb;	/* "PUBLISH" or "SPUBLISH". */
    MpRedisTarget pubTarget;	/* -sharded: the master of channel. */
    MpClusterSub *subs;		/* Subscribed connections ... */
    int subCount;		/* ... how many. */
    MpRedisLink *control;	/* -sharded: reads the slot map ... */
    MpRedisTarget known[MP_CLUSTER_KNOWN_MAX];
				/* ... from the URL's server or one of the
				 * masters the maps named (hosts owned;
				 * entries are never moved, so the link may
				 * point at one) ... */
    int knownCount;		/* ... how many ... */
    int controlAt;		/* ... and which: -1 the URL's, else an
				 * index in known. */
    int mapState;		/* -sharded: 0 none asked, 1 CLUSTER SLOTS
				 * sent, 2 map in use. */
    Tcl_TimerToken mapTimer;	/* -sharded: a map refresh to come. */
    int mapErrorLogged;		/* -sharded: the map's failure was logged
				 * (again only after a map was read). */
    char *node;			/* This node's id ... */
    size_t nodeLen;		/* ... and its length. */
    unsigned long long incarnation;
    unsigned long long seq;	/* Last sequence number used. */
    size_t maxPending;
    MpRedisLink *pub;		/* Publishing connection. */
    int pubLost;		/* The link was lost since it was last
				 * ready (it is reported once). */
    int controlLost;		/* Likewise for control. */
    Tcl_HashTable senders;	/* Node id -> MpClusterSender*. */
    MpGapLog gapLog;		/* Log lines about gaps (MpRemoteNoteGap). */
    int senderCount;
    MpClusterStats stats;
    char lastError[256];
    MpBatch batch;		/* Messages of other nodes from one read,
				 * fanned out together (MpRemoteDeliver). */

    /*
     * -recover: messages are also appended to a capped stream, by the
     * same script that publishes them, and fetched from it after a lost
     * subscription or a gap.
     */

    int recover;		/* The stream's length (COUNT), or 0 ... */
    int recoverTtl;		/* ... and how long it stays after the last
				 * message added, in seconds. */
    char *streamKey;		/* The stream ... */
    size_t streamKeyLen;	/* ... and its key's length. */
    MpRedisLink *query;		/* Connection for XRANGE. */
    int shaLoading;		/* A SCRIPT LOAD waits for its reply on the
				 * publish link ... */
    int shaLive;		/* ... it came: the script is loaded on this
				 * connection, commands go as EVALSHA ... */
    int shaRefused;		/* ... or Redis refused SCRIPT LOAD or
				 * EVALSHA (ACL): EVAL until leave. */
    char shaHead[72];		/* EVALSHA and the digest, as RESP (the
				 * start of a command of 8 words) ... */
    size_t shaHeadLen;		/* ... and its length. */
    MpClusterCmd *unackedFirst, *unackedLast; /* Sent, not answered. */
    size_t unackedBytes;
    MpClusterCmd *retainedFirst, *retainedLast; /* Answered, kept: a Redis
				 * killed may have answered messages it had
				 * not yet passed on (MP_CLUSTER_RETAIN). */
    size_t retainedCount, retainedBytes;
    int haveLastId;		/* The stream id of the last message seen: */
    unsigned long long lastIdMs, lastIdSeq;
    int recovering;		/* 0; 1 an XRANGE runs; 2 one is wanted
				 * (waiting for the query link). */
    int heldOverflow;		/* Held messages were dropped: query again. */
    int subWasLost;		/* Recover when subscribed again. */
    int queryLost;		/* As pubLost, for the query link. */
    MpClusterHeld *heldFirst, *heldLast; /* Received during a recovery. */
    size_t heldBytes;
};

MODULE_SCOPE int	MpClusterStart(MpInstance *mp, MpCluster *cl);
MODULE_SCOPE void	MpClusterSetLinks(MpCluster *cl,
			    const MpRedisTarget *pubTarget, int keepPub,
			    MpClusterSub *subs, int subCount);
MODULE_SCOPE void	MpClusterFreeLinks(MpCluster *cl);
MODULE_SCOPE void	MpClusterNoteLost(MpCluster *cl, MpRedisLink *link,
			    int *lostFlag, const char *role, const char *why);
MODULE_SCOPE void	MpClusterNoteReady(MpCluster *cl, MpRedisLink *link,
			    int *lostFlag, const char *role);
MODULE_SCOPE int	MpClusterShardStart(MpCluster *cl);
MODULE_SCOPE void	MpClusterShardStop(MpCluster *cl);
MODULE_SCOPE void	MpClusterShardRefresh(MpCluster *cl, int delay);
MODULE_SCOPE unsigned	MpClusterKeySlot(const char *key, size_t len);
MODULE_SCOPE int	MpClusterConnected(const MpCluster *cl);
MODULE_SCOPE size_t	MpClusterPending(const MpCluster *cl);
MODULE_SCOPE void	MpClusterUnref(MpCluster *cl);

#endif /* MP_CLUSTER_H */
