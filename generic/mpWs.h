/*
 * mpWs.h --
 *
 *	What the files of the WebSocket member share: the options of a
 *	WebSocket listener (Init -protocol websocket), which the listener and
 *	every client still in its opening handshake hold by reference, so
 *	that closing the listener does not pull them from under a handshake.
 */

#ifndef MP_WS_H
#define MP_WS_H

#include "mpInt.h"

struct MpWsOptions {
    int refCount;
    Tcl_Obj *pathObj;		/* -path: the only path that upgrades, or
				 * NULL for any. */
    Tcl_Obj *originsObj;	/* -origins: the Origin values allowed (a
				 * list), or NULL for any. */
    Tcl_Obj *subprotocolsObj;	/* -subprotocols: offered, in order of
				 * preference (a list), or NULL. */
    Tcl_Obj *httpCommand;	/* -httpcommand prefix, or NULL. */
};

#endif /* MP_WS_H */
