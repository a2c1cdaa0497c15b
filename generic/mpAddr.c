/*
 * mpAddr.c --
 *
 *	Numeric address conversion, the part of the socket layer that is the
 *	same on POSIX and on Winsock (struct sockaddr, inet_pton, inet_ntop,
 *	getnameinfo): a kernel socket address into an MpAddr, and a numeric
 *	address text into an MpAddr. The platform files (unix/mpSockUnix.c,
 *	win/mpSockWin.c) call MpAddrFromSockaddr; the core calls
 *	MpSockParseAddr. The only generic file that includes POSIX socket
 *	headers (on Windows, mpSock.h brings in Winsock's for every file).
 */

#ifdef _WIN32
#   if !defined(_WIN32_WINNT) || (_WIN32_WINNT < 0x0600)
#	undef _WIN32_WINNT
#	define _WIN32_WINNT 0x0600	/* inet_pton, inet_ntop. */
#   endif
#endif

#include "mpSock.h"

#ifndef _WIN32
#   include <sys/socket.h>
#   include <netinet/in.h>
#   include <arpa/inet.h>
#   include <netdb.h>
#endif
#include <string.h>

/*
 *----------------------------------------------------------------------
 *
 * FormatRaw, IsMapped --
 *
 *	Write the numeric text of addrPtr->raw into addrPtr->host; test 16
 *	address bytes for an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
 *
 * Results:
 *	IsMapped: a boolean.
 *
 * Side effects:
 *	FormatRaw overwrites addrPtr->host (empty if it cannot be written).
 *
 *----------------------------------------------------------------------
 */

static void
FormatRaw(
    MpAddr *addrPtr)
{
    if (inet_ntop(addrPtr->family == 4 ? AF_INET : AF_INET6, addrPtr->raw,
	    addrPtr->host, sizeof(addrPtr->host)) == NULL) {
	addrPtr->host[0] = '\0';
    }
}

static int
IsMapped(
    const unsigned char *b)
{
    static const unsigned char prefix[12] =
	    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return memcmp(b, prefix, sizeof(prefix)) == 0;
}

/*
 *----------------------------------------------------------------------
 *
 * SetBytes --
 *
 *	Stores IPv4 (4 bytes) or IPv6 (16 bytes) address bytes, an
 *	IPv4-mapped IPv6 address as the IPv4 address it carries.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Sets addrPtr->family and addrPtr->raw.
 *
 *----------------------------------------------------------------------
 */

static void
SetBytes(
    MpAddr *addrPtr,
    const unsigned char *b,
    int len)
{
    if (len == 16 && IsMapped(b)) {
	b += 12;
	len = 4;
    }
    addrPtr->family = (len == 4) ? 4 : 6;
    memcpy(addrPtr->raw, b, (size_t) len);
}

/*
 *----------------------------------------------------------------------
 *
 * MpAddrFromSockaddr --
 *
 *	Converts an IPv4 or IPv6 socket address (from accept, getsockname or
 *	getaddrinfo) into an MpAddr. A scoped IPv6 address keeps its
 *	"%scope" in the text.
 *
 * Results:
 *	0, or -1 for another address family.
 *
 * Side effects:
 *	Overwrites *addrPtr.
 *
 *----------------------------------------------------------------------
 */

int
MpAddrFromSockaddr(
    const struct sockaddr *sa,
    MpAddr *addrPtr)
{
    memset(addrPtr, 0, sizeof(MpAddr));
    if (sa->sa_family == AF_INET) {
	const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;

	addrPtr->port = ntohs(sin->sin_port);
	SetBytes(addrPtr, (const unsigned char *) &sin->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;

	addrPtr->port = ntohs(sin6->sin6_port);
	SetBytes(addrPtr, sin6->sin6_addr.s6_addr, 16);
	if (addrPtr->family == 6 && sin6->sin6_scope_id != 0
		&& getnameinfo(sa, sizeof(*sin6), addrPtr->host,
		sizeof(addrPtr->host), NULL, 0, NI_NUMERICHOST) == 0) {
	    return 0;		/* With "%scope". */
	}
    } else {
	return -1;
    }
    FormatRaw(addrPtr);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpSockParseAddr --
 *
 *	Parses a numeric IPv4 or IPv6 address text (never DNS) and
 *	normalises its text (an IPv4-mapped IPv6 address comes out as
 *	IPv4).
 *
 * Results:
 *	0 with *addrPtr set (port 0), or -1 if the text is not an address.
 *
 * Side effects:
 *	Overwrites *addrPtr.
 *
 *----------------------------------------------------------------------
 */

int
MpSockParseAddr(
    const char *text,
    MpAddr *addrPtr)
{
    unsigned char b[16];

    memset(addrPtr, 0, sizeof(MpAddr));
    if (text == NULL) {
	return -1;
    }
    if (inet_pton(AF_INET, text, b) == 1) {
	SetBytes(addrPtr, b, 4);
    } else if (inet_pton(AF_INET6, text, b) == 1) {
	SetBytes(addrPtr, b, 16);
    } else {
	return -1;
    }
    FormatRaw(addrPtr);
    return 0;
}
