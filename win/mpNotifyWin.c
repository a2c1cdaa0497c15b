/*
 * mpNotifyWin.c --
 *
 *	Hooks the per-thread loop into Tcl's notifier on Windows. Tcl has no
 *	Tcl_CreateFileHandler there, and WSAPoll has no descriptor to wait
 *	on, so the generic polling event source is used.
 */

#include "mpInt.h"

/*
 *----------------------------------------------------------------------
 *
 * MpNotifyAttach, MpNotifyDetach --
 *
 *	Create and delete the loop's event source.
 *
 * Results:
 *	TCL_OK / none.
 *
 * Side effects:
 *	See MpLoopAttachEventSource.
 *
 *----------------------------------------------------------------------
 */

int
MpNotifyAttach(
    MpLoop *loop)
{
    loop->notifyFd = -1;
    return MpLoopAttachEventSource(loop);
}

void
MpNotifyDetach(
    MpLoop *loop)
{
    MpLoopDetachEventSource(loop);
    loop->attached = 0;
}
