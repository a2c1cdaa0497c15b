/*
 * mpCmd.c --
 *
 *	The instance commands of the tcllib 0.2 contract (Init, Config,
 *	AddFilter, AddAccessFilter, AddExitFilter, destroy) plus listening
 *	control (Port, Pause, Resume) and filter registration with
 *	priorities. Sending and groups live in mpCmdSend.c and mpCmdGroup.c.
 */

#include <stdarg.h>
#include <stdio.h>
#include "mpInt.h"
#include "mpTls.h"

static Tcl_ObjCmdProc InitObjCmd;
static Tcl_ObjCmdProc AddFilterObjCmd;
static Tcl_ObjCmdProc DestroyObjCmd;
static Tcl_ObjCmdProc PortObjCmd;
static Tcl_ObjCmdProc TlsReloadObjCmd;
static Tcl_ObjCmdProc PauseObjCmd;

/*
 * What an instance command's Tcl command holds: the instance, with a
 * reference of its own (so a command renamed out of the namespace and
 * called after destroy finds a record marked destroyed, not freed memory),
 * and the procedure that does the work.
 */

typedef struct CmdData {
    MpInstance *mp;
    Tcl_ObjCmdProc *proc;
} CmdData;

static Tcl_ObjCmdProc	CmdTrampoline;
static void		CmdDelete(ClientData clientData);
static Tcl_ObjCmdProc	ResumeObjCmd;
static Tcl_ObjCmdProc	AddAccessFilterObjCmd;
static Tcl_ObjCmdProc	AddExitFilterObjCmd;
static Tcl_ObjCmdProc	AddOutputFilterObjCmd;
static Tcl_ObjCmdProc	RemoveFilterObjCmd;
static Tcl_ObjCmdProc	FiltersObjCmd;
static int		GetFilterKind(Tcl_Interp *interp, Tcl_Obj *objPtr,
			    int *kindPtr);
static int		AddFilter(MpInstance *mp, int kind,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);
static int		PauseOrResume(MpInstance *mp, int pause,
			    Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[]);

/*
 *----------------------------------------------------------------------
 *
 * MpError --
 *
 *	Sets a formatted error message and the error code
 *	{MULTIPLEXER code1 ?code2?}; does nothing when interp is NULL.
 *
 * Results:
 *	TCL_ERROR, for "return MpError(...)".
 *
 * Side effects:
 *	Sets the interpreter's result and errorCode.
 *
 *----------------------------------------------------------------------
 */

int
MpError(
    Tcl_Interp *interp,
    const char *code1,
    const char *code2,
    const char *fmt,
    ...)
{
    char buf[1024];
    va_list ap;

    if (interp == NULL) {
	return TCL_ERROR;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    Tcl_SetObjResult(interp, Tcl_NewStringObj(buf, -1));
    Tcl_SetErrorCode(interp, "MULTIPLEXER", code1, code2, NULL);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * MpWrongArgs --
 *
 *	Tcl_WrongNumArgs's usage message, with the error code
 *	{MULTIPLEXER WRONGARGS} like every other error of the package.
 *
 * Results:
 *	TCL_ERROR, for "return MpWrongArgs(...)".
 *
 * Side effects:
 *	Sets the interpreter's result and errorCode.
 *
 *----------------------------------------------------------------------
 */

int
MpWrongArgs(
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[],
    const char *message)
{
    Tcl_WrongNumArgs(interp, objc, objv, message);
    Tcl_SetErrorCode(interp, "MULTIPLEXER", "WRONGARGS", NULL);
    return TCL_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * MpCheckAlive --
 *
 *	Fails commands of an instance that has been destroyed (possible while
 *	its namespace's deletion waits for a running proc to return).
 *
 * Results:
 *	TCL_OK or TCL_ERROR.
 *
 * Side effects:
 *	Sets an error.
 *
 *----------------------------------------------------------------------
 */

int
MpCheckAlive(
    Tcl_Interp *interp,
    MpInstance *mp)
{
    if (mp->destroyed) {
	return MpError(interp, "DESTROYED", NULL,
		"multiplexer instance \"%s\" has been destroyed",
		Tcl_GetString(mp->nameObj));
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpCmdRegister --
 *
 *	Creates the instance's commands in its namespace.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Creates commands.
 *
 *----------------------------------------------------------------------
 */

void
MpCmdRegister(
    MpInstance *mp)
{
    static const struct {
	const char *name;
	Tcl_ObjCmdProc *proc;
    } cmds[] = {
	{"Init", InitObjCmd},
	{"Config", MpConfigObjCmd},
	{"destroy", DestroyObjCmd},
	{"Port", PortObjCmd},
	{"TlsReload", TlsReloadObjCmd},
	{"Pause", PauseObjCmd},
	{"Resume", ResumeObjCmd},
	{"Connect", MpConnectObjCmd},
	{"Cluster", MpClusterObjCmd},
	{"Multicast", MpMulticastObjCmd},
	{"AddFilter", AddFilterObjCmd},
	{"AddAccessFilter", AddAccessFilterObjCmd},
	{"AddExitFilter", AddExitFilterObjCmd},
	{"AddOutputFilter", AddOutputFilterObjCmd},
	{"RemoveFilter", RemoveFilterObjCmd},
	{"Filters", FiltersObjCmd},
	{NULL, NULL}
    };
    const char *prefix = Tcl_GetString(mp->nameObj);
    int i;

    for (i = 0; cmds[i].name != NULL; i++) {
	MpCmdCreate(mp, prefix, cmds[i].name, cmds[i].proc);
    }
    MpCmdRegisterSend(mp, prefix);
    MpCmdRegisterGroup(mp, prefix);
    MpCmdRegisterData(mp, prefix);
}

/*
 *----------------------------------------------------------------------
 *
 * MpCmdCreate --
 *
 *	Creates the instance command prefix::name. Every instance command is
 *	made here: the Tcl command holds a reference on the instance for as
 *	long as it exists (renamed or not), and each call holds one more
 *	while it runs, so that a command whose work runs Tcl code (filters,
 *	callbacks) that destroys the instance or deletes the command never
 *	works on freed memory. The command's procedure gets the instance as
 *	its clientData and decides nothing by the name it was called by.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Creates a command; takes a reference on mp.
 *
 *----------------------------------------------------------------------
 */

void
MpCmdCreate(
    MpInstance *mp,
    const char *prefix,		/* The instance's namespace. */
    const char *name,		/* The command's name in it. */
    Tcl_ObjCmdProc *proc)	/* Called with mp as clientData. */
{
    CmdData *d = (CmdData *) MpAlloc(sizeof(CmdData));
    Tcl_Obj *cmdName = Tcl_ObjPrintf("%s::%s", prefix, name);

    d->mp = mp;
    d->proc = proc;
    MpInstanceRef(mp);
    Tcl_IncrRefCount(cmdName);
    Tcl_CreateObjCommand(mp->interp, Tcl_GetString(cmdName), CmdTrampoline,
	    d, CmdDelete);
    Tcl_DecrRefCount(cmdName);
}

/*
 *----------------------------------------------------------------------
 *
 * CmdTrampoline --
 *
 *	Calls an instance command's procedure with a reference held on the
 *	instance for the whole call. The CmdData record itself may be freed
 *	during the call (the command deleted by destroy or rename), so it
 *	is read before the call only.
 *
 * Results:
 *	What the procedure returns.
 *
 * Side effects:
 *	Those of the procedure.
 *
 *----------------------------------------------------------------------
 */

static int
CmdTrampoline(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    CmdData *d = (CmdData *) clientData;
    MpInstance *mp = d->mp;
    Tcl_ObjCmdProc *proc = d->proc;
    int code;

    MpInstanceRef(mp);
    code = proc(mp, interp, objc, objv);
    MpInstanceUnref(mp);
    return code;
}

/*
 *----------------------------------------------------------------------
 *
 * CmdDelete --
 *
 *	Deletion callback of an instance command.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Drops the command's reference on the instance (which may free it);
 *	frees the record.
 *
 *----------------------------------------------------------------------
 */

static void
CmdDelete(
    ClientData clientData)
{
    CmdData *d = (CmdData *) clientData;

    MpInstanceUnref(d->mp);
    MpFree(d);
}

/*
 *----------------------------------------------------------------------
 *
 * InitObjCmd --
 *
 *	${mp}::Init port ?-myaddr addr? ?-backlog n? ?-reuseport bool?
 *	    ?-protocol tcp|websocket? ?-tls optionlist? ?-path p?
 *	    ?-origins list? ?-subprotocols list? ?-httpcommand cmdprefix?
 *	Starts listening; each call adds a listener. Without -myaddr every
 *	interface is used (IPv4 and IPv6), as tcllib's package did. Port 0
 *	picks a free port (see Port). A WebSocket listener takes the last
 *	four options (mpWsOptions.c, mpWsClient.c). -tls makes a TLS
 *	listener of either protocol (mpTlsContext.c, mpTlsClient.c). Also lifts the
 *	descriptor limit to the hard limit.
 *
 * Results:
 *	The listener's channel name (usable with fconfigure -sockname and
 *	close), or an error.
 *
 * Side effects:
 *	Opens the listening socket.
 *
 *----------------------------------------------------------------------
 */

static int
InitObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {
	"-myaddr", "-backlog", "-reuseport", "-protocol", "-tls", "-path",
	"-origins", "-subprotocols", "-httpcommand", NULL
    };
    enum {
	OPT_MYADDR, OPT_BACKLOG, OPT_REUSEPORT, OPT_PROTOCOL, OPT_TLS,
	OPT_PATH, OPT_ORIGINS, OPT_SUBPROTOCOLS, OPT_HTTPCOMMAND
    };
    static const char *const protocols[] = {"tcp", "websocket", NULL};
    MpInstance *mp = (MpInstance *) clientData;
    const char *host = NULL;
    int port, backlog = 0, reusePort = 0, i, idx, protocol = MP_PROTO_TCP;
    Tcl_Obj *wsObjs[4] = {NULL, NULL, NULL, NULL};
    const char *wsOption = NULL;
    MpWsOptions *wsOptions = NULL;
    Tcl_Obj *tlsObj = NULL;
    MpTlsContext *tls = NULL;

    if (objc < 2 || (objc % 2) != 0) {
	return MpWrongArgs(interp, 1, objv,
		"port ?option value ...?");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    if (Tcl_GetIntFromObj(NULL, objv[1], &port) != TCL_OK
	    || port < 0 || port > 65535) {
	return MpError(interp, "VALUE", "PORT",
		"expected a port number from 0 to 65535 but got \"%s\"",
		Tcl_GetString(objv[1]));
    }
    for (i = 2; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(interp, objv[i], options, "option", 0,
		&idx) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "OPTION",
		    Tcl_GetString(objv[i]), NULL);
	    return TCL_ERROR;
	}
	switch (idx) {
	case OPT_MYADDR:
	    host = Tcl_GetString(objv[i + 1]);
	    break;
	case OPT_BACKLOG:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &backlog) != TCL_OK
		    || backlog < 1) {
		return MpError(interp, "VALUE", "BACKLOG",
			"expected a positive integer backlog but got \"%s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_REUSEPORT:
	    if (Tcl_GetBooleanFromObj(NULL, objv[i + 1], &reusePort)
		    != TCL_OK) {
		return MpError(interp, "VALUE", "BOOLEAN",
			"expected boolean value for -reuseport but got \"%s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_PROTOCOL:
	    if (Tcl_GetIndexFromObj(interp, objv[i + 1], protocols,
		    "protocol", 0, &protocol) != TCL_OK) {
		Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "PROTOCOL",
			NULL);
		return TCL_ERROR;
	    }
	    break;
	case OPT_TLS:
	    tlsObj = objv[i + 1];
	    break;
	default:
	    wsObjs[idx - OPT_PATH] = objv[i + 1];
	    wsOption = options[idx];
	    break;
	}
    }
    if (protocol == MP_PROTO_TCP && wsOption != NULL) {
	return MpError(interp, "OPTION", "PROTOCOL",
		"option %s needs -protocol websocket", wsOption);
    }
    if (tlsObj != NULL && MpTlsContextNew(interp, tlsObj, 1, &tls)
	    != TCL_OK) {
	return TCL_ERROR;
    }
    if (protocol == MP_PROTO_WEBSOCKET && MpWsOptionsNew(interp,
	    wsObjs[0], wsObjs[1], wsObjs[2], wsObjs[3], &wsOptions)
	    != TCL_OK) {
	if (tls != NULL) {
	    MpTlsContextUnref(tls);
	}
	return TCL_ERROR;
    }
    (void) MpSockRaiseFdLimit();
    return MpListenerOpen(interp, mp, host, port, backlog, reusePort,
	    wsOptions, tls);
}

/*
 *----------------------------------------------------------------------
 *
 * TlsReloadObjCmd --
 *
 *	${mp}::TlsReload: re-reads every TLS listener's certificate, key
 *	and CA files (MpListenerTlsReload).
 *
 * Results:
 *	The number of TLS listeners reloaded, or an error naming the first
 *	listener whose files failed (it keeps its old ones).
 *
 * Side effects:
 *	Reads files.
 *
 *----------------------------------------------------------------------
 */

static int
TlsReloadObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;

    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    return MpListenerTlsReload(interp, mp);
}

/*
 *----------------------------------------------------------------------
 *
 * PortObjCmd --
 *
 *	${mp}::Port: the port of the instance's first listener.
 *
 * Results:
 *	The port number, or an error when not listening.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
PortObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;

    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    if (mp->listeners == NULL) {
	return MpError(interp, "NOTLISTENING", NULL,
		"%s is not listening: call Init first",
		Tcl_GetString(mp->nameObj));
    }
    Tcl_SetObjResult(interp, Tcl_NewIntObj(mp->listeners->local.port));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * PauseObjCmd, ResumeObjCmd --
 *
 *	${mp}::Pause and ${mp}::Resume: stop and restart accepting new
 *	clients; connected clients are not affected. While paused, new
 *	connections wait in the kernel's backlog.
 *
 * Results:
 *	Empty, or an error when not listening.
 *
 * Side effects:
 *	Changes the listener's interest.
 *
 *----------------------------------------------------------------------
 */

static int
PauseObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return PauseOrResume((MpInstance *) clientData, 1, interp, objc, objv);
}

static int
ResumeObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return PauseOrResume((MpInstance *) clientData, 0, interp, objc, objv);
}

/*
 *----------------------------------------------------------------------
 *
 * PauseOrResume --
 *
 *	The work of Pause (pause 1) and Resume (pause 0).
 *
 * Results:
 *	A Tcl result code.
 *
 * Side effects:
 *	Changes the listener's interest.
 *
 *----------------------------------------------------------------------
 */

static int
PauseOrResume(
    MpInstance *mp,
    int pause,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    if (mp->listeners == NULL) {
	return MpError(interp, "NOTLISTENING", NULL,
		"%s is not listening: call Init first",
		Tcl_GetString(mp->nameObj));
    }
    MpListenerPause(mp, pause);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * AddFilterObjCmd, AddAccessFilterObjCmd, AddExitFilterObjCmd,
 *	AddOutputFilterObjCmd --
 *
 *	${mp}::AddFilter, AddAccessFilter, AddExitFilter, AddOutputFilter:
 *	cmdprefix ?priority?. Priority 0..100, lower runs first, default 50;
 *	equal priorities run in registration order.
 *
 * Results:
 *	Empty, or an error.
 *
 * Side effects:
 *	Adds the filter.
 *
 *----------------------------------------------------------------------
 */

static int
AddFilterObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return AddFilter((MpInstance *) clientData, MP_FILTER_DATA, interp,
	    objc, objv);
}

static int
AddAccessFilterObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return AddFilter((MpInstance *) clientData, MP_FILTER_ACCESS, interp,
	    objc, objv);
}

static int
AddExitFilterObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return AddFilter((MpInstance *) clientData, MP_FILTER_EXIT, interp,
	    objc, objv);
}

static int
AddOutputFilterObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return AddFilter((MpInstance *) clientData, MP_FILTER_OUTPUT, interp,
	    objc, objv);
}

/*
 *----------------------------------------------------------------------
 *
 * AddFilter --
 *
 *	The work of the four Add*Filter commands, for one filter kind.
 *
 * Results:
 *	A Tcl result code.
 *
 * Side effects:
 *	Adds the filter.
 *
 *----------------------------------------------------------------------
 */

static int
AddFilter(
    MpInstance *mp,
    int kind,			/* MP_FILTER_*. */
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    Tcl_Size len;
    int priority = 50;

    if (objc != 2 && objc != 3) {
	return MpWrongArgs(interp, 1, objv, "cmdprefix ?priority?");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    if (Tcl_ListObjLength(NULL, objv[1], &len) != TCL_OK || len == 0) {
	return MpError(interp, "VALUE", "CMDPREFIX",
		"expected a non-empty command prefix but got \"%s\"",
		Tcl_GetString(objv[1]));
    }
    if (objc == 3 && (Tcl_GetIntFromObj(NULL, objv[2], &priority) != TCL_OK
	    || priority < 0 || priority > 100)) {
	return MpError(interp, "VALUE", "PRIORITY",
		"expected a priority from 0 to 100 but got \"%s\"",
		Tcl_GetString(objv[2]));
    }
    MpFilterAdd(&mp->filters[kind], objv[1], priority);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * GetFilterKind --
 *
 *	Parses a filter kind: data, access, exit or output.
 *
 * Results:
 *	A Tcl result code; *kindPtr is an MP_FILTER_* value.
 *
 * Side effects:
 *	Sets an error (MULTIPLEXER VALUE KIND) on failure.
 *
 *----------------------------------------------------------------------
 */

static int
GetFilterKind(
    Tcl_Interp *interp,
    Tcl_Obj *objPtr,
    int *kindPtr)
{
    static const char *const kinds[] = {
	"data", "access", "exit", "output", NULL
    };
    static const int values[] = {
	MP_FILTER_DATA, MP_FILTER_ACCESS, MP_FILTER_EXIT, MP_FILTER_OUTPUT
    };
    int idx;

    if (Tcl_GetIndexFromObj(interp, objPtr, kinds, "filter kind", 0, &idx)
	    != TCL_OK) {
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "KIND", NULL);
	return TCL_ERROR;
    }
    *kindPtr = values[idx];
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * RemoveFilterObjCmd --
 *
 *	${mp}::RemoveFilter kind cmdprefix: removes the filter of that kind
 *	(data, access, exit, output) registered with the same command
 *	prefix; the one added last if it was added several times.
 *
 * Results:
 *	1 if a filter was removed, 0 if there was none.
 *
 * Side effects:
 *	Changes the filter list (a chain already running is not affected).
 *
 *----------------------------------------------------------------------
 */

static int
RemoveFilterObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    int kind;

    if (objc != 3) {
	return MpWrongArgs(interp, 1, objv, "kind cmdprefix");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK
	    || GetFilterKind(interp, objv[1], &kind) != TCL_OK) {
	return TCL_ERROR;
    }
    Tcl_SetObjResult(interp, Tcl_NewBooleanObj(
	    MpFilterRemove(&mp->filters[kind], objv[2])));
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * FiltersObjCmd --
 *
 *	${mp}::Filters kind: the filters of a kind in the order they run,
 *	each as a list {cmdprefix priority}.
 *
 * Results:
 *	The list.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
FiltersObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    MpFilterList *list;
    Tcl_Obj *result;
    int kind, i;

    if (objc != 2) {
	return MpWrongArgs(interp, 1, objv, "kind");
    }
    if (MpCheckAlive(interp, mp) != TCL_OK
	    || GetFilterKind(interp, objv[1], &kind) != TCL_OK) {
	return TCL_ERROR;
    }
    list = &mp->filters[kind];
    result = Tcl_NewListObj(0, NULL);
    for (i = 0; i < list->count; i++) {
	Tcl_Obj *pair[2];

	pair[0] = list->items[i].cmdObj;
	pair[1] = Tcl_NewIntObj(list->items[i].priority);
	Tcl_ListObjAppendElement(NULL, result, Tcl_NewListObj(2, pair));
    }
    Tcl_SetObjResult(interp, result);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * DestroyObjCmd --
 *
 *	${mp}::destroy: closes the listener and every client and deletes the
 *	namespace. May be called from inside one of the instance's own
 *	filters.
 *
 * Results:
 *	Empty.
 *
 * Side effects:
 *	See MpInstanceTeardown; deletes the namespace.
 *
 *----------------------------------------------------------------------
 */

static int
DestroyObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;

    if (objc != 1) {
	return MpWrongArgs(interp, 1, objv, NULL);
    }
    if (mp->destroyed) {
	/* Teardown already running (destroy from an exit filter). */
	Tcl_ResetResult(interp);
	return TCL_OK;
    }
    MpInstanceDestroy(mp);
    Tcl_ResetResult(interp);
    return TCL_OK;
}
