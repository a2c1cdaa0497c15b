/*
 * mpDgramIface.c --
 *
 *	Moving an open group socket to another interface (fconfigure
 *	-interface of a group socket), from the system's steps in
 *	unix/mpDgramUnix.c and win/mpDgramWin.c (MpDgramIfIndex,
 *	MpDgramMembership, MpDgramSendIf).
 */

#include "mpInt.h"
#include "mpDgram.h"

/*
 *----------------------------------------------------------------------
 *
 * MpDgramSetInterface --
 *
 *	Moves an open group socket (MpDgramOpen) from one interface to
 *	another: leaves the group on the old interface, joins it (from
 *	source only, when given) on the new one, and sends by the new one.
 *	An interface is named by one of its addresses; NULL is the one the
 *	routing table picks. Datagrams that arrive between the leave and
 *	the join are missed.
 *
 * Results:
 *	0, or the system's error (EADDRNOTAVAIL: no interface has the new
 *	address; EINVAL: a bad group or source); then nothing changed.
 *
 * Side effects:
 *	Sends the leave and the join (IGMP or MLD) on the network.
 *
 *----------------------------------------------------------------------
 */

int
MpDgramSetInterface(
    MpSocket sock,
    const char *group,		/* The group the socket joined ... */
    int family,			/* ... of this family (4 or 6) ... */
    const char *source,		/* ... from this source only, or NULL. */
    const char *from,		/* The interface it joined on, or NULL. */
    const char *to)		/* The new one, or NULL. */
{
    unsigned oldIndex = 0, newIndex = 0;
    int err;

    if (to != NULL && (err = MpDgramIfIndex(to, &newIndex)) != 0) {
	return err;
    }
    if (from != NULL) {
	(void) MpDgramIfIndex(from, &oldIndex);	/* 0 if it is gone. */
    }
    if (newIndex != oldIndex || (from == NULL) != (to == NULL)) {
	/*
	 * Leave first: index 0 stands for the routing table's choice,
	 * which may be the new interface itself. If the new join fails,
	 * the old membership is made again.
	 */

	int left = 0;

	if (from == NULL || oldIndex != 0) {
	    left = (MpDgramMembership(sock, group, source, oldIndex, 0) == 0);
	}
	err = MpDgramMembership(sock, group, source, newIndex, 1);
	if (err != 0) {
	    if (left) {
		(void) MpDgramMembership(sock, group, source, oldIndex, 1);
	    }
	    return err;
	}
    }
    return MpDgramSendIf(sock, family, newIndex);
}
