/*
 * mpTls.h --
 *
 *	TLS for members: a context made from a listener's (or an outbound
 *	link's) -tls options (mpTlsContext.c), and the TLS transport
 *	(mpTransportTls.c) that a connection switches to once accepted. Only
 *	these two files call OpenSSL's TLS functions; the core sees a
 *	transport (mpTransport.h) and a context handle.
 */

#ifndef MP_TLS_H
#define MP_TLS_H

#include "mpTransport.h"

/*
 * Largest plaintext in one TLS record: the TLS transport hands OpenSSL at
 * most this much per write, so a recipient's small queued messages leave
 * as few records as possible.
 */

#define MP_TLS_RECORD_MAX 16384

MODULE_SCOPE const MpTransportType mpTlsTransport;

/*
 * Contexts (mpTlsContext.c). A context is reference counted: the listener
 * holds one, and every connection made from it holds OpenSSL's own
 * reference on the SSL_CTX it started with, so a reload changes what new
 * connections get only.
 */

MODULE_SCOPE int	MpTlsContextNew(Tcl_Interp *interp, Tcl_Obj *options,
			    int server, MpTlsContext **ctxPtr);
MODULE_SCOPE void	MpTlsContextRef(MpTlsContext *ctx);
MODULE_SCOPE void	MpTlsContextUnref(MpTlsContext *ctx);
MODULE_SCOPE int	MpTlsContextReload(Tcl_Interp *interp,
			    MpTlsContext *ctx);
MODULE_SCOPE void *	MpTlsContextNewSession(MpTlsContext *ctx,
			    MpSocket fd, int *errPtr);
MODULE_SCOPE const char *MpTlsContextServerName(const MpTlsContext *ctx);
MODULE_SCOPE void	MpTlsContextSetServerName(MpTlsContext *ctx,
			    const char *name);
MODULE_SCOPE Tcl_Obj *	MpTlsBuildInfo(void);

/*
 * Connections (mpTransportTls.c).
 */

MODULE_SCOPE int	MpTlsStart(MpConn *conn, MpTlsContext *ctx,
			    int *errPtr);
MODULE_SCOPE int	MpConnIsTls(const MpConn *conn);
MODULE_SCOPE Tcl_Obj *	MpTlsPeerInfo(const MpConn *conn);
MODULE_SCOPE int	MpTlsKernelSend(const MpConn *conn);
MODULE_SCOPE const char *MpTlsFailure(const MpConn *conn);

#endif /* MP_TLS_H */
