/*
 * mpTimeUnix.c --
 *
 *	The package's clock on Unix: milliseconds from the monotonic clock,
 *	so that idle timeouts, lingers, connect timeouts and the dispatch
 *	budget neither fire early nor stall when the wall clock is set.
 */

#include <time.h>
#include "mpInt.h"

/*
 *----------------------------------------------------------------------
 *
 * MpNowMs --
 *
 *	The current time of the monotonic clock.
 *
 * Results:
 *	Milliseconds since an unspecified start (not the epoch); only
 *	differences mean anything.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

Tcl_WideInt
MpNowMs(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
	/*
	 * Cannot happen with CLOCK_MONOTONIC on a system that defines it;
	 * fall back to Tcl's clock rather than return nonsense.
	 */

	Tcl_Time t;

	Tcl_GetTime(&t);
	return (Tcl_WideInt) t.sec * 1000 + t.usec / 1000;
    }
    return (Tcl_WideInt) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
