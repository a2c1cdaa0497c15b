/*
 * mpClusterMsg.h --
 *
 *	The envelope a cluster node puts around every message it publishes
 *	through Redis (mpClusterMsg.c): who sent it (node id, incarnation,
 *	sequence number, the sender's channel name), where it goes (every
 *	client, one group, or the groups of the sender) and the message
 *	itself. Pure functions of bytes, with no Tcl, so that the fuzz
 *	harness (fuzz/fuzz_cluster.c) drives exactly the node's parser.
 *
 *	Layout (all integers big-endian):
 *
 *	    0   2  magic "mX"
 *	    2   1  version (1)
 *	    3   1  route: 0 every client, 1 one group, 2 the sender's groups,
 *		   3 a heartbeat (no group; the sequence number is the
 *		   sender's last one; the message is empty, or 2 bytes: the
 *		   TCP port where the sender retransmits, 0 if it does not)
 *	    4   8  incarnation of the sending node
 *	   12   8  sequence number (1, 2, ... per incarnation)
 *	   20   1  length N of the node id (1 to 255)
 *	   21   N  node id
 *	    .   1  length S of the sender's channel name (0: the server)
 *	    .   S  sender
 *	    .   2  number G of group names (route 1: exactly 1; route 0: 0)
 *	    .      G times: 2 bytes length L (1 to 65535), then L bytes
 *	    .      the message: every byte to the end
 *
 *	A multicast datagram may carry several envelopes (packed, see
 *	MpCmsgNextPacked): "mX", version 1, route 4, then for each envelope
 *	2 bytes of length L (MP_CMSG_FIXED + 3 to 65535) and its L bytes,
 *	to the end of the datagram.
 */

#ifndef MP_CLUSTER_MSG_H
#define MP_CLUSTER_MSG_H

#include <stddef.h>

#ifndef MODULE_SCOPE
#   define MODULE_SCOPE extern
#endif

#define MP_CMSG_VERSION		1
#define MP_CMSG_FIXED		21	/* Bytes before the node id. */
#define MP_CMSG_MAX_GROUPS	1024	/* Most group names one carries. */
#define MP_CMSG_PACKED		4	/* Route byte of a packed datagram ... */
#define MP_CMSG_PACK_HEAD	4	/* ... and the bytes before its first
					 * envelope's length. */

enum {
    MP_CMSG_ALL = 0,		/* Every client of every node. */
    MP_CMSG_GROUP = 1,		/* The members of one group. */
    MP_CMSG_GROUPS = 2,		/* The members of the sender's groups. */
    MP_CMSG_HEARTBEAT = 3	/* No message: the sender's last number. */
};

/*
 * One group name inside an envelope (pointing into its bytes).
 */

typedef struct MpCmsgName {
    const char *bytes;
    size_t len;
} MpCmsgName;

/*
 * What MpCmsgParse finds in an envelope; every pointer points into the
 * parsed bytes. groups points at the first group name's length field:
 * MpCmsgNextGroup walks them.
 */

typedef struct MpCmsg {
    int route;			/* MP_CMSG_*. */
    unsigned long long incarnation;
    unsigned long long seq;
    const char *node;		/* Node id ... */
    size_t nodeLen;		/* ... and its length. */
    const char *sender;		/* Sender's channel name, or empty. */
    size_t senderLen;
    unsigned groupCount;	/* Group names that follow. */
    const unsigned char *groups; /* The first name's length field. */
    const char *data;		/* The message ... */
    size_t dataLen;		/* ... and its length. */
} MpCmsg;

MODULE_SCOPE size_t	MpCmsgHeaderSize(size_t nodeLen, size_t senderLen,
			    const MpCmsgName *groups, unsigned groupCount);
MODULE_SCOPE size_t	MpCmsgWriteHeader(unsigned char *out, int route,
			    unsigned long long incarnation,
			    unsigned long long seq, const char *node,
			    size_t nodeLen, const char *sender,
			    size_t senderLen, const MpCmsgName *groups,
			    unsigned groupCount);
MODULE_SCOPE int	MpCmsgParse(const unsigned char *bytes, size_t len,
			    MpCmsg *msg);
MODULE_SCOPE const unsigned char *MpCmsgNextGroup(
			    const unsigned char *pos, MpCmsgName *name);
MODULE_SCOPE int	MpCmsgIsPacked(const unsigned char *bytes,
			    size_t len);
MODULE_SCOPE int	MpCmsgNextPacked(const unsigned char **posPtr,
			    const unsigned char *end,
			    const unsigned char **envPtr, size_t *envLenPtr);

#endif /* MP_CLUSTER_MSG_H */
