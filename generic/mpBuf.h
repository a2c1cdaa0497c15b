/*
 * mpBuf.h --
 *
 *	Reference-counted message buffers and the per-client output queue.
 *	A broadcast is encoded once into one MpBuf; every recipient's queue
 *	holds a reference to it, never a copy. Pure C (no Tcl), so the fuzz
 *	and unit harnesses can link it alone.
 */

#ifndef MP_BUF_H
#define MP_BUF_H

#include <stddef.h>
#include "mpSock.h"

typedef struct MpBuf {
    size_t refCount;		/* Queues (and the encoder) holding it. */
    size_t len;			/* Bytes in data. */
    char data[1];		/* The bytes (allocated to len). */
} MpBuf;

typedef struct MpQItem {
    MpBuf *buf;			/* Referenced buffer. */
    size_t off;			/* First byte not yet written. */
} MpQItem;

typedef struct MpOutQueue {
    MpQItem *items;		/* Ring of cap entries. */
    size_t cap;			/* 0 or a power of two (indices are
				 * masked with cap - 1). */
    size_t head;		/* Index of the oldest entry. */
    size_t count;		/* Entries in use. */
    size_t bytes;		/* Unwritten bytes over all entries. */
} MpOutQueue;

MODULE_SCOPE MpBuf *	MpBufNew(size_t len);
MODULE_SCOPE void	MpBufRef(MpBuf *buf);
MODULE_SCOPE void	MpBufUnref(MpBuf *buf);
MODULE_SCOPE int	MpQueuePush(MpOutQueue *q, MpBuf *buf);
MODULE_SCOPE int	MpQueueFillIov(const MpOutQueue *q, MpIovec *iov,
			    int maxIov);
MODULE_SCOPE void	MpQueueConsume(MpOutQueue *q, size_t n);
MODULE_SCOPE void	MpQueueClear(MpOutQueue *q);

#endif /* MP_BUF_H */
