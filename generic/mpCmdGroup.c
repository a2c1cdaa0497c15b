/*
 * mpCmdGroup.c --
 *
 *	Instance commands for groups: Join, Leave, Groups.
 */

#include <stdlib.h>
#include "mpInt.h"

static Tcl_ObjCmdProc JoinObjCmd;
static Tcl_ObjCmdProc LeaveObjCmd;
static Tcl_ObjCmdProc GroupsObjCmd;
static int		CompareNames(const void *a, const void *b);
static int		JoinOrLeave(MpInstance *mp, int join,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);

/*
 *----------------------------------------------------------------------
 *
 * MpCmdRegisterGroup --
 *
 *	Creates this file's commands in the instance namespace.
 *
 * Results:
 *	TCL_OK.
 *
 * Side effects:
 *	Creates commands.
 *
 *----------------------------------------------------------------------
 */

int
MpCmdRegisterGroup(
    MpInstance *mp,
    const char *prefix)
{
    MpCmdCreate(mp, prefix, "Join", JoinObjCmd);
    MpCmdCreate(mp, prefix, "Leave", LeaveObjCmd);
    MpCmdCreate(mp, prefix, "Groups", GroupsObjCmd);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * JoinObjCmd, LeaveObjCmd --
 *
 *	${mp}::Join chan group and ${mp}::Leave chan group.
 *
 * Results:
 *	1 if membership changed, 0 if it already was so; an error for an
 *	unknown client.
 *
 * Side effects:
 *	Changes group membership.
 *
 *----------------------------------------------------------------------
 */

static int
JoinObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return JoinOrLeave((MpInstance *) clientData, 1, interp, objc, objv);
}

static int
LeaveObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return JoinOrLeave((MpInstance *) clientData, 0, interp, objc, objv);
}

/*
 *----------------------------------------------------------------------
 *
 * JoinOrLeave --
 *
 *	The work of Join (join 1) and Leave (join 0): chan group.
 *
 * Results:
 *	A Tcl result code; the result is 1 if membership changed.
 *
 * Side effects:
 *	Adds the client to or removes it from the group.
 *
 *----------------------------------------------------------------------
 */

static int
JoinOrLeave(
    MpInstance *mp,
    int join,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpClient *c;
    int changed;

    if (objc != 3) {
	return MpWrongArgs(interp, 1, objv, "chan group");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    c = MpLookupClient(interp, mp, objv[1]);
    if (c == NULL) {
	return TCL_ERROR;
    }
    if (c->state >= MP_CLIENT_CLOSING) {
	/* A link still connecting may join: it is served once open. */
	return MpError(interp, "CLOSED", NULL,
		"client \"%s\" is disconnecting", Tcl_GetString(objv[1]));
    }
    changed = join ? MpGroupJoin(mp, c, Tcl_GetString(objv[2]))
	    : MpGroupLeave(mp, c, Tcl_GetString(objv[2]));
    Tcl_SetObjResult(interp, Tcl_NewBooleanObj(changed));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * GroupsObjCmd --
 *
 *	${mp}::Groups ?chan?: the groups that exist (have members), or those
 *	one client is in.
 *
 * Results:
 *	A sorted list of group names.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
GroupsObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpClient *c = NULL;
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;
    const char **names;
    int i, n = 0;
    Tcl_Obj *result;

    if (objc != 1 && objc != 2) {
	return MpWrongArgs(interp, 1, objv, "?chan?");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    if (objc == 2) {
	c = MpLookupClient(interp, mp, objv[1]);
	if (c == NULL) {
	    return TCL_ERROR;
	}
	names = (const char **) MpAlloc(sizeof(const char *)
		* (size_t) (c->groupCount + 1));
	for (i = 0; i < c->groupCount; i++) {
	    names[n++] = (const char *) Tcl_GetHashKey(&mp->groups,
		    c->groups[i]->hPtr);
	}
    } else {
	names = (const char **) MpAlloc(sizeof(const char *)
		* (size_t) (mp->groups.numEntries + 1));
	for (hPtr = Tcl_FirstHashEntry(&mp->groups, &search); hPtr != NULL;
		hPtr = Tcl_NextHashEntry(&search)) {
	    names[n++] = (const char *) Tcl_GetHashKey(&mp->groups, hPtr);
	}
    }
    qsort((void *) names, (size_t) n, sizeof(const char *), CompareNames);
    result = Tcl_NewListObj(0, NULL);
    for (i = 0; i < n; i++) {
	Tcl_ListObjAppendElement(NULL, result, Tcl_NewStringObj(names[i], -1));
    }
    MpFree((void *) names);
    Tcl_SetObjResult(interp, result);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * CompareNames --
 *
 *	qsort comparison of two group names, bytewise (for UTF-8, the order
 *	of code points, as lsort's default).
 *
 * Results:
 *	<0, 0 or >0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
CompareNames(
    const void *a,
    const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}
