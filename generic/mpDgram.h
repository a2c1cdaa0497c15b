/*
 * mpDgram.h --
 *
 *	Datagram sockets joined to a multicast group (unix/mpDgramUnix.c,
 *	win/mpDgramWin.c): the only place that knows the socket calls and
 *	options of multicast. The multicast member (mpMulticast.c) uses it.
 */

#ifndef MP_DGRAM_H
#define MP_DGRAM_H

#include "mpSock.h"

/*
 * Largest datagram payload: IPv4's (65,535 less the 20-byte IP and
 * 8-byte UDP headers).
 */

#define MP_DGRAM_MAX 65507

/*
 * How a group socket is set up. Strings may be NULL (the default).
 */

typedef struct MpDgramOpts {
    int ttl;			/* Hops of sent datagrams, 0..255 (-1: 1). */
    int loop;			/* Own datagrams looped back (-1: 1). */
    const char *iface;		/* Address of the interface to join and
				 * send on, or NULL (the routing table's). */
    const char *source;		/* Source-specific join: the only sender
				 * accepted, or NULL. */
    int reuse;			/* Others may bind the same port (-1: 1). */
    int rcvbuf;			/* Receive buffer in bytes (0: the
				 * system's default). */
} MpDgramOpts;

/*
 * A destination in the system's own form, converted once (MpDgramDestSet)
 * for the many datagrams sent to it.
 */

typedef struct MpDgramDest {
    union {
	unsigned char bytes[128];	/* A sockaddr_storage. */
	long long align;
    } sa;
    int len;
} MpDgramDest;

/*
 * One datagram to send (gathered from iovcnt pieces), or room for one to
 * receive (buf of cap bytes; len, truncated and from are set).
 */

typedef struct MpDgramOut {
    MpIovec iov[2];
    int iovcnt;
    int segmented;		/* Set by MpDgramSendMany: it went in one
				 * send with others of its size, which the
				 * system cut into datagrams (Linux's UDP
				 * segmentation offload). */
} MpDgramOut;

typedef struct MpDgramIn {
    char *buf;
    size_t cap;
    size_t len;
    int truncated;
    size_t segment;		/* 0: buf holds one datagram. Else (on a
				 * socket made to coalesce, MpDgramCoalesce)
				 * len bytes of datagrams of one sender,
				 * each segment bytes but the last, which
				 * may be shorter. */
    MpAddr from;
} MpDgramIn;

MODULE_SCOPE int	MpDgramDestSet(MpDgramDest *dest, const MpAddr *to);
MODULE_SCOPE int	MpDgramSendMany(MpSocket sock, const MpDgramDest *dest,
			    MpDgramOut *outs, int count, int runs,
			    int *errPtr);
MODULE_SCOPE int	MpDgramRecvMany(MpSocket sock, MpDgramIn *ins,
			    int count, int *errPtr);
MODULE_SCOPE int	MpDgramOpen(const char *group, int port,
			    const MpDgramOpts *opts, MpSocket *sockPtr,
			    MpAddr *groupPtr, int *errPtr);
MODULE_SCOPE ptrdiff_t	MpDgramSend(MpSocket sock, const MpAddr *to,
			    MpIovec *iov, int iovcnt, int *errPtr);
MODULE_SCOPE ptrdiff_t	MpDgramRecv(MpSocket sock, void *buf, size_t len,
			    MpAddr *fromPtr, int *truncatedPtr, int *errPtr);
MODULE_SCOPE int	MpDgramCoalesce(MpSocket sock);
MODULE_SCOPE int	MpDgramIsMulticast(const char *group);
MODULE_SCOPE int	MpDgramSetHops(MpSocket sock, int family, int ttl);
MODULE_SCOPE int	MpDgramSetLoop(MpSocket sock, int family, int loop);
MODULE_SCOPE int	MpDgramSetInterface(MpSocket sock, const char *group,
			    int family, const char *source,
			    const char *from, const char *to);
MODULE_SCOPE int	MpDgramIfIndex(const char *address,
			    unsigned *indexPtr);
MODULE_SCOPE int	MpDgramMembership(MpSocket sock, const char *group,
			    const char *source, unsigned index, int join);
MODULE_SCOPE int	MpDgramSendIf(MpSocket sock, int family,
			    unsigned index);

#endif /* MP_DGRAM_H */
