/*
 * mpNotifyUnix.c --
 *
 *	Hooks the per-thread loop into Tcl's notifier on Unix. Backends with a
 *	pollable descriptor (epoll, kqueue) hand that one descriptor to
 *	Tcl_CreateFileHandler, so Tcl sleeps in its own notifier and wakes
 *	when any client is ready, however many clients there are and however
 *	high their descriptor numbers. Other backends use the generic event
 *	source.
 */

#include "mpInt.h"

/*
 * Tcl 8.6's select-based notifier cannot watch descriptors at or above
 * FD_SETSIZE; keep the poller's own descriptor below that.
 */

#define MP_NOTIFIER_FD_LIMIT 1024

static void		NotifyProc(ClientData clientData, int mask);

/*
 *----------------------------------------------------------------------
 *
 * MpNotifyAttach --
 *
 *	Makes Tcl's event loop dispatch the loop's events.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR when the poller's descriptor is too high for
 *	Tcl's notifier and cannot be moved lower.
 *
 * Side effects:
 *	Creates a file handler or an event source.
 *
 *----------------------------------------------------------------------
 */

int
MpNotifyAttach(
    MpLoop *loop)
{
    int fd = MpPollerNotifyFd(loop->poller);

    if (fd < 0) {
	loop->notifyFd = -1;
	return MpLoopAttachEventSource(loop);
    }
    if (fd >= MP_NOTIFIER_FD_LIMIT) {
	return TCL_ERROR;
    }
    loop->notifyFd = fd;
    Tcl_CreateFileHandler(fd, TCL_READABLE, NotifyProc, loop);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpNotifyDetach --
 *
 *	Undoes MpNotifyAttach.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Deletes the file handler or event source.
 *
 *----------------------------------------------------------------------
 */

void
MpNotifyDetach(
    MpLoop *loop)
{
    if (loop->notifyFd >= 0) {
	Tcl_DeleteFileHandler(loop->notifyFd);
	loop->notifyFd = -1;
    } else {
	MpLoopDetachEventSource(loop);
    }
    loop->attached = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * NotifyProc --
 *
 *	Tcl's callback when the poller descriptor is readable.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Dispatches the loop's ready events.
 *
 *----------------------------------------------------------------------
 */

static void
NotifyProc(
    ClientData clientData,
    int mask)
{
    (void) mask;
    MpLoopDispatch((MpLoop *) clientData);
}
