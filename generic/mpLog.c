/*
 * mpLog.c --
 *
 *	The log of an instance. The rule of this file:
 *
 *	    MpLog and MpLogObj never run Tcl code.
 *
 *	They are called from deep inside the core (accept errors, idle
 *	timeouts, filter errors, overflow ...) where the caller may hold
 *	pointers to clients, the listener or the instance without a
 *	reference. So they only compare the level with Config debuglevel,
 *	format the line and append it to the instance's bounded queue
 *	(MP_LOG_MAX_LINES lines, MP_LOG_MAX_BYTES bytes of text; a line that
 *	does not fit is dropped and counted in Stats log_dropped). The queue
 *	is delivered later by a Tcl event (LogEventProc) that holds a
 *	reference on the instance and preserves the interpreter while it
 *	hands each line to its target:
 *
 *	  - the command prefix of Config logcommand, as
 *	    {*}$prefix level message, at global level; an error in it goes
 *	    to the background error handler (bgerror), never back into the
 *	    log;
 *	  - otherwise tcllib's logger service multiplexer::mpN, but only for
 *	    levels whose log procedure a script has replaced (logproc) on
 *	    that service or on its parent service multiplexer, as tcllib's
 *	    multiplexer 0.2 let scripts do;
 *	  - otherwise standard error, with a plain fprintf ("mpN [level]
 *	    message"). tcllib's own default (standard output) is not used.
 *
 *	One event delivers at most the lines queued when it started; lines
 *	logged meanwhile (a log command that runs update, say) are left to
 *	a new event, so a log command that makes the core log cannot keep
 *	the event loop busy forever.
 *
 *	Destroying the instance delivers what is still queued right away,
 *	from MpLogFree at the end of MpInstanceTeardown (which holds its
 *	reference and already runs exit filters there), then removes the
 *	pending event, deletes the logger service and frees the queue and
 *	the log command: nothing is left behind. When the interpreter is
 *	being deleted, lines bound for a Tcl target are dropped (counted)
 *	and the others still go to standard error. The instance's rare late
 *	messages, after its teardown, go straight to standard error.
 *
 *	Config debuglevel keeps the level in C (so that messages below it
 *	cost one comparison) and mirrors it on the logger service with
 *	setlevel, which runs Tcl code (level-change callbacks); that call
 *	is made from the Config command with the instance referenced, and
 *	Config checks afterwards that the instance still lives.
 */

#include <stdarg.h>
#include <stdio.h>
#include "mpInt.h"

/*
 * The bound on an instance's undelivered lines.
 */

#define MP_LOG_MAX_LINES 1000
#define MP_LOG_MAX_BYTES (256 * 1024)

/*
 * One undelivered line. The text follows the structure.
 */

struct MpLogLine {
    MpLogLine *next;
    int level;			/* MP_LOG_*. */
    size_t len;			/* Bytes of text, without the final NUL. */
    char text[1];		/* NUL-terminated. */
};

/*
 * The event that delivers an instance's queue. Tcl frees it (so it comes
 * from ckalloc); it holds a reference on the instance until it runs or is
 * removed by MpLogFree.
 */

typedef struct LogEvent {
    Tcl_Event header;
    MpInstance *mp;
} LogEvent;

/*
 * What a level's lines go to when no log command is set (a cache filled
 * once per delivery).
 */

enum { TARGET_UNKNOWN, TARGET_STDERR, TARGET_LOGGER };

static const char *const levelNames[] = {
    "debug", "info", "notice", "warn", "error", "critical", NULL
};

static int		CallLogger(MpInstance *mp, const char *verb,
			    Tcl_Obj *argObj, int *codePtr);
static void		Deliver(MpInstance *mp, int max);
static void		DeliverLine(MpInstance *mp, MpLogLine *line,
			    int *targets);
static int		LogEventDelete(Tcl_Event *evPtr,
			    ClientData clientData);
static int		LogEventProc(Tcl_Event *evPtr, int flags);
static int		LoggerCustomized(MpInstance *mp, int level);
static void		ScheduleDelivery(MpInstance *mp);
static void		WriteStderr(MpInstance *mp, int level,
			    const char *text);

/*
 *----------------------------------------------------------------------
 *
 * MpLogLevelName --
 *
 *	The logger name of a level.
 *
 * Results:
 *	A static string.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

const char *
MpLogLevelName(
    int level)
{
    if (level < MP_LOG_DEBUG || level > MP_LOG_CRITICAL) {
	level = MP_LOG_WARN;
    }
    return levelNames[level];
}

/*
 *----------------------------------------------------------------------
 *
 * CallLogger --
 *
 *	Evaluates ${log}::verb ?arg? at global level, keeping the
 *	interpreter's state as it was. Runs Tcl code: callers hold a
 *	reference on the instance.
 *
 * Results:
 *	1 if the call was made, 0 if there is no service or no usable
 *	interpreter. The call's completion code goes to *codePtr when
 *	codePtr is not NULL; an error is reported to the background error
 *	handler when codePtr is NULL.
 *
 * Side effects:
 *	Whatever the logger does.
 *
 *----------------------------------------------------------------------
 */

static int
CallLogger(
    MpInstance *mp,
    const char *verb,
    Tcl_Obj *argObj,
    int *codePtr)
{
    Tcl_Interp *interp = mp->interp;
    Tcl_InterpState state;
    Tcl_Obj *objv[2];
    int code;

    if (mp->logObj == NULL || Tcl_InterpDeleted(interp)) {
	return 0;
    }
    state = Tcl_SaveInterpState(interp, TCL_OK);
    objv[0] = Tcl_ObjPrintf("%s::%s", Tcl_GetString(mp->logObj), verb);
    objv[1] = argObj;
    Tcl_IncrRefCount(objv[0]);
    code = Tcl_EvalObjv(interp, argObj ? 2 : 1, objv, TCL_EVAL_GLOBAL);
    Tcl_DecrRefCount(objv[0]);
    if (codePtr != NULL) {
	*codePtr = code;
    } else if (code == TCL_ERROR) {
	Tcl_BackgroundException(interp, code);
    }
    Tcl_RestoreInterpState(interp, state);
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogInit --
 *
 *	Creates the instance's logger service at level warn (tcllib's
 *	default) when tcllib's logger package can be loaded. The service
 *	only receives lines for levels whose log procedure a script sets.
 *
 * Results:
 *	TCL_OK (a missing logger is not an error).
 *
 * Side effects:
 *	May load the logger package and create a service.
 *
 *----------------------------------------------------------------------
 */

int
MpLogInit(
    MpInstance *mp)
{
    Tcl_Interp *interp = mp->interp;
    Tcl_InterpState state = Tcl_SaveInterpState(interp, TCL_OK);
    Tcl_Obj *objv[2];

    mp->logFirst = mp->logLast = NULL;
    mp->logCount = 0;
    mp->logBytes = 0;
    if (Tcl_PkgRequire(interp, "logger", NULL, 0) != NULL) {
	objv[0] = Tcl_NewStringObj("::logger::init", -1);
	objv[1] = Tcl_NewStringObj(Tcl_GetString(mp->nameObj) + 2, -1);
	Tcl_IncrRefCount(objv[0]);
	Tcl_IncrRefCount(objv[1]);
	if (Tcl_EvalObjv(interp, 2, objv, TCL_EVAL_GLOBAL) == TCL_OK) {
	    mp->logObj = Tcl_GetObjResult(interp);
	    Tcl_IncrRefCount(mp->logObj);
	}
	Tcl_DecrRefCount(objv[0]);
	Tcl_DecrRefCount(objv[1]);
    }
    Tcl_RestoreInterpState(interp, state);
    if (mp->logObj != NULL) {
	Tcl_Obj *levelObj = Tcl_NewStringObj(
		MpLogLevelName(mp->config.logLevel), -1);
	int code;

	Tcl_IncrRefCount(levelObj);
	CallLogger(mp, "setlevel", levelObj, &code);
	Tcl_DecrRefCount(levelObj);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogFree --
 *
 *	The end of an instance's log, at the end of its teardown: delivers
 *	the lines still queued, removes the pending delivery event, deletes
 *	the logger service, frees the queue and the log command.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs the log command or logger (unless the interpreter is being
 *	deleted); drops the delivery event's reference on the instance.
 *
 *----------------------------------------------------------------------
 */

void
MpLogFree(
    MpInstance *mp)
{
    MpLogLine *line;
    int code;

    if (mp->logClosed) {
	return;
    }
    MpInstanceRef(mp);
    Deliver(mp, mp->logCount);

    /*
     * Delivering may have run Tcl code; now close the log for good. Lines
     * still queued (logged by the deliveries themselves) are dropped.
     */

    mp->logClosed = 1;
    if (mp->logEventPending) {
	mp->logEventPending = 0;
	Tcl_DeleteEvents(LogEventDelete, mp);
	MpInstanceUnref(mp);
    }
    while ((line = mp->logFirst) != NULL) {
	mp->logFirst = line->next;
	mp->stats.logDropped++;
	MpFree(line);
    }
    mp->logLast = NULL;
    mp->logCount = 0;
    mp->logBytes = 0;
    if (mp->logCommand != NULL) {
	Tcl_DecrRefCount(mp->logCommand);
	mp->logCommand = NULL;
    }
    if (mp->logObj != NULL) {
	Tcl_Obj *logObj = mp->logObj;

	CallLogger(mp, "delete", NULL, &code);
	mp->logObj = NULL;
	Tcl_DecrRefCount(logObj);
    }
    MpInstanceUnref(mp);
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogSetLevel --
 *
 *	Config debuglevel: checks the level name and applies it. The
 *	logger service's setlevel may run level-change callbacks, which may
 *	do anything, including destroying the instance: the caller
 *	(MpConfigObjCmd) holds a reference on it and checks it afterwards.
 *
 * Results:
 *	TCL_OK or TCL_ERROR naming the valid levels.
 *
 * Side effects:
 *	Sets the C threshold and the logger service's level.
 *
 *----------------------------------------------------------------------
 */

int
MpLogSetLevel(
    Tcl_Interp *interp,
    MpInstance *mp,
    Tcl_Obj *levelObj)
{
    int level, code;

    if (Tcl_GetIndexFromObj(interp, levelObj, levelNames, "debuglevel", 0,
	    &level) != TCL_OK) {
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "CONFIG", NULL);
	return TCL_ERROR;
    }
    mp->config.logLevel = level;
    if (mp->logObj != NULL && !mp->logClosed) {
	Tcl_Obj *nameObj = Tcl_NewStringObj(levelNames[level], -1);

	Tcl_IncrRefCount(nameObj);
	MpInstanceRef(mp);
	Tcl_Preserve(mp->interp);
	CallLogger(mp, "setlevel", nameObj, &code);
	Tcl_Release(mp->interp);
	MpInstanceUnref(mp);
	Tcl_DecrRefCount(nameObj);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogSetCommand, MpLogGetCommand --
 *
 *	Config logcommand: set (an empty list restores the default) and
 *	read the command prefix that receives log lines.
 *
 * Results:
 *	MpLogSetCommand: TCL_OK, or TCL_ERROR if the value is not a list.
 *	MpLogGetCommand: the prefix, or an empty object.
 *
 * Side effects:
 *	Replaces the instance's log command.
 *
 *----------------------------------------------------------------------
 */

int
MpLogSetCommand(
    Tcl_Interp *interp,
    MpInstance *mp,
    Tcl_Obj *cmdObj)
{
    Tcl_Size len;

    if (Tcl_ListObjLength(NULL, cmdObj, &len) != TCL_OK) {
	return MpError(interp, "VALUE", "CONFIG",
		"expected a command prefix (a list) for logcommand but got "
		"\"%s\"", Tcl_GetString(cmdObj));
    }
    if (len > 0) {
	Tcl_IncrRefCount(cmdObj);
    }
    if (mp->logCommand != NULL) {
	Tcl_DecrRefCount(mp->logCommand);
    }
    mp->logCommand = (len > 0) ? cmdObj : NULL;
    return TCL_OK;
}

Tcl_Obj *
MpLogGetCommand(
    MpInstance *mp)
{
    return mp->logCommand ? mp->logCommand : Tcl_NewObj();
}

/*
 *----------------------------------------------------------------------
 *
 * WriteStderr --
 *
 *	The default target: one line on standard error.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Writes to stderr.
 *
 *----------------------------------------------------------------------
 */

static void
WriteStderr(
    MpInstance *mp,
    int level,
    const char *text)
{
    fprintf(stderr, "%s [%s] %s\n", Tcl_GetString(mp->nameObj) + 2,
	    levelNames[level], text);
    fflush(stderr);
}

/*
 *----------------------------------------------------------------------
 *
 * LoggerCustomized --
 *
 *	Whether a script has set the log procedure of a level on the
 *	instance's logger service or on a parent service (tcllib's
 *	${log}::logproc level cmd): then lines of that level go to the
 *	service, as with tcllib's multiplexer; otherwise to stderr. Asks
 *	${svc}::logproc level, which names the procedure in use (and fails
 *	for a child service never customized).
 *
 * Results:
 *	1 or 0.
 *
 * Side effects:
 *	Runs the logger's logproc (callers hold a reference).
 *
 *----------------------------------------------------------------------
 */

static int
LoggerCustomized(
    MpInstance *mp,
    int level)
{
    Tcl_Interp *interp = mp->interp;
    Tcl_Obj *svcObj, *parentObj, *objv[2];
    Tcl_InterpState state;
    const char *svc, *sep;
    Tcl_Size len;
    int code, custom = 0;

    if (mp->logObj == NULL || Tcl_InterpDeleted(interp)) {
	return 0;
    }
    svcObj = Tcl_DuplicateObj(mp->logObj);
    Tcl_IncrRefCount(svcObj);
    objv[1] = Tcl_NewStringObj(levelNames[level], -1);
    Tcl_IncrRefCount(objv[1]);
    state = Tcl_SaveInterpState(interp, TCL_OK);
    while (!custom) {
	svc = Tcl_GetString(svcObj);
	if (strncmp(svc, "::logger::tree::", 16) != 0 || svc[16] == '\0') {
	    break;
	}
	objv[0] = Tcl_ObjPrintf("%s::logproc", svc);
	Tcl_IncrRefCount(objv[0]);
	code = Tcl_EvalObjv(interp, 2, objv, TCL_EVAL_GLOBAL);
	Tcl_DecrRefCount(objv[0]);
	if (code == TCL_OK) {
	    Tcl_Obj *defObj = Tcl_ObjPrintf("%s::%scmd", svc,
		    levelNames[level]);

	    Tcl_IncrRefCount(defObj);
	    custom = strcmp(Tcl_GetString(Tcl_GetObjResult(interp)),
		    Tcl_GetString(defObj)) != 0;
	    Tcl_DecrRefCount(defObj);
	}

	/*
	 * On to the parent service: drop the last "::name".
	 */

	svc = Tcl_GetString(svcObj);
	sep = strstr(svc + 16, "::");
	if (sep == NULL) {
	    break;
	}
	while (strstr(sep + 2, "::") != NULL) {
	    sep = strstr(sep + 2, "::");
	}
	len = (Tcl_Size) (sep - svc);
	parentObj = Tcl_NewStringObj(svc, len);
	Tcl_IncrRefCount(parentObj);
	Tcl_DecrRefCount(svcObj);
	svcObj = parentObj;
    }
    Tcl_RestoreInterpState(interp, state);
    Tcl_DecrRefCount(objv[1]);
    Tcl_DecrRefCount(svcObj);
    return custom;
}

/*
 *----------------------------------------------------------------------
 *
 * DeliverLine --
 *
 *	Hands one line to its target (see the top of the file). The caller
 *	holds a reference on the instance and preserves the interpreter.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs the log command or the logger, or writes to stderr; may fill
 *	targets[level] (TARGET_*, reset by the caller once per delivery).
 *
 *----------------------------------------------------------------------
 */

static void
DeliverLine(
    MpInstance *mp,
    MpLogLine *line,
    int *targets)
{
    Tcl_Interp *interp = mp->interp;
    int deleted = Tcl_InterpDeleted(interp);
    Tcl_Obj *msgObj;

    if (mp->logCommand != NULL) {
	Tcl_Obj *cmdObj;
	Tcl_InterpState state;
	int code;

	if (deleted) {
	    mp->stats.logDropped++;
	    return;
	}
	cmdObj = Tcl_DuplicateObj(mp->logCommand);
	Tcl_IncrRefCount(cmdObj);
	Tcl_ListObjAppendElement(NULL, cmdObj,
		Tcl_NewStringObj(levelNames[line->level], -1));
	Tcl_ListObjAppendElement(NULL, cmdObj,
		Tcl_NewStringObj(line->text, (Tcl_Size) line->len));
	state = Tcl_SaveInterpState(interp, TCL_OK);
	code = Tcl_EvalObjEx(interp, cmdObj, TCL_EVAL_GLOBAL);
	if (code == TCL_ERROR) {
	    Tcl_AddErrorInfo(interp, "\n    (multiplexer log command)");
	    Tcl_BackgroundException(interp, code);
	}
	Tcl_RestoreInterpState(interp, state);
	Tcl_DecrRefCount(cmdObj);
	return;
    }
    if (targets[line->level] == TARGET_UNKNOWN) {
	targets[line->level] = LoggerCustomized(mp, line->level)
		? TARGET_LOGGER : TARGET_STDERR;
    }
    if (targets[line->level] == TARGET_LOGGER && !deleted
	    && mp->logObj != NULL) {
	msgObj = Tcl_NewStringObj(line->text, (Tcl_Size) line->len);
	Tcl_IncrRefCount(msgObj);
	CallLogger(mp, levelNames[line->level], msgObj, NULL);
	Tcl_DecrRefCount(msgObj);
	return;
    }
    if (targets[line->level] == TARGET_LOGGER) {
	mp->stats.logDropped++;
	return;
    }
    WriteStderr(mp, line->level, line->text);
}

/*
 *----------------------------------------------------------------------
 *
 * Deliver --
 *
 *	Delivers up to max lines from the head of the queue, taking each
 *	off the queue before its target runs (a nested delivery, from a log
 *	command that runs update, takes the next ones).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	See DeliverLine. The instance stays allocated (reference) but may
 *	be destroyed by the time this returns.
 *
 *----------------------------------------------------------------------
 */

static void
Deliver(
    MpInstance *mp,
    int max)
{
    int targets[MP_LOG_CRITICAL + 1];
    MpLogLine *line;
    int i;

    for (i = 0; i <= MP_LOG_CRITICAL; i++) {
	targets[i] = TARGET_UNKNOWN;
    }
    MpInstanceRef(mp);
    Tcl_Preserve(mp->interp);
    while (max-- > 0 && (line = mp->logFirst) != NULL) {
	mp->logFirst = line->next;
	if (mp->logFirst == NULL) {
	    mp->logLast = NULL;
	}
	mp->logCount--;
	mp->logBytes -= line->len;
	DeliverLine(mp, line, targets);
	MpFree(line);
    }
    Tcl_Release(mp->interp);
    MpInstanceUnref(mp);
}

/*
 *----------------------------------------------------------------------
 *
 * ScheduleDelivery --
 *
 *	Queues the delivery event unless one is pending.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Takes a reference on the instance for the event.
 *
 *----------------------------------------------------------------------
 */

static void
ScheduleDelivery(
    MpInstance *mp)
{
    LogEvent *ev;

    if (mp->logEventPending) {
	return;
    }
    ev = (LogEvent *) ckalloc(sizeof(LogEvent));
    ev->header.proc = LogEventProc;
    ev->header.nextPtr = NULL;
    ev->mp = mp;
    MpInstanceRef(mp);
    mp->logEventPending = 1;
    Tcl_QueueEvent(&ev->header, TCL_QUEUE_TAIL);
}

/*
 *----------------------------------------------------------------------
 *
 * LogEventProc --
 *
 *	The delivery event (file-event class, so update idletasks leaves it
 *	for later): delivers the next line when its target is a script, so
 *	that each script call is an event of its own, or every line queued
 *	so far when they go to stderr; queues itself again while lines
 *	remain.
 *
 * Results:
 *	1 when handled, 0 to be called again later.
 *
 * Side effects:
 *	See Deliver; drops the event's reference (may free the instance).
 *
 *----------------------------------------------------------------------
 */

static int
LogEventProc(
    Tcl_Event *evPtr,
    int flags)
{
    MpInstance *mp = ((LogEvent *) evPtr)->mp;

    if (!(flags & TCL_FILE_EVENTS)) {
	return 0;
    }
    mp->logEventPending = 0;

    /*
     * A line for a script (logcommand, a logger service) is one Tcl event
     * of its own, as every script callback of the package is: a script
     * may vwait once per line. Lines for stderr go out together.
     */

    Deliver(mp, (mp->logCommand != NULL || mp->logObj != NULL) ? 1
	    : mp->logCount);
    if (mp->logCount > 0 && !mp->logClosed) {
	ScheduleDelivery(mp);
    }
    MpInstanceUnref(mp);
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * LogEventDelete --
 *
 *	Tcl_DeleteEvents predicate: the pending delivery event of an
 *	instance (one being serviced has its proc cleared by Tcl and is
 *	not matched).
 *
 * Results:
 *	1 to delete the event.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
LogEventDelete(
    Tcl_Event *evPtr,
    ClientData clientData)
{
    return evPtr->proc == LogEventProc
	    && ((LogEvent *) evPtr)->mp == (MpInstance *) clientData;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogObj, MpLog --
 *
 *	Log a message at a level: nothing happens below the instance's
 *	level; otherwise the line is queued for delivery. Never runs Tcl
 *	code (see the top of the file).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Appends to the queue (or counts a drop when it is full) and queues
 *	the delivery event; after the instance's teardown, writes to
 *	stderr. MpLogObj frees msgObj if nothing else holds it.
 *
 *----------------------------------------------------------------------
 */

void
MpLogObj(
    MpInstance *mp,
    int level,
    Tcl_Obj *msgObj)
{
    Tcl_IncrRefCount(msgObj);
    if (level >= mp->config.logLevel) {
	Tcl_Size len;
	const char *text = Tcl_GetStringFromObj(msgObj, &len);

	if (level > MP_LOG_CRITICAL) {
	    level = MP_LOG_CRITICAL;
	}
	if (mp->logClosed) {
	    WriteStderr(mp, level, text);
	} else if (mp->logCount >= MP_LOG_MAX_LINES
		|| mp->logBytes + (size_t) len > MP_LOG_MAX_BYTES) {
	    mp->stats.logDropped++;
	} else {
	    MpLogLine *line = (MpLogLine *)
		    MpAlloc(offsetof(MpLogLine, text) + (size_t) len + 1);

	    line->next = NULL;
	    line->level = level;
	    line->len = (size_t) len;
	    memcpy(line->text, text, (size_t) len + 1);
	    if (mp->logLast != NULL) {
		mp->logLast->next = line;
	    } else {
		mp->logFirst = line;
	    }
	    mp->logLast = line;
	    mp->logCount++;
	    mp->logBytes += line->len;
	    ScheduleDelivery(mp);
	}
    }
    Tcl_DecrRefCount(msgObj);
}

void
MpLog(
    MpInstance *mp,
    int level,
    const char *fmt,
    ...)
{
    char buf[512];
    va_list ap;

    if (level < mp->config.logLevel) {
	return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    MpLogObj(mp, level, Tcl_NewStringObj(buf, -1));
}
