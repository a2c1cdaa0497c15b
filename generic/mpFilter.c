/*
 * mpFilter.c --
 *
 *	Filter chains: registration by priority and the calls from C into
 *	the Tcl command prefixes, with tcllib's semantics (each data filter
 *	gets the previous result; an error leaves the data unchanged and is
 *	logged) plus chain control: -code break drops (or denies), -code
 *	continue passes the data on unchanged.
 */

#include "mpInt.h"

/*
 * Words of a filter call kept on the stack; longer calls (a prefix of
 * many words) allocate.
 */

#define MP_CALL_LOCAL_WORDS 16

/*
 * A chain run iterates over a snapshot of the filter list, holding a
 * reference to each command prefix, so that filters added or removed (or
 * the whole instance destroyed) while the chain runs neither run twice,
 * get skipped, nor are freed under the running call.
 */

#define MP_SNAP_LOCAL 8

typedef struct ChainSnap {
    Tcl_Obj **cmds;
    int count;
    Tcl_Obj *local[MP_SNAP_LOCAL];
} ChainSnap;

/*
 *----------------------------------------------------------------------
 *
 * SnapTake --
 *
 *	Copies the command prefixes of a filter list, in run order.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Takes a reference to each prefix; may allocate.
 *
 *----------------------------------------------------------------------
 */

static void
SnapTake(
    ChainSnap *snap,
    const MpFilterList *list)
{
    int i;

    snap->count = list->count;
    snap->cmds = (list->count <= MP_SNAP_LOCAL) ? snap->local
	    : (Tcl_Obj **) MpAlloc(sizeof(Tcl_Obj *) * (size_t) list->count);
    for (i = 0; i < list->count; i++) {
	snap->cmds[i] = list->items[i].cmdObj;
	Tcl_IncrRefCount(snap->cmds[i]);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * SnapRelease --
 *
 *	Releases a snapshot taken by SnapTake.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Drops the references; frees memory.
 *
 *----------------------------------------------------------------------
 */

static void
SnapRelease(
    ChainSnap *snap)
{
    int i;

    for (i = 0; i < snap->count; i++) {
	Tcl_DecrRefCount(snap->cmds[i]);
    }
    if (snap->cmds != snap->local) {
	MpFree(snap->cmds);
    }
    snap->count = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpFilterAdd --
 *
 *	Inserts a filter after every filter of lower or equal priority.
 *
 * Results:
 *	TCL_OK.
 *
 * Side effects:
 *	Grows the list; takes a reference to cmdObj.
 *
 *----------------------------------------------------------------------
 */

int
MpFilterAdd(
    MpFilterList *list,
    Tcl_Obj *cmdObj,
    int priority)
{
    int pos;

    if (list->count == list->capacity) {
	list->capacity = list->capacity ? list->capacity * 2 : 4;
	list->items = (MpFilter *) MpRealloc(list->items,
		sizeof(MpFilter) * (size_t) list->capacity);
    }
    pos = list->count;
    while (pos > 0 && list->items[pos - 1].priority > priority) {
	list->items[pos] = list->items[pos - 1];
	pos--;
    }
    list->items[pos].cmdObj = cmdObj;
    list->items[pos].priority = priority;
    Tcl_IncrRefCount(cmdObj);
    list->count++;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpFilterRemove --
 *
 *	Removes the filter of a list whose command prefix equals cmdObj (as
 *	a string), the one added last if several do. A chain already running
 *	keeps its own snapshot (see ChainSnap) and is not disturbed.
 *
 * Results:
 *	1 if a filter was removed, 0 if none matched.
 *
 * Side effects:
 *	Shrinks the list; releases the prefix.
 *
 *----------------------------------------------------------------------
 */

int
MpFilterRemove(
    MpFilterList *list,
    Tcl_Obj *cmdObj)
{
    const char *want = Tcl_GetString(cmdObj);
    int i;

    for (i = list->count - 1; i >= 0; i--) {
	if (strcmp(Tcl_GetString(list->items[i].cmdObj), want) == 0) {
	    Tcl_DecrRefCount(list->items[i].cmdObj);
	    memmove(&list->items[i], &list->items[i + 1],
		    sizeof(MpFilter) * (size_t) (list->count - i - 1));
	    list->count--;
	    return 1;
	}
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpFilterListFree --
 *
 *	Empties a filter list.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Releases the command prefixes.
 *
 *----------------------------------------------------------------------
 */

void
MpFilterListFree(
    MpFilterList *list)
{
    int i;

    for (i = 0; i < list->count; i++) {
	Tcl_DecrRefCount(list->items[i].cmdObj);
    }
    if (list->items != NULL) {
	MpFree(list->items);
    }
    list->items = NULL;
    list->count = list->capacity = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * CallFilter --
 *
 *	Calls cmdprefix followed by args at global level.
 *
 * Results:
 *	The Tcl return code; the result is left in the interpreter.
 *
 * Side effects:
 *	Runs Tcl code.
 *
 *----------------------------------------------------------------------
 */

static int
CallFilter(
    MpInstance *mp,
    Tcl_Obj *cmdObj,
    int argc,
    Tcl_Obj *const args[])
{
    Tcl_Obj *local[MP_CALL_LOCAL_WORDS];
    Tcl_Obj **objv = local;
    Tcl_Obj **words;
    Tcl_Size nwords;
    int i, objc, code;

    /*
     * Hold the prefix: the filter may replace the list it sits in.
     */

    Tcl_IncrRefCount(cmdObj);
    if (Tcl_ListObjGetElements(mp->interp, cmdObj, &nwords, &words)
	    != TCL_OK) {
	Tcl_DecrRefCount(cmdObj);
	return TCL_ERROR;
    }
    if ((size_t) nwords + (size_t) argc > MP_CALL_LOCAL_WORDS) {
	objv = (Tcl_Obj **) MpAlloc(sizeof(Tcl_Obj *)
		* ((size_t) nwords + (size_t) argc));
    }
    objc = 0;
    for (i = 0; i < nwords; i++) {
	objv[objc++] = words[i];
    }
    for (i = 0; i < argc; i++) {
	objv[objc++] = args[i];
    }
    for (i = 0; i < objc; i++) {
	Tcl_IncrRefCount(objv[i]);
    }
    MpLoopNoteScript(mp->loop);
    Tcl_AllowExceptions(mp->interp);	/* break/continue mean what the
					 * filter rules say, even at the
					 * top level of a child interp. */
    code = Tcl_EvalObjv(mp->interp, objc, objv, TCL_EVAL_GLOBAL);
    for (i = 0; i < objc; i++) {
	Tcl_DecrRefCount(objv[i]);
    }
    if (objv != local) {
	MpFree(objv);
    }
    Tcl_DecrRefCount(cmdObj);
    return code;
}

/*
 *----------------------------------------------------------------------
 *
 * ReportError --
 *
 *	Logs a filter's error (with its -errorinfo) at level error, which
 *	the default level shows.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Logs; resets the interpreter's result.
 *
 *----------------------------------------------------------------------
 */

static void
ReportError(
    MpInstance *mp,
    const char *kind,
    Tcl_Obj *cmdObj,
    int code)
{
    Tcl_Interp *interp = mp->interp;
    Tcl_Obj *msg;

    if (code == TCL_ERROR) {
	Tcl_Obj *opts = Tcl_GetReturnOptions(interp, code);
	Tcl_Obj *key = Tcl_NewStringObj("-errorinfo", -1);
	Tcl_Obj *info = NULL;

	Tcl_IncrRefCount(opts);
	Tcl_IncrRefCount(key);
	Tcl_DictObjGet(NULL, opts, key, &info);
	msg = Tcl_ObjPrintf("%s \"%s\" failed: %s", kind,
		Tcl_GetString(cmdObj),
		info ? Tcl_GetString(info)
		: Tcl_GetString(Tcl_GetObjResult(interp)));
	Tcl_DecrRefCount(key);
	Tcl_DecrRefCount(opts);
    } else {
	msg = Tcl_ObjPrintf("%s \"%s\" returned unexpected code %d", kind,
		Tcl_GetString(cmdObj), code);
    }
    Tcl_ResetResult(interp);
    MpLogObj(mp, MP_LOG_ERROR, msg);
}

/*
 *----------------------------------------------------------------------
 *
 * MpCallPrefix, MpReportScriptError --
 *
 *	For other script callbacks of the core (a WebSocket listener's
 *	-httpcommand): call a command prefix with extra words as filters are
 *	called, and log its error. The caller holds references on what it
 *	uses after the call.
 *
 * Results:
 *	MpCallPrefix: the Tcl result code, the result in the interpreter.
 *
 * Side effects:
 *	Runs Tcl code; MpReportScriptError logs and resets the result.
 *
 *----------------------------------------------------------------------
 */

int
MpCallPrefix(
    MpInstance *mp,
    Tcl_Obj *cmdObj,
    int argc,
    Tcl_Obj *const args[])
{
    return CallFilter(mp, cmdObj, argc, args);
}

void
MpReportScriptError(
    MpInstance *mp,
    const char *kind,
    Tcl_Obj *cmdObj,
    int code)
{
    ReportError(mp, kind, cmdObj, code);
}

/*
 *----------------------------------------------------------------------
 *
 * MpFilterResultBytes --
 *
 *	The bytes of what a chain of data or output filters made. A result
 *	holding a character above \xFF cannot be sent: it would be cut
 *	silently (Tcl 8.6) or not convert at all (Tcl 9).
 *
 * Results:
 *	The bytes (valid while dataObj is), or NULL after logging at level
 *	error that the message is dropped.
 *
 * Side effects:
 *	May log; resets the interpreter's result when it fails.
 *
 *----------------------------------------------------------------------
 */

const char *
MpFilterResultBytes(
    MpInstance *mp,
    const char *kind,		/* "data filter" or "output filter". */
    Tcl_Obj *dataObj,
    size_t *lenPtr)
{
    const char *bytes = MpGetBytes(mp->interp, dataObj, lenPtr);

    if (bytes == NULL) {
	MpLogObj(mp, MP_LOG_ERROR, Tcl_ObjPrintf(
		"%s result dropped: %s", kind,
		Tcl_GetString(Tcl_GetObjResult(mp->interp))));
	Tcl_ResetResult(mp->interp);
    }
    return bytes;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRunDataFilters --
 *
 *	Runs the data filters over a message: each is called as
 *	"cmdprefix data chan clientaddress clientport" and its result becomes
 *	the data.
 *
 * Results:
 *	MP_CHAIN_PASS (*dataPtr holds the final data, one reference) or
 *	MP_CHAIN_DROP.
 *
 * Side effects:
 *	Runs Tcl code; replaces *dataPtr.
 *
 *----------------------------------------------------------------------
 */

int
MpRunDataFilters(
    MpClient *c,
    Tcl_Obj **dataPtr)
{
    MpInstance *mp = c->mp;
    int i, code, verdict = MP_CHAIN_PASS;
    Tcl_Obj *args[4];
    ChainSnap snap;

    MpInstanceRef(mp);
    MpClientRef(c);
    SnapTake(&snap, &mp->filters[MP_FILTER_DATA]);
    for (i = 0; i < snap.count && !mp->destroyed; i++) {
	Tcl_Obj *cmdObj = snap.cmds[i];

	args[0] = *dataPtr;
	args[1] = MpClientName(c);
	args[2] = MpClientAddrObj(c);
	args[3] = MpClientPortObj(c);
	code = CallFilter(mp, cmdObj, 4, args);
	if (Tcl_InterpDeleted(mp->interp) || mp->destroyed) {
	    verdict = MP_CHAIN_DROP;
	    break;
	}
	if (code == TCL_OK || code == TCL_RETURN) {
	    Tcl_Obj *res = Tcl_GetObjResult(mp->interp);

	    Tcl_IncrRefCount(res);
	    Tcl_DecrRefCount(*dataPtr);
	    *dataPtr = res;
	} else if (code == TCL_BREAK) {
	    verdict = MP_CHAIN_DROP;
	} else if (code != TCL_CONTINUE) {
	    ReportError(mp, "filter", cmdObj, code);
	}
	Tcl_ResetResult(mp->interp);
	if (verdict == MP_CHAIN_DROP) {
	    break;
	}
    }
    SnapRelease(&snap);
    MpClientUnref(c);
    MpInstanceUnref(mp);
    return verdict;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRunAccessFilters --
 *
 *	Runs the access filters for a new client, each as
 *	"cmdprefix chan clientaddress clientport". A result of -1, or
 *	-code break, denies; an error is logged and denies too (the safe
 *	choice); anything else admits.
 *
 * Results:
 *	MP_CHAIN_PASS or MP_CHAIN_DENY.
 *
 * Side effects:
 *	Runs Tcl code.
 *
 *----------------------------------------------------------------------
 */

int
MpRunAccessFilters(
    MpClient *c)
{
    MpInstance *mp = c->mp;
    int i, code, verdict = MP_CHAIN_PASS;
    Tcl_Obj *args[3];
    ChainSnap snap;

    if (mp->filters[MP_FILTER_ACCESS].count == 0) {
	return MP_CHAIN_PASS;
    }
    MpInstanceRef(mp);
    MpClientRef(c);
    SnapTake(&snap, &mp->filters[MP_FILTER_ACCESS]);
    for (i = 0; i < snap.count && verdict == MP_CHAIN_PASS; i++) {
	Tcl_Obj *cmdObj = snap.cmds[i];

	if (mp->destroyed || c->state != MP_CLIENT_OPEN) {
	    verdict = MP_CHAIN_DENY;
	    break;
	}
	args[0] = MpClientName(c);
	args[1] = MpClientAddrObj(c);
	args[2] = MpClientPortObj(c);
	code = CallFilter(mp, cmdObj, 3, args);
	if (code == TCL_OK || code == TCL_RETURN) {
	    double v;

	    if (Tcl_GetDoubleFromObj(NULL, Tcl_GetObjResult(mp->interp), &v)
		    == TCL_OK && v == -1.0) {
		verdict = MP_CHAIN_DENY;
	    }
	} else if (code == TCL_BREAK) {
	    verdict = MP_CHAIN_DENY;
	} else if (code != TCL_CONTINUE) {
	    ReportError(mp, "access filter", cmdObj, code);
	    verdict = MP_CHAIN_DENY;
	}
	Tcl_ResetResult(mp->interp);
    }
    SnapRelease(&snap);
    MpClientUnref(c);
    MpInstanceUnref(mp);
    return verdict;
}

/*
 *----------------------------------------------------------------------
 *
 * MpRunExitFilters --
 *
 *	Runs the exit filters of a departing client, each as
 *	"cmdprefix chan clientaddress clientport"; errors are logged and
 *	ignored, -code break stops the chain. The reason is available from
 *	${mp}::Reason chan while they run.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs Tcl code (not when the interpreter is being deleted).
 *
 *----------------------------------------------------------------------
 */

void
MpRunExitFilters(
    MpClient *c)
{
    MpInstance *mp = c->mp;
    int i, code;
    Tcl_Obj *args[3];
    ChainSnap snap;

    if (mp->filters[MP_FILTER_EXIT].count == 0
	    || Tcl_InterpDeleted(mp->interp)) {
	return;
    }
    MpInstanceRef(mp);
    MpClientRef(c);
    SnapTake(&snap, &mp->filters[MP_FILTER_EXIT]);
    for (i = 0; i < snap.count && !Tcl_InterpDeleted(mp->interp); i++) {
	Tcl_Obj *cmdObj = snap.cmds[i];

	args[0] = MpClientName(c);
	args[1] = MpClientAddrObj(c);
	args[2] = MpClientPortObj(c);
	code = CallFilter(mp, cmdObj, 3, args);
	if (code == TCL_BREAK) {
	    Tcl_ResetResult(mp->interp);
	    break;
	}
	if (code == TCL_ERROR) {
	    ReportError(mp, "exit filter", cmdObj, code);
	}
	Tcl_ResetResult(mp->interp);
    }
    SnapRelease(&snap);
    MpClientUnref(c);
    MpInstanceUnref(mp);
}

/*
 *----------------------------------------------------------------------
 *
 * MpRunOutputFilter --
 *
 *	Runs the output filters for one recipient, each as
 *	"cmdprefix data fromchan tochan toaddress toport" (fromchan is empty
 *	for messages sent by the server). -code break skips the recipient.
 *
 * Results:
 *	MP_CHAIN_PASS with *resultPtr (one reference) or MP_CHAIN_DROP.
 *
 * Side effects:
 *	Runs Tcl code.
 *
 *----------------------------------------------------------------------
 */

int
MpRunOutputFilter(
    MpClient *from,
    Tcl_Obj *fromName,		/* A sender on another node (from NULL), or
				 * NULL. */
    MpClient *to,
    Tcl_Obj *dataObj,
    Tcl_Obj **resultPtr)
{
    MpInstance *mp = to->mp;
    Tcl_Obj *data = dataObj, *args[5];
    int i, code, verdict = MP_CHAIN_PASS;
    ChainSnap snap;

    Tcl_IncrRefCount(data);
    SnapTake(&snap, &mp->filters[MP_FILTER_OUTPUT]);
    for (i = 0; i < snap.count && !mp->destroyed; i++) {
	Tcl_Obj *cmdObj = snap.cmds[i];

	if (to->state != MP_CLIENT_OPEN) {
	    verdict = MP_CHAIN_DROP;
	    break;
	}
	args[0] = data;
	args[1] = (from != NULL && from->state < MP_CLIENT_DEAD)
		? MpClientName(from)
		: fromName != NULL ? fromName : Tcl_NewObj();
	args[2] = MpClientName(to);
	args[3] = MpClientAddrObj(to);
	args[4] = MpClientPortObj(to);
	code = CallFilter(mp, cmdObj, 5, args);
	if (code == TCL_OK || code == TCL_RETURN) {
	    Tcl_Obj *res = Tcl_GetObjResult(mp->interp);

	    Tcl_IncrRefCount(res);
	    Tcl_DecrRefCount(data);
	    data = res;
	} else if (code == TCL_BREAK) {
	    verdict = MP_CHAIN_DROP;
	} else if (code != TCL_CONTINUE) {
	    ReportError(mp, "output filter", cmdObj, code);
	}
	Tcl_ResetResult(mp->interp);
	if (verdict == MP_CHAIN_DROP) {
	    break;
	}
    }
    SnapRelease(&snap);
    if (verdict == MP_CHAIN_DROP || mp->destroyed) {
	Tcl_DecrRefCount(data);
	*resultPtr = NULL;
	return MP_CHAIN_DROP;
    }
    *resultPtr = data;
    return MP_CHAIN_PASS;
}
