/*
 * mpResp.h --
 *
 *	RESP, the protocol Redis speaks (mpResp.c): commands written as
 *	arrays of bulk strings into memory the caller provides, and replies
 *	read with hiredis's reader into reply trees of our own (bounded in
 *	size and depth). No Tcl, so that the fuzz harness
 *	(fuzz/fuzz_cluster.c) drives exactly the node's reader. This file
 *	and mpResp.c are the only ones that know hiredis.
 */

#ifndef MP_RESP_H
#define MP_RESP_H

#include <stddef.h>

#ifndef MODULE_SCOPE
#   define MODULE_SCOPE extern
#endif

/*
 * Most elements one array reply may announce; a reply announcing more is
 * a protocol error (Redis never sends such a reply to us).
 */

#define MP_RESP_MAX_ELEMENTS 65536

/*
 * Longest header MpRespArrayHeader or MpRespBulkHeader writes.
 */

#define MP_RESP_HEADER_MAX 24

enum {
    MP_RESP_STRING = 1, MP_RESP_ARRAY, MP_RESP_INTEGER, MP_RESP_NIL,
    MP_RESP_STATUS, MP_RESP_ERROR
};

/*
 * A reply. Strings (bulk, status, error) are NUL-terminated besides
 * their length.
 */

typedef struct MpRespReply {
    int type;			/* MP_RESP_*. */
    long long integer;		/* MP_RESP_INTEGER. */
    char *str;			/* MP_RESP_STRING, _STATUS, _ERROR ... */
    size_t len;			/* ... and its length. */
    size_t count;		/* MP_RESP_ARRAY: elements ... */
    struct MpRespReply **elem;	/* ... and them. */
} MpRespReply;

typedef struct MpRespReader MpRespReader;

MODULE_SCOPE size_t	MpRespArrayHeader(char *out, size_t count);
MODULE_SCOPE size_t	MpRespBulkHeader(char *out, size_t len);
MODULE_SCOPE size_t	MpRespCommandSize(int argc, const size_t *lens);
MODULE_SCOPE size_t	MpRespWriteCommand(char *out, int argc,
			    const char *const *argv, const size_t *lens);

MODULE_SCOPE MpRespReader *MpRespReaderNew(void);
MODULE_SCOPE void	MpRespReaderFree(MpRespReader *r);
MODULE_SCOPE int	MpRespFeed(MpRespReader *r, const char *buf,
			    size_t len);
MODULE_SCOPE int	MpRespNext(MpRespReader *r, MpRespReply **replyPtr);
MODULE_SCOPE size_t	MpRespBuffered(const MpRespReader *r);
MODULE_SCOPE const char *MpRespError(const MpRespReader *r);
MODULE_SCOPE void	MpRespReplyFree(MpRespReply *reply);

#endif /* MP_RESP_H */
