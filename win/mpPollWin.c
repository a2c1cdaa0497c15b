/*
 * mpPollWin.c --
 *
 *	mpPoller.h over WSAPoll (Windows Vista and later). Interest lives in a
 *	dense WSAPOLLFD array handed to WSAPoll() as is. SOCKETs are handle
 *	values, not small integers, so the socket -> slot index is an open
 *	addressing hash table (linear probing, deletion by backward shift)
 *	kept at most half full. Errors are Winsock codes.
 */

#if !defined(_WIN32_WINNT) || (_WIN32_WINNT < 0x0600)
#   undef _WIN32_WINNT
#   define _WIN32_WINNT 0x0600
#endif

#include "mpPoller.h"

#include <stdlib.h>
#include <string.h>

#define NOMEM WSA_NOT_ENOUGH_MEMORY

typedef struct Slot {
    SOCKET key;			/* INVALID_SOCKET when the slot is empty. */
    int idx;			/* Index of key in fds. */
} Slot;

struct MpPoller {
    WSAPOLLFD *fds;		/* Dense array given to WSAPoll(). */
    int numFds;			/* Entries in use. */
    int capFds;			/* Entries allocated. */
    Slot *table;		/* Hash index, size a power of two. */
    unsigned tableSize;		/* Number of slots in table. */
    int next;			/* Where the next scan starts. */
};

/*
 *----------------------------------------------------------------------
 *
 * Hash, Find, Rebuild, Unlink --
 *
 *	Index helpers: the home slot of a socket; the slot holding a socket
 *	or the empty slot where it would go; a fresh table of the given size
 *	filled from fds; removal of a slot, shifting later entries of the
 *	same probe run back so that lookups never need tombstones.
 *
 * Results:
 *	Hash, Find: a slot number. Rebuild: 0 or NOMEM.
 *
 * Side effects:
 *	Rebuild replaces the table; Unlink empties a slot.
 *
 *----------------------------------------------------------------------
 */

static unsigned
Hash(MpPoller *p, SOCKET s)
{
    unsigned long long h = (unsigned long long) s;

    h = (h >> 2) * 0x9E3779B97F4A7C15ULL;	/* Handles: multiples of 4. */
    return (unsigned) (h >> 32) & (p->tableSize - 1);
}

static unsigned
Find(MpPoller *p, SOCKET s)
{
    unsigned i = Hash(p, s);

    while (p->table[i].key != INVALID_SOCKET && p->table[i].key != s) {
	i = (i + 1) & (p->tableSize - 1);
    }
    return i;
}

static int
Rebuild(MpPoller *p, unsigned size)
{
    Slot *table = malloc(size * sizeof(Slot));
    unsigned i;
    int k;

    if (table == NULL) {
	return NOMEM;
    }
    for (i = 0; i < size; i++) {
	table[i].key = INVALID_SOCKET;
    }
    free(p->table);
    p->table = table;
    p->tableSize = size;
    for (k = 0; k < p->numFds; k++) {
	i = Find(p, p->fds[k].fd);
	p->table[i].key = p->fds[k].fd;
	p->table[i].idx = k;
    }
    return 0;
}

static void
Unlink(MpPoller *p, unsigned i)
{
    unsigned j = i, home, mask = p->tableSize - 1;

    for (;;) {
	p->table[i].key = INVALID_SOCKET;
	do {
	    j = (j + 1) & mask;
	    if (p->table[j].key == INVALID_SOCKET) {
		return;
	    }
	    home = Hash(p, p->table[j].key);
	} while ((i <= j) ? (i < home && home <= j) : (i < home || home <= j));
	p->table[i] = p->table[j];
	i = j;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerCreate, MpPollerFree --
 *
 *	Create an empty poller; release one.
 *
 * Results:
 *	The poller, or NULL with *errPtr set (WSA_NOT_ENOUGH_MEMORY).
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

    if (p == NULL || Rebuild(p, 64) != 0) {
	free(p);
	*errPtr = NOMEM;
	return NULL;
    }
    return p;
}

void
MpPollerFree(MpPoller *p)
{
    if (p != NULL) {
	free(p->fds);
	free(p->table);
	free(p);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerSet --
 *
 *	Make the interest for fd equal newMask (0 removes it, moving the last
 *	entry into the freed slot). oldMask is not needed: the index knows.
 *
 * Results:
 *	0 or a Winsock error (WSA_NOT_ENOUGH_MEMORY).
 *
 * Side effects:
 *	Updates the array and the index, growing them as needed.
 *
 *----------------------------------------------------------------------
 */

int
MpPollerSet(MpPoller *p, MpSocket fd, int oldMask, int newMask)
{
    SHORT events = (SHORT) (((newMask & MP_EV_READ) ? POLLRDNORM : 0)
	    | ((newMask & MP_EV_WRITE) ? POLLWRNORM : 0));
    unsigned i = Find(p, fd);
    int idx, last;

    (void) oldMask;
    if (p->table[i].key == fd) {
	idx = p->table[i].idx;
	if (events != 0) {
	    p->fds[idx].events = events;
	    return 0;
	}
	Unlink(p, i);
	last = --p->numFds;
	if (idx != last) {
	    p->fds[idx] = p->fds[last];
	    p->table[Find(p, p->fds[idx].fd)].idx = idx;
	}
	return 0;
    }
    if (events == 0) {
	return 0;
    }
    if (p->numFds == p->capFds) {
	int n = p->capFds ? 2 * p->capFds : 64;
	WSAPOLLFD *fds = realloc(p->fds, (size_t) n * sizeof(WSAPOLLFD));

	if (fds == NULL) {
	    return NOMEM;
	}
	p->fds = fds;
	p->capFds = n;
    }
    if ((unsigned) (p->numFds + 1) * 2 > p->tableSize) {
	if (Rebuild(p, p->tableSize * 2) != 0) {
	    return NOMEM;
	}
	i = Find(p, fd);
    }
    idx = p->numFds++;
    p->fds[idx].fd = fd;
    p->fds[idx].events = events;
    p->fds[idx].revents = 0;
    p->table[i].key = fd;
    p->table[i].idx = idx;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerWait --
 *
 *	Wait up to timeoutMs (0 = poll, -1 = forever) and translate the
 *	result. POLLERR, POLLHUP and POLLNVAL become MP_EV_READ, plus
 *	MP_EV_WRITE when write interest is registered. With nothing
 *	registered (WSAPoll refuses an empty set) just sleep.
 *
 * Results:
 *	Number of entries filled in fired (0 on timeout or WSAEINTR), or
 *	minus a Winsock error.
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
	return -WSAEINVAL;
    }
    if (p->numFds == 0) {
	Sleep(timeoutMs < 0 ? INFINITE : (DWORD) timeoutMs);
	return 0;
    }
    n = WSAPoll(p->fds, (ULONG) p->numFds, timeoutMs < 0 ? -1 : timeoutMs);
    if (n == SOCKET_ERROR) {
	n = WSAGetLastError();
	return (n == WSAEINTR) ? 0 : -n;
    }
    start = (p->next < p->numFds) ? p->next : 0;
    for (k = 0; k < p->numFds && n > 0 && count < maxFired; k++) {
	WSAPOLLFD *pf;
	int mask = 0;

	i = start + k;
	pf = &p->fds[i < p->numFds ? i : i - p->numFds];
	if (pf->revents == 0) {
	    continue;
	}
	n--;
	if (pf->revents & (POLLRDNORM | POLLRDBAND)) {
	    mask |= MP_EV_READ;
	}
	if (pf->revents & POLLWRNORM) {
	    mask |= MP_EV_WRITE;
	}
	if (pf->revents & (POLLERR | POLLHUP | POLLNVAL)) {
	    mask |= MP_EV_READ | ((pf->events & POLLWRNORM) ? MP_EV_WRITE : 0);
	}
	fired[count].fd = pf->fd;
	fired[count++].mask = mask;
    }
    if (count == maxFired) {
	p->next = (start + k) % p->numFds;
    }
    return count;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPollerNotifyFd, MpPollerName --
 *
 *	WSAPoll has no descriptor to hand to Tcl's notifier; the core polls
 *	from an event source instead. The backend's name.
 *
 * Results:
 *	-1; "wsapoll".
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
    return "wsapoll";
}
