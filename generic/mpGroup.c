/*
 * mpGroup.c --
 *
 *	Groups (rooms): named sets of clients of one instance. A broadcast to
 *	a group visits its members only.
 */

#include "mpInt.h"

/*
 *----------------------------------------------------------------------
 *
 * MpGroupFind --
 *
 *	Looks a group up by name.
 *
 * Results:
 *	The group or NULL.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

MpGroup *
MpGroupFind(
    MpInstance *mp,
    const char *name)
{
    Tcl_HashEntry *hPtr = Tcl_FindHashEntry(&mp->groups, name);

    return hPtr ? (MpGroup *) Tcl_GetHashValue(hPtr) : NULL;
}

/*
 *----------------------------------------------------------------------
 *
 * MpGroupJoin --
 *
 *	Adds a client to a group, creating the group.
 *
 * Results:
 *	1 if it joined, 0 if it was a member already.
 *
 * Side effects:
 *	May create the group.
 *
 *----------------------------------------------------------------------
 */

int
MpGroupJoin(
    MpInstance *mp,
    MpClient *c,
    const char *name)
{
    Tcl_HashEntry *hPtr, *mPtr;
    MpGroup *g;
    int isNew;

    hPtr = Tcl_CreateHashEntry(&mp->groups, name, &isNew);
    if (isNew) {
	g = (MpGroup *) MpAlloc(sizeof(MpGroup));
	g->hPtr = hPtr;
	Tcl_InitHashTable(&g->members, TCL_ONE_WORD_KEYS);
	Tcl_SetHashValue(hPtr, g);
    } else {
	g = (MpGroup *) Tcl_GetHashValue(hPtr);
    }
    mPtr = Tcl_CreateHashEntry(&g->members, (char *) c, &isNew);
    (void) mPtr;
    if (isNew) {
	if (c->groupCount == c->groupCap) {
	    c->groupCap = c->groupCap ? 2 * c->groupCap : 4;
	    c->groups = (MpGroup **) MpRealloc(c->groups,
		    sizeof(MpGroup *) * (size_t) c->groupCap);
	}
	c->groups[c->groupCount++] = g;
    }
    return isNew;
}

/*
 *----------------------------------------------------------------------
 *
 * FreeGroup --
 *
 *	Deletes an (empty or abandoned) group.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees the group.
 *
 *----------------------------------------------------------------------
 */

static void
FreeGroup(
    MpGroup *g)
{
    Tcl_DeleteHashEntry(g->hPtr);
    Tcl_DeleteHashTable(&g->members);
    MpFree(g);
}

/*
 *----------------------------------------------------------------------
 *
 * ForgetGroup --
 *
 *	Removes a group from a client's own list of its groups (the order of
 *	the list does not matter).
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Shrinks c->groups by one.
 *
 *----------------------------------------------------------------------
 */

static void
ForgetGroup(
    MpClient *c,
    MpGroup *g)
{
    int i;

    for (i = 0; i < c->groupCount; i++) {
	if (c->groups[i] == g) {
	    c->groups[i] = c->groups[--c->groupCount];
	    return;
	}
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpGroupLeave --
 *
 *	Removes a client from a group; an emptied group is deleted.
 *
 * Results:
 *	1 if it was a member, 0 if not.
 *
 * Side effects:
 *	May delete the group.
 *
 *----------------------------------------------------------------------
 */

int
MpGroupLeave(
    MpInstance *mp,
    MpClient *c,
    const char *name)
{
    MpGroup *g = MpGroupFind(mp, name);
    Tcl_HashEntry *mPtr;

    if (g == NULL) {
	return 0;
    }
    mPtr = Tcl_FindHashEntry(&g->members, (char *) c);
    if (mPtr == NULL) {
	return 0;
    }
    Tcl_DeleteHashEntry(mPtr);
    ForgetGroup(c, g);
    if (g->members.numEntries == 0) {
	FreeGroup(g);
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpGroupLeaveAll --
 *
 *	Removes a departing client from every group it is in.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	May delete emptied groups.
 *
 *----------------------------------------------------------------------
 */

void
MpGroupLeaveAll(
    MpInstance *mp,
    MpClient *c)
{
    (void) mp;
    while (c->groupCount > 0) {
	MpGroup *g = c->groups[c->groupCount - 1];
	Tcl_HashEntry *mPtr = Tcl_FindHashEntry(&g->members, (char *) c);

	if (mPtr != NULL) {
	    Tcl_DeleteHashEntry(mPtr);
	}
	c->groupCount--;
	if (g->members.numEntries == 0) {
	    FreeGroup(g);
	}
    }
    if (c->groups != NULL) {
	MpFree(c->groups);
	c->groups = NULL;
    }
    c->groupCap = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpGroupFreeAll --
 *
 *	Deletes every group of an instance.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Frees memory.
 *
 *----------------------------------------------------------------------
 */

void
MpGroupFreeAll(
    MpInstance *mp)
{
    Tcl_HashSearch search;
    Tcl_HashEntry *hPtr;

    while ((hPtr = Tcl_FirstHashEntry(&mp->groups, &search)) != NULL) {
	MpGroup *g = (MpGroup *) Tcl_GetHashValue(hPtr);
	Tcl_HashSearch msearch;
	Tcl_HashEntry *mPtr;

	/*
	 * A member still listed here is a client in its exit filters
	 * (destroy called from one of them): it forgets the group too.
	 */

	for (mPtr = Tcl_FirstHashEntry(&g->members, &msearch); mPtr != NULL;
		mPtr = Tcl_NextHashEntry(&msearch)) {
	    ForgetGroup((MpClient *) Tcl_GetHashKey(&g->members, mPtr), g);
	}
	FreeGroup(g);
    }
}
