/*
 * mpAccess.c --
 *
 *	Address-based admission, checked in C before any access filter:
 *	allow/deny prefix lists and the per-address connection count.
 *
 *	Precedence: a peer matching the deny list is refused; otherwise, when
 *	the allow list is not empty, a peer must match it; otherwise it is
 *	admitted. IPv4 peers reached through a dual-stack listener are
 *	matched as IPv4.
 */

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include "mpInt.h"

/*
 *----------------------------------------------------------------------
 *
 * ParseCidr --
 *
 *	Parses "addr" or "addr/bits" (IPv4 or IPv6, numeric). An
 *	IPv4-mapped entry (::ffff:a.b.c.d/bits, bits 96..128) becomes the
 *	equivalent IPv4 prefix.
 *
 * Results:
 *	0 on success, -1 if malformed.
 *
 * Side effects:
 *	Fills *cidr.
 *
 *----------------------------------------------------------------------
 */

static int
ParseCidr(
    const char *text,
    MpCidr *cidr)
{
    char host[MP_ADDRSTRLEN];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t) (slash - text) : strlen(text);
    MpAddr addr;
    int maxBits, mapped;

    if (hlen == 0 || hlen >= sizeof(host)) {
	return -1;
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (MpSockParseAddr(host, &addr) != 0) {
	return -1;
    }
    /*
     * An IPv4-mapped IPv6 literal (::ffff:a.b.c.d) parses as IPv4; its
     * prefix length counts the 96 bits of the ::ffff:0:0/96 prefix too.
     * Shorter prefixes would also cover native IPv6 space, which IPv4
     * peers are never matched against, so they are refused.
     */

    mapped = (addr.family == 4 && strchr(host, ':') != NULL);
    maxBits = (addr.family == 4) ? 32 : 128;
    cidr->family = addr.family;
    memcpy(cidr->raw, addr.raw, sizeof(cidr->raw));
    cidr->bits = maxBits;
    if (slash != NULL) {
	char *end;
	long bits;

	/*
	 * One to three decimal digits, nothing else (strtol alone would
	 * take signs, blanks and huge values).
	 */

	if (!isdigit((unsigned char) slash[1]) || strlen(slash + 1) > 3) {
	    return -1;
	}
	bits = strtol(slash + 1, &end, 10);
	if (*end != '\0') {
	    return -1;
	}
	if (mapped) {
	    bits -= 96;
	}
	if (bits < 0 || bits > maxBits) {
	    return -1;
	}
	cidr->bits = (int) bits;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpCidrListSet --
 *
 *	Config allow/deny: replaces a list with a parsed Tcl list of
 *	prefixes. Nothing changes when an entry is malformed.
 *
 * Results:
 *	TCL_OK or TCL_ERROR naming the bad entry.
 *
 * Side effects:
 *	Replaces the list.
 *
 *----------------------------------------------------------------------
 */

int
MpCidrListSet(
    Tcl_Interp *interp,
    MpCidrList *list,
    Tcl_Obj *specObj)
{
    Tcl_Obj **elems;
    Tcl_Size n, i;
    MpCidr *items = NULL;

    if (Tcl_ListObjGetElements(interp, specObj, &n, &elems) != TCL_OK) {
	Tcl_SetErrorCode(interp, "MULTIPLEXER", "VALUE", "CIDR", NULL);
	return TCL_ERROR;
    }
    if (n > 0) {
	items = (MpCidr *) MpAlloc(sizeof(MpCidr) * (size_t) n);
    }
    for (i = 0; i < n; i++) {
	if (ParseCidr(Tcl_GetString(elems[i]), &items[i]) != 0) {
	    MpFree(items);
	    return MpError(interp, "VALUE", "CIDR",
		    "expected an address or address/prefix-length but got "
		    "\"%s\"", Tcl_GetString(elems[i]));
	}
    }
    MpCidrListFree(list);
    list->items = items;
    list->count = (int) n;
    list->specObj = specObj;
    Tcl_IncrRefCount(specObj);
    return TCL_OK;
}

/*
 *----------------------------------------------------------------------
 *
 * MpCidrListFree --
 *
 *	Empties a prefix list.
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
MpCidrListFree(
    MpCidrList *list)
{
    if (list->items != NULL) {
	MpFree(list->items);
    }
    if (list->specObj != NULL) {
	Tcl_DecrRefCount(list->specObj);
    }
    list->items = NULL;
    list->specObj = NULL;
    list->count = 0;
}

/*
 *----------------------------------------------------------------------
 *
 * Matches --
 *
 *	Whether an address falls in any prefix of a list.
 *
 * Results:
 *	1 or 0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
Matches(
    const MpCidrList *list,
    const MpAddr *a)
{
    int i;

    for (i = 0; i < list->count; i++) {
	const MpCidr *cidr = &list->items[i];
	int full, rest;

	if (cidr->family != a->family) {
	    continue;
	}
	full = cidr->bits / 8;
	rest = cidr->bits % 8;
	if (memcmp(cidr->raw, a->raw, (size_t) full) != 0) {
	    continue;
	}
	if (rest != 0) {
	    unsigned char mask = (unsigned char) (0xFF << (8 - rest));

	    if ((cidr->raw[full] & mask) != (a->raw[full] & mask)) {
		continue;
	    }
	}
	return 1;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpAccessAllowed --
 *
 *	Applies the deny and allow lists to a peer.
 *
 * Results:
 *	1 if admitted, 0 if refused.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpAccessAllowed(
    MpInstance *mp,
    const MpAddr *peer)
{
    if (Matches(&mp->config.deny, peer)) {
	return 0;
    }
    if (mp->config.allow.count > 0 && !Matches(&mp->config.allow, peer)) {
	return 0;
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpPeerCountAdjust --
 *
 *	Counts the instance's clients per peer address.
 *
 * Results:
 *	The count after adding delta.
 *
 * Side effects:
 *	Updates (and prunes) the table.
 *
 *----------------------------------------------------------------------
 */

int
MpPeerCountAdjust(
    MpInstance *mp,
    MpClient *c,
    int delta)
{
    Tcl_HashEntry *hPtr;
    int isNew, count;

    if (delta == 0) {
	hPtr = Tcl_FindHashEntry(&mp->peerCounts, c->peer.host);
	return hPtr ? (int) (size_t) Tcl_GetHashValue(hPtr) : 0;
    }
    hPtr = Tcl_CreateHashEntry(&mp->peerCounts, c->peer.host, &isNew);
    count = (isNew ? 0 : (int) (size_t) Tcl_GetHashValue(hPtr)) + delta;
    if (count <= 0) {
	Tcl_DeleteHashEntry(hPtr);
	return 0;
    }
    Tcl_SetHashValue(hPtr, (void *) (size_t) count);
    return count;
}
