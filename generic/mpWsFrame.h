/*
 * mpWsFrame.h --
 *
 *	WebSocket (RFC 6455) frames: the parser for what a server receives
 *	(masked client frames, reassembled into messages, checked as the RFC
 *	requires), the encoders for frame headers and close payloads, and an
 *	incremental UTF-8 validator. Pure C (no Tcl) so that the fuzz
 *	harness drives exactly the server's code.
 */

#ifndef MP_WS_FRAME_H
#define MP_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifndef MODULE_SCOPE
#   define MODULE_SCOPE extern
#endif

/*
 * Opcodes (RFC 6455 section 5.2). 3-7 and 0xB-0xF are reserved.
 */

enum {
    MP_WS_CONT = 0x0,		/* Continuation of a fragmented message. */
    MP_WS_TEXT = 0x1,
    MP_WS_BINARY = 0x2,
    MP_WS_CLOSE = 0x8,
    MP_WS_PING = 0x9,
    MP_WS_PONG = 0xA
};

/*
 * Close codes this file produces (RFC 6455 section 7.4.1).
 */

#define MP_WS_NORMAL		1000
#define MP_WS_PROTOCOL_ERROR	1002
#define MP_WS_INVALID_DATA	1007	/* E.g. bad UTF-8 in a text message. */
#define MP_WS_TOO_BIG		1009
#define MP_WS_INTERNAL_ERROR	1011

/*
 * Most payload bytes of a control frame, and of a close reason (the close
 * payload starts with a 2-byte code).
 */

#define MP_WS_CONTROL_MAX	125
#define MP_WS_REASON_MAX	123

/*
 * Results of MpWsFeed.
 */

enum {
    MP_WS_OK,			/* All input consumed. */
    MP_WS_STOPPED,		/* The emit callback asked to stop. */
    MP_WS_FAIL,			/* The client broke the protocol: close the
				 * connection with *closeCodePtr. */
    MP_WS_NOMEM			/* Could not buffer a message. */
};

/*
 * Incremental UTF-8 validation state. All zero is the initial state.
 */

typedef struct MpUtf8 {
    unsigned char need;		/* Continuation bytes still expected. */
    unsigned char lo, hi;	/* Range allowed for the next one. */
    unsigned char bad;		/* The stream is invalid (sticky). */
} MpUtf8;

/*
 * What the parser carries between reads. All zero (memset) is the
 * initial state; MpWsFree releases it.
 */

typedef struct MpWsIn {
    unsigned char hdr[14];	/* The current frame's header bytes. */
    unsigned hdrLen;		/* How many are held. */
    unsigned hdrNeed;		/* Its size once known (0: not yet). */
    int inPayload;		/* The header is complete; payload next. */
    int opcode;			/* The current frame's opcode. */
    int fin;			/* Its FIN bit. */
    uint64_t frameLen;		/* Its payload length. */
    uint64_t frameGot;		/* Payload bytes received so far. */
    int msgOpcode;		/* TEXT or BINARY while a data message is
				 * open (after its first frame's first
				 * byte), 0 otherwise. */
    char *msg;			/* The data message's payload (malloc). */
    size_t msgLen;		/* Bytes of it so far (<= maxMessage). */
    size_t msgCap;		/* Allocated size. */
    MpUtf8 utf8;		/* Validation of a text message so far. */
    unsigned char ctl[MP_WS_CONTROL_MAX];
				/* The control frame's payload. */
    size_t ctlLen;		/* Bytes of it so far. */
    int failed;			/* MP_WS_FAIL or MP_WS_NOMEM once failed,
				 * 0 while usable. */
    int closeCode;		/* The code it failed with. */
} MpWsIn;

/*
 * Called once per complete data message (TEXT or BINARY, reassembled and
 * unmasked) and once per control frame (PING, PONG, CLOSE with its raw
 * payload), in wire order. The payload is valid during the call only.
 * Returns 0 to go on, non-zero to stop.
 */

typedef int (MpWsEmitProc)(void *ctx, int opcode, const char *payload,
			    size_t len);

MODULE_SCOPE int	MpUtf8Feed(MpUtf8 *u, const char *data, size_t len,
			    size_t *badPtr);
MODULE_SCOPE int	MpUtf8Complete(const MpUtf8 *u);
MODULE_SCOPE int	MpWsCloseCodeValid(unsigned code);
MODULE_SCOPE int	MpWsCheckClosePayload(const char *payload,
			    size_t len);
MODULE_SCOPE int	MpWsFeed(MpWsIn *in, size_t maxMessage,
			    const char *data, size_t len,
			    MpWsEmitProc *emit, void *ctx, size_t *restPtr,
			    int *closeCodePtr);
MODULE_SCOPE void	MpWsFree(MpWsIn *in);
MODULE_SCOPE size_t	MpWsServerHeader(int opcode, size_t payloadLen,
			    unsigned char out[10]);
MODULE_SCOPE size_t	MpWsClientHeader(int opcode, int fin, size_t len,
			    const unsigned char mask[4],
			    unsigned char out[14]);
MODULE_SCOPE void	MpWsMask(char *data, size_t len,
			    const unsigned char mask[4], size_t offset);
MODULE_SCOPE size_t	MpWsClosePayload(unsigned code, const char *reason,
			    size_t reasonLen, unsigned char *out);

#endif /* MP_WS_FRAME_H */
