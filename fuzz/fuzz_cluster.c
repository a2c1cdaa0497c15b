/*
 * fuzz_cluster.c --
 *
 *	libFuzzer harness for what a cluster node parses of what comes from
 *	Redis (issue #18): the envelope of a pub/sub message
 *	(generic/mpClusterMsg.c) and RESP replies (generic/mpResp.c, on
 *	hiredis's reader), and the RESP commands the node writes.
 *
 *	Input layout:
 *	    byte 0     chunking seed for the reader (sizes from a small
 *		       PRNG, 1 to 64 bytes, or all at once when 0)
 *	    byte 1     argument count (1 to 4) and split seed for the
 *		       command round trip
 *	    byte 2...  the bytes: parsed as an envelope and as a packed
 *		       multicast datagram, fed to the reader, and cut into a
 *		       command's arguments
 *
 *	Checked:
 *	  - MpCmsgParse: an accepted envelope's fields lie inside the input
 *	    in order (node, sender, group names, message up to the end), the
 *	    group names walk (MpCmsgNextGroup) ends where the message
 *	    starts, and writing the parsed fields again (MpCmsgWriteHeader,
 *	    MpCmsgHeaderSize) gives exactly the input's header bytes;
 *	  - MpCmsgNextPacked: the envelopes of a packed datagram lie inside
 *	    it one after the other, each checked as above, and the walk
 *	    ends at the end exactly or says the rest is malformed;
 *	  - the reader: every reply is a well-formed tree (known types,
 *	    strings NUL-terminated at their length, arrays within
 *	    MP_RESP_MAX_ELEMENTS with no missing element), what it holds
 *	    unparsed never exceeds what was fed, and nothing is returned
 *	    after it failed;
 *	  - a command written by MpRespWriteCommand from slices of the input
 *	    is MpRespCommandSize bytes long and reads back as one array of
 *	    those bulk strings, and nothing else.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mpClusterMsg.h"
#include "mpResp.h"

#define CHECK(cond) do { if (!(cond)) { abort(); } } while (0)

static void
CheckReply(
    const MpRespReply *r,
    int depth)
{
    size_t i;

    CHECK(r != NULL);
    CHECK(depth < 16);
    switch (r->type) {
    case MP_RESP_STRING:
    case MP_RESP_STATUS:
    case MP_RESP_ERROR:
	CHECK(r->str != NULL);
	CHECK(r->str[r->len] == '\0');
	CHECK(r->count == 0);
	break;
    case MP_RESP_ARRAY:
	CHECK(r->count <= MP_RESP_MAX_ELEMENTS);
	for (i = 0; i < r->count; i++) {
	    CheckReply(r->elem[i], depth + 1);
	}
	break;
    case MP_RESP_INTEGER:
    case MP_RESP_NIL:
	CHECK(r->str == NULL && r->count == 0);
	break;
    default:
	CHECK(0);
    }
}

static void
Envelope(
    const unsigned char *data,
    size_t size)
{
    MpCmsg m;
    MpCmsgName names[MP_CMSG_MAX_GROUPS];
    const unsigned char *pos, *end = data + size;
    unsigned char *out;
    size_t hlen;
    unsigned i;

    if (MpCmsgParse(data, size, &m) != 0) {
	return;
    }
    CHECK(m.route >= MP_CMSG_ALL && m.route <= MP_CMSG_HEARTBEAT);
    CHECK(m.route != MP_CMSG_HEARTBEAT
	    || ((m.dataLen == 0 || m.dataLen == 2) && m.groupCount == 0));
    CHECK((const unsigned char *) m.node == data + MP_CMSG_FIXED);
    CHECK(m.nodeLen >= 1 && m.nodeLen <= 255);
    CHECK((const unsigned char *) m.sender == data + MP_CMSG_FIXED
	    + m.nodeLen + 1);
    CHECK(m.groupCount <= MP_CMSG_MAX_GROUPS);
    pos = m.groups;
    for (i = 0; i < m.groupCount; i++) {
	pos = MpCmsgNextGroup(pos, &names[i]);
	CHECK(names[i].len >= 1);
	CHECK((const unsigned char *) names[i].bytes + names[i].len <= end);
    }
    CHECK(pos == (const unsigned char *) m.data);
    CHECK((const unsigned char *) m.data + m.dataLen == end);

    hlen = MpCmsgHeaderSize(m.nodeLen, m.senderLen, names, m.groupCount);
    CHECK(hlen == (size_t) ((const unsigned char *) m.data - data));
    out = (unsigned char *) malloc(hlen);
    CHECK(out != NULL);
    CHECK(MpCmsgWriteHeader(out, m.route, m.incarnation, m.seq, m.node,
	    m.nodeLen, m.sender, m.senderLen, names, m.groupCount) == hlen);
    CHECK(memcmp(out, data, hlen) == 0);
    free(out);
}

/*
 * A packed datagram: every envelope the walk yields lies inside it, one
 * after the other, and is checked as Envelope checks any; a walk ends at
 * the end exactly or reports the rest malformed.
 */

static void
Packed(
    const unsigned char *data,
    size_t size)
{
    const unsigned char *pos = data + MP_CMSG_PACK_HEAD, *end = data + size;
    const unsigned char *env;
    size_t envLen;
    int rc;

    if (!MpCmsgIsPacked(data, size)) {
	return;
    }
    while ((rc = MpCmsgNextPacked(&pos, end, &env, &envLen)) == 1) {
	CHECK(env >= data + MP_CMSG_PACK_HEAD + 2);
	CHECK(env + envLen == pos);
	CHECK(pos <= end);
	CHECK(envLen >= MP_CMSG_FIXED + 3);
	Envelope(env, envLen);
    }
    CHECK(rc == 0 ? pos == end : rc == -1);
}

static void
Reader(
    const unsigned char *data,
    size_t size,
    unsigned seed)
{
    MpRespReader *r = MpRespReaderNew();
    size_t off = 0, fed = 0;
    int failed = 0;

    CHECK(r != NULL);
    while (off < size && !failed) {
	size_t n = size - off;
	MpRespReply *reply;
	int rc;

	if (seed != 0) {
	    seed = seed * 1103515245u + 12345u;
	    n = 1 + (seed >> 16) % 64;
	    if (n > size - off) {
		n = size - off;
	    }
	}
	if (MpRespFeed(r, (const char *) data + off, n) != 0) {
	    break;
	}
	off += n;
	fed += n;
	while ((rc = MpRespNext(r, &reply)) == 1) {
	    CheckReply(reply, 0);
	    MpRespReplyFree(reply);
	}
	if (rc < 0) {
	    failed = 1;
	    CHECK(reply == NULL);
	    CHECK(MpRespError(r) != NULL);
	} else {
	    CHECK(MpRespBuffered(r) <= fed);
	}
    }
    MpRespReaderFree(r);
}

static void
Command(
    const unsigned char *data,
    size_t size,
    unsigned control)
{
    int argc = 1 + (int) (control & 3), i;
    const char *argv[4];
    size_t lens[4], off = 0, need, n;
    unsigned seed = control >> 2;
    char *out;
    MpRespReader *r;
    MpRespReply *reply;

    for (i = 0; i < argc; i++) {
	size_t take = size - off;

	if (i < argc - 1) {
	    seed = seed * 1103515245u + 12345u;
	    take = take == 0 ? 0 : (seed >> 16) % (take + 1);
	}
	argv[i] = (const char *) data + off;
	lens[i] = take;
	off += take;
    }
    need = MpRespCommandSize(argc, lens);
    out = (char *) malloc(need);
    CHECK(out != NULL);
    n = MpRespWriteCommand(out, argc, argv, lens);
    CHECK(n == need);

    r = MpRespReaderNew();
    CHECK(r != NULL);
    CHECK(MpRespFeed(r, out, n) == 0);
    CHECK(MpRespNext(r, &reply) == 1);
    CHECK(reply->type == MP_RESP_ARRAY && reply->count == (size_t) argc);
    for (i = 0; i < argc; i++) {
	CHECK(reply->elem[i]->type == MP_RESP_STRING);
	CHECK(reply->elem[i]->len == lens[i]);
	CHECK(lens[i] == 0 || memcmp(reply->elem[i]->str, argv[i],
		lens[i]) == 0);
    }
    MpRespReplyFree(reply);
    CHECK(MpRespNext(r, &reply) == 0);
    CHECK(MpRespBuffered(r) == 0);
    MpRespReaderFree(r);
    free(out);
}

int
LLVMFuzzerTestOneInput(
    const uint8_t *data,
    size_t size)
{
    if (size < 2) {
	return 0;
    }
    Envelope(data + 2, size - 2);
    Packed(data + 2, size - 2);
    Reader(data + 2, size - 2, data[0]);
    Command(data + 2, size - 2, data[1]);
    return 0;
}
