/*
 * mpIdle.c --
 *
 *	Idle timeouts. With Config idletimeout set, a client's input moves it
 *	to the tail of the instance's client list, so the list is ordered by
 *	last activity and one timer watching its head suffices, however many
 *	clients there are.
 */

#include "mpInt.h"

static MpClient *	OldestAdmitted(MpInstance *mp);
static void		IdleTimerProc(ClientData clientData);

/*
 *----------------------------------------------------------------------
 *
 * OldestAdmitted --
 *
 *	Finds the least recently active admitted client. Clients not yet
 *	admitted (outbound links still connecting, peers awaiting their
 *	access verdict) sit where they were created and are not subject to
 *	idle timeouts; admission moves a client to the tail, so the
 *	admitted clients alone are in order of last activity.
 *
 * Results:
 *	The client, or NULL if none is admitted.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static MpClient *
OldestAdmitted(
    MpInstance *mp)
{
    MpClient *c;

    for (c = mp->first; c != NULL; c = c->next) {
	if (c->admitted && c->state == MP_CLIENT_OPEN) {
	    return c;
	}
    }
    return NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpIdleTouch --
 *
 *	Records input from a client.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Moves the client to the tail of the instance's list.
 *
 *----------------------------------------------------------------------
 */

void
MpIdleTouch(
    MpClient *c)
{
    MpInstance *mp = c->mp;

    if (mp->config.idleTimeout <= 0 || c->state != MP_CLIENT_OPEN) {
	return;
    }
    c->lastActive = MpNowMs();
    if (mp->last == c) {
	return;
    }
    if (c->prev != NULL) {
	c->prev->next = c->next;
    } else {
	mp->first = c->next;
    }
    c->next->prev = c->prev;
    c->prev = mp->last;
    c->next = NULL;
    mp->last->next = c;
    mp->last = c;
}

/*
 *----------------------------------------------------------------------
 *
 * MpIdleReschedule --
 *
 *	Makes sure a timer is pending for the least recently active client
 *	when idle timeouts are on, and none when they are off.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Creates or deletes the instance's idle timer.
 *
 *----------------------------------------------------------------------
 */

void
MpIdleReschedule(
    MpInstance *mp)
{
    Tcl_WideInt due;
    MpClient *oldest;

    if (mp->destroyed || mp->config.idleTimeout <= 0) {
	if (mp->idleTimer != NULL) {
	    Tcl_DeleteTimerHandler(mp->idleTimer);
	    mp->idleTimer = NULL;
	}
	return;
    }
    if (mp->idleTimer != NULL) {
	return;			/* Armed; it re-arms itself when it fires. */
    }
    oldest = OldestAdmitted(mp);
    if (oldest == NULL) {
	return;
    }
    due = oldest->lastActive + mp->config.idleTimeout - MpNowMs();
    if (due < 1) {
	due = 1;
    }
    if (due > 0x7FFFFFFF) {
	due = 0x7FFFFFFF;
    }
    mp->idleTimer = Tcl_CreateTimerHandler((int) due, IdleTimerProc, mp);
}

/*
 *----------------------------------------------------------------------
 *
 * IdleTimerProc --
 *
 *	Disconnects every client silent for idletimeout or longer (reason
 *	"timeout"), then re-arms; stops after the first whose exit filters
 *	ran, so each client's exit filters are a Tcl event of their own.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes clients; runs exit filters.
 *
 *----------------------------------------------------------------------
 */

static void
IdleTimerProc(
    ClientData clientData)
{
    MpInstance *mp = (MpInstance *) clientData;
    MpLoop *loop = mp->loop;
    Tcl_WideInt now = MpNowMs();
    Tcl_WideUInt scripts = loop->scriptCalls;
    MpClient *c;

    Tcl_Interp *interp = mp->interp;

    mp->idleTimer = NULL;
    Tcl_Preserve(interp);	/* Exit filters may delete it. */
    MpInstanceRef(mp);
    while (!mp->destroyed && mp->config.idleTimeout > 0
	    && (c = OldestAdmitted(mp)) != NULL
	    && c->lastActive + mp->config.idleTimeout <= now) {
	MpLog(mp, MP_LOG_INFO, "client %s port %d idle for %ld ms, "
		"disconnecting", c->peer.host, c->peer.port,
		mp->config.idleTimeout);
	MpClientClose(c, MP_REASON_TIMEOUT, NULL);
	if (loop->scriptCalls != scripts) {
	    break;		/* Its exit filters ran: the next client is
				 * timed out in an event of its own (the
				 * timer below is due at once). */
	}
    }
    MpIdleReschedule(mp);
    MpInstanceUnref(mp);
    Tcl_Release(interp);
}
