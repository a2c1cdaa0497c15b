/*
 * mpClusterMsg.c --
 *
 *	Writes and reads the envelope of a cluster message (layout in
 *	mpClusterMsg.h). The reader trusts nothing: every length is checked
 *	against what is left, so any bytes either parse into fields that lie
 *	inside them or are refused.
 */

#include <string.h>
#include "mpClusterMsg.h"

/*
 *----------------------------------------------------------------------
 *
 * Put64, Get64, Get16 --
 *
 *	Big-endian integers to and from bytes.
 *
 *----------------------------------------------------------------------
 */

static void
Put64(
    unsigned char *p,
    unsigned long long v)
{
    int i;

    for (i = 7; i >= 0; i--) {
	p[i] = (unsigned char) (v & 0xff);
	v >>= 8;
    }
}

static unsigned long long
Get64(
    const unsigned char *p)
{
    unsigned long long v = 0;
    int i;

    for (i = 0; i < 8; i++) {
	v = (v << 8) | p[i];
    }
    return v;
}

static unsigned
Get16(
    const unsigned char *p)
{
    return ((unsigned) p[0] << 8) | p[1];
}

/*
 *----------------------------------------------------------------------
 *
 * MpCmsgHeaderSize --
 *
 *	How many bytes the envelope puts before the message.
 *
 * Results:
 *	The size, or 0 when a field does not fit its length field (a node
 *	id of 0 or over 255 bytes, a sender over 255, a group name of 0 or
 *	over 65535 bytes, more than MP_CMSG_MAX_GROUPS names).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

size_t
MpCmsgHeaderSize(
    size_t nodeLen,
    size_t senderLen,
    const MpCmsgName *groups,
    unsigned groupCount)
{
    size_t size = MP_CMSG_FIXED + nodeLen + 1 + senderLen + 2;
    unsigned i;

    if (nodeLen == 0 || nodeLen > 255 || senderLen > 255
	    || groupCount > MP_CMSG_MAX_GROUPS) {
	return 0;
    }
    for (i = 0; i < groupCount; i++) {
	if (groups[i].len == 0 || groups[i].len > 65535) {
	    return 0;
	}
	size += 2 + groups[i].len;
    }
    return size;
}

/*
 *----------------------------------------------------------------------
 *
 * MpCmsgWriteHeader --
 *
 *	Writes the envelope's header (everything before the message) to out,
 *	which has room for MpCmsgHeaderSize bytes of the same fields.
 *
 * Results:
 *	Bytes written (MpCmsgHeaderSize), or 0 when the fields do not fit.
 *
 * Side effects:
 *	Fills out.
 *
 *----------------------------------------------------------------------
 */

size_t
MpCmsgWriteHeader(
    unsigned char *out,
    int route,			/* MP_CMSG_*. */
    unsigned long long incarnation,
    unsigned long long seq,
    const char *node,
    size_t nodeLen,
    const char *sender,
    size_t senderLen,
    const MpCmsgName *groups,
    unsigned groupCount)
{
    size_t size = MpCmsgHeaderSize(nodeLen, senderLen, groups, groupCount);
    unsigned char *p = out;
    unsigned i;

    if (size == 0) {
	return 0;
    }
    *p++ = 'm';
    *p++ = 'X';
    *p++ = MP_CMSG_VERSION;
    *p++ = (unsigned char) route;
    Put64(p, incarnation);
    p += 8;
    Put64(p, seq);
    p += 8;
    *p++ = (unsigned char) nodeLen;
    memcpy(p, node, nodeLen);
    p += nodeLen;
    *p++ = (unsigned char) senderLen;
    if (senderLen > 0) {
	memcpy(p, sender, senderLen);
	p += senderLen;
    }
    *p++ = (unsigned char) (groupCount >> 8);
    *p++ = (unsigned char) (groupCount & 0xff);
    for (i = 0; i < groupCount; i++) {
	*p++ = (unsigned char) (groups[i].len >> 8);
	*p++ = (unsigned char) (groups[i].len & 0xff);
	memcpy(p, groups[i].bytes, groups[i].len);
	p += groups[i].len;
    }
    return (size_t) (p - out);
}

/*
 *----------------------------------------------------------------------
 *
 * MpCmsgParse --
 *
 *	Reads an envelope.
 *
 * Results:
 *	0 with *msg filled (pointers into bytes), or -1 when the bytes are
 *	not a valid envelope: short, wrong magic or version, an unknown
 *	route, an empty node id, a group count that does not match the route
 *	(or a heartbeat that carries anything but a 2-byte repair port)
 *	or exceeds MP_CMSG_MAX_GROUPS, an empty group name, or a length that
 *	runs past the end.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpCmsgParse(
    const unsigned char *bytes,
    size_t len,
    MpCmsg *msg)
{
    const unsigned char *p = bytes, *end = bytes + len;
    size_t n;
    unsigned i;

    if (len < MP_CMSG_FIXED || p[0] != 'm' || p[1] != 'X'
	    || p[2] != MP_CMSG_VERSION || p[3] > MP_CMSG_HEARTBEAT) {
	return -1;
    }
    msg->route = p[3];
    msg->incarnation = Get64(p + 4);
    msg->seq = Get64(p + 12);
    n = p[20];
    p += MP_CMSG_FIXED;
    if (n == 0 || (size_t) (end - p) < n + 1) {
	return -1;
    }
    msg->node = (const char *) p;
    msg->nodeLen = n;
    p += n;
    n = *p++;
    if ((size_t) (end - p) < n + 2) {
	return -1;
    }
    msg->sender = (const char *) p;
    msg->senderLen = n;
    p += n;
    msg->groupCount = Get16(p);
    p += 2;
    if (msg->groupCount > MP_CMSG_MAX_GROUPS
	    || ((msg->route == MP_CMSG_ALL || msg->route == MP_CMSG_HEARTBEAT)
		&& msg->groupCount != 0)
	    || (msg->route == MP_CMSG_GROUP && msg->groupCount != 1)) {
	return -1;
    }
    msg->groups = p;
    for (i = 0; i < msg->groupCount; i++) {
	if (end - p < 2) {
	    return -1;
	}
	n = Get16(p);
	p += 2;
	if (n == 0 || (size_t) (end - p) < n) {
	    return -1;
	}
	p += n;
    }
    msg->data = (const char *) p;
    msg->dataLen = (size_t) (end - p);
    if (msg->route == MP_CMSG_HEARTBEAT && msg->dataLen != 0
	    && msg->dataLen != 2) {
	return -1;
    }
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpCmsgNextGroup --
 *
 *	Reads the group name at pos (inside an envelope MpCmsgParse
 *	accepted: the lengths are known to fit).
 *
 * Results:
 *	Where the next name starts; *name set.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

const unsigned char *
MpCmsgNextGroup(
    const unsigned char *pos,
    MpCmsgName *name)
{
    name->len = Get16(pos);
    name->bytes = (const char *) pos + 2;
    return pos + 2 + name->len;
}

/*
 *----------------------------------------------------------------------
 *
 * MpCmsgIsPacked, MpCmsgNextPacked --
 *
 *	Whether a datagram is packed (several envelopes, see the layout in
 *	mpClusterMsg.h); walk its envelopes: *posPtr starts at bytes +
 *	MP_CMSG_PACK_HEAD and moves past each.
 *
 * Results:
 *	MpCmsgIsPacked: 1 or 0. MpCmsgNextPacked: 1 with the next envelope
 *	in *envPtr and *envLenPtr (not yet parsed: see MpCmsgParse); 0 at
 *	the end; -1 if the rest is malformed (a length that is too small or
 *	runs past the end).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpCmsgIsPacked(
    const unsigned char *bytes,
    size_t len)
{
    return len >= MP_CMSG_PACK_HEAD && bytes[0] == 'm' && bytes[1] == 'X'
	    && bytes[2] == MP_CMSG_VERSION && bytes[3] == MP_CMSG_PACKED;
}

int
MpCmsgNextPacked(
    const unsigned char **posPtr,
    const unsigned char *end,
    const unsigned char **envPtr,
    size_t *envLenPtr)
{
    const unsigned char *p = *posPtr;
    size_t n;

    if (p == end) {
	return 0;
    }
    if (end - p < 2) {
	return -1;
    }
    n = Get16(p);
    if (n < MP_CMSG_FIXED + 3 || (size_t) (end - p - 2) < n) {
	return -1;
    }
    *envPtr = p + 2;
    *envLenPtr = n;
    *posPtr = p + 2 + n;
    return 1;
}
