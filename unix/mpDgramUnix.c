/*
 * mpDgramUnix.c --
 *
 *	Multicast group sockets on POSIX systems (see mpDgram.h): a UDP
 *	socket bound to the group's port, joined to the group with the
 *	protocol-independent calls of RFC 3678 (MCAST_JOIN_GROUP,
 *	MCAST_JOIN_SOURCE_GROUP), so that IPv4 and IPv6 take one path;
 *	non-blocking, close-on-exec.
 */

#ifndef _GNU_SOURCE
#   define _GNU_SOURCE		/* sendmmsg(), recvmmsg() on glibc. */
#endif

#include "mpDgram.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#   define MP_DGRAM_SEND_FLAGS MSG_NOSIGNAL
#else
#   define MP_DGRAM_SEND_FLAGS 0
#endif

/*
 *----------------------------------------------------------------------
 *
 * ToSockaddr --
 *
 *	A numeric address (and port) as a sockaddr.
 *
 * Results:
 *	0, or an errno value (EINVAL: not a numeric address).
 *
 *----------------------------------------------------------------------
 */

static int
ToSockaddr(
    const char *host,
    int port,
    struct sockaddr_storage *ss,
    socklen_t *lenPtr)
{
    struct addrinfo hints, *res;
    char service[16];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0) {
	return EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *lenPtr = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramIsMulticast --
 *
 *	Whether text is a numeric IPv4 (224.0.0.0/4) or IPv6 (ff00::/8)
 *	multicast address.
 *
 *----------------------------------------------------------------------
 */

int
MpDgramIsMulticast(
    const char *group)
{
    struct sockaddr_storage ss;
    socklen_t len;

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
 *----------------------------------------------------------------------
 *
 * InterfaceIndex --
 *
 *	The index of the interface that has the given address.
 *
 * Results:
 *	The index, or 0 with *errPtr set (EADDRNOTAVAIL: no such address).
 *
 *----------------------------------------------------------------------
 */

static unsigned
InterfaceIndex(
    const char *address,
    int *errPtr)
{
    struct sockaddr_storage want;
    socklen_t len;
    struct ifaddrs *list, *ifa;
    unsigned index = 0;

    if (ToSockaddr(address, 0, &want, &len) != 0) {
	*errPtr = EINVAL;
	return 0;
    }
    if (getifaddrs(&list) != 0) {
	*errPtr = errno;
	return 0;
    }
    for (ifa = list; ifa != NULL && index == 0; ifa = ifa->ifa_next) {
	int same;

	if (ifa->ifa_addr == NULL
		|| ifa->ifa_addr->sa_family != want.ss_family) {
	    continue;
	}
	if (want.ss_family == AF_INET) {
	    same = ((struct sockaddr_in *) ifa->ifa_addr)->sin_addr.s_addr
		    == ((struct sockaddr_in *) &want)->sin_addr.s_addr;
	} else {
	    same = memcmp(&((struct sockaddr_in6 *) ifa->ifa_addr)->sin6_addr,
		    &((struct sockaddr_in6 *) &want)->sin6_addr, 16) == 0;
	}
	if (same) {
	    index = if_nametoindex(ifa->ifa_name);
	}
    }
    freeifaddrs(list);
    if (index == 0) {
	*errPtr = EADDRNOTAVAIL;
    }
    return index;
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramOpen --
 *
 *	Opens a UDP socket on the group's port (bound to the group address,
 *	so that only the group's datagrams arrive), joins the group (on the
 *	interface of opts->iface, or the one the routing table picks; only
 *	from opts->source when given), and sets the sending side: hops
 *	(TTL), loopback, interface.
 *
 * Results:
 *	0 with *sockPtr and *groupPtr (the group and port as an address), or
 *	-1 with *errPtr: EINVAL (not a multicast address, or a bad source or
 *	interface), or the system's error.
 *
 * Side effects:
 *	Opens a socket; sends the join (IGMP or MLD) on the network.
 *
 *----------------------------------------------------------------------
 */

int
MpDgramOpen(
    const char *group,
    int port,
    const MpDgramOpts *opts,
    MpSocket *sockPtr,
    MpAddr *groupPtr,
    int *errPtr)
{
    struct sockaddr_storage ss, src;
    socklen_t len, srcLen;
    unsigned index = 0;
    int fd, on = 1, level, family, fl;
    int ttl = opts->ttl < 0 ? 1 : opts->ttl;
    int loop = opts->loop < 0 ? 1 : opts->loop;
    unsigned char cttl = (unsigned char) ttl, cloop = (unsigned char) loop;

    if (!MpDgramIsMulticast(group)
	    || ToSockaddr(group, port, &ss, &len) != 0) {
	*errPtr = EINVAL;
	return -1;
    }
    family = ss.ss_family;
    level = (family == AF_INET) ? IPPROTO_IP : IPPROTO_IPV6;
    if (opts->iface != NULL) {
	index = InterfaceIndex(opts->iface, errPtr);
	if (index == 0) {
	    return -1;
	}
    }
    fd = socket(family, SOCK_DGRAM, 0);
    if (fd == -1) {
	*errPtr = errno;
	return -1;
    }
    fl = fcntl(fd, F_GETFL, 0);
    if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1
	    || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
	goto fail;
    }
    if (opts->reuse != 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1) {
	goto fail;
    }
    if (bind(fd, (struct sockaddr *) &ss, len) == -1) {
	goto fail;
    }

    /*
     * Linux gives a socket bound to a group every datagram the host
     * takes for that group, whichever socket joined it on whichever
     * interface; only the memberships of this socket count with this off.
     */

#ifdef IP_MULTICAST_ALL
    if (family == AF_INET) {
	int off = 0;

	(void) setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off,
		sizeof(off));
    }
#endif
#ifdef IPV6_MULTICAST_ALL
    if (family == AF_INET6) {
	int off = 0;

	(void) setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, &off,
		sizeof(off));
    }
#endif
    if (opts->rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
	    &opts->rcvbuf, sizeof(opts->rcvbuf)) == -1) {
	goto fail;
    }
    if (opts->source != NULL) {
	struct group_source_req gsr;

	if (ToSockaddr(opts->source, 0, &src, &srcLen) != 0
		|| src.ss_family != family) {
	    errno = EINVAL;
	    goto fail;
	}
	memset(&gsr, 0, sizeof(gsr));
	gsr.gsr_interface = index;
	memcpy(&gsr.gsr_group, &ss, len);
	memcpy(&gsr.gsr_source, &src, srcLen);
	if (setsockopt(fd, level, MCAST_JOIN_SOURCE_GROUP, &gsr,
		sizeof(gsr)) == -1) {
	    goto fail;
	}
    } else {
	struct group_req gr;

	memset(&gr, 0, sizeof(gr));
	gr.gr_interface = index;
	memcpy(&gr.gr_group, &ss, len);
	if (setsockopt(fd, level, MCAST_JOIN_GROUP, &gr, sizeof(gr)) == -1) {
	    goto fail;
	}
    }
    if (family == AF_INET) {
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &cttl,
		sizeof(cttl)) == -1
		|| setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &cloop,
		sizeof(cloop)) == -1) {
	    goto fail;
	}
	if (index != 0) {
	    struct ip_mreqn mr;

	    memset(&mr, 0, sizeof(mr));
	    mr.imr_ifindex = (int) index;
	    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
		    sizeof(mr)) == -1) {
		goto fail;
	    }
	}
    } else {
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl,
		sizeof(ttl)) == -1
		|| setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop,
		sizeof(loop)) == -1) {
	    goto fail;
	}
	if (index != 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
		&index, sizeof(index)) == -1) {
	    goto fail;
	}
    }
    if (MpAddrFromSockaddr((struct sockaddr *) &ss, groupPtr) != 0) {
	errno = EINVAL;
	goto fail;
    }
    *sockPtr = fd;
    return 0;

  fail:
    *errPtr = errno;
    close(fd);
    return -1;
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramSend, MpDgramRecv --
 *
 *	Send one datagram (the buffers gathered) to an address; receive
 *	one (what does not fit in len is lost: *truncatedPtr says so).
 *
 * Results:
 *	Bytes sent or received, MP_IO_AGAIN, or MP_IO_ERROR with *errPtr.
 *
 *----------------------------------------------------------------------
 */

ptrdiff_t
MpDgramSend(
    MpSocket sock,
    const MpAddr *to,
    MpIovec *iov,
    int iovcnt,
    int *errPtr)
{
    struct sockaddr_storage ss;
    struct msghdr msg;
    socklen_t len;
    ssize_t n;

    if (ToSockaddr(to->host, to->port, &ss, &len) != 0) {
	*errPtr = EINVAL;
	return MP_IO_ERROR;
    }
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &ss;
    msg.msg_namelen = len;
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t) iovcnt;
    do {
	n = sendmsg(sock, &msg, MP_DGRAM_SEND_FLAGS);
    } while (n == -1 && errno == EINTR);
    if (n >= 0) {
	return (ptrdiff_t) n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
	return MP_IO_AGAIN;
    }
    *errPtr = errno;
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
    struct msghdr msg;
    struct iovec iov;
    ssize_t n;

    memset(&msg, 0, sizeof(msg));
    iov.iov_base = buf;
    iov.iov_len = len;
    msg.msg_name = &ss;
    msg.msg_namelen = sizeof(ss);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    do {
	n = recvmsg(sock, &msg, 0);
    } while (n == -1 && errno == EINTR);
    if (n >= 0) {
	*truncatedPtr = (msg.msg_flags & MSG_TRUNC) != 0;
	if (fromPtr != NULL && MpAddrFromSockaddr((struct sockaddr *) &ss,
		fromPtr) != 0) {
	    memset(fromPtr, 0, sizeof(MpAddr));
	}
	return (ptrdiff_t) n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
	return MP_IO_AGAIN;
    }
    *errPtr = errno;
    return MP_IO_ERROR;
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramDestSet --
 *
 *	Converts a numeric address and port to the system's form, once, for
 *	MpDgramSendMany.
 *
 * Results:
 *	0, or an errno value (EINVAL: not a numeric address).
 *
 * Side effects:
 *	Fills *dest.
 *
 *----------------------------------------------------------------------
 */

int
MpDgramDestSet(
    MpDgramDest *dest,
    const MpAddr *to)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = ToSockaddr(to->host, to->port, &ss, &len);

    if (rc != 0) {
	return rc;
    }
    memset(dest, 0, sizeof(MpDgramDest));
    memcpy(dest->sa.bytes, &ss, sizeof(ss) < sizeof(dest->sa.bytes)
	    ? sizeof(ss) : sizeof(dest->sa.bytes));
    dest->len = (int) len;
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramSendMany, MpDgramRecvMany --
 *
 *	Send count datagrams to dest, in order; receive up to count waiting
 *	datagrams. Where the system has them (Linux), one sendmmsg or
 *	recvmmsg call moves many; elsewhere one call each.
 *
 * Results:
 *	SendMany: how many were sent, in order; when fewer than count,
 *	*errPtr is 0 if the next would have blocked (the socket's buffer is
 *	full) or the error that refused it. RecvMany: how many were
 *	received (0: none waits), each in its MpDgramIn (len, truncated when
 *	larger than cap, from), or -1 with *errPtr set.
 *
 * Side effects:
 *	Socket I/O.
 *
 *----------------------------------------------------------------------
 */

#if defined(__linux__) && defined(MSG_WAITFORONE)
#   define MP_HAVE_MMSG 1
#endif

#define MP_DGRAM_MANY 64	/* Datagrams per system call at most. */

int
MpDgramSendMany(
    MpSocket sock,
    const MpDgramDest *dest,
    MpDgramOut *outs,
    int count,
    int *errPtr)
{
    int sent = 0;

    *errPtr = 0;
    while (sent < count) {
#ifdef MP_HAVE_MMSG
	struct mmsghdr hdrs[MP_DGRAM_MANY];
	int i, n = count - sent < MP_DGRAM_MANY ? count - sent
		: MP_DGRAM_MANY, r;

	memset(hdrs, 0, sizeof(struct mmsghdr) * (size_t) n);
	for (i = 0; i < n; i++) {
	    hdrs[i].msg_hdr.msg_name = (void *) dest->sa.bytes;
	    hdrs[i].msg_hdr.msg_namelen = (socklen_t) dest->len;
	    hdrs[i].msg_hdr.msg_iov = outs[sent + i].iov;
	    hdrs[i].msg_hdr.msg_iovlen = (size_t) outs[sent + i].iovcnt;
	}
	do {
	    r = sendmmsg(sock, hdrs, (unsigned) n, MP_DGRAM_SEND_FLAGS);
	} while (r == -1 && errno == EINTR);
#else
	struct msghdr msg;
	ssize_t r;

	memset(&msg, 0, sizeof(msg));
	msg.msg_name = (void *) dest->sa.bytes;
	msg.msg_namelen = (socklen_t) dest->len;
	msg.msg_iov = outs[sent].iov;
	msg.msg_iovlen = (size_t) outs[sent].iovcnt;
	do {
	    r = sendmsg(sock, &msg, MP_DGRAM_SEND_FLAGS);
	} while (r == -1 && errno == EINTR);
	if (r >= 0) {
	    r = 1;
	}
#endif
	if (r <= 0) {
	    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		*errPtr = errno;
	    }
	    break;
	}
	sent += (int) r;
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
#ifdef MP_HAVE_MMSG
    struct mmsghdr hdrs[MP_DGRAM_MANY];
    struct sockaddr_storage froms[MP_DGRAM_MANY];
    struct iovec iovs[MP_DGRAM_MANY];
    int i, r;

    if (count > MP_DGRAM_MANY) {
	count = MP_DGRAM_MANY;
    }
    memset(hdrs, 0, sizeof(struct mmsghdr) * (size_t) count);
    for (i = 0; i < count; i++) {
	iovs[i].iov_base = ins[i].buf;
	iovs[i].iov_len = ins[i].cap;
	hdrs[i].msg_hdr.msg_name = &froms[i];
	hdrs[i].msg_hdr.msg_namelen = sizeof(froms[i]);
	hdrs[i].msg_hdr.msg_iov = &iovs[i];
	hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    do {
	r = recvmmsg(sock, hdrs, (unsigned) count, MSG_DONTWAIT, NULL);
    } while (r == -1 && errno == EINTR);
    if (r < 0) {
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
	    return 0;
	}
	*errPtr = errno;
	return -1;
    }
    for (i = 0; i < r; i++) {
	ins[i].len = hdrs[i].msg_len;
	ins[i].truncated = (hdrs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
	if (MpAddrFromSockaddr((struct sockaddr *) &froms[i],
		&ins[i].from) != 0) {
	    memset(&ins[i].from, 0, sizeof(MpAddr));
	}
    }
    return r;
#else
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
    }
    return i;
#endif
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramSetHops, MpDgramSetLoop --
 *
 *	Change the hop limit (TTL) of sent datagrams, or whether they are
 *	looped back, on an open group socket of family 4 or 6.
 *
 * Results:
 *	0, or an errno value.
 *
 *----------------------------------------------------------------------
 */

int
MpDgramSetHops(
    MpSocket sock,
    int family,
    int ttl)
{
    unsigned char c = (unsigned char) ttl;
    int rc = (family == 4)
	    ? setsockopt(sock, IPPROTO_IP, IP_MULTICAST_TTL, &c, sizeof(c))
	    : setsockopt(sock, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl,
		sizeof(ttl));

    return rc == 0 ? 0 : errno;
}

int
MpDgramSetLoop(
    MpSocket sock,
    int family,
    int loop)
{
    unsigned char c = (unsigned char) (loop != 0);
    int v = (loop != 0);
    int rc = (family == 4)
	    ? setsockopt(sock, IPPROTO_IP, IP_MULTICAST_LOOP, &c, sizeof(c))
	    : setsockopt(sock, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v,
		sizeof(v));

    return rc == 0 ? 0 : errno;
}
