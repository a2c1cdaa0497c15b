/*
 * mpTlsHello.h --
 *
 *	What a TLS listener reads from a client's hello to set up the
 *	handshake (mpTlsHello.c): the host name of the server_name extension
 *	(SNI, RFC 6066 section 3), which picks the certificate, and the
 *	ALPN protocol chosen from the client's list (RFC 7301). Pure
 *	functions of the bytes received, with no Tcl, so that the fuzz
 *	harness (fuzz/fuzz_tls.c) drives exactly the server's code;
 *	mpTlsContext.c calls them from its OpenSSL callbacks.
 */

#ifndef MP_TLS_HELLO_H
#define MP_TLS_HELLO_H

#include <stddef.h>
#include <openssl/ssl.h>

#ifndef MODULE_SCOPE
#   define MODULE_SCOPE extern
#endif

MODULE_SCOPE int	MpTlsSniName(const unsigned char *ext, size_t extLen,
			    const unsigned char **namePtr, size_t *lenPtr);
MODULE_SCOPE int	MpTlsChooseAlpn(const unsigned char *ours,
			    size_t oursLen, const unsigned char *theirs,
			    size_t theirsLen, const unsigned char **outPtr,
			    unsigned char *outLenPtr);

#endif /* MP_TLS_HELLO_H */
