/*
 * mpPoller.h --
 *
 *	The poller contract. Exactly one backend file implements it (chosen at
 *	configure time: unix/mpPollEpoll.c, unix/mpPollKqueue.c,
 *	unix/mpPollPoll.c, win/mpPollWin.c). Backends only translate native
 *	readiness into MpFired entries; dispatch lives in generic/mpLoop.c.
 *
 *	Masks are level-triggered. Errors and hang-ups are reported as
 *	MP_EV_READ (and MP_EV_WRITE when writing was asked for), so the owner
 *	finds out through its next read or write.
 */

#ifndef MP_POLLER_H
#define MP_POLLER_H

#include "mpSock.h"

#define MP_EV_READ  1
#define MP_EV_WRITE 2

typedef struct MpPoller MpPoller;

typedef struct MpFired {
    MpSocket fd;		/* Descriptor that is ready. */
    int mask;			/* MP_EV_READ and/or MP_EV_WRITE. */
} MpFired;

MODULE_SCOPE MpPoller *	MpPollerCreate(int *errPtr);
MODULE_SCOPE void	MpPollerFree(MpPoller *poller);
MODULE_SCOPE int	MpPollerSet(MpPoller *poller, MpSocket fd,
			    int oldMask, int newMask);
MODULE_SCOPE int	MpPollerWait(MpPoller *poller, MpFired *fired,
			    int maxFired, int timeoutMs);
MODULE_SCOPE int	MpPollerNotifyFd(MpPoller *poller);
MODULE_SCOPE const char *MpPollerName(void);

#endif /* MP_POLLER_H */
