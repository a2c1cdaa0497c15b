/*
 * mpSock.h --
 *
 *	The narrow socket interface the core uses. Each platform implements it
 *	in one file (unix/mpSockUnix.c, win/mpSockWin.c), with the address
 *	conversion both share in generic/mpAddr.c; the rest of the generic
 *	code never includes a system socket header itself.
 *
 *	Error codes are the platform's own (errno on Unix, WSAGetLastError() on
 *	Windows) and are only ever interpreted through the functions below.
 */

#ifndef MP_SOCK_H
#define MP_SOCK_H

#include <stddef.h>

#ifdef _WIN32
#   include <winsock2.h>
#   include <ws2tcpip.h>
typedef SOCKET MpSocket;
#   define MP_INVALID_SOCKET INVALID_SOCKET
typedef WSABUF MpIovec;
#   define MP_IOV_SET(iov, base, n) \
	((iov).buf = (char *) (base), (iov).len = (ULONG) (n))
#   define MP_IOV_LEN(iov) ((size_t) (iov).len)
#   define MP_IOV_BASE(iov) ((const char *) (iov).buf)
#else
#   include <sys/types.h>
#   include <sys/uio.h>
typedef int MpSocket;
#   define MP_INVALID_SOCKET (-1)
typedef struct iovec MpIovec;
#   define MP_IOV_SET(iov, base, n) \
	((iov).iov_base = (void *) (base), (iov).iov_len = (size_t) (n))
#   define MP_IOV_LEN(iov) ((iov).iov_len)
#   define MP_IOV_BASE(iov) ((const char *) (iov).iov_base)
#endif

#ifndef MODULE_SCOPE
#   define MODULE_SCOPE extern
#endif

/*
 * Longest numeric address text we ever produce (IPv6 with scope).
 */

#define MP_ADDRSTRLEN 64

/*
 * The largest number of iovec entries one write call is given.
 */

#define MP_IOV_MAX 64

/*
 * A peer or local address in numeric form.
 */

typedef struct MpAddr {
    char host[MP_ADDRSTRLEN];	/* Numeric address, IPv4-mapped IPv6
				 * addresses shown as plain IPv4. */
    int port;			/* Port number in host order. */
    int family;			/* 4 or 6. */
    unsigned char raw[16];	/* Address bytes in network order: 4 used for
				 * IPv4 (also for mapped), 16 for IPv6. */
} MpAddr;

/*
 * Most addresses MpSockResolve returns for one name.
 */

#define MP_RESOLVE_MAX 16

/*
 * Flags for MpSockListen.
 */

#define MP_LISTEN_REUSEPORT 1

/*
 * Result codes of the non-blocking I/O calls besides a byte count.
 */

#define MP_IO_AGAIN (-1)	/* Would block: try again when ready. */
#define MP_IO_ERROR (-2)	/* Failed: error code in *errPtr. */

MODULE_SCOPE int	MpSockStartup(void);
MODULE_SCOPE int	MpSockListen(const char *host, int port, int backlog,
			    int flags, MpSocket *sockPtr, int *errPtr);
MODULE_SCOPE int	MpSockAccept(MpSocket listener, MpSocket *sockPtr,
			    MpAddr *peerPtr, int *errPtr);
MODULE_SCOPE int	MpSockResolve(const char *host, int port,
			    MpAddr *addrs, int max, int *errPtr);
MODULE_SCOPE int	MpSockConnectAddr(const MpAddr *addr,
			    MpSocket *sockPtr, int *inProgressPtr,
			    int *errPtr);
MODULE_SCOPE int	MpSockConnectResult(MpSocket sock);

/*
 * MpSockConnectResult: the connection is still in progress (not an error
 * code of either platform).
 */

#define MP_CONNECT_PENDING (-1)
MODULE_SCOPE ptrdiff_t	MpSockRead(MpSocket sock, void *buf, size_t len,
			    int *errPtr);
MODULE_SCOPE ptrdiff_t	MpSockWritev(MpSocket sock, MpIovec *iov, int iovcnt,
			    int *errPtr);
MODULE_SCOPE void	MpSockClose(MpSocket sock);
MODULE_SCOPE void	MpSockAbort(MpSocket sock);
MODULE_SCOPE void	MpSockShutdownWrite(MpSocket sock);
MODULE_SCOPE int	MpSockWait(MpSocket sock, int events, int *errPtr);
MODULE_SCOPE int	MpSockPosixError(int err);

/*
 * Events for MpSockWait (the same bits as mpPoller.h's MP_EV_*).
 */

#define MP_WAIT_READ 1
#define MP_WAIT_WRITE 2
MODULE_SCOPE int	MpSockLocalAddr(MpSocket sock, MpAddr *addrPtr);
MODULE_SCOPE int	MpSockParseAddr(const char *text, MpAddr *addrPtr);

/*
 * For the platform files (generic/mpAddr.c).
 */

struct sockaddr;
MODULE_SCOPE int	MpAddrFromSockaddr(const struct sockaddr *sa,
			    MpAddr *addrPtr);
MODULE_SCOPE int	MpSockIsExhausted(int err);
MODULE_SCOPE const char *MpSockErrorText(int err);
MODULE_SCOPE const char *MpSockErrorId(int err);
MODULE_SCOPE long	MpSockRaiseFdLimit(void);
MODULE_SCOPE int	MpSockFdFloor(void);
MODULE_SCOPE MpSocket	MpSockMoveHigh(MpSocket sock);

#endif /* MP_SOCK_H */
