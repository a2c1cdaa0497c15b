/*
 * mpTlsHello.c --
 *
 *	What a TLS listener takes from a client's hello before OpenSSL goes
 *	on with the handshake: the host name asked for (the server_name
 *	extension, RFC 6066 section 3), which selects the certificate, and
 *	the ALPN protocol (RFC 7301) chosen from the client's list. The
 *	bytes come straight from the network (OpenSSL hands the client
 *	hello callback the extension as received, before it parses it
 *	itself), so both functions check the whole structure and never read
 *	outside the buffers given. No Tcl here: the fuzz harness
 *	(fuzz/fuzz_tls.c) links this file alone.
 */

#include <string.h>
#include "mpTlsHello.h"

/*
 * Big-endian 16-bit length at p.
 */

#define GET16(p)	(((size_t) (p)[0] << 8) | (size_t) (p)[1])

static int		AlpnListValid(const unsigned char *list, size_t len);

/*
 *----------------------------------------------------------------------
 *
 * MpTlsSniName --
 *
 *	Finds the host name in the body of a server_name extension (RFC 6066
 *	section 3):
 *
 *	    struct {
 *		NameType name_type;	(1 byte; host_name is 0)
 *		opaque name<1..2^16-1>;	(2-byte length, then the bytes)
 *	    } ServerName;
 *	    ServerName server_name_list<1..2^16-1>;
 *
 *	The list's length must cover exactly the rest of the extension, and
 *	every entry must be complete. Entries of other name types are
 *	skipped (the RFC requires every future type to begin with a 16-bit
 *	length, so they can be); more than one host_name entry (which the
 *	RFC forbids), an empty host name or one holding a NUL byte makes the
 *	extension unusable.
 *
 * Results:
 *	1 with *namePtr pointing at the host name inside ext (not
 *	NUL-terminated) and *lenPtr its length (1 to 65535); 0 if ext is
 *	malformed or holds no host name, with *namePtr and *lenPtr left
 *	untouched.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpTlsSniName(
    const unsigned char *ext,	/* Extension body (after its type and
				 * length). */
    size_t extLen,
    const unsigned char **namePtr,
    size_t *lenPtr)
{
    const unsigned char *name = NULL;
    size_t nameLen = 0, pos, entryLen;

    /* No list, an empty one, or bytes after it: malformed. */
    if (extLen <= 2 || GET16(ext) != extLen - 2) {
	return 0;
    }
    for (pos = 2; pos < extLen; pos += entryLen) {
	unsigned type;

	if (extLen - pos < 3) {
	    return 0;
	}
	type = ext[pos];
	entryLen = GET16(ext + pos + 1);
	pos += 3;
	if (entryLen > extLen - pos) {
	    return 0;
	}
	if (type == TLSEXT_NAMETYPE_host_name) {
	    if (name != NULL || entryLen == 0
		    || memchr(ext + pos, '\0', entryLen) != NULL) {
		return 0;
	    }
	    name = ext + pos;
	    nameLen = entryLen;
	}
    }
    if (name == NULL) {
	return 0;
    }
    *namePtr = name;
    *lenPtr = nameLen;
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * AlpnListValid --
 *
 *	Whether list is a well-formed ALPN protocol list in wire format
 *	(RFC 7301 section 3.1, without the list's own 2-byte length): at
 *	least one protocol, each a length byte (1 to 255) followed by that
 *	many bytes, the last one ending exactly at the end of the list.
 *
 * Results:
 *	1 or 0.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

static int
AlpnListValid(
    const unsigned char *list,
    size_t len)
{
    size_t pos = 0;

    if (len == 0) {
	return 0;
    }
    while (pos < len) {
	size_t n = list[pos];

	if (n == 0 || n > len - pos - 1) {
	    return 0;
	}
	pos += 1 + n;
    }
    return 1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpTlsChooseAlpn --
 *
 *	Server side ALPN choice: the first of our protocols, in our order,
 *	that the client also offers (byte for byte). Both lists are in wire
 *	format (length byte, then the name; no list length in front); if
 *	either is malformed or empty, nothing is chosen.
 *
 * Results:
 *	1 with *outPtr pointing at the chosen name inside ours and
 *	*outLenPtr its length; 0 if nothing is in common (or a list is
 *	malformed), with *outPtr and *outLenPtr left untouched.
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpTlsChooseAlpn(
    const unsigned char *ours,
    size_t oursLen,
    const unsigned char *theirs,
    size_t theirsLen,
    const unsigned char **outPtr,
    unsigned char *outLenPtr)
{
    size_t i, j;

    if (!AlpnListValid(ours, oursLen) || !AlpnListValid(theirs, theirsLen)) {
	return 0;
    }
    for (i = 0; i < oursLen; i += 1 + (size_t) ours[i]) {
	for (j = 0; j < theirsLen; j += 1 + (size_t) theirs[j]) {
	    if (ours[i] == theirs[j]
		    && memcmp(ours + i + 1, theirs + j + 1, ours[i]) == 0) {
		*outPtr = ours + i + 1;
		*outLenPtr = ours[i];
		return 1;
	    }
	}
    }
    return 0;
}
