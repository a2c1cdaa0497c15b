/*
 * mpWsOptions.c --
 *
 *	The options of a WebSocket listener (Init -protocol websocket -path
 *	... -origins ... -subprotocols ... -httpcommand ...): checking them
 *	and sharing them by reference.
 */

#include "mpWs.h"

static int		TokenOk(const char *s);

/*
 *----------------------------------------------------------------------
 *
 * TokenOk --
 *
 *	Whether a string is an HTTP token (RFC 9110 section 5.6.2), as a
 *	subprotocol name must be (RFC 6455 section 4.1).
 *
 * Results:
 *	1 or 0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
TokenOk(
    const char *s)
{
    const char *p;

    if (*s == '\0') {
	return 0;
    }
    for (p = s; *p != '\0'; p++) {
	unsigned char ch = (unsigned char) *p;

	if (ch <= 32 || ch >= 127 || strchr("()<>@,;:\\\"/[]?={}", ch)) {
	    return 0;
	}
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsOptionsNew --
 *
 *	Checks the options of a WebSocket listener and makes their shared
 *	record. Any of the objects may be NULL (option not given). The path
 *	must start with "/"; origins and subprotocols must be lists, the
 *	subprotocols HTTP tokens; an empty -httpcommand means none.
 *
 * Results:
 *	TCL_OK with *optsPtr set (one reference), or TCL_ERROR with a
 *	message and -errorcode {MULTIPLEXER VALUE ...}.
 *
 * Side effects:
 *	Allocates; holds references on the objects.
 *
 *----------------------------------------------------------------------
 */

int
MpWsOptionsNew(
    Tcl_Interp *interp,
    Tcl_Obj *pathObj,
    Tcl_Obj *originsObj,
    Tcl_Obj *subprotocolsObj,
    Tcl_Obj *httpCommand,
    MpWsOptions **optsPtr)
{
    MpWsOptions *o;
    Tcl_Size n, i;
    Tcl_Obj **elems;

    if (pathObj != NULL) {
	const char *path = Tcl_GetString(pathObj);

	if (path[0] != '/' || strpbrk(path, " ?#\t\r\n") != NULL) {
	    return MpError(interp, "VALUE", "PATH", "expected a path starting "
		    "with \"/\" (no query, no blanks) but got \"%s\"", path);
	}
    }
    if (originsObj != NULL && Tcl_ListObjLength(NULL, originsObj, &n)
	    != TCL_OK) {
	return MpError(interp, "VALUE", "ORIGINS",
		"expected a list of origins but got \"%s\"",
		Tcl_GetString(originsObj));
    }
    if (subprotocolsObj != NULL) {
	if (Tcl_ListObjGetElements(NULL, subprotocolsObj, &n, &elems)
		!= TCL_OK) {
	    return MpError(interp, "VALUE", "SUBPROTOCOLS",
		    "expected a list of subprotocols but got \"%s\"",
		    Tcl_GetString(subprotocolsObj));
	}
	for (i = 0; i < n; i++) {
	    if (!TokenOk(Tcl_GetString(elems[i]))) {
		return MpError(interp, "VALUE", "SUBPROTOCOLS",
			"subprotocol \"%s\" is not an HTTP token",
			Tcl_GetString(elems[i]));
	    }
	}
	if (n == 0) {
	    subprotocolsObj = NULL;
	}
    }
    if (httpCommand != NULL) {
	if (Tcl_ListObjLength(NULL, httpCommand, &n) != TCL_OK) {
	    return MpError(interp, "VALUE", "COMMAND",
		    "expected a command prefix (a list) but got \"%s\"",
		    Tcl_GetString(httpCommand));
	}
	if (n == 0) {
	    httpCommand = NULL;
	}
    }
    o = (MpWsOptions *) MpAlloc(sizeof(MpWsOptions));
    memset(o, 0, sizeof(MpWsOptions));
    o->refCount = 1;
    o->pathObj = pathObj;
    o->originsObj = originsObj;
    o->subprotocolsObj = subprotocolsObj;
    o->httpCommand = httpCommand;
    if (pathObj != NULL) {
	Tcl_IncrRefCount(pathObj);
    }
    if (originsObj != NULL) {
	Tcl_IncrRefCount(originsObj);
    }
    if (subprotocolsObj != NULL) {
	Tcl_IncrRefCount(subprotocolsObj);
    }
    if (httpCommand != NULL) {
	Tcl_IncrRefCount(httpCommand);
    }
    *optsPtr = o;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWsOptionsRef, MpWsOptionsUnref --
 *
 *	Share the options (listener, clients in their handshake).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	The last unref frees the record and its objects.
 *
 *----------------------------------------------------------------------
 */

void
MpWsOptionsRef(
    MpWsOptions *o)
{
    o->refCount++;
}

void
MpWsOptionsUnref(
    MpWsOptions *o)
{
    if (--o->refCount > 0) {
	return;
    }
    if (o->pathObj != NULL) {
	Tcl_DecrRefCount(o->pathObj);
    }
    if (o->originsObj != NULL) {
	Tcl_DecrRefCount(o->originsObj);
    }
    if (o->subprotocolsObj != NULL) {
	Tcl_DecrRefCount(o->subprotocolsObj);
    }
    if (o->httpCommand != NULL) {
	Tcl_DecrRefCount(o->httpCommand);
    }
    MpFree(o);
}
