/*
 * mpHttp.h --
 *
 *	The HTTP side of the WebSocket listener (issue #16): an incremental
 *	parser for an HTTP/1.x request head (RFC 9110, RFC 9112), the checks
 *	of a WebSocket opening handshake (RFC 6455 section 4.2.1), and the
 *	builders of the server's answers (101 and error responses). Pure C
 *	(no Tcl, no OpenSSL) so that the fuzz harness drives exactly the
 *	server's code; only MpWsAccept (mpWsAccept.c) needs libcrypto.
 */

#ifndef MP_HTTP_H
#define MP_HTTP_H

#include <stddef.h>

#ifndef MODULE_SCOPE
#   define MODULE_SCOPE extern
#endif

/*
 * Results of MpHttpFeed.
 */

enum {
    MP_HTTP_INCOMPLETE,		/* All input consumed, the head goes on. */
    MP_HTTP_DONE,		/* The head is complete and valid. */
    MP_HTTP_ERROR		/* The head is refused: see MpHttpIn.status. */
};

/*
 * Limits. A head (request line, field lines and the empty line that ends
 * them, with any empty lines before the request line) longer than maxHead
 * bytes, or with more than MP_HTTP_MAX_FIELDS field lines, is refused with
 * 431. maxHead 0 means MP_HTTP_DEFAULT_HEAD.
 */

#define MP_HTTP_DEFAULT_HEAD	8192
#define MP_HTTP_MAX_FIELDS	64

/*
 * The WebSocket protocol version this server speaks (RFC 6455).
 */

#define MP_WS_VERSION		"13"

/*
 * One field line of the head. name and value are NUL-terminated strings
 * inside the parser's buffer: the name as received (case kept), the value
 * without its leading and trailing whitespace (SP, HTAB). combined is the
 * value of all the field lines with this name (in order, joined with ", ")
 * on the first of them, and NULL on the others and on names that occur
 * once.
 */

typedef struct MpHttpField {
    const char *name;
    const char *value;
    const char *combined;
} MpHttpField;

/*
 * A parsed request head. All strings point into the parser's buffer and
 * live until MpHttpFree. path and query are the request target split at
 * its first '?', not percent-decoded; query is NULL when there is no '?'.
 * For an absolute-form target (http://host/p?q) path is its path ("/"
 * when empty); for the authority form (CONNECT) and the asterisk form
 * (OPTIONS *) path is the whole target and query NULL.
 */

typedef struct MpHttpRequest {
    const char *method;		/* Token, case kept (methods are case
				 * sensitive: "get" is not GET). */
    const char *target;		/* The request target as received. */
    const char *path;
    const char *query;
    int versionMinor;		/* 0 or 1..9: HTTP/1.x. */
    int numFields;
    MpHttpField fields[MP_HTTP_MAX_FIELDS];
    size_t headLen;		/* Bytes of the head, final empty line
				 * included. */
} MpHttpRequest;

/*
 * The parser's state between chunks. Zero it (or MpHttpInit) before the
 * first MpHttpFeed; MpHttpFree releases its memory.
 */

typedef struct MpHttpIn {
    char *buf;			/* The head so far (malloc). */
    size_t len;			/* Bytes buffered. */
    size_t cap;			/* Allocated size (at most maxHead + 1). */
    size_t lineStart;		/* Offset of the line being received. */
    int seenLine;		/* A non-empty line has been received. */
    int result;			/* MP_HTTP_INCOMPLETE until decided. */
    int status;			/* After MP_HTTP_ERROR: the status code
				 * to answer with (400, 431, 500, 505). */
    char *extra;		/* Storage of path, query and the combined
				 * values (malloc). */
    MpHttpRequest req;		/* After MP_HTTP_DONE: the request. */
} MpHttpIn;

MODULE_SCOPE void	MpHttpInit(MpHttpIn *in);
MODULE_SCOPE void	MpHttpFree(MpHttpIn *in);
MODULE_SCOPE int	MpHttpFeed(MpHttpIn *in, const char *data, size_t len,
			    size_t maxHead, size_t *usedPtr);
MODULE_SCOPE const char *MpHttpHeader(const MpHttpRequest *r,
			    const char *name);
MODULE_SCOPE int	MpHttpHeaderCount(const MpHttpRequest *r,
			    const char *name);
MODULE_SCOPE int	MpHttpHasToken(const char *value, const char *token);
MODULE_SCOPE const char *MpHttpReason(int status);
MODULE_SCOPE size_t	MpHttpBuild101(char *buf, size_t bufLen,
			    const char *accept, const char *subprotocol);
MODULE_SCOPE size_t	MpHttpBuildError(char *buf, size_t bufLen, int status,
			    const char *extraLines);
MODULE_SCOPE int	MpWsUpgradeCheck(const MpHttpRequest *r,
			    int *isUpgradePtr);
MODULE_SCOPE int	MpWsChooseSubprotocol(const char *const offered[],
			    int n, const char *clientHeader);

/*
 * mpWsAccept.c (links libcrypto).
 */

MODULE_SCOPE int	MpWsAccept(const char *key, size_t keyLen,
			    char out[29]);

#endif /* MP_HTTP_H */
