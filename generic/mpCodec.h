/*
 * mpCodec.h --
 *
 *	The codec contract: how a client's input is cut into messages and
 *	how a message is encoded for the client. Every client has one codec
 *	(MpClient.codec, an index into mpCodecs, set when the client is
 *	made: MP_CODEC_STREAM for TCP clients and links, MP_CODEC_WS for a
 *	WebSocket listener's clients). The fan-out encodes a message once
 *	per codec its recipients use and shares that buffer among them
 *	(mpFanout.c), so no code but the codecs' own knows how a member's
 *	bytes look.
 *
 *	MP_CODEC_STREAM follows the instance's Config framing (raw, line,
 *	length; mpFrame.c) and is implemented in mpInput.c; MP_CODEC_WS
 *	sends one WebSocket frame per message (mpWsClient.c).
 */

#ifndef MP_CODEC_H
#define MP_CODEC_H

/*
 * Most bytes a codec puts before a message.
 */

#define MP_CODEC_HEADER_MAX 10

typedef struct MpCodecType {
    const char *name;		/* "stream", "websocket". */

    /*
     * Handles bytes read from the client. The caller holds references on
     * the client and its instance; the procedure may run Tcl code
     * (filters) and close the client.
     */

    void (*inputProc)(MpClient *c, const char *data, size_t len);

    /*
     * How one message of len bytes goes on the wire: the bytes before it
     * are written into hdr (at most MP_CODEC_HEADER_MAX) and their count
     * returned; *sufPtr and *sufLenPtr get the bytes after it (static).
     * text says the message is known to be valid UTF-8 (0: unknown).
     */

    size_t (*frameProc)(MpInstance *mp, const char *data, size_t len,
	    int text, char *hdr, const char **sufPtr, size_t *sufLenPtr);

    /*
     * What a script writes to the client's channel: 0 goes out as it is
     * written; 1 is cut into messages as the instance's framing cuts
     * input, each encoded by frameProc (MpEnqueueBytes).
     */

    int channelMessages;

    /*
     * Whether a script may read the client's channel (take its input
     * over, MpClientTakeInput).
     */

    int channelReadable;

    /*
     * Bytes asked of the socket per read (at most MP_READ_MAX). The
     * messages of one read are fanned out together (spans or a batch), so
     * a read that cuts a sender's burst short costs every recipient one
     * more write: a codec that adds framing bytes to every message reads
     * more at once.
     */

    size_t readSize;
} MpCodecType;

MODULE_SCOPE const MpCodecType mpStreamCodec;
MODULE_SCOPE const MpCodecType mpWsCodec;
MODULE_SCOPE const MpCodecType *const mpCodecs[MP_CODECS];

#endif /* MP_CODEC_H */
