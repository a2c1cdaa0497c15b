/*
 * mpBuf.c --
 *
 *	Shared message buffers and the ring-shaped output queue of a client.
 */

#include <stdlib.h>
#include <string.h>
#include "mpBuf.h"

/*
 *----------------------------------------------------------------------
 *
 * MpBufNew --
 *
 *	Allocates a buffer for len bytes with one reference.
 *
 * Results:
 *	The buffer, or NULL when memory is exhausted.
 *
 * Side effects:
 *	Allocates memory.
 *
 *----------------------------------------------------------------------
 */

MpBuf *
MpBufNew(
    size_t len)			/* Bytes the buffer will hold. */
{
    MpBuf *buf;

    if (len > (size_t) -1 - sizeof(MpBuf)) {
	return NULL;
    }
    buf = (MpBuf *) malloc(sizeof(MpBuf) + len);
    if (buf != NULL) {
	buf->refCount = 1;
	buf->len = len;
    }
    return buf;
}

/*
 *----------------------------------------------------------------------
 *
 * MpBufRef, MpBufUnref --
 *
 *	Take and drop a reference to a buffer.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	The buffer is freed when its last reference goes.
 *
 *----------------------------------------------------------------------
 */

void
MpBufRef(
    MpBuf *buf)
{
    buf->refCount++;
}

void
MpBufUnref(
    MpBuf *buf)
{
    if (--buf->refCount == 0) {
	free(buf);
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpQueuePush --
 *
 *	Appends a buffer to a queue, taking a reference to it. The ring grows
 *	by doubling; its size is bounded by the caller's byte limit.
 *
 * Results:
 *	0 on success, -1 when memory is exhausted (nothing queued).
 *
 * Side effects:
 *	May reallocate the ring.
 *
 *----------------------------------------------------------------------
 */

int
MpQueuePush(
    MpOutQueue *q,
    MpBuf *buf)
{
    if (q->count == q->cap) {
	size_t newCap = q->cap ? q->cap * 2 : 4;
	MpQItem *items = (MpQItem *) malloc(newCap * sizeof(MpQItem));
	size_t i;

	if (items == NULL) {
	    return -1;
	}
	for (i = 0; i < q->count; i++) {
	    items[i] = q->items[(q->head + i) & (q->cap - 1)];
	}
	free(q->items);
	q->items = items;
	q->cap = newCap;
	q->head = 0;
    }
    q->items[(q->head + q->count) & (q->cap - 1)].buf = buf;
    q->items[(q->head + q->count) & (q->cap - 1)].off = 0;
    q->count++;
    q->bytes += buf->len;
    MpBufRef(buf);
    return 0;
}

/*
 *----------------------------------------------------------------------
 *
 * MpQueueFillIov --
 *
 *	Describes the queue's unwritten bytes as an iovec array, oldest first.
 *
 * Results:
 *	Number of entries filled (at most maxIov).
 *
 * Side effects:
 *	None.
 *
 *----------------------------------------------------------------------
 */

int
MpQueueFillIov(
    const MpOutQueue *q,
    MpIovec *iov,
    int maxIov)
{
    int n = 0;
    size_t i;

    for (i = 0; i < q->count && n < maxIov; i++) {
	const MpQItem *it = &q->items[(q->head + i) & (q->cap - 1)];

	MP_IOV_SET(iov[n], it->buf->data + it->off, it->buf->len - it->off);
	n++;
    }
    return n;
}

/*
 *----------------------------------------------------------------------
 *
 * MpQueueConsume --
 *
 *	Marks n bytes at the head of the queue as written.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Buffers fully written are released.
 *
 *----------------------------------------------------------------------
 */

void
MpQueueConsume(
    MpOutQueue *q,
    size_t n)
{
    q->bytes -= n;
    while (n > 0 && q->count > 0) {
	MpQItem *it = &q->items[q->head];
	size_t left = it->buf->len - it->off;

	if (n < left) {
	    it->off += n;
	    return;
	}
	n -= left;
	MpBufUnref(it->buf);
	it->buf = NULL;
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
    }
    if (q->count == 0) {
	q->head = 0;
    }
}

/*
 *----------------------------------------------------------------------
 *
 * MpQueueClear --
 *
 *	Drops everything queued and frees the ring.
 *
 * Results:
 *	None.
 *
 * Side effects:
 *	Releases the queued buffers.
 *
 *----------------------------------------------------------------------
 */

void
MpQueueClear(
    MpOutQueue *q)
{
    while (q->count > 0) {
	MpBufUnref(q->items[q->head].buf);
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
    }
    free(q->items);
    q->items = NULL;
    q->cap = q->head = q->count = q->bytes = 0;
}
