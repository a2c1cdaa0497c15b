/*
 * mpPollKqueue.c --
 *
 *	mpPoller.h over kqueue (BSD, macOS). Read and write interest are two
 *	separate kernel filters; a byte per descriptor records what is
 *	registered (bits 0-1) and, during one wait, what has fired (bits 2-3),
 *	so that both filters of one descriptor merge into a single entry in
 *	linear time.
 */

#include "mpPoller.h"

#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIRED_SHIFT 2

struct MpPoller {
    int kq;			/* The kqueue descriptor. */
    struct kevent *events;	/* Buffer for kevent() results. */
    int numEvents;		/* Capacity of events. */
    unsigned char *state;	/* Per descriptor: registered/fired mask. */
    int numState;		/* Entries allocated in state. */
};

/*
 *----------------------------------------------------------------------
 *
 * MpPollerCreate, MpPollerFree --
 *
 *	Create a kqueue (close-on-exec); release one.
 *
 * Results:
 *	The poller, or NULL with *errPtr set to an errno value.
 *
 * Side effects:
 *	Allocates or frees memory and a descriptor.
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
    p->kq = kqueue();
    if (p->kq == -1) {
	*errPtr = errno;
	free(p);
	return NULL;
    }
    (void) fcntl(p->kq, F_SETFD, FD_CLOEXEC);
    return p;
}

void
MpPollerFree(MpPoller *p)
{
    if (p != NULL) {
	close(p->kq);
	free(p->events);
	free(p->state);
	free(p);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Change --
 *
 *	Add or delete one filter of fd. Deleting a filter the kernel does not
 *	have (descriptor closed already) counts as success.
 *
 * Results:
 *	0 or an errno value.
 *
 * Side effects:
 *	kevent().
 *
 *----------------------------------------------------------------------
 */

static int
Change(MpPoller *p, int fd, int filter, int flags)
{
    struct kevent kev;

    EV_SET(&kev, (uintptr_t) fd, filter, flags, 0, 0, 0);
    if (kevent(p->kq, &kev, 1, NULL, 0, NULL) == -1) {
	if ((flags & EV_DELETE) && (errno == ENOENT || errno == EBADF)) {
	    return 0;
	}
	return errno;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerSet --
 *
 *	Make the kernel interest for fd equal newMask (0 removes it), adding
 *	or deleting the read and write filters that differ from oldMask. If
 *	the second change fails the first is undone.
 *
 * Results:
 *	0 or an errno value.
 *
 * Side effects:
 *	kevent(); may grow the per-descriptor state array.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerSet(MpPoller *p, MpSocket fd, int oldMask, int newMask)
{
    int err = 0, diff;

    oldMask &= MP_EV_READ | MP_EV_WRITE;
    newMask &= MP_EV_READ | MP_EV_WRITE;
    if (fd < 0) {
	return EBADF;
    }
    if (fd >= p->numState && newMask != 0) {
	int n = p->numState ? p->numState : 256;
	unsigned char *state;

	while (n <= fd) {
	    n *= 2;
	}
	if ((state = realloc(p->state, (size_t) n)) == NULL) {
	    return ENOMEM;
	}
	memset(state + p->numState, 0, (size_t) (n - p->numState));
	p->state = state;
	p->numState = n;
    }
    diff = oldMask ^ newMask;
    if (diff & MP_EV_READ) {
	err = Change(p, fd, EVFILT_READ,
		(newMask & MP_EV_READ) ? EV_ADD : EV_DELETE);
    }
    if (err == 0 && (diff & MP_EV_WRITE)) {
	err = Change(p, fd, EVFILT_WRITE,
		(newMask & MP_EV_WRITE) ? EV_ADD : EV_DELETE);
	if (err != 0 && (diff & MP_EV_READ)) {
	    (void) Change(p, fd, EVFILT_READ,
		    (oldMask & MP_EV_READ) ? EV_ADD : EV_DELETE);
	}
    }
    if (err == 0 && fd < p->numState) {
	p->state[fd] = (unsigned char) newMask;
    }
    return err;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerWait --
 *
 *	Wait up to timeoutMs (0 = poll, -1 = forever) and translate the
 *	events, one entry per descriptor. EV_EOF and EV_ERROR become
 *	MP_EV_READ, plus MP_EV_WRITE when write interest is registered.
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
    struct timespec ts, *tsPtr = NULL;
    int i, n, count = 0;

    if (maxFired <= 0) {
	return -EINVAL;
    }
    if (maxFired > p->numEvents) {
	struct kevent *ev = realloc(p->events,
		(size_t) maxFired * sizeof(struct kevent));

	if (ev != NULL) {
	    p->events = ev;
	    p->numEvents = maxFired;
	} else if (p->numEvents == 0) {
	    return -ENOMEM;
	} else {
	    maxFired = p->numEvents;
	}
    }
    if (timeoutMs >= 0) {
	ts.tv_sec = timeoutMs / 1000;
	ts.tv_nsec = (long) (timeoutMs % 1000) * 1000000L;
	tsPtr = &ts;
    }
    n = kevent(p->kq, NULL, 0, p->events, maxFired, tsPtr);
    if (n < 0) {
	return (errno == EINTR) ? 0 : -errno;
    }
    for (i = 0; i < n; i++) {
	struct kevent *ev = &p->events[i];
	int fd = (int) ev->ident, mask = 0, want;

	if (ev->filter == EVFILT_READ) {
	    mask = MP_EV_READ;
	} else if (ev->filter == EVFILT_WRITE) {
	    mask = MP_EV_WRITE;
	}
	want = (fd >= 0 && fd < p->numState) ? (p->state[fd] & 3) : mask;
	if (ev->flags & (EV_EOF | EV_ERROR)) {
	    mask |= MP_EV_READ | (want & MP_EV_WRITE);
	}
	if (fd < 0 || fd >= p->numState) {
	    fired[count].fd = fd;	/* Not ours to merge; report as is. */
	    fired[count++].mask = mask;
	    continue;
	}
	if ((p->state[fd] >> FIRED_SHIFT) == 0) {
	    fired[count].fd = fd;
	    fired[count++].mask = 0;
	}
	p->state[fd] |= (unsigned char) (mask << FIRED_SHIFT);
    }
    for (i = 0; i < count; i++) {
	int fd = fired[i].fd;

	if (fd >= 0 && fd < p->numState && fired[i].mask == 0) {
	    fired[i].mask = p->state[fd] >> FIRED_SHIFT;
	    p->state[fd] &= 3;
	}
    }
    return count;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerNotifyFd, MpPollerName --
 *
 *	The descriptor that becomes readable while events are pending (the
 *	kqueue itself); the backend's name.
 *
 * Results:
 *	A descriptor; "kqueue".
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerNotifyFd(MpPoller *p)
{
    return p->kq;
}

const char *
MpPollerName(void)
{
    return "kqueue";
}
