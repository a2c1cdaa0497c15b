/*
 * mpChannel.c --
 *
 *	Tcl channel views of clients and listeners. A client's channel is a
 *	real Tcl channel (puts, flush, fconfigure -peername/-sockname, close,
 *	chan names) whose output goes into the client's ordered queue in C.
 *	The channel has no OS handle to give Tcl, so Tcl's own notifier never
 *	watches the socket; the extension's poller serves it.
 *
 *	A channel belongs to the thread of its instance. Moved to another
 *	thread (thread::transfer, thread::detach), it is cut from its client
 *	in the owner thread and fails every operation where it now is, never
 *	touching the instance; moved back, it is joined to its client again.
 *	Clients are found by channel name through a per-thread table, so the
 *	instance's commands find them whichever interpreter holds the channel.
 */

#include <errno.h>
#include <stdio.h>
#include "mpInt.h"

#ifndef ENOBUFS
#   define ENOBUFS ENOMEM
#endif
#ifndef ENOTSUP
#   define ENOTSUP EINVAL
#endif

/*
 * What a client channel points at; the client pointer is cleared when the
 * client goes first.
 */

typedef struct ChanData {
    MpClient *client;		/* NULL once detached, and while the channel
				 * is out of its owner thread. */
    MpListener *listener;	/* For listener channels; NULL likewise. */
    Tcl_Channel chan;
    Tcl_ThreadId owner;		/* The thread of the instance: the only one
				 * where the channel reaches the core. */
    unsigned long serial;	/* Serial of the owner thread's ChanTables,
				 * against thread ids used again. */
    int staleError;		/* ChanInput left a message in the channel's
				 * error bypass, which a later failure must
				 * not report. */
    int closing;		/* Tcl_Close has begun (its close handlers
				 * ran): the read-side close it makes first
				 * is part of a full close. */
    int interest;		/* TCL_READABLE / TCL_WRITABLE asked by Tcl
				 * (fileevent, background chan copy). */
    int inputReady;		/* The client's input is waiting for the
				 * script (MpChannelInputReady). */
    int blocking;		/* fconfigure -blocking 1: reads wait for
				 * input, writes for the socket. */
    Tcl_TimerToken timer;	/* Reports that interest (ChanWatch). */
} ChanData;

/*
 * Per thread: the clients and listeners whose channels were made in this
 * thread, by channel name, while they live (whether or not their channel
 * is still joined to them). MpLookupClient finds clients here, and a
 * channel that comes back to its thread finds its client again here.
 */

typedef struct ChanTables {
    int state;			/* CHAN_TABLES_*. */
    unsigned long serial;	/* Unique among the threads of the process. */
    Tcl_HashTable clients;	/* Name -> MpClient*. */
    Tcl_HashTable listeners;	/* Name -> MpListener*. */
} ChanTables;

enum { CHAN_TABLES_NONE, CHAN_TABLES_READY, CHAN_TABLES_GONE };

static Tcl_ThreadDataKey tablesKey;
TCL_DECLARE_MUTEX(serialMutex)
static unsigned long serialCounter = 0;

static int		ChanClose2(ClientData instanceData,
			    Tcl_Interp *interp, int flags);
static int		ChanInput(ClientData instanceData, char *buf,
			    int toRead, int *errorCodePtr);
static int		ChanOutput(ClientData instanceData, const char *buf,
			    int toWrite, int *errorCodePtr);
static int		ChanGetOption(ClientData instanceData,
			    Tcl_Interp *interp, const char *optionName,
			    Tcl_DString *dsPtr);
static void		ChanWatch(ClientData instanceData, int mask);
static int		ChanGetHandle(ClientData instanceData, int direction,
			    ClientData *handlePtr);
static int		ChanBlockMode(ClientData instanceData, int mode);
static void		ChanThreadAction(ClientData instanceData, int action);
static void		ChanCloseNotice(ClientData clientData);
static void		ChanNotifyProc(ClientData clientData);
static int		ChanReadableNow(ChanData *cd);
static void		ChanArm(ChanData *cd);
static void		ChanFree(ChanData *cd);
static int		ChanHalfClose(ChanData *cd, Tcl_Interp *interp,
			    int flags);
static ChanTables *	GetTables(int create);
static void		TablesExitHandler(ClientData clientData);
static int		ChanForeign(ChanData *cd, Tcl_Interp *interp,
			    int asResult, int *errorCodePtr);
static void		ChanSetBypassError(ChanData *cd, Tcl_Interp *interp,
			    const char *code, Tcl_Obj *msgObj);

static const Tcl_ChannelType clientChannelType = {
    "multiplexer",		/* Type name. */
    TCL_CHANNEL_VERSION_5,
    TCL_CLOSE2PROC,		/* Close: use close2Proc. */
    ChanInput,
    ChanOutput,
    NULL,			/* Seek. */
    NULL,			/* Set option. */
    ChanGetOption,
    ChanWatch,
    ChanGetHandle,
    ChanClose2,
    ChanBlockMode,
    NULL,			/* Flush. */
    NULL,			/* Handler. */
    NULL,			/* Wide seek. */
    ChanThreadAction,		/* Thread action: cut / splice. */
    NULL			/* Truncate. */
};

static const Tcl_ChannelType listenerChannelType = {
    "multiplexer-listener",
    TCL_CHANNEL_VERSION_5,
    TCL_CLOSE2PROC,
    ChanInput,
    ChanOutput,
    NULL,
    NULL,
    ChanGetOption,
    ChanWatch,
    ChanGetHandle,
    ChanClose2,
    ChanBlockMode,
    NULL,
    NULL,
    NULL,
    ChanThreadAction,
    NULL
};

/*
 *----------------------------------------------------------------------
 *
 * GetTables, TablesExitHandler --
 *
 *	The calling thread's name tables (see ChanTables), made on first
 *	need when create is set; freed when the thread exits, after which
 *	they are not made again (channels closed by Tcl's finalization of
 *	the thread find nothing in them).
 *
 * Results:
 *	The tables, or NULL when they do not (or no longer) exist.
 *
 * Side effects:
 *	May create the tables and a thread exit handler.
 *
 *----------------------------------------------------------------------
 */

static ChanTables *
GetTables(
    int create)
{
    ChanTables *tPtr = (ChanTables *)
	    Tcl_GetThreadData(&tablesKey, sizeof(ChanTables));

    if (tPtr->state == CHAN_TABLES_READY) {
	return tPtr;
    }
    if (tPtr->state == CHAN_TABLES_GONE || !create) {
	return NULL;
    }
    Tcl_InitHashTable(&tPtr->clients, TCL_STRING_KEYS);
    Tcl_InitHashTable(&tPtr->listeners, TCL_STRING_KEYS);
    Tcl_MutexLock(&serialMutex);
    tPtr->serial = ++serialCounter;
    Tcl_MutexUnlock(&serialMutex);
    tPtr->state = CHAN_TABLES_READY;
    Tcl_CreateThreadExitHandler(TablesExitHandler, NULL);
    return tPtr;
}

static void
TablesExitHandler(
    ClientData clientData)
{
    ChanTables *tPtr = (ChanTables *)
	    Tcl_GetThreadData(&tablesKey, sizeof(ChanTables));

    (void) clientData;
    if (tPtr->state == CHAN_TABLES_READY) {
	Tcl_DeleteHashTable(&tPtr->clients);
	Tcl_DeleteHashTable(&tPtr->listeners);
    }
    tPtr->state = CHAN_TABLES_GONE;
}

/*
 *----------------------------------------------------------------------
 *
 * MpChannelCreate --
 *
 *	Creates and registers a client's channel: binary, unbuffered,
 *	non-blocking, as tcllib configured its client sockets, owned by the
 *	calling thread (the instance's), and enters the client in the
 *	thread's name table.
 *
 * Results:
 *	The channel.
 *
 * Side effects:
 *	Registers the channel in the instance's interpreter.
 *
 *----------------------------------------------------------------------
 */

Tcl_Channel
MpChannelCreate(
    MpClient *c,
    const char *name)
{
    Tcl_Interp *interp = c->mp->interp;
    ChanData *cd = (ChanData *) MpAlloc(sizeof(ChanData));
    ChanTables *tPtr = GetTables(1);

    memset(cd, 0, sizeof(ChanData));
    cd->client = c;
    cd->owner = Tcl_GetCurrentThread();
    if (tPtr != NULL) {
	int isNew;

	cd->serial = tPtr->serial;
	Tcl_SetHashValue(Tcl_CreateHashEntry(&tPtr->clients, name, &isNew),
		c);
    }
    cd->chan = Tcl_CreateChannel(&clientChannelType, name, cd,
	    TCL_READABLE | TCL_WRITABLE);
    Tcl_CreateCloseHandler(cd->chan, ChanCloseNotice, cd);
    Tcl_RegisterChannel(interp, cd->chan);
    Tcl_SetChannelOption(NULL, cd->chan, "-translation", "binary");
    Tcl_SetChannelOption(NULL, cd->chan, "-buffering", "none");
    Tcl_SetChannelOption(NULL, cd->chan, "-blocking", "0");
    return cd->chan;
}

/*
 *----------------------------------------------------------------------
 *
 * MpChannelDetach --
 *
 *	Cuts a departing client from its channel (if the channel is still
 *	joined to it), takes it out of the name table, and unregisters the
 *	channel (which closes it unless a script shared it elsewhere; a
 *	surviving channel then fails every operation).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May close the channel.
 *
 *----------------------------------------------------------------------
 */

void
MpChannelDetach(
    MpClient *c)
{
    Tcl_Channel chan = c->chan;
    ChanTables *tPtr = GetTables(0);
    ChanData *cd;

    if (tPtr != NULL && c->nameObj != NULL) {
	Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&tPtr->clients,
		Tcl_GetString(c->nameObj));

	if (hPtr != NULL && Tcl_GetHashValue(hPtr) == (void *) c) {
	    Tcl_DeleteHashEntry(hPtr);
	}
    }
    if (chan == NULL) {
	return;
    }
    c->chan = NULL;
    cd = (ChanData *) Tcl_GetChannelInstanceData(chan);
    cd->client = NULL;
    ChanArm(cd);		/* A readable handler learns of the end. */
    if (!Tcl_InterpDeleted(c->mp->interp)
	    || Tcl_IsChannelRegistered(c->mp->interp, chan)) {
	Tcl_UnregisterChannel(c->mp->interp, chan);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpListenerChannelCreate, MpListenerChannelDetach --
 *
 *	The listener's channel (returned by Init, like tcllib's server
 *	socket): fconfigure -sockname works on it and close stops listening.
 *	The listener is in the thread's name table while it lives.
 *
 * Results:
 *	The channel / none.
 *
 * Side effects:
 *	Registers / unregisters the channel.
 *
 *----------------------------------------------------------------------
 */

Tcl_Channel
MpListenerChannelCreate(
    MpListener *l,
    const char *name)
{
    ChanData *cd = (ChanData *) MpAlloc(sizeof(ChanData));
    ChanTables *tPtr = GetTables(1);

    memset(cd, 0, sizeof(ChanData));
    cd->listener = l;
    cd->owner = Tcl_GetCurrentThread();
    if (tPtr != NULL) {
	int isNew;

	cd->serial = tPtr->serial;
	Tcl_SetHashValue(Tcl_CreateHashEntry(&tPtr->listeners, name,
		&isNew), l);
    }
    cd->chan = Tcl_CreateChannel(&listenerChannelType, name, cd, 0);
    Tcl_CreateCloseHandler(cd->chan, ChanCloseNotice, cd);
    Tcl_RegisterChannel(l->mp->interp, cd->chan);
    return cd->chan;
}

void
MpListenerChannelDetach(
    MpListener *l)
{
    Tcl_Channel chan = l->chan;
    ChanTables *tPtr = GetTables(0);
    ChanData *cd;

    if (tPtr != NULL) {
	Tcl_HashSearch search;
	Tcl_HashEntry *hPtr;

	/* A few listeners per instance: a short table. */
	for (hPtr = Tcl_FirstHashEntry(&tPtr->listeners, &search);
		hPtr != NULL; hPtr = Tcl_NextHashEntry(&search)) {
	    if (Tcl_GetHashValue(hPtr) == (void *) l) {
		Tcl_DeleteHashEntry(hPtr);
		break;
	    }
	}
    }
    if (chan == NULL) {
	return;
    }
    l->chan = NULL;
    cd = (ChanData *) Tcl_GetChannelInstanceData(chan);
    cd->listener = NULL;
    if (!Tcl_InterpDeleted(l->mp->interp)
	    || Tcl_IsChannelRegistered(l->mp->interp, chan)) {
	Tcl_UnregisterChannel(l->mp->interp, chan);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ChanThreadAction --
 *
 *	Tcl's notice that the channel leaves the calling thread (cut:
 *	thread::transfer, thread::detach) or arrives in it (splice). Leaving
 *	the owner thread, the channel is cut from its client or listener
 *	there and then, in the thread that owns them; arriving back in the
 *	owner thread, it is joined again to the client or listener of its
 *	name if that is still there and has no channel. Anywhere else the
 *	channel stays cut and fails every operation (ChanForeign).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Links or unlinks the channel and the client or listener.
 *
 *----------------------------------------------------------------------
 */

static void
ChanThreadAction(
    ClientData instanceData,
    int action)
{
    ChanData *cd = (ChanData *) instanceData;
    ChanTables *tPtr;
    Tcl_HashEntry *hPtr;
    const char *name;

    if (action == TCL_CHANNEL_THREAD_REMOVE && cd->timer != NULL) {
	Tcl_DeleteTimerHandler(cd->timer);	/* A timer of this thread. */
	cd->timer = NULL;
    }
    if (cd->chan == NULL || cd->closing
	    || cd->owner != Tcl_GetCurrentThread()) {
	return;			/* Tcl_CreateChannel's own splice, or the
				 * cut made by Tcl_Close. */
    }
    if (action == TCL_CHANNEL_THREAD_REMOVE) {
	if (cd->client != NULL) {
	    if (cd->client->state == MP_CLIENT_CONNECTING) {
		MpConnectChannelGone(cd->client);
	    }
	    cd->client->chan = NULL;
	    cd->client = NULL;
	}
	if (cd->listener != NULL) {
	    cd->listener->chan = NULL;
	    cd->listener = NULL;
	}
	return;
    }
    tPtr = GetTables(0);
    if (tPtr == NULL || tPtr->serial != cd->serial) {
	return;
    }
    name = Tcl_GetChannelName(cd->chan);
    if (Tcl_GetChannelType(cd->chan) == &clientChannelType) {
	hPtr = Tcl_FindHashEntry(&tPtr->clients, name);
	if (hPtr != NULL) {
	    MpClient *c = (MpClient *) Tcl_GetHashValue(hPtr);

	    if (c->chan == NULL && c->state < MP_CLIENT_DEAD) {
		c->chan = cd->chan;
		cd->client = c;
	    }
	}
    } else {
	hPtr = Tcl_FindHashEntry(&tPtr->listeners, name);
	if (hPtr != NULL) {
	    MpListener *l = (MpListener *) Tcl_GetHashValue(hPtr);

	    if (l->chan == NULL) {
		l->chan = cd->chan;
		cd->listener = l;
	    }
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * ChanForeign, ChanSetBypassError --
 *
 *	ChanForeign tells whether the channel is used outside the thread of
 *	its instance, and if so reports {MULTIPLEXER THREAD}: as the result
 *	of interp when asked (option procedures), else in the error bypass
 *	of interp (close) or of the channel (output, where puts and flush
 *	find it), with *errorCodePtr set to EPERM.
 *	ChanSetBypassError leaves such a message, with the error code
 *	{MULTIPLEXER code}, in the bypass of interp, or of the channel when
 *	interp is NULL, for Tcl to report in place of a POSIX error.
 *
 * Results:
 *	ChanForeign: 1 if foreign, 0 if not.
 *
 * Side effects:
 *	Sets an error as said.
 *
 *----------------------------------------------------------------------
 */

static void
ChanSetBypassError(
    ChanData *cd,
    Tcl_Interp *interp,
    const char *code,
    Tcl_Obj *msgObj)
{
    Tcl_Obj *listObj = Tcl_NewListObj(0, NULL);
    Tcl_Obj *codeObj = Tcl_NewListObj(0, NULL);

    Tcl_ListObjAppendElement(NULL, codeObj,
	    Tcl_NewStringObj("MULTIPLEXER", -1));
    Tcl_ListObjAppendElement(NULL, codeObj, Tcl_NewStringObj(code, -1));
    Tcl_ListObjAppendElement(NULL, listObj, Tcl_NewStringObj("-code", -1));
    Tcl_ListObjAppendElement(NULL, listObj, Tcl_NewIntObj(TCL_ERROR));
    Tcl_ListObjAppendElement(NULL, listObj,
	    Tcl_NewStringObj("-errorcode", -1));
    Tcl_ListObjAppendElement(NULL, listObj, codeObj);
    Tcl_ListObjAppendElement(NULL, listObj, msgObj);
    if (interp != NULL) {
	Tcl_SetChannelErrorInterp(interp, listObj);
    } else {
	Tcl_SetChannelError(cd->chan, listObj);
    }
}

static int
ChanForeign(
    ChanData *cd,
    Tcl_Interp *interp,
    int asResult,
    int *errorCodePtr)
{
    Tcl_Obj *msgObj;

    if (cd->owner == Tcl_GetCurrentThread()) {
	return 0;
    }
    msgObj = Tcl_ObjPrintf("channel \"%s\" belongs to the thread of its "
	    "multiplexer instance and cannot be used from another thread",
	    Tcl_GetChannelName(cd->chan));
    if (asResult) {
	if (interp != NULL) {
	    Tcl_SetObjResult(interp, msgObj);
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "THREAD", NULL);
	} else {
	    Tcl_DecrRefCount(msgObj);
	}
    } else {
	ChanSetBypassError(cd, interp, "THREAD", msgObj);
    }
    if (errorCodePtr != NULL) {
	*errorCodePtr = EPERM;
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * ChanClose2, ChanCloseNotice, ChanHalfClose --
 *
 *	close $chan: disconnects the client (exit filters run once, reason
 *	"closed"), or stops the listener. Tcl_Close runs the channel's close
 *	handlers (ChanCloseNotice) and then asks for a read-side close before
 *	the full one; that first step does nothing.
 *
 *	close $chan write ends the client's output: the client is closed as
 *	by close $chan (its queue is delivered, then end-of-file, and its
 *	further input is read and discarded by the linger), and the channel
 *	keeps its read side until closed. The core has no state for a client
 *	that goes on being served with its sending side shut, so its later
 *	messages do not reach filters. (Refusing is no option: Tcl 8.6 marks
 *	the write side closed even when the driver fails, and then calls the
 *	driver's close again after every later write.)
 *
 *	close $chan read is refused with {MULTIPLEXER HALFCLOSE}
 *	(ChanHalfClose): whoever reads the client (the package, or a script
 *	that took its input: ChanInput) goes on reading it; the channel
 *	stays as it was.
 *
 *	In a thread other than the instance's, the channel is released
 *	without touching the client (which stays connected) and the close
 *	reports {MULTIPLEXER THREAD}.
 *
 * Results:
 *	0, or EINVAL / EPERM with a message in an error bypass.
 *
 * Side effects:
 *	Closes the client or listener; frees the channel data.
 *
 *----------------------------------------------------------------------
 */

static void
ChanCloseNotice(
    ClientData clientData)
{
    ((ChanData *) clientData)->closing = 1;
}

static int
ChanHalfClose(
    ChanData *cd,
    Tcl_Interp *interp,
    int flags)
{
    int err;
    Tcl_Obj *msgObj;

    /*
     * Tcl gives no interpreter for a write-side close, and drops a message
     * left in the channel's own bypass. The instance's interpreter, where
     * the channel is registered, is where such a close is made; its bypass
     * carries the message to the close command.
     */

    if (interp == NULL && cd->owner == Tcl_GetCurrentThread()) {
	Tcl_Interp *mpInterp = NULL;

	if (cd->client != NULL) {
	    mpInterp = cd->client->mp->interp;
	} else if (cd->listener != NULL) {
	    mpInterp = cd->listener->mp->interp;
	}
	if (mpInterp != NULL && !Tcl_InterpDeleted(mpInterp)
		&& Tcl_IsChannelRegistered(mpInterp, cd->chan)) {
	    interp = mpInterp;
	}
    }
    if (ChanForeign(cd, interp, 0, &err)) {
	return err;
    }
    (void) flags;
    msgObj = Tcl_ObjPrintf("cannot close the read side of channel \"%s\": "
	    "a client's input is read whole, by the multiplexer or by the "
	    "script (close the channel, or its write side, to disconnect "
	    "the client)",
	    Tcl_GetChannelName(cd->chan));
    ChanSetBypassError(cd, interp, "HALFCLOSE", msgObj);
    return EINVAL;
}

static int
ChanClose2(
    ClientData instanceData,
    Tcl_Interp *interp,
    int flags)
{
    ChanData *cd = (ChanData *) instanceData;
    int err;

    if (flags & TCL_CLOSE_READ) {
	if (cd->closing) {
	    return 0;		/* Tcl_Close's first step: nothing to do. */
	}
	return ChanHalfClose(cd, interp, flags);
    }
    if (ChanForeign(cd, interp, 0, &err)) {
	if (!(flags & TCL_CLOSE_WRITE)) {
	    ChanFree(cd);	/* The client is not touched. */
	}
	return err;
    }
    if (flags & TCL_CLOSE_WRITE) {
	/*
	 * A half-close: the client is sent nothing more and reads end of
	 * file once what is queued has gone; it stays a member, and what
	 * it sends goes on through the filters. The channel keeps its read
	 * side (whose reads fail as always) until it is closed, which
	 * disconnects the client as close $chan does.
	 */

	if (cd->client != NULL) {
	    MpClientShutSend(cd->client);
	}
	return 0;
    }
    if (cd->client != NULL) {
	MpClient *c = cd->client;

	cd->client = NULL;
	c->chan = NULL;
	MpClientClose(c, MP_REASON_CLOSED, NULL);
    }
    if (cd->listener != NULL) {
	MpListener *l = cd->listener;

	cd->listener = NULL;
	l->chan = NULL;
	MpListenerClose(l);
    }
    ChanFree(cd);
    return 0;
}

static void
ChanFree(
    ChanData *cd)
{
    if (cd->timer != NULL) {
	Tcl_DeleteTimerHandler(cd->timer);
    }
    MpFree(cd);
}

/*
 *----------------------------------------------------------------------
 *
 * ChanInput --
 *
 *	read, gets or chan copy from a client channel: the first read hands
 *	the client's input to the script (MpClientTakeInput: its data no
 *	longer goes to filters, and its end of file is the script's to see).
 *	Bytes the package had received but not yet cut into a message come
 *	first. A non-blocking channel (the default) reads what is waiting;
 *	a blocking one waits for input as a Tcl socket would, without
 *	serving the event loop. A blocking read from inside the handling of
 *	the client's own input (its data filter) cannot wait, as what
 *	followed that message is still in the package's hands: it fails
 *	with {MULTIPLEXER BUSY}.
 *
 * Results:
 *	A byte count, 0 at end of file (also once the client is gone), or -1
 *	with *errorCodePtr set (EAGAIN when nothing is waiting; EPERM in a
 *	foreign thread).
 *
 * Side effects:
 *	Reads the socket; may block.
 *
 *----------------------------------------------------------------------
 */

static int
ChanInput(
    ClientData instanceData,
    char *buf,
    int toRead,
    int *errorCodePtr)
{
    ChanData *cd = (ChanData *) instanceData;
    MpClient *c;
    ptrdiff_t n;
    int err = 0;

    if (ChanForeign(cd, NULL, 0, errorCodePtr)) {
	cd->staleError = 1;
	return -1;
    }
    c = cd->client;
    if (c == NULL || toRead <= 0 || c->state == MP_CLIENT_CLOSING
	    || c->state == MP_CLIENT_DEAD) {
	return 0;
    }
    if (c->state == MP_CLIENT_CONNECTING) {
	*errorCodePtr = cd->blocking ? ENOTCONN : EAGAIN;
	return -1;
    }
    if (!mpCodecs[c->codec]->channelReadable) {
	/* Its input is frames: each message goes to the data filters. */
	cd->staleError = 1;
	ChanSetBypassError(cd, NULL, "WEBSOCKET", Tcl_ObjPrintf(
		"client channel \"%s\" is a WebSocket client: its messages "
		"go to the data filters and cannot be read from the channel",
		Tcl_GetChannelName(cd->chan)));
	*errorCodePtr = EINVAL;
	return -1;
    }
    if (!c->scriptInput) {
	MpClientTakeInput(c, (cd->interest & TCL_READABLE) != 0);
    }
    cd->inputReady = 0;
    if (c->reading) {
	/* Inside its own data filter: the rest of the read is not kept yet. */
	if (!cd->blocking) {
	    *errorCodePtr = EAGAIN;
	    return -1;
	}
	cd->staleError = 1;
	ChanSetBypassError(cd, NULL, "BUSY", Tcl_ObjPrintf(
		"client channel \"%s\" cannot wait for input inside the "
		"handling of its own input (a data filter); read it "
		"non-blocking, or from another event",
		Tcl_GetChannelName(cd->chan)));
	*errorCodePtr = EBUSY;
	return -1;
    }
    n = MpClientReadScript(c, buf, (size_t) toRead, cd->blocking, &err);
    if (n == MP_IO_AGAIN) {
	*errorCodePtr = EAGAIN;
	return -1;
    }
    if (n == MP_IO_ERROR) {
	*errorCodePtr = MpSockPosixError(err);
	return -1;
    }
    return (int) n;
}

/*
 *----------------------------------------------------------------------
 *
 * ChanOutput --
 *
 *	puts $chan: appends the bytes to the client's queue, after anything
 *	already queued, and never blocks. A full queue is an error (ENOBUFS);
 *	under "overflow disconnect" the client is also disconnected (at the
 *	end of the event being served or when the event loop is next idle);
 *	a closed client gives EPIPE. Outside events the bytes are written at
 *	once. In a thread other than the instance's it fails with
 *	{MULTIPLEXER THREAD} and touches nothing.
 *
 * Results:
 *	toWrite, or -1 with *errorCodePtr set.
 *
 * Side effects:
 *	Queues output and schedules its writing.
 *
 *----------------------------------------------------------------------
 */

static int
ChanOutput(
    ClientData instanceData,
    const char *buf,
    int toWrite,
    int *errorCodePtr)
{
    ChanData *cd = (ChanData *) instanceData;
    MpClient *c;
    MpLoop *loop;
    int rc, continued, err = 0;

    if (cd->staleError) {
	Tcl_Obj *staleObj = NULL;

	/* Left by ChanInput and not taken by the command that read. */
	cd->staleError = 0;
	Tcl_GetChannelError(cd->chan, &staleObj);
	if (staleObj != NULL) {
	    Tcl_DecrRefCount(staleObj);
	}
    }
    if (ChanForeign(cd, NULL, 0, errorCodePtr)) {
	return -1;
    }
    c = cd->client;
    if (c == NULL || toWrite < 0) {
	*errorCodePtr = EPIPE;
	return -1;
    }
    loop = c->mp->loop;
    if (cd->blocking && c->state != MP_CLIENT_CONNECTING) {
	/*
	 * Written through, waiting for the socket (MpClientWriteWait). A
	 * link still connecting has no socket to wait on: its bytes are
	 * queued as in non-blocking mode.
	 */

	if (MpClientWriteWait(c, buf, (size_t) toWrite, &err) != 0) {
	    *errorCodePtr = MpSockPosixError(err);
	    return -1;
	}
	return toWrite;
    }

    /*
     * Tcl hands a long puts over in pieces of the channel's buffer size,
     * each a full buffer but the last, with no return to the event loop
     * in between. A piece that follows a full one in the same loop epoch
     * continues the same write and is not refused for maxqueue (up to a
     * hard limit), so a puts is queued whole or, if refused at its
     * start, not at all.
     */

    continued = (c->writeEpoch != 0 && c->writeEpoch == loop->epoch);
    rc = MpEnqueueBytes(c, buf, (size_t) toWrite, continued);
    if (rc == 0 && toWrite >= Tcl_GetChannelBufferSize(cd->chan)) {
	c->writeEpoch = loop->epoch;
    }

    /*
     * No Tcl code may run here (a disconnect runs exit filters, which may
     * close this very channel). Outside an event the bytes are written at
     * once; the rest of the work (a disconnect decided while queueing,
     * what the socket did not take) is done at the end of the event being
     * served or when the event loop is next idle.
     */

    if (rc == 0 && loop->dispatchDepth == 0) {
	MpClientWriteNow(c);
    }
    MpLoopFlushSoon(loop);
    if (rc == -2) {
	*errorCodePtr = EPIPE;
	return -1;
    }
    if (rc == -1) {
	*errorCodePtr = ENOBUFS;
	return -1;
    }
    return toWrite;
}

/*
 *----------------------------------------------------------------------
 *
 * ChanGetOption --
 *
 *	-peername and -sockname, as Tcl's sockets give them ({address host
 *	port}; host is the numeric address: no reverse lookup is made), and
 *	-queued, the bytes waiting in the client's output queue. In a thread
 *	other than the instance's every option fails ({MULTIPLEXER THREAD}).
 *
 * Results:
 *	TCL_OK, or TCL_ERROR for an unknown option or a foreign thread.
 *
 * Side effects:
 *	Appends to dsPtr.
 *
 *----------------------------------------------------------------------
 */

static void
AppendAddr(
    Tcl_DString *dsPtr,
    const MpAddr *a)
{
    char port[16];

    snprintf(port, sizeof(port), "%d", a->port);
    Tcl_DStringAppendElement(dsPtr, a->host);
    Tcl_DStringAppendElement(dsPtr, a->host);
    Tcl_DStringAppendElement(dsPtr, port);
}

static int
ChanGetOption(
    ClientData instanceData,
    Tcl_Interp *interp,
    const char *optionName,
    Tcl_DString *dsPtr)
{
    ChanData *cd = (ChanData *) instanceData;
    MpClient *c;
    MpListener *l;
    MpAddr local;
    int all = (optionName == NULL || optionName[0] == '\0');
    const char *valid;

    if (ChanForeign(cd, interp, 1, NULL)) {
	errno = EPERM;
	return TCL_ERROR;
    }
    c = cd->client;
    l = cd->listener;
    valid = (l != NULL) ? "sockname" : "peername sockname queued";
    if (c == NULL && l == NULL) {
	if (all) {
	    return TCL_OK;
	}
	if (interp != NULL) {
	    Tcl_SetObjResult(interp, Tcl_ObjPrintf(
		    "channel \"%s\" is no longer connected",
		    Tcl_GetChannelName(cd->chan)));
	    Tcl_SetErrorCode(interp, "MULTIPLEXER", "CLOSED", NULL);
	}
	errno = ENOTCONN;
	return TCL_ERROR;
    }
    if (c != NULL && (all || strcmp(optionName, "-peername") == 0)) {
	if (all) {
	    Tcl_DStringAppendElement(dsPtr, "-peername");
	    Tcl_DStringStartSublist(dsPtr);
	}
	AppendAddr(dsPtr, &c->peer);
	if (all) {
	    Tcl_DStringEndSublist(dsPtr);
	} else {
	    return TCL_OK;
	}
    }
    if (all || strcmp(optionName, "-sockname") == 0) {
	if (l != NULL) {
	    local = l->local;
	} else if (MpSockLocalAddr(c->conn.watch.fd, &local) != 0) {
	    memset(&local, 0, sizeof(local));
	}
	if (all) {
	    Tcl_DStringAppendElement(dsPtr, "-sockname");
	    Tcl_DStringStartSublist(dsPtr);
	}
	AppendAddr(dsPtr, &local);
	if (all) {
	    Tcl_DStringEndSublist(dsPtr);
	} else {
	    return TCL_OK;
	}
    }
    if (c != NULL && (all || strcmp(optionName, "-queued") == 0)) {
	char num[32];

	snprintf(num, sizeof(num), "%lu", (unsigned long) c->out.bytes);
	if (all) {
	    Tcl_DStringAppendElement(dsPtr, "-queued");
	}
	Tcl_DStringAppendElement(dsPtr, num);
	return TCL_OK;
    }
    if (all) {
	return TCL_OK;
    }
    return Tcl_BadChannelOption(interp, optionName, valid);
}

/*
 *----------------------------------------------------------------------
 *
 * ChanWatch, ChanNotifyProc, MpChannelInputReady, ChanGetHandle,
 * ChanBlockMode --
 *
 *	No OS handle is given to Tcl (so its notifier never sees the socket).
 *	The channel is always writable (a write is queued at once), so
 *	interest in writing is reported by a zero-delay timer, again for as
 *	long as it lasts, like a file's. Interest in reading (a readable
 *	fileevent, a background chan copy from the channel) hands the
 *	client's input to the script (MpClientTakeInput) and is reported
 *	when the package's poller finds input (MpChannelInputReady, called
 *	by the core, which stops watching until Tcl asks again) or at once
 *	while bytes the package kept are waiting, end of file was read, or
 *	the client is gone. The notification is a timer event of its own,
 *	so the core never runs Tcl code.
 *
 *	Both blocking modes are honoured: a blocking channel's reads wait
 *	for input and its writes for the socket (ChanInput, ChanOutput), as
 *	a blocking Tcl socket's would; Tcl's synchronous chan copy makes its
 *	channels blocking for the copy.
 *
 * Results:
 *	None / none / none / TCL_ERROR / 0.
 *
 * Side effects:
 *	ChanWatch arms or cancels the timer and sets the client's read
 *	interest; ChanNotifyProc runs channel handlers.
 *
 *----------------------------------------------------------------------
 */

static int
ChanReadableNow(
    ChanData *cd)
{
    MpClient *c = cd->client;

    if (c == NULL || c->state != MP_CLIENT_OPEN) {
	return c == NULL || c->state != MP_CLIENT_CONNECTING;
    }
    return cd->inputReady || c->in.len > 0 || c->inputEnded;
}

static void
ChanArm(
    ChanData *cd)
{
    int now = (cd->interest & TCL_WRITABLE)
	    || ((cd->interest & TCL_READABLE) && ChanReadableNow(cd));

    if (now && cd->timer == NULL) {
	cd->timer = Tcl_CreateTimerHandler(0, ChanNotifyProc, cd);
    } else if (!now && cd->timer != NULL) {
	Tcl_DeleteTimerHandler(cd->timer);
	cd->timer = NULL;
    }
}

static void
ChanWatch(
    ClientData instanceData,
    int mask)
{
    ChanData *cd = (ChanData *) instanceData;
    MpClient *c = cd->client;

    cd->interest = mask & (TCL_READABLE | TCL_WRITABLE);
    if (c != NULL && cd->owner == Tcl_GetCurrentThread()
	    && c->state <= MP_CLIENT_OPEN
	    && mpCodecs[c->codec]->channelReadable
	    && ((cd->interest & TCL_READABLE) || c->scriptInput)) {
	MpClientTakeInput(c, (cd->interest & TCL_READABLE) != 0);
    }
    ChanArm(cd);
}

static void
ChanNotifyProc(
    ClientData clientData)
{
    ChanData *cd = (ChanData *) clientData;
    int mask = cd->interest & TCL_WRITABLE;

    /*
     * The handlers may close the channel (freeing cd); Tcl then asks
     * ChanWatch again for what is still wanted, which arms a new timer
     * or gives the poller the read interest back.
     */

    cd->timer = NULL;
    if ((cd->interest & TCL_READABLE) && ChanReadableNow(cd)) {
	mask |= TCL_READABLE;
    }
    cd->inputReady = 0;
    if (mask) {
	Tcl_NotifyChannel(cd->chan, mask);
    }
}

void
MpChannelInputReady(
    MpClient *c)
{
    ChanData *cd;

    if (c->chan == NULL) {
	return;
    }
    cd = (ChanData *) Tcl_GetChannelInstanceData(c->chan);
    if (cd->client != c) {
	return;			/* Out of its thread. */
    }
    cd->inputReady = 1;
    ChanArm(cd);
}

static int
ChanGetHandle(
    ClientData instanceData,
    int direction,
    ClientData *handlePtr)
{
    (void) instanceData;
    (void) direction;
    (void) handlePtr;
    return TCL_ERROR;
}

static int
ChanBlockMode(
    ClientData instanceData,
    int mode)
{
    ((ChanData *) instanceData)->blocking = (mode == TCL_MODE_BLOCKING);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpLookupClient --
 *
 *	Finds the client of this instance behind a channel name, by the
 *	name alone (the thread's name table), whichever interpreter holds
 *	the channel now, and also while the channel is in another thread or
 *	already closed (a client in its exit filters after close $chan).
 *
 * Results:
 *	The client, or NULL with an error {MULTIPLEXER LOOKUP CLIENT name}
 *	in interp (when interp is not NULL).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

MpClient *
MpLookupClient(
    Tcl_Interp *interp,
    MpInstance *mp,
    Tcl_Obj *nameObj)
{
    const char *name = Tcl_GetString(nameObj);
    ChanTables *tPtr = GetTables(0);
    MpClient *c = NULL;

    if (tPtr != NULL) {
	Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&tPtr->clients, name);

	if (hPtr != NULL) {
	    c = (MpClient *) Tcl_GetHashValue(hPtr);
	}
    }
    if (c == NULL) {
	/* A client in its exit filters after close $chan has no channel. */
	for (c = mp->exiting; c != NULL; c = c->exitingNext) {
	    if (c->nameObj && strcmp(Tcl_GetString(c->nameObj), name) == 0) {
		break;
	    }
	}
    }
    if (c == NULL || c->mp != mp || c->state >= MP_CLIENT_DEAD) {
	if (interp != NULL) {
	    Tcl_ResetResult(interp);
	    MpError(interp, "LOOKUP", "CLIENT",
		    "no client \"%s\" in %s", name,
		    Tcl_GetString(mp->nameObj));
	}
	return NULL;
    }
    return c;
}
