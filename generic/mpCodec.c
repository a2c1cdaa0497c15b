/*
 * mpCodec.c --
 *
 *	The table of client codecs (mpCodec.h), indexed by MpClient.codec:
 *	the one place that lists them.
 */

#include "mpInt.h"

const MpCodecType *const mpCodecs[MP_CODECS] = {
    &mpStreamCodec,		/* MP_CODEC_STREAM: mpInput.c */
    &mpWsCodec			/* MP_CODEC_WS: mpWsClient.c */
};
