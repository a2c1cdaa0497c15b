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
    struct sockaddr_storage ss;
    socklen_t len;
    unsigned index = 0;
    int fd, on = 1, family, fam, fl, rc;
    int ttl = opts->ttl < 0 ? 1 : opts->ttl;
    int loop = opts->loop < 0 ? 1 : opts->loop;

    if (!MpDgramIsMulticast(group)
	    || ToSockaddr(group, port, &ss, &len) != 0) {
	*errPtr = EINVAL;
	return -1;
    }
    family = ss.ss_family;
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
    fd = MpSockMoveHigh(fd);	/* Above the script's descriptors. */
    if (opts->reuse != 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1) {
	goto fail;
    }

    /*
     * Not SO_REUSEPORT: Linux then hands each datagram to one socket of
     * those that set it, whichever interface it came on, where every
     * socket bound to the group must get each (multicastnet-3.2, 6.4).
     */

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
    fam = (family == AF_INET) ? 4 : 6;
    if ((rc = MpDgramMembership(fd, group, opts->source, index, 1)) != 0
	    || (rc = MpDgramSetHops(fd, fam, ttl)) != 0
	    || (rc = MpDgramSetLoop(fd, fam, loop)) != 0
	    || (index != 0 && (rc = MpDgramSendIf(fd, fam, index)) != 0)) {
	errno = rc;
	goto fail;
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
 * MpDgramIfIndex, MpDgramMembership, MpDgramSendIf --
 *
 *	The steps of MpDgramSetInterface (generic/mpDgramIface.c): the
 *	index of the interface that has an address; join or leave a group
 *	(from source only, when not NULL) on an interface (0: the one the
 *	routing table picks); send by an interface (0: likewise).
 *
 * Results:
 *	0, or the system's error (EADDRNOTAVAIL: no interface has the
 *	address; EINVAL: a bad group or source).
 *
 * Side effects:
 *	MpDgramMembership sends the join or leave (IGMP or MLD).
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
    const char *source,		/* Or NULL. */
    unsigned index,
    int join)			/* 1 join, 0 leave. */
{
    struct sockaddr_storage ss, src;
    socklen_t len, srcLen;
    int level;

    if (ToSockaddr(group, 0, &ss, &len) != 0) {
	return EINVAL;
    }
    level = (ss.ss_family == AF_INET) ? IPPROTO_IP : IPPROTO_IPV6;
    if (source != NULL) {
	struct group_source_req gsr;

	if (ToSockaddr(source, 0, &src, &srcLen) != 0
		|| src.ss_family != ss.ss_family) {
	    return EINVAL;
	}
	memset(&gsr, 0, sizeof(gsr));
	gsr.gsr_interface = index;
	memcpy(&gsr.gsr_group, &ss, len);
	memcpy(&gsr.gsr_source, &src, srcLen);
	return setsockopt(sock, level, join ? MCAST_JOIN_SOURCE_GROUP
		: MCAST_LEAVE_SOURCE_GROUP, &gsr, sizeof(gsr)) == 0 ? 0 : errno;
    } else {
	struct group_req gr;

	memset(&gr, 0, sizeof(gr));
	gr.gr_interface = index;
	memcpy(&gr.gr_group, &ss, len);
	return setsockopt(sock, level, join ? MCAST_JOIN_GROUP
		: MCAST_LEAVE_GROUP, &gr, sizeof(gr)) == 0 ? 0 : errno;
    }
}

int
MpDgramSendIf(
    MpSocket sock,
    int family,			/* 4 or 6. */
    unsigned index)
{
    if (family == 4) {
	struct ip_mreqn mr;

	memset(&mr, 0, sizeof(mr));
	mr.imr_ifindex = (int) index;
	return setsockopt(sock, IPPROTO_IP, IP_MULTICAST_IF, &mr,
		sizeof(mr)) == 0 ? 0 : errno;
    }
    return setsockopt(sock, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index,
	    sizeof(index)) == 0 ? 0 : errno;
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
 *	recvmmsg call moves many; elsewhere one call each. On Linux, a run
 *	of datagrams of one size (the last of the run may be shorter) that
 *	fits an Ethernet frame goes as one send the kernel cuts into
 *	datagrams (UDP_SEGMENT): one trip through the network stack for the
 *	run instead of one per datagram. Receivers see the same datagrams.
 *	If the system refuses such a send once, the run goes again datagram
 *	by datagram, and runs are not made again in this process.
 *
 * Results:
 *	SendMany: how many were sent, in order (each marked segmented or
 *	not); when fewer than count, *errPtr is 0 if the next would have
 *	blocked (the socket's buffer is full) or the error that refused it.
 *	RecvMany: how many buffers were filled (0: none waits), each in its
 *	MpDgramIn (len; segment, on a socket made to coalesce; truncated
 *	when larger than cap; from), or -1 with *errPtr set.
 *
 * Side effects:
 *	Socket I/O.
 *
 *----------------------------------------------------------------------
 */

#if defined(__linux__) && defined(MSG_WAITFORONE)
#   define MP_HAVE_MMSG 1
#   ifndef SOL_UDP
#	define SOL_UDP 17
#   endif
#   ifndef UDP_SEGMENT
#	define UDP_SEGMENT 103	/* Linux 4.18 on. */
#   endif
#   ifndef UDP_GRO
#	define UDP_GRO 104	/* Linux 5.0 on. */
#   endif
#endif

#define MP_DGRAM_MANY 64	/* Datagrams per system call at most. */
#define MP_DGRAM_SEG_MAX 1452	/* Largest datagram sent in a run: an
				 * Ethernet frame's payload less the IPv6 and
				 * UDP headers. */
#define MP_DGRAM_RUN_BYTES 64000 /* Bytes of one run at most. */

#ifdef MP_HAVE_MMSG
static int segmentOff = 0;	/* The system refused a run: none again. */
#endif

/*
 * OutLen --
 *	The bytes of one datagram to send.
 */

static size_t
OutLen(
    const MpDgramOut *out)
{
    size_t len = 0;
    int i;

    for (i = 0; i < out->iovcnt; i++) {
	len += MP_IOV_LEN(out->iov[i]);
    }
    return len;
}

int
MpDgramSendMany(
    MpSocket sock,
    const MpDgramDest *dest,
    MpDgramOut *outs,
    int count,
    int runs,			/* Runs of one size may go as one send. */
    int *errPtr)
{
    int sent = 0;

    *errPtr = 0;
    while (sent < count) {
#ifdef MP_HAVE_MMSG
	struct mmsghdr hdrs[MP_DGRAM_MANY];
	struct iovec iovs[MP_DGRAM_MANY * 2];
	union {
	    char buf[CMSG_SPACE(sizeof(unsigned short))];
	    struct cmsghdr align;
	} ctl[MP_DGRAM_MANY];
	int per[MP_DGRAM_MANY];	/* Datagrams in each message. */
	int h = 0, k = sent, nio = 0, r, j;

	/*
	 * One message per datagram, or per run of datagrams of one size;
	 * MP_DGRAM_MANY datagrams at most per call.
	 */

	memset(hdrs, 0, sizeof(hdrs));
	while (k < count && k - sent < MP_DGRAM_MANY) {
	    size_t size = OutLen(&outs[k]), total = size;
	    int m = 1, d;

	    if (runs && !segmentOff && size > 0
		    && size <= MP_DGRAM_SEG_MAX) {
		while (k + m < count && k + m - sent < MP_DGRAM_MANY) {
		    size_t next = OutLen(&outs[k + m]);

		    if (next == 0 || next > size
			    || total + next > MP_DGRAM_RUN_BYTES) {
			break;
		    }
		    total += next;
		    m++;
		    if (next < size) {
			break;		/* A shorter one ends a run. */
		    }
		}
	    }
	    hdrs[h].msg_hdr.msg_name = (void *) dest->sa.bytes;
	    hdrs[h].msg_hdr.msg_namelen = (socklen_t) dest->len;
	    hdrs[h].msg_hdr.msg_iov = &iovs[nio];
	    for (d = 0; d < m; d++) {
		int v;

		for (v = 0; v < outs[k + d].iovcnt; v++) {
		    iovs[nio++] = outs[k + d].iov[v];
		}
	    }
	    hdrs[h].msg_hdr.msg_iovlen =
		    (size_t) (&iovs[nio] - hdrs[h].msg_hdr.msg_iov);
	    if (m > 1) {
		struct cmsghdr *cm;
		unsigned short seg = (unsigned short) size;

		memset(&ctl[h], 0, sizeof(ctl[h]));
		hdrs[h].msg_hdr.msg_control = ctl[h].buf;
		hdrs[h].msg_hdr.msg_controllen = sizeof(ctl[h].buf);
		cm = CMSG_FIRSTHDR(&hdrs[h].msg_hdr);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	    }
	    per[h++] = m;
	    k += m;
	}
	do {
	    r = sendmmsg(sock, hdrs, (unsigned) h, MP_DGRAM_SEND_FLAGS);
	} while (r == -1 && errno == EINTR);
	if (r == -1 && per[0] > 1 && errno != EAGAIN && errno != EWOULDBLOCK
		&& errno != ENOBUFS) {
	    segmentOff = 1;		/* Refused: datagram by datagram. */
	    continue;
	}
	if (r <= 0) {
	    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		*errPtr = errno;
	    }
	    break;
	}
	for (j = 0; j < r && j < h; j++) {
	    int d;

	    for (d = 0; d < per[j]; d++) {
		outs[sent + d].segmented = (per[j] > 1);
	    }
	    sent += per[j];
	}
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
	if (r < 0) {
	    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
		*errPtr = errno;
	    }
	    break;
	}
	outs[sent++].segmented = 0;
#endif
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
    union {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
    } ctl[MP_DGRAM_MANY];
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
	hdrs[i].msg_hdr.msg_control = ctl[i].buf;
	hdrs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
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
	struct cmsghdr *cm;

	ins[i].len = hdrs[i].msg_len;
	ins[i].truncated = (hdrs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
	ins[i].segment = 0;
	for (cm = CMSG_FIRSTHDR(&hdrs[i].msg_hdr); cm != NULL;
		cm = CMSG_NXTHDR(&hdrs[i].msg_hdr, cm)) {
	    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO
		    && cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
		int seg;

		memcpy(&seg, CMSG_DATA(cm), sizeof(seg));
		if (seg > 0 && (size_t) seg < ins[i].len) {
		    ins[i].segment = (size_t) seg;
		}
	    }
	}
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
	ins[i].segment = 0;
    }
    return i;
#endif
}

/*
 *----------------------------------------------------------------------
 *
 * MpDgramCoalesce --
 *
 *	Asks the system to hand the datagrams of one sender that arrive
 *	together in one buffer (Linux's UDP_GRO), which MpDgramRecvMany
 *	reports with their size. Only for readers that split them
 *	(MpDgramIn.segment): a group socket channel reads one datagram per
 *	read and never asks.
 *
 * Results:
 *	0, or an errno value (the system has no such option: datagrams
 *	come one per buffer, as before).
 *
 *----------------------------------------------------------------------
 */

int
MpDgramCoalesce(
    MpSocket sock)
{
#ifdef MP_HAVE_MMSG
    int on = 1;

    return setsockopt(sock, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0 ? 0
	    : errno;
#else
    (void) sock;
    return ENOTSUP;
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
