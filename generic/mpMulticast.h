/*
 * mpMulticast.h --
 *
 *	An instance's multicast member (mpMulticast.c): a datagram socket
 *	joined to a multicast group, through which instances on the hosts of
 *	one LAN act as one with no broker; its Tcl command is in
 *	mpCmdMulticast.c. Datagrams carry the cluster envelope
 *	(mpClusterMsg.h).
 */

#ifndef MP_MULTICAST_H
#define MP_MULTICAST_H

#include "mpInt.h"
#include "mpDgram.h"

/*
 * What a node knows of another node's datagrams.
 */

typedef struct MpMcastSender {
    unsigned long long incarnation;
    unsigned long long lastSeq;
} MpMcastSender;

typedef struct MpMcastStats {
    Tcl_WideUInt sent;		/* Datagrams of messages sent. */
    Tcl_WideUInt heartbeats;	/* Heartbeats sent. */
    Tcl_WideUInt received;	/* Messages of other nodes taken ... */
    Tcl_WideUInt delivered;	/* ... and the local deliveries made. */
    Tcl_WideUInt echoes;	/* Own datagrams looped back, dropped. */
    Tcl_WideUInt gaps;		/* Messages of others found missing. */
    Tcl_WideUInt duplicates;	/* Sequence numbers seen before, dropped. */
    Tcl_WideUInt stale;		/* From an older incarnation, dropped. */
    Tcl_WideUInt malformed;	/* No valid envelope, or truncated. */
    Tcl_WideUInt toobig;	/* Messages too large for one datagram. */
    Tcl_WideUInt dropped;	/* Messages the socket refused. */
    Tcl_WideUInt untracked;	/* From senders beyond the table's bound. */
} MpMcastStats;

typedef struct MpMulticast {
    MpInstance *mp;
    int refCount;		/* The instance's, and deliveries'. */
    int left;
    MpWatch watch;		/* The socket on the loop. */
    MpAddr group;		/* Group and port sent to. */
    Tcl_Obj *groupObj;		/* As given, for status. */
    int port, ttl, loop;
    Tcl_Obj *ifaceObj;		/* Or NULL. */
    char *node;
    size_t nodeLen;
    unsigned long long incarnation;
    unsigned long long seq;	/* Last sequence number sent. */
    int heartbeatMs;		/* 0: none. */
    Tcl_TimerToken heartbeatTimer;
    Tcl_HashTable senders;	/* Node id -> MpMcastSender*. */
    int senderCount;
    char *buf;			/* One datagram: MP_DGRAM_MAX + 1. */
    MpMcastStats stats;
} MpMulticast;

MODULE_SCOPE int	MpMulticastStart(Tcl_Interp *interp, MpInstance *mp,
			    MpMulticast *mc, const char *group,
			    const char *iface);
MODULE_SCOPE void	MpMulticastUnref(MpMulticast *mc);

#endif /* MP_MULTICAST_H */
