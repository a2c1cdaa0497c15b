/*
 * mpRedisLink.h --
 *
 *	One connection to a Redis server, served by the package's own poller
 *	(mpRedisLink.c): resolves and connects without blocking, says AUTH
 *	and SELECT, then carries pipelined commands out (a bounded buffer,
 *	written at the end of each dispatch round) and replies in (parsed
 *	by mpResp.c). When the connection fails or is lost it tries again
 *	after an exponential backoff with jitter, until it is freed. Its
 *	owner (the cluster member, mpCluster.c) learns of each state change
 *	and each reply through callbacks, which run no Tcl script.
 */

#ifndef MP_REDIS_LINK_H
#define MP_REDIS_LINK_H

#include "mpInt.h"
#include "mpResp.h"

/*
 * Where a link connects, and as whom (owned by the link's owner, which
 * outlives the link).
 */

/*
 * How the reason a link gives for its loss (lostProc) begins when Redis
 * answered the connection's AUTH, SELECT or PING with an error.
 */

#define MP_REDIS_REFUSED "Redis refused: "

typedef struct MpRedisTarget {
    char *host;
    int port;
    char *user;			/* NULL: AUTH with the password only. */
    char *password;		/* NULL: no AUTH. */
    int db;			/* SELECTed when not 0. */
} MpRedisTarget;

typedef struct MpRedisLink MpRedisLink;

/*
 * The owner's callbacks. readyProc: connected and the opening commands
 * answered; replyProc: each later reply, in order (the link frees it
 * afterwards); lostProc: the connection failed or ended (why says how),
 * with the number of messages still queued that were dropped with it;
 * the link tries again by itself; readDoneProc (or NULL): the replies of
 * one readiness of the socket were all handed on (called unless the link
 * was freed meanwhile). A callback may free the link.
 */

typedef struct MpRedisLinkProcs {
    void (*readyProc)(void *clientData, MpRedisLink *link);
    void (*replyProc)(void *clientData, MpRedisLink *link,
	    MpRespReply *reply);
    void (*lostProc)(void *clientData, MpRedisLink *link, const char *why,
	    size_t droppedMessages);
    void (*readDoneProc)(void *clientData, MpRedisLink *link);
} MpRedisLinkProcs;

MODULE_SCOPE MpRedisLink *MpRedisLinkNew(MpLoop *loop,
			    const MpRedisTarget *target, const char *role,
			    const MpRedisLinkProcs *procs, void *clientData,
			    size_t maxPending);
MODULE_SCOPE void	MpRedisLinkFree(MpRedisLink *link);
MODULE_SCOPE int	MpRedisLinkReady(const MpRedisLink *link);
MODULE_SCOPE void	MpRedisLinkRebind(MpRedisLink *link,
			    const MpRedisTarget *target, void *clientData);
MODULE_SCOPE char *	MpRedisLinkReserve(MpRedisLink *link, size_t len);
MODULE_SCOPE void	MpRedisLinkCommit(MpRedisLink *link, size_t len,
			    int message);
MODULE_SCOPE int	MpRedisLinkCommand(MpRedisLink *link, int argc,
			    const char *const *argv, const size_t *lens);
MODULE_SCOPE size_t	MpRedisLinkPending(const MpRedisLink *link);
MODULE_SCOPE const char *MpRedisLinkLastError(const MpRedisLink *link);
MODULE_SCOPE Tcl_WideUInt MpRedisLinkConnects(const MpRedisLink *link);
MODULE_SCOPE Tcl_WideUInt MpRedisLinkInputRefused(const MpRedisLink *link);
MODULE_SCOPE void	MpRedisLinkRestart(MpRedisLink *link,
			    const char *why);

#endif /* MP_REDIS_LINK_H */
