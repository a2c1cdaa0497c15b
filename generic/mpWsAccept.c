/*
 * mpWsAccept.c --
 *
 *	The Sec-WebSocket-Accept value of a WebSocket opening handshake (RFC
 *	6455 section 4.2.2): base64(SHA-1(key + GUID)). The only file of the
 *	package that uses OpenSSL's libcrypto (SHA-1 and base64), so that the
 *	rest (mpHttp.c) stays free of it.
 */

#include <string.h>
#include <openssl/evp.h>
#include "mpHttp.h"

/*
 * The GUID RFC 6455 appends to the client's key.
 */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/*
 *----------------------------------------------------------------------
 *
 * MpWsAccept --
 *
 *	Computes the Sec-WebSocket-Accept value for a Sec-WebSocket-Key
 *	value (as received, OWS trimmed: keyLen bytes at key): the base64
 *	encoding of the SHA-1 digest of the key followed by the GUID
 *	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11".
 *
 * Results:
 *	0, with the 28 characters and a NUL in out; -1 if libcrypto failed
 *	(out is then the empty string).
 *
 * Side effects:
 *	Writes out[0..28].
 *
 *----------------------------------------------------------------------
 */

int
MpWsAccept(
    const char *key,
    size_t keyLen,
    char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdLen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    out[0] = '\0';
    if (ctx == NULL) {
	return -1;
    }
    ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL)
	    && EVP_DigestUpdate(ctx, key, keyLen)
	    && EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1)
	    && EVP_DigestFinal_ex(ctx, md, &mdLen)
	    && mdLen == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
	return -1;
    }

    /*
     * 20 bytes: 7 groups of 3 (the last padded), 28 characters and a NUL.
     */

    if (EVP_EncodeBlock((unsigned char *) out, md, 20) != 28) {
	out[0] = '\0';
	return -1;
    }
    return 0;
}
