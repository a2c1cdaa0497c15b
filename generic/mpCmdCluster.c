/*
 * mpCmdCluster.c --
 *
 *	${mp}::Cluster join|leave|status: the Tcl face of cluster
 *	membership (mpCluster.c). join checks its URL and options and
 *	starts the links in the background (an unreachable Redis is not an
 *	error: the node retries and logs); status reports the counters.
 */

#include <stdlib.h>
#include "mpCluster.h"

#define DEFAULT_PORT		6379
#define DEFAULT_MAX_PENDING	(16u << 20)
#define MIN_MAX_PENDING		1024
#define DEFAULT_RECOVER_TTL	86400	/* -recoverttl: a day. */

/*
 *----------------------------------------------------------------------
 *
 * CopyText --
 *
 *	A NUL-terminated copy of len bytes.
 *
 *----------------------------------------------------------------------
 */

static char *
CopyText(
    const char *bytes,
    size_t len)
{
    char *s = (char *) MpAlloc(len + 1);

    memcpy(s, bytes, len);
    s[len] = '\0';
    return s;
}

/*
 *----------------------------------------------------------------------
 *
 * ParseUrl --
 *
 *	Reads redis://[user:password@]host[:port][/db] into t (host in
 *	brackets for an IPv6 address; port 6379 and database 0 when left
 *	out; ":password@" for a password without a user name) and makes the
 *	text shown by Cluster status and the log, with the password as ***.
 *
 * Results:
 *	TCL_OK with t filled (strings allocated) and *shownPtr (a new
 *	object), or TCL_ERROR with {MULTIPLEXER CLUSTER URL} and nothing
 *	allocated.
 *
 * Side effects:
 *	Allocates.
 *
 *----------------------------------------------------------------------
 */

static int
BadUrl(
    Tcl_Interp *interp,
    const char *url,
    const char *why)
{
    return MpError(interp, "CLUSTER", "URL",
	    "bad Redis URL \"%.200s\": %s (expected "
	    "redis://[user:password@]host[:port][/db])", url, why);
}

static int
ParseUrl(
    Tcl_Interp *interp,
    const char *url,
    MpRedisTarget *t,
    Tcl_Obj **shownPtr)
{
    const char *p, *auth, *authEnd, *at, *host, *hostEnd, *portText = NULL;
    const char *user = NULL, *password = NULL;
    size_t userLen = 0, passwordLen = 0;
    long port = DEFAULT_PORT, db = 0;
    char *end;
    Tcl_Obj *shown;

    if (strncmp(url, "redis://", 8) != 0) {
	return BadUrl(interp, url, "it must start with redis://");
    }
    auth = url + 8;
    authEnd = strchr(auth, '/');
    if (authEnd == NULL) {
	authEnd = auth + strlen(auth);
    } else if (authEnd[1] != '\0') {
	db = strtol(authEnd + 1, &end, 10);
	if (*end != '\0' || end == authEnd + 1 || db < 0 || db > 1000000
		|| authEnd[1] == '-' || authEnd[1] == '+') {
	    return BadUrl(interp, url, "the database must be a number");
	}
    }
    at = NULL;
    for (p = auth; p < authEnd; p++) {
	if (*p == '@') {
	    at = p;
	}
    }
    host = auth;
    if (at != NULL) {
	const char *colon = memchr(auth, ':', (size_t) (at - auth));

	if (colon == NULL) {
	    return BadUrl(interp, url,
		    "give user:password@ or :password@ before the host");
	}
	user = auth;
	userLen = (size_t) (colon - auth);
	password = colon + 1;
	passwordLen = (size_t) (at - password);
	if (passwordLen == 0) {
	    return BadUrl(interp, url, "the password is empty");
	}
	host = at + 1;
    }
    if (*host == '[') {
	hostEnd = memchr(host, ']', (size_t) (authEnd - host));
	if (hostEnd == NULL) {
	    return BadUrl(interp, url, "no ] after the IPv6 address");
	}
	host++;
	if (hostEnd + 1 < authEnd) {
	    if (hostEnd[1] != ':') {
		return BadUrl(interp, url, "junk after the IPv6 address");
	    }
	    portText = hostEnd + 2;
	}
    } else {
	hostEnd = memchr(host, ':', (size_t) (authEnd - host));
	if (hostEnd == NULL) {
	    hostEnd = authEnd;
	} else {
	    portText = hostEnd + 1;
	}
    }
    if (hostEnd == host) {
	return BadUrl(interp, url, "the host is empty");
    }
    for (p = host; p < hostEnd; p++) {
	if ((unsigned char) *p <= ' ' || *p == '@' || *p == '/') {
	    return BadUrl(interp, url, "the host name has a bad character");
	}
    }
    if (portText != NULL) {
	char digits[8];
	size_t n = (size_t) (authEnd - portText);

	if (n == 0 || n > 5) {
	    return BadUrl(interp, url, "the port must be 1 to 65535");
	}
	memcpy(digits, portText, n);
	digits[n] = '\0';
	port = strtol(digits, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535 || digits[0] == '+'
		|| digits[0] == '-') {
	    return BadUrl(interp, url, "the port must be 1 to 65535");
	}
    }
    t->host = CopyText(host, (size_t) (hostEnd - host));
    t->port = (int) port;
    t->user = (user != NULL && userLen > 0) ? CopyText(user, userLen) : NULL;
    t->password = (password != NULL) ? CopyText(password, passwordLen)
	    : NULL;
    t->db = (int) db;
    shown = Tcl_NewStringObj("redis://", -1);
    if (password != NULL) {
	Tcl_AppendToObj(shown, user, (Tcl_Size) userLen);
	Tcl_AppendToObj(shown, ":***@", -1);
    }
    Tcl_AppendToObj(shown, (*auth == '[' || (at != NULL && at[1] == '['))
	    ? "[" : "", -1);
    Tcl_AppendToObj(shown, t->host, -1);
    Tcl_AppendPrintfToObj(shown, "%s:%d/%d",
	    (*auth == '[' || (at != NULL && at[1] == '[')) ? "]" : "",
	    t->port, t->db);
    *shownPtr = shown;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * Join --
 *
 *	Cluster join url ?-channel name? ?-node id? ?-maxpending bytes?
 *
 * Results:
 *	TCL_OK (empty result), or TCL_ERROR: a malformed URL or option
 *	({MULTIPLEXER CLUSTER ...}), the instance already joined
 *	({MULTIPLEXER CLUSTER JOINED}).
 *
 * Side effects:
 *	Starts the links (MpClusterStart).
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
	"-channel", "-maxpending", "-node", "-recover", "-recoverttl",
	"-sharded", NULL
    };
    enum {
	OPT_CHANNEL, OPT_MAXPENDING, OPT_NODE, OPT_RECOVER, OPT_RECOVERTTL,
	OPT_SHARDED
    };
    int recover = 0, sharded = 0, k, recoverTtl = DEFAULT_RECOVER_TTL;
    Tcl_Obj *nameObj = mp->nameObj, *nodeObj = NULL;
    Tcl_WideInt maxPending = DEFAULT_MAX_PENDING;
    MpCluster *cl;
    Tcl_Obj *shown = NULL;
    MpRedisTarget t;
    Tcl_Size len;
    const char *text;
    int i, index;

    if (objc < 3 || (objc % 2) == 0) {
	return MpWrongArgs(interp, 2, objv,
		"url ?-channel name? ?-node id? ?-recover count? "
		"?-recoverttl seconds? ?-sharded bool? ?-maxpending bytes?");
    }
    if (mp->cluster != NULL) {
	return MpError(interp, "CLUSTER", "JOINED",
		"instance \"%s\" is already in cluster \"%s\" (Cluster leave "
		"first)", Tcl_GetString(mp->nameObj),
		Tcl_GetString(mp->cluster->nameObj));
    }
    for (i = 3; i < objc; i += 2) {
	if (Tcl_GetIndexFromObj(interp, objv[i], options, "option", 0,
		&index) != TCL_OK) {
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "CLUSTER", "OPTION",
		    NULL);
	    return TCL_ERROR;
	}
	switch (index) {
	case OPT_CHANNEL:
	    (void) Tcl_GetStringFromObj(objv[i + 1], &len);
	    if (len == 0 || len > 1000) {
		return MpError(interp, "CLUSTER", "OPTION",
			"-channel must be 1 to 1000 bytes long");
	    }
	    nameObj = objv[i + 1];
	    break;
	case OPT_NODE:
	    text = Tcl_GetStringFromObj(objv[i + 1], &len);
	    if (len == 0 || len > 200 || strchr(text, '/') != NULL) {
		return MpError(interp, "CLUSTER", "OPTION",
			"-node must be 1 to 200 bytes long, without \"/\"");
	    }
	    nodeObj = objv[i + 1];
	    break;
	case OPT_RECOVER:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &recover) != TCL_OK
		    || recover < 0 || recover > 100000000) {
		return MpError(interp, "CLUSTER", "OPTION",
			"-recover must be a message count from 0 (off) to "
			"100000000, not \"%.100s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_RECOVERTTL:
	    if (Tcl_GetIntFromObj(NULL, objv[i + 1], &recoverTtl) != TCL_OK
		    || recoverTtl < 1 || recoverTtl > 315360000) {
		return MpError(interp, "CLUSTER", "OPTION",
			"-recoverttl must be 1 to 315360000 seconds, not "
			"\"%.100s\"", Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_SHARDED:
	    if (Tcl_GetBooleanFromObj(NULL, objv[i + 1], &sharded)
		    != TCL_OK) {
		return MpError(interp, "CLUSTER", "OPTION",
			"-sharded must be a boolean, not \"%.100s\"",
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	case OPT_MAXPENDING:
	    if (Tcl_GetWideIntFromObj(NULL, objv[i + 1], &maxPending)
		    != TCL_OK || maxPending < MIN_MAX_PENDING
		    || maxPending > ((Tcl_WideInt) 1 << 40)) {
		return MpError(interp, "CLUSTER", "OPTION",
			"-maxpending must be a byte count from %d to 2**40, "
			"not \"%.100s\"", MIN_MAX_PENDING,
			Tcl_GetString(objv[i + 1]));
	    }
	    break;
	}
    }
    if (sharded && recover > 0) {
	return MpError(interp, "CLUSTER", "OPTION",
		"-recover and -sharded cannot be used together (yet): the "
		"recovery reads one stream, a sharded cluster would need one "
		"per channel");
    }
    if (ParseUrl(interp, Tcl_GetString(objv[2]), &t, &shown) != TCL_OK
	    || shown == NULL) {
	return TCL_ERROR;
    }

    cl = (MpCluster *) MpAlloc(sizeof(MpCluster));
    memset(cl, 0, sizeof(MpCluster));
    cl->target = t;
    cl->urlObj = shown;
    Tcl_IncrRefCount(cl->urlObj);
    cl->nameObj = nameObj;
    Tcl_IncrRefCount(cl->nameObj);
    text = Tcl_GetStringFromObj(nameObj, &len);

    /*
     * The channels: "multiplexer:NAME"; with -sharded
     * "multiplexer:{NAME:k}" for k from 0, whose hash slots spread them
     * over the masters.
     */

    cl->sharded = sharded;
    cl->chanCount = sharded ? MP_CLUSTER_SHARD_CHANNELS : 1;
    cl->chans = (char **) MpAlloc(sizeof(char *) * (size_t) cl->chanCount);
    cl->chanLens = (size_t *) MpAlloc(sizeof(size_t)
	    * (size_t) cl->chanCount);
    for (k = 0; k < cl->chanCount; k++) {
	Tcl_Obj *nObj = sharded
		? Tcl_ObjPrintf("multiplexer:{%s:%d}", text, k)
		: Tcl_ObjPrintf("multiplexer:%s", text);
	Tcl_Size nlen;
	const char *ntext;

	Tcl_IncrRefCount(nObj);
	ntext = Tcl_GetStringFromObj(nObj, &nlen);
	cl->chans[k] = CopyText(ntext, (size_t) nlen);
	cl->chanLens[k] = (size_t) nlen;
	Tcl_DecrRefCount(nObj);
    }
    cl->recover = recover;
    cl->recoverTtl = recoverTtl;
    if (recover > 0) {
	cl->streamKeyLen = 19 + (size_t) len;
	cl->streamKey = (char *) MpAlloc(cl->streamKeyLen + 1);
	memcpy(cl->streamKey, "multiplexer-stream:", 19);
	memcpy(cl->streamKey + 19, text, (size_t) len + 1);
    }

    {
	char id[24];

	cl->incarnation = MpNodeIdentity(cl, id, sizeof(id));
	if (nodeObj != NULL) {
	    text = Tcl_GetStringFromObj(nodeObj, &len);
	    cl->node = CopyText(text, (size_t) len);
	    cl->nodeLen = (size_t) len;
	} else {
	    cl->node = CopyText(id, strlen(id));
	    cl->nodeLen = strlen(id);
	}
    }
    cl->maxPending = (size_t) maxPending;
    if (sharded) {
	/*
	 * A node always publishes on one channel (its messages keep their
	 * order), chosen by its id (FNV-1a), so nodes spread over them.
	 */

	unsigned long long h = 14695981039346656037ULL;
	size_t b;

	for (b = 0; b < cl->nodeLen; b++) {
	    h = (h ^ (unsigned char) cl->node[b]) * 1099511628211ULL;
	}
	cl->pubChan = (int) (h % MP_CLUSTER_SHARD_CHANNELS);
    }
    cl->channel = cl->chans[cl->pubChan];
    cl->channelLen = cl->chanLens[cl->pubChan];
    return MpClusterStart(mp, cl);
}

/*
 *----------------------------------------------------------------------
 *
 * Status --
 *
 *	Cluster status: a dict of the membership and its counters (joined
 *	0 and the rest empty or 0 when the instance is in no cluster).
 *
 * Results:
 *	TCL_OK.
 *
 * Side effects:
 *	Sets the result.
 *
 *----------------------------------------------------------------------
 */

static void
PutWide(
    Tcl_Obj *dict,
    const char *key,
    Tcl_WideUInt value)
{
    Tcl_DictObjPut(NULL, dict, Tcl_NewStringObj(key, -1),
	    Tcl_NewWideIntObj((Tcl_WideInt) value));
}

static int
Status(
    Tcl_Interp *interp,
    MpInstance *mp)
{
    MpCluster *cl = mp->cluster;
    Tcl_Obj *d = Tcl_NewDictObj();
    MpClusterStats none, *st = &none;
    char text[32];

    memset(&none, 0, sizeof(none));
    PutWide(d, "joined", cl != NULL);
    PutWide(d, "connected", cl != NULL && MpClusterConnected(cl));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("node", -1),
	    cl != NULL ? Tcl_NewStringObj(cl->node, (Tcl_Size) cl->nodeLen)
	    : Tcl_NewObj());
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("channel", -1),
	    cl != NULL ? cl->nameObj : Tcl_NewObj());
    if (cl != NULL) {
	snprintf(text, sizeof(text), "%llu", cl->incarnation);
    } else {
	text[0] = '\0';
    }
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("incarnation", -1),
	    Tcl_NewStringObj(text, -1));
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("url", -1),
	    cl != NULL ? cl->urlObj : Tcl_NewObj());
    if (cl != NULL) {
	st = &cl->stats;
    }
    PutWide(d, "published", st->published);
    PutWide(d, "received", st->received);
    PutWide(d, "delivered", st->delivered);
    PutWide(d, "echoes", st->echoes);
    PutWide(d, "dropped", st->dropped);
    PutWide(d, "gaps", st->gaps);
    PutWide(d, "duplicates", st->duplicates);
    PutWide(d, "malformed", st->malformed);
    PutWide(d, "untracked", st->untracked);
    PutWide(d, "reconnects", st->reconnects);
    PutWide(d, "redis_errors", st->redisErrors);
    {
	Tcl_WideUInt refused = 0;
	int k;

	if (cl != NULL) {
	    if (cl->pub != NULL) {
		refused += MpRedisLinkInputRefused(cl->pub);
	    }
	    for (k = 0; k < cl->subCount; k++) {
		refused += MpRedisLinkInputRefused(cl->subs[k].link);
	    }
	}
	PutWide(d, "input_refused", refused);
    }
    PutWide(d, "sharded", cl != NULL ? (Tcl_WideUInt) cl->sharded : 0);
    PutWide(d, "map_refreshes", st->mapRefreshes);
    PutWide(d, "links_kept", st->linksKept);
    {
	/*
	 * Where the slot map is read: the URL's server, or a master an
	 * earlier map named (after the first was lost).
	 */

	Tcl_Obj *from = Tcl_NewObj();

	if (cl != NULL && cl->sharded) {
	    const MpRedisTarget *t = cl->controlAt < 0 ? &cl->target
		    : &cl->known[cl->controlAt];

	    Tcl_AppendPrintfToObj(from, "%s:%d", t->host, t->port);
	}
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("map_from", -1), from);
    }
    PutWide(d, "moved", st->moved);
    PutWide(d, "recover", cl != NULL ? (Tcl_WideUInt) cl->recover : 0);
    PutWide(d, "recoverttl", cl != NULL && cl->recover > 0
	    ? (Tcl_WideUInt) cl->recoverTtl : 0);
    {
	/*
	 * How the publishing script of -recover goes: by its digest once
	 * Redis loaded it, else with its text.
	 */

	const char *how = "";

	if (cl != NULL && cl->recover > 0) {
	    how = cl->shaLive && !cl->shaRefused ? "evalsha" : "eval";
	}
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("script", -1),
		Tcl_NewStringObj(how, -1));
    }
    PutWide(d, "recoveries", st->recoveries);
    PutWide(d, "recovered", st->recovered);
    PutWide(d, "resent", st->resent);
    PutWide(d, "pending", cl != NULL ? MpClusterPending(cl) : 0);
    PutWide(d, "maxpending", cl != NULL ? cl->maxPending : 0);
    PutWide(d, "senders", cl != NULL ? (Tcl_WideUInt) cl->senderCount : 0);
    {
	/*
	 * The senders some of whose messages were found missing: node id
	 * and how many.
	 */

	Tcl_Obj *per = Tcl_NewDictObj();

	if (cl != NULL) {
	    Tcl_HashSearch search;
	    Tcl_HashEntry *hPtr;

	    for (hPtr = Tcl_FirstHashEntry(&cl->senders, &search);
		    hPtr != NULL; hPtr = Tcl_NextHashEntry(&search)) {
		MpClusterSender *s = (MpClusterSender *)
			Tcl_GetHashValue(hPtr);

		if (s->gaps > 0) {
		    Tcl_DictObjPut(NULL, per, Tcl_NewStringObj(
			    (const char *) Tcl_GetHashKey(&cl->senders, hPtr),
			    -1), Tcl_NewWideIntObj((Tcl_WideInt) s->gaps));
		}
	    }
	}
	Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("gaps_by_sender", -1), per);
    }
    Tcl_DictObjPut(NULL, d, Tcl_NewStringObj("lasterror", -1),
	    Tcl_NewStringObj(cl != NULL ? cl->lastError : "", -1));
    Tcl_SetObjResult(interp, d);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpClusterObjCmd --
 *
 *	${mp}::Cluster join|leave|status ...
 *
 * Results:
 *	A Tcl result.
 *
 * Side effects:
 *	See Join, MpClusterLeave, Status.
 *
 *----------------------------------------------------------------------
 */

int
MpClusterObjCmd(
    ClientData clientData,
    Tcl_Interp *interp,
    int objc,
    Tcl_Obj *const objv[])
{
    return MpMemberObjCmd((MpInstance *) clientData, interp, objc, objv,
	    "CLUSTER", Join, MpClusterLeave, Status);
}
