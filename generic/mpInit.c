/*
 * mpInit.c --
 *
 *	Package entry point: Multiplexer_Init creates the ::multiplexer
 *	namespace commands and makes the thread's poller early, while
 *	descriptor numbers are still low.
 */

#include "mpInt.h"
#include "mpTls.h"

static Tcl_ObjCmdProc CreateObjCmd;
static Tcl_ObjCmdProc BuildInfoObjCmd;
static Tcl_ObjCmdProc FdLimitObjCmd;

/*
 *----------------------------------------------------------------------
 *
 * Multiplexer_Init --
 *
 *	Initialises the package in an interpreter.
 *
 * Results:
 *	TCL_OK, or TCL_ERROR with a message.
 *
 * Side effects:
 *	Creates ::multiplexer::create, ::multiplexer::build-info and
 *	::multiplexer::fdlimit; provides the package; creates this thread's
 *	poller if it has none.
 *
 *----------------------------------------------------------------------
 */

#ifdef __cplusplus
extern "C" {
#endif
DLLEXPORT int Multiplexer_Init(Tcl_Interp *interp);
#ifdef __cplusplus
}
#endif

int
Multiplexer_Init(
    Tcl_Interp *interp)
{
    MpLoop *loop;

    if (Tcl_InitStubs(interp, "8.6", 0) == NULL) {
	return TCL_ERROR;
    }
    if (MpSockStartup() != 0) {
	Tcl_SetObjResult(interp, Tcl_NewStringObj(
		"multiplexer: cannot initialise sockets", -1));
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "SOCKET", "STARTUP", NULL);
	return TCL_ERROR;
    }
    loop = MpLoopAcquire(interp);
    if (loop == NULL) {
	return TCL_ERROR;
    }
    MpLoopRelease(loop);	/* The thread keeps its own reference. */

    if (Tcl_CreateNamespace(interp, "::multiplexer", NULL, NULL) == NULL
	    && Tcl_FindNamespace(interp, "::multiplexer", NULL, 0) == NULL) {
	return TCL_ERROR;
    }
    Tcl_ResetResult(interp);
    Tcl_CreateObjCommand(interp, "::multiplexer::create", CreateObjCmd,
	    NULL, NULL);
    Tcl_CreateObjCommand(interp, "::multiplexer::build-info",
	    BuildInfoObjCmd, NULL, NULL);
    Tcl_CreateObjCommand(interp, "::multiplexer::fdlimit", FdLimitObjCmd,
	    NULL, NULL);
    Tcl_CreateObjCommand(interp, "::multiplexer::groupsock",
	    MpGroupsockObjCmd, NULL, NULL);
    return Tcl_PkgProvide(interp, "multiplexer", PACKAGE_VERSION);
}

/*
 *----------------------------------------------------------------------
 *
 * CreateObjCmd --
 *
 *	::multiplexer::create: makes a new instance.
 *
 * Results:
 *	The instance namespace name (::multiplexer::mpN).
 *
 * Side effects:
 *	See MpInstanceCreate.
 *
 *----------------------------------------------------------------------
 */

static int
CreateObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Tcl_Obj *nameObj;

    (void) clientData;
    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    if (MpInstanceCreate(interp, &nameObj) != TCL_OK) {
	return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, nameObj);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * BuildInfoObjCmd --
 *
 *	::multiplexer::build-info: how this build was made.
 *
 * Results:
 *	A dict: version, poller, tcl (the headers' version), readchunk,
 *	allocator ("tcl", or "system" in the sanitizer builds: MpAlloc),
 *	fdfloor (the lowest descriptor number the package's sockets are put
 *	at under the current descriptor limit, 0 for none: MpSockFdFloor).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
BuildInfoObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Tcl_Obj *dict;

    (void) clientData;
    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    dict = Tcl_NewDictObj();
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("version", -1),
	    Tcl_NewStringObj(PACKAGE_VERSION, -1));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("poller", -1),
	    Tcl_NewStringObj(MpPollerName(), -1));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("tcl", -1),
	    Tcl_NewStringObj(TCL_PATCH_LEVEL, -1));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("readchunk", -1),
	    Tcl_NewIntObj(MP_READ_CHUNK));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("allocator", -1),
#ifdef MP_SYSTEM_ALLOC
	    Tcl_NewStringObj("system", -1)
#else
	    Tcl_NewStringObj("tcl", -1)
#endif
	    );
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("fdfloor", -1),
	    Tcl_NewIntObj(MpSockFdFloor()));
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj("tls", -1),
	    MpTlsBuildInfo());
    Tcl_SetObjResult(interp, dict);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * FdLimitObjCmd --
 *
 *	::multiplexer::fdlimit: lifts the process's soft limit on open
 *	descriptors to its hard limit (Init does the same) and reports it.
 *
 * Results:
 *	The limit (-1 where the platform has none to report).
 *
 * Side effects:
 *	May raise the process's descriptor limit.
 *
 *----------------------------------------------------------------------
 */

static int
FdLimitObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    long limit;

    (void) clientData;
    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    limit = MpSockRaiseFdLimit();
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj((Tcl_WideInt) limit));
    return TCL_OK;
}
