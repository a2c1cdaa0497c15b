/*
 * mpIdle.c --
 *
 *	Idle timeouts. With Config idletimeout set, a client's input moves it
 *	to the tail of the instance's client list, so the list is ordered by
 *	last activity and one timer watching its head suffices, however many
 *	clients there are.
 */

#include "mpInt.h"

static void		IdleTimerProc(ClientData clientData);

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

    if (mp->destroyed || mp->config.idleTimeout <= 0 || mp->first == NULL) {
	if (mp->idleTimer != NULL) {
	    Tcl_DeleteTimerHandler(mp->idleTimer);
	    mp->idleTimer = NULL;
	}
	return;
    }
    if (mp->idleTimer != NULL) {
	return;
    }
    due = mp->first->lastActive + mp->config.idleTimeout - MpNowMs();
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
 *	"timeout"), then re-arms.
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
    Tcl_WideInt now = MpNowMs();
    MpClient *c;

    mp->idleTimer = NULL;
    MpInstanceRef(mp);
    while (!mp->destroyed && mp->config.idleTimeout > 0
	    && (c = mp->first) != NULL && c->admitted
	    && c->lastActive + mp->config.idleTimeout <= now) {
	MpLog(mp, MP_LOG_INFO, "client %s port %d idle for %ld ms, "
		"disconnecting", c->peer.host, c->peer.port,
		mp->config.idleTimeout);
	MpClientClose(c, MP_REASON_TIMEOUT, NULL);
    }
    MpIdleReschedule(mp);
    MpInstanceUnref(mp);
}
