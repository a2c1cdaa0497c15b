/*
 * mpInstance.c --
 *
 *	Life cycle of an instance: the C struct that owns a listener, clients,
 *	filters and configuration, and the ::multiplexer::mpN namespace that
 *	is its thin Tcl view. Deleting the namespace (destroy, namespace
 *	delete, interpreter deletion) is the one way an instance ends.
 */

#include "mpInt.h"

static void		UnlinkFromLoop(MpInstance *mp);

#define MP_REGISTRY_KEY "multiplexer::registry"

/*
 * Per-interpreter registry: numbers instances mp0, mp1, ...
 */

typedef struct Registry {
    int counter;
} Registry;

static void		RegistryDelete(ClientData clientData,
			    Tcl_Interp *interp);
static void		NamespaceDeleted(ClientData clientData);

/*
 *----------------------------------------------------------------------
 *
 * GetRegistry --
 *
 *	Finds or makes the interpreter's registry.
 *
 * Results:
 *	The registry.
 *
 * Side effects:
 *	May create AssocData.
 *
 *----------------------------------------------------------------------
 */

static Registry *
GetRegistry(
    Tcl_Interp *interp)
{
    Registry *reg = (Registry *)
	    Tcl_GetAssocData(interp, MP_REGISTRY_KEY, NULL);

    if (reg == NULL) {
	reg = (Registry *) MpAlloc(sizeof(Registry));
	reg->counter = 0;
	Tcl_SetAssocData(interp, MP_REGISTRY_KEY, RegistryDelete, reg);
    }
    return reg;
}

static void
RegistryDelete(
    ClientData clientData,
    Tcl_Interp *interp)
{
    (void) interp;
    MpFree(clientData);
}

/*
 *----------------------------------------------------------------------
 *
 * MpInstanceCreate --
 *
 *	Makes a new instance and its namespace ::multiplexer::mpN, N being
 *	the next free number of this interpreter.
 *
 * Results:
 *	TCL_OK with the namespace name in *nameObjPtr (one reference owned by
 *	the instance; callers only borrow it), or TCL_ERROR.
 *
 * Side effects:
 *	Creates the namespace, its commands and a logger service.
 *
 *----------------------------------------------------------------------
 */

int
MpInstanceCreate(
    Tcl_Interp *interp,
    Tcl_Obj **nameObjPtr)
{
    Registry *reg = GetRegistry(interp);
    MpInstance *mp;
    Tcl_Obj *nameObj;
    MpLoop *loop;
    int i;

    loop = MpLoopAcquire(interp);
    if (loop == NULL) {
	return TCL_ERROR;
    }
    for (;;) {
	nameObj = Tcl_ObjPrintf("::multiplexer::mp%d", reg->counter++);
	if (Tcl_FindNamespace(interp, Tcl_GetString(nameObj), NULL, 0)
		== NULL) {
	    break;
	}
	Tcl_DecrRefCount(nameObj);
    }
    Tcl_IncrRefCount(nameObj);

    mp = (MpInstance *) MpAlloc(sizeof(MpInstance));
    memset(mp, 0, sizeof(MpInstance));
    mp->interp = interp;
    mp->nameObj = nameObj;
    mp->refCount = 1;		/* Held by the namespace. */
    mp->loop = loop;
    mp->loopNext = loop->instances;
    if (mp->loopNext != NULL) {
	mp->loopNext->loopPrev = mp;
    }
    loop->instances = mp;
    Tcl_InitHashTable(&mp->peerCounts, TCL_STRING_KEYS);
    Tcl_InitHashTable(&mp->groups, TCL_STRING_KEYS);
    for (i = 0; i < MP_FILTER_KINDS; i++) {
	mp->filters[i].items = NULL;
    }
    MpConfigInit(&mp->config);

    mp->nsPtr = Tcl_CreateNamespace(interp, Tcl_GetString(nameObj), mp,
	    NamespaceDeleted);
    if (mp->nsPtr == NULL) {
	mp->destroyed = 1;
	MpInstanceUnref(mp);
	return TCL_ERROR;
    }
    MpCmdRegister(mp);
    if (MpLogInit(mp) != TCL_OK) {
	Tcl_Obj *errObj = Tcl_GetObjResult(interp);

	Tcl_IncrRefCount(errObj);
	Tcl_DeleteNamespace(mp->nsPtr);
	Tcl_SetObjResult(interp, errObj);
	Tcl_DecrRefCount(errObj);
	return TCL_ERROR;
    }
    *nameObjPtr = nameObj;
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpInstanceRef, MpInstanceUnref --
 *
 *	Keep an instance's memory alive across code that may run Tcl
 *	scripts (which may destroy it); the last unref frees it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May free the instance and release the thread's loop.
 *
 *----------------------------------------------------------------------
 */

void
MpInstanceRef(
    MpInstance *mp)
{
    mp->refCount++;
}

void
MpInstanceUnref(
    MpInstance *mp)
{
    if (--mp->refCount > 0) {
	return;
    }
    UnlinkFromLoop(mp);		/* Freed without a teardown (create
				 * failed). */
    MpLingerForget(mp);
    MpConfigFree(&mp->config);
    Tcl_DeleteHashTable(&mp->peerCounts);
    Tcl_DeleteHashTable(&mp->groups);
    Tcl_DecrRefCount(mp->nameObj);
    MpLoopRelease(mp->loop);
    MpFree(mp);
}

/*
 *----------------------------------------------------------------------
 *
 * UnlinkFromLoop --
 *
 *	Takes an instance off its loop's list of live instances, if it is
 *	on it.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Edits the list.
 *
 *----------------------------------------------------------------------
 */

static void
UnlinkFromLoop(
    MpInstance *mp)
{
    if (mp->loopPrev != NULL) {
	mp->loopPrev->loopNext = mp->loopNext;
    } else if (mp->loop->instances == mp) {
	mp->loop->instances = mp->loopNext;
    } else {
	return;			/* Not listed. */
    }
    if (mp->loopNext != NULL) {
	mp->loopNext->loopPrev = mp->loopPrev;
    }
    mp->loopPrev = mp->loopNext = NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpInstanceTeardown --
 *
 *	Ends an instance: stops listening (the port is free at once), closes
 *	every client (exit filters run with reason "destroy" unless the
 *	interpreter is being deleted), drops filters and the logger service.
 *	Safe to call more than once; commands of a torn-down instance fail.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Closes sockets, runs exit filters.
 *
 *----------------------------------------------------------------------
 */

void
MpInstanceTeardown(
    MpInstance *mp)
{
    int i;

    if (mp->destroyed) {
	return;
    }
    mp->destroyed = 1;
    MpInstanceRef(mp);
    UnlinkFromLoop(mp);
    MpClusterLeave(mp);
    MpMulticastLeave(mp);
    MpListenerCloseAll(mp);
    if (mp->idleTimer != NULL) {
	Tcl_DeleteTimerHandler(mp->idleTimer);
	mp->idleTimer = NULL;
    }
    if (mp->pingTimer != NULL) {
	Tcl_DeleteTimerHandler(mp->pingTimer);
	mp->pingTimer = NULL;
    }
    while (mp->first != NULL) {
	MpClientClose(mp->first, MP_REASON_DESTROY, NULL);
    }
    MpGroupFreeAll(mp);
    for (i = 0; i < MP_FILTER_KINDS; i++) {
	MpFilterListFree(&mp->filters[i]);
    }
    if (mp->errorCallback != NULL) {
	Tcl_DecrRefCount(mp->errorCallback);
	mp->errorCallback = NULL;
    }
    MpLogFree(mp);
    MpInstanceUnref(mp);
}

/*
 *----------------------------------------------------------------------
 *
 * NamespaceDeleted --
 *
 *	The namespace's delete callback: tears the instance down and drops
 *	the namespace's reference.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	See MpInstanceTeardown.
 *
 *----------------------------------------------------------------------
 */

static void
NamespaceDeleted(
    ClientData clientData)
{
    MpInstance *mp = (MpInstance *) clientData;

    MpInstanceTeardown(mp);
    mp->nsPtr = NULL;
    MpInstanceUnref(mp);
}

/*
 *----------------------------------------------------------------------
 *
 * MpInstanceDestroy --
 *
 *	What ${mp}::destroy does: tears the instance down (exit filters run,
 *	clients linger) and deletes its namespace, whose commands then drop
 *	their references.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Runs exit filters; deletes the namespace; may free the instance
 *	(callers that use it afterwards hold a reference).
 *
 *----------------------------------------------------------------------
 */

void
MpInstanceDestroy(
    MpInstance *mp)
{
    MpInstanceRef(mp);
    MpInstanceTeardown(mp);
    if (!mp->nsDeleting && mp->nsPtr != NULL
	    && !Tcl_InterpDeleted(mp->interp)) {
	mp->nsDeleting = 1;
	Tcl_DeleteNamespace(mp->nsPtr);
    }
    MpInstanceUnref(mp);
}

/*
 *----------------------------------------------------------------------
 *
 * MpInstanceDestroyAll --
 *
 *	Destroys every live instance that uses a loop, whatever its
 *	interpreter (at process exit, see mpLoop.c).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	See MpInstanceDestroy, for each.
 *
 *----------------------------------------------------------------------
 */

void
MpInstanceDestroyAll(
    MpLoop *loop)
{
    /*
     * Teardown unlinks each instance, and an exit filter may destroy
     * others: always take the first one still listed.
     */

    while (loop->instances != NULL) {
	MpInstance *mp = loop->instances;
	Tcl_Interp *interp = mp->interp;

	Tcl_Preserve(interp);
	MpInstanceDestroy(mp);
	Tcl_Release(interp);
    }
}
