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

struct MpMcastRepair;

/*
 * A datagram kept: a sender's history (-retransmit), or one received
 * while the gap before it is being repaired.
 */

typedef struct MpMcastHeld {
    struct MpMcastHeld *next;
    unsigned long long seq;
    size_t len;
    char bytes[1];		/* Allocated to len. */
} MpMcastHeld;

typedef struct MpMcastSender {
    const char *node;		/* Its node id (the key of its entry). */
    unsigned long long incarnation;
    unsigned long long lastSeq;
    Tcl_WideUInt gaps;		/* Its messages found missing (all its
				 * incarnations). */
    MpAddr addr;		/* Where its datagrams come from ... */
    int repairPort;		/* ... and its repair port (heartbeats), or
				 * 0. */
    struct MpMcastRepair *repair; /* Repair in progress, or NULL. */
    MpMcastHeld *heldFirst, *heldLast; /* Datagrams after the gap. */
    size_t heldCount;
} MpMcastSender;

typedef struct MpMcastStats {
    Tcl_WideUInt sent;		/* Messages sent (alone or packed). */
    Tcl_WideUInt datagrams;	/* Datagrams sent (messages', heartbeats') ... */
    Tcl_WideUInt packed;	/* ... of which carried several. */
    Tcl_WideUInt heartbeats;	/* Heartbeats sent. */
    Tcl_WideUInt received;	/* Messages of other nodes taken ... */
    Tcl_WideUInt delivered;	/* ... and the local deliveries made. */
    Tcl_WideUInt echoes;	/* Own datagrams looped back, dropped. */
    Tcl_WideUInt gaps;		/* Messages of others found missing. */
    Tcl_WideUInt duplicates;	/* Sequence numbers seen before, dropped. */
    Tcl_WideUInt stale;		/* From an older incarnation, dropped. */
    Tcl_WideUInt malformed;	/* No valid envelope, or truncated. */
    Tcl_WideUInt toobig;	/* Messages too large for one datagram. */
    Tcl_WideUInt split;		/* Raw framing: datagrams sent for the
				 * first parts of messages longer than one
				 * datagram (all parts count in sent). */
    Tcl_WideUInt segmented;	/* Datagrams sent in runs the system cut
				 * (UDP segmentation offload) ... */
    Tcl_WideUInt coalesced;	/* ... and received several to a buffer
				 * (UDP receive coalescing). */
    Tcl_WideUInt dropped;	/* Messages the socket refused. */
    Tcl_WideUInt untracked;	/* From senders beyond the table's bound. */
    Tcl_WideUInt repairs;	/* Retransmissions asked for ... */
    Tcl_WideUInt repaired;	/* ... and the messages they brought. */
    Tcl_WideUInt served;	/* Datagrams sent again to others. */
    Tcl_WideUInt heldDropped;	/* Held past the bound, dropped. */
} MpMcastStats;

/*
 * Datagrams received, or sent, with one system call where the system can
 * (mpDgram.h); the room for one received; the bytes of the datagrams that
 * wait for the end of a round.
 */

#define MP_MCAST_BATCH 16
#define MP_MCAST_ROOM 65536
#define MP_MCAST_OUT_BYTES 262144
#define MP_MCAST_OUT_MAX 64
#define MP_MCAST_PACK_DEFAULT 1400	/* Fits an Ethernet frame with the
					 * IPv6 and UDP headers. */

/*
 * A datagram waiting for the end of the round: at start in the member's
 * out buffer, the packed head (mpClusterMsg.h) and then each envelope
 * with its length; sent as the bare envelope when it holds one.
 */

typedef struct MpMcastOut {
    size_t start;		/* Offset of the packed head ... */
    size_t total;		/* ... and the bytes from there. */
    int count;			/* Envelopes in it ... */
    int beats;			/* ... of which heartbeats. */
} MpMcastOut;

typedef struct MpMulticast {
    MpInstance *mp;
    int refCount;		/* The instance's, and deliveries'. */
    int left;
    MpWatch watch;		/* The socket on the loop. */
    MpAddr group;		/* Group and port sent to. */
    Tcl_Obj *groupObj;		/* As given, for status. */
    int port, ttl, loop, rcvbuf;
    Tcl_Obj *ifaceObj;		/* Or NULL. */
    char *node;
    size_t nodeLen;
    unsigned long long incarnation;
    unsigned long long seq;	/* Last sequence number sent. */
    int heartbeatMs;		/* 0: none. */
    Tcl_TimerToken heartbeatTimer;
    Tcl_HashTable senders;	/* Node id -> MpMcastSender*. */
    MpGapLog gapLog;		/* Log lines about gaps (MpRemoteNoteGap). */
    int senderCount;
    char *buf;			/* Room for MP_MCAST_BATCH datagrams of
				 * MP_MCAST_ROOM bytes each ... */
    MpDgramIn ins[MP_MCAST_BATCH]; /* ... received together. */
    MpDgramDest dest;		/* The group, in the system's form. */
    int pack;			/* -pack: largest datagram that carries
				 * several messages (0: one each). */
    int offload;		/* -offload: runs of datagrams sent and
				 * received through the system's UDP
				 * segmentation and coalescing. */
    char *out;			/* Datagrams of this round not yet sent
				 * (MP_MCAST_OUT_BYTES) ... */
    size_t outLen;		/* ... their bytes ... */
    MpMcastOut outq[MP_MCAST_OUT_MAX]; /* ... each ... */
    MpDgramOut outs[MP_MCAST_OUT_MAX]; /* ... as sent ... */
    int outCount;		/* ... and how many. */
    MpFlushHook hook;		/* Sends them when the round ends. */
    Tcl_WideUInt directCycle;	/* The loop's hook cycle in which a
				 * datagram was last sent at once. */
    MpMcastStats stats;
    char lastError[200];	/* Why the last send failed, or "". */
    MpBatch batch;		/* Messages of the datagrams of one read,
				 * fanned out together (MpRemoteDeliver). */

    /*
     * -retransmit COUNT: the last COUNT datagrams sent are kept and
     * served to receivers that ask over TCP (mpMcastRepair.c); this node
     * asks too when it finds a gap.
     */

    int retransmit;
    MpMcastHeld **history;	/* Ring of retransmit entries ... */
    size_t histHead, histCount;	/* ... oldest, and how many. */
    MpWatch repairWatch;	/* The repair listener, fd or invalid. */
    int repairPort;
    struct MpMcastRepair *repairs; /* Connections, both ways. */
} MpMulticast;

MODULE_SCOPE int	MpMulticastStart(Tcl_Interp *interp, MpInstance *mp,
			    MpMulticast *mc, const char *group,
			    const char *iface);
MODULE_SCOPE void	MpMulticastUnref(MpMulticast *mc);
MODULE_SCOPE int	MpMcastProcess(MpMulticast *mc, const char *bytes,
			    size_t len, const MpAddr *from, int how);
MODULE_SCOPE int	MpMcastRepairStart(Tcl_Interp *interp,
			    MpMulticast *mc);
MODULE_SCOPE void	MpMcastRepairStop(MpMulticast *mc);
MODULE_SCOPE void	MpMcastRemember(MpMulticast *mc, const void *hdr,
			    size_t hlen, const char *data, size_t len);
MODULE_SCOPE void	MpMcastAsk(MpMulticast *mc, MpMcastSender *s,
			    unsigned long long from, unsigned long long to);
MODULE_SCOPE void	MpMcastGap(MpMulticast *mc, MpMcastSender *s,
			    unsigned long long first,
			    unsigned long long last);
MODULE_SCOPE void	MpMcastReleaseHeld(MpMulticast *mc,
			    MpMcastSender *s);

/*
 * How MpMcastProcess got a datagram.
 */

enum {
    MP_MCAST_LIVE,		/* From the group. */
    MP_MCAST_REPAIR,		/* Sent again by its sender, over TCP. */
    MP_MCAST_HELD		/* Held during a repair, taken after it: a
				 * gap it shows is counted, not repaired. */
};

/*
 * Most datagrams held per sender while a repair runs.
 */

#define MP_MCAST_HELD_MAX 10000

#endif /* MP_MULTICAST_H */
