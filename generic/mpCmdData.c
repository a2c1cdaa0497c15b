/*
 * mpCmdData.c --
 *
 *	${mp}::Data: values a script attaches to a client (a nickname, a
 *	user id, a room). They live in the client record, so they are found
 *	from any filter by the client's channel name and stay readable until
 *	the client's exit filters have run.
 */

#include "mpInt.h"

/*
 *----------------------------------------------------------------------
 *
 * MpCmdRegisterData --
 *
 *	Creates this file's commands in the instance namespace.
 *
 * Results:
 *	TCL_OK.
 *
 * Side effects:
 *	Creates a command.
 *
 *----------------------------------------------------------------------
 */

static Tcl_ObjCmdProc DataObjCmd;

int
MpCmdRegisterData(
    MpInstance *mp,
    const char *prefix)
{
    MpCmdCreate(mp, prefix, "Data", DataObjCmd);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * DataObjCmd --
 *
 *	${mp}::Data chan ?key ?value??
 *	With chan alone, the client's values as a dict; with a key, that
 *	key's value (an error if it was never set); with a value, sets it.
 *	Works on a client in its exit filters too, to read what was set
 *	(setting there is allowed and harmless).
 *
 * Results:
 *	The dict or the value; an error for an unknown client or key.
 *
 * Side effects:
 *	May change the client's dict.
 *
 *----------------------------------------------------------------------
 */

static int
DataObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *c;
    Tcl_Obj *valueObj;

    if (objc < 2 || objc > 4) {
	return MpWrongArgs(interp, 1, objv, "chan ?key ?value??");
    }
    c = MpLookupClient(interp, mp, objv[1]);
    if (c == NULL) {
	return TCL_ERROR;
    }
    if (c->dataObj == NULL) {
	c->dataObj = Tcl_NewDictObj();
	Tcl_IncrRefCount(c->dataObj);
    }
    if (objc == 2) {
	Tcl_SetObjResult(interp, c->dataObj);
	return TCL_OK;
    }
    if (objc == 3) {
	if (Tcl_DictObjGet(NULL, c->dataObj, objv[2], &valueObj) != TCL_OK
		|| valueObj == NULL) {
	    return MpError(interp, "LOOKUP", "KEY",
		    "client \"%s\" has no value for \"%s\"",
		    Tcl_GetString(objv[1]), Tcl_GetString(objv[2]));
	}
	Tcl_SetObjResult(interp, valueObj);
	return TCL_OK;
    }
    if (Tcl_IsShared(c->dataObj)) {
	Tcl_Obj *copy = Tcl_DuplicateObj(c->dataObj);

	Tcl_IncrRefCount(copy);
	Tcl_DecrRefCount(c->dataObj);
	c->dataObj = copy;
    }
    Tcl_DictObjPut(NULL, c->dataObj, objv[2], objv[3]);
    Tcl_SetObjResult(interp, objv[3]);
    return TCL_OK;
}
