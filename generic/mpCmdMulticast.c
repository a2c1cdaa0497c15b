/*
 * mpCmdMulticast.c --
 *
 *	${mp}::Multicast join|leave|status: the Tcl face of the multicast
 *	member (mpMulticast.c).
 */

#include "mpMulticast.h"

#define DEFAULT_HEARTBEAT 1000

/*
 *----------------------------------------------------------------------
 *
 * Join --
 *
 *	Multicast join group port ?-ttl n? ?-interface addr? ?-loop bool?
 *	?-node id? ?-heartbeat ms?
 *
 * Results:
 *	TCL_OK (empty), or TCL_ERROR: {MULTIPLEXER MULTICAST JOINED} when
 *	joined already, {MULTIPLEXER MULTICAST GROUP} for an address that is
 *	not a multicast group, {MULTIPLEXER MULTICAST OPTION} for a bad
 *	option or value, {MULTIPLEXER MULTICAST <errno id>} when the socket
 *	cannot be opened or joined.
 *
 * Side effects:
 *	Opens the group socket (MpMulticastStart).
 *
 *----------------------------------------------------------------------
 */

static int
Join(
    Tcl_Interp *interp,
    MpInstance *mp,
    int objc,
    Tcl_Obj *const objv[])
{
    static const char *const options[] = {
	"-heartbeat", "-interface", "-loop", "-node", "-offload", "-pack",
	"-rcvbuf", "-retransmit", "-ttl", NULL
    };
    enum {
	OPT_HEARTBEAT, OPT_INTERFACE, OPT_LOOP, OPT_NODE, OPT_OFFLOAD,
	OPT_PACK, OPT_RCVBUF, OPT_RETRANSMIT, OPT_TTL
    };
    int rcvbuf = 0, pack = MP_MCAST_PACK_DEFAULT;
    int i, index, port, ttl = 1, loop = 1, heartbeat = DEFAULT_HEARTBEAT;
    int retransmit = 0, offload = 1;
    Tcl_Obj *ifaceObj = NULL, *nodeObj = NULL;
    const char *group, *text;
    MpMulticast *mc;
    Tcl_Size len;
    char id[24];

    if (objc < 4 || (objc % 2) != 0) {
	return MpWrongArgs(interp, 2, objv, "group port ?-ttl n? "
		"?-interface addr? ?-loop bool? ?-node id? ?-heartbeat ms? "
		"?-retransmit count? ?-rcvbuf bytes? ?-pack bytes? "
		"?-offload bool?");
    }
    if (mp->multicast != NULL) {
	return MpError(interp, "MULTICAST", "JOINED",
		"instance \"%s\" is already in a multicast group (Multicast "
		"leave first)", Tcl_GetString(mp->nameObj));
    }
    group = Tcl_GetString(objv[2]);
    if (!MpDgramIsMulticast(group)) {
	return MpError(interp, "MULTICAST", "GROUP", "\"%.100s\" is not a "
		"multicast group address (224.0.0.0/4 or ff00::/8)", group);
    }
    if (Tcl_GetIntFromObj(NULL, objv[3], &port) != TCL_OK || port < 1
	    || port > 65535) {
	return MpError(interp, "MULTICAST", "OPTION",
		"port must be 1 to 65535, not \"%.100s\"",
		Tcl_GetString(objv[3]));
    }
    for (i = 4; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(interp, objv[i], options, "option", 0,
		&index) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "MULTICAST", "OPTION",
		    NULL);
	    return TCL_ERROR;
	}
	switch (index) {
	case OPT_TTL:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &ttl) != TCL_OK
		    || ttl < 0 || ttl > 255) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-ttl must be 0 to 255, not \"%.100s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_LOOP:
	    if (Tcl_GetBooleanFromObj(NULL, objv[i + 1], &loop) != TCL_OK) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-loop must be a boolean, not \"%.100s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_INTERFACE:
	    ifaceObj = objv[i + 1];
	    break;
	case OPT_NODE:
	    text = Tcl_GetStringFromObj(objv[i + 1], &len);
	    if (len == 0 || len > 200 || strchr(text, '/') != NULL) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-node must be 1 to 200 bytes long, without \"/\"");
	    }
	    nodeObj = objv[i + 1];
	    break;
	case OPT_OFFLOAD:
	    if (Tcl_GetBooleanFromObj(NULL, objv[i + 1], &offload)
		    != TCL_OK) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-offload must be a boolean, not \"%.100s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_RCVBUF:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &rcvbuf) != TCL_OK
		    || rcvbuf < 0) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-rcvbuf must be a byte count (0: the system's), not "
			"\"%.100s\"", Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_PACK:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &pack) != TCL_OK
		    || pack < 0 || pack > MP_DGRAM_MAX) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-pack must be 0 (one message a datagram) to 65507 "
			"bytes, not \"%.100s\"", Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_RETRANSMIT:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &retransmit) != TCL_OK
		    || retransmit < 0 || retransmit > 1000000) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-retransmit must be 0 (off) to 1000000 datagrams, "
			"not \"%.100s\"", Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_HEARTBEAT:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &heartbeat) != TCL_OK
		    || heartbeat < 0 || heartbeat > 3600000) {
		return MpError(interp, "MULTICAST", "OPTION",
			"-heartbeat must be 0 (none) to 3600000 ms, not "
			"\"%.100s\"", Tcl_GetString(objv[i + 1]));
	    }
	    break;
	}
    }

    mc = (MpMulticast *) MpAlloc(sizeof(MpMulticast));
    memset(mc, 0, sizeof(MpMulticast));
    mc->port = port;
    mc->ttl = ttl;
    mc->loop = loop;
    mc->heartbeatMs = heartbeat;
    mc->retransmit = retransmit;
    mc->rcvbuf = rcvbuf;
    mc->pack = pack;
    mc->offload = offload;
    mc->incarnation = MpNodeIdentity(mc, id, sizeof(id));
    if (nodeObj != NULL) {
	text = Tcl_GetStringFromObj(nodeObj, &len);
    } else {
	text = id;
	len = (Tcl_Size) strlen(id);
    }
    mc->node = (char *) MpAlloc((size_t) len + 1);
    memcpy(mc->node, text, (size_t) len + 1);
    mc->nodeLen = (size_t) len;
    mc->groupObj = objv[2];
    Tcl_IncrRefCount(mc->groupObj);
    if (ifaceObj != NULL) {
	mc->ifaceObj = ifaceObj;
	Tcl_IncrRefCount(ifaceObj);
    }
    if (MpMulticastStart(interp, mp, mc, group,
	    ifaceObj != NULL ? Tcl_GetString(ifaceObj) : NULL) != TCL_OK) {
	Tcl_DecrRefCount(mc->groupObj);
	if (mc->ifaceObj != NULL) {
	    Tcl_DecrRefCount(mc->ifaceObj);
	}
	MpFree(mc->node);
	MpFree(mc);
	return TCL_ERROR;
    }
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * Status --
 *
 *	Multicast status: a dict of the membership and its counters.
 *
 *----------------------------------------------------------------------
 */

static void
Put(
    Tcl_Obj *d,
    const char *key,
    Tcl_Obj *value)
{
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj(key, -1), value);
}

static int
Status(
    Tcl_Interp *interp,
    MpInstance *mp)
{
    MpMulticast *mc = mp->multicast;
    MpMcastStats none, *st = &none;
    Tcl_Obj *d = Tcl_NewDictObj();
    char text[32];

    memset(&none, 0, sizeof(none));
    if (mc != NULL) {
	st = &mc->stats;
	snprintf(text, sizeof(text), "%llu", mc->incarnation);
    } else {
	text[0] = '\0';
    }
    Put(d, "joined", Tcl_NewIntObj(mc != NULL));
    Put(d, "group", mc != NULL ? mc->groupObj : Tcl_NewObj());
    Put(d, "port", Tcl_NewIntObj(mc != NULL ? mc->port : 0));
    Put(d, "interface", mc != NULL && mc->ifaceObj != NULL ? mc->ifaceObj
	    : Tcl_NewObj());
    Put(d, "ttl", Tcl_NewIntObj(mc != NULL ? mc->ttl : 0));
    Put(d, "loop", Tcl_NewIntObj(mc != NULL ? mc->loop : 0));
    Put(d, "node", mc != NULL ? Tcl_NewStringObj(mc->node,
	    (Tcl_Size) mc->nodeLen) : Tcl_NewObj());
    Put(d, "incarnation", Tcl_NewStringObj(text, -1));
    Put(d, "heartbeat", Tcl_NewIntObj(mc != NULL ? mc->heartbeatMs : 0));
    Put(d, "sent", Tcl_NewWideIntObj((Tcl_WideInt) st->sent));
    Put(d, "datagrams", Tcl_NewWideIntObj((Tcl_WideInt) st->datagrams));
    Put(d, "packed", Tcl_NewWideIntObj((Tcl_WideInt) st->packed));
    Put(d, "segmented", Tcl_NewWideIntObj((Tcl_WideInt) st->segmented));
    Put(d, "coalesced", Tcl_NewWideIntObj((Tcl_WideInt) st->coalesced));
    Put(d, "heartbeats", Tcl_NewWideIntObj((Tcl_WideInt) st->heartbeats));
    Put(d, "received", Tcl_NewWideIntObj((Tcl_WideInt) st->received));
    Put(d, "delivered", Tcl_NewWideIntObj((Tcl_WideInt) st->delivered));
    Put(d, "echoes", Tcl_NewWideIntObj((Tcl_WideInt) st->echoes));
    Put(d, "gaps", Tcl_NewWideIntObj((Tcl_WideInt) st->gaps));
    Put(d, "duplicates", Tcl_NewWideIntObj((Tcl_WideInt) st->duplicates));
    Put(d, "stale", Tcl_NewWideIntObj((Tcl_WideInt) st->stale));
    Put(d, "malformed", Tcl_NewWideIntObj((Tcl_WideInt) st->malformed));
    Put(d, "toobig", Tcl_NewWideIntObj((Tcl_WideInt) st->toobig));
    Put(d, "split", Tcl_NewWideIntObj((Tcl_WideInt) st->split));
    Put(d, "dropped", Tcl_NewWideIntObj((Tcl_WideInt) st->dropped));
    Put(d, "untracked", Tcl_NewWideIntObj((Tcl_WideInt) st->untracked));
    Put(d, "senders", Tcl_NewIntObj(mc != NULL ? mc->senderCount : 0));
    {
	/*
	 * The senders some of whose messages were found missing: node id
	 * and how many.
	 */

	Tcl_Obj *per = Tcl_NewDictObj();

	if (mc != NULL) {
	    Tcl_HashSearch search;
	    Tcl_HashEntry *hPtr;

	    for (hPtr = Tcl_FirstHashEntry(&mc->senders, &search);
		    hPtr != NULL; hPtr = Tcl_NextHashEntry(&search)) {
		MpMcastSender *s = (MpMcastSender *) Tcl_GetHashValue(hPtr);

		if (s->gaps > 0) {
		    Tcl_DictObjPut(NULL, per, Tcl_NewStringObj(s->node, -1),
			    Tcl_NewWideIntObj((Tcl_WideInt) s->gaps));
		}
	    }
	}
	Put(d, "gaps_by_sender", per);
    }
    Put(d, "retransmit", Tcl_NewIntObj(mc != NULL ? mc->retransmit : 0));
    Put(d, "rcvbuf", Tcl_NewIntObj(mc != NULL ? mc->rcvbuf : 0));
    Put(d, "pack", Tcl_NewIntObj(mc != NULL ? mc->pack : 0));
    Put(d, "offload", Tcl_NewIntObj(mc != NULL ? mc->offload : 0));
    Put(d, "lasterror", Tcl_NewStringObj(mc != NULL ? mc->lastError : "",
	    -1));
    Put(d, "repairport", Tcl_NewIntObj(mc != NULL ? mc->repairPort : 0));
    Put(d, "repairs", Tcl_NewWideIntObj((Tcl_WideInt) st->repairs));
    Put(d, "repaired", Tcl_NewWideIntObj((Tcl_WideInt) st->repaired));
    Put(d, "served", Tcl_NewWideIntObj((Tcl_WideInt) st->served));
    Put(d, "held_dropped", Tcl_NewWideIntObj((Tcl_WideInt) st->heldDropped));
    Tcl_SetObjResult(interp, d);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpMulticastObjCmd --
 *
 *	${mp}::Multicast join|leave|status ...
 *
 *----------------------------------------------------------------------
 */

int
MpMulticastObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return MpMemberObjCmd((MpInstance *) clientData, interp, objc, objv,
	    "MULTICAST", Join, MpMulticastLeave, Status);
}
