/*
 * mpTimeWin.c --
 *
 *	The package's clock on Windows: milliseconds from GetTickCount64,
 *	which never goes back when the wall clock is set.
 */

#include <windows.h>
#include "mpInt.h"

/*
 *----------------------------------------------------------------------
 *
 * MpNowMs --
 *
 *	The current time of the monotonic clock.
 *
 * Results:
 *	Milliseconds since the system started; only differences mean
 *	anything.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

Tcl_WideInt
MpNowMs(void)
{
    return (Tcl_WideInt) GetTickCount64();
}
