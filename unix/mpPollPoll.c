/*
 * mpPollPoll.c --
 *
 *	mpPoller.h over poll(2), the portable fallback. Interest lives in a
 *	dense pollfd array handed to poll() as is; an index by descriptor
 *	number makes updates O(1), and a removal moves the last entry into
 *	the freed slot. Scanning resumes where the previous call stopped when
 *	more descriptors were ready than the caller could take.
 */

#include "mpPoller.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

struct MpPoller {
    struct pollfd *fds;		/* Dense array given to poll(). */
    int numFds;			/* Entries in use. */
    int capFds;			/* Entries allocated. */
    int *slot;			/* Descriptor -> index in fds, or -1. */
    int numSlots;		/* Entries allocated in slot. */
    int next;			/* Where the next scan starts. */
};

/*
 *----------------------------------------------------------------------
 *
 * MpPollerCreate, MpPollerFree --
 *
 *	Create an empty poller; release one.
 *
 * Results:
 *	The poller, or NULL with *errPtr set (ENOMEM).
 *
 * Side effects:
 *	Allocates or frees memory.
 *
 *----------------------------------------------------------------------
 */

MpPoller *
MpPollerCreate(int *errPtr)
{
    MpPoller *p = calloc(1, sizeof(MpPoller));

    if (p == NULL) {
	*errPtr = ENOMEM;
    }
    return p;
}

void
MpPollerFree(MpPoller *p)
{
    if (p != NULL) {
	free(p->fds);
	free(p->slot);
	free(p);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * Reserve --
 *
 *	Make room for descriptor fd in the index and one more pollfd entry.
 *
 * Results:
 *	0 or ENOMEM.
 *
 * Side effects:
 *	May grow (reallocate) both arrays.
 *
 *----------------------------------------------------------------------
 */

static int
Reserve(MpPoller *p, int fd)
{
    if (fd >= p->numSlots) {
	int i, n = p->numSlots ? p->numSlots : 256;
	int *slot;

	while (n <= fd) {
	    n *= 2;
	}
	slot = realloc(p->slot, (size_t) n * sizeof(int));
	if (slot == NULL) {
	    return ENOMEM;
	}
	for (i = p->numSlots; i < n; i++) {
	    slot[i] = -1;
	}
	p->slot = slot;
	p->numSlots = n;
    }
    if (p->numFds == p->capFds) {
	int n = p->capFds ? 2 * p->capFds : 64;
	struct pollfd *fds = realloc(p->fds, (size_t) n * sizeof(*fds));

	if (fds == NULL) {
	    return ENOMEM;
	}
	p->fds = fds;
	p->capFds = n;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerSet --
 *
 *	Make the interest for fd equal newMask (0 removes it). oldMask is not
 *	needed: the index knows whether fd is present.
 *
 * Results:
 *	0 or an errno value (EBADF for a negative fd, ENOMEM).
 *
 * Side effects:
 *	Updates the pollfd array and the index.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerSet(MpPoller *p, MpSocket fd, int oldMask, int newMask)
{
    int idx, last, err;
    short events = (short) (((newMask & MP_EV_READ) ? POLLIN : 0)
	    | ((newMask & MP_EV_WRITE) ? POLLOUT : 0));

    (void) oldMask;
    if (fd < 0) {
	return EBADF;
    }
    idx = (fd < p->numSlots) ? p->slot[fd] : -1;
    if (events == 0) {
	if (idx >= 0) {
	    last = --p->numFds;
	    if (idx != last) {
		p->fds[idx] = p->fds[last];
		p->slot[p->fds[idx].fd] = idx;
	    }
	    p->slot[fd] = -1;
	}
	return 0;
    }
    if (idx >= 0) {
	p->fds[idx].events = events;
	return 0;
    }
    if ((err = Reserve(p, fd)) != 0) {
	return err;
    }
    idx = p->numFds++;
    p->fds[idx].fd = fd;
    p->fds[idx].events = events;
    p->fds[idx].revents = 0;
    p->slot[fd] = idx;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerWait --
 *
 *	Wait up to timeoutMs (0 = poll, -1 = forever) and translate the
 *	result. POLLERR, POLLHUP and POLLNVAL become MP_EV_READ, plus
 *	MP_EV_WRITE when write interest is registered.
 *
 * Results:
 *	Number of entries filled in fired (0 on timeout or EINTR), or -errno.
 *
 * Side effects:
 *	None beyond the scan position.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerWait(MpPoller *p, MpFired *fired, int maxFired, int timeoutMs)
{
    int n, k, i, count = 0, start;

    if (maxFired <= 0) {
	return -EINVAL;
    }
    n = poll(p->fds, (nfds_t) p->numFds, timeoutMs < 0 ? -1 : timeoutMs);
    if (n <= 0) {
	return (n == 0 || errno == EINTR) ? 0 : -errno;
    }
    start = (p->next < p->numFds) ? p->next : 0;
    for (k = 0; k < p->numFds && n > 0 && count < maxFired; k++) {
	struct pollfd *pf;
	int mask = 0;

	i = start + k;
	pf = &p->fds[i < p->numFds ? i : i - p->numFds];
	if (pf->revents == 0) {
	    continue;
	}
	n--;
	if (pf->revents & POLLIN) {
	    mask |= MP_EV_READ;
	}
	if (pf->revents & POLLOUT) {
	    mask |= MP_EV_WRITE;
	}
	if (pf->revents & (POLLERR | POLLHUP | POLLNVAL)) {
	    mask |= MP_EV_READ | ((pf->events & POLLOUT) ? MP_EV_WRITE : 0);
	}
	fired[count].fd = pf->fd;
	fired[count++].mask = mask;
    }
    if (count == maxFired && p->numFds > 0) {
	p->next = (start + k) % p->numFds;
    }
    return count;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerNotifyFd, MpPollerName --
 *
 *	poll(2) has no descriptor to hand to Tcl's notifier; the core polls
 *	from an event source instead. The backend's name.
 *
 * Results:
 *	-1; "poll".
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerNotifyFd(MpPoller *p)
{
    (void) p;
    return -1;
}

const char *
MpPollerName(void)
{
    return "poll";
}
