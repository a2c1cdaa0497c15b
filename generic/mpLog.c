/*
 * mpLog.c --
 *
 *	Logging through tcllib's logger, as tcllib's multiplexer does: each
 *	instance has the logger service "multiplexer::mpN" and Config
 *	debuglevel sets its level. The level is also kept in C so that
 *	messages below it cost nothing. Without the logger package, messages
 *	go to stderr.
 */

#include <stdarg.h>
#include <stdio.h>
#include "mpInt.h"

static const char *const levelNames[] = {
    "debug", "info", "notice", "warn", "error", "critical", NULL
};

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
 *	interpreter's state as it was.
 *
 * Results:
 *	TCL_OK or TCL_ERROR.
 *
 * Side effects:
 *	Whatever the logger does (by default, writes to stderr).
 *
 *----------------------------------------------------------------------
 */

static int
CallLogger(
    MpInstance *mp,
    const char *verb,
    Tcl_Obj *argObj)
{
    Tcl_Interp *interp = mp->interp;
    Tcl_InterpState state;
    Tcl_Obj *objv[2];
    int code;

    if (mp->logObj == NULL || Tcl_InterpDeleted(interp)) {
	return TCL_ERROR;
    }
    state = Tcl_SaveInterpState(interp, TCL_OK);
    objv[0] = Tcl_ObjPrintf("%s::%s", Tcl_GetString(mp->logObj), verb);
    objv[1] = argObj;
    Tcl_IncrRefCount(objv[0]);
    code = Tcl_EvalObjv(interp, argObj ? 2 : 1, objv, TCL_EVAL_GLOBAL);
    Tcl_DecrRefCount(objv[0]);
    Tcl_RestoreInterpState(interp, state);
    return code;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogInit --
 *
 *	Creates the instance's logger service at level warn (tcllib's
 *	default) when tcllib's logger package can be loaded.
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

	Tcl_IncrRefCount(levelObj);
	CallLogger(mp, "setlevel", levelObj);
	Tcl_DecrRefCount(levelObj);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogFree --
 *
 *	Deletes the instance's logger service.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Calls ${log}::delete unless the interpreter is being deleted.
 *
 *----------------------------------------------------------------------
 */

void
MpLogFree(
    MpInstance *mp)
{
    if (mp->logObj != NULL) {
	CallLogger(mp, "delete", NULL);
	Tcl_DecrRefCount(mp->logObj);
	mp->logObj = NULL;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogSetLevel --
 *
 *	Config debuglevel: checks the level name and applies it.
 *
 * Results:
 *	TCL_OK or TCL_ERROR naming the valid levels.
 *
 * Side effects:
 *	Sets the logger service's level.
 *
 *----------------------------------------------------------------------
 */

int
MpLogSetLevel(
    Tcl_Interp *interp,
    MpInstance *mp,
    Tcl_Obj *levelObj)
{
    int level;

    if (Tcl_GetIndexFromObj(interp, levelObj, levelNames, "debuglevel", 0,
	    &level) != TCL_OK) {
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "CONFIG", NULL);
	return TCL_ERROR;
    }
    mp->config.logLevel = level;
    if (mp->logObj != NULL) {
	Tcl_Obj *nameObj = Tcl_NewStringObj(levelNames[level], -1);

	Tcl_IncrRefCount(nameObj);
	CallLogger(mp, "setlevel", nameObj);
	Tcl_DecrRefCount(nameObj);
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLogObj, MpLog --
 *
 *	Log a message at a level (nothing happens below the instance's
 *	level).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Calls the logger, or writes to stderr without it.
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
    if (level >= mp->config.logLevel
	    && CallLogger(mp, levelNames[level], msgObj) != TCL_OK
	    && mp->logObj == NULL) {
	fprintf(stderr, "%s [%s] %s\n", Tcl_GetString(mp->nameObj) + 2,
		levelNames[level], Tcl_GetString(msgObj));
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
