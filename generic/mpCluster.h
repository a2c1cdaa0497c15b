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
 * What a node knows of another node's messages.
 */

typedef struct MpClusterSender {
    unsigned long long incarnation;
    unsigned long long lastSeq;
} MpClusterSender;

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
} MpClusterStats;

/*
 * A command kept until Redis answers it (-recover): published again on
 * the next connection if the reply never came.
 */

typedef struct MpClusterCmd {
    struct MpClusterCmd *next;
    size_t len;
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
    char *channel;		/* The Redis channel ... */
    size_t channelLen;		/* ... and its length. */
    char *node;			/* This node's id ... */
    size_t nodeLen;		/* ... and its length. */
    unsigned long long incarnation;
    unsigned long long seq;	/* Last sequence number used. */
    size_t maxPending;
    MpRedisLink *pub;		/* Publishing connection. */
    MpRedisLink *sub;		/* Subscribed connection. */
    int subscribed;		/* The subscription is confirmed. */
    int pubLost, subLost;	/* The link was lost since it was last
				 * ready (it is reported once). */
    Tcl_HashTable senders;	/* Node id -> MpClusterSender*. */
    int senderCount;
    MpClusterStats stats;
    char lastError[256];

    /*
     * -recover: messages are also appended to a capped stream, by the
     * same script that publishes them, and fetched from it after a lost
     * subscription or a gap.
     */

    int recover;		/* The stream's length (COUNT), or 0. */
    char *streamKey;		/* The stream ... */
    size_t streamKeyLen;	/* ... and its key's length. */
    MpRedisLink *query;		/* Connection for XRANGE. */
    MpClusterCmd *unackedFirst, *unackedLast; /* Sent, not answered. */
    size_t unackedBytes;
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
MODULE_SCOPE int	MpClusterConnected(const MpCluster *cl);
MODULE_SCOPE size_t	MpClusterPending(const MpCluster *cl);
MODULE_SCOPE void	MpClusterUnref(MpCluster *cl);

#endif /* MP_CLUSTER_H */
