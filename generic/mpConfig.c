/*
 * mpConfig.c --
 *
 *	${mp}::Config: the instance's settings, their defaults and checks.
 */

#include "mpInt.h"

/*
 * Defaults. They bound every per-client buffer.
 */

#define MP_DEFAULT_MAXMESSAGE (1024 * 1024)
#define MP_DEFAULT_MAXQUEUE (4 * 1024 * 1024)
#define MP_DEFAULT_LINGER 5000

/*
 * Milliseconds a connection may take to send its WebSocket request head,
 * and between pings of a silent WebSocket client.
 */

#define MP_DEFAULT_HANDSHAKE 10000
#define MP_DEFAULT_PING 30000

static const char *const configKeys[] = {
    "sendtoorigin", "debuglevel", "framing", "maxmessage", "maxqueue",
    "overflow", "idletimeout", "maxclients", "maxperaddr", "route",
    "allow", "deny", "linger", "logcommand", "handshaketimeout",
    "pinginterval", "wsmessagetype", NULL
};
enum {
    CFG_SENDTOORIGIN, CFG_DEBUGLEVEL, CFG_FRAMING, CFG_MAXMESSAGE,
    CFG_MAXQUEUE, CFG_OVERFLOW, CFG_IDLETIMEOUT, CFG_MAXCLIENTS,
    CFG_MAXPERADDR, CFG_ROUTE, CFG_ALLOW, CFG_DENY, CFG_LINGER,
    CFG_LOGCOMMAND, CFG_HANDSHAKETIMEOUT, CFG_PINGINTERVAL,
    CFG_WSMESSAGETYPE
};

static const char *const framingNames[] = {"raw", "line", "length", NULL};
static const char *const overflowNames[] = {"drop", "disconnect", NULL};
static const char *const routeNames[] = {"all", "groups", NULL};
static const char *const wsTypeNames[] = {"auto", "text", "binary", NULL};

/*
 *----------------------------------------------------------------------
 *
 * MpConfigInit, MpConfigFree --
 *
 *	Set the defaults; release what the configuration holds.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Allocates/frees the allow and deny lists.
 *
 *----------------------------------------------------------------------
 */

void
MpConfigInit(
    MpConfig *cfg)
{
    memset(cfg, 0, sizeof(MpConfig));
    cfg->sendToOrigin = 0;
    cfg->logLevel = MP_LOG_WARN;
    cfg->framing = MP_FRAME_RAW;
    cfg->maxMessage = MP_DEFAULT_MAXMESSAGE;
    cfg->maxQueue = MP_DEFAULT_MAXQUEUE;
    cfg->overflow = MP_OVERFLOW_DISCONNECT;
    cfg->idleTimeout = 0;
    cfg->linger = MP_DEFAULT_LINGER;
    cfg->maxClients = 0;
    cfg->maxPerAddr = 0;
    cfg->route = MP_ROUTE_ALL;
    cfg->handshakeTimeout = MP_DEFAULT_HANDSHAKE;
    cfg->pingInterval = MP_DEFAULT_PING;
    cfg->wsMessageType = MP_WSTYPE_AUTO;
}

void
MpConfigFree(
    MpConfig *cfg)
{
    MpCidrListFree(&cfg->allow);
    MpCidrListFree(&cfg->deny);
}

/*
 *----------------------------------------------------------------------
 *
 * GetValue --
 *
 *	The current value of one key.
 *
 * Results:
 *	A new Tcl_Obj.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static Tcl_Obj *
GetValue(
    MpInstance *mp,
    int key)
{
    MpConfig *cfg = &mp->config;

    switch (key) {
    case CFG_SENDTOORIGIN:
	return Tcl_NewBooleanObj(cfg->sendToOrigin);
    case CFG_DEBUGLEVEL:
	return Tcl_NewStringObj(MpLogLevelName(cfg->logLevel), -1);
    case CFG_FRAMING:
	return Tcl_NewStringObj(framingNames[cfg->framing], -1);
    case CFG_MAXMESSAGE:
	return Tcl_NewWideIntObj((Tcl_WideInt) cfg->maxMessage);
    case CFG_MAXQUEUE:
	return Tcl_NewWideIntObj((Tcl_WideInt) cfg->maxQueue);
    case CFG_OVERFLOW:
	return Tcl_NewStringObj(overflowNames[cfg->overflow], -1);
    case CFG_IDLETIMEOUT:
	return Tcl_NewWideIntObj((Tcl_WideInt) cfg->idleTimeout);
    case CFG_MAXCLIENTS:
	return Tcl_NewIntObj(cfg->maxClients);
    case CFG_MAXPERADDR:
	return Tcl_NewIntObj(cfg->maxPerAddr);
    case CFG_ROUTE:
	return Tcl_NewStringObj(routeNames[cfg->route], -1);
    case CFG_ALLOW:
	return cfg->allow.specObj ? cfg->allow.specObj : Tcl_NewObj();
    case CFG_DENY:
	return cfg->deny.specObj ? cfg->deny.specObj : Tcl_NewObj();
    case CFG_LINGER:
	return Tcl_NewWideIntObj((Tcl_WideInt) cfg->linger);
    case CFG_LOGCOMMAND:
	return MpLogGetCommand(mp);
    case CFG_HANDSHAKETIMEOUT:
	return Tcl_NewWideIntObj((Tcl_WideInt) cfg->handshakeTimeout);
    case CFG_PINGINTERVAL:
	return Tcl_NewWideIntObj((Tcl_WideInt) cfg->pingInterval);
    case CFG_WSMESSAGETYPE:
	return Tcl_NewStringObj(wsTypeNames[cfg->wsMessageType], -1);
    }
    return Tcl_NewObj();
}

/*
 *----------------------------------------------------------------------
 *
 * GetSize --
 *
 *	Parses a size or count within [min, max].
 *
 * Results:
 *	TCL_OK with *valuePtr set, or TCL_ERROR with a message naming key.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
GetSize(
    Tcl_Interp *interp,
    const char *key,
    Tcl_Obj *valueObj,
    Tcl_WideInt min,
    Tcl_WideInt max,
    Tcl_WideInt *valuePtr)
{
    Tcl_WideInt v;

    if (Tcl_GetWideIntFromObj(NULL, valueObj, &v) != TCL_OK
	    || v < min || v > max) {
	return MpError(interp, "VALUE", "CONFIG",
		"expected an integer from %lld to %lld for %s but got \"%s\"",
		(long long) min, (long long) max, key,
		Tcl_GetString(valueObj));
    }
    *valuePtr = v;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * SetValue --
 *
 *	Checks and sets one key.
 *
 * Results:
 *	TCL_OK or TCL_ERROR (nothing changed).
 *
 * Side effects:
 *	Changes the configuration; may reschedule the idle timer, drop
 *	partial input (framing change) or call the logger service's
 *	setlevel (debuglevel), which runs Tcl code.
 *
 *----------------------------------------------------------------------
 */

static int
SetValue(
    Tcl_Interp *interp,
    MpInstance *mp,
    int key,
    Tcl_Obj *valueObj)
{
    MpConfig *cfg = &mp->config;
    const char *name = configKeys[key];
    Tcl_WideInt w;
    int i;
    MpClient *c;

    switch (key) {
    case CFG_SENDTOORIGIN:
	if (Tcl_GetBooleanFromObj(NULL, valueObj, &i) != TCL_OK) {
	    return MpError(interp, "VALUE", "CONFIG",
		    "expected boolean value for sendtoorigin but got \"%s\"",
		    Tcl_GetString(valueObj));
	}
	cfg->sendToOrigin = i;
	break;
    case CFG_DEBUGLEVEL:
	return MpLogSetLevel(interp, mp, valueObj);
    case CFG_FRAMING:
	if (Tcl_GetIndexFromObj(interp, valueObj, framingNames, "framing",
		0, &i) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "CONFIG", NULL);
	    return TCL_ERROR;
	}
	if (i != cfg->framing) {
	    for (c = mp->first; c != NULL; c = c->next) {
		MpFrameFree(&c->in);
	    }
	}
	cfg->framing = i;
	break;
    case CFG_MAXMESSAGE:
	if (GetSize(interp, name, valueObj, 1, 0x7FFFFFFF, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	cfg->maxMessage = (size_t) w;
	break;
    case CFG_MAXQUEUE:
	if (GetSize(interp, name, valueObj, 1, ((Tcl_WideInt) 1) << 40, &w)
		!= TCL_OK) {
	    return TCL_ERROR;
	}
	cfg->maxQueue = (size_t) w;
	break;
    case CFG_OVERFLOW:
	if (Tcl_GetIndexFromObj(interp, valueObj, overflowNames, "overflow",
		0, &i) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "CONFIG", NULL);
	    return TCL_ERROR;
	}
	cfg->overflow = i;
	break;
    case CFG_IDLETIMEOUT:
	if (GetSize(interp, name, valueObj, 0, 0x7FFFFFFF, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	if (cfg->idleTimeout == 0 && w > 0) {
	    Tcl_WideInt now = MpNowMs();

	    for (c = mp->first; c != NULL; c = c->next) {
		c->lastActive = now;
	    }
	}
	cfg->idleTimeout = (long) w;
	if (mp->idleTimer != NULL) {
	    Tcl_DeleteTimerHandler(mp->idleTimer);
	    mp->idleTimer = NULL;
	}
	MpIdleReschedule(mp);
	break;
    case CFG_LINGER:
	if (GetSize(interp, name, valueObj, 0, 0x7FFFFFFF, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	cfg->linger = (long) w;
	break;
    case CFG_MAXCLIENTS:
	if (GetSize(interp, name, valueObj, 0, 0x7FFFFFFF, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	cfg->maxClients = (int) w;
	break;
    case CFG_MAXPERADDR:
	if (GetSize(interp, name, valueObj, 0, 0x7FFFFFFF, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	cfg->maxPerAddr = (int) w;
	break;
    case CFG_ROUTE:
	if (Tcl_GetIndexFromObj(interp, valueObj, routeNames, "route", 0, &i)
		!= TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "CONFIG", NULL);
	    return TCL_ERROR;
	}
	cfg->route = i;
	break;
    case CFG_ALLOW:
	return MpCidrListSet(interp, &cfg->allow, valueObj);
    case CFG_DENY:
	return MpCidrListSet(interp, &cfg->deny, valueObj);
    case CFG_LOGCOMMAND:
	return MpLogSetCommand(interp, mp, valueObj);
    case CFG_HANDSHAKETIMEOUT:
	if (GetSize(interp, name, valueObj, 0, 0x7FFFFFFF, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	cfg->handshakeTimeout = (long) w;	/* For handshakes to come. */
	break;
    case CFG_PINGINTERVAL:
	if (GetSize(interp, name, valueObj, 0, 0x7FFFFFFF, &w) != TCL_OK) {
	    return TCL_ERROR;
	}
	cfg->pingInterval = (long) w;
	MpWsPingReschedule(mp);
	break;
    case CFG_WSMESSAGETYPE:
	if (Tcl_GetIndexFromObj(interp, valueObj, wsTypeNames,
		"wsmessagetype", 0, &i) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "CONFIG", NULL);
	    return TCL_ERROR;
	}
	cfg->wsMessageType = i;
	break;
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpConfigObjCmd --
 *
 *	${mp}::Config ?key? ?value? ?key value ...?
 *	No argument: a dict of every setting. One key: its value. Pairs: set
 *	each in turn (the 0.2 form is one pair).
 *
 * Results:
 *	The (last) value, the dict, or an error naming the valid keys.
 *
 * Side effects:
 *	See SetValue. The instance is referenced throughout: debuglevel
 *	runs the logger's level-change callbacks, which may destroy it
 *	(the command then fails with MULTIPLEXER DESTROYED).
 *
 *----------------------------------------------------------------------
 */

int
MpConfigObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    MpInstance *mp = (MpInstance *) clientData;
    int i, key, code = TCL_OK;

    if (MpCheckAlive(interp, mp) != TCL_OK) {
	return TCL_ERROR;
    }
    if (objc == 1) {
	Tcl_Obj *dict = Tcl_NewDictObj();

	for (i = 0; configKeys[i] != NULL; i++) {
	    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj(configKeys[i], -1),
		    GetValue(mp, i));
	}
	Tcl_SetObjResult(interp, dict);
	return TCL_OK;
    }
    if (objc > 2 && (objc % 2) == 0) {
	return MpWrongArgs(interp, 1, objv, "?key? ?value? ?key value ...?");
    }
    MpInstanceRef(mp);
    for (i = 1; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(interp, objv[i], configKeys, "key",
		TCL_EXACT, &key) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "CONFIG", "UNKNOWN",
		    Tcl_GetString(objv[i]), NULL);
	    code = TCL_ERROR;
	    break;
	}
	if (i + 1 < objc
		&& (SetValue(interp, mp, key, objv[i + 1]) != TCL_OK
		|| MpCheckAlive(interp, mp) != TCL_OK)) {
	    code = TCL_ERROR;
	    break;
	}
    }
    if (code == TCL_OK) {
	Tcl_SetObjResult(interp, GetValue(mp, key));
    }
    MpInstanceUnref(mp);
    return code;
}
