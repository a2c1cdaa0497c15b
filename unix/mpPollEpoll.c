/*
 * mpPollEpoll.c --
 *
 *	mpPoller.h over Linux epoll, level-triggered. The registered mask is
 *	kept in the upper half of each event's 64-bit user data, so hang-ups
 *	can be reported as writable when writing was asked for without any
 *	per-descriptor table.
 */

#include "mpPoller.h"

#include <sys/epoll.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct MpPoller {
    int epfd;			/* The epoll instance. */
    struct epoll_event *events;	/* Buffer for epoll_wait(). */
    int numEvents;		/* Capacity of events. */
};

/*
 *----------------------------------------------------------------------
 *
 * MpPollerCreate --
 *
 *	Create an epoll instance (close-on-exec).
 *
 * Results:
 *	The poller, or NULL with *errPtr set to an errno value.
 *
 * Side effects:
 *	Allocates memory and a descriptor.
 *
 *----------------------------------------------------------------------
 */

MpPoller *
MpPollerCreate(int *errPtr)
{
    MpPoller *p = calloc(1, sizeof(MpPoller));

    if (p == NULL) {
	*errPtr = ENOMEM;
	return NULL;
    }
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd == -1) {
	*errPtr = errno;
	free(p);
	return NULL;
    }
    return p;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerFree --
 *
 *	Release a poller.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes the epoll descriptor and frees memory.
 *
 *----------------------------------------------------------------------
 */

void
MpPollerFree(MpPoller *p)
{
    if (p != NULL) {
	close(p->epfd);
	free(p->events);
	free(p);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerSet --
 *
 *	Make the kernel interest for fd equal newMask (0 removes it), given
 *	the mask last set (0 = not registered). A stale oldMask is tolerated:
 *	ADD and MOD fall back to each other, and removing a descriptor the
 *	kernel no longer knows (closed already) succeeds.
 *
 * Results:
 *	0 or an errno value.
 *
 * Side effects:
 *	epoll_ctl().
 *
 *----------------------------------------------------------------------
 */

int
MpPollerSet(MpPoller *p, MpSocket fd, int oldMask, int newMask)
{
    struct epoll_event ev;
    int op;

    oldMask &= MP_EV_READ | MP_EV_WRITE;
    newMask &= MP_EV_READ | MP_EV_WRITE;
    memset(&ev, 0, sizeof(ev));
    if (newMask == 0) {
	if (oldMask != 0 && epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev) == -1
		&& errno != ENOENT && errno != EBADF) {
	    return errno;
	}
	return 0;
    }
    ev.events = ((newMask & MP_EV_READ) ? (EPOLLIN | EPOLLRDHUP) : 0)
	    | ((newMask & MP_EV_WRITE) ? EPOLLOUT : 0);
    ev.data.u64 = (uint64_t) (uint32_t) fd | ((uint64_t) newMask << 32);
    op = oldMask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(p->epfd, op, fd, &ev) == 0) {
	return 0;
    }
    if ((op == EPOLL_CTL_MOD && errno == ENOENT)
	    || (op == EPOLL_CTL_ADD && errno == EEXIST)) {
	op = (op == EPOLL_CTL_MOD) ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (epoll_ctl(p->epfd, op, fd, &ev) == 0) {
	    return 0;
	}
    }
    return errno;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerWait --
 *
 *	Wait up to timeoutMs (0 = poll, -1 = forever) for readiness and
 *	translate it. Errors and hang-ups become MP_EV_READ, plus MP_EV_WRITE
 *	when write interest is registered.
 *
 * Results:
 *	Number of entries filled in fired (0 on timeout or EINTR), or -errno.
 *
 * Side effects:
 *	May grow the event buffer.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerWait(MpPoller *p, MpFired *fired, int maxFired, int timeoutMs)
{
    int i, n;

    if (maxFired <= 0) {
	return -EINVAL;
    }
    if (maxFired > p->numEvents) {
	struct epoll_event *ev = realloc(p->events,
		(size_t) maxFired * sizeof(struct epoll_event));

	if (ev != NULL) {
	    p->events = ev;
	    p->numEvents = maxFired;
	} else if (p->numEvents == 0) {
	    return -ENOMEM;
	} else {
	    maxFired = p->numEvents;
	}
    }
    n = epoll_wait(p->epfd, p->events, maxFired,
	    timeoutMs < 0 ? -1 : timeoutMs);
    if (n < 0) {
	return (errno == EINTR) ? 0 : -errno;
    }
    for (i = 0; i < n; i++) {
	uint32_t e = p->events[i].events;
	int want = (int) (p->events[i].data.u64 >> 32), mask = 0;

	if (e & EPOLLIN) {
	    mask |= MP_EV_READ;
	}
	if (e & EPOLLOUT) {
	    mask |= MP_EV_WRITE;
	}
	if (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
	    mask |= MP_EV_READ | (want & MP_EV_WRITE);
	}
	fired[i].fd = (MpSocket) (uint32_t) p->events[i].data.u64;
	fired[i].mask = mask;
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerNotifyFd, MpPollerName --
 *
 *	The descriptor that becomes readable while events are pending (the
 *	epoll descriptor itself); the backend's name.
 *
 * Results:
 *	A descriptor; "epoll".
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerNotifyFd(MpPoller *p)
{
    return p->epfd;
}

const char *
MpPollerName(void)
{
    return "epoll";
}
