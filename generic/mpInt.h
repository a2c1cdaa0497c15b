/*
 * mpInt.h --
 *
 *	Internal declarations shared by the files of the multiplexer
 *	extension: the per-thread loop, the per-instance state, clients,
 *	shared output buffers, filters and framing. Only Multiplexer_Init is
 *	exported; everything here is MODULE_SCOPE.
 */

#ifndef MP_INT_H
#define MP_INT_H

#include <tcl.h>
#include <stddef.h>
#include <string.h>

#ifndef MODULE_SCOPE
#   ifdef __cplusplus
#	define MODULE_SCOPE extern "C"
#   else
#	define MODULE_SCOPE extern
#   endif
#endif

#include "mpSock.h"
#include "mpPoller.h"
#include "mpTransport.h"
#include "mpFrame.h"
#include "mpBuf.h"

#ifndef PACKAGE_VERSION
#   define PACKAGE_VERSION "0.4"
#endif

/*
 * Tcl 9 readiness: Tcl_Size exists in 8.7/9 headers only.
 */

#ifndef TCL_SIZE_MAX
typedef int Tcl_Size;
#   define TCL_SIZE_MAX INT_MAX
#endif

/*
 * Memory for the package's own records (clients, instances, lists).
 * Normally Tcl's allocator. With MP_SYSTEM_ALLOC (set by the builds of
 * make test-asan and make test-valgrind) the C library's: Tcl's threaded
 * allocator keeps small freed blocks in caches of its own, where
 * AddressSanitizer and valgrind cannot see a use after free, an overrun
 * or a leak. Like
 * ckalloc, both panic when memory is exhausted. Blocks handed to Tcl to
 * free (events for Tcl_QueueEvent) must come from ckalloc itself.
 */

#ifdef MP_SYSTEM_ALLOC
#   include <stdlib.h>
static inline void *
MpSysRealloc(
    void *ptr,
    size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (p == NULL) {
	Tcl_Panic("multiplexer: unable to allocate %lu bytes",
		(unsigned long) size);
    }
    return p;
}
#   define MpAlloc(size)	MpSysRealloc(NULL, (size))
#   define MpRealloc(ptr, size)	MpSysRealloc((ptr), (size))
#   define MpFree(ptr)		free(ptr)
#else
#   define MpAlloc(size)	((void *) ckalloc(size))
#   define MpRealloc(ptr, size)	((void *) ckrealloc((char *) (ptr), (size)))
#   define MpFree(ptr)		ckfree((char *) (ptr))
#endif

typedef struct MpLoop MpLoop;
typedef struct MpInstance MpInstance;
typedef struct MpClient MpClient;
typedef struct MpLinger MpLinger;
typedef struct MpListener MpListener;
typedef struct MpLogLine MpLogLine;
typedef struct MpWsClient MpWsClient;
typedef struct MpWsOptions MpWsOptions;
typedef struct MpTlsContext MpTlsContext;

/*
 * A descriptor watched by the per-thread loop. It is embedded in the
 * structure that owns the descriptor (client, listener, outbound link).
 */

typedef void (MpIoProc)(void *clientData, int mask);

typedef struct MpWatch {
    MpSocket fd;		/* The descriptor. */
    int mask;			/* Interest currently registered with the
				 * poller (MP_EV_*). */
    int registered;		/* 1 while known to the loop's table. */
    MpIoProc *proc;		/* Called with the ready mask. */
    void *clientData;		/* Its argument. */
} MpWatch;

/*
 * A connection: its watch (descriptor and poller interest) and the
 * transport its bytes go through (mpTransport.h).
 */

struct MpConn {
    MpWatch watch;
    const MpTransportType *type;
    void *state;		/* The transport's own, or NULL. */
};

/*
 * Log levels, in tcllib logger's order.
 */

enum {
    MP_LOG_DEBUG, MP_LOG_INFO, MP_LOG_NOTICE, MP_LOG_WARN, MP_LOG_ERROR,
    MP_LOG_CRITICAL
};

/*
 * Filter kinds. Each instance has one priority-ordered list per kind.
 */

enum {
    MP_FILTER_DATA, MP_FILTER_ACCESS, MP_FILTER_EXIT, MP_FILTER_OUTPUT,
    MP_FILTER_KINDS
};

typedef struct MpFilter {
    Tcl_Obj *cmdObj;		/* Command prefix (a list), refcounted. */
    int priority;		/* 0..100, lower runs first. */
} MpFilter;

typedef struct MpFilterList {
    MpFilter *items;
    int count;
    int capacity;
} MpFilterList;

/*
 * Outcomes of running a chain of filters.
 */

enum {
    MP_CHAIN_PASS,		/* Data (possibly rewritten) goes on. */
    MP_CHAIN_DROP,		/* A filter returned -code break. */
    MP_CHAIN_DENY		/* Access denied (-1 or break). */
};

/*
 * Why a client went away. The text is what exit filters and Reason see.
 */

enum {
    MP_REASON_NONE, MP_REASON_EOF, MP_REASON_ERROR, MP_REASON_RESET,
    MP_REASON_CLOSED, MP_REASON_KICKED, MP_REASON_TIMEOUT,
    MP_REASON_OVERFLOW, MP_REASON_TOOBIG, MP_REASON_DESTROY,
    MP_REASON_DENIED, MP_REASON_CONNECTFAILED, MP_REASON_PROTOCOL
};

/*
 * Client codecs: how a client's input is cut into messages and how
 * messages are encoded for it. MP_CODEC_STREAM follows the instance's
 * Config framing (raw, line, length); MP_CODEC_WS is a WebSocket member
 * (mpWsClient.c). Each codec in use gets one shared encoding of a message
 * per fan-out (mpFanout.c).
 */

enum { MP_CODEC_STREAM, MP_CODEC_WS, MP_CODECS };

#include "mpCodec.h"

/*
 * Listener protocols (Init -protocol).
 */

enum { MP_PROTO_TCP, MP_PROTO_WEBSOCKET };

/*
 * What a WebSocket message sent to a client is marked as (Config
 * wsmessagetype): text when its bytes are valid UTF-8 (auto), or always
 * text or binary.
 */

enum { MP_WSTYPE_AUTO, MP_WSTYPE_TEXT, MP_WSTYPE_BINARY };

/*
 * Policies.
 */

enum { MP_OVERFLOW_DROP, MP_OVERFLOW_DISCONNECT };
enum { MP_ROUTE_ALL, MP_ROUTE_GROUPS };

/*
 * One allow/deny entry: an address prefix.
 */

typedef struct MpCidr {
    int family;			/* 4 or 6. */
    int bits;			/* Prefix length. */
    unsigned char raw[16];	/* Network-order address bytes. */
} MpCidr;

typedef struct MpCidrList {
    MpCidr *items;
    int count;
    Tcl_Obj *specObj;		/* The list as the user gave it. */
} MpCidrList;

/*
 * Instance configuration. Defaults are set in MpConfigInit.
 */

typedef struct MpConfig {
    int sendToOrigin;		/* Sender gets its own messages too. */
    int logLevel;		/* MP_LOG_* threshold. */
    int framing;		/* MP_FRAME_RAW / LINE / LENGTH. */
    size_t maxMessage;		/* Longest message in line/length mode. */
    size_t maxQueue;		/* Output queue bound per client, bytes. */
    int overflow;		/* MP_OVERFLOW_*. */
    long idleTimeout;		/* Milliseconds, 0 = none. */
    long linger;		/* Milliseconds an orderly close may take
				 * to deliver the queue, 0 = none. */
    int maxClients;		/* 0 = limited by descriptors only. */
    int maxPerAddr;		/* Clients per peer address, 0 = any. */
    int route;			/* MP_ROUTE_*. */
    MpCidrList allow;		/* Empty = everyone. */
    MpCidrList deny;
    long handshakeTimeout;	/* Milliseconds a connection may take to
				 * complete its opening handshake
				 * (WebSocket upgrade). */
    long pingInterval;		/* Milliseconds between pings of a silent
				 * WebSocket client, 0 = none. */
    int wsMessageType;		/* MP_WSTYPE_*. */
} MpConfig;

/*
 * Counters reported by Stats.
 */

typedef struct MpStats {
    Tcl_WideUInt accepted;	/* Connections admitted. */
    Tcl_WideUInt refused;	/* Refused: limits, allow/deny, access
				 * filters. */
    Tcl_WideUInt disconnected;	/* Clients gone, whatever the reason. */
    Tcl_WideUInt messagesIn;	/* Messages (chunks in raw) read. */
    Tcl_WideUInt bytesIn;
    Tcl_WideUInt messagesOut;	/* Messages queued for a recipient. */
    Tcl_WideUInt bytesOut;	/* Bytes written to sockets. */
    Tcl_WideUInt drops;		/* Messages dropped for a full queue. */
    Tcl_WideUInt filterDrops;	/* Messages dropped by a filter. */
    Tcl_WideUInt overflows;	/* Clients disconnected for a full queue. */
    Tcl_WideUInt tooBig;	/* Clients disconnected for maxmessage. */
    Tcl_WideUInt timeouts;	/* Clients disconnected for idleness. */
    Tcl_WideUInt acceptErrors;	/* accept() failures (EMFILE ...). */
    size_t queueHighWater;	/* Largest queue seen, bytes. */
    Tcl_WideUInt logDropped;	/* Log lines dropped: delivery queue full
				 * (mpLog.c). */
    int lingering;		/* Sockets of departed clients still being
				 * closed (Config linger). */
    Tcl_WideUInt httpRequests;	/* Plain HTTP requests answered by a
				 * WebSocket listener. */
    Tcl_WideUInt handshakeFailures; /* Upgrade requests refused, heads too
				 * long or malformed, handshake timeouts. */
    Tcl_WideUInt wsProtocolErrors; /* WebSocket clients closed for
				 * breaking RFC 6455 (1002, 1007). */
    Tcl_WideUInt pingTimeouts;	/* WebSocket clients closed for not
				 * answering a ping (Config pinginterval). */
    Tcl_WideUInt tlsHandshakes;	/* TLS handshakes completed. */
    Tcl_WideUInt tlsHandshakeFailures; /* TLS handshakes failed or timed
				 * out (garbage, refused certificates). */
} MpStats;

/*
 * The listening socket of an instance.
 */

struct MpListener {
    MpWatch watch;
    MpInstance *mp;
    MpListener *nextListener;	/* The instance's listeners, in the order
				 * Init opened them. */
    int refCount;		/* Held by the instance while open and by
				 * an accept loop in progress. */
    int closed;			/* Closed: no longer accepting. */
    int protocol;		/* MP_PROTO_*. */
    MpWsOptions *wsOptions;	/* WebSocket listeners: -path ... (shared
				 * with the clients still in their
				 * handshake), else NULL. */
    MpTlsContext *tls;		/* TLS listeners: certificates ... (-tls),
				 * else NULL. */
    MpAddr local;		/* Bound address and port. */
    int paused;			/* Not accepting for now. */
    int fdStarved;		/* Accept failed for lack of descriptors;
				 * retry by timer. */
    Tcl_TimerToken retryTimer;
    Tcl_Channel chan;		/* Channel view (returned by Init). */
};

/*
 * A group (room) and its members.
 */

typedef struct MpGroup {
    Tcl_HashEntry *hPtr;	/* In MpInstance.groups. */
    Tcl_HashTable members;	/* MpClient* -> NULL. */
} MpGroup;

/*
 * How a message from another node of the cluster (mpCluster.c) is
 * delivered here (MpFanoutRemote): the name output filters see as its
 * sender ("NODE/CHAN"), and, with groups set, the local groups whose
 * members get it (none when groupCount is 0).
 */

typedef struct MpRemoteRoute {
    Tcl_Obj *fromName;
    int groups;
    MpGroup **groupList;
    int groupCount;
} MpRemoteRoute;

typedef struct MpCluster MpCluster;

/*
 * Client states.
 */

enum {
    MP_CLIENT_CONNECTING,	/* Outbound link, connect in progress. */
    MP_CLIENT_OPEN,
    MP_CLIENT_CLOSING,		/* Being torn down (exit filters run). */
    MP_CLIENT_DEAD		/* Gone; freed when the last ref drops. */
};

struct MpClient {
    /*
     * What every fan-out reads or writes for each recipient comes first,
     * together (Collect, SendTo, the flush): with thousands of clients
     * each of these records is cold in the cache by the time it is used.
     */

    MpConn conn;		/* Its connection (socket and transport). */
    MpInstance *mp;
    MpClient *prev, *next;	/* Instance list, least recently active
				 * first. */
    int state;
    int codec;			/* MP_CODEC_*. */
    int admitted;		/* Access filters passed: exit filters
				 * will run. */
    int pendingClose;		/* MP_REASON_* to close with at the next
				 * flush (set where Tcl code must not run),
				 * or 0. */
    int onFlushList;
    Tcl_WideUInt fanoutStamp;	/* Last broadcast that reached it. */
    Tcl_WideUInt directCycle;	/* Loop flushCycle of its last direct
				 * write by a fan-out (mpFanout.c). */
    Tcl_WideUInt writeEpoch;	/* Loop epoch of the last channel write
				 * that filled Tcl's channel buffer (more
				 * of the same puts may follow), or 0. */
    MpOutQueue out;		/* Pending output. */
    MpClient *flushPrev, *flushNext; /* Loop's pending-flush list. */

    int refCount;
    int reason;			/* MP_REASON_* once closing. */
    int errCode;		/* Socket error behind MP_REASON_ERROR. */
    int outbound;		/* Made by Connect. */
    int groupCount;		/* Groups joined: groups[0..groupCount). */
    int groupCap;
    struct MpGroup **groups;	/* The groups it is in, so routing and
				 * leaving never scan every group. */
    int sendShut;		/* close $chan write: 1 = shut the sending
				 * side once the queue is written, 2 = shut.
				 * It is sent nothing more; it may still
				 * send. */
    int reading;		/* Inside its read handler. */
    int readSuspended;		/* Read interest dropped while a nested
				 * event loop runs inside the handler. */
    int scriptInput;		/* A script read its channel: its input
				 * goes to the script, no longer to the
				 * filters (MpClientTakeInput). */
    int scriptWantsRead;	/* With scriptInput: the channel wants to
				 * know when input is waiting (fileevent,
				 * a background chan copy). */
    int inputEnded;		/* With scriptInput: end of file (or an
				 * error) was read. */
    Tcl_Obj *reasonObj;		/* Extra text (kick reason). */
    Tcl_WideUInt id;		/* Unique number, names the channel. */
    Tcl_Channel chan;		/* Created on first need. */
    Tcl_Obj *nameObj;		/* Channel name, created on first need. */
    MpAddr peer;
    Tcl_Obj *addrObj;		/* Cached Tcl forms of the peer. */
    Tcl_Obj *portObj;
    MpFrameIn in;		/* Partial input message. */
    Tcl_WideInt lastActive;	/* Milliseconds (monotonic). */
    Tcl_Obj *connectCallback;	/* Outbound: -command prefix. */
    Tcl_Obj *dataObj;		/* Dict of ${mp}::Data values, or NULL. */
    Tcl_TimerToken connectTimer;
    Tcl_WideUInt drops;		/* Messages dropped for this client. */
    MpClient *exitingNext;	/* See MpInstance.exiting. */
    MpWsClient *ws;		/* WebSocket members: handshake, frame
				 * parser, close state (mpWsClient.c). */
    int tlsHandshaking;		/* A TLS listener's client before its TLS
				 * handshake ended (mpTlsClient.c). */
    Tcl_TimerToken tlsTimer;	/* Config handshaketimeout for it. */
    MpWsOptions *tlsThenWs;	/* wss: the WebSocket handshake that comes
				 * next (a reference), or NULL. */
};

struct MpInstance {
    Tcl_Interp *interp;
    Tcl_Namespace *nsPtr;
    Tcl_Obj *nameObj;		/* "::multiplexer::mpN". */
    int refCount;
    int destroyed;		/* Teardown started. */
    int nsDeleting;		/* Namespace deletion requested. */
    MpClient *exiting;		/* Clients whose exit filters are running
				 * (linked by exitingNext), still found by
				 * name after their channel is gone. */
    MpLoop *loop;
    MpListener *listeners;	/* Listening sockets (Init), first opened
				 * first; NULL until Init. */
    int wsAdmitted;		/* Admitted WebSocket clients (spans are
				 * only forwarded while there are none). */
    int tlsAdmitted;		/* Admitted TLS clients. */
    Tcl_TimerToken pingTimer;	/* Pings silent WebSocket clients. */
    MpClient *first, *last;	/* Clients. */
    int clientCount;
    Tcl_HashTable peerCounts;	/* Peer address text -> count. */
    Tcl_HashTable groups;	/* Group name -> MpGroup*. */
    MpFilterList filters[MP_FILTER_KINDS];
    MpConfig config;
    MpStats stats;
    Tcl_Obj *logObj;		/* Logger service namespace, or NULL. */
    Tcl_Obj *logCommand;	/* Config logcommand prefix, or NULL. */
    MpLogLine *logFirst, *logLast; /* Log lines waiting for delivery by a
				 * Tcl event (mpLog.c). */
    int logCount;		/* Lines in that queue ... */
    size_t logBytes;		/* ... and their bytes of text. */
    int logEventPending;	/* The delivery event is queued (it holds a
				 * reference on the instance). */
    int logClosed;		/* Teardown ended the log (late lines go to
				 * stderr). */
    Tcl_TimerToken idleTimer;
    Tcl_Obj *errorCallback;	/* Background errors of Connect. */
    MpCluster *cluster;		/* Cluster membership (mpCluster.c), or
				 * NULL. */
    struct MpMulticast *multicast; /* Multicast member (mpMulticast.c), or
				 * NULL. */
    MpInstance *loopPrev, *loopNext; /* The loop's live instances (not yet
				 * torn down), for the exit handler. */
};

/*
 * A batch: several messages from one client's read, encoded once per
 * codec in use (MP_CODEC_STREAM: the instance's framing; MP_CODEC_WS: one
 * server frame each) into one buffer per codec, and fanned out together
 * as a span (mpFanout.c), so that a read of many small messages costs one
 * fan-out and one write per recipient. ends[k][i] is the offset just past
 * message i in data[k] (a recipient whose queue cannot take the whole
 * batch gets the messages one by one).
 */

typedef struct MpBatch {
    char *data[MP_CODECS];
    size_t len[MP_CODECS];
    size_t cap[MP_CODECS];
    size_t *ends[MP_CODECS];
    size_t count;		/* Messages in it. */
    size_t endsCap;
    int want[MP_CODECS];	/* Codecs encoded (recipients may exist). */
    size_t bound;		/* Fan out once a buffer holds this much. */
    MpClient *from;		/* The sender, or NULL: messages from other
				 * nodes (MpRemoteBatchAdd). */
    MpInstance *mp;		/* Whose clients get them. */
    Tcl_WideUInt delivered;	/* Recipients times messages fanned out
				 * (MpRemoteBatchFlush). */
} MpBatch;

/*
 * Output of something other than a client (a Redis link, mpRedisLink.c)
 * written when the loop's dispatch round ends, as clients' queued output
 * is: MpLoopScheduleHook lists it, MpLoopFlushAll calls proc once. proc
 * runs no Tcl script.
 */

typedef struct MpFlushHook {
    struct MpFlushHook *next;	/* In the loop's list ... */
    int listed;			/* ... while listed. */
    void (*proc)(void *clientData);
    void *clientData;
} MpFlushHook;

/*
 * Per-thread loop: poller, descriptor table, pending flushes.
 */

#define MP_FIRED_MAX 256
#define MP_READ_CHUNK 65536	/* A TCP client's read (mpStreamCodec). */
#define MP_READ_MAX 262144	/* Largest read of any codec: the size of
				 * MpLoop.readBuf. */

struct MpLoop {
    MpPoller *poller;
    int refCount;		/* Instances using it (and the thread). */
    Tcl_HashTable watches;	/* fd -> MpWatch*. */
    int watchCount;
    int dispatchDepth;		/* Nesting of MpLoopDispatch. */
    MpClient *flushFirst;	/* Clients with queued output to write. */
    int attached;		/* Hooked into Tcl's notifier. */
    int notifyFd;		/* Poller fd given to Tcl, or -1. */
    char *readBuf;		/* MP_READ_MAX bytes of scratch. */
    int readBufBusy;		/* readBuf in use by an outer handler. */
    Tcl_WideUInt fanoutStamp;	/* Counts broadcasts (deduplication). */
    Tcl_WideUInt epoch;		/* Counts returns to the event loop
				 * (dispatch rounds, idle flushes). */
    Tcl_WideUInt flushCycle;	/* Counts MpLoopFlushAll calls: a fan-out
				 * writes a client directly at most once
				 * per cycle, the rest goes out in one
				 * gathered write at the flush. */
    Tcl_WideUInt hookCycle;	/* Counts the runs of the flush hooks: the
				 * first output of a hook's owner after one
				 * may be written at once (mpRedisLink.c,
				 * mpMulticast.c), the rest waits for the
				 * next run. */
    int idleFlushPending;	/* IdleFlushProc is scheduled. */
    int continuePending;	/* A ContinueEvent is queued (mpLoop.c). */
    MpFired fired[MP_FIRED_MAX]; /* What the poller reported last ... */
    int firedCount;		/* ... how many ... */
    int firedPos;		/* ... and the next one to serve. */
    Tcl_WideUInt scriptCalls;	/* Counts calls into Tcl scripts made by
				 * the package (filters, callbacks): a
				 * socket event that ran one ends the
				 * current Tcl event (MpLoopDispatch). */
    int streaming;		/* A read filled the read buffer since the
				 * dispatch last looked. */
    MpClient **recipients;	/* Scratch list for fan-outs that run no
				 * Tcl code (so are never nested). */
    MpBatch batch;		/* Scratch batch (MpBatchBegin) ... */
    int batchBusy;		/* ... in use. */
    int recipientsCap;
    MpLinger *lingerFirst;	/* Sockets of departed clients still being
				 * closed (mpLinger.c). */
    Tcl_TimerToken lingerTimer;	/* Ends lingers whose time is up. */
    Tcl_WideInt lingerDue;	/* When lingerTimer fires. */
    MpInstance *instances;	/* Live instances using this loop. */
    MpFlushHook *hooks;		/* Listed flush hooks. */
    MpSocket *again;		/* Sockets whose transport holds input the
				 * poller cannot see (MpLoopReadAgain) ... */
    int againCount;		/* ... how many ... */
    int againCap;		/* ... and room. */
};

/*
 * mpLoop.c
 */

MODULE_SCOPE MpLoop *	MpLoopAcquire(Tcl_Interp *interp);
MODULE_SCOPE void	MpLoopRelease(MpLoop *loop);
MODULE_SCOPE int	MpLoopWatch(MpLoop *loop, MpWatch *w, int mask);
MODULE_SCOPE void	MpLoopUnwatch(MpLoop *loop, MpWatch *w);
MODULE_SCOPE void	MpLoopDispatch(MpLoop *loop);
MODULE_SCOPE void	MpLoopScheduleFlush(MpLoop *loop, MpClient *c);
MODULE_SCOPE void	MpLoopCancelFlush(MpLoop *loop, MpClient *c);
MODULE_SCOPE void	MpLoopFlushAll(MpLoop *loop);
MODULE_SCOPE void	MpLoopFlushIfIdle(MpLoop *loop);
MODULE_SCOPE void	MpLoopFlushSoon(MpLoop *loop);
MODULE_SCOPE void	MpLoopReadAgain(MpLoop *loop, MpSocket fd);
MODULE_SCOPE void	MpLoopScheduleHook(MpLoop *loop, MpFlushHook *hook);
MODULE_SCOPE void	MpLoopCancelHook(MpLoop *loop, MpFlushHook *hook);
MODULE_SCOPE int	MpLoopAttachEventSource(MpLoop *loop);
MODULE_SCOPE void	MpLoopNoteScript(MpLoop *loop);
MODULE_SCOPE Tcl_WideUInt MpNextChannelId(void);
MODULE_SCOPE void	MpLoopDetachEventSource(MpLoop *loop);

/*
 * mpLinger.c, mpWrite.c
 */

MODULE_SCOPE void	MpLingerStart(MpInstance *mp, MpConn *conn,
			    MpOutQueue *q, int peerDone);
MODULE_SCOPE void	MpLingerForget(MpInstance *mp);
MODULE_SCOPE void	MpLingerCloseAll(MpLoop *loop);
MODULE_SCOPE void	MpLingerDrain(MpLoop *loop);
MODULE_SCOPE int	MpQueueWrite(MpConn *conn, MpOutQueue *q,
			    Tcl_WideUInt *bytesOutPtr, int *errPtr);

/*
 * Platform notifier glue (unix/mpNotifyUnix.c, win/mpNotifyWin.c).
 */

MODULE_SCOPE int	MpNotifyAttach(MpLoop *loop);
MODULE_SCOPE void	MpNotifyDetach(MpLoop *loop);

/*
 * The monotonic clock (unix/mpTimeUnix.c, win/mpTimeWin.c).
 */

MODULE_SCOPE Tcl_WideInt MpNowMs(void);

/*
 * mpInstance.c
 */

MODULE_SCOPE int	MpInstanceCreate(Tcl_Interp *interp, Tcl_Obj **nameObjPtr);
MODULE_SCOPE void	MpInstanceRef(MpInstance *mp);
MODULE_SCOPE void	MpInstanceUnref(MpInstance *mp);
MODULE_SCOPE void	MpInstanceTeardown(MpInstance *mp);
MODULE_SCOPE void	MpInstanceDestroy(MpInstance *mp);
MODULE_SCOPE void	MpInstanceDestroyAll(MpLoop *loop);

/*
 * mpCmd.c, mpCmdSend.c, mpConfig.c, mpCmdGroup.c: the Tcl-facing layer.
 *
 * The rule where the core is entered: no code below this layer runs a Tcl
 * script while it holds a pointer it has not referenced. Every instance
 * command is made by MpCmdCreate, whose command holds a reference on the
 * instance for its lifetime and one more for each call; filters and
 * callbacks are called with references held on the instance, the sender
 * and every recipient (mpFilter.c, mpFanout.c), and each caller re-checks
 * the records' state after the call. Logging runs no script in the core.
 */

MODULE_SCOPE void	MpCmdRegister(MpInstance *mp);
MODULE_SCOPE void	MpCmdCreate(MpInstance *mp, const char *prefix,
			    const char *name, Tcl_ObjCmdProc *proc);
MODULE_SCOPE int	MpCmdRegisterSend(MpInstance *mp, const char *prefix);
MODULE_SCOPE int	MpCmdRegisterGroup(MpInstance *mp, const char *prefix);
MODULE_SCOPE int	MpCmdRegisterData(MpInstance *mp, const char *prefix);
MODULE_SCOPE void	MpConfigInit(MpConfig *cfg);
MODULE_SCOPE void	MpConfigFree(MpConfig *cfg);
MODULE_SCOPE Tcl_ObjCmdProc MpConfigObjCmd;
MODULE_SCOPE MpClient *	MpLookupClient(Tcl_Interp *interp, MpInstance *mp,
			    Tcl_Obj *nameObj);
MODULE_SCOPE int	MpError(Tcl_Interp *interp, const char *code1,
			    const char *code2, const char *fmt, ...)
#if defined(__GNUC__)
			    __attribute__((format(printf, 4, 5)))
#endif
			    ;
MODULE_SCOPE int	MpCheckAlive(Tcl_Interp *interp, MpInstance *mp);
MODULE_SCOPE const char *MpGetBytes(Tcl_Interp *interp, Tcl_Obj *objPtr,
			    size_t *lenPtr);
MODULE_SCOPE int	MpWrongArgs(Tcl_Interp *interp, int objc,
			    Tcl_Obj *const objv[], const char *message);
typedef int (MpMemberJoinProc)(Tcl_Interp *interp, MpInstance *mp,
			    int objc, Tcl_Obj *const objv[]);
MODULE_SCOPE int	MpMemberObjCmd(MpInstance *mp, Tcl_Interp *interp,
			    int objc, Tcl_Obj *const objv[], const char *code,
			    MpMemberJoinProc *joinProc,
			    void (*leaveProc)(MpInstance *mp),
			    int (*statusProc)(Tcl_Interp *interp,
				MpInstance *mp));

/*
 * mpListener.c
 */

MODULE_SCOPE int	MpListenerOpen(Tcl_Interp *interp, MpInstance *mp,
			    const char *host, int port, int backlog,
			    int reusePort, MpWsOptions *wsOptions,
			    MpTlsContext *tls);
MODULE_SCOPE int	MpListenerTlsReload(Tcl_Interp *interp,
			    MpInstance *mp);
MODULE_SCOPE void	MpListenerClose(MpListener *l);
MODULE_SCOPE void	MpListenerCloseAll(MpInstance *mp);
MODULE_SCOPE void	MpListenerPause(MpInstance *mp, int paused);

/*
 * mpClient.c
 */

MODULE_SCOPE MpClient *	MpClientNew(MpInstance *mp, MpSocket fd,
			    const MpAddr *peer);
MODULE_SCOPE int	MpClientAdmit(MpClient *c);
MODULE_SCOPE void	MpClientRef(MpClient *c);
MODULE_SCOPE void	MpClientUnref(MpClient *c);
MODULE_SCOPE void	MpClientClose(MpClient *c, int reason,
			    Tcl_Obj *reasonObj);
MODULE_SCOPE void	MpClientWriteNow(MpClient *c);
MODULE_SCOPE int	MpClientWriteWait(MpClient *c, const char *buf,
			    size_t len, int *errPtr);
MODULE_SCOPE int	MpClientReadMask(const MpClient *c);
MODULE_SCOPE void	MpClientUpdateWatch(MpClient *c);
MODULE_SCOPE void	MpClientFlush(MpClient *c);
MODULE_SCOPE void	MpClientShutSend(MpClient *c);
MODULE_SCOPE Tcl_Obj *	MpClientName(MpClient *c);
MODULE_SCOPE Tcl_Channel MpClientChannel(MpClient *c);
MODULE_SCOPE Tcl_Obj *	MpClientAddrObj(MpClient *c);
MODULE_SCOPE Tcl_Obj *	MpClientPortObj(MpClient *c);
MODULE_SCOPE const char *MpReasonText(int reason);
MODULE_SCOPE Tcl_Obj *	MpClientReasonObj(MpClient *c);
MODULE_SCOPE int	MpReasonForError(int err);

/*
 * mpInput.c
 */

MODULE_SCOPE void	MpClientReadable(MpClient *c);
MODULE_SCOPE void	MpClientTakeInput(MpClient *c, int wantEvents);
MODULE_SCOPE ptrdiff_t	MpClientReadScript(MpClient *c, char *buf,
			    size_t len, int wait, int *errPtr);
MODULE_SCOPE void	MpHandleMessage(MpClient *c, const char *data,
			    size_t len);

/*
 * mpFanout.c
 */

MODULE_SCOPE int	MpEnqueue(MpClient *c, MpBuf *buf);
MODULE_SCOPE int	MpEnqueueBytes(MpClient *c, const char *data,
			    size_t len, int continued);
MODULE_SCOPE int	MpEnqueueRaw(MpClient *c, const char *data,
			    size_t len, int continued);
MODULE_SCOPE MpBuf *	MpEncodeFor(MpClient *c, const char *data,
			    size_t len);
MODULE_SCOPE int	MpFanout(MpInstance *mp, MpClient *from,
			    const char *data, size_t len, MpClient *exclude,
			    MpGroup *group);
MODULE_SCOPE void	MpFanoutFrom(MpClient *from, const char *data,
			    size_t len, size_t count);
MODULE_SCOPE int	MpFanoutRemote(MpInstance *mp, const char *data,
			    size_t len, const MpRemoteRoute *remote);
MODULE_SCOPE void	MpPublishToGroup(MpInstance *mp, const char *data,
			    size_t len, const char *groupName);

/*
 * mpCluster.c, mpCmdCluster.c
 */

MODULE_SCOPE void	MpClusterPublish(MpInstance *mp, MpClient *from,
			    const char *data, size_t len,
			    const char *groupName, MpClient *groupsOf);
MODULE_SCOPE void	MpClusterLeave(MpInstance *mp);
MODULE_SCOPE Tcl_ObjCmdProc MpClusterObjCmd;

/*
 * mpMulticast.c, mpCmdMulticast.c, mpRemote.c
 */

struct MpCmsg;
MODULE_SCOPE void	MpMulticastPublish(MpInstance *mp, MpClient *from,
			    const char *data, size_t len,
			    const char *groupName, MpClient *groupsOf);
MODULE_SCOPE void	MpMulticastLeave(MpInstance *mp);
MODULE_SCOPE Tcl_ObjCmdProc MpMulticastObjCmd;
MODULE_SCOPE Tcl_ObjCmdProc MpGroupsockObjCmd;
MODULE_SCOPE int	MpFanoutEnvelope(MpInstance *mp,
			    const struct MpCmsg *msg);
MODULE_SCOPE unsigned long long MpNodeIdentity(const void *salt,
			    char *idBuf, size_t idSize);
MODULE_SCOPE MpBatch *	MpBatchBegin(MpClient *from);
MODULE_SCOPE int	MpBatchAdd(MpBatch *b, const char *data, size_t len,
			    int text);
MODULE_SCOPE void	MpBatchFlush(MpBatch *b);
MODULE_SCOPE void	MpBatchEnd(MpBatch *b);
MODULE_SCOPE void	MpBatchFree(MpLoop *loop);
MODULE_SCOPE void	MpBatchRelease(MpBatch *b);
MODULE_SCOPE int	MpRemoteBatchAdd(MpBatch *b, MpInstance *mp,
			    const char *data, size_t len);
MODULE_SCOPE Tcl_WideUInt MpRemoteBatchFlush(MpBatch *b);
MODULE_SCOPE Tcl_WideUInt MpRemoteDeliver(MpInstance *mp, MpBatch *b,
			    const struct MpCmsg *msg);

/*
 * What a cluster or multicast member has logged of the gaps it found (its
 * log lines about gaps are at most one a second; see MpRemoteNoteGap).
 */

typedef struct MpGapLog {
    Tcl_WideInt at;		/* When the last line was logged (MpNowMs),
				 * or 0. */
    Tcl_WideUInt quiet;		/* Gaps found since, not logged. */
} MpGapLog;

MODULE_SCOPE void	MpRemoteNoteGap(MpInstance *mp, MpGapLog *g,
			    const char *kind, const char *name,
			    const char *node, size_t nodeLen, unsigned long long incarnation,
			    unsigned long long first,
			    unsigned long long last);

/*
 * mpFilter.c
 */

MODULE_SCOPE int	MpFilterAdd(MpFilterList *list, Tcl_Obj *cmdObj,
			    int priority);
MODULE_SCOPE void	MpFilterListFree(MpFilterList *list);
MODULE_SCOPE int	MpFilterRemove(MpFilterList *list, Tcl_Obj *cmdObj);
MODULE_SCOPE int	MpRunDataFilters(MpClient *c, Tcl_Obj **dataPtr);
MODULE_SCOPE int	MpRunAccessFilters(MpClient *c);
MODULE_SCOPE void	MpRunExitFilters(MpClient *c);
MODULE_SCOPE const char *MpFilterResultBytes(MpInstance *mp,
			    const char *kind, Tcl_Obj *dataObj,
			    size_t *lenPtr);
MODULE_SCOPE int	MpRunOutputFilter(MpClient *from, Tcl_Obj *fromName,
			    MpClient *to,
			    Tcl_Obj *dataObj, Tcl_Obj **resultPtr);
MODULE_SCOPE int	MpCallPrefix(MpInstance *mp, Tcl_Obj *cmdObj,
			    int argc, Tcl_Obj *const args[]);
MODULE_SCOPE void	MpReportScriptError(MpInstance *mp,
			    const char *kind, Tcl_Obj *cmdObj, int code);

/*
 * mpChannel.c
 */

MODULE_SCOPE Tcl_Channel MpChannelCreate(MpClient *c, const char *name);
MODULE_SCOPE void	MpChannelDetach(MpClient *c);
MODULE_SCOPE void	MpChannelInputReady(MpClient *c);
MODULE_SCOPE Tcl_Channel MpListenerChannelCreate(MpListener *l,
			    const char *name);
MODULE_SCOPE void	MpListenerChannelDetach(MpListener *l);

/*
 * mpLog.c
 */

MODULE_SCOPE int	MpLogInit(MpInstance *mp);
MODULE_SCOPE void	MpLogFree(MpInstance *mp);
MODULE_SCOPE int	MpLogSetLevel(Tcl_Interp *interp, MpInstance *mp,
			    Tcl_Obj *levelObj);
MODULE_SCOPE int	MpLogSetCommand(Tcl_Interp *interp, MpInstance *mp,
			    Tcl_Obj *cmdObj);
MODULE_SCOPE Tcl_Obj *	MpLogGetCommand(MpInstance *mp);
MODULE_SCOPE const char *MpLogLevelName(int level);
MODULE_SCOPE void	MpLog(MpInstance *mp, int level, const char *fmt, ...);
MODULE_SCOPE void	MpLogObj(MpInstance *mp, int level, Tcl_Obj *msgObj);

/*
 * mpAccess.c
 */

MODULE_SCOPE int	MpCidrListSet(Tcl_Interp *interp, MpCidrList *list,
			    Tcl_Obj *specObj);
MODULE_SCOPE void	MpCidrListFree(MpCidrList *list);
MODULE_SCOPE int	MpAccessAllowed(MpInstance *mp, const MpAddr *peer);
MODULE_SCOPE int	MpPeerCountAdjust(MpInstance *mp, MpClient *c,
			    int delta);

/*
 * mpIdle.c
 */

MODULE_SCOPE void	MpIdleTouch(MpClient *c);
MODULE_SCOPE void	MpIdleReschedule(MpInstance *mp);

/*
 * mpGroup.c
 */

MODULE_SCOPE MpGroup *	MpGroupFind(MpInstance *mp, const char *name);
MODULE_SCOPE int	MpGroupJoin(MpInstance *mp, MpClient *c,
			    const char *name);
MODULE_SCOPE int	MpGroupLeave(MpInstance *mp, MpClient *c,
			    const char *name);
MODULE_SCOPE void	MpGroupLeaveAll(MpInstance *mp, MpClient *c);
MODULE_SCOPE void	MpGroupFreeAll(MpInstance *mp);

/*
 * mpWsClient.c, mpWsOptions.c: WebSocket members (RFC 6455).
 */

MODULE_SCOPE int	MpWsOptionsNew(Tcl_Interp *interp, Tcl_Obj *pathObj,
			    Tcl_Obj *originsObj, Tcl_Obj *subprotocolsObj,
			    Tcl_Obj *httpCommand, MpWsOptions **optsPtr);
MODULE_SCOPE void	MpWsOptionsRef(MpWsOptions *o);
MODULE_SCOPE void	MpWsOptionsUnref(MpWsOptions *o);
MODULE_SCOPE void	MpWsClientStart(MpClient *c, MpWsOptions *opts);

/*
 * mpTlsClient.c
 */

MODULE_SCOPE void	MpTlsClientStart(MpClient *c, MpListener *l);
MODULE_SCOPE void	MpTlsClientStep(MpClient *c);
MODULE_SCOPE void	MpTlsClientClosing(MpClient *c);
MODULE_SCOPE int	MpWsClientClosing(MpClient *c, int reason);
MODULE_SCOPE void	MpWsClientFree(MpClient *c);
MODULE_SCOPE void	MpWsClientSendClose(MpClient *c);
MODULE_SCOPE int	MpWsOpcodeFor(MpInstance *mp, const char *data,
			    size_t len);
MODULE_SCOPE Tcl_Obj *	MpWsPeerInfo(MpClient *c);
MODULE_SCOPE void	MpWsPingReschedule(MpInstance *mp);

/*
 * mpConnect.c
 */

MODULE_SCOPE Tcl_ObjCmdProc MpConnectObjCmd;
MODULE_SCOPE void	MpConnectFinish(MpClient *c);
MODULE_SCOPE void	MpConnectChannelGone(MpClient *c);

/*
 * mpResolve.c: host names resolved by worker threads. The result proc
 * gets count > 0 addresses, or count -1 and a socket error code.
 */

typedef void (MpResolveProc)(void *clientData, const MpAddr *addrs,
			    int count, int err);

MODULE_SCOPE Tcl_WideUInt MpResolveStart(const char *host, int port,
			    MpResolveProc *proc, void *clientData);
MODULE_SCOPE void	MpResolveCancel(Tcl_WideUInt id);

#endif /* MP_INT_H */
