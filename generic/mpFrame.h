/*
 * mpFrame.h --
 *
 *	Message framing: splitting a client's byte stream into messages
 *	(line or length-prefixed), and encoding outgoing messages. Pure C (no
 *	Tcl) so that the fuzz harnesses drive exactly the server's code.
 */

#ifndef MP_FRAME_H
#define MP_FRAME_H

#include <stddef.h>

#ifndef MODULE_SCOPE
#   define MODULE_SCOPE extern
#endif

enum { MP_FRAME_RAW, MP_FRAME_LINE, MP_FRAME_LENGTH };

/*
 * Results of MpFrameFeed.
 */

enum {
    MP_FRAME_OK,		/* All input consumed. */
    MP_FRAME_TOOBIG,		/* A message exceeds the limit. */
    MP_FRAME_STOPPED,		/* The emit callback asked to stop. */
    MP_FRAME_NOMEM		/* Could not buffer a partial message. */
};

/*
 * Size of the length prefix in MP_FRAME_LENGTH mode (big-endian).
 */

#define MP_FRAME_HEADER 4

/*
 * The partial message carried between reads.
 */

typedef struct MpFrameIn {
    char *data;			/* Buffered bytes (malloc). */
    size_t len;			/* Bytes buffered. */
    size_t cap;			/* Allocated size. */
} MpFrameIn;

/*
 * Called once per complete message; returns 0 to go on, non-zero to stop.
 */

typedef int (MpFrameEmitProc)(void *ctx, const char *msg, size_t len);

/*
 * Called once per span: a run of count complete messages whose bytes in the
 * input are exactly their encoding for recipients (MpFrameEncode), so they
 * can be forwarded as they are; returns 0 to go on, non-zero to stop.
 */

typedef int (MpFrameSpanProc)(void *ctx, const char *bytes, size_t len,
			    size_t count);

MODULE_SCOPE int	MpFrameFeed(MpFrameIn *in, int mode, size_t maxMessage,
			    const char *data, size_t len,
			    MpFrameEmitProc *emit, void *ctx);
MODULE_SCOPE int	MpFrameFeedRest(MpFrameIn *in, int mode,
			    size_t maxMessage, const char *data, size_t len,
			    MpFrameEmitProc *emit, void *ctx,
			    size_t *restPtr);
MODULE_SCOPE int	MpFrameFeedSpans(MpFrameIn *in, int mode,
			    size_t maxMessage, size_t maxSpan,
			    const char *data, size_t len,
			    MpFrameEmitProc *emit, MpFrameSpanProc *span,
			    void *ctx);
MODULE_SCOPE size_t	MpFrameSpanFirst(int mode, const char *bytes,
			    size_t len, const char **msgPtr,
			    size_t *msgLenPtr);
MODULE_SCOPE int	MpFrameKeep(MpFrameIn *in, const char *data, size_t len);
MODULE_SCOPE size_t	MpFrameTake(MpFrameIn *in, char *buf, size_t len);
MODULE_SCOPE void	MpFrameFree(MpFrameIn *in);
MODULE_SCOPE size_t	MpFrameEncodedSize(int mode, size_t len);
MODULE_SCOPE void	MpFrameEncode(int mode, const char *data, size_t len,
			    char *out);
MODULE_SCOPE size_t	MpFramePrefix(int mode, size_t len, char *out);
MODULE_SCOPE const char *MpFrameSuffix(int mode, size_t *lenPtr);

#endif /* MP_FRAME_H */
