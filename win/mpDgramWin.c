/*
 * mpDgramWin.c --
 *
 *	Multicast group sockets on Windows (see mpDgram.h), with Winsock:
 *	the same steps as unix/mpDgramUnix.c (bind to the port, join with
 *	MCAST_JOIN_GROUP or MCAST_JOIN_SOURCE_GROUP, set hops, loopback and
 *	interface), error codes as Winsock's WSAE* values.
 */

#if !defined(_WIN32_WINNT) || (_WIN32_WINNT < 0x0600)
#   undef _WIN32_WINNT
#   define _WIN32_WINNT 0x0600
#endif

#include "mpDgram.h"

#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <stdio.h>
#include <string.h>

/*
 * A numeric address (and port) as a sockaddr: 0, or WSAEINVAL.
 */

static int
ToSockaddr(
    const char *host,
    int port,
    struct sockaddr_storage *ss,
    int *lenPtr)
{
    struct addrinfo hints, *res;
    char service[16];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0) {
	return WSAEINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *lenPtr = (int) res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int
MpDgramIsMulticast(
    const char *group)
{
    struct sockaddr_storage ss;
    int len;

    if (ToSockaddr(group, 0, &ss, &len) != 0) {
	return 0;
    }
    if (ss.ss_family == AF_INET) {
	unsigned long a = ntohl(((struct sockaddr_in *) &ss)->sin_addr.s_addr);

	return (a >> 28) == 0xe;
    }
    return ((struct sockaddr_in6 *) &ss)->sin6_addr.s6_addr[0] == 0xff;
}

/*
 * The interface index of an IPv4 or IPv6 address of this host: the
 * index, or 0 with *errPtr set.
 */

static unsigned
InterfaceIndex(
    const char *address,
    int *errPtr)
{
    struct sockaddr_storage want;
    int len;
    ULONG size = 15000;
    IP_ADAPTER_ADDRESSES *list, *a;
    unsigned index = 0;

    if (ToSockaddr(address, 0, &want, &len) != 0) {
	*errPtr = WSAEINVAL;
	return 0;
    }
    list = (IP_ADAPTER_ADDRESSES *) malloc(size);
    if (list == NULL || GetAdaptersAddresses(AF_UNSPEC, 0, NULL, list,
	    &size) != NO_ERROR) {
	free(list);
	*errPtr = WSAEADDRNOTAVAIL;
	return 0;
    }
    for (a = list; a != NULL && index == 0; a = a->Next) {
	IP_ADAPTER_UNICAST_ADDRESS *u;

	for (u = a->FirstUnicastAddress; u != NULL; u = u->Next) {
	    struct sockaddr *sa = u->Address.lpSockaddr;

	    if (sa->sa_family == AF_INET && want.ss_family == AF_INET
		    && ((struct sockaddr_in *) sa)->sin_addr.s_addr
		    == ((struct sockaddr_in *) &want)->sin_addr.s_addr) {
		index = a->IfIndex;
	    } else if (sa->sa_family == AF_INET6
		    && want.ss_family == AF_INET6
		    && memcmp(&((struct sockaddr_in6 *) sa)->sin6_addr,
		    &((struct sockaddr_in6 *) &want)->sin6_addr, 16) == 0) {
		index = a->Ipv6IfIndex;
	    }
	}
    }
    free(list);
    if (index == 0) {
	*errPtr = WSAEADDRNOTAVAIL;
    }
    return index;
}

int
MpDgramOpen(
    const char *group,
    int port,
    const MpDgramOpts *opts,
    MpSocket *sockPtr,
    MpAddr *groupPtr,
    int *errPtr)
{
    struct sockaddr_storage ss, any;
    int len, family, fam, rc;
    unsigned index = 0;
    u_long nonBlocking = 1;
    DWORD on = 1, ttl = (DWORD) (opts->ttl < 0 ? 1 : opts->ttl);
    DWORD loop = (DWORD) (opts->loop < 0 ? 1 : opts->loop);
    SOCKET s;

    if (!MpDgramIsMulticast(group)
	    || ToSockaddr(group, port, &ss, &len) != 0) {
	*errPtr = WSAEINVAL;
	return -1;
    }
    family = ss.ss_family;
    if (opts->iface != NULL) {
	index = InterfaceIndex(opts->iface, errPtr);
	if (index == 0) {
	    return -1;
	}
    }
    s = WSASocketW(family, SOCK_DGRAM, IPPROTO_UDP, NULL, 0,
	    WSA_FLAG_OVERLAPPED | 0x80 /* WSA_FLAG_NO_HANDLE_INHERIT */);
    if (s == INVALID_SOCKET) {
	*errPtr = WSAGetLastError();
	return -1;
    }
    if (ioctlsocket(s, FIONBIO, &nonBlocking) != 0) {
	goto fail;
    }
    if (opts->reuse != 0 && setsockopt(s, SOL_SOCKET, SO_REUSEADDR,
	    (const char *) &on, sizeof(on)) != 0) {
	goto fail;
    }

    /*
     * Windows cannot bind to a multicast address: bind to any address of
     * the family, on the group's port.
     */

    memset(&any, 0, sizeof(any));
    any.ss_family = (ADDRESS_FAMILY) family;
    if (family == AF_INET) {
	((struct sockaddr_in *) &any)->sin_port = htons((u_short) port);
    } else {
	((struct sockaddr_in6 *) &any)->sin6_port = htons((u_short) port);
    }
    if (bind(s, (struct sockaddr *) &any, len) != 0) {
	goto fail;
    }
    if (opts->rcvbuf > 0 && setsockopt(s, SOL_SOCKET, SO_RCVBUF,
	    (const char *) &opts->rcvbuf, sizeof(opts->rcvbuf)) != 0) {
	goto fail;
    }
    fam = (family == AF_INET) ? 4 : 6;
    if ((rc = MpDgramMembership(s, group, opts->source, index, 1)) != 0
	    || (rc = MpDgramSetHops(s, fam, (int) ttl)) != 0
	    || (rc = MpDgramSetLoop(s, fam, (int) loop)) != 0
	    || (index != 0 && (rc = MpDgramSendIf(s, fam, index)) != 0)) {
	WSASetLastError(rc);
	goto fail;
    }
    if (MpAddrFromSockaddr((struct sockaddr *) &ss, groupPtr) != 0) {
	WSASetLastError(WSAEINVAL);
	goto fail;
    }
    *sockPtr = s;
    return 0;

  fail:
    *errPtr = WSAGetLastError();
    closesocket(s);
    return -1;
}

ptrdiff_t
MpDgramSend(
    MpSocket sock,
    const MpAddr *to,
    MpIovec *iov,
    int iovcnt,
    int *errPtr)
{
    struct sockaddr_storage ss;
    int len;
    DWORD sent = 0;

    if (ToSockaddr(to->host, to->port, &ss, &len) != 0) {
	*errPtr = WSAEINVAL;
	return MP_IO_ERROR;
    }
    if (WSASendTo(sock, iov, (DWORD) iovcnt, &sent, 0,
	    (struct sockaddr *) &ss, len, NULL, NULL) == 0) {
	return (ptrdiff_t) sent;
    }
    *errPtr = WSAGetLastError();
    if (*errPtr == WSAEWOULDBLOCK || *errPtr == WSAENOBUFS) {
	return MP_IO_AGAIN;
    }
    return MP_IO_ERROR;
}

ptrdiff_t
MpDgramRecv(
    MpSocket sock,
    void *buf,
    size_t len,
    MpAddr *fromPtr,
    int *truncatedPtr,
    int *errPtr)
{
    struct sockaddr_storage ss;
    int fromLen = sizeof(ss);
    WSABUF wb;
    DWORD got = 0, flags = 0;

    wb.buf = (char *) buf;
    wb.len = (ULONG) len;
    *truncatedPtr = 0;
    if (WSARecvFrom(sock, &wb, 1, &got, &flags, (struct sockaddr *) &ss,
	    &fromLen, NULL, NULL) != 0) {
	*errPtr = WSAGetLastError();
	if (*errPtr == WSAEMSGSIZE) {
	    *truncatedPtr = 1;
	    got = (DWORD) len;
	} else if (*errPtr == WSAEWOULDBLOCK) {
	    return MP_IO_AGAIN;
	} else {
	    return MP_IO_ERROR;
	}
    }
    if (fromPtr != NULL && MpAddrFromSockaddr((struct sockaddr *) &ss,
	    fromPtr) != 0) {
	memset(fromPtr, 0, sizeof(MpAddr));
    }
    return (ptrdiff_t) got;
}

/*
 * MpDgramDestSet, MpDgramSendMany, MpDgramRecvMany: as on Unix, one
 * system call per datagram; errors are WSAE* codes.
 */

int
MpDgramDestSet(
    MpDgramDest *dest,
    const MpAddr *to)
{
    struct sockaddr_storage ss;
    int len;

    if (ToSockaddr(to->host, to->port, &ss, &len) != 0) {
	return WSAEINVAL;
    }
    memset(dest, 0, sizeof(MpDgramDest));
    memcpy(dest->sa.bytes, &ss, sizeof(ss) < sizeof(dest->sa.bytes)
	    ? sizeof(ss) : sizeof(dest->sa.bytes));
    dest->len = len;
    return 0;
}

int
MpDgramSendMany(
    MpSocket sock,
    const MpDgramDest *dest,
    MpDgramOut *outs,
    int count,
    int runs,			/* Not here: one datagram per send. */
    int *errPtr)
{
    int sent;

    (void) runs;

    *errPtr = 0;
    for (sent = 0; sent < count; sent++) {
	DWORD n = 0;

	if (WSASendTo(sock, outs[sent].iov, (DWORD) outs[sent].iovcnt, &n,
		0, (const struct sockaddr *) dest->sa.bytes, dest->len, NULL,
		NULL) != 0) {
	    int err = WSAGetLastError();

	    if (err != WSAEWOULDBLOCK && err != WSAENOBUFS) {
		*errPtr = err;
	    }
	    break;
	}
	outs[sent].segmented = 0;
    }
    return sent;
}

int
MpDgramRecvMany(
    MpSocket sock,
    MpDgramIn *ins,
    int count,
    int *errPtr)
{
    int i;

    for (i = 0; i < count; i++) {
	ptrdiff_t n = MpDgramRecv(sock, ins[i].buf, ins[i].cap,
		&ins[i].from, &ins[i].truncated, errPtr);

	if (n == MP_IO_AGAIN) {
	    break;
	}
	if (n < 0) {
	    return i > 0 ? i : -1;
	}
	ins[i].len = (size_t) n;
	ins[i].segment = 0;
    }
    return i;
}

/*
 * MpDgramCoalesce: Windows has no such option here (its UDP receive
 * coalescing is asked for otherwise); datagrams come one per buffer.
 */

int
MpDgramCoalesce(
    MpSocket sock)
{
    (void) sock;
    return WSAEOPNOTSUPP;
}

/*
 * MpDgramSetHops, MpDgramSetLoop: as on Unix; 0 or a WSAE* code.
 */

int
MpDgramSetHops(
    MpSocket sock,
    int family,
    int ttl)
{
    DWORD v = (DWORD) ttl;

    return setsockopt(sock, family == 4 ? IPPROTO_IP : IPPROTO_IPV6,
	    family == 4 ? IP_MULTICAST_TTL : IPV6_MULTICAST_HOPS,
	    (const char *) &v, sizeof(v)) == 0 ? 0 : WSAGetLastError();
}

int
MpDgramSetLoop(
    MpSocket sock,
    int family,
    int loop)
{
    DWORD v = (DWORD) (loop != 0);

    return setsockopt(sock, family == 4 ? IPPROTO_IP : IPPROTO_IPV6,
	    family == 4 ? IP_MULTICAST_LOOP : IPV6_MULTICAST_LOOP,
	    (const char *) &v, sizeof(v)) == 0 ? 0 : WSAGetLastError();
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramIfIndex, MpDgramMembership, MpDgramSendIf --
 *
 *	As on Unix (unix/mpDgramUnix.c), with Winsock.
 *
 *----------------------------------------------------------------------
 */

int
MpDgramIfIndex(
    const char *address,
    unsigned *indexPtr)
{
    int err = 0;

    *indexPtr = InterfaceIndex(address, &err);
    return *indexPtr == 0 ? err : 0;
}

int
MpDgramMembership(
    MpSocket sock,
    const char *group,
    const char *source,
    unsigned index,
    int join)
{
    struct sockaddr_storage ss, src;
    int len, srcLen, level;

    if (ToSockaddr(group, 0, &ss, &len) != 0) {
	return WSAEINVAL;
    }
    level = (ss.ss_family == AF_INET) ? IPPROTO_IP : IPPROTO_IPV6;
    if (source != NULL) {
	GROUP_SOURCE_REQ gsr;

	if (ToSockaddr(source, 0, &src, &srcLen) != 0
		|| src.ss_family != ss.ss_family) {
	    return WSAEINVAL;
	}
	memset(&gsr, 0, sizeof(gsr));
	gsr.gsr_interface = index;
	memcpy(&gsr.gsr_group, &ss, (size_t) len);
	memcpy(&gsr.gsr_source, &src, (size_t) srcLen);
	return setsockopt(sock, level, join ? MCAST_JOIN_SOURCE_GROUP
		: MCAST_LEAVE_SOURCE_GROUP, (const char *) &gsr,
		sizeof(gsr)) == 0 ? 0 : WSAGetLastError();
    } else {
	GROUP_REQ gr;

	memset(&gr, 0, sizeof(gr));
	gr.gr_interface = index;
	memcpy(&gr.gr_group, &ss, (size_t) len);
	return setsockopt(sock, level, join ? MCAST_JOIN_GROUP
		: MCAST_LEAVE_GROUP, (const char *) &gr, sizeof(gr)) == 0
		? 0 : WSAGetLastError();
    }
}

int
MpDgramSendIf(
    MpSocket sock,
    int family,
    unsigned index)
{
    DWORD ifv = (family == 4) ? htonl(index) : index;

    return setsockopt(sock, family == 4 ? IPPROTO_IP : IPPROTO_IPV6,
	    family == 4 ? IP_MULTICAST_IF : IPV6_MULTICAST_IF,
	    (const char *) &ifv, sizeof(ifv)) == 0 ? 0 : WSAGetLastError();
}
